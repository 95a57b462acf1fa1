//! No secrets in logs at info level or above: ICE passwords and usernames, SDP, DTLS
//! fingerprints, candidate addresses and room tokens appear at debug level at most.
//!
//! Everything a user does in a normal session runs with every log event at INFO and above
//! captured (from every thread: the I/O driver, the in-process signaling server): a pair
//! negotiated by hand with data exchanged, an RPC call, a bad description, and two mesh
//! nodes joining a room with a token. Then the capture is searched for each secret.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use unipeer::rpc::{Rpc, RpcConfig};
use unipeer::{DataChannelInit, MeshConfig, Message, Peer, SessionDescription};
use unipeer_server::{spawn_in_thread, ServerConfig};
use unipeer_tests::mesh::{drive_until, full_mesh, mesh_config, Node};
use unipeer_tests::{loopback, next_channel, run, within, Events, STEP};

/// The captured log text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// `a=NAME:value` values of a description.
fn values(sdp: &SessionDescription, name: &str) -> Vec<String> {
    let prefix = format!("a={name}:");
    sdp.sdp
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
        .map(str::to_string)
        .collect()
}

#[test]
fn secrets_stay_out_of_info_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    tracing::info!("capture check");

    let mut secrets: Vec<String> = Vec::new();
    run(async {
        // A pair negotiated by hand: its descriptions and candidates are the secrets.
        let a = Peer::new(loopback()).unwrap();
        let b = Peer::new(loopback()).unwrap();
        let ch = a
            .create_data_channel("chat", DataChannelInit::default())
            .await
            .unwrap();
        let offer = a.create_offer().await.unwrap();
        let answer = b.accept_offer(offer.clone()).await.unwrap();
        a.accept_answer(answer.clone()).await.unwrap();
        for sdp in [&offer, &answer] {
            for name in ["ice-pwd", "ice-ufrag", "fingerprint"] {
                secrets.extend(values(sdp, name));
            }
        }
        let (mut a_events, mut b_events) = (Events::of(&a), Events::of(&b));
        for (events, to) in [(&mut a_events, &b), (&mut b_events, &a)] {
            while let Some(c) = events.next_candidate().await {
                // "candidate:F C udp PRIO IP PORT typ host": the address in both spellings.
                let words: Vec<&str> = c.candidate.split_whitespace().collect();
                secrets.push(format!("{}:{}", words[4], words[5]));
                secrets.push(format!("{} {}", words[4], words[5]));
                to.add_ice_candidate(c).await.unwrap();
            }
        }
        let remote = next_channel(&mut b_events).await;
        within(STEP, "open", ch.wait_open()).await.unwrap();
        ch.send_text("hello").await.unwrap();
        assert_eq!(
            within(STEP, "hello", remote.recv()).await,
            Some(Message::Text("hello".into()))
        );

        // An RPC call on that channel.
        let (client, client_driver) = Rpc::new(ch.clone(), RpcConfig::default()).unwrap();
        let (server, server_driver) = Rpc::new(remote, RpcConfig::default()).unwrap();
        server.register("twice", |x: u32| async move { Ok(x * 2) });
        let call = async { client.call::<_, u32>("twice", &21u32).await };
        let drivers = futures::future::join(client_driver, server_driver);
        match futures::future::select(std::pin::pin!(call), drivers).await {
            futures::future::Either::Left((r, _)) => assert_eq!(r, Ok(42)),
            futures::future::Either::Right(_) => panic!("the drivers stopped"),
        }

        // A bad description is refused (and its text must not be logged either).
        let bad = SessionDescription::answer("v=0\r\nsecret-sdp-line\r\n");
        assert!(b.accept_answer(bad).await.is_err());
        secrets.push("secret-sdp-line".into());
        a.close().await;
        b.close().await;
        let mut a_events = a.events();
        while within(STEP, "a's events to end", a_events.next())
            .await
            .is_some()
        {}
    });

    // Two mesh nodes joining with a room token.
    let secret = b"log test secret".to_vec();
    let server = spawn_in_thread(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        secret: Some(secret.clone()),
        ..Default::default()
    })
    .unwrap();
    let token = unipeer_server::mint_token_ttl(&secret, "room", Duration::from_secs(60));
    secrets.push(token.clone());
    run(async {
        let config = MeshConfig {
            token: Some(token.clone()),
            ..mesh_config()
        };
        let mut nodes = vec![
            Node::join("a", &server.url(), "room", config.clone()).await,
            Node::join("b", &server.url(), "room", config).await,
        ];
        drive_until(&mut nodes, "two nodes to link", full_mesh).await;
    });
    drop(server);

    let logged = capture.text();
    assert!(logged.contains("capture check"), "the capture works");
    assert!(secrets.len() > 8, "secrets were collected: {secrets:?}");
    for s in &secrets {
        assert!(
            !logged.contains(s.as_str()),
            "{s:?} was logged at info level or above:\n{logged}"
        );
    }
    for marker in ["a=ice-pwd", "a=fingerprint", "a=candidate", "v=0"] {
        assert!(
            !logged.contains(marker),
            "SDP ({marker}) was logged:\n{logged}"
        );
    }
}
