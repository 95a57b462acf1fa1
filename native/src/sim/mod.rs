//! Native peers on virtual time over an emulated network, for tests: the real `Peer`
//! handles and sessions, with the simulator in the driver's place. It runs the commands
//! the handles send, hands datagrams between sessions through [`Net`] and jumps the clock
//! to the next thing due (a delivery or a session timeout), so a minute of a lossy call
//! takes a fraction of a second and every run of a seed makes the same network decisions.
//! (The crypto's own randomness is not seeded: packet contents differ between runs.)

mod net;
mod tests;

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::LocalBoxFuture;
use futures::task::noop_waker;
use unipeer_core::PeerConfig;

use crate::command::{Command, PeerId};
use crate::driver::DriverHandle;
use crate::session::{reply_closed, Session};
use crate::Peer;
pub(crate) use net::{Conditions, Loss, Net};

/// Steps one call may take before the test is declared stuck (each step handles at least
/// one command, datagram or timeout, or moves the clock).
const MAX_STEPS: u64 = 20_000_000;

/// The virtual clock, readable from the futures the simulator runs.
#[derive(Clone)]
pub(crate) struct Clock(Rc<Cell<Instant>>);

impl Clock {
    pub fn now(&self) -> Instant {
        self.0.get()
    }
}

struct Node {
    session: Box<Session>,
    /// When the session wants `handle_timeout`.
    deadline: Option<Instant>,
}

/// A datagram on its way, ordered by arrival (then by sending order).
struct InFlight {
    at: Instant,
    seq: u64,
    source: SocketAddr,
    destination: SocketAddr,
    data: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

pub(crate) struct Sim {
    pub seed: u64,
    /// When the virtual clock started.
    pub started: Instant,
    clock: Clock,
    driver: Arc<DriverHandle>,
    /// Keeps the handle's waker valid (nothing polls it).
    _poll: mio::Poll,
    /// In a fixed order, so that the network's decisions come in the same order.
    nodes: BTreeMap<PeerId, Node>,
    by_addr: HashMap<SocketAddr, PeerId>,
    /// The address of the peer being registered.
    registering: Option<SocketAddr>,
    pub net: Net,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    sent: u64,
    /// Futures run alongside whatever the test waits for (receivers, forwarders).
    tasks: Vec<LocalBoxFuture<'static, ()>>,
    /// Every datagram sent (lost or not) as (source, destination, bytes), when recording.
    pub recorded: Option<Vec<(SocketAddr, SocketAddr, Vec<u8>)>>,
}

impl Sim {
    /// A network with `conditions`; the seed comes from `UNIPEER_SIM_SEED` when set, to
    /// replay a failure.
    pub fn new(seed: u64, conditions: Conditions) -> Self {
        let seed = std::env::var("UNIPEER_SIM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(seed);
        // Panics only when the OS refuses an epoll instance: the test cannot run at all.
        let (driver, poll) = DriverHandle::detached().expect("an epoll instance for the waker");
        let started = Instant::now();
        Self {
            seed,
            started,
            clock: Clock(Rc::new(Cell::new(started))),
            driver,
            _poll: poll,
            nodes: BTreeMap::new(),
            by_addr: HashMap::new(),
            registering: None,
            net: Net::new(seed, conditions),
            in_flight: BinaryHeap::new(),
            sent: 0,
            tasks: Vec::new(),
            recorded: None,
        }
    }

    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The address of the `n`th peer made (from 0).
    pub fn addr(n: usize) -> SocketAddr {
        let n = u8::try_from(n + 1).expect("at most 255 simulated peers");
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), 5000)
    }

    /// A datagram that arrives now, from anywhere (an attacker's, a replayed one).
    pub fn inject(&mut self, source: SocketAddr, destination: SocketAddr, data: Vec<u8>) {
        self.sent += 1;
        self.in_flight.push(Reverse(InFlight {
            at: self.now(),
            seq: self.sent,
            source,
            destination,
            data,
        }));
    }

    /// A new peer at address 10.0.0.N (made up: nothing leaves the process).
    pub fn peer(&mut self, config: PeerConfig) -> Peer {
        let addr = Self::addr(self.by_addr.len());
        let peer = Peer::simulated(config, self.driver.clone(), addr, self.now())
            .unwrap_or_else(|e| panic!("a simulated peer: {e}"));
        self.registering = Some(addr);
        self.run_commands();
        assert!(self.by_addr.contains_key(&addr), "the peer registered");
        peer
    }

    /// Runs `task` alongside everything else until it ends.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + 'static) {
        self.tasks.push(Box::pin(task));
    }

    /// Runs the network until `fut` is ready; panics (naming the seed) if that takes more
    /// than `limit` of virtual time.
    pub fn block_on<F: Future>(&mut self, limit: Duration, fut: F) -> F::Output {
        let until = self.now() + limit;
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        for _ in 0..MAX_STEPS {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
            self.poll_tasks(&mut cx);
            if !self.step(until) {
                break;
            }
        }
        panic!(
            "not done after {limit:?} of virtual time (seed {}; network: {:?})",
            self.seed, self.net.stats
        );
    }

    /// Runs the network for `length` of virtual time.
    pub fn run_for(&mut self, length: Duration) {
        let until = self.now() + length;
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..MAX_STEPS {
            self.poll_tasks(&mut cx);
            if !self.step(until) {
                return;
            }
        }
        panic!("the network did not settle (seed {})", self.seed);
    }

    fn poll_tasks(&mut self, cx: &mut Context<'_>) {
        self.tasks.retain_mut(|t| t.as_mut().poll(cx).is_pending());
    }

    /// One round: commands, sessions' output onto the network, then the clock moves to the
    /// next thing due (not past `until`) and it happens. False once the clock is at `until`
    /// with nothing left to do there.
    fn step(&mut self, until: Instant) -> bool {
        let now = self.now();
        self.run_commands();
        let mut busy = false;
        for node in self.nodes.values_mut() {
            node.deadline = node.session.poll(now);
            for t in node.session.outbox().drain(..) {
                self.sent += 1;
                if let Some(r) = &mut self.recorded {
                    r.push((t.source, t.destination, t.contents.to_vec()));
                }
                if let Some(at) = self.net.route(now) {
                    self.in_flight.push(Reverse(InFlight {
                        at,
                        seq: self.sent,
                        source: t.source,
                        destination: t.destination,
                        data: t.contents.to_vec(),
                    }));
                }
            }
            // TURN over TCP has no place here: nothing is configured to use it.
            node.session.tcp_outbox().clear();
            busy |= node.session.is_unfinished();
        }
        self.nodes.retain(|_, n| !n.session.is_dead());

        // The next thing due: at once when a session has more to do.
        let next = self
            .in_flight
            .peek()
            .map(|Reverse(d)| d.at)
            .into_iter()
            .chain(self.nodes.values().filter_map(|n| n.deadline))
            .min();
        let due = busy || next.is_some_and(|at| at <= now);
        if !due {
            if now >= until {
                return false;
            }
            self.clock.0.set(next.map_or(until, |at| at.min(until)));
        }
        let now = self.now();

        while self.in_flight.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Some(Reverse(d)) = self.in_flight.pop() else {
                break;
            };
            // A datagram to an address no peer has (any more) is dropped, as on a network.
            let Some(node) = self
                .by_addr
                .get(&d.destination)
                .and_then(|id| self.nodes.get_mut(id))
            else {
                continue;
            };
            node.session
                .handle_datagram(now, d.source, d.destination, &d.data);
        }
        for node in self.nodes.values_mut() {
            if node.deadline.is_some_and(|d| d <= now) {
                node.session.handle_timeout(now);
            }
        }
        true
    }

    fn run_commands(&mut self) {
        let now = self.now();
        for (peer, cmd) in self.driver.take_commands() {
            match cmd {
                Command::Register(session, _, _) => {
                    let Some(addr) = self.registering.take() else {
                        continue;
                    };
                    self.by_addr.insert(addr, peer);
                    self.nodes.insert(
                        peer,
                        Node {
                            session,
                            deadline: Some(now),
                        },
                    );
                }
                cmd => match self.nodes.get_mut(&peer) {
                    Some(node) => node.session.handle_command(cmd, now),
                    None => reply_closed(cmd),
                },
            }
        }
    }
}
