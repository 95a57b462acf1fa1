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
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::setup;

mod credentials;
mod topology;

use topology::{ip, parse_result, tail, Lab, Nat, PeerResult, Servers};

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
    let (mut lab, _) = Lab::two_nats(logs, bin, Nat::Cone, Servers::None)?;
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
    let (mut lab, _) = Lab::two_nats(logs, bin, Nat::Cone, Servers::Stun)?;
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
    let (mut lab, (user, pass)) = Lab::two_nats(logs, bin, Nat::Cone, Servers::Turn)?;
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
    let (mut lab, (user, pass)) = Lab::two_nats(logs, bin, Nat::Symmetric, Servers::Turn)?;
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
    let (mut lab, (user, _)) = Lab::two_nats(logs, bin, Nat::Cone, Servers::Turn)?;
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
    let (mut lab, _) = Lab::two_nats(logs, bin, Nat::Cone, Servers::Stun)?;
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
    let (mut lab, _) = Lab::two_nats(logs, bin, Nat::Cone, Servers::Stun)?;
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
