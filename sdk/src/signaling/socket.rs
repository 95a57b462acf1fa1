//! The one platform split of signaling: a WebSocket that carries text frames.
//!
//! - Natively: `async-tungstenite` over `async-net`. Its I/O is driven by async-io's
//!   reactor, which runs on its own thread, so the socket works under tokio, smol,
//!   `futures::executor` or any other executor, and the library spawns nothing on the
//!   application's runtime. (The alternative, blocking `tungstenite` on a thread of our own
//!   per client, would cost a thread per client and a channel hop per frame.)
//! - In the browser: `web_sys::WebSocket`, with listeners owned by the socket and removed
//!   when it drops.
//!
//! Both implementations offer the same crate-private surface (`connect`, `poll_recv`,
//! `poll_send`, `close`); everything above this module is written once.

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(not(target_arch = "wasm32"))]
mod native;

#[cfg(target_arch = "wasm32")]
pub(crate) use browser::Socket;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::Socket;

/// Close code the server uses for a policy violation (bad token, abuse).
pub(crate) const POLICY_VIOLATION: u16 = 1008;

/// What the socket received.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A text frame.
    Text(String),
    /// The connection ended; nothing more comes.
    Closed(Closed),
}

/// How a connection ended.
#[derive(Debug, Clone)]
pub(crate) struct Closed {
    /// The WebSocket close code, if the server sent a close frame.
    pub code: Option<u16>,
    /// The close reason or the transport error.
    pub reason: String,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.reason.is_empty()) {
            (Some(code), false) => write!(f, "closed with code {code}: {}", self.reason),
            (Some(code), true) => write!(f, "closed with code {code}"),
            (None, _) => f.write_str(&self.reason),
        }
    }
}

/// Why a connection attempt failed.
#[derive(Debug, Clone)]
pub(crate) struct ConnectError {
    /// Trying again cannot help (a bad URL, an HTTP 4xx refusal).
    pub refused: bool,
    /// What happened.
    pub message: String,
}
