//! `cargo xtask demo`: the main demo. For now the native loopback example; a later
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
                "loopback",
                "--",
            ])
            .args(args),
    )
    .context("the demo is examples/'s `loopback` example (package unipeer-examples)")
}
