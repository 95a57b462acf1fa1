//! The echo node: joins a room and sends every message back to whoever sent it.
//!
//! ```sh
//! cargo run --release -p unipeer-server -- --listen 127.0.0.1:8000      # the server
//! cargo run --release --example echo -- --url ws://127.0.0.1:8000 --room ROOM
//! ```
//!
//! The node joins ROOM through the signaling server at `--url` with one mesh channel (id 0,
//! reliable, ordered) and connects to every member of the room, present and future. Each
//! message that arrives on that channel goes back to its sender on the same channel, as it
//! came: text stays text, binary stays binary, in order. Once it has joined, the node prints
//! one line to stdout (`echo: ready peer_id=ID room=ROOM url=URL`) and runs until killed;
//! what happens after that (peers connecting and leaving) is logged to stderr.
//!
//! Options:
//! - `--token T`: a room token, for a server that requires one.
//! - `--loopback`: offer host candidates on 127.0.0.1 only (peers on this machine).
//! - `--quiet`: no per-peer log lines on stderr.
//!
//! Which host candidates the node offers: by default those of every network interface, as
//! a user expects. When the server URL's host is a loopback address (`127.0.0.0/8`, `::1` or
//! `localhost`), 127.0.0.1 is offered too: the peers reach the server through loopback, so
//! they run on this machine, and that works even where loopback is the only interface.
//! `--loopback` offers 127.0.0.1 alone. (The rule is `unipeer_examples::host_candidates`,
//! shared with the `demo` node.)

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

// The echo node is a native program; in a wasm32 build of the examples it is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use futures::stream::{FuturesUnordered, StreamExt};
    use futures::FutureExt;
    use unipeer::{Mesh, MeshConfig, MeshEvent, PeerConfig};
    use unipeer_examples::{echo_channel, NodeArgs};

    const USAGE: &str = "\
usage: echo --url ws://HOST:PORT --room ROOM [--token TOKEN] [--loopback] [--quiet]

Joins ROOM and sends every message received on mesh channel 0 back to its sender.";

    pub fn main() {
        unipeer_examples::main_with("echo", USAGE, run)
    }

    async fn run(args: NodeArgs) -> unipeer::Result<()> {
        let config = MeshConfig {
            peer: PeerConfig {
                host_candidates: unipeer_examples::host_candidates(&args.url, args.loopback),
                ..Default::default()
            },
            // The default: one reliable, ordered channel (id 0).
            token: args.token.clone(),
            ..Default::default()
        };
        let mut mesh = Mesh::join(&args.url, &args.room, config).await?;
        println!(
            "echo: ready peer_id={} room={} url={}",
            mesh.local_id(),
            args.room,
            args.url
        );
        let log = |line: String| {
            if !args.quiet {
                eprintln!("echo: {line}");
            }
        };

        // One echo loop per connected peer, all driven here together with the mesh.
        let mut echoes = FuturesUnordered::new();
        loop {
            futures::select! {
                event = mesh.next_event().fuse() => match event {
                    Some(MeshEvent::PeerConnected { peer_id, channels }) => {
                        log(format!("connected to {peer_id}"));
                        if let Some(channel) = channels.into_iter().next() {
                            echoes.push(echo_channel(peer_id, channel));
                        }
                    }
                    Some(MeshEvent::PeerDisconnected { peer_id }) => {
                        log(format!("disconnected from {peer_id}"));
                    }
                    Some(MeshEvent::PeerJoined { peer_id }) => log(format!("{peer_id} joined")),
                    Some(MeshEvent::PeerLeft { peer_id }) => log(format!("{peer_id} left")),
                    Some(MeshEvent::SignalingLost { reason }) => {
                        log(format!("signaling lost ({reason}); reconnecting"));
                    }
                    Some(MeshEvent::SignalingRestored { peer_id }) => {
                        log(format!("signaling restored as {peer_id}"));
                    }
                    Some(MeshEvent::Error(e)) => log(format!("error: {e}")),
                    Some(_) => {}
                    None => return Ok(()),
                },
                (peer_id, echoed) = echoes.select_next_some() => {
                    log(format!("channel to {peer_id} closed after {echoed} messages"));
                }
            }
        }
    }
}
