//! The mesh natively: several nodes in one process, each its own `Mesh`, with the real
//! signaling server embedded (`unipeer-server`), all driven by `futures::executor` (no
//! tokio in the nodes). The browser half of the mesh runs in the interop tests.
#![cfg(not(target_arch = "wasm32"))]

#[path = "mesh/proxy.rs"]
mod proxy;

use std::net::SocketAddr;
use std::time::Duration;

use futures::executor::block_on;
use serde_json::json;
use unipeer::signaling::{SignalPayload, SignalingClient};
use unipeer::{Error, IceCandidate, Mesh, MeshConfig, Message, SessionDescription};
use unipeer_server::{spawn_in_thread, RunningServer, ServerConfig};
use unipeer_tests::mesh::{
    drive_for, drive_until, exchange, full_mesh, key_of, logs, mesh_config, Node,
};
use unipeer_tests::within;

/// Longer than the mesh's grace period for id announcements after a re-join.
const SETTLE: Duration = Duration::from_secs(4);

fn server_on(listen: SocketAddr) -> RunningServer {
    let config = ServerConfig {
        listen,
        ..Default::default()
    };
    // The port of a server that just stopped may take a moment to be free again.
    let mut tries = 0;
    loop {
        match spawn_in_thread(config.clone()) {
            Ok(server) => return server,
            Err(e) if tries < 50 => {
                tries += 1;
                eprintln!("server start: {e}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the server did not start: {e}"),
        }
    }
}

fn server() -> RunningServer {
    server_on("127.0.0.1:0".parse().unwrap())
}

fn run(test: impl std::future::Future<Output = ()>) {
    block_on(within(Duration::from_secs(170), "the whole test", test))
}

/// Polls a raw signaling client for `time`, so the frames it queued go out.
async fn flush_for(client: &mut SignalingClient, time: Duration) {
    let flush = async {
        loop {
            client.next_event().await;
        }
    };
    let _ = futures::future::select(Box::pin(flush), futures_timer::Delay::new(time)).await;
}

async fn join_all(url: &str, room: &str, names: &[&str]) -> Vec<Node> {
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(Node::join(name, url, room, mesh_config()).await);
    }
    nodes
}

#[test]
fn four_nodes_form_a_full_mesh_and_talk_both_ways() {
    let server = server();
    run(async {
        let mut nodes = join_all(&server.url(), "four", &["a", "b", "c", "d"]).await;
        drive_until(&mut nodes, "a full mesh of four", full_mesh).await;
        for n in &nodes {
            let mut expected: Vec<String> = n.links.keys().cloned().collect();
            expected.sort();
            assert_eq!(n.mesh.peers(), expected, "{}", n.name);
            for channels in n.links.values() {
                assert_eq!(channels.len(), 2, "the configured channels, no more");
                assert_eq!((channels[0].id(), channels[1].id()), (Some(0), Some(1)));
                assert_eq!(channels[0].label(), "chat");
                assert!(!channels[1].ordered());
                assert!(channels[0].negotiated());
            }
        }
        exchange(&nodes, "round 1").await;

        // Broadcast from `a` reaches everyone once.
        let a = &nodes[0];
        a.mesh
            .broadcast(0, Message::Text("to all".into()))
            .await
            .unwrap();
        for other in &nodes[1..] {
            let key = key_of(other, a).unwrap();
            let got = within(
                unipeer_tests::STEP,
                "broadcast",
                other.links[&key][0].recv(),
            )
            .await;
            assert_eq!(got, Some(Message::Text("to all".into())));
        }

        // `channel` hands out the same channels; bad ids are typed errors.
        let b_key = key_of(a, &nodes[1]).unwrap();
        assert_eq!(a.mesh.channel(&b_key, 1).unwrap().id(), Some(1));
        assert!(a.mesh.channel(&b_key, 2).is_none());
        assert!(a.mesh.channel("nobody", 0).is_none());
        assert_eq!(
            a.mesh.send("nobody", 0, Message::Text("x".into())).await,
            Err(Error::UnknownPeer("nobody".into()))
        );
        assert_eq!(
            a.mesh.send(&b_key, 2, Message::Text("x".into())).await,
            Err(Error::UnknownChannel { index: 2, count: 2 })
        );
        assert!(matches!(
            a.mesh.broadcast(7, Message::Text("x".into())).await,
            Err(Error::UnknownChannel { .. })
        ));
        for n in &nodes {
            assert_eq!((n.connects, n.disconnects), (3, 0), "{}", n.name);
        }
    });
}

#[test]
fn two_nodes_joining_at_the_same_instant() {
    let server = server();
    run(async {
        for round in 0..3 {
            let room = format!("same-instant-{round}");
            let url = server.url();
            let first = Node::join("first", &url, &room, mesh_config()).await;
            let (x, y) = futures::join!(
                Mesh::join(&url, &room, mesh_config()),
                Mesh::join(&url, &room, mesh_config())
            );
            let mut nodes = vec![
                first,
                Node::new("x", x.expect("x joins")),
                Node::new("y", y.expect("y joins")),
            ];
            drive_until(&mut nodes, "a full mesh of three", full_mesh).await;
            exchange(&nodes, &format!("round {round}")).await;
        }
    });
}

#[test]
fn eight_nodes_joining_at_once() {
    let server = server();
    run(async {
        let url = server.url();
        let joins = (0..8).map(|_| Mesh::join(&url, "crowd", mesh_config()));
        let meshes = futures::future::join_all(joins).await;
        let mut nodes: Vec<Node> = meshes
            .into_iter()
            .enumerate()
            .map(|(i, m)| Node::new(&format!("n{i}"), m.expect("joins")))
            .collect();
        drive_until(&mut nodes, "a full mesh of eight", full_mesh).await;
        exchange(&nodes, "crowd").await;
        for n in &nodes {
            assert_eq!((n.connects, n.disconnects), (7, 0), "{}", n.name);
        }
    });
}

#[test]
fn a_node_leaving_and_rejoining() {
    let server = server();
    run(async {
        let url = server.url();
        let mut nodes = join_all(&url, "rejoin", &["a", "b", "c"]).await;
        drive_until(&mut nodes, "a full mesh", full_mesh).await;
        let c = nodes.pop().unwrap();
        let c_id = c.mesh.local_id();
        c.mesh.leave().await;
        drive_until(&mut nodes, "the others to see c go", |n| {
            n.iter()
                .all(|n| n.links.len() == 1 && n.left.contains(&c_id) && n.disconnects == 1)
        })
        .await;
        assert!(nodes.iter().all(|n| !n.mesh.peers().contains(&c_id)));

        nodes.push(Node::join("c again", &url, "rejoin", mesh_config()).await);
        assert_ne!(nodes[2].mesh.local_id(), c_id, "a new id for a new session");
        drive_until(&mut nodes, "c to be back in the mesh", full_mesh).await;
        exchange(&nodes, "after the rejoin").await;
    });
}

#[test]
fn a_signaling_server_restart_keeps_the_links_and_the_nodes_reconnect() {
    let server = server();
    let addr = server.local_addr();
    let url = server.url();
    run(async {
        let mut nodes = join_all(&url, "restart", &["a", "b", "c"]).await;
        drive_until(&mut nodes, "a full mesh", full_mesh).await;
        let before: Vec<Vec<String>> = nodes.iter().map(|n| n.mesh.peers()).collect();

        server.stop();
        drive_until(&mut nodes, "every node to lose signaling", |n| {
            n.iter().all(|n| n.lost >= 1)
        })
        .await;
        exchange(&nodes, "while the server is down").await;

        let server = server_on(addr);
        drive_until(&mut nodes, "every node to re-join", |n| {
            n.iter().all(|n| n.restored >= 1)
        })
        .await;
        // Every id changed, yet nobody re-offers to a peer it is still linked to.
        drive_for(&mut nodes, SETTLE).await;
        for (n, peers) in nodes.iter().zip(&before) {
            assert_eq!(
                (n.connects, n.disconnects),
                (2, 0),
                "{}: links survive, none duplicated\n{}",
                n.name,
                logs(&nodes)
            );
            assert_eq!(&n.mesh.peers(), peers, "link ids stay");
        }
        exchange(&nodes, "after the restart").await;

        // The mesh still grows: a newcomer links to everyone under their new ids.
        nodes.push(Node::join("d", &url, "restart", mesh_config()).await);
        drive_until(&mut nodes, "the newcomer in the mesh", full_mesh).await;
        exchange(&nodes, "with the newcomer").await;
        drop(server);
    });
}

#[test]
fn a_peer_left_for_a_live_link_does_not_end_it() {
    let server = server();
    run(async {
        // `b` reaches the server through a proxy that can cut its connection.
        let proxy = proxy::Proxy::start(server.local_addr());
        let mut nodes = vec![
            Node::join("a", &server.url(), "cut", mesh_config()).await,
            Node::join("b", &proxy.url(), "cut", mesh_config()).await,
            Node::join("c", &server.url(), "cut", mesh_config()).await,
        ];
        drive_until(&mut nodes, "a full mesh", full_mesh).await;
        let b_old = nodes[1].mesh.local_id();

        proxy.cut();
        drive_until(
            &mut nodes,
            "b to re-join and the others to see it leave",
            |n| n[1].restored >= 1 && n[0].left.contains(&b_old) && n[2].left.contains(&b_old),
        )
        .await;
        let b_new = nodes[1].mesh.local_id();
        assert_ne!(b_new, b_old);
        drive_for(&mut nodes, SETTLE).await;
        for n in &nodes {
            assert_eq!(
                (n.connects, n.disconnects),
                (2, 0),
                "{}: the links outlive b's signaling\n{}",
                n.name,
                logs(&nodes)
            );
        }
        assert!(
            nodes[0].mesh.peers().contains(&b_old),
            "the link keeps its id"
        );
        exchange(&nodes, "after b's outage").await;

        // A newcomer reaches b under its new id.
        nodes.push(Node::join("d", &server.url(), "cut", mesh_config()).await);
        drive_until(&mut nodes, "the newcomer in the mesh", full_mesh).await;
        assert_eq!(key_of(&nodes[3], &nodes[1]), Some(b_new));
        exchange(&nodes, "with the newcomer").await;
    });
}

#[test]
fn garbage_from_a_room_member_gives_errors_not_breakage() {
    let server = server();
    run(async {
        let mut nodes = join_all(&server.url(), "garbage", &["a", "b"]).await;
        drive_until(&mut nodes, "a full mesh", full_mesh).await;
        let a_id = nodes[0].mesh.local_id();

        // A raw client in the room sends nonsense to `a`: malformed payloads, an offer
        // that is not SDP, candidates for no session.
        let mut rogue = SignalingClient::connect(&server.room_url("garbage"))
            .await
            .unwrap();
        rogue
            .send_value(&a_id, json!({"kind": "description"}))
            .unwrap();
        rogue.send_value(&a_id, json!([1, 2])).unwrap();
        rogue
            .send_value(&a_id, json!({"kind": "future_kind"}))
            .unwrap();
        rogue
            .send(
                &a_id,
                &SignalPayload::Description(SessionDescription::offer("nonsense")),
            )
            .unwrap();
        rogue
            .send(
                &a_id,
                &SignalPayload::Candidate(IceCandidate {
                    candidate: "candidate:garbage".into(),
                    sdp_mid: Some("zz".into()),
                    sdp_m_line_index: None,
                }),
            )
            .unwrap();
        // The rogue's frames go out while it is polled; then it leaves.
        flush_for(&mut rogue, Duration::from_millis(300)).await;
        rogue.close().await;

        drive_until(&mut nodes, "a to report the bad signals", |n| {
            n[0].log.iter().filter(|l| l.starts_with("Error(")).count() >= 3
        })
        .await;
        drive_for(&mut nodes, Duration::from_millis(500)).await;
        for n in &nodes {
            assert_eq!(
                (n.connects, n.disconnects),
                (1, 0),
                "{}\n{}",
                n.name,
                logs(&nodes)
            );
        }
        exchange(&nodes, "after the garbage").await;
    });
}

#[test]
fn a_link_that_cannot_connect_times_out_with_an_error() {
    let server = server();
    run(async {
        let mut config = mesh_config();
        config.peer.failed_timeout = Duration::from_secs(2);
        let mut nodes = vec![Node::join("a", &server.url(), "stuck", config).await];
        let a_id = nodes[0].mesh.local_id();
        // A member that offers and then never answers anything.
        let mut rogue = SignalingClient::connect(&server.room_url("stuck"))
            .await
            .unwrap();
        let rogue_id = rogue.local_id().unwrap().to_string();
        let peer = unipeer::Peer::new(unipeer_tests::loopback()).unwrap();
        peer.create_data_channel("x", Default::default())
            .await
            .unwrap();
        let offer = peer.create_offer().await.unwrap();
        rogue
            .send(&a_id, &SignalPayload::Description(offer))
            .unwrap();
        flush_for(&mut rogue, Duration::from_millis(200)).await;
        drive_until(&mut nodes, "the link to time out", |n| {
            n[0].log
                .iter()
                .any(|l| l.contains("ConnectFailed") && l.contains(&rogue_id))
        })
        .await;
        assert_eq!(nodes[0].connects, 0);
        assert!(nodes[0].mesh.peers().is_empty());
        drop(peer);
    });
}

#[test]
fn joining_fails_with_errors_that_say_what_is_wrong() {
    run(async {
        // Nothing listens on this port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ws://127.0.0.1:{port}");
        match Mesh::join(&url, "r", mesh_config()).await {
            Err(Error::Signaling(m)) => assert!(m.contains("could not"), "{m}"),
            other => panic!("expected a signaling error, got {other:?}"),
        }
        assert!(matches!(
            Mesh::join("http://127.0.0.1:1", "r", mesh_config()).await,
            Err(Error::InvalidConfig(_))
        ));
        let bad = MeshConfig {
            channels: vec![("x".into(), Default::default()); 2000],
            ..mesh_config()
        };
        assert!(matches!(
            Mesh::join(&url, "r", bad).await,
            Err(Error::InvalidConfig(_))
        ));
    });

    // A server that wants tokens refuses a node without one, and takes a valid one.
    let secret = b"test secret".to_vec();
    let server = spawn_in_thread(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        secret: Some(secret.clone()),
        ..Default::default()
    })
    .unwrap();
    run(async {
        match Mesh::join(&server.url(), "private", mesh_config()).await {
            Err(Error::Signaling(m)) => assert!(m.contains("token"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let token = unipeer_server::mint_token_ttl(&secret, "private", Duration::from_secs(60));
        let config = MeshConfig {
            token: Some(token),
            ..mesh_config()
        };
        let mut nodes = vec![
            Node::join("a", &server.url(), "private", config.clone()).await,
            Node::join("b", &server.url(), "private", config).await,
        ];
        drive_until(&mut nodes, "two nodes with tokens to link", full_mesh).await;
    });
}

/// The mesh works under tokio (multi-threaded) as it does under `futures::executor`:
/// nodes run as tokio tasks, each polling its own mesh.
#[test]
fn nodes_run_as_tokio_tasks() {
    let server = server();
    let url = server.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for i in 0..3 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut mesh = Mesh::join(&url, "tokio", mesh_config()).await.unwrap();
                // Each node says hello to every peer that connects, and waits for two.
                let mut heard = 0;
                let mut readers = futures::stream::FuturesUnordered::new();
                while heard < 2 {
                    tokio::select! {
                        Some(event) = mesh.next_event() => {
                            if let unipeer::MeshEvent::PeerConnected { channels, .. } = event {
                                channels[0].send_text(format!("hello from {i}")).await.unwrap();
                                let ch = channels[0].clone();
                                readers.push(async move { ch.recv().await });
                            }
                        }
                        Some(message) = futures::StreamExt::next(&mut readers), if !readers.is_empty() => {
                            assert!(matches!(message, Some(Message::Text(t)) if t.starts_with("hello from")));
                            heard += 1;
                        }
                    }
                }
                // Keep serving the mesh briefly so the others finish too.
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while mesh.next_event().await.is_some() {}
                })
                .await;
                mesh.leave().await;
            }));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("a node finishes")
                .expect("a node does not panic");
        }
    });
}
