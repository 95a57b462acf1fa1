//! Native-only properties: sockets are released with their peer, and garbage datagrams
//! from a stranger neither crash a peer nor disturb its session.
#![cfg(not(target_arch = "wasm32"))]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use unipeer::{DataChannelInit, Message, Peer, PeerEvent};
use unipeer_tests::{loopback, next_channel, within, Events, Pair, STEP};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Creating, connecting and dropping peers leaves no sockets behind.
#[test]
fn dropped_peers_release_their_sockets() {
    futures::executor::block_on(async {
        // Warm up: the driver's own descriptors (epoll, waker) exist while any peer lives.
        let keep = Peer::new(loopback()).unwrap();
        let before = open_fds();
        for _ in 0..20 {
            let (pair, tx, rx) = Pair::with_channel("x", DataChannelInit::default()).await;
            tx.send_text("hi").await.unwrap();
            assert!(within(STEP, "hi", rx.recv()).await.is_some());
            drop(pair);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while open_fds() > before && Instant::now() < deadline {
            unipeer_tests::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            open_fds() <= before,
            "fds: before {before}, after {}",
            open_fds()
        );
        drop(keep);
    });
}

/// 5,000 random and truncated datagrams (and replays of real candidates' traffic shape)
/// sent to a connected peer's port from an unvalidated address: no panic, the session
/// carries on and loses no message.
#[test]
fn garbage_datagrams_do_not_disturb_a_session() {
    futures::executor::block_on(async {
        let a = Peer::new(loopback()).unwrap();
        let b = Peer::new(loopback()).unwrap();
        let tx = a
            .create_data_channel("g", DataChannelInit::default())
            .await
            .unwrap();
        let offer = a.create_offer().await.unwrap();
        let answer = b.accept_offer(offer).await.unwrap();
        a.accept_answer(answer).await.unwrap();
        let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
        unipeer_tests::forward_candidates(&mut ae, &b).await;
        // Learn b's port from its own candidate, as an attacker on the path could.
        let mut b_port = None;
        loop {
            let next = be
                .find(STEP, "b candidates", |e| match e {
                    PeerEvent::LocalCandidate(c) => Some(Some(c.clone())),
                    PeerEvent::EndOfCandidates => Some(None),
                    _ => None,
                })
                .await;
            let Some(c) = next else { break };
            b_port = c
                .candidate
                .split_whitespace()
                .nth(5)
                .and_then(|p| p.parse::<u16>().ok());
            a.add_ice_candidate(c).await.unwrap();
        }
        let port = b_port.expect("b has a host candidate");
        let rx = next_channel(&mut be).await;
        within(STEP, "open", tx.wait_open()).await.unwrap();

        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..5_000u32 {
            let len = (next() % 1400) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Make some look like STUN, DTLS and RTP so they get past the first byte check.
            if let Some(first) = d.first_mut() {
                *first = [0x00, 0x01, 0x16, 0x17, 0x80, 0x90][i as usize % 6];
            }
            let _ = stranger.send_to(&d, ("127.0.0.1", port));
            if i % 500 == 0 {
                tx.send_text(format!("m{i}")).await.unwrap();
            }
        }
        for i in (0..5_000u32).step_by(500) {
            let m = within(STEP, "message", rx.recv()).await;
            assert_eq!(m, Some(Message::Text(format!("m{i}"))));
        }
        assert_eq!(b.connection_state(), unipeer::ConnectionState::Connected);
    });
}
