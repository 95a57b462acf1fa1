//! The I/O driver: one thread serves every peer of the process. It sleeps in `epoll` until
//! a socket is readable, the earliest peer timeout is due, or a handle sends a command, so
//! an idle peer costs no CPU. Datagrams reach their peer in O(1) through the socket token.

mod tcp;
mod udp;

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::collections::{BinaryHeap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};
use slab::Slab;
use tracing::{debug, warn};
use unipeer_core::{Error, Result};

use crate::command::{Command, PeerId};
use crate::session::{reply_closed, Session};
use tcp::{TcpLink, TcpRead};
use udp::{Endpoint, RecvBuffers};

const WAKER: Token = Token(usize::MAX);
/// Tokens from here on are TCP connections to TURN servers (below are UDP sockets).
const TCP_TOKENS: usize = usize::MAX / 2;
/// Batches read from one socket before the others get a turn.
const READS_PER_TURN: usize = 16;

/// What the handles and the driver thread share.
struct Shared {
    queue: Mutex<VecDeque<(PeerId, Command)>>,
    /// The thread is (about to be) asleep in `poll`: a command must wake it. While it runs,
    /// commands are picked up without the cost of a wake-up.
    parked: AtomicBool,
    /// Every handle is gone.
    shutdown: AtomicBool,
    /// The thread has stopped; nothing queued will run.
    stopped: AtomicBool,
    /// Wakes the thread. It lives here, not in the handle, so that the last handle's
    /// wake-up is not lost: closing the eventfd right after writing it would drop the
    /// pending event, and the thread would sleep forever with its buffers.
    waker: Waker,
}

/// The handles' side of the driver: a command queue and a way to wake the thread.
pub(crate) struct DriverHandle {
    shared: Arc<Shared>,
    next_peer: AtomicU64,
}

impl DriverHandle {
    /// Queues a command; false if the driver is gone.
    pub(crate) fn send(&self, peer: PeerId, cmd: Command) -> bool {
        if self.shared.stopped.load(Ordering::SeqCst) {
            return false;
        }
        match self.shared.queue.lock() {
            Ok(mut q) => q.push_back((peer, cmd)),
            Err(_) => return false,
        }
        if self.shared.parked.load(Ordering::SeqCst) {
            let _ = self.shared.waker.wake();
        }
        true
    }

    pub(crate) fn next_peer_id(&self) -> PeerId {
        self.next_peer.fetch_add(1, Ordering::Relaxed)
    }
}

impl Drop for DriverHandle {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        let _ = self.shared.waker.wake();
    }
}

/// The simulator's side (`crate::sim`): a handle no thread serves, whose commands the
/// simulator takes and runs on its own clock.
#[cfg(test)]
impl DriverHandle {
    pub(crate) fn detached() -> Result<(Arc<DriverHandle>, Poll)> {
        let (poll, handle) = new_handle()?;
        Ok((handle, poll))
    }

    /// Every command queued since the last call.
    pub(crate) fn take_commands(&self) -> VecDeque<(PeerId, Command)> {
        self.shared
            .queue
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }
}

static GLOBAL: Mutex<Weak<DriverHandle>> = Mutex::new(Weak::new());

/// The process's driver, started on first use and stopped when its last peer is gone.
pub(crate) fn global() -> Result<Arc<DriverHandle>> {
    let mut g = GLOBAL
        .lock()
        .map_err(|_| Error::Internal("driver registry poisoned".into()))?;
    if let Some(d) = g.upgrade() {
        return Ok(d);
    }
    let d = start()?;
    *g = Arc::downgrade(&d);
    Ok(d)
}

/// A poll instance and a handle whose waker wakes it.
fn new_handle() -> Result<(Poll, Arc<DriverHandle>)> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        parked: AtomicBool::new(false),
        shutdown: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        waker,
    });
    let handle = Arc::new(DriverHandle {
        shared,
        next_peer: AtomicU64::new(1),
    });
    Ok((poll, handle))
}

fn start() -> Result<Arc<DriverHandle>> {
    crate::prebuilt::warm_up();
    let (poll, handle) = new_handle()?;
    let driver = Driver {
        poll,
        shared: handle.shared.clone(),
        commands: VecDeque::new(),
        peers: HashMap::new(),
        endpoints: Slab::new(),
        timers: BinaryHeap::new(),
        bufs: RecvBuffers::new(),
        scratch: Vec::new(),
        ready: Vec::new(),
        dirty: Vec::new(),
        tcp: Slab::new(),
        tcp_ready: Vec::new(),
        tcp_buf: Vec::new(),
    };
    std::thread::Builder::new()
        .name("unipeer-driver".into())
        .spawn(move || driver.run())
        .map_err(|e| Error::Io(format!("starting the I/O driver thread failed: {e}")))?;
    Ok(handle)
}

struct PeerEntry {
    session: Box<Session>,
    endpoints: Vec<usize>,
    /// Its TCP connections to TURN servers (keys in `Driver::tcp`).
    tcp: Vec<usize>,
    deadline: Option<Instant>,
    dirty: bool,
}

struct Driver {
    poll: Poll,
    shared: Arc<Shared>,
    commands: VecDeque<(PeerId, Command)>,
    peers: HashMap<PeerId, PeerEntry>,
    endpoints: Slab<Endpoint>,
    timers: BinaryHeap<Reverse<(Instant, PeerId)>>,
    bufs: RecvBuffers,
    /// Where GSO batches are assembled.
    scratch: Vec<u8>,
    /// Sockets with datagrams still waiting (their turn ended before `WouldBlock`).
    ready: Vec<usize>,
    dirty: Vec<PeerId>,
    tcp: Slab<TcpLink>,
    /// TCP connections with readiness to serve.
    tcp_ready: Vec<usize>,
    tcp_buf: Vec<u8>,
}

impl Driver {
    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut open = true;
        while open || !self.peers.is_empty() {
            let timeout = self.poll_timeout();
            self.shared.parked.store(true, Ordering::SeqCst);
            // A command queued before `parked` was set would not wake us: look once more.
            let timeout = if self.commands_waiting() {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            let polled = self.poll.poll(&mut events, timeout);
            self.shared.parked.store(false, Ordering::SeqCst);
            if let Err(e) = polled {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    warn!(error = %e, "the I/O driver cannot poll; all peers stop");
                    break;
                }
            }
            for ev in events.iter() {
                let t = ev.token().0;
                if ev.token() == WAKER {
                    continue;
                }
                if t >= TCP_TOKENS {
                    if !self.tcp_ready.contains(&(t - TCP_TOKENS)) {
                        self.tcp_ready.push(t - TCP_TOKENS);
                    }
                } else if !self.ready.contains(&t) {
                    self.ready.push(t);
                }
            }
            let now = Instant::now();
            self.read_sockets(now);
            self.serve_tcp(now);
            open = self.take_commands(now);
            self.expire_timers(now);
            self.drive_dirty(now);
            if !open {
                // Every handle is gone: each peer got its close; finish their drains.
                self.drop_idle_after_close();
            }
        }
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Commands that raced with the stop still get their answer.
        if let Ok(mut q) = self.shared.queue.lock() {
            for (_, cmd) in q.drain(..) {
                reply_closed(cmd);
            }
        }
        debug!("I/O driver stopped");
    }

    fn commands_waiting(&self) -> bool {
        self.shared
            .queue
            .lock()
            .map(|q| !q.is_empty())
            .unwrap_or(false)
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() || !self.dirty.is_empty() || !self.tcp_ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let Reverse((at, _)) = self.timers.peek()?;
        Some(at.saturating_duration_since(Instant::now()))
    }

    fn read_sockets(&mut self, now: Instant) {
        let ready = std::mem::take(&mut self.ready);
        for key in ready {
            let Some(ep) = self.endpoints.get_mut(key) else {
                continue;
            };
            let peer = ep.peer;
            let Some(entry) = self.peers.get_mut(&peer) else {
                continue;
            };
            let mut more = false;
            for _ in 0..READS_PER_TURN {
                let read = ep.recv(&mut self.bufs, |source, dest, data| {
                    guarded(&mut entry.session, |s| {
                        s.handle_datagram(now, source, dest, data)
                    });
                });
                match read {
                    Ok(Some(m)) => more = m,
                    Ok(None) => {
                        more = false;
                        break;
                    }
                    Err(e) => {
                        debug!(error = %e, "receive failed");
                        more = false;
                        break;
                    }
                }
                // Acknowledgements just read free room in SCTP: refill it and send what
                // str0m produced before reading the next batch.
                if let Some(d) = guarded(&mut entry.session, |s| s.poll(now)).flatten() {
                    schedule(&mut self.timers, entry, peer, d);
                }
                // Only this socket's datagrams here; the others go out in `drive_dirty`.
                let outbox = entry.session.outbox();
                let local = ep.local();
                ep.send_all(
                    &mut self.scratch,
                    outbox.iter().filter(|t| t.source == local),
                );
                outbox.retain(|t| t.source != local);
                if !more {
                    break;
                }
            }
            if more {
                self.ready.push(key);
            }
            // Each batch was polled above: the driver's second pass (`drive_dirty`) is only
            // for sessions that ended, or that have more to write than one poll moves.
            if entry.session.is_dead() || entry.session.is_unfinished() {
                mark(&mut self.dirty, entry, peer);
            }
        }
    }

    /// Runs queued commands; false once every handle is gone.
    fn take_commands(&mut self, now: Instant) -> bool {
        // Read the flag first: commands queued before the last handle went are all run.
        let open = !self.shared.shutdown.load(Ordering::SeqCst);
        if let Ok(mut q) = self.shared.queue.lock() {
            std::mem::swap(&mut *q, &mut self.commands);
        }
        while let Some((peer, cmd)) = self.commands.pop_front() {
            match cmd {
                Command::Register(session, sockets, tcp) => {
                    self.register(peer, session, sockets, tcp, now)
                }
                cmd => match self.peers.get_mut(&peer) {
                    Some(entry) => {
                        guarded(&mut entry.session, |s| s.handle_command(cmd, now));
                        mark(&mut self.dirty, entry, peer);
                    }
                    None => reply_closed(cmd),
                },
            }
        }
        open
    }

    fn register(
        &mut self,
        peer: PeerId,
        mut session: Box<Session>,
        sockets: Vec<std::net::UdpSocket>,
        tcp: Vec<(std::net::TcpStream, std::net::SocketAddr)>,
        now: Instant,
    ) {
        let mut tcp_keys = Vec::with_capacity(tcp.len());
        for (stream, remote) in tcp {
            let entry = self.tcp.vacant_entry();
            let key = entry.key();
            match TcpLink::new(
                stream,
                remote,
                peer,
                self.poll.registry(),
                Token(TCP_TOKENS + key),
            ) {
                Ok(link) => {
                    entry.insert(link);
                    tcp_keys.push(key);
                }
                // The TURN client finds out through its timeout; the peer goes on.
                Err(e) => {
                    debug!(error = %e, "registering a TCP connection to a TURN server failed")
                }
            }
        }
        let mut keys = Vec::with_capacity(sockets.len());
        for socket in sockets {
            let entry = self.endpoints.vacant_entry();
            let key = entry.key();
            match Endpoint::new(socket, peer, self.poll.registry(), Token(key)) {
                Ok(ep) => {
                    entry.insert(ep);
                    keys.push(key);
                }
                Err(e) => {
                    session.fault(Error::Io(format!("registering a socket failed: {e}")));
                }
            }
        }
        guarded(&mut session, |s| s.handle_timeout(now));
        let mut entry = PeerEntry {
            session,
            endpoints: keys,
            tcp: tcp_keys,
            deadline: None,
            dirty: false,
        };
        mark(&mut self.dirty, &mut entry, peer);
        self.peers.insert(peer, entry);
    }

    fn expire_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, peer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.peers.get_mut(&peer) else {
                continue;
            };
            // Stale heap entries (the deadline moved since) are skipped.
            if entry.deadline != Some(at) {
                continue;
            }
            entry.deadline = None;
            guarded(&mut entry.session, |s| s.handle_timeout(now));
            mark(&mut self.dirty, entry, peer);
        }
    }

    fn drive_dirty(&mut self, now: Instant) {
        let dirty = std::mem::take(&mut self.dirty);
        for peer in dirty {
            let Some(entry) = self.peers.get_mut(&peer) else {
                continue;
            };
            entry.dirty = false;
            let deadline = guarded(&mut entry.session, |s| s.poll(now)).flatten();
            let outbox = entry.session.outbox();
            for k in &entry.endpoints {
                if let Some(ep) = self.endpoints.get_mut(*k) {
                    let local = ep.local();
                    ep.send_all(
                        &mut self.scratch,
                        outbox.iter().filter(|t| t.source == local),
                    );
                }
            }
            outbox.clear();
            send_tcp(&mut self.tcp, entry);
            if entry.session.is_dead() {
                self.remove(peer);
                continue;
            }
            match deadline {
                Some(at) => schedule(&mut self.timers, entry, peer, at),
                None => entry.deadline = None,
            }
            if entry.session.is_unfinished() {
                mark(&mut self.dirty, entry, peer);
            }
        }
    }

    /// Reads and writes the TCP connections that are ready.
    fn serve_tcp(&mut self, now: Instant) {
        let mut more = Vec::new();
        for key in std::mem::take(&mut self.tcp_ready) {
            let Some(link) = self.tcp.get_mut(key) else {
                continue;
            };
            let Some(entry) = self.peers.get_mut(&link.peer) else {
                continue;
            };
            link.flush();
            if link.closed {
                continue;
            }
            let read = link.read(&mut self.tcp_buf);
            let (local, remote, peer) = (link.local, link.remote, link.peer);
            if !self.tcp_buf.is_empty() {
                let data = &self.tcp_buf;
                guarded(&mut entry.session, |s| {
                    s.handle_tcp(now, local, remote, data)
                });
            }
            if read == TcpRead::More {
                more.push(key);
            }
            if read == TcpRead::Ended {
                // An empty read tells the session the connection is gone.
                guarded(&mut entry.session, |s| {
                    s.handle_tcp(now, local, remote, &[])
                });
            }
            mark(&mut self.dirty, entry, peer);
        }
        self.tcp_ready = more;
    }

    fn remove(&mut self, peer: PeerId) {
        if let Some(entry) = self.peers.remove(&peer) {
            for k in entry.tcp {
                if self.tcp.contains(k) {
                    self.tcp.remove(k).deregister(self.poll.registry());
                }
            }
            for k in entry.endpoints {
                if self.endpoints.contains(k) {
                    let ep = self.endpoints.remove(k);
                    ep.deregister(self.poll.registry());
                }
            }
            debug!(peer, "peer released");
        }
    }

    /// With no handles left, peers that are not draining a close are dropped.
    fn drop_idle_after_close(&mut self) {
        let idle: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, e)| e.deadline.is_none() || e.session.is_dead())
            .map(|(id, _)| *id)
            .collect();
        for peer in idle {
            self.remove(peer);
        }
    }
}

/// Writes the bytes the session left for its TCP connections.
fn send_tcp(tcp: &mut Slab<TcpLink>, entry: &mut PeerEntry) {
    let out = entry.session.tcp_outbox();
    if out.is_empty() {
        return;
    }
    for (local, remote, data) in out.drain(..) {
        let key = entry.tcp.iter().copied().find(|k| {
            tcp.get(*k)
                .is_some_and(|l| l.local == local && l.remote == remote)
        });
        match key.and_then(|k| tcp.get_mut(k)) {
            Some(l) => l.send(&data),
            None => debug!("no TCP connection for a TURN transmit; dropped"),
        }
    }
}

/// Records the peer's next deadline; the heap keeps stale entries, skipped when popped.
fn schedule(
    timers: &mut BinaryHeap<Reverse<(Instant, PeerId)>>,
    entry: &mut PeerEntry,
    peer: PeerId,
    at: Instant,
) {
    if entry.deadline != Some(at) {
        entry.deadline = Some(at);
        timers.push(Reverse((at, peer)));
    }
}

fn mark(dirty: &mut Vec<PeerId>, entry: &mut PeerEntry, peer: PeerId) {
    if !entry.dirty {
        entry.dirty = true;
        dirty.push(peer);
    }
}

/// Runs `f` on a session; a panic inside str0m ends that session only.
fn guarded<R>(session: &mut Session, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(|| f(session))) {
        Ok(r) => Some(r),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            session.fault(Error::Internal(format!(
                "the WebRTC stack panicked: {what}"
            )));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{PeerShared, SessionParts};
    use unipeer_core::{DataChannelLimits, EventQueue, PeerEvent};

    /// A panic inside the WebRTC stack ends that one session with an error event; the
    /// driver (the caller here) carries on.
    #[test]
    fn a_panic_in_a_session_ends_only_that_session() {
        let (events, stream) = EventQueue::new();
        let mut session = Session::new(SessionParts {
            id: 1,
            rtc: str0m::Rtc::builder().build(Instant::now()),
            local_addrs: vec!["127.0.0.1:9".parse().unwrap()],
            events,
            shared: Arc::new(PeerShared::new()),
            driver: Weak::new(),
            limits: DataChannelLimits::default(),
            failed_timeout: Duration::from_secs(30),
            ice: crate::ice::IcePlan::default(),
            receive_queue: 8,
            recipe: crate::prebuilt::Recipe::default(),
            now: Instant::now(),
        });
        let r: Option<()> = guarded(&mut session, |_| panic!("simulated str0m bug"));
        assert!(r.is_none());
        assert!(session.is_dead());
        let mut saw_error = false;
        let mut saw_closed = false;
        while let Some(e) = stream.try_next_event() {
            match e {
                PeerEvent::Error(Error::Internal(m)) => saw_error = m.contains("simulated"),
                PeerEvent::Closed => saw_closed = true,
                _ => {}
            }
        }
        assert!(saw_error && saw_closed);
        // Later calls are answered, not lost.
        assert!(guarded(&mut session, |s| s.poll(Instant::now()))
            .flatten()
            .is_none());
    }
}
