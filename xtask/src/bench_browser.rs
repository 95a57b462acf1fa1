//! Browser benchmarks for `cargo xtask bench`: native <-> Chromium and Chromium <-> Chromium,
//! over the mesh (signaling server in this process, loopback candidates only).
//!
//! The nodes are the demo node (`examples/demo/`): natively the `demo` example, in Chromium
//! the demo page (the same code compiled to wasm32), each in a room of its own with one peer.
//! The *leader*, always a Chromium page, joins a room where its peer is already present and
//! measures:
//! - connect: from its `Mesh::join` call to the peer's `PeerConnected` (channel open), so
//!   both pairs are measured the same way (WebSocket, signaling, ICE, DTLS, SCTP); the
//!   median of 5 joins (the leader leaves and joins again), all samples kept alongside;
//! - pull: it asks the peer for 64 MiB in 16 KiB binary messages (reliable, ordered channel)
//!   and times from the request to the last byte;
//! - push: it sends 64 MiB in 16 KiB messages and times until the peer acknowledges the last
//!   byte.
//!
//! Keys: `connect_ms_native_chromium`, `native_to_chromium_mbs` (pull from the native node),
//! `chromium_to_native_mbs` (push to it), `connect_ms_chromium_chromium`,
//! `chromium_to_chromium_mbs` (pull from the other page), plus
//! `chromium_to_chromium_push_mbs` (the same pair, the leader sending). MB = 10^6 bytes.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

use crate::setup;
use crate::wasm::Mdns;
use crate::webapp::{self, query, Nodes, Signaling, WebServer};

const BYTES: usize = 64 << 20;
const MESSAGE: usize = 16 << 10;
/// Connect times are the median of this many joins (each a fresh signaling connection and
/// peer connection; the leader leaves and joins again in between).
const CONNECTS: usize = 5;
/// Bound for one measurement (page load, connect, 2 x 64 MiB).
const LIMIT: Duration = Duration::from_secs(180);

/// Builds what it needs, runs both pairs once and returns the `"browser"` object.
pub fn measure() -> Result<Value> {
    let toolchain = setup::wasm()?;
    setup::apt_install(&["chromium"])?;
    let bin = webapp::build_native()?;
    let web = webapp::build_web(toolchain)?;

    let signaling = Signaling::start()?;
    let mut nodes = Nodes::new(&crate::cmd::root().join("target/xtask/bench-browser"))?;
    nodes.verbose = false;
    let server = WebServer::start(
        &web,
        "127.0.0.1:0".parse()?,
        json!({"ws": signaling.url}),
        nodes.reporter(),
    )?;
    let page = |name: &str, room: &str, lead: bool| {
        let mut params = vec![
            ("name", name.to_string()),
            ("room", room.to_string()),
            ("report", "1".to_string()),
            ("loopback", "1".to_string()),
            ("tick_ms", "0".to_string()),
        ];
        if lead {
            params.push(("bench_bytes", BYTES.to_string()));
            params.push(("bench_size", MESSAGE.to_string()));
            params.push(("bench_connects", CONNECTS.to_string()));
        }
        format!("{}?{}", server.url(), query(&params))
    };
    let mut out = Map::new();

    // Native <-> Chromium.
    println!("browser bench: native <-> chromium");
    let mut native = std::process::Command::new(bin.join("demo"));
    native
        .args(["--url", &signaling.url, "--room", "bench-native"])
        .args(["--name", "native", "--loopback", "--no-tick", "--report"]);
    nodes.native("native", &mut native)?;
    joined(&mut nodes, "native")?;
    nodes.chromium("lead-1", Mdns::Off, &page("lead-1", "bench-native", true))?;
    let r = result(&mut nodes, "lead-1")?;
    out.insert("connect_ms_native_chromium".into(), r["connect_ms"].clone());
    out.insert(
        "connect_ms_native_chromium_samples".into(),
        r["connect_ms_samples"].clone(),
    );
    out.insert("native_to_chromium_mbs".into(), r["pull_mbs"].clone());
    out.insert("chromium_to_native_mbs".into(), r["push_mbs"].clone());
    nodes.kill("lead-1");
    nodes.kill("native");

    // Chromium <-> Chromium.
    println!("browser bench: chromium <-> chromium");
    nodes.chromium(
        "peer-2",
        Mdns::Off,
        &page("peer-2", "bench-chromium", false),
    )?;
    joined(&mut nodes, "peer-2")?;
    nodes.chromium("lead-2", Mdns::Off, &page("lead-2", "bench-chromium", true))?;
    let r = result(&mut nodes, "lead-2")?;
    out.insert(
        "connect_ms_chromium_chromium".into(),
        r["connect_ms"].clone(),
    );
    out.insert(
        "connect_ms_chromium_chromium_samples".into(),
        r["connect_ms_samples"].clone(),
    );
    out.insert("chromium_to_chromium_mbs".into(), r["pull_mbs"].clone());
    out.insert(
        "chromium_to_chromium_push_mbs".into(),
        r["push_mbs"].clone(),
    );
    out.insert("bytes".into(), json!(BYTES));
    out.insert("message_bytes".into(), json!(MESSAGE));
    println!("browser bench: {}", Value::Object(out.clone()));
    Ok(Value::Object(out))
}

/// Waits until node `name` reports that it joined its room.
fn joined(nodes: &mut Nodes, name: &str) -> Result<()> {
    nodes.wait_for(&format!("{name} to join"), Duration::from_secs(60), |n| {
        Ok(n.states
            .get(name)
            .filter(|s| s["joined"] == json!(true))
            .map(|_| ()))
    })
}

/// Waits for the leader's benchmark results.
fn result(nodes: &mut Nodes, leader: &str) -> Result<Value> {
    let r = nodes
        .wait_for(&format!("{leader}'s benchmark"), LIMIT, |n| {
            let Some(s) = n.states.get(leader) else {
                return Ok(None);
            };
            if let Some(e) = s["errors"].as_array().and_then(|e| e.first()) {
                bail!("{leader}: {e}");
            }
            Ok(s.get("bench").filter(|b| !b.is_null()).cloned())
        })
        .context("browser benchmark")?;
    println!("browser bench: {leader}: {r}");
    Ok(r)
}
