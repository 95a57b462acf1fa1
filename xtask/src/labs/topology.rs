//! A lab's network: namespaces, veth links, NATs and the processes in them, torn down
//! when dropped; and reading what the peers report.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::credentials::{random_hex, turn_rest_credentials};
use super::{PUBLIC, SIGNAL_PORT, STUN_PORT};
use crate::cmd;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Nat {
    /// `MASQUERADE`: the source port is kept (endpoint-independent mapping).
    Cone,
    /// `MASQUERADE --random-fully`: a new port for each destination.
    Symmetric,
}

/// What coturn on the public segment serves.
pub(super) enum Servers {
    /// No coturn at all.
    None,
    /// STUN only.
    Stun,
    /// STUN and TURN, with short-lived credentials.
    Turn,
}

/// One peer's result line.
pub(super) struct PeerResult {
    pub(super) role: String,
    pub(super) connect_ms: u64,
    pub(super) local: String,
    pub(super) remote: String,
    pub(super) ice_errors: String,
    pub(super) stream: String,
}

/// The lab's namespaces and processes; dropping it removes them.
pub(super) struct Lab {
    logs: PathBuf,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
}

impl Lab {
    /// The topology every lab uses: the public segment, two NATs of kind `nat`, the
    /// signaling server, and coturn as `servers` says. For TURN it returns short-lived
    /// credentials (user, password) valid for 10 minutes; otherwise empty strings.
    pub(super) fn two_nats(
        logs: &Path,
        bin: &Path,
        nat: Nat,
        servers: Servers,
    ) -> Result<(Self, (String, String))> {
        let mut lab = Lab::new(logs)?;
        lab.public_segment()?;
        lab.nat_side(1, nat)?;
        lab.nat_side(2, nat)?;
        let mut credentials = (String::new(), String::new());
        match servers {
            Servers::None => {}
            Servers::Stun => lab.coturn(&[])?,
            Servers::Turn => {
                let secret = random_hex()?;
                lab.coturn(&["--use-auth-secret", "--static-auth-secret", &secret])?;
                credentials = turn_rest_credentials(&secret, Duration::from_secs(600))?;
            }
        }
        lab.signaling(bin)?;
        Ok((lab, credentials))
    }

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

    pub(super) fn netns(&mut self, name: &str) -> Result<()> {
        sh(&["ip", "netns", "add", name]).context(
            "`ip netns add` failed: the labs need network namespaces (root, or CAP_SYS_ADMIN)",
        )?;
        self.namespaces.push(name.to_string());
        ip(name, &["link", "set", "lo", "up"])
    }

    /// Namespace `inet`: the bridge of the public segment, with the servers' address.
    pub(super) fn public_segment(&mut self) -> Result<()> {
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
    pub(super) fn nat_side(&mut self, i: u8, nat: Nat) -> Result<()> {
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
    pub(super) fn spawn(
        &mut self,
        name: &str,
        ns: &str,
        program: &Path,
        args: &[&str],
    ) -> Result<()> {
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
    pub(super) fn coturn(&mut self, extra: &[&str]) -> Result<()> {
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
    pub(super) fn signaling(&mut self, bin: &Path) -> Result<()> {
        let listen = format!("{PUBLIC}:{SIGNAL_PORT}");
        self.spawn(
            "signaling",
            "inet",
            &bin.join("unipeer-server"),
            &["--listen", &listen],
        )?;
        self.wait_listening("signaling", "inet", "-tln", &listen)
    }

    pub(super) fn wait_listening(
        &mut self,
        what: &str,
        ns: &str,
        ss_flags: &str,
        addr: &str,
    ) -> Result<()> {
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
    pub(super) fn peers(&mut self, bin: &Path, extra: &[&str]) -> Result<Vec<PeerResult>> {
        self.start_peers(bin, extra)?;
        self.wait_peers()
    }

    /// Whether the child `name` has exited.
    pub(super) fn exited(&mut self, name: &str) -> Result<bool> {
        match self.children.iter_mut().find(|(n, _)| n == name) {
            Some((_, child)) => Ok(child.try_wait()?.is_some()),
            None => Ok(true),
        }
    }

    /// Kills the child `name` (SIGKILL) and reaps it.
    pub(super) fn kill(&mut self, name: &str) {
        if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| n == name) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the answering peer in `peer2`, then the offering one in `peer1`.
    pub(super) fn start_peers(&mut self, bin: &Path, extra: &[&str]) -> Result<()> {
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
    pub(super) fn wait_peers(&mut self) -> Result<Vec<PeerResult>> {
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

pub(super) fn parse_result(log: &str) -> Option<PeerResult> {
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

pub(super) fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Runs a command quietly; fails with its stderr.
pub(super) fn sh(args: &[&str]) -> Result<()> {
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

pub(super) fn ip(ns: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["ip", "-n", ns];
    all.extend_from_slice(args);
    sh(&all)
}

pub(super) fn in_ns(ns: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    sh(&all)
}
