//! Closed peers give their memory back, whether they connected or not: round after round
//! of peers created and closed, the process stays the same size, and the I/O driver thread
//! stops once no peer is left. A test binary of its own:
//! the memory it reads is the process's.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use unipeer::{DataChannelInit, Peer};
use unipeer_tests::{loopback, rss_kib, sleep, Pair};

/// One round: peers closed fresh, closed after answering an offer, and closed connected.
async fn round() {
    for _ in 0..150 {
        let p = Peer::new(loopback()).unwrap();
        p.close().await;
    }
    let offerer = Peer::new(loopback()).unwrap();
    offerer
        .create_data_channel("x", DataChannelInit::default())
        .await
        .unwrap();
    let offer = offerer.create_offer().await.unwrap();
    for _ in 0..150 {
        let p = Peer::new(loopback()).unwrap();
        p.accept_offer(offer.clone()).await.unwrap();
        p.close().await;
    }
    offerer.close().await;
    for _ in 0..10 {
        let (pair, tx, _rx) = Pair::with_channel("m", DataChannelInit::default()).await;
        tx.send_text("hi").await.unwrap();
        pair.a.close().await;
        pair.b.close().await;
    }
}

#[test]
fn closed_peers_release_their_memory() {
    futures::executor::block_on(async {
        // Warm-up: pools, allocator arenas and caches reach their working size.
        round().await;
        round().await;
        sleep(Duration::from_secs(3)).await;
        let before = rss_kib();
        for _ in 0..4 {
            round().await;
        }
        // Closes drain for at most a few seconds.
        sleep(Duration::from_secs(3)).await;
        let growth = rss_kib().saturating_sub(before);
        // 1,240 peers were created and closed after the warm-up: at even 50 KiB each kept,
        // that would be 60 MiB.
        assert!(
            growth < 16 * 1024,
            "the process grew by {growth} KiB over 1,240 closed peers"
        );
        // With every peer gone, the I/O driver thread stops too (a lost wake-up once
        // left one sleeping thread behind per driver start).
        let drivers = driver_threads();
        assert!(
            drivers == 0,
            "{drivers} I/O driver threads outlived their peers"
        );
    });
}

/// Threads named like the native I/O driver.
fn driver_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim() == "unipeer-driver")
                .count()
        })
        .unwrap_or(0)
}
