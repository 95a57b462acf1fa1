//! `cargo xtask`: unipeer's project automation (argument parsing and dispatch only).

mod bench;
mod bench_browser;
mod cmd;
mod demo;
mod interop;
mod labs;
mod lockfile;
mod setup;
mod test;
mod wasm;
mod wasm_size;
mod web;
mod webapp;

use std::process::ExitCode;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  test [PART...]          install what the tests need, then run the parts (default: all)
                          parts: native, wasm, interop, labs
  setup [native|wasm|labs|all]
                          only install what the tests need (default: all)
  demo [ARGS...]          run the main demo
  bench [ARGS...]         run the benchmarks (see xtask/src/bench.rs)
  web [PORT]              build the dual-target `hello` example for the browser and serve it
                          on http://127.0.0.1:PORT/ (default 8080) until killed
  help                    print this text

environment:
  UNIPEER_WASM_TOOLCHAIN=rustup|debian   force the wasm32 toolchain (default: rustup's
                                         wasm32 target if it can be had, else Debian's rustc-web)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    // Every command works from the workspace root, wherever it was started.
    std::env::set_current_dir(cmd::root())?;
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "test" => test::run(rest),
        "setup" => setup::run(rest),
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        "web" => serve_hello(rest),
        // Internal: one interop scenario, run by `test interop` inside a network namespace.
        "__interop" => interop::scenario(rest),
        // Internal: one NAT lab, run by `test labs` inside its own namespaces.
        "__lab" => labs::lab(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// `cargo xtask web`: the `hello` example in a page, served on loopback.
fn serve_hello(args: &[String]) -> Result<()> {
    let port: u16 = match args.first() {
        Some(p) => p
            .parse()
            .map_err(|_| anyhow::anyhow!("`{p}` is not a port number"))?,
        None => 8080,
    };
    let dir = web::build(setup::wasm()?)?;
    web::serve(
        &dir,
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        None,
    )
}
