//! The demo web app (example `demo` of unipeer-examples, compiled to wasm32, with its page
//! `examples/demo/web/index.html`), the processes around it, and what they report.
//!
//! - [`build_native`] / [`build_web`]: the native `echo` and `demo` nodes, and the page in
//!   `target/demo-web/` (`wasm-bindgen --target web`).
//! - [`WebServer`]: serves that directory on 127.0.0.1 with a generated `config.json`
//!   (signaling URL, room) and takes `POST /report` from pages opened with `report=1`: each
//!   page posts its log lines and its state (JSON, see examples/demo/node.rs).
//! - [`Nodes`]: native nodes and headless Chromium pages as child processes that are killed
//!   when it is dropped, with their output in log files, and the reports of every node
//!   (native nodes print `state: {json}` lines with `--report`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cmd;
use crate::wasm::{self, Mdns, Toolchain};
use crate::web::{artifact, static_file, write_response};

const PACKAGE: &str = "unipeer-examples";
const EXAMPLE: &str = "demo";

/// Builds the native `echo`, `demo` and `rpc` nodes (release) and returns the directory
/// holding them (`target/release/examples`).
pub fn build_native() -> Result<PathBuf> {
    cmd::run(Command::new("cargo").args([
        "build",
        "--release",
        "-p",
        PACKAGE,
        "--example",
        "echo",
        "--example",
        EXAMPLE,
        "--example",
        "rpc",
        "--example",
        "media",
        "--example",
        "media_echo",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cmd::root().join("target"));
    Ok(target.join("release").join("examples"))
}

/// Builds the page into `target/demo-web/` (index.html, demo.js, demo_bg.wasm) and
/// returns that directory.
pub fn build_web(toolchain: Toolchain) -> Result<PathBuf> {
    let mut build = wasm::cargo(toolchain, "build");
    build.args([
        "-p",
        PACKAGE,
        "--example",
        EXAMPLE,
        "--release",
        "--message-format=json-render-diagnostics",
    ]);
    let module = artifact(&mut build, EXAMPLE, ".wasm")?;
    let out = cmd::root().join("target").join("demo-web");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let bindgen = cmd::cargo_bin("wasm-bindgen")
        .context("wasm-bindgen is not installed: run `cargo xtask setup wasm`")?;
    cmd::run(
        Command::new(bindgen)
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&out)
            .arg(&module),
    )?;
    let page = cmd::root().join("examples/demo/web/index.html");
    std::fs::copy(&page, out.join("index.html"))
        .with_context(|| format!("copying {}", page.display()))?;
    Ok(out)
}

/// What a node reported.
#[derive(Debug, Clone)]
pub enum Report {
    /// A log line.
    Line { name: String, line: String },
    /// The node's whole state (see examples/demo/node.rs `Node::state`).
    State { name: String, state: Value },
    /// A native node's process ended.
    Exited { name: String, status: String },
}

/// Serves the page and takes reports, on 127.0.0.1, until dropped.
pub struct WebServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl WebServer {
    /// Serves `dir` on `addr` (loopback only; port 0 picks a free one). `config` is served
    /// as `/config.json`; reports go to `reports`.
    pub fn start(
        dir: &Path,
        addr: SocketAddr,
        config: Value,
        reports: Sender<Report>,
    ) -> Result<Self> {
        if !addr.ip().is_loopback() {
            bail!("the demo is served on loopback only, not {addr}");
        }
        let listener = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (dir, stopped) = (dir.to_path_buf(), stop.clone());
        let config = Arc::new(config.to_string());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (dir, config, reports) = (dir.clone(), config.clone(), reports.clone());
                        std::thread::spawn(move || {
                            let _ = respond(stream, &dir, &config, &reports);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Ok(Self { addr, stop })
    }

    /// `http://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One HTTP/1.1 request: GET a file of `dir` or `/config.json`, or POST `/report`.
fn respond(stream: TcpStream, dir: &Path, config: &str, reports: &Sender<Report>) -> Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("");
    let path = words.next().unwrap_or("/");
    let path = path.split('?').next().unwrap_or("/");
    let (status, kind, body): (&str, &str, Vec<u8>) = match (method, path) {
        ("POST", "/report") => {
            let mut body = vec![0; length.min(16 << 20)];
            reader.read_exact(&mut body)?;
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                let name = v["name"].as_str().unwrap_or("?").to_string();
                let report = match (v.get("line"), v.get("state")) {
                    (Some(line), _) => Report::Line {
                        name,
                        line: line.as_str().unwrap_or("").to_string(),
                    },
                    (None, Some(state)) => Report::State {
                        name,
                        state: state.clone(),
                    },
                    _ => return Ok(()),
                };
                let _ = reports.send(report);
            }
            ("204 No Content", "text/plain", Vec::new())
        }
        ("GET", "/config.json") => ("200 OK", "application/json", config.as_bytes().to_vec()),
        ("GET", path) => static_file(dir, path)?,
        _ => ("405 Method Not Allowed", "text/plain", Vec::new()),
    };
    let mut stream = stream;
    write_response(&mut stream, status, kind, &body)
}

/// The nodes of a run: child processes (killed on drop) and what they report.
pub struct Nodes {
    children: Vec<(String, Child)>,
    reports_tx: Sender<Report>,
    reports: Receiver<Report>,
    /// Every node's latest state, by name.
    pub states: BTreeMap<String, Value>,
    /// Every state every node reported, by name, oldest first.
    pub history: BTreeMap<String, Vec<Value>>,
    /// Every node's log lines, by name.
    pub lines: BTreeMap<String, Vec<String>>,
    logs: PathBuf,
    /// Print what nodes log as it comes.
    pub verbose: bool,
}

impl Nodes {
    /// `logs`: the directory for the nodes' output files (emptied first).
    pub fn new(logs: &Path) -> Result<Self> {
        let _ = std::fs::remove_dir_all(logs);
        std::fs::create_dir_all(logs).with_context(|| format!("creating {}", logs.display()))?;
        let (reports_tx, reports) = mpsc::channel();
        Ok(Self {
            children: Vec::new(),
            reports_tx,
            reports,
            states: BTreeMap::new(),
            history: BTreeMap::new(),
            lines: BTreeMap::new(),
            logs: logs.to_path_buf(),
            verbose: true,
        })
    }

    /// Where pages and native nodes send their reports.
    pub fn reporter(&self) -> Sender<Report> {
        self.reports_tx.clone()
    }

    /// The directory of the nodes' output files.
    pub fn logs(&self) -> &Path {
        &self.logs
    }

    /// Starts a native node: stdout lines are its log (`state: {json}` lines its state),
    /// stderr goes to `logs/NAME.stderr`.
    pub fn native(&mut self, name: &str, command: &mut Command) -> Result<()> {
        let stderr = std::fs::File::create(self.logs.join(format!("{name}.stderr")))?;
        println!("$ {}", cmd::display(command));
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, who) = (self.reports_tx.clone(), name.to_string());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let report = match line.strip_prefix("state: ") {
                    Some(json) => match serde_json::from_str(json) {
                        Ok(state) => Report::State {
                            name: who.clone(),
                            state,
                        },
                        Err(_) => continue,
                    },
                    None => Report::Line {
                        name: who.clone(),
                        line,
                    },
                };
                if tx.send(report).is_err() {
                    break;
                }
            }
            let _ = tx.send(Report::Exited {
                name: who,
                status: "stdout closed".into(),
            });
        });
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// Writes a line to a native node's stdin (the demo node sends it as a chat message).
    pub fn say(&mut self, name: &str, line: &str) -> Result<()> {
        let child = self
            .children
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .with_context(|| format!("no node {name}"))?;
        let stdin = child.stdin.as_mut().context("stdin closed")?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Opens `url` in a headless Chromium of its own (fresh profile), its output in
    /// `logs/NAME.chromium.log`.
    pub fn chromium(&mut self, name: &str, mdns: Mdns, url: &str) -> Result<()> {
        let profile = self.logs.join(format!("{name}.profile"));
        let log = std::fs::File::create(self.logs.join(format!("{name}.chromium.log")))?;
        let mut command = Command::new("chromium");
        command
            .args(wasm::chromium_args(mdns, Some(&profile)))
            // The page's console in the log file.
            .args(["--enable-logging=stderr", "--v=0"])
            .arg(url);
        println!("$ {}", cmd::display(&command));
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting chromium")?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// Stops one node (kills its process).
    pub fn kill(&mut self, name: &str) {
        for (_, child) in self.children.iter_mut().filter(|(n, _)| n == name) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.retain(|(n, _)| n != name);
    }

    /// Waits up to `wait` for reports and records them (printing lines when verbose).
    pub fn pump(&mut self, wait: Duration) -> Result<()> {
        self.drain(wait).map(|_| ())
    }

    /// Takes the reports that arrived, recording them; true if any did.
    fn drain(&mut self, wait: Duration) -> Result<bool> {
        let mut got = false;
        let mut next = self.reports.recv_timeout(wait).ok();
        while let Some(report) = next {
            got = true;
            match report {
                Report::Line { name, line } => {
                    if self.verbose {
                        println!("  [{name}] {line}");
                    }
                    self.lines.entry(name).or_default().push(line);
                }
                Report::State { name, state } => {
                    self.history
                        .entry(name.clone())
                        .or_default()
                        .push(state.clone());
                    self.states.insert(name, state);
                }
                Report::Exited { name, status } => {
                    if self.children.iter().any(|(n, _)| *n == name) {
                        bail!("{name} exited ({status}); see {}", self.logs.display());
                    }
                }
            }
            next = self.reports.try_recv().ok();
        }
        // A Chromium that died is an error too.
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                bail!("{name} exited ({status}); see {}", self.logs.display());
            }
        }
        Ok(got)
    }

    /// Waits until `done` says the nodes' reports show what it waits for (`Ok(Some(_))`),
    /// for at most `limit`; `what` names it in the error.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&Self) -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = done(self)? {
                return Ok(v);
            }
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "timed out after {}s waiting for {what}\n{}",
                    limit.as_secs(),
                    self.describe()
                );
            }
            self.drain((deadline - now).min(Duration::from_millis(100)))?;
        }
    }

    /// A native node's latest line that starts with `prefix`.
    pub fn line_starting(&self, name: &str, prefix: &str) -> Option<&str> {
        self.lines
            .get(name)?
            .iter()
            .rev()
            .find(|l| l.starts_with(prefix))
            .map(String::as_str)
    }

    /// What every reporting node last said: for error messages.
    pub fn describe(&self) -> String {
        let mut out = String::from("latest node states:\n");
        for (name, s) in &self.states {
            let links: Vec<String> = s["links"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    format!(
                        "{}{}",
                        short(l["peer"].as_str().unwrap_or("?")),
                        if l["verified"] == json!(true) {
                            "+"
                        } else {
                            "?"
                        }
                    )
                })
                .collect();
            out.push_str(&format!(
                "  {name} id={} gen={} joined={} links=[{}] errors={}\n",
                short(s["id"].as_str().unwrap_or("")),
                s["generation"],
                s["joined"],
                links.join(" "),
                s["errors"]
            ));
        }
        out
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
        }
        for (_, child) in &mut self.children {
            let _ = child.wait();
        }
    }
}

/// A peer id, shortened for reading.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// A node's link to `peer` in its reported state.
pub fn link<'a>(state: &'a Value, peer: &str) -> Option<&'a Value> {
    state["links"]
        .as_array()?
        .iter()
        .find(|l| l["peer"] == peer)
}

/// `ws://127.0.0.1:PORT` of a running signaling server, embedded in this process.
pub struct Signaling {
    pub url: String,
    _server: unipeer_server::RunningServer,
}

impl Signaling {
    /// Starts the signaling server on a free 127.0.0.1 port, in this process.
    pub fn start() -> Result<Self> {
        let config = unipeer_server::ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            ..Default::default()
        };
        let server = unipeer_server::spawn_in_thread(config).context("starting the server")?;
        Ok(Self {
            url: format!("ws://{}", server.local_addr()),
            _server: server,
        })
    }
}

/// A query string from pairs (values are percent-encoded).
pub fn query(pairs: &[(&str, String)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Milliseconds since the Unix epoch (the pages' `Date.now()`).
pub fn wall_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}
