//! Native-only property: sockets are released with their peer. (Garbage datagrams are in
//! `hostile_datagrams.rs`, a process of their own, so its memory readings are its own.)
#![cfg(not(target_arch = "wasm32"))]

use std::time::{Duration, Instant};

use unipeer::{DataChannelInit, Peer};
use unipeer_tests::{loopback, within, Pair, STEP};

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
