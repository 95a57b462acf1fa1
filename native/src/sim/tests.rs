//! Data channels over lossy, jittery and failing networks, on virtual time: what users
//! rely on when the network is bad. Each test names its seed when it fails
//! (`UNIPEER_SIM_SEED=N` replays it).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::future::poll_fn;
use futures::StreamExt;
use unipeer_core::{ConnectionState, DataChannelInit, DataChannelState, Message, PeerEvent};

use super::*;
use crate::DataChannel;

/// Virtual time any one wait may take (a lossy handshake retries for a few seconds).
const LIMIT: Duration = Duration::from_secs(120);

type Log = Rc<RefCell<Vec<PeerEvent<DataChannel, crate::Track>>>>;

/// Two peers whose candidates reach each other; their other events are kept.
struct Pair {
    a: Rc<Peer>,
    b: Rc<Peer>,
    events: [Log; 2],
}

fn pair(sim: &mut Sim) -> Pair {
    let a = Rc::new(sim.peer(PeerConfig::default()));
    let b = Rc::new(sim.peer(PeerConfig::default()));
    let events: [Log; 2] = Default::default();
    for (from, to, log) in [(&a, &b, &events[0]), (&b, &a, &events[1])] {
        let (mut stream, to, log) = (from.events(), to.clone(), log.clone());
        sim.spawn(async move {
            while let Some(event) = stream.next().await {
                match event {
                    PeerEvent::LocalCandidate(c) => {
                        let _ = to.add_ice_candidate(c).await;
                    }
                    other => log.borrow_mut().push(other),
                }
            }
        });
    }
    Pair { a, b, events }
}

/// Waits until `f` gives a value.
async fn until<T>(mut f: impl FnMut() -> Option<T>) -> T {
    poll_fn(|_| f().map_or(Poll::Pending, Poll::Ready)).await
}

/// The first data channel the remote announced that `f` accepts, taken out of the log.
fn take_channel(log: &Log, f: impl Fn(&DataChannel) -> bool) -> Option<DataChannel> {
    let mut log = log.borrow_mut();
    let i = log
        .iter()
        .position(|e| matches!(e, PeerEvent::DataChannel(c) if f(c)))?;
    match log.remove(i) {
        PeerEvent::DataChannel(c) => Some(c),
        _ => None,
    }
}

/// Negotiates a channel from `a` to `b` and waits until both ends are open.
fn connect(sim: &mut Sim, p: &Pair, init: DataChannelInit) -> (DataChannel, DataChannel) {
    let (a, b) = (p.a.clone(), p.b.clone());
    let tx = sim.block_on(LIMIT, async move {
        let tx = a.create_data_channel("data", init).await.unwrap();
        let offer = a.create_offer().await.unwrap();
        let answer = b.accept_offer(offer).await.unwrap();
        a.accept_answer(answer).await.unwrap();
        tx
    });
    let log = p.events[1].clone();
    let rx = sim.block_on(LIMIT, until(|| take_channel(&log, |_| true)));
    sim.block_on(LIMIT, tx.core().wait_open()).unwrap();
    (tx, rx)
}

/// Message `i` of a transfer: sizes from a few bytes to three datagrams, and every 50th
/// 64 KiB (fragmented and reassembled), numbered so that order and content are checked.
fn message(i: usize) -> Vec<u8> {
    let len = if i % 50 == 49 {
        64 * 1024
    } else {
        8 + (i * 7919) % 3000
    };
    let mut m = vec![(i % 251) as u8; len];
    m[..8].copy_from_slice(&(i as u64).to_le_bytes());
    m
}

/// Sends `n` messages on a reliable ordered channel and checks that every one arrives,
/// in order and intact.
fn reliable_transfer(what: &str, seed: u64, conditions: Conditions, n: usize) -> Sim {
    let mut sim = Sim::new(seed, conditions);
    let p = pair(&mut sim);
    let (tx, rx) = connect(&mut sim, &p, DataChannelInit::default());
    sim.spawn(async move {
        for i in 0..n {
            tx.send(Message::Binary(message(i))).await.unwrap();
        }
    });
    let seed = sim.seed;
    sim.block_on(LIMIT, async move {
        for i in 0..n {
            let got = rx.core().recv().await;
            assert!(
                got == Some(Message::Binary(message(i))),
                "{what}: message {i} of {n} is missing, out of order or damaged (seed {seed})"
            );
        }
    });
    assert_eq!(p.a.connection_state(), ConnectionState::Connected);
    sim
}

fn lossy(loss: Loss) -> Conditions {
    Conditions {
        loss,
        delay: Duration::from_millis(20),
        jitter: Duration::ZERO,
    }
}

#[test]
fn reliable_channels_deliver_everything_under_random_loss() {
    for (seed, rate) in [(1, 0.01), (2, 0.05), (3, 0.10)] {
        let sim = reliable_transfer(
            &format!("{}% loss", rate * 100.0),
            seed,
            lossy(Loss::Random(rate)),
            600,
        );
        let s = sim.net.stats;
        let lost = s.lost as f64 / s.sent as f64;
        assert!(
            lost > rate / 2.0 && lost < rate * 2.0,
            "the network lost {lost} of datagrams, not about {rate}"
        );
    }
}

#[test]
fn reliable_channels_deliver_everything_under_bursty_loss() {
    // About 5 % lost, in runs of 4 datagrams on average.
    let loss = Loss::Bursty {
        enter: 0.0125,
        leave: 0.25,
    };
    let sim = reliable_transfer("bursty loss", 4, lossy(loss), 600);
    assert!(sim.net.stats.lost > 10, "{:?}", sim.net.stats);
}

#[test]
fn reliable_channels_deliver_everything_under_jitter_and_reordering() {
    let conditions = Conditions {
        loss: Loss::Random(0.01),
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
    };
    let sim = reliable_transfer("20 ms +- 5 ms jitter", 5, conditions, 600);
    assert!(sim.net.stats.reordered > 100, "{:?}", sim.net.stats);
}

#[test]
fn a_five_second_outage_during_a_transfer_loses_nothing() {
    let n = 3000;
    let mut sim = Sim::new(6, lossy(Loss::None));
    let p = pair(&mut sim);
    let (tx, rx) = connect(&mut sim, &p, DataChannelInit::default());
    sim.spawn(async move {
        for i in 0..n {
            tx.send(Message::Binary(message(i))).await.unwrap();
        }
    });
    let received = Rc::new(Cell::new(0usize));
    let (count, seed) = (received.clone(), sim.seed);
    sim.spawn(async move {
        for i in 0..n {
            let got = rx.core().recv().await;
            assert!(
                got == Some(Message::Binary(message(i))),
                "message {i} of {n} is missing, out of order or damaged (seed {seed})"
            );
            count.set(i + 1);
        }
    });
    sim.run_for(Duration::from_millis(300));
    let before = received.get();
    assert!(
        before > 0 && before < n,
        "the outage starts during the transfer ({before} of {n} received)"
    );
    let now = sim.now();
    sim.net.outage(now, Duration::from_secs(5));
    sim.block_on(LIMIT, until(|| (received.get() == n).then_some(())));
    assert!(sim.now() > now + Duration::from_secs(5));
    assert_eq!(p.a.connection_state(), ConnectionState::Connected);
    assert_eq!(p.b.connection_state(), ConnectionState::Connected);
}

#[test]
fn unreliable_channels_drop_instead_of_stalling() {
    let kinds = [
        ("ordered, max_retransmits 0", true, Some(0), None),
        ("unordered, max_retransmits 0", false, Some(0), None),
        ("ordered, 100 ms lifetime", true, None, Some(100)),
        ("unordered, 100 ms lifetime", false, None, Some(100)),
    ];
    for (seed, (what, ordered, max_retransmits, max_packet_life_time)) in (10..).zip(kinds) {
        let mut sim = Sim::new(seed, lossy(Loss::Random(0.1)));
        let p = pair(&mut sim);
        let init = DataChannelInit {
            ordered,
            max_retransmits,
            max_packet_life_time,
            ..Default::default()
        };
        let (tx, rx) = connect(&mut sim, &p, init);
        // (message number, arrival) of every message that arrives.
        let arrivals = Rc::new(RefCell::new(Vec::new()));
        let (log, clock) = (arrivals.clone(), sim.clock());
        sim.spawn(async move {
            while let Some(Message::Binary(m)) = rx.core().recv().await {
                let i = u64::from_le_bytes(m[..8].try_into().unwrap()) as usize;
                log.borrow_mut().push((i, clock.now()));
            }
        });
        let n = 400;
        let mut sent: Vec<Instant> = Vec::new();
        for i in 0..n {
            sent.push(sim.now());
            let mut m = vec![0u8; 200];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let t = sim.now();
            sim.block_on(LIMIT, tx.send(Message::Binary(m))).unwrap();
            assert!(
                sim.now() - t < Duration::from_millis(10),
                "{what}: sending waited"
            );
            sim.run_for(Duration::from_millis(10));
        }
        sim.run_for(Duration::from_secs(3));
        let arrivals = arrivals.borrow();
        let seed = sim.seed;
        assert!(
            arrivals.len() < n && arrivals.len() > n * 3 / 4,
            "{what}: {} of {n} messages arrived over a 10 % lossy network (seed {seed})",
            arrivals.len()
        );
        // 20 ms on the way: a message that waited for a retransmission (a second or
        // more), or behind a lost one, would be late. Ordered, a message may wait behind a
        // lost one until the sender gives that one up and says so (FORWARD-TSN). With a
        // lifetime that is at its end; with a retransmission limit, sctp-proto gives up
        // when it would retransmit: at once when three SACKs report the loss, but only at
        // the retransmission timer (1 s at the least) for a loss during an ongoing
        // recovery. A lost FORWARD-TSN also waits for that timer (which doubles when it
        // fires again). So ordered channels get a looser bound.
        let bound = if ordered {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(300)
        };
        for &(i, at) in arrivals.iter() {
            let took = at - sent[i];
            assert!(
                took < bound,
                "{what}: message {i} took {took:?}: the channel stalled (seed {seed})"
            );
        }
        if ordered {
            assert!(
                arrivals.windows(2).all(|w| w[0].0 < w[1].0),
                "{what}: out of order (seed {seed})"
            );
        }
    }
}

#[test]
fn eight_channels_open_and_close_ten_times_over_a_lossy_network() {
    let conditions = Conditions {
        loss: Loss::Random(0.05),
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
    };
    let mut sim = Sim::new(20, conditions);
    let p = pair(&mut sim);
    let (_tx, _rx) = connect(&mut sim, &p, DataChannelInit::default());
    for round in 0..10 {
        let a = p.a.clone();
        let ours = sim.block_on(LIMIT, async move {
            let mut ours = Vec::new();
            for k in 0..8 {
                let label = format!("r{round}-{k}");
                ours.push(
                    a.create_data_channel(&label, Default::default())
                        .await
                        .unwrap(),
                );
            }
            ours
        });
        let log = p.events[1].clone();
        let mut theirs = Vec::new();
        for k in 0..8 {
            let label = format!("r{round}-{k}");
            let c = sim.block_on(
                LIMIT,
                until(|| take_channel(&log, |c| c.core().settings().label == label)),
            );
            theirs.push(c);
        }
        let all_in = |state| {
            ours.iter()
                .chain(&theirs)
                .all(|c| c.core().state() == state)
        };
        sim.block_on(
            LIMIT,
            until(|| all_in(DataChannelState::Open).then_some(())),
        );
        for c in &ours {
            c.close();
        }
        sim.block_on(
            LIMIT,
            until(|| all_in(DataChannelState::Closed).then_some(())),
        );
    }
    assert_eq!(p.a.connection_state(), ConnectionState::Connected);
}

#[test]
fn a_seed_replays_the_same_network_history() {
    let run = || {
        let sim = reliable_transfer("replay", 7, lossy(Loss::Random(0.05)), 200);
        (sim.net.stats, sim.now() - sim.started)
    };
    assert_eq!(run(), run());
}

/// Every datagram of a session, replayed into the receiver (from the sender's own address
/// and from a stranger's, whole and truncated) after it was used: DTLS's replay window and
/// SCTP drop them all. No message is delivered twice, and the session carries on.
#[test]
fn replayed_datagrams_deliver_nothing_twice() {
    let mut sim = Sim::new(30, lossy(Loss::None));
    sim.recorded = Some(Vec::new());
    let p = pair(&mut sim);
    let (tx, rx) = connect(&mut sim, &p, DataChannelInit::default());
    let text = |i: usize| Message::Text(format!("message {i}"));
    for i in 0..100 {
        sim.block_on(LIMIT, tx.send(text(i))).unwrap();
        assert_eq!(sim.block_on(LIMIT, rx.core().recv()), Some(text(i)));
    }
    let (a, b) = (Sim::addr(0), Sim::addr(1));
    let stranger = "10.0.0.99:5000".parse().unwrap();
    let to_b: Vec<Vec<u8>> = sim
        .recorded
        .take()
        .unwrap()
        .into_iter()
        .filter(|(_, to, _)| *to == b)
        .map(|(_, _, d)| d)
        .collect();
    assert!(to_b.len() > 100, "{} datagrams recorded", to_b.len());
    for round in 0..3 {
        for d in &to_b {
            let from = if round == 1 { stranger } else { a };
            sim.inject(from, b, d.clone());
            if round == 2 {
                sim.inject(a, b, d[..d.len() / 2].to_vec());
            }
        }
        sim.run_for(Duration::from_millis(500));
    }
    assert_eq!(
        rx.core().try_recv(),
        None,
        "a replayed message was delivered"
    );
    for i in 100..110 {
        sim.block_on(LIMIT, tx.send(text(i))).unwrap();
        assert_eq!(sim.block_on(LIMIT, rx.core().recv()), Some(text(i)));
    }
    assert_eq!(rx.core().try_recv(), None);
    assert_eq!(p.b.connection_state(), ConnectionState::Connected);
}
