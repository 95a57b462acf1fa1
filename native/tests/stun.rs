//! Server-reflexive candidates against a STUN server on loopback (a test double that maps
//! every request to a fixed public address), and STUN failures that must not hurt a peer.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stun_proto::types::attribute::XorMappedAddress;
use stun_proto::types::message::{Message, MessageWrite, MessageWriteExt, MessageWriteVec};
use unipeer_core::{DataChannelInit, HostCandidates, IceServer, PeerConfig, PeerEvent};
use unipeer_native::{DataChannel, Peer};

/// What the fake server does with each request.
#[derive(Clone, Copy)]
enum Reply {
    /// A success response mapping the request to this address.
    Map(SocketAddr),
    /// Nothing (the server is down or the path drops the packets).
    Silence,
    /// Garbage bytes, then nothing.
    Garbage,
}

struct FakeStun {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeStun {
    fn start(reply: Reply) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            // Bounded: the test stops it, and it never outlives a minute.
            let limit = Instant::now() + Duration::from_secs(60);
            while !s.load(Ordering::SeqCst) && Instant::now() < limit {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(req) = Message::from_bytes(&buf[..n]) else {
                    continue;
                };
                r.fetch_add(1, Ordering::SeqCst);
                match reply {
                    Reply::Map(mapped) => {
                        let mut resp = Message::builder_success(&req, MessageWriteVec::new());
                        resp.add_attribute(&XorMappedAddress::new(mapped, req.transaction_id()))
                            .unwrap();
                        socket.send_to(&resp.finish(), from).unwrap();
                    }
                    Reply::Silence => {}
                    Reply::Garbage => {
                        socket
                            .send_to(&[0x01, 0x01, 0xff, 0xff, 0, 1], from)
                            .unwrap();
                    }
                }
            }
        });
        Self {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn server(&self) -> IceServer {
        IceServer::stun(format!("stun:{}", self.addr))
    }
}

impl Drop for FakeStun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn config(servers: Vec<IceServer>) -> PeerConfig {
    PeerConfig {
        host_candidates: HostCandidates::Loopback,
        ice_servers: servers,
        ..Default::default()
    }
}

/// Every event until the end of candidates (bounded by `limit`), with when it came.
fn until_end_of_candidates(
    peer: &Peer,
    limit: Duration,
) -> Vec<(Duration, PeerEvent<DataChannel, unipeer_native::Track>)> {
    let events = peer.events();
    let started = Instant::now();
    let mut out = Vec::new();
    while started.elapsed() < limit {
        match events.try_next_event() {
            Some(PeerEvent::EndOfCandidates) => {
                out.push((started.elapsed(), PeerEvent::EndOfCandidates));
                return out;
            }
            Some(e) => out.push((started.elapsed(), e)),
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let seen: Vec<String> = out
        .iter()
        .map(|(t, e)| format!("{t:?} {:?}", e_name(e)))
        .collect();
    panic!("no end of candidates within {limit:?}; events: {seen:?}");
}

fn e_name(e: &PeerEvent<DataChannel, unipeer_native::Track>) -> String {
    match e {
        PeerEvent::LocalCandidate(c) => c.candidate.clone(),
        PeerEvent::ConnectionStateChange(s) => format!("{s:?}"),
        PeerEvent::Error(e) => e.to_string(),
        PeerEvent::Closed => "closed".into(),
        _ => "other".into(),
    }
}

fn candidates(events: &[(Duration, PeerEvent<DataChannel, unipeer_native::Track>)]) -> Vec<String> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            PeerEvent::LocalCandidate(c) => Some(c.candidate.clone()),
            _ => None,
        })
        .collect()
}

fn offer(peer: &Peer) {
    futures::executor::block_on(async {
        peer.create_data_channel("x", DataChannelInit::default())
            .await
            .unwrap();
        peer.create_offer().await.unwrap();
    });
}

#[test]
fn a_stun_answer_gives_a_server_reflexive_candidate_with_its_base() {
    let mapped: SocketAddr = "127.0.0.2:40000".parse().unwrap();
    let stun = FakeStun::start(Reply::Map(mapped));
    let peer = Peer::new(config(vec![stun.server()])).unwrap();
    offer(&peer);
    let events = until_end_of_candidates(&peer, Duration::from_secs(10));
    let cands = candidates(&events);
    assert_eq!(cands.len(), 2, "{cands:?}");
    assert!(cands.iter().any(|c| c.contains(" typ host")), "{cands:?}");
    let srflx = cands
        .iter()
        .find(|c| c.contains(" typ srflx"))
        .unwrap_or_else(|| panic!("no srflx candidate in {cands:?}"));
    assert!(srflx.contains("127.0.0.2 40000 typ srflx"), "{srflx}");
    assert!(srflx.contains(" raddr "), "{srflx}");
    // The answer came at once: gathering ended long before the retransmit limit.
    let (end, _) = events.last().unwrap();
    assert!(
        *end < Duration::from_secs(2),
        "end of candidates after {end:?}"
    );
    assert!(stun.requests.load(Ordering::SeqCst) >= 1);
    assert!(
        !events
            .iter()
            .any(|(_, e)| matches!(e, PeerEvent::Error(_) | PeerEvent::Closed)),
        "{:?}",
        events.iter().map(|(_, e)| e_name(e)).collect::<Vec<_>>()
    );
    futures::executor::block_on(peer.close());
}

#[test]
fn an_unanswered_or_garbled_server_costs_nothing_but_its_candidate() {
    let silent = FakeStun::start(Reply::Silence);
    let garbage = FakeStun::start(Reply::Garbage);
    let peer = Peer::new(config(vec![silent.server(), garbage.server()])).unwrap();
    offer(&peer);
    let events = until_end_of_candidates(&peer, Duration::from_secs(15));
    let cands = candidates(&events);
    assert_eq!(cands.len(), 1, "{cands:?}");
    assert!(cands[0].contains(" typ host"));
    // Bounded retries: five sends each, and the end of candidates within ~8 s.
    let (end, _) = events.last().unwrap();
    assert!(
        (Duration::from_secs(6)..Duration::from_secs(10)).contains(end),
        "end of candidates after {end:?}"
    );
    assert_eq!(silent.requests.load(Ordering::SeqCst), 5);
    assert_eq!(garbage.requests.load(Ordering::SeqCst), 5);
    assert!(
        !events
            .iter()
            .any(|(_, e)| matches!(e, PeerEvent::Error(_) | PeerEvent::Closed)),
        "{:?}",
        events.iter().map(|(_, e)| e_name(e)).collect::<Vec<_>>()
    );
    assert_eq!(
        peer.connection_state(),
        unipeer_core::ConnectionState::Connecting
    );
    futures::executor::block_on(peer.close());
}

#[test]
fn candidates_found_before_the_offer_go_with_the_announcement() {
    let mapped: SocketAddr = "127.0.0.3:40001".parse().unwrap();
    let stun = FakeStun::start(Reply::Map(mapped));
    let peer = Peer::new(config(vec![stun.server()])).unwrap();
    // Let gathering finish before anything is announced.
    let limit = Instant::now() + Duration::from_secs(5);
    while stun.requests.load(Ordering::SeqCst) == 0 && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    offer(&peer);
    let events = until_end_of_candidates(&peer, Duration::from_secs(5));
    let cands = candidates(&events);
    assert_eq!(cands.len(), 2, "{cands:?}");
    assert!(cands[1].contains("127.0.0.3 40001 typ srflx"), "{cands:?}");
    futures::executor::block_on(peer.close());
}
