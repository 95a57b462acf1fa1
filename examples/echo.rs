//! The echo node: joins a room and sends every message back to whoever sent it.
//!
//! ```sh
//! cargo run --release -p unipeer-server -- --listen 127.0.0.1:8000      # the server
//! cargo run --release --example echo -- --url ws://127.0.0.1:8000 --room ROOM
//! ```
//!
//! The node joins ROOM through the signaling server at `--url` with one mesh channel (id 0,
//! reliable, ordered) and connects to every member of the room, present and future. Each
//! message that arrives on that channel goes back to its sender on the same channel, as it
//! came: text stays text, binary stays binary, in order. Once it has joined, the node prints
//! one line to stdout (`echo: ready peer_id=ID room=ROOM url=URL`) and runs until killed;
//! what happens after that (peers connecting and leaving) is logged to stderr.
//!
//! Options:
//! - `--token T`: a room token, for a server that requires one.
//! - `--loopback`: offer host candidates on 127.0.0.1 only (peers on this machine).
//! - `--quiet`: no per-peer log lines on stderr.
//!
//! Which host candidates the node offers: by default those of every network interface, as
//! a user expects. When the server URL's host is a loopback address (`127.0.0.0/8`, `::1` or
//! `localhost`), 127.0.0.1 is offered too: the peers reach the server through loopback, so
//! they run on this machine, and that works even where loopback is the only interface.
//! `--loopback` offers 127.0.0.1 alone. (The rule is `unipeer_examples::host_candidates`,
//! shared with the `demo` node.)

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

// The echo node is a native program; in a wasm32 build of the examples it is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use futures::stream::{FuturesUnordered, StreamExt};
    use futures::FutureExt;
    use unipeer::{DataChannel, Mesh, MeshConfig, MeshEvent, Message, PeerConfig};

    const USAGE: &str = "\
usage: echo --url ws://HOST:PORT --room ROOM [--token TOKEN] [--loopback] [--quiet]

Joins ROOM and sends every message received on mesh channel 0 back to its sender.";

    struct Args {
        url: String,
        room: String,
        token: Option<String>,
        loopback: bool,
        quiet: bool,
    }

    pub fn main() {
        let code = match parse_args(std::env::args().skip(1)) {
            Ok(Some(args)) => match futures::executor::block_on(run(args)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("echo: {e}");
                    1
                }
            },
            Ok(None) => {
                println!("{USAGE}");
                0
            }
            Err(e) => {
                eprintln!("echo: {e}\n\n{USAGE}");
                2
            }
        };
        std::process::exit(code);
    }

    /// `None` for `--help`.
    fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
        let (mut url, mut room, mut token) = (None, None, None);
        let (mut loopback, mut quiet) = (false, false);
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match name.as_str() {
                "--url" => url = Some(value()?),
                "--room" => room = Some(value()?),
                "--token" => token = Some(value()?),
                "--loopback" => loopback = true,
                "--quiet" => quiet = true,
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(Some(Args {
            url: url.ok_or("--url is required")?,
            room: room.ok_or("--room is required")?,
            token,
            loopback,
            quiet,
        }))
    }

    async fn run(args: Args) -> unipeer::Result<()> {
        let config = MeshConfig {
            peer: PeerConfig {
                host_candidates: unipeer_examples::host_candidates(&args.url, args.loopback),
                ..Default::default()
            },
            // The default: one reliable, ordered channel (id 0).
            token: args.token.clone(),
            ..Default::default()
        };
        let mut mesh = Mesh::join(&args.url, &args.room, config).await?;
        println!(
            "echo: ready peer_id={} room={} url={}",
            mesh.local_id(),
            args.room,
            args.url
        );
        let log = |line: String| {
            if !args.quiet {
                eprintln!("echo: {line}");
            }
        };

        // One echo loop per connected peer, all driven here together with the mesh.
        let mut echoes = FuturesUnordered::new();
        loop {
            futures::select! {
                event = mesh.next_event().fuse() => match event {
                    Some(MeshEvent::PeerConnected { peer_id, channels }) => {
                        log(format!("connected to {peer_id}"));
                        if let Some(channel) = channels.into_iter().next() {
                            echoes.push(echo(peer_id, channel));
                        }
                    }
                    Some(MeshEvent::PeerDisconnected { peer_id }) => {
                        log(format!("disconnected from {peer_id}"));
                    }
                    Some(MeshEvent::PeerJoined { peer_id }) => log(format!("{peer_id} joined")),
                    Some(MeshEvent::PeerLeft { peer_id }) => log(format!("{peer_id} left")),
                    Some(MeshEvent::SignalingLost { reason }) => {
                        log(format!("signaling lost ({reason}); reconnecting"));
                    }
                    Some(MeshEvent::SignalingRestored { peer_id }) => {
                        log(format!("signaling restored as {peer_id}"));
                    }
                    Some(MeshEvent::Error(e)) => log(format!("error: {e}")),
                    Some(_) => {}
                    None => return Ok(()),
                },
                (peer_id, echoed) = echoes.select_next_some() => {
                    log(format!("channel to {peer_id} closed after {echoed} messages"));
                }
            }
        }
    }

    /// Sends each message on `channel` back as it came, until the channel closes.
    async fn echo(peer_id: String, channel: DataChannel) -> (String, u64) {
        let mut echoed = 0;
        while let Some(message) = channel.recv().await {
            let sent = match message {
                Message::Text(text) => channel.send_text(text).await,
                Message::Binary(bytes) => channel.send(bytes).await,
            };
            if sent.is_err() {
                break;
            }
            echoed += 1;
        }
        (peer_id, echoed)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn arguments() {
            let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
            let a = args(&["--url", "ws://x", "--room=r", "--loopback"])
                .unwrap()
                .unwrap();
            assert_eq!((a.url.as_str(), a.room.as_str()), ("ws://x", "r"));
            assert!(a.loopback && !a.quiet && a.token.is_none());
            assert!(args(&["--url", "ws://x"]).is_err());
            assert!(args(&["--bogus"]).is_err());
            assert!(args(&["--help"]).unwrap().is_none());
        }
    }
}
