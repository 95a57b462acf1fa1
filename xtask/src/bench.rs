//! `cargo xtask bench`: unipeer against two baselines, side by side, in one run.
//!
//! Systems (each a separate process, run one after another on 127.0.0.1 only):
//! - `unipeer`: `bench/unipeer` (crate `unipeer-bench`, in this workspace);
//! - `webrtc-rs`: `bench/baselines`, binary `webrtc-rs-bench` (its own Cargo workspace, so
//!   the normal build never compiles the heavy `webrtc` crate; built into `bench/target`);
//! - `libdatachannel`: `bench/node/bench.mjs` on npm `node-datachannel` (`npm ci` first if
//!   `bench/node/node_modules` is missing);
//! - `udp`: raw UDP ping-pong (`udp-bench` in `bench/baselines`), the floor for any RTT.
//! - `browser`: native <-> headless Chromium and Chromium <-> Chromium over the mesh
//!   (xtask/src/bench_browser.rs); its keys are its own, outside the table below.
//! - `rpc`: unipeer's RPC layer (`unipeer-bench --phases rpc`): a small call's round trip
//!   against a raw data-channel ping-pong on the same peers in the same process, and calls
//!   per second with 64 in flight; also outside the table, with its own ratio line.
//!
//! Each prints one JSON object (with an `errors` array if some of its phases failed: the
//! command then fails, after writing what was measured). They are merged into
//! `target/bench/results.json` (other top-level keys already there, such as results of other
//! benchmarks, are kept) and printed as a table with ratios unipeer / baseline, computed only
//! against baselines measured in this same run.
//!
//! Usage: `cargo xtask bench [--only SYSTEM[,SYSTEM...]]`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

use crate::cmd;

const SYSTEMS: [&str; 7] = [
    "unipeer",
    "rpc",
    "webrtc-rs",
    "libdatachannel",
    "udp",
    "browser",
    "wasm",
];
/// Upper bound for one benchmark process (each also bounds its own phases).
const RUN_LIMIT: Duration = Duration::from_secs(20 * 60);

/// Table rows: (key, label, higher is better).
const METRICS: [(&str, &str, bool); 8] = [
    ("connect_ms_p50", "connect p50 (ms)", false),
    ("connect_ms_max", "connect max (ms)", false),
    ("throughput_mbs_16k", "throughput 16 KiB msgs (MB/s)", true),
    ("throughput_mbs_64k", "throughput 64 KiB msgs (MB/s)", true),
    ("rtt_us_p50", "RTT p50 (us)", false),
    ("rtt_us_p99", "RTT p99 (us)", false),
    ("rss_kib_per_peer", "memory per peer (KiB)", false),
    (
        "idle_cpu_pct_1000_peers",
        "idle CPU, 1000 peers (% core)",
        false,
    ),
];

const USAGE: &str = "\
usage: cargo xtask bench [--only SYSTEM[,SYSTEM...]]

Runs the benchmarks on loopback and writes target/bench/results.json.
systems: unipeer, rpc, webrtc-rs, libdatachannel, udp, browser, wasm (default: all)";

pub fn run(args: &[String]) -> Result<()> {
    let selected = parse_args(args)?;
    let Some(selected) = selected else {
        println!("{USAGE}");
        return Ok(());
    };
    let root = cmd::root();

    // Build everything first, so no build competes with a measurement. A system whose
    // build fails is reported and skipped; the others still run.
    let mut failures = Vec::new();
    let mut runnable = Vec::new();
    let mut baselines_built = None;
    for system in &selected {
        let built = match system.as_str() {
            "unipeer" | "rpc" => {
                cmd::run(Command::new("cargo").args(["build", "--release", "-p", "unipeer-bench"]))
            }
            "webrtc-rs" | "udp" => {
                // One build serves both binaries.
                let ok = *baselines_built.get_or_insert_with(|| build_baselines(&root).is_ok());
                if ok {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("bench/baselines did not build"))
                }
            }
            "libdatachannel" => node_setup(&root),
            // Builds what it needs when it runs.
            "browser" | "wasm" => Ok(()),
            other => Err(anyhow::anyhow!("unknown system `{other}`")),
        };
        match built {
            Ok(()) => runnable.push(system.clone()),
            Err(e) => {
                eprintln!("{system}: could not be built: {e:#}");
                failures.push(format!("{system}: build: {e:#}"));
            }
        }
    }

    let mut results = Map::new();
    for system in &runnable {
        let started = Instant::now();
        println!("\n== {system}");
        match run_system(&root, system) {
            Ok(v) => {
                println!(
                    "{system}: done in {}",
                    cmd::format_duration(started.elapsed())
                );
                // A bench may report failed phases and still give the other metrics.
                if let Some(errors) = v.get("errors").and_then(Value::as_array) {
                    for e in errors {
                        failures.push(format!("{system}: {}", e.as_str().unwrap_or("?")));
                    }
                }
                results.insert(system.clone(), v);
            }
            Err(e) => {
                eprintln!("{system}: FAILED: {e:#}");
                failures.push(format!("{system}: {e:#}"));
            }
        }
    }

    let path = write_results(&root, &results)?;
    println!("\n{}", table(&results));
    println!("wrote {}", path.display());
    if !failures.is_empty() {
        bail!("benchmarks failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// `None` for `--help`.
fn parse_args(args: &[String]) -> Result<Option<Vec<String>>> {
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let list = match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(None),
            "--only" => it
                .next()
                .context("--only needs a list of systems")?
                .as_str(),
            other => match other.strip_prefix("--only=") {
                Some(list) => list,
                None => bail!("unknown argument `{other}`\n\n{USAGE}"),
            },
        };
        for s in list.split(',').filter(|s| !s.is_empty()) {
            if !SYSTEMS.contains(&s) {
                bail!("unknown system `{s}` (known: {})", SYSTEMS.join(", "));
            }
            if !only.iter().any(|x| x == s) {
                only.push(s.to_string());
            }
        }
    }
    Ok(Some(if only.is_empty() {
        SYSTEMS.iter().map(|s| s.to_string()).collect()
    } else {
        // Keep the canonical order whatever order was asked for.
        SYSTEMS
            .iter()
            .filter(|s| only.iter().any(|x| x == *s))
            .map(|s| s.to_string())
            .collect()
    }))
}

/// Builds `bench/baselines` (its own workspace) into `bench/target`.
fn build_baselines(root: &Path) -> Result<()> {
    cmd::run(
        Command::new("cargo")
            .args(["build", "--release", "--manifest-path"])
            .arg(root.join("bench/baselines/Cargo.toml"))
            .arg("--bins")
            .env("CARGO_TARGET_DIR", root.join("bench/target")),
    )
}

/// Installs node-datachannel (with its prebuilt native binary, from the npm registry) if
/// `bench/node/node_modules` lacks it.
fn node_setup(root: &Path) -> Result<()> {
    if cmd::which("node").is_none() || cmd::which("npm").is_none() {
        bail!(
            "node and npm are needed for the libdatachannel baseline (apt-get install nodejs npm)"
        );
    }
    let dir = root.join("bench/node");
    if !dir.join("node_modules/node-datachannel").is_dir() {
        cmd::run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )?;
    }
    Ok(())
}

fn run_system(root: &Path, system: &str) -> Result<Value> {
    if system == "browser" {
        return crate::bench_browser::measure();
    }
    if system == "wasm" {
        // The size of the smallest data-channel app (wasm + JS glue), raw and gzipped.
        return crate::wasm_size::measure();
    }
    let mut command = match system {
        "unipeer" | "rpc" => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"));
            let mut c = Command::new(target.join("release/unipeer-bench"));
            if system == "rpc" {
                c.args(["--phases", "rpc"]);
            }
            c
        }
        "webrtc-rs" => Command::new(root.join("bench/target/release/webrtc-rs-bench")),
        "udp" => Command::new(root.join("bench/target/release/udp-bench")),
        "libdatachannel" => {
            let mut c = Command::new("node");
            c.args(["--expose-gc", "bench.mjs"])
                .current_dir(root.join("bench/node"));
            c
        }
        other => bail!("unknown system `{other}`"),
    };
    run_json(&mut command, RUN_LIMIT)
}

/// Runs `command` (stderr shown as it goes), kills it after `limit`, and parses the last
/// line of its stdout as a JSON object.
fn run_json(command: &mut Command, limit: Duration) -> Result<Value> {
    let line = cmd::display(command);
    println!("$ {line}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("could not start `{line}`"))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "`{line}` took longer than {}s and was killed",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reader.join().expect("stdout reader panicked")?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    let last = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let value: Value = serde_json::from_str(last)
        .with_context(|| format!("`{line}` did not end its output with a JSON object: {last:?}"))?;
    if !value.is_object() {
        bail!("`{line}` printed JSON that is not an object: {last}");
    }
    Ok(value)
}

/// Merges `results` into `target/bench/results.json`, keeping every other top-level key.
fn write_results(root: &Path, results: &Map<String, Value>) -> Result<PathBuf> {
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    let mut merged = match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            _ => {
                eprintln!(
                    "warning: {} was not a JSON object; starting afresh",
                    path.display()
                );
                Map::new()
            }
        },
        Err(_) => Map::new(),
    };
    for (k, v) in results {
        merged.insert(k.clone(), v.clone());
    }
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&Value::Object(merged))? + "\n",
    )?;
    Ok(path)
}

fn number(results: &Map<String, Value>, system: &str, key: &str) -> Option<f64> {
    results.get(system)?.get(key)?.as_f64()
}

fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => {
            let r = a / b;
            if r >= 10.0 {
                format!("{r:.1}x")
            } else if r >= 0.1 {
                format!("{r:.2}x")
            } else {
                format!("{r:.4}x")
            }
        }
        _ => "-".into(),
    }
}

/// One row per metric: the values of each system measured in this run, then
/// unipeer / webrtc-rs, unipeer / libdatachannel and (for RTT) unipeer / udp.
fn table(results: &Map<String, Value>) -> String {
    let header = [
        "metric",
        "unipeer",
        "webrtc-rs",
        "libdatachannel",
        "udp",
        "u/webrtc-rs",
        "u/libdc",
        "u/udp",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for (key, label, higher_better) in METRICS {
        let u = number(results, "unipeer", key);
        let w = number(results, "webrtc-rs", key);
        let l = number(results, "libdatachannel", key);
        let udp = number(results, "udp", key);
        if [u, w, l, udp].iter().all(Option::is_none) {
            continue;
        }
        let arrow = if higher_better { "^" } else { "v" };
        rows.push(vec![
            format!("{label} {arrow}"),
            fmt_value(u),
            fmt_value(w),
            fmt_value(l),
            fmt_value(udp),
            fmt_ratio(u, w),
            fmt_ratio(u, l),
            fmt_ratio(u, udp),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c == 0 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out.push_str(
        "ratios are unipeer / baseline, both measured in this run; \
         ^ higher is better, v lower is better\n",
    );
    if let (Some(call), Some(raw)) = (
        number(results, "rpc", "call_us_p50"),
        number(results, "rpc", "raw_rtt_us_p50"),
    ) {
        out.push_str(&format!(
            "rpc: small call p50 {} us against raw ping-pong {} us ({}, target <= 1.3x); \
             {} calls/s with 64 in flight\n",
            fmt_value(Some(call)),
            fmt_value(Some(raw)),
            fmt_ratio(Some(call), Some(raw)),
            fmt_value(number(results, "rpc", "calls_per_s_64_in_flight")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_filters_and_keeps_canonical_order() {
        assert_eq!(
            parse_args(&args(&[])).unwrap().unwrap().len(),
            SYSTEMS.len()
        );
        assert_eq!(
            parse_args(&args(&["--only", "udp,unipeer"]))
                .unwrap()
                .unwrap(),
            args(&["unipeer", "udp"])
        );
        assert_eq!(
            parse_args(&args(&["--only=webrtc-rs"])).unwrap().unwrap(),
            args(&["webrtc-rs"])
        );
        assert!(parse_args(&args(&["--only", "chrome"])).is_err());
        assert!(parse_args(&args(&["--fast"])).is_err());
        assert!(parse_args(&args(&["--help"])).unwrap().is_none());
    }

    #[test]
    fn table_has_ratios_only_for_measured_systems() {
        let results: Map<String, Value> = serde_json::from_str(
            r#"{"unipeer": {"rtt_us_p50": 100.0, "throughput_mbs_64k": 50.0},
                "webrtc-rs": {"rtt_us_p50": 200.0},
                "udp": {"rtt_us_p50": 10.0}}"#,
        )
        .unwrap();
        let t = table(&results);
        let rtt = t.lines().find(|l| l.starts_with("RTT p50")).unwrap();
        assert!(rtt.contains("0.50x") && rtt.contains("10.0x"), "{rtt}");
        let tp = t.lines().find(|l| l.starts_with("throughput 64")).unwrap();
        assert!(tp.ends_with('-'), "{tp}");
        assert!(!t.contains("idle CPU"));
    }

    #[test]
    fn results_merge_keeps_other_keys() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("target/bench")).unwrap();
        std::fs::write(
            dir.join("target/bench/results.json"),
            r#"{"wasm": {"x": 1}, "udp": {"rtt_us_p50": 1.0}}"#,
        )
        .unwrap();
        let mut new = Map::new();
        new.insert("udp".into(), serde_json::json!({"rtt_us_p50": 2.0}));
        let path = write_results(&dir, &new).unwrap();
        let merged: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(merged["wasm"]["x"], 1);
        assert_eq!(merged["udp"]["rtt_us_p50"], 2.0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
