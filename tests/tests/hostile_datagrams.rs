//! Garbage datagrams from a stranger neither crash a native peer nor disturb its session,
//! and cost no memory that stays. A test binary of its own: the memory it reads is the
//! process's, so nothing else may run beside it.
#![cfg(not(target_arch = "wasm32"))]

use std::net::UdpSocket;

use unipeer::{DataChannelInit, Message, Peer};
use unipeer_tests::{loopback, next_channel, rss_kib, within, Events, STEP};

/// 100,000 random and truncated datagrams, many shaped like STUN, DTLS and RTP, sent to a
/// connected peer's port from an unvalidated address: no panic, the session carries on and
/// loses no message, and memory stays flat (after a warm-up of 20,000).
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
        while let Some(c) = be.next_candidate().await {
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
        const N: u32 = 100_000;
        const WARM_UP: u32 = 20_000;
        let mut warm_rss = 0;
        for i in 0..N {
            if i == WARM_UP {
                warm_rss = rss_kib();
            }
            let len = (next() % 1400) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Make some look like STUN, DTLS and RTP so they get past the first byte check.
            if let Some(first) = d.first_mut() {
                *first = [0x00, 0x01, 0x16, 0x17, 0x80, 0x90][i as usize % 6];
            }
            let _ = stranger.send_to(&d, ("127.0.0.1", port));
            if i % 5_000 == 0 {
                tx.send_text(format!("m{i}")).await.unwrap();
                // Messages are read as they come, so their buffers do not count as growth.
                let m = within(STEP, "message", rx.recv()).await;
                assert_eq!(m, Some(Message::Text(format!("m{i}"))));
            }
        }
        let growth = rss_kib().saturating_sub(warm_rss);
        assert!(
            growth < 4 * 1024,
            "memory grew by {growth} KiB over {} garbage datagrams",
            N - WARM_UP
        );
        assert_eq!(b.connection_state(), unipeer::ConnectionState::Connected);
    });
}
