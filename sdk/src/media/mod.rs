//! Media tracks: audio and video next to the data channels of a [`Peer`](crate::Peer).
//!
//! A [`Track`] is one media section of the session (an SDP m-line; the browser calls it a
//! transceiver): it sends and/or receives one audio or video track. Create one with
//! [`Peer::add_track`](crate::Peer::add_track); a track the remote adds arrives as
//! [`PeerEvent::Track`](crate::PeerEvent::Track). Adding or stopping a track on a
//! connected peer needs a new offer/answer round:
//! [`PeerEvent::NegotiationNeeded`](crate::PeerEvent::NegotiationNeeded) says when (the
//! mesh does it for you).
//!
//! What flows through a track is platform-shaped:
//! - **Natively** a track carries *encoded* frames (str0m's frame model):
//!   `write_frame(data, timestamp)` sends a VP8 picture or an Opus packet, `next_frame()`
//!   receives one, and keyframe requests (PLI/FIR) go both ways with `request_keyframe()`
//!   and `next_keyframe_request()`. [`file`](mod@file) reads and writes IVF and Ogg Opus files.
//! - **In the browser** a track carries a `web_sys::MediaStreamTrack`: `set_source` attaches
//!   a camera, microphone or canvas capture; `remote_track()`/`remote_stream()` give what
//!   the remote sends, to play in a `<video>` or `<audio>` element.
//!
//! Everything else (kind, direction, mid, ids, state, [`TrackStats`](crate::TrackStats),
//! stop) is the same on both.

pub mod file;
mod track;

pub use track::Track;
