//! RPC between any two nodes of a room: a native program and a browser tab call each
//! other's functions. One `main` for both targets.
//!
//! Every node joins ROOM, serves four methods on each link (`info`, `add`, the stream
//! `countdown`, and `report`, where a caller says what it got) and calls them on every peer
//! it connects to, printing what it got:
//!
//! ```sh
//! cargo run --release -p unipeer-server -- --listen 127.0.0.1:8787      # the server
//! cargo run --release --example rpc -- --url ws://127.0.0.1:8787 --room lobby
//! cargo xtask web rpc     # the page on http://127.0.0.1:8080/?url=ws://127.0.0.1:8787&room=lobby
//! ```
//!
//! Natively `--loopback` offers 127.0.0.1 only; the node runs until killed. The page takes
//! `url` and `room` from its address and prints `done` once it has called a peer and that
//! peer reported back on its calls to the page.

use std::collections::HashSet;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use unipeer::rpc::{Rpc, RpcConfig, RpcError};
use unipeer::{Mesh, MeshConfig, MeshEvent};
use unipeer_examples::{print_line, run};

/// What `info` returns.
#[derive(Debug, Serialize, Deserialize)]
struct Info {
    platform: String,
    peer_id: String,
}

fn main() {
    run(node());
}

async fn node() -> Result<(), String> {
    let args = Args::get()?;
    let config = MeshConfig {
        peer: peer_config(&args),
        ..Default::default()
    };
    let mut mesh = Mesh::join(&args.url, &args.room, config)
        .await
        .map_err(|e| e.to_string())?;
    let me = mesh.local_id();
    print_line(&format!("rpc: ready peer_id={me} platform={PLATFORM}"));

    // Everything runs here: the mesh, each link's RPC driver, the calls we make, and the
    // notes handlers send when they serve a call.
    let mut drivers = FuturesUnordered::new();
    let mut calls = FuturesUnordered::new();
    let (served_tx, mut served) = futures::channel::mpsc::unbounded::<(String, String)>();
    let (mut called_peers, mut served_peers) = (HashSet::new(), HashSet::new());
    loop {
        futures::select! {
            event = mesh.next_event().fuse() => match event {
                Some(MeshEvent::PeerConnected { peer_id, channels }) => {
                    let Some(channel) = channels.into_iter().next() else { continue };
                    let (rpc, driver) = Rpc::new(channel, RpcConfig::default())
                        .map_err(|e| e.to_string())?;
                    serve(&rpc, &me, &peer_id, &served_tx);
                    drivers.push(driver);
                    calls.push(call(rpc, peer_id));
                }
                Some(MeshEvent::PeerDisconnected { peer_id }) => {
                    print_line(&format!("rpc: {peer_id} left"));
                }
                Some(_) => {}
                None => return Ok(()),
            },
            () = drivers.select_next_some() => {}
            (peer, result) = calls.select_next_some() => match result {
                Ok(line) => {
                    print_line(&format!("called {peer}: {line}"));
                    called_peers.insert(peer);
                }
                Err(e) => print_line(&format!("call to {peer} failed: {e}")),
            },
            (peer, note) = served.select_next_some() => {
                print_line(&format!("served {peer}: {note}"));
                if note.starts_with("report") {
                    served_peers.insert(peer);
                }
            }
        }
        // In the page: finished once a peer answered our calls and reported on its own.
        if cfg!(target_arch = "wasm32") && called_peers.intersection(&served_peers).next().is_some()
        {
            print_line("done");
            return Ok(());
        }
    }
}

/// Registers this node's methods on the link to `peer`.
fn serve(
    rpc: &Rpc,
    me: &str,
    peer: &str,
    served: &futures::channel::mpsc::UnboundedSender<(String, String)>,
) {
    let note = {
        let (served, peer) = (served.clone(), peer.to_string());
        move |what: String| {
            let _ = served.unbounded_send((peer.clone(), what));
        }
    };
    let (n, me) = (note.clone(), me.to_string());
    rpc.register("info", move |(): ()| {
        n("info".into());
        let info = Info {
            platform: PLATFORM.into(),
            peer_id: me.clone(),
        };
        async move { Ok(info) }
    });
    let n = note.clone();
    rpc.register("add", move |(a, b): (i64, i64)| {
        n("add".into());
        async move {
            a.checked_add(b)
                .ok_or_else(|| RpcError::with_code(1, "the sum overflows"))
        }
    });
    let n = note.clone();
    rpc.register_stream("countdown", move |from: u32| {
        n("countdown".into());
        async move {
            Ok(futures::stream::iter(
                (1..=from).rev().map(Ok::<u32, RpcError>),
            ))
        }
    });
    rpc.register("report", move |line: String| {
        note(format!("report: it got {line}"));
        async { Ok(()) }
    });
}

/// Calls the peer's methods, then reports to it what came back; one line describing the
/// answers.
async fn call(rpc: Rpc, peer: String) -> (String, Result<String, RpcError>) {
    let result = async {
        let info: Info = rpc.call("info", &()).await?;
        let sum: i64 = rpc.call("add", &(2i64, 40i64)).await?;
        let mut countdown = rpc.call_stream::<_, u32>("countdown", &3u32).await?;
        let mut counted = Vec::new();
        while let Some(n) = countdown.next().await {
            counted.push(n?);
        }
        let line = format!(
            "info = {} on {}, add(2, 40) = {sum}, countdown(3) = {counted:?}",
            info.peer_id, info.platform
        );
        rpc.call::<_, ()>("report", &line).await?;
        Ok(line)
    }
    .await;
    (peer, result)
}

struct Args {
    url: String,
    room: String,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    loopback: bool,
}

#[cfg(not(target_arch = "wasm32"))]
const PLATFORM: &str = "native";
#[cfg(target_arch = "wasm32")]
const PLATFORM: &str = "browser";

#[cfg(not(target_arch = "wasm32"))]
impl Args {
    /// `--url URL --room ROOM [--loopback]`.
    fn get() -> Result<Self, String> {
        let (mut url, mut room, mut loopback) = (None, None, false);
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--url" => url = it.next(),
                "--room" => room = it.next(),
                "--loopback" => loopback = true,
                other => return Err(format!("unknown argument `{other}`; usage: rpc --url ws://HOST:PORT --room ROOM [--loopback]")),
            }
        }
        Ok(Self {
            url: url.ok_or("--url is required")?,
            room: room.ok_or("--room is required")?,
            loopback,
        })
    }
}

#[cfg(target_arch = "wasm32")]
impl Args {
    /// `?url=URL&room=ROOM` in the page's address (read by the page, examples/web/rpc.html).
    fn get() -> Result<Self, String> {
        use unipeer_examples::page_arg;
        let (url, room) = (page_arg("url"), page_arg("room"));
        if url.is_empty() || room.is_empty() {
            return Err("open the page with ?url=ws://HOST:PORT&room=ROOM".into());
        }
        Ok(Self {
            url,
            room,
            loopback: false,
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn peer_config(args: &Args) -> unipeer::PeerConfig {
    unipeer::PeerConfig {
        host_candidates: unipeer_examples::host_candidates(&args.url, args.loopback),
        ..Default::default()
    }
}

/// The browser gathers its own candidates.
#[cfg(target_arch = "wasm32")]
fn peer_config(_: &Args) -> unipeer::PeerConfig {
    unipeer::PeerConfig::default()
}
