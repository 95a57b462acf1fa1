//! `cargo xtask test labs`: NAT traversal in network-namespace labs.
//!
//! Each lab runs in a sandbox of its own, re-executing this program as
//! `xtask __lab NAME BIN_DIR` under `unshare --mount --net --pid --fork --kill-child`:
//! - a new network namespace, so nothing in the lab can reach the machine's interfaces;
//! - a new mount namespace with a private tmpfs on /run/netns, so the lab's named
//!   namespaces (`ip netns add`) exist only there;
//! - a new PID namespace whose processes are all killed when the lab's main process ends.
//!
//! So the lab is torn down on every exit path: on success and error the lab removes its
//! processes and namespaces itself, and if it is killed (time limit, Ctrl-C) the kernel does
//! it. Where the machine does not allow namespaces or netfilter NAT, the lab fails with the
//! reason; it never skips.
//!
//! Topology (addresses from the documentation ranges, RFC 5737; the public segment's default
//! route leads to a gateway that is never there, 192.0.2.254, so packets to private
//! addresses vanish as on the internet):
//! ```text
//!   peer1 10.0.1.2 -- 10.0.1.1 nat1 203.0.113.11 --+
//!                                                  br0 (ns inet, 203.0.113.1: coturn + signaling)
//!   peer2 10.0.2.2 -- 10.0.2.1 nat2 203.0.113.12 --+
//! ```
//! Each NAT masquerades its LAN behind its WAN address: plain `MASQUERADE` keeps the source
//! port (endpoint-independent mapping: a cone NAT), `--random-fully` picks a new port per
//! destination (a symmetric NAT). Unsolicited packets to a NAT are dropped (as a home router
//! does; it also keeps them from taking a mapping's port).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::setup;

/// (lab, what it proves)
const LABS: &[(&str, &str)] = &[
    (
        "cone-no-stun",
        "control: without STUN, peers behind two NATs find no path (the NATs isolate)",
    ),
    (
        "cone-stun",
        "two native peers behind two different cone NATs connect via STUN (srflx pair)",
    ),
    (
        "cone-turn-unused",
        "two cone NATs with STUN and a working TURN server: the relay is allocated but the \
         peers still meet directly (srflx), not through it",
    ),
    (
        "symmetric-turn",
        "behind two symmetric NATs the peers connect via TURN over UDP (relay pair), \
         short-lived coturn credentials",
    ),
    (
        "symmetric-turn-tcp",
        "the same, with the TURN server reached over TCP (?transport=tcp)",
    ),
    (
        "peer-killed",
        "killing a connected peer: the other sees disconnected after 5 s of silence, then \
         failed within failed_timeout (5 s here) of that",
    ),
    (
        "link-cut",
        "cutting one NAT's uplink for 5 s mid-stream: the session recovers, no message of \
         the reliable channel is lost or reordered",
    ),
    (
        "turn-wrong-password",
        "a wrong TURN password is reported (401) and the peers still connect via STUN",
    ),
];

/// Each lab's time limit (every wait inside is bounded by less).
const LAB_LIMIT: Duration = Duration::from_secs(120);

/// The public segment.
const PUBLIC: &str = "203.0.113.1";
const STUN_PORT: u16 = 3478;
const SIGNAL_PORT: u16 = 8787;

/// The `labs` part of `cargo xtask test`.
pub fn run() -> Result<String> {
    setup::labs()?;
    for tool in ["unshare", "ip", "iptables", "turnserver", "ss", "openssl"] {
        if cmd::which(tool).is_none() {
            bail!("`{tool}` is not on PATH: the labs need it (`cargo xtask setup labs`)");
        }
    }
    cmd::run(Command::new("cargo").args([
        "build",
        "-p",
        "unipeer-server",
        "-p",
        "unipeer-tests",
        "--bin",
        "unipeer-server",
        "--bin",
        "lab-peer",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cmd::root().join("target"));
    let bin = target.join("debug");
    let exe = std::env::current_exe().context("finding this program")?;

    let mut failed = Vec::new();
    let mut notes = Vec::new();
    // UNIPEER_LABS=a,b runs only those labs (while working on one).
    let only: Option<Vec<String>> = std::env::var("UNIPEER_LABS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    for (lab, about) in LABS {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == lab)) {
            continue;
        }
        println!("\n---- lab {lab}: {about} ----");
        let dir = logs_dir(lab);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--net",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
            ])
            .arg(&exe)
            .args(["__lab", lab])
            .arg(&bin);
        let started = Instant::now();
        let status = cmd::run_with_timeout(&mut command, LAB_LIMIT)?;
        let time = cmd::format_duration(started.elapsed());
        let result = fs::read_to_string(dir.join("result.txt")).unwrap_or_default();
        match status {
            Some(s) if s.success() && !result.is_empty() => {
                println!("xtask: lab {lab}: ok ({time}): {}", result.trim());
                notes.push(format!("{lab}: {}", result.trim()));
            }
            Some(s) => {
                eprintln!("xtask: lab {lab}: FAILED ({s}, {time})");
                failed.push(format!("{lab} ({s})"));
            }
            None => {
                eprintln!("xtask: lab {lab}: FAILED (killed after {time})");
                failed.push(format!("{lab} (timed out)"));
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "labs failed: {} (logs in target/xtask/labs/)",
            failed.join(", ")
        );
    }
    Ok(notes.join("; "))
}

fn logs_dir(lab: &str) -> PathBuf {
    cmd::root().join("target/xtask/labs").join(lab)
}

/// `xtask __lab NAME BIN_DIR`, inside the lab's sandbox.
pub fn lab(args: &[String]) -> Result<()> {
    let [name, bin] = args else {
        bail!("usage: xtask __lab NAME BIN_DIR");
    };
    let bin = PathBuf::from(bin);
    let logs = logs_dir(name);
    fs::create_dir_all(&logs)?;
    let result = match name.as_str() {
        "cone-no-stun" => cone_no_stun(&bin, &logs),
        "cone-stun" => cone_stun(&bin, &logs),
        "cone-turn-unused" => cone_turn_unused(&bin, &logs),
        "symmetric-turn" => symmetric_turn(&bin, &logs, false),
        "symmetric-turn-tcp" => symmetric_turn(&bin, &logs, true),
        "turn-wrong-password" => turn_wrong_password(&bin, &logs),
        "peer-killed" => peer_killed(&bin, &logs),
        "link-cut" => link_cut(&bin, &logs),
        other => bail!("unknown lab `{other}`"),
    };
    match &result {
        Ok(summary) => {
            println!("lab {name}: ok: {summary}");
            fs::write(logs.join("result.txt"), summary)?;
        }
        Err(e) => eprintln!("lab {name}: FAILED: {e:#}\n(logs in {})", logs.display()),
    }
    result.map(|_| ())
}

/// Two cone NATs and no ICE server: host candidates cannot cross, so neither peer may
/// connect (a lab whose NATs leaked would pass the others for the wrong reason).
fn cone_no_stun(bin: &Path, logs: &Path) -> Result<String> {
    let mut lab = Lab::new(logs)?;
    lab.public_segment()?;
    lab.nat_side(1, Nat::Cone)?;
    lab.nat_side(2, Nat::Cone)?;
    lab.signaling(bin)?;
    match lab.peers(bin, &["--limit", "10"]) {
        Ok(results) => bail!(
            "the peers connected through two NATs without STUN ({}): the lab does not isolate",
            summary(&results)
        ),
        // The first to time out leaves the room; the other may see that first.
        Err(e)
            if ["not done within", "left before connecting"]
                .iter()
                .any(|m| format!("{e:#}").contains(m)) =>
        {
            Ok("no connection within 10 s, as expected".into())
        }
        Err(e) => Err(e.context("expected the peers to time out")),
    }
}

/// Two cone NATs, STUN only: the peers must meet through their server-reflexive addresses.
fn cone_stun(bin: &Path, logs: &Path) -> Result<String> {
    let mut lab = Lab::new(logs)?;
    lab.public_segment()?;
    lab.nat_side(1, Nat::Cone)?;
    lab.nat_side(2, Nat::Cone)?;
    lab.coturn(&[])?;
    lab.signaling(bin)?;
    let stun = format!("stun:{PUBLIC}:{STUN_PORT}");
    let results = lab.peers(bin, &["--ice", &stun])?;
    for r in &results {
        if r.ice_errors != "none" {
            bail!("{} reported ICE server errors: {}", r.role, r.ice_errors);
        }
        if r.remote != "srflx" {
            bail!(
                "{} selected a {}/{} pair; behind two cone NATs with STUN it must be the remote's srflx",
                r.role,
                r.local,
                r.remote
            );
        }
    }
    Ok(summary(&results))
}

/// Two cone NATs, STUN and a TURN server that works: ICE prefers the direct srflx path,
/// so configuring TURN does not relay a pair that does not need it.
fn cone_turn_unused(bin: &Path, logs: &Path) -> Result<String> {
    let mut lab = Lab::new(logs)?;
    lab.public_segment()?;
    lab.nat_side(1, Nat::Cone)?;
    lab.nat_side(2, Nat::Cone)?;
    let secret = random_hex()?;
    lab.coturn(&["--use-auth-secret", "--static-auth-secret", &secret])?;
    lab.signaling(bin)?;
    let (user, pass) = turn_rest_credentials(&secret, Duration::from_secs(600))?;
    let stun = format!("stun:{PUBLIC}:{STUN_PORT}");
    let turn = format!("turn:{PUBLIC}:{STUN_PORT}");
    let results = lab.peers(
        bin,
        &[
            "--ice", &stun, "--ice", &turn, "--user", &user, "--pass", &pass,
        ],
    )?;
    for r in &results {
        if r.ice_errors != "none" {
            bail!("{} reported ICE server errors: {}", r.role, r.ice_errors);
        }
        if r.local == "relay" || r.remote != "srflx" {
            bail!(
                "{} selected a {}/{} pair; with a direct srflx path the relay must not be used",
                r.role,
                r.local,
                r.remote
            );
        }
    }
    // The allocations were made (and released), so the relay was there to choose.
    let log = fs::read_to_string(logs.join("coturn.log")).unwrap_or_default();
    let allocated = log
        .lines()
        .filter(|l| l.contains("incoming packet ALLOCATE processed, success"))
        .count();
    if allocated < 2 {
        bail!(
            "coturn made {allocated} allocation(s); each peer should have had a relayed candidate"
        );
    }
    Ok(format!(
        "{}; relays allocated but unused",
        summary(&results)
    ))
}

/// Two symmetric NATs: server-reflexive candidates are useless (the mapping changes with
/// the destination), so the peers must meet through a TURN relay, reached over UDP or TCP.
fn symmetric_turn(bin: &Path, logs: &Path, tcp: bool) -> Result<String> {
    let mut lab = Lab::new(logs)?;
    lab.public_segment()?;
    lab.nat_side(1, Nat::Symmetric)?;
    lab.nat_side(2, Nat::Symmetric)?;
    let secret = random_hex()?;
    lab.coturn(&["--use-auth-secret", "--static-auth-secret", &secret])?;
    lab.signaling(bin)?;
    let (user, pass) = turn_rest_credentials(&secret, Duration::from_secs(600))?;
    let stun = format!("stun:{PUBLIC}:{STUN_PORT}");
    let transport = if tcp { "tcp" } else { "udp" };
    let turn = format!("turn:{PUBLIC}:{STUN_PORT}?transport={transport}");
    let results = lab.peers(
        bin,
        &[
            "--ice", &stun, "--ice", &turn, "--user", &user, "--pass", &pass,
        ],
    )?;
    for r in &results {
        if r.local != "relay" && r.remote != "relay" {
            bail!(
                "{} selected a {}/{} pair; behind two symmetric NATs only a relay can work",
                r.role,
                r.local,
                r.remote
            );
        }
        if r.ice_errors != "none" {
            bail!("{} reported ICE server errors: {}", r.role, r.ice_errors);
        }
    }
    // Each peer released its allocation when it closed (a REFRESH with lifetime 0; no
    // other refresh happens within a 30-minute allocation's first minute).
    let log = fs::read_to_string(logs.join("coturn.log")).unwrap_or_default();
    let released = log
        .lines()
        .filter(|l| l.contains("incoming packet REFRESH processed, success"))
        .count();
    if released < 2 {
        bail!("coturn saw {released} allocation release(s); each of the 2 peers must release its allocation on close");
    }
    Ok(format!(
        "{}; both allocations released on close",
        summary(&results)
    ))
}

/// Cone NATs, a STUN server and a TURN server with a wrong password: the TURN refusal is
/// reported as a non-fatal 401, and the peers connect over their srflx candidates.
fn turn_wrong_password(bin: &Path, logs: &Path) -> Result<String> {
    let mut lab = Lab::new(logs)?;
    lab.public_segment()?;
    lab.nat_side(1, Nat::Cone)?;
    lab.nat_side(2, Nat::Cone)?;
    let secret = random_hex()?;
    lab.coturn(&["--use-auth-secret", "--static-auth-secret", &secret])?;
    lab.signaling(bin)?;
    let (user, _) = turn_rest_credentials(&secret, Duration::from_secs(600))?;
    let stun = format!("stun:{PUBLIC}:{STUN_PORT}");
    let turn = format!("turn:{PUBLIC}:{STUN_PORT}");
    let results = lab.peers(
        bin,
        &[
            "--ice",
            &stun,
            "--ice",
            &turn,
            "--user",
            &user,
            "--pass",
            "wrong-password",
        ],
    )?;
    for r in &results {
        if r.ice_errors != "401" {
            bail!(
                "{} reported ICE server errors `{}`; expected one 401 for the wrong password",
                r.role,
                r.ice_errors
            );
        }
        if r.remote != "srflx" {
            bail!(
                "{} selected a {}/{} pair; with STUN behind cone NATs it must be srflx",
                r.role,
                r.local,
                r.remote
            );
        }
    }
    Ok(format!(
        "{} (TURN refused with 401 on both)",
        summary(&results)
    ))
}

/// Two cone NATs, connected over srflx; then the offering peer is killed (SIGKILL: no
/// goodbye). The answerer must report `Disconnected`, then `Failed` within its
/// `failed_timeout` (5 s) of that, and stop.
fn peer_killed(bin: &Path, logs: &Path) -> Result<String> {
    const FAILED_TIMEOUT: Duration = Duration::from_secs(5);
    let mut lab = Lab::new(logs)?;
    lab.public_segment()?;
    lab.nat_side(1, Nat::Cone)?;
    lab.nat_side(2, Nat::Cone)?;
    lab.coturn(&[])?;
    lab.signaling(bin)?;
    let stun = format!("stun:{PUBLIC}:{STUN_PORT}");
    let secs = FAILED_TIMEOUT.as_secs().to_string();
    let extra = ["--ice", &stun, "--hold", "--failed-timeout", &secs];
    lab.start_peers(bin, &extra)?;
    // The offerer reports once the ping/pong went through, then waits to be killed.
    let log1 = logs.join("peer1.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    let connected = loop {
        let log = fs::read_to_string(&log1).unwrap_or_default();
        if let Some(r) = parse_result(&log) {
            break r;
        }
        if lab.exited("peer1")? || Instant::now() >= deadline {
            bail!("peer1 did not connect:\n{}", tail(&log));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    lab.kill("peer1");
    let killed = Instant::now();
    // Watch the answerer's log for its state changes (20 ms resolution).
    let log2 = logs.join("peer2.log");
    let (mut disconnected, mut failed) = (None, None);
    let limit = killed + Duration::from_secs(60);
    while failed.is_none() && Instant::now() < limit {
        let log = fs::read_to_string(&log2).unwrap_or_default();
        if disconnected.is_none() && log.contains("lab-peer: state Disconnected") {
            disconnected = Some(killed.elapsed());
        }
        if log.contains("lab-peer: state Failed") {
            failed = Some(killed.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = fs::read_to_string(&log2).unwrap_or_default();
    let Some(disconnected) = disconnected else {
        bail!(
            "peer2 never reported Disconnected within 60 s of the kill:\n{}",
            tail(&log)
        );
    };
    let Some(failed) = failed else {
        bail!(
            "peer2 never reported Failed within 60 s of the kill:\n{}",
            tail(&log)
        );
    };
    // Silence is noticed after 5 s (str0m checks the pair at least every 3 s).
    if disconnected > Duration::from_secs(7) {
        bail!("Disconnected came {disconnected:?} after the kill; expected about 5 s");
    }
    let after = failed.saturating_sub(disconnected);
    if after > FAILED_TIMEOUT + Duration::from_secs(1) {
        bail!("Failed came {after:?} after Disconnected; the bound is {FAILED_TIMEOUT:?}");
    }
    Ok(format!(
        "connected over {}/{}; after the kill: disconnected in {} ms, failed in {} ms",
        connected.local,
        connected.remote,
        disconnected.as_millis(),
        failed.as_millis()
    ))
}

/// Two cone NATs; while the offerer streams numbered messages for 12 s, nat1's uplink is
/// down for 5 s. The NAT keeps its mappings, so the same path comes back: the answerer
/// must get all 240 messages in order, and both sides end connected.
fn link_cut(bin: &Path, logs: &Path) -> Result<String> {
    let mut lab = Lab::new(logs)?;
    lab.public_segment()?;
    lab.nat_side(1, Nat::Cone)?;
    lab.nat_side(2, Nat::Cone)?;
    lab.coturn(&[])?;
    lab.signaling(bin)?;
    let stun = format!("stun:{PUBLIC}:{STUN_PORT}");
    lab.start_peers(bin, &["--ice", &stun, "--stream", "12", "--limit", "90"])?;
    let log1 = logs.join("peer1.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_to_string(&log1)
        .unwrap_or_default()
        .contains("lab-peer: connected")
    {
        if lab.exited("peer1")? || Instant::now() >= deadline {
            bail!(
                "peer1 did not connect:\n{}",
                tail(&fs::read_to_string(&log1).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(2000));
    ip("nat1", &["link", "set", "wan", "down"])?;
    std::thread::sleep(Duration::from_secs(5));
    ip("nat1", &["link", "set", "wan", "up"])?;
    let results = lab.wait_peers()?;
    for r in &results {
        if r.stream != "got_240_ordered=true" {
            bail!(
                "{} reports stream `{}`; expected all 240 messages in order",
                r.role,
                r.stream
            );
        }
    }
    let recovered = ["peer1", "peer2"]
        .iter()
        .filter(|p| {
            fs::read_to_string(logs.join(format!("{p}.log")))
                .unwrap_or_default()
                .contains("lab-peer: connected again")
        })
        .count();
    Ok(format!(
        "{}; all 240 messages arrived in order across the 5 s cut; {recovered} of 2 peers \
         went Disconnected and back to Connected",
        summary(&results)
    ))
}

/// coturn's short-lived credentials (`--use-auth-secret`, the "TURN REST API"): the user
/// name is the expiry time, the password base64(HMAC-SHA1(secret, user name)).
fn turn_rest_credentials(secret: &str, valid: Duration) -> Result<(String, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?;
    let user = format!("{}:lab", (now + valid).as_secs());
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha1", "-hmac", secret, "-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("running openssl")?;
    {
        use std::io::Write;
        let mut stdin = openssl.stdin.take().context("openssl stdin")?;
        stdin.write_all(user.as_bytes())?;
    }
    let out = openssl.wait_with_output()?;
    if !out.status.success() || out.stdout.len() != 20 {
        bail!("openssl could not compute the TURN credential");
    }
    Ok((user, base64(&out.stdout)))
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A fresh secret for this lab's coturn.
fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn summary(results: &[PeerResult]) -> String {
    results
        .iter()
        .map(|r| {
            format!(
                "{} connected in {} ms over {}/{}",
                r.role, r.connect_ms, r.local, r.remote
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Copy, PartialEq)]
enum Nat {
    /// `MASQUERADE`: the source port is kept (endpoint-independent mapping).
    Cone,
    /// `MASQUERADE --random-fully`: a new port for each destination.
    Symmetric,
}

/// One peer's result line.
struct PeerResult {
    role: String,
    connect_ms: u64,
    local: String,
    remote: String,
    ice_errors: String,
    stream: String,
}

/// The lab's namespaces and processes; dropping it removes them.
struct Lab {
    logs: PathBuf,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
}

impl Lab {
    fn new(logs: &Path) -> Result<Self> {
        // Named namespaces live under /run/netns: a tmpfs private to this sandbox.
        fs::create_dir_all("/run/netns").context("creating /run/netns")?;
        sh(&["mount", "-t", "tmpfs", "tmpfs", "/run/netns"]).context(
            "mounting a private /run/netns failed: the labs need to run as root with mount \
             namespaces allowed",
        )?;
        sh(&["ip", "link", "set", "lo", "up"])?;
        Ok(Self {
            logs: logs.to_path_buf(),
            namespaces: Vec::new(),
            children: Vec::new(),
        })
    }

    fn netns(&mut self, name: &str) -> Result<()> {
        sh(&["ip", "netns", "add", name]).context(
            "`ip netns add` failed: the labs need network namespaces (root, or CAP_SYS_ADMIN)",
        )?;
        self.namespaces.push(name.to_string());
        ip(name, &["link", "set", "lo", "up"])
    }

    /// Namespace `inet`: the bridge of the public segment, with the servers' address.
    fn public_segment(&mut self) -> Result<()> {
        self.netns("inet")?;
        ip("inet", &["link", "add", "br0", "type", "bridge"])
            .context("creating a bridge failed: the labs need the Linux bridge driver")?;
        ip(
            "inet",
            &["addr", "add", &format!("{PUBLIC}/24"), "dev", "br0"],
        )?;
        ip("inet", &["link", "set", "br0", "up"])?;
        // Like the internet, the public side swallows packets to addresses nobody routes
        // (a peer's private host candidate): a default route to a gateway that is never
        // there (a veth whose far end drops frames addressed to another MAC). Without it
        // the relay's sends fail with "network unreachable", and coturn closes the
        // allocation.
        ip(
            "inet",
            &[
                "link", "add", "void", "type", "veth", "peer", "name", "void-end",
            ],
        )?;
        ip("inet", &["addr", "add", "192.0.2.1/24", "dev", "void"])?;
        ip("inet", &["link", "set", "void", "up"])?;
        ip("inet", &["link", "set", "void-end", "up"])?;
        ip(
            "inet",
            &[
                "neigh",
                "add",
                "192.0.2.254",
                "lladdr",
                "02:00:00:00:00:fe",
                "dev",
                "void",
                "nud",
                "permanent",
            ],
        )?;
        ip("inet", &["route", "add", "default", "via", "192.0.2.254"])
    }

    /// `nat{i}` with WAN 203.0.113.1{i} on the public bridge and LAN 10.0.{i}.1, and
    /// `peer{i}` at 10.0.{i}.2 behind it.
    fn nat_side(&mut self, i: u8, nat: Nat) -> Result<()> {
        let (natns, peerns) = (format!("nat{i}"), format!("peer{i}"));
        self.netns(&natns)?;
        self.netns(&peerns)?;
        // WAN: veth `wan` in the NAT, its other end `pub{i}` on the bridge.
        let pubif = format!("pub{i}");
        sh(&[
            "ip", "link", "add", "wan", "netns", &natns, "type", "veth", "peer", "name", &pubif,
            "netns", "inet",
        ])?;
        ip("inet", &["link", "set", &pubif, "master", "br0", "up"])?;
        ip(
            &natns,
            &["addr", "add", &format!("203.0.113.1{i}/24"), "dev", "wan"],
        )?;
        ip(&natns, &["link", "set", "wan", "up"])?;
        // LAN: `lan` in the NAT, `eth0` in the peer.
        sh(&[
            "ip", "link", "add", "lan", "netns", &natns, "type", "veth", "peer", "name", "eth0",
            "netns", &peerns,
        ])?;
        ip(
            &natns,
            &["addr", "add", &format!("10.0.{i}.1/24"), "dev", "lan"],
        )?;
        ip(&natns, &["link", "set", "lan", "up"])?;
        ip(
            &peerns,
            &["addr", "add", &format!("10.0.{i}.2/24"), "dev", "eth0"],
        )?;
        ip(&peerns, &["link", "set", "eth0", "up"])?;
        ip(
            &peerns,
            &["route", "add", "default", "via", &format!("10.0.{i}.1")],
        )?;
        in_ns(&natns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        let mut masquerade = vec![
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            "wan",
            "-j",
            "MASQUERADE",
        ];
        if nat == Nat::Symmetric {
            masquerade.push("--random-fully");
        }
        in_ns(&natns, &masquerade).context(
            "iptables MASQUERADE failed: the labs need netfilter NAT (nf_nat) in network namespaces",
        )?;
        // Unsolicited packets to the NAT itself are dropped (no ICMP, no conntrack entry
        // that would take a mapping's port).
        in_ns(
            &natns,
            &[
                "iptables", "-A", "INPUT", "-i", "wan", "-p", "udp", "-j", "DROP",
            ],
        )?;
        Ok(())
    }

    /// Starts a child process in namespace `ns`, its output in the lab's logs.
    fn spawn(&mut self, name: &str, ns: &str, program: &Path, args: &[&str]) -> Result<()> {
        let out = fs::File::create(self.logs.join(format!("{name}.log")))?;
        let err = out.try_clone()?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            // The lab peers' logs (set UNIPEER_LAB_LOG=debug to see ICE and TURN at work).
            .env(
                "RUST_LOG",
                std::env::var("UNIPEER_LAB_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// coturn on the public segment (STUN; TURN with `extra` arguments).
    fn coturn(&mut self, extra: &[&str]) -> Result<()> {
        let turnserver =
            cmd::which("turnserver").context("turnserver (coturn) is not installed")?;
        let pid = self.logs.join("turnserver.pid");
        let pid = pid.to_string_lossy().to_string();
        let mut args = vec![
            "-n",
            "--listening-ip",
            PUBLIC,
            "--relay-ip",
            PUBLIC,
            "--listening-port",
            "3478",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--log-file",
            "stdout",
            "--simple-log",
            "--pidfile",
            &pid,
            "--realm",
            "lab.unipeer",
            "--fingerprint",
            // Every request in the log: the labs check the allocations' release there.
            "--verbose",
        ];
        args.extend_from_slice(extra);
        self.spawn("coturn", "inet", &turnserver, &args)?;
        self.wait_listening("coturn", "inet", "-uln", &format!("{PUBLIC}:{STUN_PORT}"))
    }

    /// The unipeer signaling server on the public segment.
    fn signaling(&mut self, bin: &Path) -> Result<()> {
        let listen = format!("{PUBLIC}:{SIGNAL_PORT}");
        self.spawn(
            "signaling",
            "inet",
            &bin.join("unipeer-server"),
            &["--listen", &listen],
        )?;
        self.wait_listening("signaling", "inet", "-tln", &listen)
    }

    fn wait_listening(&mut self, what: &str, ns: &str, ss_flags: &str, addr: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let out = cmd::output(Command::new("ip").args(["netns", "exec", ns, "ss", ss_flags]))
                .unwrap_or_default();
            if out.contains(addr) {
                return Ok(());
            }
            if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| n == what) {
                if let Some(status) = child.try_wait()? {
                    bail!("{what} exited ({status}) before listening on {addr}; see its log");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("{what} did not listen on {addr} within 15 s")
    }

    /// Runs the answering peer in `peer2` and the offering one in `peer1`; both must report.
    fn peers(&mut self, bin: &Path, extra: &[&str]) -> Result<Vec<PeerResult>> {
        self.start_peers(bin, extra)?;
        self.wait_peers()
    }

    /// Whether the child `name` has exited.
    fn exited(&mut self, name: &str) -> Result<bool> {
        match self.children.iter_mut().find(|(n, _)| n == name) {
            Some((_, child)) => Ok(child.try_wait()?.is_some()),
            None => Ok(true),
        }
    }

    /// Kills the child `name` (SIGKILL) and reaps it.
    fn kill(&mut self, name: &str) {
        if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| n == name) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the answering peer in `peer2`, then the offering one in `peer1`.
    fn start_peers(&mut self, bin: &Path, extra: &[&str]) -> Result<()> {
        let signal = format!("ws://{PUBLIC}:{SIGNAL_PORT}");
        let lab_peer = bin.join("lab-peer");
        let common = ["--signal", &signal, "--room", "lab"];
        let mut answer: Vec<&str> = common.to_vec();
        answer.extend_from_slice(&["--role", "answer"]);
        answer.extend_from_slice(extra);
        self.spawn("peer2", "peer2", &lab_peer, &answer)?;
        // The answerer joins first, so the offerer finds it in the room.
        std::thread::sleep(Duration::from_millis(300));
        let mut offer: Vec<&str> = common.to_vec();
        offer.extend_from_slice(&["--role", "offer"]);
        offer.extend_from_slice(extra);
        self.spawn("peer1", "peer1", &lab_peer, &offer)
    }

    /// Waits for both peers to exit, and reads their results.
    fn wait_peers(&mut self) -> Result<Vec<PeerResult>> {
        let deadline = Instant::now() + Duration::from_secs(75);
        let mut results = Vec::new();
        for name in ["peer1", "peer2"] {
            let status = loop {
                let (_, child) = self
                    .children
                    .iter_mut()
                    .find(|(n, _)| n == name)
                    .context("peer process missing")?;
                if let Some(s) = child.try_wait()? {
                    break s;
                }
                if Instant::now() >= deadline {
                    bail!("{name} did not finish in time");
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let log = fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default();
            if !status.success() {
                bail!("{name} failed ({status}):\n{}", tail(&log));
            }
            results.push(
                parse_result(&log)
                    .with_context(|| format!("{name} printed no result:\n{}", tail(&log)))?,
            );
        }
        Ok(results)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("umount").arg("/run/netns").status();
    }
}

fn parse_result(log: &str) -> Option<PeerResult> {
    let line = log.lines().find(|l| l.starts_with("lab-peer: result "))?;
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")).map(str::to_string))
    };
    Some(PeerResult {
        role: field("role")?,
        connect_ms: field("connect_ms")?.parse().ok()?,
        local: field("local")?,
        remote: field("remote")?,
        ice_errors: field("ice_errors")?,
        stream: field("stream").unwrap_or_else(|| "none".into()),
    })
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Runs a command quietly; fails with its stderr.
fn sh(args: &[&str]) -> Result<()> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run `{}`", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn ip(ns: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["ip", "-n", ns];
    all.extend_from_slice(args);
    sh(&all)
}

fn in_ns(ns: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    sh(&all)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
