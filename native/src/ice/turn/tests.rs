//! The TURN gatherer against a scripted server.

use super::*;
use turn_server_proto::api::{TurnServerApi, TurnServerPollRet};
use turn_server_proto::server::TurnServer as FakeServer;

const LOCAL: &str = "10.0.1.2:5000";
const SERVER: &str = "203.0.113.1:3478";
const RELAY: &str = "203.0.113.1:40000";
const PEER: &str = "203.0.113.12:6000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn at(ms: u64) -> Instant {
    Instant::from_nanos(i64::try_from(ms * 1_000_000).unwrap())
}

struct Rig {
    g: TurnGatherer,
    server: FakeServer,
    /// What the server sent to peers (not to our client).
    to_peers: Vec<(SocketAddr, Vec<u8>)>,
    /// What reached str0m from peers.
    from_peers: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    now: u64,
}

impl Rig {
    fn new(password: &str) -> Self {
        let mut server = FakeServer::new(TransportType::Udp, addr(SERVER), "lab".into());
        server.add_user("user".into(), "secret".into());
        let mut g = TurnGatherer::new();
        let config = TurnServer {
            url: "turn:203.0.113.1".into(),
            addr: addr(SERVER),
            username: "user".into(),
            credential: password.into(),
            tcp: false,
        };
        g.start(addr(LOCAL), &config, at(0));
        Self {
            g,
            server,
            to_peers: Vec::new(),
            from_peers: Vec::new(),
            now: 0,
        }
    }

    /// Moves datagrams between client and server until both are quiet (bounded), 60 ms
    /// of simulated time per round (above the client's 50 ms request cadence).
    fn pump(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.now += 60;
            let now = at(self.now);
            self.g.handle_timeout(now);
            let sent: Vec<_> = self.g.take_transmits().collect();
            let mut replies = Vec::new();
            for (from, to, data, _) in sent {
                assert_eq!((from, to), (addr(LOCAL), addr(SERVER)));
                let t = StunTransmit::new(&data[..], TransportType::Udp, from, to);
                if let Some(reply) = self.server.recv(t, now) {
                    let reply = reply.build();
                    replies.push((reply.from, reply.to, reply.data));
                }
            }
            for _ in 0..8 {
                match self.server.poll(now) {
                    TurnServerPollRet::AllocateSocket {
                        transport,
                        listen_addr,
                        client_addr,
                        allocation_transport,
                        family,
                    } => self.server.allocated_socket(
                        transport,
                        listen_addr,
                        client_addr,
                        allocation_transport,
                        family,
                        Ok(addr(RELAY)),
                        now,
                    ),
                    _ => break,
                }
            }
            while let Some(t) = self.server.poll_transmit(now) {
                replies.push((t.from, t.to, t.data));
            }
            for (from, to, data) in replies {
                if to == addr(LOCAL) {
                    if let TurnInput::PeerData {
                        peer,
                        relayed,
                        data,
                    } = self.g.handle_datagram(now, from, to, &data)
                    {
                        self.from_peers.push((peer, relayed, data));
                    }
                } else {
                    self.to_peers.push((to, data));
                }
            }
        }
    }

    /// A peer sends `data` to the relayed address.
    fn peer_sends(&mut self, peer: SocketAddr, data: &[u8]) {
        let now = at(self.now);
        let t = StunTransmit::new(data, TransportType::Udp, peer, addr(RELAY));
        if let Some(reply) = self.server.recv(t, now) {
            let reply = reply.build();
            if let TurnInput::PeerData {
                peer,
                relayed,
                data,
            } = self
                .g
                .handle_datagram(now, reply.from, reply.to, &reply.data)
            {
                self.from_peers.push((peer, relayed, data));
            }
        }
    }
}

#[test]
fn allocates_asks_permission_relays_both_ways_and_releases() {
    let mut rig = Rig::new("secret");
    rig.pump(5);
    assert_eq!(
        rig.g.take_outcomes(),
        vec![TurnOutcome::Allocated {
            relayed: addr(RELAY),
            local: addr(LOCAL)
        }]
    );
    assert_eq!(rig.g.pending(), 0);
    assert!(rig.g.is_relayed(addr(RELAY)));

    // No permission yet: the first datagram asks for one and is dropped.
    let now = at(rig.now);
    rig.g.send(now, addr(RELAY), addr(PEER), b"check 1");
    rig.pump(5);
    assert!(rig.to_peers.is_empty());
    rig.g.send(at(rig.now), addr(RELAY), addr(PEER), b"check 2");
    rig.pump(5);
    assert_eq!(rig.to_peers, vec![(addr(PEER), b"check 2".to_vec())]);

    // The peer answers through the relay (the server used the bound channel or a
    // Data indication; either way str0m gets the bare datagram).
    rig.peer_sends(addr(PEER), b"answer");
    assert_eq!(
        rig.from_peers,
        vec![(addr(PEER), addr(RELAY), b"answer".to_vec())]
    );
    // A peer without a permission is not relayed.
    rig.peer_sends(addr("203.0.113.99:1"), b"stranger");
    assert_eq!(rig.from_peers.len(), 1);

    // Close: a zero-lifetime refresh, acknowledged, and the client is done.
    rig.g.close(at(rig.now));
    assert!(rig.g.releasing());
    rig.pump(5);
    assert!(!rig.g.releasing());
    assert!(rig.g.next_wake().is_none());
}

#[test]
fn a_wrong_password_fails_at_once_with_401() {
    let mut rig = Rig::new("wrong");
    rig.pump(4);
    let outcomes = rig.g.take_outcomes();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    match &outcomes[0] {
        TurnOutcome::Failed { url, refusal } => {
            assert_eq!(url, "turn:203.0.113.1");
            assert_eq!(refusal.as_ref().map(|r| r.0), Some(401));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(rig.g.pending(), 0);
    assert!(rig.g.next_wake().is_none());
}

#[test]
fn an_unanswered_server_fails_within_the_retransmit_bound() {
    let mut g = TurnGatherer::new();
    let config = TurnServer {
        url: "turn:203.0.113.1".into(),
        addr: addr(SERVER),
        username: "user".into(),
        credential: "secret".into(),
        tcp: false,
    };
    g.start(addr(LOCAL), &config, at(0));
    let mut now = 0;
    let mut sends = 0;
    while g.pending() > 0 {
        let wake = g.next_wake().expect("a pending allocation has a wake-up");
        let ms = u64::try_from(wake.as_nanos() / 1_000_000).unwrap();
        now = ms.max(now + 1);
        assert!(now < 60_000, "still trying after a minute");
        g.handle_timeout(at(now));
        sends += g.take_transmits().count();
    }
    assert!(sends <= TRANSMISSIONS as usize, "{sends} sends");
    assert!(now <= 10_000, "gave up after {now} ms");
    assert!(matches!(
        g.take_outcomes().as_slice(),
        [TurnOutcome::Failed { refusal: None, .. }]
    ));
}

#[test]
fn the_tcp_framer_cuts_messages_and_drops_padding() {
    let mut f = TcpFramer::default();
    let mut out = Vec::new();
    let stun = [&[0x01, 0x01, 0x00, 0x04][..], &[7; 16], &[9, 9, 9, 9]].concat();
    let channel = [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0];
    let stream = [&stun[..], &channel[..], &stun[..]].concat();
    // Byte by byte: partial reads are kept until a message is whole.
    for b in &stream {
        assert!(f.push(&[*b], &mut out));
    }
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], stun);
    assert_eq!(out[1], channel[..9].to_vec());
    assert_eq!(out[2], stun);
    // All at once.
    out.clear();
    assert!(f.push(&stream, &mut out));
    assert_eq!(out.len(), 3);
    // Garbage ends the stream.
    assert!(!f.push(&[0xff, 0, 0, 0], &mut out));
}

#[test]
fn channel_data_is_padded_for_tcp_and_stun_is_left_alone() {
    let mut channel = vec![0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5];
    pad_channel_data(&mut channel);
    assert_eq!(channel.len(), 12);
    assert_eq!(&channel[9..], &[0, 0, 0]);
    let mut aligned = vec![0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4];
    pad_channel_data(&mut aligned);
    assert_eq!(aligned.len(), 8);
    let mut stun = vec![0x00, 0x16, 0x00, 0x01, 9];
    pad_channel_data(&mut stun);
    assert_eq!(stun.len(), 5);
}

#[test]
fn garbage_from_the_server_is_dropped() {
    let mut rig = Rig::new("secret");
    rig.pump(5);
    let now = at(rig.now);
    for junk in [&b""[..], b"\x40\x00", &[0xff; 40], &[0u8; 20]] {
        assert!(matches!(
            rig.g.handle_datagram(now, addr(SERVER), addr(LOCAL), junk),
            TurnInput::NotOurs | TurnInput::Consumed
        ));
    }
    // And from elsewhere it is not ours at all.
    assert!(matches!(
        rig.g
            .handle_datagram(now, addr("203.0.113.7:3478"), addr(LOCAL), b"x"),
        TurnInput::NotOurs
    ));
    assert!(rig.g.is_relayed(addr(RELAY)));
}
