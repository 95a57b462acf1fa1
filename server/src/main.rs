//! `unipeer-server`: the signaling server binary.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;
use unipeer_server::{bind, mint_token_ttl, ServerConfig};

/// Signaling server for unipeer (protocol v1: WebSocket at ws://HOST:PORT/v1/rooms/{room}).
///
/// Prints one line, `unipeer-server listening on ADDR`, to stdout when ready, then runs
/// until SIGINT or SIGTERM, which close every client with code 1001 and exit.
/// Logs go to stderr; set their level with --log or RUST_LOG (e.g. `info`, `debug`).
#[derive(Parser)]
#[command(
    name = "unipeer-server",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Print a room token signed with the shared secret, for servers started with --secret.
    Token(TokenArgs),
}

#[derive(Args)]
struct TokenArgs {
    /// Shared secret (the server's --secret).
    #[arg(long, env = "UNIPEER_SECRET", hide_env_values = true)]
    secret: String,
    /// Room the token admits to.
    #[arg(long)]
    room: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Require HMAC-signed room tokens made with this shared secret (prefer the
    /// environment variable: command lines are visible to other users).
    #[arg(long, env = "UNIPEER_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Largest accepted message, in bytes; larger ones close the socket with 1008.
    #[arg(long, default_value_t = 65536)]
    max_frame_bytes: usize,
    /// Frames per second a client may send, sustained (0: unlimited); more close it with 1008.
    #[arg(long, default_value_t = 50)]
    rate_limit: u32,
    /// Frames a client may send in a burst.
    #[arg(long, default_value_t = 100)]
    rate_burst: u32,
    /// Frames queued for one client before it is disconnected as a slow reader.
    #[arg(long, default_value_t = 256)]
    send_queue_frames: usize,
    /// Bytes queued for one client before it is disconnected as a slow reader.
    #[arg(long, default_value_t = 1 << 20)]
    send_queue_bytes: usize,
    /// Interval between keepalive pings (e.g. 15, 15s, 500ms).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    ping_interval: Duration,
    /// Time a client has to answer a ping before it is evicted.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    ping_timeout: Duration,
    /// Most peers in one room (more get close 1013 "room full").
    #[arg(long, default_value_t = 64)]
    max_peers_per_room: usize,
    /// Most rooms at once (more get close 1013 "too many rooms").
    #[arg(long, default_value_t = 10_000)]
    max_rooms: usize,
    /// Most open connections; more are dropped at accept.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Time a client has to complete the WebSocket handshake.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    handshake_timeout: Duration,
    /// Time the server waits for a client during a close.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    close_timeout: Duration,
    /// Log filter (tracing EnvFilter syntax); overrides RUST_LOG.
    #[arg(long)]
    log: Option<String>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines with key=value fields.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses `15`, `1.5`, `15s` or `500ms`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else {
        (s.strip_suffix('s').unwrap_or(s), 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (try 15s or 500ms)"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => {
            println!(
                "{}",
                mint_token_ttl(&args.secret, &args.room, Duration::from_secs(args.ttl))
            );
            ExitCode::SUCCESS
        }
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    init_logging(args.log.as_deref(), args.log_format);
    let config = ServerConfig {
        listen: args.listen,
        max_frame_bytes: args.max_frame_bytes,
        rate_limit_per_sec: args.rate_limit,
        rate_limit_burst: args.rate_burst,
        send_queue_frames: args.send_queue_frames,
        send_queue_bytes: args.send_queue_bytes,
        secret: args.secret.map(String::into_bytes),
        ping_interval: args.ping_interval,
        ping_timeout: args.ping_timeout,
        max_peers_per_room: args.max_peers_per_room,
        max_rooms: args.max_rooms,
        max_connections: args.max_connections,
        handshake_timeout: args.handshake_timeout,
        close_timeout: args.close_timeout,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("unipeer-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match bind(config).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("unipeer-server: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        // Handlers first: a signal sent right after the ready line must not kill the process.
        let signals = match Signals::install() {
            Ok(signals) => signals,
            Err(e) => {
                eprintln!("unipeer-server: cannot install signal handlers: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "unipeer-server listening on {}",
            server.local_addr()
        );
        let _ = stdout.flush();
        drop(stdout);
        let handle = server.handle();
        tokio::spawn(async move {
            signals.recv().await;
            tracing::info!("signal received, shutting down");
            handle.shutdown();
        });
        server.wait().await;
        ExitCode::SUCCESS
    })
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), registered when created.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn init_logging(filter: Option<&str>, format: LogFormat) {
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
