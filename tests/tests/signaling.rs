//! The signaling client natively: against the real server (relay, presence, bad payloads)
//! and against a fake server that misbehaves (garbage frames, refusals, drops).
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use futures::executor::block_on;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use unipeer::signaling::{
    FrameError, ReconnectPolicy, SignalPayload, SignalingClient, SignalingEvent,
};
use unipeer::{Error, IceCandidate, SessionDescription};
use unipeer_server::{spawn_in_thread, ServerConfig};
use unipeer_tests::{within, STEP};

fn fast() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    }
}

/// The next event that is not presence noise, within a bound.
async fn next(client: &mut SignalingClient) -> SignalingEvent {
    within(STEP, "a signaling event", client.next_event())
        .await
        .expect("the client is running")
}

#[test]
fn clients_relay_signals_through_the_real_server() {
    let server = spawn_in_thread(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .unwrap();
    block_on(async {
        let url = server.room_url("relay");
        let mut a = SignalingClient::connect_with(&url, fast()).await.unwrap();
        let a_id = match next(&mut a).await {
            SignalingEvent::Joined { peer_id, peers } => {
                assert!(peers.is_empty());
                peer_id
            }
            other => panic!("expected Joined, got {other:?}"),
        };
        assert_eq!(a.local_id(), Some(a_id.as_str()));
        let mut b = SignalingClient::connect(&url).await.unwrap();
        let b_id = match next(&mut b).await {
            SignalingEvent::Joined { peer_id, peers } => {
                assert_eq!(peers, vec![a_id.clone()]);
                peer_id
            }
            other => panic!("expected Joined, got {other:?}"),
        };
        assert_eq!(
            next(&mut a).await,
            SignalingEvent::PeerJoined {
                peer_id: b_id.clone()
            }
        );

        // Every payload kind arrives as it was sent, stamped with the sender.
        let payloads = [
            SignalPayload::Description(SessionDescription::offer("v=0\r\n")),
            SignalPayload::Candidate(IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            }),
            SignalPayload::EndOfCandidates,
        ];
        for p in &payloads {
            b.send(&a_id, p).unwrap();
        }
        // A payload of an unknown kind is skipped; a malformed one is reported, typed.
        b.send_value(&a_id, json!({"kind": "from_the_future"}))
            .unwrap();
        b.send_value(&a_id, json!({"kind": "candidate"})).unwrap();
        b.send_value(&a_id, json!("not an object")).unwrap();
        // b's frames are written while b is polled.
        {
            let pump = async {
                loop {
                    b.next_event().await;
                }
            };
            let receive = async {
                for p in payloads {
                    assert_eq!(
                        next(&mut a).await,
                        SignalingEvent::Signal {
                            from: b_id.clone(),
                            payload: p
                        }
                    );
                }
                match next(&mut a).await {
                    SignalingEvent::InvalidSignal { from, error } => {
                        assert_eq!(from, b_id);
                        assert!(
                            matches!(error, FrameError::InvalidPayload { .. }),
                            "{error:?}"
                        );
                    }
                    other => panic!("expected InvalidSignal, got {other:?}"),
                }
                assert!(matches!(
                    next(&mut a).await,
                    SignalingEvent::InvalidSignal {
                        error: FrameError::MissingKind,
                        ..
                    }
                ));
            };
            futures::pin_mut!(pump, receive);
            futures::future::select(pump, receive).await;
        }

        b.close().await;
        assert_eq!(
            next(&mut a).await,
            SignalingEvent::PeerLeft { peer_id: b_id }
        );
        // Sending to a peer that left: the server reports it, the client carries on.
        a.send("gone", &SignalPayload::EndOfCandidates).unwrap();
        assert!(matches!(
            next(&mut a).await,
            SignalingEvent::ServerError { .. }
        ));
    });
}

/// A fake server on its own tokio thread: each connection gets the next script.
fn fake_server(scripts: Vec<Vec<Step>>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            for script in scripts {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    continue;
                };
                let mut dropped = false;
                for step in script {
                    match step {
                        Step::Drop => {
                            dropped = true;
                            break;
                        }
                        Step::Send(text) => {
                            let _ = ws.send(WsMessage::text(text)).await;
                        }
                        Step::Close(code, reason) => {
                            let frame = CloseFrame {
                                code: CloseCode::from(code),
                                reason: reason.into(),
                            };
                            let _ = ws.close(Some(frame)).await;
                        }
                        Step::Wait(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    }
                }
                // Drain until the client goes, unless the script drops the connection.
                if !dropped {
                    while let Some(Ok(_)) = ws.next().await {}
                }
            }
            // Then refuse everything.
            loop {
                let _ = listener.accept().await;
            }
        });
    });
    format!("ws://{addr}/v1/rooms/fake")
}

enum Step {
    Send(&'static str),
    Close(u16, &'static str),
    Wait(u64),
    /// Drop the TCP connection without a close frame.
    Drop,
}

#[test]
fn garbage_frames_are_skipped_and_drops_are_survived() {
    let welcome = r#"{"type":"welcome","peer_id":"me","peers":["p1"],"motd":"hi"}"#;
    let url = fake_server(vec![
        vec![
            Step::Send("not json"),
            Step::Send(r#"{"type":"news","text":"?"}"#),
            Step::Send(r#"{"type":"welcome"}"#),
            Step::Send(r#"{"type":"signal","from":"p1","payload":{}}"#),
            Step::Send(welcome),
            Step::Send(r#"[1,2,3]"#),
            Step::Send(r#"{"type":"peer_joined","peer_id":"p2"}"#),
            Step::Send(r#"{"type":"peer_left"}"#),
            Step::Send(r#"{"type":"signal","from":"p1","payload":{"kind":"end_of_candidates"}}"#),
            Step::Close(1001, "restarting"),
        ],
        // The reconnect: welcomed again under a new id, then dropped without a close frame.
        vec![
            Step::Send(r#"{"type":"welcome","peer_id":"me2","peers":[]}"#),
            Step::Wait(50),
            Step::Drop,
        ],
        // The next attempt is refused as a policy violation before any welcome.
        vec![Step::Close(1008, "bad token")],
    ]);
    block_on(within(Duration::from_secs(60), "the test", async {
        let mut c = SignalingClient::connect_with(&url, fast()).await.unwrap();
        assert_eq!(
            next(&mut c).await,
            SignalingEvent::Joined {
                peer_id: "me".into(),
                peers: vec!["p1".into()]
            }
        );
        assert_eq!(
            next(&mut c).await,
            SignalingEvent::PeerJoined {
                peer_id: "p2".into()
            }
        );
        assert_eq!(
            next(&mut c).await,
            SignalingEvent::Signal {
                from: "p1".into(),
                payload: SignalPayload::EndOfCandidates
            }
        );
        match next(&mut c).await {
            SignalingEvent::Disconnected { reason, retry_in } => {
                assert!(reason.contains("1001"), "{reason}");
                assert!(retry_in <= Duration::from_millis(100));
            }
            other => panic!("expected Disconnected, got {other:?}"),
        }
        assert!(!c.is_connected());
        assert!(matches!(
            c.send("p1", &SignalPayload::EndOfCandidates),
            Err(Error::Signaling(_))
        ));
        assert_eq!(
            next(&mut c).await,
            SignalingEvent::Joined {
                peer_id: "me2".into(),
                peers: vec![]
            }
        );
        assert!(matches!(
            next(&mut c).await,
            SignalingEvent::Disconnected { .. }
        ));
        match next(&mut c).await {
            SignalingEvent::Closed { reason } => assert!(reason.contains("bad token"), "{reason}"),
            other => panic!("expected Closed, got {other:?}"),
        }
        assert_eq!(c.next_event().await, None, "the stream ends after Closed");
    }));
}

#[test]
fn a_refusal_or_silence_before_the_welcome_fails_connect() {
    let url = fake_server(vec![
        vec![Step::Close(1008, "invalid token")],
        vec![
            Step::Send(r#"{"type":"error","code":"room_full","message":"the room is full"}"#),
            Step::Close(1008, "room full"),
        ],
    ]);
    block_on(async {
        match SignalingClient::connect_with(&url, fast()).await {
            Err(Error::Signaling(m)) => assert!(m.contains("invalid token"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        match SignalingClient::connect_with(&url, fast()).await {
            Err(Error::Signaling(m)) => assert!(m.contains("the room is full"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(
            SignalingClient::connect("http://example.invalid/").await,
            Err(Error::Signaling(_))
        ));
        assert!(matches!(
            SignalingClient::connect("wss://127.0.0.1:9/v1/rooms/x").await,
            Err(Error::Signaling(m)) if m.contains("wss://")
        ));
    });
}

/// A burst of signals far beyond the server's rate limit (a burst of 100, then 50 per
/// second) is paced by the client: every signal arrives, in order, and the sender is not
/// cut off.
#[test]
fn a_burst_beyond_the_rate_limit_is_paced_not_cut_off() {
    let server = spawn_in_thread(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .unwrap();
    block_on(async {
        let url = server.room_url("burst");
        let mut a = SignalingClient::connect_with(&url, fast()).await.unwrap();
        let mut b = SignalingClient::connect_with(&url, fast()).await.unwrap();
        let SignalingEvent::Joined { peer_id: a_id, .. } = next(&mut a).await else {
            panic!("a joins")
        };
        next(&mut b).await; // b's welcome
        const N: usize = 200;
        for i in 0..N {
            let candidate = IceCandidate {
                candidate: format!("candidate:{i} 1 udp 1 127.0.0.1 9 typ host"),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            };
            b.send(&a_id, &SignalPayload::Candidate(candidate)).unwrap();
        }
        let mut received = 0;
        let mut b_events = Vec::new();
        within(Duration::from_secs(30), "every signal", async {
            while received < N {
                match futures::future::select(Box::pin(a.next_event()), Box::pin(b.next_event()))
                    .await
                {
                    futures::future::Either::Left((
                        Some(SignalingEvent::Signal { payload, .. }),
                        _,
                    )) => {
                        let SignalPayload::Candidate(c) = payload else {
                            panic!("a candidate")
                        };
                        assert!(c.candidate.starts_with(&format!("candidate:{received} ")));
                        received += 1;
                    }
                    futures::future::Either::Left((Some(SignalingEvent::PeerJoined { .. }), _)) => {
                    }
                    futures::future::Either::Left((other, _)) => {
                        panic!("a got {other:?}")
                    }
                    futures::future::Either::Right((event, _)) => b_events.push(event),
                }
            }
        })
        .await;
        assert!(
            b_events
                .iter()
                .all(|e| !matches!(e, Some(SignalingEvent::Disconnected { .. }))),
            "b was not cut off: {b_events:?}"
        );
        assert!(b.is_connected());
    });
}
