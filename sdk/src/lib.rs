//! # unipeer: one `Peer` API for WebRTC on every platform
//!
//! The same application code runs natively (over the sans-I/O stack `str0m`, with one
//! I/O driver thread serving every peer in the process) and in the browser compiled to
//! wasm32 (over the browser's own `RTCPeerConnection`).
//!
//! ## The model
//! - A [`Peer`] is one connection to one remote peer. You carry its session descriptions
//!   and ICE candidates to the remote over any signaling channel you like.
//! - Negotiation is three calls: the offerer's [`Peer::create_offer`], the answerer's
//!   [`Peer::accept_offer`] (which returns the answer) and the offerer's
//!   [`Peer::accept_answer`]. Candidates trickle: [`Peer::events`] yields
//!   [`PeerEvent::LocalCandidate`] from the moment a description is set; hand each to the
//!   remote's [`Peer::add_ice_candidate`].
//! - A [`DataChannel`] carries messages. `send` is async and waits while too much is
//!   buffered, so a fast sender cannot outrun the network; `recv` yields messages until the
//!   channel closes.
//! - Everything is `async` and runtime-agnostic: it works under tokio, smol,
//!   `futures::executor` and wasm-bindgen-futures, and spawns nothing on your runtime.
//!
//! ```
//! use futures::StreamExt;
//! use unipeer::{DataChannelInit, HostCandidates, Message, Peer, PeerConfig, PeerEvent};
//!
//! # fn main() -> unipeer::Result<()> { futures::executor::block_on(async {
//! // Two peers in one process, talking over loopback.
//! let config = PeerConfig { host_candidates: HostCandidates::Loopback, ..Default::default() };
//! let alice = Peer::new(config.clone())?;
//! let bob = Peer::new(config)?;
//!
//! let chat = alice.create_data_channel("chat", DataChannelInit::default()).await?;
//! let offer = alice.create_offer().await?;
//! let answer = bob.accept_offer(offer).await?;
//! alice.accept_answer(answer).await?;
//!
//! // Signaling: here the "network" is a loop that trickles candidates both ways
//! // until Bob announces the channel Alice opened.
//! let (mut alice_events, mut bob_events) = (alice.events(), bob.events());
//! let bobs_chat = loop {
//!     futures::select! {
//!         e = alice_events.next() => if let Some(PeerEvent::LocalCandidate(c)) = e {
//!             bob.add_ice_candidate(c).await?;
//!         },
//!         e = bob_events.next() => match e {
//!             Some(PeerEvent::LocalCandidate(c)) => alice.add_ice_candidate(c).await?,
//!             Some(PeerEvent::DataChannel(ch)) => break ch,
//!             _ => {}
//!         },
//!     }
//! };
//!
//! chat.send_text("hello bob").await?;
//! assert_eq!(bobs_chat.recv().await, Some(Message::Text("hello bob".into())));
//! alice.close().await;
//! # Ok(()) }) }
//! ```
//!
//! ## Rooms: the mesh
//! Most applications do not carry descriptions by hand: [`Mesh::join`] joins a room on a
//! signaling server (protocol v1, see [`signaling`]; the `unipeer-server` crate implements
//! it) and links this node to every other member with the same pre-negotiated channels,
//! natively and in the browser alike. The mesh runs while its events are polled:
//!
//! ```no_run
//! use unipeer::{Mesh, MeshConfig, MeshEvent, Message};
//! # async fn chat() -> unipeer::Result<()> {
//! let mut mesh = Mesh::join("ws://127.0.0.1:8787", "lobby", MeshConfig::default()).await?;
//! while let Some(event) = mesh.next_event().await {
//!     if let MeshEvent::PeerConnected { peer_id, .. } = event {
//!         mesh.send(&peer_id, 0, Message::Text(format!("hi {peer_id}"))).await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Errors
//! Every fallible call returns [`Error`], one `#[non_exhaustive]` enum whose messages say
//! what to do. Bad input never panics and never loses what was already accepted.
#![deny(missing_docs)]

mod channel;
pub mod media;
mod mesh;
mod peer;
mod platform;
pub mod rpc;
pub mod signaling;

pub use channel::DataChannel;
pub use media::Track;
pub use mesh::{Mesh, MeshConfig, MeshEvent};
pub use peer::{Peer, PeerEvent, PeerEvents};
pub use platform::{MaybeSend, MaybeSync};
pub use signaling::ReconnectPolicy;
pub use unipeer_core::{
    CandidatePair, CandidateType, Codec, ConnectionState, DataChannelInit, DataChannelLimits,
    DataChannelState, Error, HostCandidates, IceCandidate, IceServer, IceServerError,
    IceServerKind, IceTransport, IceUrl, IceUrlProblem, KeyframeRequest, MediaConfig, MediaFrame,
    MediaKind, Message, PeerConfig, Reliability, Result, SdpType, SessionDescription,
    TrackDirection, TrackInit, TrackState, TrackStats,
};
