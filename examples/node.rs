//! What the echo nodes (`echo`, `media_echo`) share: their command line and the data
//! channel echo.

use unipeer::{DataChannel, Message};

/// The command line of an echo node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeArgs {
    /// `--url`: the signaling server, `ws://HOST:PORT`.
    pub url: String,
    /// `--room`: the room to join.
    pub room: String,
    /// `--token`: a room token, for a server that requires one.
    pub token: Option<String>,
    /// `--loopback`: offer host candidates on 127.0.0.1 only.
    pub loopback: bool,
    /// `--quiet`: no per-peer log lines on stderr.
    pub quiet: bool,
}

/// Parses `--url URL --room ROOM [--token T] [--loopback] [--quiet]` (also `--name=value`).
/// `Ok(None)` for `--help`.
pub fn parse_node_args(mut it: impl Iterator<Item = String>) -> Result<Option<NodeArgs>, String> {
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
    Ok(Some(NodeArgs {
        url: url.ok_or("--url is required")?,
        room: room.ok_or("--room is required")?,
        token,
        loopback,
        quiet,
    }))
}

/// Runs a node program: parses the arguments, runs `node` on them with
/// `futures::executor`, prints usage or the error, and exits with 0, 1 (the node
/// failed) or 2 (bad arguments).
pub fn main_with<F>(name: &str, usage: &str, node: impl FnOnce(NodeArgs) -> F) -> !
where
    F: std::future::Future<Output = unipeer::Result<()>>,
{
    let code = match parse_node_args(std::env::args().skip(1)) {
        Ok(Some(args)) => match futures::executor::block_on(node(args)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{name}: {e}");
                1
            }
        },
        Ok(None) => {
            println!("{usage}");
            0
        }
        Err(e) => {
            eprintln!("{name}: {e}\n\n{usage}");
            2
        }
    };
    std::process::exit(code);
}

/// Sends each message on `channel` back as it came, until the channel closes; returns
/// `peer_id` and how many messages went back.
pub async fn echo_channel(peer_id: String, channel: DataChannel) -> (String, u64) {
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
        let args = |a: &[&str]| parse_node_args(a.iter().map(|s| s.to_string()));
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
