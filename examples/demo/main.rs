//! The unipeer demo: a mesh of native and browser nodes that chat and show the mesh.
//!
//! The node (`node.rs`) is the same Rust code on both targets:
//! - natively: `cargo run --release --example demo -- --url ws://127.0.0.1:PORT --room ROOM`
//!   (lines typed on stdin are chat messages to every peer);
//! - in the browser: the page in `demo/web/` (built for wasm32 and served by
//!   `cargo xtask demo`), which draws the mesh (who is connected to whom, each link's RTT and
//!   bytes) and has a chat box.
//!
//! `cargo xtask demo` runs all of it: the signaling server, the web app on 127.0.0.1, one
//! native node, and prints the URL to open. Native options:
//! `--name NAME`, `--token T`, `--loopback` (127.0.0.1 candidates only; otherwise the rule of
//! `unipeer_examples::host_candidates`), `--report` (print the node's state as
//! `state: {json}` lines, for tools), `--at EPOCH_MS` (join at that time),
//! `--rejoin-after N` (leave and join again once N peers are verified), `--no-tick`
//! (no pings or mesh-view broadcasts), `--bench BYTES:SIZE[:CONNECTS]` (lead a benchmark
//! against the first peer: connect CONNECTS times, then pull and push BYTES),
//! `--video FILE.ivf` (play that clip, looped, to every peer on a video track).
//!
//! In the page, the camera button sends the camera to every peer (`camera=1` in the
//! address starts it at once), and the video peers send plays in the Video section.

mod media;
mod node;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    match native::parse_args(std::env::args().skip(1)) {
        Ok(Some((options, report))) => native::run(options, report),
        Ok(None) => println!("{}", native::USAGE),
        Err(e) => {
            eprintln!("demo: {e}\n\n{}", native::USAGE);
            std::process::exit(2);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::io::{BufRead, Write};
    use std::time::Duration;

    use std::path::Path;
    use std::rc::Rc;

    use futures::channel::mpsc;
    use serde_json::Value;
    use unipeer::Track;
    use unipeer_examples::clip::Clip;

    use crate::media::{Input, Screen, Source};
    use crate::node::{self, Bench, Options};

    pub const USAGE: &str = "\
usage: demo --url ws://HOST:PORT --room ROOM [--name NAME] [--token TOKEN] [--loopback]
            [--report] [--at EPOCH_MS] [--rejoin-after N] [--no-tick]
            [--bench BYTES:SIZE[:CONNECTS]] [--video FILE.ivf]

A demo mesh node: chats with the other nodes of ROOM (type a line to send it), and plays
the --video clip to each of them.";

    struct Terminal {
        report: bool,
    }

    /// Natively the video peers send is read and counted, not shown.
    impl Screen for Terminal {
        fn show(&self, _key: &str, _peer: &str, _track: &Track) {}
        fn hide(&self, _key: &str) {}
    }

    impl node::Ui for Terminal {
        fn line(&self, line: &str) {
            println!("demo: {line}");
        }
        fn state(&self, state: &Value) {
            if self.report {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "state: {state}");
                let _ = out.flush();
            }
        }
    }

    pub fn run(options: Options, report: bool) {
        // Chat lines from stdin, read on a thread of their own.
        let (tx, rx) = mpsc::unbounded();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.unbounded_send(Input::Chat(line)).is_err() {
                    break;
                }
            }
        });
        futures::executor::block_on(node::run(options, Terminal { report }, rx));
    }

    /// `None` for `--help`; else the options and whether to report the state.
    pub fn parse_args(
        mut it: impl Iterator<Item = String>,
    ) -> Result<Option<(Options, bool)>, String> {
        let (mut url, mut room, mut token, mut name) = (None, None, None, None);
        let (mut loopback, mut report, mut tick) = (false, false, true);
        let (mut at, mut rejoin_after, mut bench, mut video) = (None, None, None, Source::None);
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            let number = |v: String| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
            match flag.as_str() {
                "--url" => url = Some(value()?),
                "--room" => room = Some(value()?),
                "--token" => token = Some(value()?),
                "--name" => name = Some(value()?),
                "--loopback" => loopback = true,
                "--report" => report = true,
                "--no-tick" => tick = false,
                "--video" => video = Source::Clip(Rc::new(Clip::ivf(Path::new(&value()?))?)),
                "--at" => at = Some(number(value()?)?),
                "--rejoin-after" => rejoin_after = Some(number(value()?)? as usize),
                "--bench" => {
                    let v = value()?;
                    let n: Vec<usize> = v
                        .split(':')
                        .map(|n| n.parse())
                        .collect::<Result<_, _>>()
                        .map_err(|_| "--bench wants BYTES:SIZE[:CONNECTS]")?;
                    let (bytes, size, connects) = match n[..] {
                        [bytes, size] => (bytes, size, 1),
                        [bytes, size, connects] => (bytes, size, connects),
                        _ => return Err("--bench wants BYTES:SIZE[:CONNECTS]".into()),
                    };
                    bench = Some(Bench {
                        bytes,
                        size,
                        connects,
                    });
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        let url = url.ok_or("--url is required")?;
        let options = Options {
            host_candidates: unipeer_examples::host_candidates(&url, loopback),
            url,
            room: room.ok_or("--room is required")?,
            name: name.unwrap_or_else(|| format!("native-{}", std::process::id())),
            token,
            start_at_ms: at,
            rejoin_after,
            tick: tick.then_some(Duration::from_secs(1)),
            bench,
            video,
        };
        Ok(Some((options, report)))
    }
}

/// In the page: the parameters come from `unipeerParams()` (the page's URL query and the
/// server's config.json), what the node shows goes to `unipeerLine` / `unipeerState`, and
/// the chat box calls the function handed to `unipeerOnInput`.
#[cfg(target_arch = "wasm32")]
fn main() {
    use std::time::Duration;

    use futures::channel::mpsc;
    use serde_json::Value;
    use unipeer::HostCandidates;
    use wasm_bindgen::prelude::*;

    use media::{Input, Screen, Source};
    use node::{Bench, Options};

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_name = unipeerParams)]
        fn params() -> String;
        #[wasm_bindgen(js_name = unipeerLine)]
        fn show_line(line: &str);
        #[wasm_bindgen(js_name = unipeerState)]
        fn show_state(state: &str);
        #[wasm_bindgen(js_name = unipeerOnInput)]
        fn on_input(send: &Closure<dyn FnMut(String)>);
        #[wasm_bindgen(js_name = unipeerOnCamera)]
        fn on_camera(send: &Closure<dyn FnMut(Option<web_sys::MediaStreamTrack>)>);
        #[wasm_bindgen(js_name = unipeerShowTrack)]
        fn show_track(key: &str, peer: &str, kind: &str, stream: Option<web_sys::MediaStream>);
        #[wasm_bindgen(js_name = unipeerHideTrack)]
        fn hide_track(key: &str);
    }

    struct Page;
    impl node::Ui for Page {
        fn line(&self, line: &str) {
            show_line(line);
        }
        fn state(&self, state: &Value) {
            show_state(&state.to_string());
        }
    }
    impl Screen for Page {
        fn show(&self, key: &str, peer: &str, track: &unipeer::Track) {
            show_track(key, peer, media::kind(track.kind()), track.remote_stream());
        }
        fn hide(&self, key: &str) {
            hide_track(key);
        }
    }

    let p: Value = serde_json::from_str(&params()).unwrap_or(Value::Null);
    let text = |key: &str| p.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let number = |key: &str| text(key).and_then(|s| s.parse::<f64>().ok());
    let Some(url) = text("ws") else {
        show_line("no signaling server: open the page with ?ws=ws://HOST:PORT&room=ROOM");
        return;
    };
    let options = Options {
        url: url.to_string(),
        room: text("room").unwrap_or("demo").to_string(),
        name: text("name").unwrap_or("browser").to_string(),
        token: text("token").map(str::to_string),
        // The browser gathers its own candidates; `loopback=1` keeps only 127.0.0.1 ones.
        host_candidates: if text("loopback") == Some("1") {
            HostCandidates::Loopback
        } else {
            HostCandidates::AllInterfaces
        },
        start_at_ms: number("at"),
        rejoin_after: number("rejoin_after").map(|n| n as usize),
        tick: match number("tick_ms") {
            Some(ms) if ms <= 0.0 => None,
            Some(ms) => Some(Duration::from_millis(ms as u64)),
            None => Some(Duration::from_secs(1)),
        },
        bench: number("bench_bytes").map(|bytes| Bench {
            bytes: bytes as usize,
            size: number("bench_size").unwrap_or(16384.0) as usize,
            connects: number("bench_connects").unwrap_or(1.0) as usize,
        }),
        // The camera comes later, when the page hands it over.
        video: Source::None,
    };
    let (tx, rx) = mpsc::unbounded();
    let chat = tx.clone();
    let send = Closure::<dyn FnMut(String)>::new(move |line: String| {
        let _ = chat.unbounded_send(Input::Chat(line));
    });
    let camera = Closure::<dyn FnMut(Option<web_sys::MediaStreamTrack>)>::new(move |track| {
        let _ = tx.unbounded_send(Input::Camera(track));
    });
    on_input(&send);
    on_camera(&camera);
    wasm_bindgen_futures::spawn_local(async move {
        node::run(options, Page, rx).await;
        // The page may call them until the node stops.
        drop((send, camera));
    });
}
