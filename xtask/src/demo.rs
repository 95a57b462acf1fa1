//! `cargo xtask demo [--headless] [--port PORT] [--room ROOM]`: the main demo.
//!
//! Builds the demo node natively and for the browser (examples/demo/), starts the signaling
//! server in this process, serves the web app on 127.0.0.1, starts a native node and prints
//! the URL to open: each browser tab that opens it is one more node of the mesh. The page
//! shows who is connected to whom, each link's RTT and bytes, a chat, the native node's
//! test video (tests/media/vp8.ivf, looped) and, after a click on its camera button, the
//! cameras of the other pages; lines typed here are chat messages from the native node.
//!
//! `--headless` also opens two headless Chromium nodes, the first sending its (fake)
//! camera, waits until the mesh is full (every pair connected and exchanging messages),
//! sends a chat line from the native node and waits for both browsers to show it, then
//! waits until both browsers decode the native node's video and the native node and the
//! second browser receive the first browser's camera; then it prints a summary and exits:
//! 0 on success, non-zero with the reason otherwise. It keeps every node on loopback
//! candidates.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::wasm::Mdns;
use crate::webapp::{self, link, query, short, Nodes, Signaling, WebServer};
use crate::{cmd, setup};

const USAGE: &str = "\
usage: cargo xtask demo [--headless] [--port PORT] [--room ROOM]

Starts the signaling server, serves the demo web app on http://127.0.0.1:PORT/ (default 8080)
and starts a native node; open the URL in a browser (several tabs: several nodes).
--headless: also run two headless Chromium nodes, check the full mesh and the chat, print a
summary and exit (0 when everything worked).";

/// How long the headless run may take once everything is built.
const HEADLESS_LIMIT: Duration = Duration::from_secs(120);
/// The video frames each receiver must get in the headless run (the clip runs at 30 fps).
const HEADLESS_FRAMES: u64 = 60;

pub fn run(args: &[String]) -> Result<()> {
    let (mut headless, mut port, mut room) = (false, 8080u16, "demo".to_string());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--headless" => headless = true,
            "--port" => port = it.next().context("--port needs a value")?.parse()?,
            "--room" => room = it.next().context("--room needs a value")?.clone(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument `{other}`\n\n{USAGE}"),
        }
    }

    let toolchain = setup::wasm()?;
    if headless {
        setup::apt_install(&["chromium"])?;
    }
    let bin = webapp::build_native()?;
    let web = webapp::build_web(toolchain)?;
    serve(&bin, &web, port, &room, headless)
}

/// Runs the demo from built programs: the native examples in `bin`, the page in `web`.
pub fn serve(bin: &Path, web: &Path, port: u16, room: &str, headless: bool) -> Result<()> {
    let signaling = Signaling::start()?;
    let mut nodes = Nodes::new(&cmd::root().join("target/xtask/demo"))?;
    let config = json!({"ws": signaling.url, "room": room});
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = match WebServer::start(web, addr, config.clone(), nodes.reporter()) {
        Ok(s) => s,
        Err(e) if headless || port != 8080 => return Err(e),
        Err(e) => {
            println!("xtask: {e:#}; using a free port instead");
            WebServer::start(web, "127.0.0.1:0".parse()?, config, nodes.reporter())?
        }
    };

    // The native node. Headless: loopback candidates only, like the browsers below.
    // Otherwise the node's default (every interface, plus loopback for a loopback server),
    // so that a browser that does not announce loopback candidates reaches it too.
    let mut native = Command::new(bin.join("demo"));
    native.args([
        "--url",
        &signaling.url,
        "--room",
        room,
        "--name",
        "native-1",
        "--video",
    ]);
    native.arg(cmd::root().join("tests/media/vp8.ivf"));
    if headless {
        native.args(["--loopback", "--report"]);
    }
    nodes.native("native-1", &mut native)?;

    if headless {
        return headless_run(&mut nodes, &server);
    }
    println!(
        "\nunipeer demo: signaling server {}, room `{room}`, native node `native-1`.\n\
         \n    open {}\n\n\
         Each browser tab that opens it is one more node. Type a line here to chat as \
         native-1; Ctrl-C stops everything.\n",
        signaling.url,
        server.url()
    );
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        nodes.pump(Duration::from_millis(200))?;
        while let Ok(line) = lines.try_recv() {
            nodes.say("native-1", &line)?;
        }
    }
}

fn headless_run(nodes: &mut Nodes, server: &WebServer) -> Result<()> {
    for (name, camera) in [("browser-1", "1"), ("browser-2", "0")] {
        let params = [
            ("name", name.to_string()),
            ("report", "1".to_string()),
            ("loopback", "1".to_string()),
            ("camera", camera.to_string()),
        ];
        nodes.chromium(
            name,
            Mdns::Off,
            &format!("{}?{}", server.url(), query(&params)),
        )?;
    }
    let names = ["native-1", "browser-1", "browser-2"];
    let ids = |n: &Nodes| -> Option<Vec<String>> {
        names
            .iter()
            .map(|name| n.states.get(*name)?["id"].as_str().map(str::to_string))
            .collect()
    };
    // The full mesh: every node verified its link to each other node and got a chat
    // message from it.
    let ids = nodes
        .wait_for(
            "the full mesh and a chat message between every pair",
            HEADLESS_LIMIT,
            |n| {
                let Some(ids) = ids(n) else { return Ok(None) };
                for (name, me) in names.iter().zip(&ids) {
                    for peer in ids.iter().filter(|p| *p != me) {
                        let ok = link(&n.states[*name], peer).is_some_and(|l| {
                            l["verified"] == json!(true) && l["chat_in"].as_u64().unwrap_or(0) > 0
                        });
                        if !ok {
                            return Ok(None);
                        }
                    }
                }
                Ok(Some(ids))
            },
        )
        .context("cargo xtask demo --headless")?;

    // A line typed for the native node reaches both browsers.
    let text = "hello browsers, this is native-1";
    nodes.say("native-1", text)?;
    nodes
        .wait_for(
            "the native node's chat line to reach both browsers",
            Duration::from_secs(20),
            |n| {
                let seen = |name: &str| {
                    n.states[name]["chat"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|m| m["text"] == text))
                };
                Ok((seen("browser-1") && seen("browser-2")).then_some(()))
            },
        )
        .context("cargo xtask demo --headless")?;

    // Video: the native node's clip reaches both browsers, browser-1's camera reaches the
    // native node and browser-2.
    let flows = [
        ("native-1", "browser-1"),
        ("native-1", "browser-2"),
        ("browser-1", "native-1"),
        ("browser-1", "browser-2"),
    ];
    let id_of: std::collections::HashMap<&str, &String> = names.iter().copied().zip(&ids).collect();
    let frames = nodes
        .wait_for(
            &format!("{HEADLESS_FRAMES} video frames on every flow (native clip, browser camera)"),
            Duration::from_secs(60),
            |n| {
                let mut got = Vec::new();
                for (from, to) in flows {
                    let frames = video_frames_in(&n.states[to], id_of[from]);
                    if frames < HEADLESS_FRAMES {
                        return Ok(None);
                    }
                    got.push(frames);
                }
                Ok(Some(got))
            },
        )
        .context("cargo xtask demo --headless")?;

    println!(
        "\nunipeer demo (headless): full mesh of {} nodes",
        names.len()
    );
    for (name, id) in names.iter().zip(&ids) {
        let s = &nodes.states[*name];
        println!(
            "  {name:<10} {:<8} id {}",
            s["kind"].as_str().unwrap_or("?"),
            short(id)
        );
    }
    println!("  links (as each node measures them):");
    for (name, me) in names.iter().zip(&ids) {
        for (peer_name, peer) in names.iter().zip(&ids).filter(|(_, p)| *p != me) {
            let l = link(&nodes.states[*name], peer)
                .cloned()
                .unwrap_or(Value::Null);
            let rtt = l["rtt_ms"]
                .as_f64()
                .map_or("-".into(), |r| format!("{r:.2}"));
            println!(
                "    {name:<10} -> {peer_name:<10} RTT {rtt:>6} ms  sent {:>7} B  \
                 received {:>7} B  chat messages received {}",
                l["tx"], l["rx"], l["chat_in"]
            );
        }
    }
    println!("  chat line from the terminal reached browser-1 and browser-2: {text:?}");
    println!("  video (frames received when checked):");
    for ((from, to), frames) in flows.iter().zip(&frames) {
        let what = if *from == "native-1" {
            "test clip"
        } else {
            "camera"
        };
        println!("    {from:<10} -> {to:<10} {what:<9} {frames:>5} frames");
    }
    println!("xtask: demo --headless: ok");
    Ok(())
}

/// The video frames `state`'s node has received from `peer` (decoded, in a browser).
fn video_frames_in(state: &Value, peer: &str) -> u64 {
    state["media"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["dir"] == "in" && t["kind"] == "video" && t["peer"] == peer)
        .filter_map(|t| t["frames"].as_u64())
        .sum()
}
