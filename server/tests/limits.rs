//! Abusive or slow clients are cut off while the others carry on; capacity limits.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::{self, http::StatusCode};
use unipeer_server::protocol::{close_code, close_reason};
use unipeer_server::ServerConfig;

/// Joins three clients to `room`, with all join notices consumed.
async fn trio(url: &str) -> (Client, Client, Client) {
    let mut a = Client::join(url).await;
    let mut b = Client::join(url).await;
    let c = Client::join(url).await;
    a.expect("peer_joined").await;
    a.expect("peer_joined").await;
    b.expect("peer_joined").await;
    (a, b, c)
}

/// `b` and `c` can still talk both ways.
async fn carry_on(b: &mut Client, c: &mut Client) {
    b.signal(&c.id, json!("b->c")).await;
    assert_eq!(c.expect("signal").await["payload"], "b->c");
    c.signal(&b.id, json!("c->b")).await;
    assert_eq!(b.expect("signal").await["payload"], "c->b");
}

#[tokio::test]
async fn oversized_frame_closes_with_1008_and_others_carry_on() {
    let server = start(config()).await;
    let url = server.room_url("r");
    let (mut a, mut b, mut c) = trio(&url).await;
    // Exactly at the limit is fine.
    let max = ServerConfig::default().max_frame_bytes;
    let prefix = format!(r#"{{"type":"signal","to":"{}","payload":""#, b.id);
    let fill = "x".repeat(max - prefix.len() - 2);
    a.send_text(format!("{prefix}{fill}\"}}")).await;
    assert_eq!(
        b.expect("signal").await["payload"].as_str().unwrap().len(),
        fill.len()
    );
    // One byte more is not.
    a.send_text(format!("{prefix}{fill}x\"}}")).await;
    let (code, reason) = a.expect_close().await;
    assert_eq!(
        (code, reason.as_str()),
        (close_code::POLICY_VIOLATION, close_reason::FRAME_TOO_LARGE)
    );
    assert_eq!(b.expect("peer_left").await["peer_id"], a.id.as_str());
    assert_eq!(c.expect("peer_left").await["peer_id"], a.id.as_str());
    carry_on(&mut b, &mut c).await;
}

#[tokio::test]
async fn much_larger_frame_also_closes_with_1008() {
    let server = start(config()).await;
    let url = server.room_url("r");
    let mut a = Client::join(&url).await;
    // The server stops reading at the frame header, so the send itself may fail.
    a.send_quiet("y".repeat(4 << 20)).await;
    let (code, reason) = a.expect_close().await;
    assert_eq!(
        (code, reason.as_str()),
        (close_code::POLICY_VIOLATION, close_reason::FRAME_TOO_LARGE)
    );
    eventually("peer removed", || server.stats().peers == 0).await;
}

#[tokio::test]
async fn flood_over_the_rate_limit_closes_with_1008_and_others_carry_on() {
    let server = start(config()).await; // 50 frames/s, burst 100
    let url = server.room_url("r");
    let (mut a, mut b, mut c) = trio(&url).await;
    let mut sent = 0;
    for i in 0..300 {
        if a.send_quiet(json!({"type": "signal", "to": b.id, "payload": i}).to_string())
            .await
        {
            sent += 1;
        }
    }
    assert!(sent > 100, "the client could send its flood");
    let (code, reason) = a.expect_close().await;
    assert_eq!(
        (code, reason.as_str()),
        (close_code::POLICY_VIOLATION, close_reason::RATE_LIMITED)
    );
    // b got the burst (plus what refilled meanwhile), then the leave.
    let mut relayed = 0;
    loop {
        let v = b.recv().await;
        match v["type"].as_str().unwrap() {
            "signal" => relayed += 1,
            "peer_left" => break,
            other => panic!("unexpected {other}"),
        }
    }
    // At least the burst got through, and not the whole flood.
    assert!(
        relayed >= 100 && relayed < sent,
        "relayed {relayed} of {sent}"
    );
    assert_eq!(c.expect("peer_left").await["peer_id"], a.id.as_str());
    carry_on(&mut b, &mut c).await;
}

#[tokio::test]
async fn slow_reader_is_disconnected_and_memory_stays_bounded() {
    let queue_bytes = 256 * 1024;
    let server = start(ServerConfig {
        rate_limit_per_sec: 0,
        send_queue_bytes: queue_bytes,
        ..config()
    })
    .await;
    let url = server.room_url("r");
    let (mut fast, mut slow, mut other) = trio(&url).await;
    // `slow` never reads from now on. `fast` sends it 60 KB frames until the server gives up;
    // the kernel's socket buffers absorb a few MB first.
    let payload = "z".repeat(60_000);
    let mut max_queued = 0;
    let mut kicked = false;
    for i in 0..3000 {
        fast.signal(&slow.id, json!(payload)).await;
        if i % 10 == 0 {
            let stats = server.stats();
            max_queued = max_queued.max(stats.queued_bytes);
            if stats.peers == 2 {
                kicked = true;
                break;
            }
        }
    }
    assert!(kicked, "the slow reader was never disconnected");
    assert!(
        max_queued <= queue_bytes + 70_000,
        "queue grew to {max_queued} bytes"
    );
    assert_eq!(fast.expect("peer_left").await["peer_id"], slow.id.as_str());
    assert_eq!(other.expect("peer_left").await["peer_id"], slow.id.as_str());
    // Signals sent after the leave were answered with errors.
    while let Some(v) = fast.try_recv(Duration::from_millis(300)).await {
        assert_eq!(v["code"], "unknown_peer", "{v}");
    }
    eventually("queues drained", || server.stats().queued_bytes == 0).await;
    carry_on(&mut fast, &mut other).await;
    // The slow client's socket is gone: reading it now ends without a welcome-less hang.
    let end = tokio::time::timeout(STEP, async {
        use futures_util::StreamExt;
        while let Some(Ok(_)) = slow.ws.next().await {}
    })
    .await;
    assert!(end.is_ok(), "slow reader's connection was not closed");
}

#[tokio::test]
async fn room_full_and_too_many_rooms_close_with_1013() {
    let server = start(ServerConfig {
        max_peers_per_room: 2,
        max_rooms: 2,
        ..config()
    })
    .await;
    let mut a = Client::join(&server.room_url("one")).await;
    let _b = Client::join(&server.room_url("one")).await;
    a.expect("peer_joined").await;
    let mut ws = connect(&server.room_url("one")).await.unwrap();
    assert_eq!(
        expect_close(&mut ws).await,
        (
            close_code::TRY_AGAIN_LATER,
            close_reason::ROOM_FULL.to_owned()
        )
    );
    a.expect_silence(Duration::from_millis(100)).await;

    let _c = Client::join(&server.room_url("two")).await;
    let mut ws = connect(&server.room_url("three")).await.unwrap();
    assert_eq!(
        expect_close(&mut ws).await,
        (
            close_code::TRY_AGAIN_LATER,
            close_reason::TOO_MANY_ROOMS.to_owned()
        )
    );
    // Space frees up when peers leave.
    drop(a);
    eventually("a left", || server.stats().peers == 2).await;
    Client::join(&server.room_url("one")).await;
}

#[tokio::test]
async fn invalid_room_names_close_with_1008() {
    let server = start(config()).await;
    let addr = server.local_addr();
    for room in ["bad%20name", "", "a%7Cb", "..", &"x".repeat(65), "%C3%A9"] {
        let mut ws = connect(&room_url(addr, room)).await.unwrap();
        assert_eq!(
            expect_close(&mut ws).await,
            (
                close_code::POLICY_VIOLATION,
                close_reason::INVALID_ROOM.to_owned()
            ),
            "room {room:?}"
        );
    }
    // Valid edge cases.
    for room in ["a", "A-z_0.9", &"x".repeat(64)] {
        Client::join(&room_url(addr, room)).await;
    }
}

#[tokio::test]
async fn other_paths_are_refused_with_404() {
    let server = start(config()).await;
    let addr = server.local_addr();
    for path in [
        "/",
        "/v1/rooms",
        "/v1/rooms/a/b",
        "/v2/rooms/a",
        "/v1/room/a",
    ] {
        match connect(&format!("ws://{addr}{path}")).await {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), StatusCode::NOT_FOUND),
            other => panic!("{path}: expected 404, got {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test]
async fn connection_limit_drops_extra_connections() {
    let server = start(ServerConfig {
        max_connections: 2,
        ..config()
    })
    .await;
    let url = server.room_url("r");
    let _a = Client::join(&url).await;
    let _b = Client::join(&url).await;
    assert!(connect(&url).await.is_err());
    assert_eq!(server.stats().connections, 2);
}
