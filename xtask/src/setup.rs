//! Installs what builds and tests need: Debian packages, toolchains, cargo tools.
//! Every step checks first, so a second run is quick and installs nothing.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::lockfile::Lockfile;
use crate::wasm::{self, Toolchain};

/// Native builds need no Debian packages (aws-lc-sys, str0m's crypto, builds its C code
/// with the `cc` crate and the machine's gcc; no cmake, clang or Go). The media tests
/// check the files they write with ffprobe, from ffmpeg.
const NATIVE_APT: &[&str] = &["ffmpeg"];

/// Debian's Rust 1.96 with std sources, for `-Zbuild-std` on wasm32: rust-web-llvm
/// provides /usr/bin/rust-lld (a link to lld-22's binary), rust-web-clippy `cargo clippy`.
const DEBIAN_WASM_APT: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-llvm",
    "rust-web-clippy",
    "lld-22",
];

/// Headless browser tests: /usr/bin/chromium and /usr/bin/chromedriver.
// iproute2: the mDNS browser test runs in a network namespace of its own.
const BROWSER_APT: &[&str] = &["chromium", "chromium-driver", "iproute2"];

/// The network labs (`cargo xtask test labs`): namespaces and veths (iproute2), NAT
/// (iptables), the STUN/TURN server (coturn's `turnserver`; not started as a service), and
/// openssl for its short-lived credentials.
const LABS_APT: &[&str] = &["iproute2", "iptables", "coturn", "openssl"];

/// How long `rustup target add` may try before we fall back to Debian's toolchain
/// (on a machine that cannot reach rustup's server it fails or hangs).
const RUSTUP_TARGET_ADD_LIMIT: Duration = Duration::from_secs(60);

/// `cargo xtask setup [native|wasm|all]`
pub fn run(args: &[String]) -> Result<()> {
    let scope = match args {
        [] => "all",
        [one] => one.as_str(),
        _ => bail!("usage: cargo xtask setup [native|wasm|labs|all]"),
    };
    match scope {
        "native" => native()?,
        "wasm" => {
            wasm()?;
        }
        "labs" => labs()?,
        "all" => {
            native()?;
            wasm()?;
            labs()?;
        }
        other => bail!("unknown setup scope `{other}`: use native, wasm, labs or all"),
    }
    println!("xtask: setup {scope}: done");
    Ok(())
}

/// What the network labs run: iproute2, iptables and coturn.
pub fn labs() -> Result<()> {
    apt_install(LABS_APT)
}

/// rustfmt and clippy for the native part.
pub fn native() -> Result<()> {
    apt_install(NATIVE_APT)?;
    for (tool, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        if !cmd::succeeds(Command::new("cargo").args([tool, "--version"])) {
            cmd::run(Command::new("rustup").args(["component", "add", component]))
                .with_context(|| format!("`cargo {tool}` is missing and could not be installed"))?;
        }
    }
    Ok(())
}

/// The wasm32 toolchain and, once the workspace uses wasm-bindgen, the browser test tools.
pub fn wasm() -> Result<Toolchain> {
    let toolchain = wasm_toolchain()?;
    println!("xtask: wasm32 toolchain: {toolchain:?}");
    let lock = Lockfile::read(&cmd::root())?;
    if let Some(version) = lock.single_version("wasm-bindgen")? {
        browser_tests(version)?;
    } else {
        println!("xtask: Cargo.lock has no wasm-bindgen yet: browser test tools not needed");
    }
    Ok(toolchain)
}

/// Pick (and install if need be) the toolchain that builds wasm32:
/// 1. rustup's active toolchain if it has the wasm32 target;
/// 2. Debian's toolchain if it is already set up (so repeated runs do not retry rustup);
/// 3. `rustup target add`, limited in time;
/// 4. Debian's rustc-web, linked into rustup as `deb-web`.
///
/// `UNIPEER_WASM_TOOLCHAIN=rustup|debian` forces a choice.
pub fn wasm_toolchain() -> Result<Toolchain> {
    match std::env::var("UNIPEER_WASM_TOOLCHAIN").as_deref() {
        Ok("rustup") => {
            if !rustup_has_wasm_target() {
                add_rustup_wasm_target()?;
            }
            return Ok(Toolchain::Rustup);
        }
        Ok("debian") => {
            debian_toolchain()?;
            return Ok(Toolchain::Debian);
        }
        Ok(other) => bail!("UNIPEER_WASM_TOOLCHAIN={other}: use `rustup` or `debian`"),
        Err(_) => {}
    }
    if rustup_has_wasm_target() {
        return Ok(Toolchain::Rustup);
    }
    if debian_toolchain_ready() {
        return Ok(Toolchain::Debian);
    }
    match add_rustup_wasm_target() {
        Ok(()) => Ok(Toolchain::Rustup),
        Err(err) => {
            println!("xtask: {err:#}; using Debian's rustc-web instead");
            debian_toolchain()?;
            Ok(Toolchain::Debian)
        }
    }
}

fn rustup_has_wasm_target() -> bool {
    cmd::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .is_some_and(|out| out.lines().any(|l| l.trim() == wasm::TARGET))
}

fn add_rustup_wasm_target() -> Result<()> {
    let started = Instant::now();
    let status = cmd::run_with_timeout(
        Command::new("rustup").args(["target", "add", wasm::TARGET]),
        RUSTUP_TARGET_ADD_LIMIT,
    )?;
    match status {
        Some(s) if s.success() && rustup_has_wasm_target() => Ok(()),
        Some(s) => bail!("`rustup target add {}` failed ({s})", wasm::TARGET),
        None => bail!(
            "`rustup target add {}` gave no answer in {}",
            wasm::TARGET,
            cmd::format_duration(started.elapsed())
        ),
    }
}

fn debian_toolchain_ready() -> bool {
    DEBIAN_WASM_APT.iter().all(|p| dpkg_installed(p)) && debian_toolchain_linked()
}

fn debian_toolchain_linked() -> bool {
    cmd::output(Command::new("rustup").args(["toolchain", "list"])).is_some_and(|out| {
        out.lines()
            .any(|l| l.split_whitespace().next() == Some(wasm::DEBIAN_TOOLCHAIN))
    })
}

/// Install Debian's rustc-web and link it into rustup as `deb-web`.
fn debian_toolchain() -> Result<()> {
    apt_install(DEBIAN_WASM_APT)?;
    if !debian_toolchain_linked() {
        cmd::run(Command::new("rustup").args([
            "toolchain",
            "link",
            wasm::DEBIAN_TOOLCHAIN,
            "/usr",
        ]))
        .context("linking Debian's Rust (/usr/bin/rustc) into rustup")?;
    }
    Ok(())
}

/// Chromium, ChromeDriver and wasm-bindgen-cli at exactly Cargo.lock's wasm-bindgen version
/// (the CLI must match the library that generated the bindings).
fn browser_tests(version: &str) -> Result<()> {
    apt_install(BROWSER_APT)?;
    let wanted = format!("wasm-bindgen-test-runner {version}");
    let installed = cmd::cargo_bin("wasm-bindgen-test-runner")
        .and_then(|runner| cmd::output(Command::new(runner).arg("--version")));
    if installed.as_deref().map(str::trim) == Some(wanted.as_str()) {
        return Ok(());
    }
    if let Some(other) = installed {
        println!("xtask: found {}, need {wanted}: reinstalling", other.trim());
    }
    // No `--locked`: the crate's lock file names a version the registry mirror lacks.
    let started = Instant::now();
    cmd::run(Command::new("cargo").args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        version,
        "--force",
    ]))
    .context("installing wasm-bindgen-cli (gives wasm-bindgen-test-runner)")?;
    println!(
        "xtask: wasm-bindgen-cli {version} installed in {}",
        cmd::format_duration(started.elapsed())
    );
    Ok(())
}

/// `dpkg` says the package is installed.
pub fn dpkg_installed(package: &str) -> bool {
    cmd::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|status| status.trim() == "install ok installed")
}

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

/// Install the Debian packages that are missing; `apt-get update` once per run, and only
/// when something is missing.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing Debian packages: {}", missing.join(" "));
    if cmd::which("apt-get").is_none() {
        bail!(
            "apt-get not found: this setup supports Debian; install the equivalent of `{}` yourself",
            missing.join(" ")
        );
    }
    if !APT_UPDATED.swap(true, Ordering::SeqCst) {
        cmd::run(apt()?.args(["update", "-q"]))?;
    }
    cmd::run(apt()?.args(["install", "-y", "-q"]).args(&missing))
        .with_context(|| format!("installing Debian packages {}", missing.join(" ")))
}

/// `apt-get`, through sudo when we are not root.
fn apt() -> Result<Command> {
    let root = cmd::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    let mut command = if root {
        Command::new("apt-get")
    } else if cmd::which("sudo").is_some() {
        let mut sudo = Command::new("sudo");
        sudo.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        sudo
    } else {
        bail!("installing Debian packages needs root: run as root or install sudo");
    };
    command.env("DEBIAN_FRONTEND", "noninteractive");
    Ok(command)
}
