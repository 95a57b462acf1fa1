//! Media between a native program and a browser tab, through a room. One `main` for both
//! targets.
//!
//! Natively the node streams files or records what it gets:
//!
//! ```sh
//! cargo run --release -p unipeer-server -- --listen 127.0.0.1:8787      # the server
//! # stream a VP8 IVF file and an Ogg Opus file (looped) to every peer of the room:
//! cargo run --release --example media -- --url ws://127.0.0.1:8787 --room lobby \
//!     send --video tests/media/vp8.ivf --audio tests/media/opus.ogg
//! # record what peers send (VP8 to IVF, Opus to Ogg) into a directory:
//! cargo run --release --example media -- --url ws://127.0.0.1:8787 --room lobby \
//!     record --dir /tmp/recorded --frames 100
//! cargo xtask web media     # the page: http://127.0.0.1:8080/?url=...&room=lobby&mode=watch
//! ```
//!
//! The page (`examples/web/media.html`) either plays what peers send (`mode=watch`) or
//! sends the camera and microphone to every peer (`mode=camera`; `echo=1` also waits to
//! see them come back, from a `media_echo` node). It prints a line per result and `done`
//! once it saw `frames` video frames (default 50) decoded, or sent.
//!
//! Every node prints `media: ready peer_id=ID` once it has joined.

use futures::future::LocalBoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use unipeer::{Mesh, MeshConfig, MeshEvent, PeerConfig};
use unipeer_examples::print_line;

#[cfg(not(target_arch = "wasm32"))]
#[path = "media/native.rs"]
mod platform;
#[cfg(target_arch = "wasm32")]
#[path = "media/browser.rs"]
mod platform;

use platform::{Args, Mode};

fn main() {
    unipeer_examples::run(node());
}

/// A task for one peer: a result line, or why it failed.
type Task = LocalBoxFuture<'static, Result<String, String>>;

async fn node() -> Result<(), String> {
    let args = Args::get()?;
    let config = MeshConfig {
        peer: PeerConfig {
            host_candidates: args.host_candidates(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut mesh = Mesh::join(&args.url, &args.room, config)
        .await
        .map_err(|e| e.to_string())?;
    print_line(&format!("media: ready peer_id={}", mesh.local_id()));
    let mut mode = Mode::start(&args).await?;
    let mut tasks: FuturesUnordered<Task> = FuturesUnordered::new();
    loop {
        futures::select! {
            event = mesh.next_event().fuse() => match event {
                Some(MeshEvent::PeerConnected { peer_id, .. }) => {
                    if let Some(task) = mode.connected(&mesh, &peer_id).await? {
                        tasks.push(task);
                    }
                }
                Some(MeshEvent::Track { peer_id, track }) => {
                    if let Some(task) = mode.track(&peer_id, track) {
                        tasks.push(task);
                    }
                }
                Some(MeshEvent::Error(e)) => print_line(&format!("media: error: {e}")),
                Some(_) => {}
                None => return Ok(()),
            },
            result = tasks.select_next_some() => {
                match result {
                    Ok(line) => {
                        print_line(&line);
                        mode.note(&line);
                    }
                    Err(e) => print_line(&format!("media: failed: {e}")),
                }
                if mode.finished() {
                    print_line("done");
                    return Ok(());
                }
            }
        }
    }
}
