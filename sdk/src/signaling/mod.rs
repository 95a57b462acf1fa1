//! Signaling: the WebSocket protocol v1 that introduces peers, and its client.
//!
//! A client joins a room at `ws://HOST:PORT/v1/rooms/{room}` (`?token=T` when the server
//! wants one). The server answers
//! `{"type":"welcome","peer_id":"<id>","peers":["<id>",...]}`, then tells who comes and goes
//! (`peer_joined`, `peer_left`) and relays signals: the client sends
//! `{"type":"signal","to":"<id>","payload":P}`, the recipient gets
//! `{"type":"signal","from":"<id>","payload":P}`. Errors come as
//! `{"type":"error","code":"...","message":"..."}`; a bad token or abuse closes the socket
//! with code 1008, a server shutdown with 1001.
//!
//! - [`ServerFrame`] / [`ClientFrame`]: the frames, parsed and written with serde.
//! - [`SignalPayload`]: what unipeer peers put in `P` (descriptions and candidates).
//! - [`SignalingClient`]: one client, native or browser, that reconnects with backoff.
//!
//! Most applications use [`Mesh`](crate::Mesh), which runs a client for them.

mod backoff;
mod client;
mod error;
mod frame;
mod pacer;
mod payload;
mod socket;

pub use backoff::ReconnectPolicy;
pub use client::{SignalingClient, SignalingEvent, OUTGOING_QUEUE_LIMIT};
pub use error::FrameError;
pub use frame::{ClientFrame, ServerFrame};
pub use payload::SignalPayload;
