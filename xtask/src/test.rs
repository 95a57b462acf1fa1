//! `cargo xtask test [PART...]`: each part installs what it needs, then runs its checks.
//! Adding a part = writing one `fn() -> Result<String>` and listing it in `PARTS`.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::cmd;
use crate::fuzz as fuzzing;
use crate::lockfile::Lockfile;
use crate::setup;
use crate::wasm::{self, Mdns};
use crate::web;

/// A part runs its checks and returns a one-line note for the summary.
type Part = fn() -> Result<String>;

const PARTS: &[(&str, Part)] = &[
    ("native", native),
    ("wasm", wasm),
    ("interop", interop),
    ("labs", labs),
    ("fuzz", fuzz),
];

/// The crates that must build for the browser.
const WASM_PACKAGES: &[&str] = &[
    "-p",
    "unipeer",
    "-p",
    "unipeer-wasm",
    "-p",
    "unipeer-core",
    "-p",
    "unipeer-examples",
];

pub fn run(args: &[String]) -> Result<()> {
    let mut selected: Vec<(&str, Part)> = Vec::new();
    for arg in args {
        if arg == "all" {
            selected.extend_from_slice(PARTS);
            continue;
        }
        match PARTS.iter().find(|(name, _)| name == arg) {
            Some(part) => selected.push(*part),
            None => bail!(
                "unknown test part `{arg}`: use one or more of {}",
                PARTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        }
    }
    if selected.is_empty() {
        selected.extend_from_slice(PARTS);
    }

    let mut results: Vec<(&str, Result<String>, Duration)> = Vec::new();
    for (name, part) in selected {
        println!("\n==== xtask test {name} ====");
        let started = Instant::now();
        let result = part();
        let elapsed = started.elapsed();
        match &result {
            Ok(note) => println!("xtask: {name}: {note} ({})", cmd::format_duration(elapsed)),
            Err(err) => eprintln!("xtask: {name}: FAILED: {err:#}"),
        }
        results.push((name, result, elapsed));
    }

    println!("\n==== xtask test summary ====");
    let mut failed = Vec::new();
    for (name, result, elapsed) in &results {
        let time = cmd::format_duration(*elapsed);
        match result {
            Ok(note) => println!("  {name:<8} {time:>9}  {note}"),
            Err(err) => {
                println!("  {name:<8} {time:>9}  FAILED: {err:#}");
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        bail!("failed parts: {}", failed.join(", "));
    }
    println!("xtask: every part succeeded");
    Ok(())
}

/// fmt, clippy and the native test suites (the conformance suite included).
fn native() -> Result<String> {
    setup::native()?;
    let mut steps = Steps::default();
    steps.run("rustfmt", &mut cargo(&["fmt", "--all", "--", "--check"]));
    steps.run(
        "clippy",
        &mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    );
    steps.run(
        "cargo test",
        &mut cargo(&["test", "--workspace", "--no-fail-fast"]),
    );
    // Docs are part of the product: a broken link or a missing doc fails.
    steps.run(
        "rustdoc",
        cargo(&[
            "doc",
            "--no-deps",
            "-p",
            "unipeer",
            "-p",
            "unipeer-core",
            "-p",
            "unipeer-native",
            "-p",
            "unipeer-server",
        ])
        .env("RUSTDOCFLAGS", "-D warnings"),
    );
    steps.finish()
}

/// clippy and a build for wasm32, then the conformance suite in headless Chromium.
fn wasm() -> Result<String> {
    let toolchain = setup::wasm()?;
    let mut steps = Steps::default();
    steps.run(
        "wasm32 clippy",
        wasm::cargo(toolchain, "clippy")
            .args(WASM_PACKAGES)
            .args(["--", "-D", "warnings"]),
    );
    // Data-channel-only builds leave the browser's media code out (feature `media`).
    steps.run(
        "wasm32 clippy without media",
        wasm::cargo(toolchain, "clippy")
            .args([
                "-p",
                "unipeer",
                "-p",
                "unipeer-wasm",
                "--no-default-features",
            ])
            .args(["--", "-D", "warnings"]),
    );
    steps.run(
        "wasm32 build",
        wasm::cargo(toolchain, "build").args(WASM_PACKAGES),
    );
    // Every workspace package with wasm-bindgen-test tests: the browser backend's own
    // tests (unipeer-wasm) and the conformance suite (unipeer-tests).
    let lock = Lockfile::read(&cmd::root())?;
    let packages = lock.local_dependents("wasm-bindgen-test");
    if packages.is_empty() {
        steps.note("browser tests: no package depends on wasm-bindgen-test yet".into());
    } else {
        let what = format!(
            "browser tests in Chromium, mDNS off ({})",
            packages.join(", ")
        );
        match wasm::cargo_test_in_chromium(toolchain, Mdns::Off) {
            Ok(mut test) => {
                test.arg("--no-fail-fast");
                for package in &packages {
                    test.args(["-p", package]);
                }
                steps.run(&what, &mut test);
            }
            Err(err) => steps.fail(&what, err),
        }
        mdns_run(toolchain, &mut steps);
    }
    // The dual-target example, built as a user would ship it, runs in a page.
    let what = "the `hello` example in a Chromium page";
    match web::build(toolchain, "hello").and_then(|dir| web::check_in_chromium(&dir, "")) {
        Ok(note) => steps.note(format!("{what}: ok ({note})")),
        Err(err) => steps.fail(what, err),
    }
    steps.finish()
}

/// The browser backend with Chromium's default mDNS (`.local`) host candidates, in a
/// network namespace of its own (see wasm/README.md for why).
fn mdns_run(toolchain: wasm::Toolchain, steps: &mut Steps) {
    const TEST: [&str; 4] = ["-p", "unipeer-wasm", "--test", "mdns"];
    steps.run(
        "build the mDNS browser test",
        wasm::cargo(toolchain, "test").args(TEST).arg("--no-run"),
    );
    let what = "browser test in Chromium, default mDNS candidates, own network namespace";
    match wasm::cargo_test_in_chromium(toolchain, Mdns::On) {
        Ok(mut test) => {
            test.arg("--offline")
                .args(TEST)
                .args(["--", "--include-ignored"]);
            steps.run(what, &mut wasm::in_mdns_namespace(&test));
        }
        Err(err) => steps.fail(what, err),
    }
}

/// The server, native nodes and headless Chromium nodes in one room (xtask/src/interop.rs).
fn interop() -> Result<String> {
    crate::interop::run()
}

/// NAT traversal in network-namespace labs (xtask/src/labs.rs).
fn labs() -> Result<String> {
    crate::labs::run()
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.args(args);
    command
}

/// The steps of a part: all run, even after a failure, so one run reports every problem.
#[derive(Default)]
struct Steps {
    failed: Vec<String>,
    notes: Vec<String>,
}

impl Steps {
    fn run(&mut self, what: &str, command: &mut Command) {
        println!("\n---- {what} ----");
        let started = Instant::now();
        let result = cmd::run(command);
        let time = cmd::format_duration(started.elapsed());
        match result {
            Ok(()) => println!("xtask: {what}: ok ({time})"),
            Err(err) => self.fail(&format!("{what} ({time})"), err),
        }
    }

    fn fail(&mut self, what: &str, err: anyhow::Error) {
        eprintln!("xtask: {what}: FAILED: {err:#}");
        self.failed.push(what.to_string());
    }

    fn note(&mut self, note: String) {
        println!("xtask: {note}");
        self.notes.push(note);
    }

    fn finish(self) -> Result<String> {
        if !self.failed.is_empty() {
            bail!("{}", self.failed.join("; "));
        }
        let mut summary = String::from("ok");
        for note in &self.notes {
            summary.push_str("; ");
            summary.push_str(note);
        }
        Ok(summary)
    }
}

/// Every fuzz target for a bounded time (`cargo xtask fuzz` runs longer).
fn fuzz() -> Result<String> {
    fuzzing::run(&fuzzing::TARGETS, fuzzing::TEST_SECONDS)
}
