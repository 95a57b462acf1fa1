//! Helpers for mesh tests, written against the `unipeer` API only (so they run natively
//! and in the browser): nodes that record what their mesh reports, a driver that polls
//! several meshes at once, and a message exchange between every pair.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::{select, select_all, Either};
use unipeer::{DataChannel, Mesh, MeshConfig, MeshEvent, Message, ReconnectPolicy};

use crate::{loopback, within, STEP};

/// The bound on waiting for a mesh to reach a state.
pub const MESH_LIMIT: Duration = Duration::from_secs(30);

/// A mesh configuration for tests: loopback candidates, two channels (0 reliable and
/// ordered, 1 unordered and unreliable), fast signaling reconnects.
pub fn mesh_config() -> MeshConfig {
    MeshConfig {
        peer: loopback(),
        channels: vec![
            ("chat".into(), unipeer::DataChannelInit::default()),
            (
                "state".into(),
                unipeer::DataChannelInit {
                    ordered: false,
                    max_retransmits: Some(0),
                    ..Default::default()
                },
            ),
        ],
        reconnect: ReconnectPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
        ..Default::default()
    }
}

/// A mesh member and what its mesh reported.
pub struct Node {
    /// A name for messages.
    pub name: String,
    /// The mesh.
    pub mesh: Mesh,
    /// Connected links: peer id -> channels.
    pub links: HashMap<String, Vec<DataChannel>>,
    /// Tracks the other nodes added, with the id of the node that added each.
    pub tracks: Vec<(String, unipeer::Track)>,
    /// Every event, in order, as text (shown when a wait fails).
    pub log: Vec<String>,
    /// `PeerConnected` events so far.
    pub connects: usize,
    /// `PeerDisconnected` events so far.
    pub disconnects: usize,
    /// `SignalingLost` events so far.
    pub lost: usize,
    /// `SignalingRestored` events so far.
    pub restored: usize,
    /// `PeerLeft` ids so far.
    pub left: Vec<String>,
    /// `PeerJoined` ids so far.
    pub joined: Vec<String>,
    /// Every signaling id this node had, first to last.
    pub ids: Vec<String>,
}

impl Node {
    /// Joins `room` at `url` with `config`.
    pub async fn join(name: &str, url: &str, room: &str, config: MeshConfig) -> Node {
        let mesh = within(STEP, "joining", Mesh::join(url, room, config))
            .await
            .unwrap_or_else(|e| panic!("{name} could not join: {e}"));
        Node::new(name, mesh)
    }

    /// Wraps a mesh that already joined.
    pub fn new(name: &str, mesh: Mesh) -> Node {
        Node {
            name: name.to_string(),
            log: vec![format!("joined as {}", mesh.local_id())],
            ids: vec![mesh.local_id()],
            mesh,
            links: HashMap::new(),
            tracks: Vec::new(),
            connects: 0,
            disconnects: 0,
            lost: 0,
            restored: 0,
            left: Vec::new(),
            joined: Vec::new(),
        }
    }

    /// Records an event.
    pub fn record(&mut self, event: MeshEvent) {
        self.log.push(format!("{event:?}"));
        match event {
            MeshEvent::PeerConnected { peer_id, channels } => {
                self.connects += 1;
                self.links.insert(peer_id, channels);
            }
            MeshEvent::PeerDisconnected { peer_id } => {
                self.disconnects += 1;
                self.links.remove(&peer_id);
            }
            MeshEvent::SignalingLost { .. } => self.lost += 1,
            MeshEvent::SignalingRestored { peer_id } => {
                self.restored += 1;
                self.ids.push(peer_id);
            }
            MeshEvent::PeerLeft { peer_id } => self.left.push(peer_id),
            MeshEvent::Track { peer_id, track } => self.tracks.push((peer_id, track)),
            MeshEvent::PeerJoined { peer_id } => self.joined.push(peer_id),
            _ => {}
        }
    }
}

/// The logs of every node, for failure messages.
pub fn logs(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| {
            format!(
                "--- {} ({})\n{}",
                n.name,
                n.mesh.local_id(),
                n.log.join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls every node's mesh (all at once, as an application would) until `done` holds;
/// panics with every node's log after [`MESH_LIMIT`].
pub async fn drive_until(nodes: &mut [Node], what: &str, done: impl Fn(&[Node]) -> bool) {
    if !drive(nodes, MESH_LIMIT, &done).await {
        panic!("timed out waiting for {what}\n{}", logs(nodes));
    }
}

/// Polls every node's mesh for `duration` (to see that nothing unexpected happens).
pub async fn drive_for(nodes: &mut [Node], duration: Duration) {
    drive(nodes, duration, &|_: &[Node]| false).await;
}

async fn drive(nodes: &mut [Node], limit: Duration, done: &dyn Fn(&[Node]) -> bool) -> bool {
    let deadline = futures_timer::Delay::new(limit);
    futures::pin_mut!(deadline);
    loop {
        if done(nodes) {
            return true;
        }
        // Every mesh's `next_event` at once; the ones that lose are dropped, which the
        // mesh must tolerate (its state lives in the mesh, not in the future).
        let next = {
            let polls = nodes
                .iter_mut()
                .map(|n| Box::pin(n.mesh.next_event()))
                .collect::<Vec<_>>();
            match select(select_all(polls), deadline.as_mut()).await {
                Either::Left(((event, index, _rest), _)) => Some((event, index)),
                Either::Right(_) => None,
            }
        };
        let Some((event, index)) = next else {
            return done(nodes);
        };
        match event {
            Some(event) => nodes[index].record(event),
            None => panic!("{}'s mesh ended\n{}", nodes[index].name, logs(nodes)),
        }
    }
}

/// Whether every node has a connected link to every other node.
pub fn full_mesh(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| {
        n.links.len() == nodes.len() - 1
            && nodes
                .iter()
                .filter(|m| !std::ptr::eq(*m, n))
                .all(|m| key_of(n, m).is_some())
    })
}

/// The id under which `from` knows `to`: the link key, which was one of `to`'s
/// signaling ids when the link formed.
pub fn key_of(from: &Node, to: &Node) -> Option<String> {
    from.links.keys().find(|k| to.ids.contains(k)).cloned()
}

/// Every node sends to every other through `Mesh::send`, text on channel 0 and binary on
/// channel 1 (unreliable, but on loopback it arrives), and each message arrives on the
/// receiver's channel for the sender, intact and with its kind.
pub async fn exchange(nodes: &[Node], tag: &str) {
    for (i, from) in nodes.iter().enumerate() {
        for (j, to) in nodes.iter().enumerate() {
            if i == j {
                continue;
            }
            let to_key = key_of(from, to).unwrap_or_else(|| {
                panic!("{} has no link to {}\n{}", from.name, to.name, logs(nodes))
            });
            let from_key = key_of(to, from)
                .unwrap_or_else(|| panic!("{} has no link to {}", to.name, from.name));
            let text = format!("{tag}: {} -> {}", from.name, to.name);
            from.mesh
                .send(&to_key, 0, Message::Text(text.clone()))
                .await
                .expect("send text");
            let bytes = text.clone().into_bytes();
            from.mesh
                .send(&to_key, 1, Message::Binary(bytes.clone()))
                .await
                .expect("send binary");
            let channels = &to.links[&from_key];
            assert_eq!(
                within(STEP, "a text message", channels[0].recv()).await,
                Some(Message::Text(text))
            );
            assert_eq!(
                within(STEP, "a binary message", channels[1].recv()).await,
                Some(Message::Binary(bytes))
            );
        }
    }
}
