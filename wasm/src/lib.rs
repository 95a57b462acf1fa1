//! unipeer's browser backend: the `unipeer` API over the browser's `RTCPeerConnection`.
//!
//! Applications use the `unipeer` crate, which picks this backend when compiled for
//! `wasm32`. Everything here follows the native backend's semantics: trickled candidates
//! with their real `sdpMid`, backpressure through `bufferedAmount` and
//! `bufferedamountlow` at the same high-water mark, the remote's `a=max-message-size`,
//! close seen on both sides, and typed errors that keep the browser's message.
//!
//! Media tracks are `RTCRtpTransceiver`s (`media.rs` for the peer's side: which tracks
//! exist, codec preferences, stream ids, the remote's sections; `track.rs` for one track;
//! `track_stats.rs` for the statistics). `negotiationneeded` becomes
//! `PeerEvent::NegotiationNeeded` only after the first offer/answer exchange, as natively.
//!
//! Every JS callback belongs to a Rust value (a `Listener`) that removes it when
//! dropped: no closure is ever leaked (none is forgotten). [`live_listeners`] counts them.
//!
//! The crate is browser-only: on other targets it compiles to nothing, so that the native
//! workspace build (which includes every member) does not need the browser dependencies.
//! The platform choice for applications lives in one place, `unipeer`'s `platform.rs`.
#![cfg(target_arch = "wasm32")]
#![deny(missing_docs)]

mod candidates;
mod channel;
mod error;
mod listener;
#[cfg(feature = "media")]
mod media;
#[cfg(not(feature = "media"))]
#[path = "media_off.rs"]
mod media;
mod peer;
// Without `media`, the parts of it only tracks use are left unused (and out of the
// module): allowed rather than sprinkled with cfgs.
#[cfg_attr(not(feature = "media"), allow(dead_code))]
mod sdp;
mod sys;
#[cfg(feature = "media")]
mod sys_media;
#[cfg(feature = "media")]
mod track;
#[cfg(feature = "media")]
mod track_stats;

pub use channel::DataChannel;
pub use listener::live_listeners;
// Without `media`, a `Track` that no value can have (see media_off.rs).
#[cfg(not(feature = "media"))]
pub use media::Track;
pub use peer::Peer;
#[cfg(feature = "media")]
pub use track::Track;

/// The size of the wasm linear memory in bytes (it only grows), for leak checks.
pub fn wasm_memory_bytes() -> usize {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as usize
        })
        .unwrap_or(0)
}
