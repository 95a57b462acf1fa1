//! How to invoke cargo for wasm32, and how to configure headless Chromium for
//! wasm-bindgen-test-runner.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

pub const TARGET: &str = "wasm32-unknown-unknown";

/// Name under which Debian's rustc-web/cargo-web (in /usr) is linked into rustup.
pub const DEBIAN_TOOLCHAIN: &str = "deb-web";

/// Where ChromeDriver lives once Debian's chromium-driver is installed.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The toolchain that builds wasm32 code here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// rustup's active toolchain with its `wasm32-unknown-unknown` target installed.
    Rustup,
    /// Debian's rustc-web (linked into rustup as `deb-web`), which ships no
    /// prebuilt wasm32 std: std is built from rust-web-src with `-Zbuild-std`.
    Debian,
}

/// `cargo <subcommand>` for wasm32: the toolchain, environment and flags that every
/// wasm command needs. Append package selection and the rest, e.g.
/// `wasm::cargo(tc, "clippy").args(["-p", "unipeer", "--", "-D", "warnings"])`.
pub fn cargo(toolchain: Toolchain, subcommand: &str) -> Command {
    let mut command = Command::new("cargo");
    match toolchain {
        Toolchain::Rustup => {
            command.arg(subcommand);
        }
        Toolchain::Debian => {
            command
                .arg(format!("+{DEBIAN_TOOLCHAIN}"))
                .arg(subcommand)
                .arg("-Zbuild-std=std,panic_abort")
                // -Z flags on a stable-branded compiler.
                .env("RUSTC_BOOTSTRAP", "1")
                // Its own target dir: another compiler (and std built from source)
                // must not invalidate the native build's artifacts, nor they its.
                .env("CARGO_TARGET_DIR", cmd::root().join("target").join("wasm"))
                // `cargo run` (which runs xtask) points this at rustup's toolchain libraries.
                .env_remove("LD_LIBRARY_PATH");
        }
    }
    command.arg("--target").arg(TARGET);
    command
}

/// Whether Chromium hides host candidates behind mDNS `.local` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mdns {
    /// Chromium's default: host candidates are random `<uuid>.local` names.
    On,
    /// `--disable-features=WebRtcHideLocalIpsWithMdns`: host candidates carry IP addresses.
    Off,
}

impl Mdns {
    pub fn name(self) -> &'static str {
        match self {
            Mdns::On => "mdns-on",
            Mdns::Off => "mdns-off",
        }
    }
}

/// Command-line switches for headless Chromium running WebRTC tests as root on a
/// machine whose network is loopback only. `user_data_dir`: a fresh, empty profile
/// directory; pass `None` under ChromeDriver, which makes a fresh one per session.
pub fn chromium_args(mdns: Mdns, user_data_dir: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox", // we run as root
        "--allow-loopback-in-peer-connection",
        // The leak test collects garbage between peers: Chromium refuses a 501st live
        // RTCPeerConnection.
        "--js-flags=--expose-gc",
        // The machine's network is closed: keep Chromium from calling home.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-gpu",
    ]
    .map(String::from)
    .to_vec();
    if mdns == Mdns::Off {
        args.push("--disable-features=WebRtcHideLocalIpsWithMdns".into());
        // Grant media permission without a prompt: without it Chromium may gather no
        // host candidates where there is no default route. (A media permission also
        // turns mDNS hiding off, so the mDNS run goes without.)
        args.push("--use-fake-ui-for-media-stream".into());
        args.push("--use-fake-device-for-media-stream".into());
    }
    if let Some(dir) = user_data_dir {
        args.push(format!("--user-data-dir={}", dir.display()));
    }
    args
}

/// Write the WebDriver capabilities that give Chromium [`chromium_args`] and return the
/// file's path. wasm-bindgen-test-runner reads the file named by
/// `WASM_BINDGEN_TEST_WEBDRIVER_JSON` (else `./webdriver.json`).
pub fn write_webdriver_json(mdns: Mdns) -> Result<PathBuf> {
    let dir = cmd::root().join("target").join("xtask");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("webdriver-{}.json", mdns.name()));
    let args: Vec<String> = chromium_args(mdns, None)
        .iter()
        .map(|a| json_string(a))
        .collect();
    let json = format!(
        "{{\n  \"goog:chromeOptions\": {{\n    \"binary\": \"/usr/bin/chromium\",\n    \"args\": [\n      {}\n    ]\n  }}\n}}\n",
        args.join(",\n      ")
    );
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `cargo test` for wasm32 in headless Chromium through wasm-bindgen-test-runner.
pub fn cargo_test_in_chromium(toolchain: Toolchain, mdns: Mdns) -> Result<Command> {
    let webdriver_json = write_webdriver_json(mdns)?;
    let runner = cmd::cargo_bin("wasm-bindgen-test-runner")
        .context("wasm-bindgen-test-runner is not on PATH: run `cargo xtask setup wasm`")?;
    let mut command = cargo(toolchain, "test");
    command
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
        .env("CHROMEDRIVER", CHROMEDRIVER)
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", webdriver_json);
    // The runner's limit is for a whole test binary in the browser (default 20 s).
    if std::env::var_os("WASM_BINDGEN_TEST_TIMEOUT").is_none() {
        command.env("WASM_BINDGEN_TEST_TIMEOUT", "300");
    }
    Ok(command)
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `inner`, run in a new network namespace holding loopback and one veth with a default
/// route: Chromium then has a real interface to hide behind an mDNS `.local` name, and its
/// multicast stays inside the namespace. The namespace has no registry access, so build
/// before and run cargo `--offline`.
pub fn in_mdns_namespace(inner: &Command) -> Command {
    const SETUP: &str = "set -e
ip link set lo up
ip link add d0 type veth peer name d1
ip link set d1 up
ip addr add 198.18.0.1/24 dev d0
ip link set d0 multicast on up
ip route add default via 198.18.0.254 dev d0
exec \"$@\"";
    let mut command = Command::new("unshare");
    command.args(["-n", "sh", "-c", SETUP, "sh"]);
    command.arg(inner.get_program()).args(inner.get_args());
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => command.env(key, v),
            None => command.env_remove(key),
        };
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdns_switch() {
        let off = chromium_args(Mdns::Off, None);
        let on = chromium_args(Mdns::On, Some(Path::new("/tmp/p")));
        assert!(off.contains(&"--disable-features=WebRtcHideLocalIpsWithMdns".to_string()));
        assert!(!on.iter().any(|a| a.contains("WebRtcHideLocalIpsWithMdns")));
        assert!(on.contains(&"--user-data-dir=/tmp/p".to_string()));
        assert!(!off.iter().any(|a| a.starts_with("--user-data-dir")));
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn debian_invocation() {
        let c = cargo(Toolchain::Debian, "build");
        let line = cmd::display(&c);
        assert!(line.contains("RUSTC_BOOTSTRAP=1"), "{line}");
        assert!(
            line.ends_with(
                "cargo +deb-web build -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown"
            ),
            "{line}"
        );
    }
}
