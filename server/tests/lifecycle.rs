//! Keepalive eviction, graceful shutdown, restart with reconnecting clients, embedding.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use unipeer_server::protocol::{close_code, close_reason};
use unipeer_server::{bind, spawn_in_thread, ServerConfig};

#[tokio::test]
async fn clients_that_do_not_answer_pings_are_evicted() {
    let server = start(ServerConfig {
        ping_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let url = server.room_url("r");
    let mut alive = Client::join(&url).await;
    let mut dead = Client::join(&url).await;
    alive.expect("peer_joined").await;
    // `dead` is never polled from here on, so it never answers a ping. `alive` answers
    // them while it waits (tungstenite replies to pings as it reads).
    let started = Instant::now();
    assert_eq!(alive.expect("peer_left").await["peer_id"], dead.id.as_str());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "evicted too early: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "evicted too late: {took:?}");
    // The dead client's socket got a close frame.
    assert_eq!(
        dead.expect_close().await,
        (
            close_code::GOING_AWAY,
            close_reason::PING_TIMEOUT.to_owned()
        )
    );
    // The live one survives many ping rounds.
    alive.expect_silence(Duration::from_millis(1200)).await;
    assert_eq!(server.stats().peers, 1);
}

#[tokio::test]
async fn graceful_shutdown_closes_clients_with_1001() {
    let server = start(config()).await;
    let url = server.room_url("r");
    let mut a = Client::join(&url).await;
    let mut a2 = Client::join(&url).await;
    a.expect("peer_joined").await;
    let mut b = Client::join(&server.room_url("s")).await;
    let addr = server.local_addr();
    let started = Instant::now();
    // No peer_left before the close: peers may stay connected through a signaling outage.
    let (_, (code_a, reason_a), (code_a2, _), (code_b, _)) = tokio::join!(
        server.shutdown(),
        a.expect_close_next(),
        a2.expect_close_next(),
        b.expect_close_next()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_eq!(code_a, close_code::GOING_AWAY);
    assert_eq!(reason_a, close_reason::SHUTTING_DOWN);
    assert_eq!(code_a2, close_code::GOING_AWAY);
    assert_eq!(code_b, close_code::GOING_AWAY);
    // Nothing listens any more.
    assert!(connect(&room_url(addr, "r")).await.is_err());
}

#[tokio::test]
async fn restart_on_the_same_port_with_clients_reconnecting() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let url = room_url(addr, "r");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    a.expect("peer_joined").await;
    let (old_a, old_b) = (a.id.clone(), b.id.clone());

    let (_, closed_a, closed_b) = tokio::join!(
        server.shutdown(),
        a.expect_close_next(),
        b.expect_close_next()
    );
    assert_eq!(closed_a.0, close_code::GOING_AWAY);
    assert_eq!(closed_b.0, close_code::GOING_AWAY);
    drop((a, b));

    // The clients reconnect with backoff while the server is down and while it comes back.
    let reconnect = |url: String| async move {
        let deadline = Instant::now() + STEP;
        let mut backoff = Duration::from_millis(20);
        loop {
            if let Ok(ws) = tokio_tungstenite::connect_async(&url).await {
                return Client::from_ws(ws.0).await;
            }
            assert!(Instant::now() < deadline, "could not reconnect");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    };
    let clients = tokio::spawn({
        let url = url.clone();
        async move { tokio::join!(reconnect(url.clone()), reconnect(url)) }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let server = start(ServerConfig {
        listen: addr,
        ..config()
    })
    .await;
    let (mut a, mut b) = clients.await.unwrap();
    // Fresh welcomes with fresh ids; the two see each other.
    assert!(![&old_a, &old_b].contains(&&a.id));
    assert!(![&old_a, &old_b].contains(&&b.id));
    let (first, second) = if a.peers.is_empty() {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert_eq!(second.peers, std::slice::from_ref(&first.id));
    assert_eq!(
        first.expect("peer_joined").await["peer_id"],
        second.id.as_str()
    );
    first.signal(&second.id, json!("welcome back")).await;
    assert_eq!(second.expect("signal").await["payload"], "welcome back");
    assert_eq!(server.stats().peers, 2);
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = start(config()).await;
    let mut a = Client::join(&server.room_url("r")).await;
    drop(server);
    assert_eq!(a.expect_close().await.0, close_code::GOING_AWAY);
}

#[tokio::test]
async fn bind_rejects_invalid_config_and_busy_ports() {
    let bad = ServerConfig {
        max_frame_bytes: 0,
        ..config()
    };
    assert_eq!(
        bind(bad).await.err().unwrap().kind(),
        std::io::ErrorKind::InvalidInput
    );
    let server = start(config()).await;
    let busy = ServerConfig {
        listen: server.local_addr(),
        ..config()
    };
    assert!(bind(busy).await.is_err());
}

/// The blocking embedding works from a thread with no runtime at all.
#[test]
fn spawn_in_thread_from_plain_code() {
    let server = spawn_in_thread(ServerConfig {
        close_timeout: Duration::from_millis(300),
        ..config()
    })
    .expect("server starts");
    assert!(server.url().starts_with("ws://127.0.0.1:"));
    let url = server.room_url("plain");
    let (mut ws, _) = tokio_tungstenite::tungstenite::connect(&url).expect("connects");
    let welcome = ws.read().unwrap();
    assert!(welcome.to_text().unwrap().contains(r#""type":"welcome""#));
    assert_eq!(server.stats().peers, 1);
    let started = Instant::now();
    server.stop();
    assert!(started.elapsed() < Duration::from_secs(3));
    match ws.read() {
        Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f))) => {
            assert_eq!(u16::from(f.code), close_code::GOING_AWAY)
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
    // Dropping a running server also stops it and frees its port.
    let server = spawn_in_thread(config()).unwrap();
    let addr = server.local_addr();
    drop(server);
    assert!(std::net::TcpStream::connect(addr).is_err());
}
