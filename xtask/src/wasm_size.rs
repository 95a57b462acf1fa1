//! The size of the smallest data-channel example in the browser, for `cargo xtask bench`:
//! `examples/examples/hello.rs` (two peers, a channel, messages both ways) built as
//! [`crate::web::build`] does it (opt-level "z", LTO, `wasm-bindgen --target web`,
//! `wasm-opt -Oz`), wasm module and JS glue together, raw and gzipped (`gzip -9`, each
//! file on its own, as a server would send them).
//!
//! Call [`measure`] from the bench and put its value under the `"wasm"` key of
//! `target/bench/results.json`: `{"raw_bytes": n, "gz_bytes": n}`. Target: under 40 KB
//! gzipped.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{setup, web};

/// Builds the example for the browser and returns `{"raw_bytes": n, "gz_bytes": n}`.
pub fn measure() -> Result<Value> {
    let toolchain = setup::wasm()?;
    let dir = web::build(toolchain, web::EXAMPLE)?;
    let mut raw = 0;
    let mut gz = 0;
    for file in [
        format!("{}_bg.wasm", web::EXAMPLE),
        format!("{}.js", web::EXAMPLE),
    ] {
        let path = dir.join(&file);
        let (r, g) = sizes(&path)?;
        println!("xtask: wasm size: {file}: {r} bytes, {g} gzipped");
        raw += r;
        gz += g;
    }
    println!(
        "xtask: wasm size: example `{}` (wasm + JS glue): {raw} bytes, {gz} gzipped ({:.1} KB)",
        web::EXAMPLE,
        gz as f64 / 1000.0
    );
    Ok(json!({ "raw_bytes": raw, "gz_bytes": gz }))
}

/// The file's size and its `gzip -9` size.
fn sizes(path: &Path) -> Result<(u64, u64)> {
    let raw = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let out = Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .arg(path)
        .output()
        .context("running gzip")?;
    if !out.status.success() {
        bail!("`gzip -9 -c {}` failed", path.display());
    }
    Ok((raw, out.stdout.len() as u64))
}
