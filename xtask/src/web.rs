//! The browser side of the dual-target examples (`examples/examples/hello.rs` and
//! `rpc.rs`): build one for wasm32, serve it on 127.0.0.1, and check that it runs in
//! headless Chromium.
//!
//! - [`build`]: the example's page in `target/web/NAME/` (index.html from
//!   `examples/web/NAME.html`, NAME.js, NAME_bg.wasm), built for size: opt-level "z", LTO,
//!   `wasm-bindgen --target web`, `wasm-opt -Oz`.
//! - [`serve`]: a small static file server on 127.0.0.1 (loopback only) for that directory.
//! - [`check_in_chromium`]: serves the page on a free port, loads it (with a query string)
//!   in headless Chromium and returns the lines the example printed, failing unless it
//!   printed "done".
//!
//! Typical use from `cargo xtask web`: `let dir = web::build(setup::wasm()?, "hello")?;
//! web::serve(&dir, "127.0.0.1:8080".parse()?, None)`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::wasm::{self, Toolchain};
use crate::{cmd, setup};

/// The smallest dual-target example (its size is benchmarked).
pub const EXAMPLE: &str = "hello";
/// Every dual-target example with a page.
pub const EXAMPLES: [&str; 3] = ["hello", "rpc", "media"];
const PACKAGE: &str = "unipeer-examples";

/// Builds `example`'s page into `target/web/EXAMPLE/` and returns that directory.
pub fn build(toolchain: Toolchain, example: &str) -> Result<PathBuf> {
    if !EXAMPLES.contains(&example) {
        bail!(
            "no example `{example}` with a page (known: {})",
            EXAMPLES.join(", ")
        );
    }
    let wasm = build_wasm(toolchain, example)?;
    let out = cmd::root().join("target").join("web").join(example);
    bindgen_and_optimize(&wasm, &out, example)?;
    let page = cmd::root()
        .join("examples")
        .join("web")
        .join(format!("{example}.html"));
    std::fs::copy(&page, out.join("index.html"))
        .with_context(|| format!("copying {}", page.display()))?;
    Ok(out)
}

/// `cargo build` of the example for wasm32 with a size profile; returns the `.wasm`.
fn build_wasm(toolchain: Toolchain, example: &str) -> Result<PathBuf> {
    let profile = "wasm-size";
    let mut build = wasm::cargo(toolchain, "build");
    build.args(["-p", PACKAGE, "--example", example, "--profile", profile]);
    if example == EXAMPLE {
        // The smallest data-channel app, as an application without media builds it.
        build.arg("--no-default-features");
    }
    // The profile lives here, not in the workspace's Cargo.toml: only this build uses it.
    for setting in [
        "inherits=\"release\"",
        "opt-level=\"z\"",
        "lto=true",
        "codegen-units=1",
        "panic=\"abort\"",
        "debug=0",
    ] {
        build.args(["--config", &format!("profile.{profile}.{setting}")]);
    }
    // With std built from source, panics abort without their formatting machinery, as a
    // browser build that never unwinds should: about 10 KB less gzipped. Debian's toolchain
    // always builds std (wasm::cargo adds -Zbuild-std); rustup's needs its rust-src.
    let build_std = match toolchain {
        Toolchain::Debian => true,
        Toolchain::Rustup => {
            let src = cmd::succeeds(Command::new("rustup").args(["component", "add", "rust-src"]));
            if src {
                build
                    .arg("-Zbuild-std=std,panic_abort")
                    .env("RUSTC_BOOTSTRAP", "1");
            } else {
                println!(
                    "xtask: rust-src is missing: the wasm size includes std's panic formatting"
                );
            }
            src
        }
    };
    // No reference types: with them wasm-bindgen adds an externref table, and Debian's
    // wasm-opt (binaryen 108) then exports the wrong table (the page fails with
    // "WebAssembly.Table.set(): Argument 1 is invalid for table") or cannot read the module
    // at all (`table.fill`). Without them the JS glue keeps its objects in a JS array.
    let mut rustflags = String::from("-Ctarget-feature=-reference-types");
    if build_std {
        rustflags.push_str(" -Zunstable-options -Cpanic=immediate-abort");
    }
    build.env("RUSTFLAGS", rustflags);
    build.arg("--message-format=json-render-diagnostics");
    artifact(&mut build, example, ".wasm")
}

/// Runs a `cargo build --message-format=json...` and returns the file it produced for
/// `target` whose name ends with `suffix`.
pub fn artifact(build: &mut Command, target: &str, suffix: &str) -> Result<PathBuf> {
    let line = cmd::display(build);
    println!("$ {line}");
    let out = build
        .stdout(Stdio::piped())
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    if !out.status.success() {
        bail!("`{line}` failed ({})", out.status);
    }
    let mut found = None;
    for message in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(m) = serde_json::from_str::<serde_json::Value>(message) else {
            continue;
        };
        if m["reason"] != "compiler-artifact" || m["target"]["name"] != target {
            continue;
        }
        let files = m["filenames"].as_array().into_iter().flatten();
        if let Some(f) = files
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(suffix))
        {
            found = Some(PathBuf::from(f));
        }
    }
    found.with_context(|| format!("`{line}` reported no {suffix} file for {target}"))
}

/// `wasm-bindgen --target web` into `out`, then `wasm-opt -Oz` in place.
fn bindgen_and_optimize(wasm: &Path, out: &Path, example: &str) -> Result<()> {
    setup::apt_install(&["binaryen"])?;
    let bindgen = cmd::cargo_bin("wasm-bindgen")
        .context("wasm-bindgen is not installed: run `cargo xtask setup wasm`")?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    cmd::run(
        Command::new(bindgen)
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(out)
            .arg(wasm),
    )?;
    let module = out.join(format!("{example}_bg.wasm"));
    cmd::run(
        Command::new("wasm-opt")
            .arg("-Oz")
            .args(["--strip-debug", "--strip-producers"])
            // What rustc's wasm32 target emits by default (less reference types, see
            // `build_wasm`).
            .args([
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-multivalue",
            ])
            .arg(&module)
            .arg("-o")
            .arg(&module),
    )
}

/// Serves `dir` on `addr` (a 127.0.0.1 address) until `stop_after` passes, or forever.
pub fn serve(dir: &Path, addr: SocketAddr, stop_after: Option<Duration>) -> Result<()> {
    let listener = bind(addr)?;
    println!(
        "xtask: serving {} on http://{}/",
        dir.display(),
        listener.local_addr()?
    );
    serve_on(listener, dir.to_path_buf(), stop_after)
}

fn bind(addr: SocketAddr) -> Result<TcpListener> {
    if !addr.ip().is_loopback() {
        bail!("the example is served on loopback only, not {addr}");
    }
    TcpListener::bind(addr).with_context(|| format!("binding {addr}"))
}

fn serve_on(listener: TcpListener, dir: PathBuf, stop_after: Option<Duration>) -> Result<()> {
    let deadline = stop_after.map(|d| Instant::now() + d);
    listener.set_nonblocking(true)?;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                if let Err(err) = respond(stream, &dir) {
                    eprintln!("xtask: web: {err:#}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Answers one HTTP/1.x GET for a file of `dir` (no directory listing, no `..`).
fn respond(mut stream: TcpStream, dir: &Path) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Read (and ignore) the headers.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or("/");
    let (status, kind, body) = static_file(dir, path)?;
    write_response(&mut stream, status, kind, &body)
}

/// The file `path` names in `dir`: only plain file names, so a request cannot leave `dir`.
pub fn static_file(dir: &Path, path: &str) -> Result<(&'static str, &'static str, Vec<u8>)> {
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        name => name,
    };
    let file = (!name.contains("..") && !name.contains('/'))
        .then(|| dir.join(name))
        .filter(|p| p.is_file());
    Ok(match file {
        Some(p) => ("200 OK", content_type(name), std::fs::read(p)?),
        None => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
    })
}

/// Writes a complete, uncached HTTP/1.1 response and ends the exchange.
pub fn write_response(
    stream: &mut impl Write,
    status: &str,
    kind: &str,
    body: &[u8],
) -> Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    Ok(())
}

/// The `Content-Type` for a file served to the page.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Serves the page in `dir` on a free loopback port, loads it with `query` (`""` for none)
/// in headless Chromium (driven through ChromeDriver) and returns what the example printed.
/// Fails unless it printed "done" within a minute.
pub fn check_in_chromium(dir: &Path, query: &str) -> Result<String> {
    setup::apt_install(&["chromium", "chromium-driver"])?;
    let listener = bind("127.0.0.1:0".parse()?)?;
    let url = format!("http://{}/{query}", listener.local_addr()?);
    let served = dir.to_path_buf();
    std::thread::spawn(move || serve_on(listener, served, Some(Duration::from_secs(120))));

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut driver = Command::new(wasm::CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting chromedriver")?;
    let result = drive(port, &url);
    let _ = driver.kill();
    let _ = driver.wait();
    let printed = result?;
    if !printed.lines().any(|l| l.trim() == "done") {
        bail!("the example did not finish in Chromium; it printed:\n{printed}");
    }
    Ok(printed)
}

/// Opens `url` in a new ChromeDriver session on `port` and polls the page's output.
fn drive(port: u16, url: &str) -> Result<String> {
    let driver = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let session = loop {
        let capabilities = serde_json::json!({
            "capabilities": { "alwaysMatch": { "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": wasm::chromium_args(wasm::Mdns::Off, None),
            }}}
        });
        match webdriver(&driver, "POST", "/session", &capabilities) {
            Ok(v) => match v["value"]["sessionId"].as_str() {
                Some(id) => break id.to_string(),
                None => bail!("chromedriver refused the session: {v}"),
            },
            // chromedriver may still be starting.
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e.context("talking to chromedriver")),
        }
    };
    let base = format!("/session/{session}");
    let result = (|| {
        webdriver(
            &driver,
            "POST",
            &format!("{base}/url"),
            &serde_json::json!({ "url": url }),
        )?;
        let script = serde_json::json!({
            "script": "const o = document.getElementById('out'); return o ? o.textContent : '';",
            "args": [],
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = webdriver(&driver, "POST", &format!("{base}/execute/sync"), &script)?;
            let printed = v["value"].as_str().unwrap_or_default().to_string();
            let finished = printed
                .lines()
                .any(|l| l.trim() == "done" || l.starts_with("failed"));
            if finished || Instant::now() >= deadline {
                return Ok(printed);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })();
    let _ = webdriver(&driver, "DELETE", &base, &serde_json::Value::Null);
    result
}

/// One WebDriver command: an HTTP/1.1 request with a JSON body; returns the JSON answer.
fn webdriver(
    addr: &str,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver keeps the connection open: read exactly Content-Length bytes.
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            }
        }
    }
    let mut json = vec![0; length];
    reader.read_exact(&mut json)?;
    serde_json::from_slice(&json).with_context(|| {
        format!(
            "chromedriver answered {method} {path} with {}",
            String::from_utf8_lossy(&json)
        )
    })
}
