//! `cargo xtask demo`: the main demo. For now the native `hello` example (two peers on loopback); a later
//! issue replaces this function with the browser demo.

use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

pub fn run(args: &[String]) -> Result<()> {
    cmd::run(
        Command::new("cargo")
            .args([
                "run",
                "--release",
                "-p",
                "unipeer-examples",
                "--example",
                "hello",
                "--",
            ])
            .args(args),
    )
    .context("the demo is examples/'s `hello` example (package unipeer-examples)")
}
