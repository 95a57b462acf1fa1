//! Fuzzing every parser unipeer owns: the crate in `fuzz/` (cargo-fuzz on libFuzzer, its
//! own workspace) has one target per parser:
//! - `rpc_messages`: RPC message headers, split bodies, requests, errors, credits, payloads;
//! - `signaling_frames`: signaling protocol v1 as the client and the server parse it;
//! - `sdp_and_candidates`: descriptions and candidates handed to a native `Peer`.
//!
//! `cargo xtask test fuzz` runs each for [`TEST_SECONDS`]; `cargo xtask fuzz [--seconds N]
//! [TARGET...]` runs longer on demand. Seeds are in `fuzz/seeds/TARGET/`; what a run learns
//! goes to `target/fuzz-corpus/TARGET/`, and a crashing input to `fuzz/artifacts/TARGET/`
//! (the run then fails and names the file). Built without a sanitizer, so stable Rust
//! does: the targets look for panics, hangs and runaway memory.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cmd;

/// Every fuzz target.
pub const TARGETS: [&str; 4] = [
    "rpc_messages",
    "signaling_frames",
    "sdp_and_candidates",
    "media_files",
];
/// How long `cargo xtask test` fuzzes each target.
pub const TEST_SECONDS: u64 = 20;
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Memory limit per target process (libFuzzer fails the run beyond it).
const RSS_LIMIT_MB: u32 = 2048;

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [TARGET...]
targets: rpc_messages, signaling_frames, sdp_and_candidates, media_files (default: all; 60 s each)";

/// `cargo xtask fuzz [--seconds N] [TARGET...]`
pub fn command(args: &[String]) -> Result<()> {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let n = it.next().context("--seconds needs a number")?;
                seconds = n
                    .parse()
                    .with_context(|| format!("`{n}` is not a number"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            t if TARGETS.contains(&t) => targets.push(t),
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    if targets.is_empty() {
        targets.extend(TARGETS);
    }
    println!("xtask: fuzz: {}", run(&targets, seconds)?);
    Ok(())
}

/// Installs cargo-fuzz, builds the targets, and fuzzes each for `seconds`.
pub fn run(targets: &[&str], seconds: u64) -> Result<String> {
    install()?;
    let root = cmd::root();
    cmd::run(&mut cargo_fuzz(&["build"]))?;
    let mut notes = Vec::new();
    for target in targets {
        let corpus = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("creating {}", corpus.display()))?;
        let started = Instant::now();
        let mut run = cargo_fuzz(&["run", target]);
        run.arg(&corpus)
            .arg(root.join("fuzz/seeds").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
            .arg("-print_final_stats=1");
        cmd::run(&mut run).with_context(|| {
            format!("fuzz target {target} failed: the input is in fuzz/artifacts/{target}/")
        })?;
        notes.push(format!(
            "{target} {}",
            cmd::format_duration(started.elapsed())
        ));
    }
    Ok(format!("no failure ({})", notes.join(", ")))
}

/// `cargo fuzz SUBCOMMAND` on `fuzz/`, without a sanitizer.
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut c = Command::new("cargo");
    c.arg("fuzz")
        .arg(args[0])
        .args(["--sanitizer", "none", "--fuzz-dir"])
        .arg(cmd::root().join("fuzz"))
        .args(&args[1..])
        .current_dir(cmd::root());
    c
}

/// cargo-fuzz at the version this was written against.
fn install() -> Result<()> {
    let wanted = format!("cargo-fuzz {CARGO_FUZZ_VERSION}");
    let installed = cmd::output(Command::new("cargo").args(["fuzz", "--version"]));
    if installed.as_deref().map(str::trim) == Some(wanted.as_str()) {
        return Ok(());
    }
    cmd::run(Command::new("cargo").args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--force",
    ]))
    .context("installing cargo-fuzz")
}
