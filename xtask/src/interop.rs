//! `cargo xtask test interop`: the signaling server (in-process), native nodes (the `echo`
//! example and the native `demo` node) and headless Chromium nodes (the demo page, the
//! `demo` example compiled to wasm32) in one room, over real WebRTC.
//!
//! Each scenario runs in a network namespace of its own, re-executing this program there
//! (`xtask __interop SCENARIO`), so the server, the native nodes and Chromium share a
//! network that nothing else can reach:
//! - `mesh` (loopback only): two echo nodes, a native demo node and two browser nodes.
//!   Every pair connects and exchanges text and binary messages both ways (native<->browser,
//!   browser<->browser, native<->native); the two browsers join at the same instant; then one
//!   browser leaves and joins again, and every pair with it connects again.
//! - `mdns`: Chromium in its default configuration, which hides its host addresses behind
//!   mDNS `.local` names, in a namespace with a veth default route (wasm/README.md): an echo
//!   node, a native demo node (both with their default host candidates) and two browsers.
//! - `rpc` (loopback only): the `rpc` example natively and as a page in Chromium, in one
//!   room: each calls the other's functions (unary and stream) over the mesh and reports
//!   back what it got; both sides' lines are checked.
//!
//! How a pair is proven to work both ways: the demo node (native or browser) greets every
//! peer with a text message and pings it with a binary message that the peer sends back as it
//! came (the echo node sends back everything). A node that got a text from the peer (or its
//! own text back) and its own ping back has a `verified` link; the nodes report their state
//! (the pages by HTTP POST to this program, native nodes on stdout). Two echo nodes exchange
//! nothing; their pair is proven connected by their logs. Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cmd;
use crate::interop_media;
use crate::setup;
use crate::wasm::{self, Mdns};
use crate::web;
use crate::webapp::{self, link, query, short, Nodes, Signaling, WebServer};

/// (scenario, what it covers)
const SCENARIOS: &[(&str, &str)] = &[
    (
        "mesh",
        "5 nodes (2 echo, 1 native demo, 2 Chromium): every pair both ways, \
         simultaneous join, leave and rejoin",
    ),
    (
        "mdns",
        "Chromium's default mDNS .local candidates with echo and native demo nodes",
    ),
    (
        "rpc",
        "a native rpc node and the rpc page in Chromium call each other's functions",
    ),
    (
        "media-to-browser",
        "a native node streams a VP8 clip and an Opus clip; Chromium decodes them",
    ),
    (
        "media-from-browser",
        "Chromium sends its fake camera and microphone; a native node records them to \
         IVF and Ogg files that ffprobe reads",
    ),
    (
        "media-echo",
        "Chromium sends its camera to the media_echo node and decodes it coming back",
    ),
    (
        "demo",
        "`cargo xtask demo --headless`: the demo's mesh and chat, the native node's test \
         video decoded in two pages, one page's camera received by the others",
    ),
];

/// Scenario time limits (each also bounds every wait inside).
const SCENARIO_LIMIT: Duration = Duration::from_secs(240);

/// The `interop` part of `cargo xtask test`: builds, then runs every scenario.
pub fn run() -> Result<String> {
    let toolchain = setup::wasm()?;
    setup::apt_install(&["chromium", "iproute2"])?;
    let bin = webapp::build_native()?;
    let web = webapp::build_web(toolchain)?;
    let rpc_web = web::build(toolchain, "rpc")?;
    let media_web = web::build(toolchain, "media")?;
    setup::apt_install(&["ffmpeg"])?;
    let exe = std::env::current_exe().context("finding this program")?;

    let mut failed = Vec::new();
    let mut notes = Vec::new();
    for (scenario, about) in SCENARIOS {
        println!("\n---- interop {scenario}: {about} ----");
        let mut inner = Command::new(&exe);
        let page = match *scenario {
            "rpc" => &rpc_web,
            s if s.starts_with("media") => &media_web,
            _ => &web,
        };
        inner.args(["__interop", scenario]).arg(&bin).arg(page);
        let mut command = match *scenario {
            "mdns" => wasm::in_mdns_namespace(&inner),
            _ => in_loopback_namespace(&inner),
        };
        let started = Instant::now();
        let status = cmd::run_with_timeout(&mut command, SCENARIO_LIMIT + Duration::from_secs(30))?;
        let time = cmd::format_duration(started.elapsed());
        match status {
            Some(s) if s.success() => {
                println!("xtask: interop {scenario}: ok ({time})");
                notes.push(format!("{scenario} ok"));
            }
            Some(s) => {
                eprintln!("xtask: interop {scenario}: FAILED ({s}, {time})");
                failed.push(format!("{scenario} ({s})"));
            }
            None => {
                eprintln!("xtask: interop {scenario}: FAILED (killed after {time})");
                failed.push(format!("{scenario} (timed out)"));
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "interop scenarios failed: {} (node logs in target/xtask/interop/)",
            failed.join(", ")
        );
    }
    Ok(notes.join("; "))
}

/// `inner` in a new network namespace with loopback only.
fn in_loopback_namespace(inner: &Command) -> Command {
    let mut command = Command::new("unshare");
    command.args([
        "-n",
        "sh",
        "-c",
        "set -e; ip link set lo up; exec \"$@\"",
        "sh",
    ]);
    command.arg(inner.get_program()).args(inner.get_args());
    command
}

/// `xtask __interop SCENARIO BIN_DIR WEB_DIR`, inside the scenario's namespace.
pub fn scenario(args: &[String]) -> Result<()> {
    let [name, bin, web] = args else {
        bail!("usage: xtask __interop SCENARIO BIN_DIR WEB_DIR");
    };
    let (bin, web) = (PathBuf::from(bin), PathBuf::from(web));
    let logs = cmd::root().join("target/xtask/interop").join(name);
    let started = Instant::now();
    let result = match name.as_str() {
        "mesh" => mesh(&bin, &web, &logs),
        "mdns" => mdns(&bin, &web, &logs),
        "rpc" => rpc(&bin, &web, &logs),
        "media-to-browser" => interop_media::to_browser(&bin, &web, &logs),
        "media-from-browser" => interop_media::from_browser(&bin, &web, &logs),
        "media-echo" => interop_media::echo(&bin, &web, &logs),
        "demo" => crate::demo::serve(&bin, &web, 0, "demo", true).map(|()| String::new()),
        other => bail!("unknown interop scenario `{other}`"),
    };
    match &result {
        Ok(summary) => println!(
            "interop {name}: ok in {}\n{summary}",
            cmd::format_duration(started.elapsed())
        ),
        Err(e) => eprintln!(
            "interop {name}: FAILED: {e:#}\n(node logs in {})",
            logs.display()
        ),
    }
    result.map(|_| ())
}

/// What the scenarios share: the server, the page server and the nodes.
struct Run {
    signaling: Signaling,
    web: WebServer,
    nodes: Nodes,
    bin: PathBuf,
    room: String,
}

impl Run {
    fn start(bin: &Path, web: &Path, logs: &Path, room: &str) -> Result<Self> {
        let signaling = Signaling::start()?;
        println!("signaling server: {}", signaling.url);
        let nodes = Nodes::new(logs)?;
        let web = WebServer::start(
            web,
            "127.0.0.1:0".parse()?,
            json!({"ws": signaling.url, "room": room}),
            nodes.reporter(),
        )?;
        Ok(Self {
            signaling,
            web,
            nodes,
            bin: bin.to_path_buf(),
            room: room.to_string(),
        })
    }

    /// Starts an echo node and waits for its ready line; returns its peer id.
    fn echo(&mut self, name: &str, loopback: bool, wait: bool) -> Result<()> {
        let mut command = Command::new(self.bin.join("echo"));
        command.args(["--url", &self.signaling.url, "--room", &self.room]);
        if loopback {
            command.arg("--loopback");
        }
        self.nodes.native(name, &mut command)?;
        if wait {
            self.echo_id(name)?;
        }
        Ok(())
    }

    /// An echo node's peer id, from its ready line (waits for it).
    fn echo_id(&mut self, name: &str) -> Result<String> {
        self.nodes.wait_for(
            &format!("{name} to be ready"),
            Duration::from_secs(20),
            |n| {
                Ok(n.line_starting(name, "echo: ready").and_then(|l| {
                    l.split_whitespace()
                        .find_map(|w| w.strip_prefix("peer_id="))
                        .map(str::to_string)
                }))
            },
        )
    }

    /// Starts a native demo node that reports its state.
    fn native(&mut self, name: &str, loopback: bool, extra: &[&str]) -> Result<()> {
        let mut command = Command::new(self.bin.join("demo"));
        command
            .args(["--url", &self.signaling.url, "--room", &self.room])
            .args(["--name", name, "--report"])
            .args(extra);
        if loopback {
            command.arg("--loopback");
        }
        self.nodes.native(name, &mut command)
    }

    /// Opens the page in a headless Chromium as node `name`.
    fn browser(&mut self, name: &str, mdns: Mdns, params: &[(&str, String)]) -> Result<()> {
        let mut all = vec![("name", name.to_string()), ("report", "1".to_string())];
        all.extend(params.iter().cloned());
        let url = format!("{}?{}", self.web.url(), query(&all));
        self.nodes.chromium(name, mdns, &url)
    }

    /// A reporting node's current peer id (waits until it joined).
    fn id(&mut self, name: &str) -> Result<String> {
        self.nodes
            .wait_for(&format!("{name} to join"), Duration::from_secs(60), |n| {
                Ok(n.states
                    .get(name)
                    .filter(|s| s["joined"] == json!(true))
                    .and_then(|s| s["id"].as_str())
                    .map(str::to_string))
            })
    }

    /// Lines of a native node's stderr log.
    fn stderr(&self, name: &str) -> String {
        std::fs::read_to_string(self.nodes.logs().join(format!("{name}.stderr")))
            .unwrap_or_default()
    }
}

/// Whether `state` (a reporting node) has a verified link to every id in `peers`.
fn verified_all(state: &Value, peers: &[&str]) -> bool {
    peers
        .iter()
        .all(|p| link(state, p).is_some_and(|l| l["verified"] == json!(true)))
}

fn mesh(bin: &Path, web: &Path, logs: &Path) -> Result<String> {
    let deadline = Instant::now() + SCENARIO_LIMIT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut run = Run::start(bin, web, logs, "interop-mesh")?;

    // Native nodes: one echo node first, then a second echo node and the native demo node.
    run.echo("echo-1", true, true)?;
    run.echo("echo-2", true, false)?;
    run.native("native-1", true, &[])?;
    let echo1 = run.echo_id("echo-1")?;
    let echo2 = run.echo_id("echo-2")?;
    let native1 = run.id("native-1")?;

    // Two browsers that join at the same instant (their pages wait for `at`); browser-1
    // leaves and joins again once it has verified its four peers.
    let at = webapp::wall_ms() + 8000.0;
    let common = [("loopback", "1".to_string()), ("at", format!("{at:.0}"))];
    let mut b1 = common.to_vec();
    b1.push(("rejoin_after", "4".into()));
    run.browser("browser-1", Mdns::Off, &b1)?;
    run.browser("browser-2", Mdns::Off, &common)?;

    // Phase 1: the first membership of browser-1 verified all four peers, browser-2's too.
    let (b1_first, b2) = run.nodes.wait_for(
        "every pair to connect and exchange messages (before browser-1 rejoins)",
        left().min(Duration::from_secs(90)),
        |n| {
            let Some(b2) = n.states.get("browser-2").and_then(|s| s["id"].as_str()) else {
                return Ok(None);
            };
            let first = n.history.get("browser-1").into_iter().flatten().find(|s| {
                s["generation"] == json!(0)
                    && verified_all(s, &[echo1.as_str(), echo2.as_str(), native1.as_str(), b2])
            });
            Ok(first.map(|s| (s.clone(), b2.to_string())))
        },
    )?;
    let b1_old = b1_first["id"].as_str().unwrap_or("").to_string();
    let b2_first = run.nodes.history["browser-2"]
        .iter()
        .find(|s| s["generation"] == json!(0) && s["joined"] == json!(true))
        .cloned()
        .unwrap_or(Value::Null);
    let skew = (b1_first["joined_at_wall_ms"].as_f64().unwrap_or(0.0)
        - b2_first["joined_at_wall_ms"].as_f64().unwrap_or(f64::MAX))
    .abs();
    if skew > 100.0 {
        bail!(
            "the two browsers did not join at the same instant: {skew:.0} ms apart \
             (did a page take longer than the 8 s allowed to load?)"
        );
    }
    println!(
        "phase 1 ok: browser-1 ({}) verified every peer; the browsers joined {skew:.0} ms apart",
        short(&b1_old)
    );

    // Phase 2: browser-1 is back with a new id and every pair works again; nobody keeps a
    // link to its old id.
    let summary = run.nodes.wait_for(
        "the mesh to heal after browser-1 left and joined again",
        left().min(Duration::from_secs(90)),
        |n| {
            let s1 = &n.states["browser-1"];
            let Some(b1) = s1["id"].as_str().filter(|_| s1["generation"] == json!(1)) else {
                return Ok(None);
            };
            if b1 == b1_old || s1["joined"] != json!(true) {
                return Ok(None);
            }
            let everyone = [
                echo1.as_str(),
                echo2.as_str(),
                native1.as_str(),
                b2.as_str(),
                b1,
            ];
            let others = |me: &str| {
                everyone
                    .iter()
                    .copied()
                    .filter(|p| *p != me)
                    .collect::<Vec<_>>()
            };
            for (name, id) in [
                ("browser-1", b1),
                ("browser-2", b2.as_str()),
                ("native-1", native1.as_str()),
            ] {
                let state = &n.states[name];
                if !verified_all(state, &others(id)) || link(state, &b1_old).is_some() {
                    return Ok(None);
                }
            }
            Ok(Some(everyone.map(str::to_string)))
        },
    )?;
    let [e1, e2, n1, b2, b1] = summary;

    // The echo nodes' logs: connected to each other, to browser-1's new id, and saw the old
    // one go.
    let logs_ok = |run: &Run| {
        let (l1, l2) = (run.stderr("echo-1"), run.stderr("echo-2"));
        let echo_pair = l1.contains(&format!("connected to {e2}"))
            || l2.contains(&format!("connected to {e1}"));
        let rejoined = [&l1, &l2].iter().all(|l| {
            l.contains(&format!("connected to {b1}"))
                && (l.contains(&format!("disconnected from {b1_old}"))
                    || l.contains(&format!("{b1_old} left")))
        });
        echo_pair && rejoined
    };
    let limit = Instant::now() + Duration::from_secs(20);
    while !logs_ok(&run) {
        if Instant::now() > limit {
            bail!(
                "the echo nodes' logs do not show the echo pair connected, browser-1's new id \
                 ({}) connected and its old id ({}) gone:\n-- echo-1:\n{}\n-- echo-2:\n{}",
                short(&b1),
                short(&b1_old),
                run.stderr("echo-1"),
                run.stderr("echo-2")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let names = [
        ("echo-1", &e1),
        ("echo-2", &e2),
        ("native-1", &n1),
        ("browser-1", &b1),
        ("browser-2", &b2),
    ];
    Ok(pair_table(&run.nodes, &names))
}

fn mdns(bin: &Path, web: &Path, logs: &Path) -> Result<String> {
    let deadline = Instant::now() + SCENARIO_LIMIT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut run = Run::start(bin, web, logs, "interop-mdns")?;
    // Default host candidates: the namespace's veth address (and loopback, by the echo rule).
    run.echo("echo-1", false, true)?;
    run.native("native-1", false, &[])?;
    let echo1 = run.echo_id("echo-1")?;
    let native1 = run.id("native-1")?;
    let params = [("check_mdns", "1".to_string())];
    run.browser("browser-1", Mdns::On, &params)?;
    run.browser("browser-2", Mdns::On, &params)?;
    let (b1, b2) = run.nodes.wait_for(
        "every pair to connect and exchange messages with mDNS candidates",
        left().min(Duration::from_secs(120)),
        |n| {
            let id = |name: &str| {
                n.states
                    .get(name)
                    .and_then(|s| s["id"].as_str())
                    .map(str::to_string)
            };
            let (Some(b1), Some(b2)) = (id("browser-1"), id("browser-2")) else {
                return Ok(None);
            };
            let everyone = [echo1.as_str(), native1.as_str(), &b1, &b2];
            for (name, me) in [
                ("browser-1", b1.as_str()),
                ("browser-2", &b2),
                ("native-1", &native1),
            ] {
                let others: Vec<&str> = everyone.iter().copied().filter(|p| *p != me).collect();
                if !verified_all(&n.states[name], &others) {
                    return Ok(None);
                }
            }
            Ok(Some((b1, b2)))
        },
    )?;
    // The browsers really used mDNS names.
    for name in ["browser-1", "browser-2"] {
        let check = run.nodes.wait_for(
            &format!("{name}'s mDNS check"),
            Duration::from_secs(10),
            |n| Ok(n.line_starting(name, "mdns check").map(str::to_string)),
        )?;
        let count: u32 = check
            .split_whitespace()
            .nth(2)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if count == 0 {
            bail!("{name}: {check}: Chromium is not in its default mDNS configuration");
        }
        println!("{name}: {check}");
    }
    let names = [
        ("echo-1", &echo1),
        ("native-1", &native1),
        ("browser-1", &b1),
        ("browser-2", &b2),
    ];
    Ok(pair_table(&run.nodes, &names))
}

/// One line per pair: who proved it and the RTT it measured.
/// The `rpc` example natively and in a page: both call and serve, and report.
fn rpc(bin: &Path, page: &Path, logs: &Path) -> Result<String> {
    let signaling = Signaling::start()?;
    let mut nodes = Nodes::new(logs)?;
    let room = "interop-rpc";
    let mut native = Command::new(bin.join("rpc"));
    native.args(["--url", &signaling.url, "--room", room, "--loopback"]);
    nodes.native("native", &mut native)?;
    let native_id = nodes.wait_for("the native rpc node", Duration::from_secs(20), |n| {
        Ok(n.line_starting("native", "rpc: ready peer_id=")
            .and_then(|l| field(l, "peer_id=")))
    })?;

    // The page prints `done` once it called the native node and heard its report.
    let query = format!(
        "?{}",
        query(&[("url", signaling.url.clone()), ("room", room.into())])
    );
    let printed = web::check_in_chromium(page, &query)?;
    let page_id = printed
        .lines()
        .find(|l| l.starts_with("rpc: ready"))
        .and_then(|l| field(l, "peer_id="))
        .with_context(|| format!("the page printed no ready line:\n{printed}"))?;
    let answers = |id: &str, platform: &str| {
        format!("info = {id} on {platform}, add(2, 40) = 42, countdown(3) = [3, 2, 1]")
    };
    let page_called = format!("called {native_id}: {}", answers(&native_id, "native"));
    if !printed.lines().any(|l| l == page_called) {
        bail!("the page's calls to the native node went wrong; it printed:\n{printed}");
    }
    let native_called = format!("called {page_id}: {}", answers(&page_id, "browser"));
    let page_heard = format!(
        "served {native_id}: report: it got {}",
        answers(&page_id, "browser")
    );
    if !printed.lines().any(|l| l == page_heard) {
        bail!("the page heard no report of the native node's calls; it printed:\n{printed}");
    }
    nodes.wait_for("the native node's report", Duration::from_secs(20), |n| {
        let lines = n.lines.get("native").map(Vec::as_slice).unwrap_or_default();
        let served = lines
            .iter()
            .any(|l| l.starts_with(&format!("served {page_id}: report")));
        let called = lines.contains(&native_called);
        Ok((served && called).then_some(()))
    })?;
    Ok(format!(
        "page {} and native node {} called each other (unary and stream) and reported",
        short(&page_id),
        short(&native_id)
    ))
}

/// The value of `key` (`peer_id=`) in a line of `key=value` words.
pub(crate) fn field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .map(str::to_string)
}

fn pair_table(nodes: &Nodes, names: &[(&str, &String)]) -> String {
    let mut out = String::from("pairs (verified by, RTT):\n");
    for (i, (a, a_id)) in names.iter().enumerate() {
        for (b, b_id) in &names[i + 1..] {
            let from = |who: &str, peer: &str| {
                nodes
                    .states
                    .get(who)
                    .and_then(|s| link(s, peer))
                    .filter(|l| l["verified"] == json!(true))
                    .map(|l| format!("{who} ({} ms)", l["rtt_ms"]))
            };
            let proof = [from(a, b_id), from(b, a_id)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            let proof = if proof.is_empty() {
                "echo logs (connected)".to_string()
            } else {
                proof.join(", ")
            };
            out.push_str(&format!("  {a:<10} <-> {b:<10} {proof}\n"));
        }
    }
    out
}
