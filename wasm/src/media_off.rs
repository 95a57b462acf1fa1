//! A peer's media without the `media` feature: the smallest data-channel apps leave the
//! track machinery out of their wasm module (about 6 KB gzipped). `add_track` says how to
//! get it; the browser answers a remote's media sections itself (receive-only, and no
//! track is announced), and descriptions pass through unchanged.

use std::rc::Weak;

use unipeer_core::{Error, Result, TrackInit};

use crate::sys::RtcPeerConnection;
use crate::track::{Events, Track};

#[derive(Default)]
pub(crate) struct Media {}

impl Media {
    pub(crate) fn add(
        &self,
        _pc: &RtcPeerConnection,
        _init: TrackInit,
        _events: Weak<Events>,
    ) -> Result<Track> {
        Err(Error::Unsupported(
            "media tracks need unipeer's `media` feature (on by default); this build turned it off"
                .into(),
        ))
    }

    pub(crate) fn adopt_remote(
        &self,
        _pc: &RtcPeerConnection,
        _offer: &str,
        _events: &Weak<Events>,
    ) -> Vec<Track> {
        Vec::new()
    }

    pub(crate) fn refresh(&self, _pc: &RtcPeerConnection) {}

    pub(crate) fn outgoing(&self, sdp: &str) -> String {
        sdp.to_string()
    }

    pub(crate) fn end_all(&self) {}
}
