//! The `unipeer-server` binary: ready line, signals, `--help`, `token`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use unipeer_server::protocol::close_code;
use unipeer_server::{unix_now, verify_token};

const BIN: &str = env!("CARGO_BIN_EXE_unipeer-server");

/// Kills the child if a test fails before it exits.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server with `args` (and `UNIPEER_SECRET` = `secret`); returns it and its
/// ready line.
fn start_bin_with(args: &[&str], secret: Option<&str>) -> (Reap, String) {
    let mut cmd = Command::new(BIN);
    match secret {
        Some(s) => cmd.env("UNIPEER_SECRET", s),
        None => cmd.env_remove("UNIPEER_SECRET"),
    };
    let mut child = cmd
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("ready line in time");
    (Reap(child), line)
}

fn start_bin(args: &[&str]) -> (Reap, String) {
    start_bin_with(args, None)
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "server did not exit in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn serves_after_one_ready_line_and_stops_on_sigterm() {
    let (mut server, line) = start_bin(&["--listen", "127.0.0.1:0"]);
    let addr = line
        .trim_end()
        .strip_prefix("unipeer-server listening on ")
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
    assert!(addr.starts_with("127.0.0.1:"));
    let url = format!("ws://{addr}/v1/rooms/cli");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    assert_eq!(b.peers, [a.id.clone()]);

    let pid = server.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let (closed_a, closed_b) = tokio::join!(a.expect_close(), b.expect_close());
    assert_eq!(closed_a.0, close_code::GOING_AWAY);
    assert_eq!(closed_b.0, close_code::GOING_AWAY);
    let status = wait_exit(&mut server.0, Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn sigint_also_stops_it() {
    let (mut server, _) = start_bin(&["--listen", "127.0.0.1:0", "--log-format", "json"]);
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(wait_exit(&mut server.0, Duration::from_secs(10)).success());
}

#[tokio::test]
async fn secret_from_the_environment_requires_tokens() {
    let (_server, line) = start_bin_with(&["--listen", "127.0.0.1:0"], Some("env-secret"));
    let addr = line.trim_end().rsplit(' ').next().unwrap();
    let url = format!("ws://{addr}/v1/rooms/r");
    let mut ws = connect(&url).await.unwrap();
    assert_eq!(expect_close(&mut ws).await.0, close_code::POLICY_VIOLATION);
    let token = unipeer_server::mint_token("env-secret", "r", unix_now() + 60);
    Client::join(&format!("{url}?token={token}")).await;
}

#[test]
fn help_lists_the_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--secret",
        "--max-frame-bytes",
        "--rate-limit",
        "--rate-burst",
        "--send-queue-frames",
        "--send-queue-bytes",
        "--ping-interval",
        "--ping-timeout",
        "--max-peers-per-room",
        "--max-rooms",
        "--max-connections",
        "token",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("127.0.0.1:8787"));
}

#[test]
fn bad_arguments_fail() {
    let out = Command::new(BIN)
        .args(["--listen", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--max-frame-bytes", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn token_subcommand_prints_a_valid_token() {
    let out = Command::new(BIN)
        .args(["token", "--secret", "S", "--room", "R", "--ttl", "60"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    let token = token.trim_end();
    assert_eq!(verify_token("S", token, "R", unix_now()), Ok(()));
    assert!(verify_token("S", token, "R", unix_now() + 61).is_err());
    assert!(verify_token("S", token, "other", unix_now()).is_err());
}
