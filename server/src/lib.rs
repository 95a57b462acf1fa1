//! unipeer's signaling server: rooms, random peer ids and a relay for WebRTC signaling
//! messages over WebSocket, protocol v1 (specified in `docs/signaling.md`).
//!
//! Run it with `unipeer-server --listen 127.0.0.1:8787`, or embed it:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use unipeer_server::{bind, ServerConfig};
//! let server = bind(ServerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() }).await?;
//! println!("clients connect to {}", server.room_url("lobby"));
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! From code without a tokio runtime, [`spawn_in_thread`] runs it on its own thread.

#![deny(missing_docs)]

mod config;
mod connection;
pub mod protocol;
mod queue;
mod ratelimit;
mod room;
mod server;
mod session;
mod target;
mod thread;
mod token;
mod writer;

pub use config::ServerConfig;
pub use server::{bind, Server, ServerHandle, ServerStats};
pub use thread::{spawn_in_thread, RunningServer};
pub use token::{mint_token, mint_token_ttl, unix_now, verify_token, TokenError};
