//! `cargo xtask`: unipeer's project automation (argument parsing and dispatch only).

mod bench;
mod bench_browser;
mod cmd;
mod demo;
mod fuzz;
mod interop;
mod interop_media;
mod labs;
mod lockfile;
mod media_clips;
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
                          parts: native, wasm, interop, labs, fuzz
  setup [native|wasm|labs|all]
                          only install what the tests need (default: all)
  demo [ARGS...]          run the main demo
  bench [ARGS...]         run the benchmarks (see xtask/src/bench.rs)
  fuzz [--seconds N] [TARGET...]
                          fuzz the parsers for longer (default 60 s per target; see
                          xtask/src/fuzz.rs)
  media-clips             regenerate the media test clips in tests/media/ with ffmpeg
  web [EXAMPLE] [PORT]    build a dual-target example (`hello`, `rpc` or `media`, default hello) for
                          the browser and serve it on http://127.0.0.1:PORT/ (default 8080)
                          until killed
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
        "fuzz" => fuzz::command(rest),
        "web" => serve_example(rest),
        "media-clips" => media_clips::run(),
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

/// `cargo xtask web [EXAMPLE] [PORT]`: a dual-target example (default `hello`) in a page,
/// served on loopback.
fn serve_example(args: &[String]) -> Result<()> {
    let (mut example, mut port) = (web::EXAMPLE, 8080u16);
    for arg in args {
        match web::EXAMPLES.iter().find(|e| **e == arg.as_str()) {
            Some(e) => example = e,
            None => {
                port = arg.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "`{arg}` is neither an example ({}) nor a port number",
                        web::EXAMPLES.join(", ")
                    )
                })?
            }
        }
    }
    let dir = web::build(setup::wasm()?, example)?;
    web::serve(
        &dir,
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        None,
    )
}
