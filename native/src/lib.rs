//! unipeer's native backend: WebRTC over [str0m](https://docs.rs/str0m) with
//! [quinn-udp](https://docs.rs/quinn-udp) sockets.
//!
//! Applications use the `unipeer` crate; this crate is its implementation on every target
//! but wasm32. The design:
//! - each peer is a sans-I/O `Session` around a str0m `Rtc`, taking time and
//!   input as arguments;
//! - one I/O driver thread serves every peer of the process: it sleeps until a socket is
//!   readable, the earliest peer timeout, or a command from a handle, demultiplexes
//!   datagrams to peers by socket token, and batches sends with GSO;
//! - handles ([`Peer`], [`DataChannel`]) talk to the driver through a command queue, so
//!   they are `Send`, runtime-agnostic, and never block.
#![deny(missing_docs)]

mod channel;
mod command;
mod driver;
mod dtls;
mod gather;
mod ice;
mod peer;
mod prebuilt;
mod secure;
mod session;
#[cfg(test)]
mod sim;
mod track;

pub use channel::DataChannel;
pub use peer::Peer;
pub use track::Track;
