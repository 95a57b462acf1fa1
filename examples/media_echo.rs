//! The media echo node: joins a room, echoes mesh channel 0 like the `echo` node, and sends
//! every audio or video track a peer sends it straight back to that peer.
//!
//! ```sh
//! cargo run --release -p unipeer-server -- --listen 127.0.0.1:8000      # the server
//! cargo run --release --example media_echo -- --url ws://127.0.0.1:8000 --room ROOM
//! ```
//!
//! For each track a peer adds, the node sends the same encoded frames back on a track of
//! the same kind and codec: on the very same track when the peer's track also receives
//! (a browser's `addTrack` is send-and-receive), else on a send-only track the node adds
//! to the link. A keyframe request from the peer is passed on to the peer's own sender
//! (the node has no encoder), so a browser that sends its camera sees it come back. Once
//! it has joined, the node prints one line to stdout (`media_echo: ready peer_id=ID
//! room=ROOM url=URL`) and runs until killed; the rest is logged to stderr. The options
//! are the `echo` node's (`--token`, `--loopback`, `--quiet`).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

// A native program; in a wasm32 build of the examples it is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use futures::stream::{FuturesUnordered, StreamExt};
    use futures::FutureExt;
    use unipeer::{
        Error, Mesh, MeshConfig, MeshEvent, PeerConfig, Track, TrackDirection, TrackInit,
    };
    use unipeer_examples::{echo_channel, NodeArgs};

    const USAGE: &str = "\
usage: media_echo --url ws://HOST:PORT --room ROOM [--token TOKEN] [--loopback] [--quiet]

Joins ROOM, sends every message received on mesh channel 0 back to its sender, and every
audio or video track a peer sends back to that peer.";

    pub fn main() {
        unipeer_examples::main_with("media_echo", USAGE, run)
    }

    async fn run(args: NodeArgs) -> unipeer::Result<()> {
        let config = MeshConfig {
            peer: PeerConfig {
                host_candidates: unipeer_examples::host_candidates(&args.url, args.loopback),
                ..Default::default()
            },
            token: args.token.clone(),
            ..Default::default()
        };
        let mut mesh = Mesh::join(&args.url, &args.room, config).await?;
        println!(
            "media_echo: ready peer_id={} room={} url={}",
            mesh.local_id(),
            args.room,
            args.url
        );
        let log = |line: String| {
            if !args.quiet {
                eprintln!("media_echo: {line}");
            }
        };

        let mut channels = FuturesUnordered::new();
        let mut tracks = FuturesUnordered::new();
        loop {
            futures::select! {
                event = mesh.next_event().fuse() => match event {
                    Some(MeshEvent::PeerConnected { peer_id, channels: list }) => {
                        log(format!("connected to {peer_id}"));
                        if let Some(channel) = list.into_iter().next() {
                            channels.push(echo_channel(peer_id, channel));
                        }
                    }
                    Some(MeshEvent::Track { peer_id, track }) => {
                        log(format!("{peer_id} sends a {} track", track.kind().as_str()));
                        match back_track(&mesh, &peer_id, &track).await {
                            Ok(back) => tracks.push(echo_track(peer_id, track, back)),
                            Err(e) => log(format!("cannot send {peer_id}'s track back: {e}")),
                        }
                    }
                    Some(MeshEvent::PeerDisconnected { peer_id }) => {
                        log(format!("disconnected from {peer_id}"));
                    }
                    Some(MeshEvent::Error(e)) => log(format!("error: {e}")),
                    Some(_) => {}
                    None => return Ok(()),
                },
                (peer_id, echoed) = channels.select_next_some() => {
                    log(format!("channel to {peer_id} closed after {echoed} messages"));
                }
                (peer_id, echoed) = tracks.select_next_some() => {
                    log(format!("a track of {peer_id} ended after {echoed} frames"));
                }
            }
        }
    }

    /// The track that carries `track`'s frames back: itself when it can send, else a new
    /// send-only track of the same kind and codec on the same link.
    async fn back_track(mesh: &Mesh, peer_id: &str, track: &Track) -> unipeer::Result<Track> {
        if track.direction().sends() {
            return Ok(track.clone());
        }
        let init = TrackInit {
            codecs: track.send_codec().into_iter().collect(),
            ..TrackInit::new(track.kind(), TrackDirection::SendOnly)
        };
        mesh.add_track(peer_id, init).await
    }

    /// Writes every frame of `from` to `to` with its codec and timing, and passes keyframe
    /// requests for `to` on to `from`'s sender. Returns the number of frames echoed.
    async fn echo_track(peer_id: String, from: Track, to: Track) -> (String, u64) {
        let mut echoed = 0;
        // Frames written before `to` is negotiated are lost, and a video decoder cannot
        // start in the middle: after a gap, wait for (and ask for) a keyframe.
        let mut need_keyframe = false;
        loop {
            futures::select! {
                frame = from.next_frame().fuse() => {
                    let Some(frame) = frame else { break };
                    if need_keyframe && !frame.keyframe {
                        continue;
                    }
                    match to.write_frame_with(frame.codec, frame.data, frame.timestamp).await {
                        Ok(()) => {
                            echoed += 1;
                            need_keyframe = false;
                        }
                        Err(Error::TrackNotReady(_)) => {
                            if !need_keyframe {
                                need_keyframe = true;
                                let _ = from.request_keyframe().await;
                            }
                        }
                        Err(Error::TrackEnded | Error::PeerClosed) => break,
                        Err(_) => {}
                    }
                }
                request = to.next_keyframe_request().fuse() => {
                    if request.is_none() {
                        break;
                    }
                    let _ = from.request_keyframe().await;
                }
            }
        }
        (peer_id, echoed)
    }
}
