//! Joining, leaving and relaying; no cross-room delivery; forged `from`; bad frames.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use unipeer_server::protocol::{close_code, close_reason, MAX_CONSECUTIVE_BAD_FRAMES};

#[tokio::test]
async fn welcome_join_and_leave() {
    let server = start(config()).await;
    let url = server.room_url("lobby");
    let mut a = Client::join(&url).await;
    assert!(a.peers.is_empty());
    assert_eq!(a.id.len(), 16);
    assert!(a.id.bytes().all(|b| b.is_ascii_hexdigit()));

    let mut b = Client::join(&url).await;
    assert_eq!(b.peers, [a.id.clone()]);
    assert_eq!(a.expect("peer_joined").await["peer_id"], b.id.as_str());

    let c = Client::join(&url).await;
    assert_eq!(c.peers, [a.id.clone(), b.id.clone()], "peers in join order");
    assert_eq!(a.expect("peer_joined").await["peer_id"], c.id.as_str());
    assert_eq!(b.expect("peer_joined").await["peer_id"], c.id.as_str());
    assert_ne!(a.id, b.id);

    let c_id = c.id.clone();
    drop(c);
    assert_eq!(a.expect("peer_left").await["peer_id"], c_id.as_str());
    assert_eq!(b.expect("peer_left").await["peer_id"], c_id.as_str());

    // A closing handshake from the client is a leave too.
    b.ws.close(None).await.unwrap();
    assert_eq!(a.expect("peer_left").await["peer_id"], b.id.as_str());
    eventually("stats settle", || server.stats().peers == 1).await;
    assert_eq!(server.stats().rooms, 1);
    drop(a);
    eventually("room removed", || server.stats().rooms == 0).await;
}

#[tokio::test]
async fn relays_to_one_peer_with_stamped_from_and_payload_unchanged() {
    let server = start(config()).await;
    let url = server.room_url("r");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    let mut c = Client::join(&url).await;
    a.expect("peer_joined").await;
    a.expect("peer_joined").await;
    b.expect("peer_joined").await;

    // Payload bytes are relayed verbatim: spacing, key order, numbers, escapes.
    let payload = r#"{ "kind":"candidate", "candidate":"candidate:1 1 udp 2122260223 10.0.0.2 54321 typ host", "sdpMid":"0","sdpMLineIndex":0, "x":[1.50e3, null, true, "\u00e9\n"] }"#;
    a.send_text(format!(
        r#"{{"type":"signal","to":"{}","payload":{payload}}}"#,
        b.id
    ))
    .await;
    let got = b.recv_text().await;
    assert_eq!(
        got,
        format!(
            r#"{{"type":"signal","from":"{}","payload":{payload}}}"#,
            a.id
        )
    );

    // Any JSON value is a payload.
    for p in [json!(null), json!(42), json!("s"), json!([1, {"a": []}])] {
        b.signal(&a.id, p.clone()).await;
        let v = a.expect("signal").await;
        assert_eq!(v["from"], b.id.as_str());
        assert_eq!(v["payload"], p);
    }

    // A forged `from` is ignored: the server stamps the real sender.
    a.send_json(json!({"type": "signal", "from": b.id, "to": c.id, "payload": {"kind": "x"}}))
        .await;
    a.send_text(format!(
        r#"{{"type":"signal","to":"{}","payload":1,"from":"{}"}}"#,
        c.id, b.id
    ))
    .await;
    for _ in 0..2 {
        assert_eq!(c.expect("signal").await["from"], a.id.as_str());
    }
    // Only the addressee got anything.
    a.expect_silence(Duration::from_millis(200)).await;
    b.expect_silence(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn many_rooms_no_cross_room_delivery() {
    const ROOMS: usize = 20;
    const PER_ROOM: usize = 5;
    let server = start(config()).await;
    let mut rooms: Vec<Vec<Client>> = Vec::new();
    for r in 0..ROOMS {
        let url = server.room_url(&format!("room-{r}"));
        let mut clients = Vec::new();
        for _ in 0..PER_ROOM {
            clients.push(Client::join(&url).await);
        }
        rooms.push(clients);
    }
    assert_eq!(server.stats().peers, ROOMS * PER_ROOM);
    assert_eq!(server.stats().rooms, ROOMS);
    // Everyone sees exactly the later joiners of its own room.
    for clients in &mut rooms {
        let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            assert_eq!(c.peers, ids[..i]);
            for later in &ids[i + 1..] {
                assert_eq!(c.expect("peer_joined").await["peer_id"], later.as_str());
            }
        }
    }
    // Everyone signals everyone else in its room.
    for (r, clients) in rooms.iter_mut().enumerate() {
        let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            for (j, to) in ids.iter().enumerate() {
                if i != j {
                    c.signal(to, json!({"room": r, "from": i})).await;
                }
            }
        }
    }
    for (r, clients) in rooms.iter_mut().enumerate() {
        let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
        for (j, c) in clients.iter_mut().enumerate() {
            let mut seen = HashMap::new();
            for _ in 0..PER_ROOM - 1 {
                let v = c.expect("signal").await;
                assert_eq!(v["payload"]["room"], r, "cross-room delivery: {v}");
                let i = v["payload"]["from"].as_u64().unwrap() as usize;
                assert_ne!(i, j);
                assert_eq!(v["from"], ids[i].as_str());
                *seen.entry(i).or_insert(0) += 1;
            }
            assert!(seen.values().all(|&n| n == 1), "duplicates: {seen:?}");
        }
    }
    // Nothing else arrives anywhere.
    for clients in &mut rooms {
        for c in clients {
            c.expect_silence(Duration::from_millis(5)).await;
        }
    }
    // A peer of another room is unknown here.
    let other = rooms[1][0].id.clone();
    let c = &mut rooms[0][0];
    c.signal(&other, json!("hi")).await;
    let e = c.expect("error").await;
    assert_eq!(e["code"], "unknown_peer");
    rooms[1][0].expect_silence(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn unknown_peer_is_an_error_and_the_socket_stays_open() {
    let server = start(config()).await;
    let url = server.room_url("r");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    a.expect("peer_joined").await;
    for to in ["0000000000000000".to_owned(), String::new(), a.id.clone()] {
        a.signal(&to, json!({})).await;
        let e = a.expect("error").await;
        assert_eq!(e["code"], "unknown_peer");
        assert!(e["message"].is_string());
    }
    a.signal(&b.id, json!("still here")).await;
    assert_eq!(b.expect("signal").await["payload"], "still here");
}

#[tokio::test]
async fn malformed_frames_get_bad_frame_errors_and_the_socket_stays_open() {
    let server = start(config()).await;
    let url = server.room_url("r");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    a.expect("peer_joined").await;
    let bad = [
        "{",
        "not json",
        "[]",
        "null",
        r#"{"type":"nope"}"#,
        r#"{"no_type":1}"#,
        r#"{"type":"signal","to":"x"}"#,
        r#"{"type":"signal","payload":1}"#,
        r#"{"type":"signal","to":5,"payload":1}"#,
        r#"{"type":"welcome"}"#,
    ];
    assert_eq!(bad.len() as u32, MAX_CONSECUTIVE_BAD_FRAMES);
    for text in bad {
        a.send_text(text).await;
        let e = a.expect("error").await;
        assert_eq!(e["code"], "bad_frame", "for {text}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    // A good frame resets the count; the socket still works.
    a.signal(&b.id, json!(1)).await;
    assert_eq!(b.expect("signal").await["from"], a.id.as_str());
    for _ in 0..MAX_CONSECUTIVE_BAD_FRAMES {
        a.send_text("{").await;
        assert_eq!(a.expect("error").await["code"], "bad_frame");
    }
    // One more in a row is too many.
    a.send_text("{").await;
    let (code, reason) = a.expect_close().await;
    assert_eq!(
        (code, reason.as_str()),
        (
            close_code::POLICY_VIOLATION,
            close_reason::TOO_MANY_BAD_FRAMES
        )
    );
    assert_eq!(b.expect("peer_left").await["peer_id"], a.id.as_str());
}

#[tokio::test]
async fn binary_frames_close_with_1003() {
    let server = start(config()).await;
    let url = server.room_url("r");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    a.expect("peer_joined").await;
    b.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let (code, reason) = b.expect_close().await;
    assert_eq!(code, close_code::UNSUPPORTED_DATA);
    assert_eq!(reason, close_reason::BINARY_NOT_SUPPORTED);
    assert_eq!(a.expect("peer_left").await["peer_id"], b.id.as_str());
}

#[tokio::test]
async fn simultaneous_joins_give_every_pair_one_consistent_introduction() {
    const N: usize = 12;
    let server = start(config()).await;
    let url = server.room_url("rush");
    let joins = (0..N).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { Client::join(&url).await })
    });
    let mut clients = Vec::new();
    for j in joins {
        clients.push(j.await.unwrap());
    }
    // Each client learns of every other exactly once: either in its welcome (the other was
    // first) or by peer_joined (it was first), never both, never neither.
    let mut known: Vec<Vec<String>> = Vec::new();
    for c in &mut clients {
        let mut ids = c.peers.clone();
        for _ in 0..N - 1 - c.peers.len() {
            ids.push(
                c.expect("peer_joined").await["peer_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        c.expect_silence(Duration::from_millis(5)).await;
        known.push(ids);
    }
    for (i, c) in clients.iter().enumerate() {
        let mut expected: Vec<&str> = clients
            .iter()
            .filter(|o| o.id != c.id)
            .map(|o| o.id.as_str())
            .collect();
        let mut got: Vec<&str> = known[i].iter().map(String::as_str).collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected);
        for other in &clients {
            if other.id != c.id {
                // Exactly one of the pair was in the other's welcome.
                assert!(c.peers.contains(&other.id) != other.peers.contains(&c.id));
            }
        }
    }
}
