//! A peer's media without the `media` feature: the smallest data-channel apps leave the
//! track machinery out of their wasm module (about 5 KB gzipped). `add_track` says how to
//! get it; the browser answers a remote's media sections itself (receive-only, and no
//! track is announced), and descriptions pass through unchanged.
//!
//! No track can exist then, so [`Track`] has no values: the events that would carry one
//! (and their drop code) compile to nothing, while `unipeer::Track`'s API stays the same.

use std::convert::Infallible;

use unipeer_core::{
    Codec, Error, MediaKind, Result, TrackDirection, TrackInit, TrackState, TrackStats,
};
use web_sys::{MediaStream, MediaStreamTrack};

use crate::peer::Events;
use crate::sys::RtcPeerConnection;

#[derive(Default)]
pub(crate) struct Media {}

impl Media {
    pub(crate) fn add(
        &self,
        _pc: &RtcPeerConnection,
        _init: TrackInit,
        _events: Events,
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
        _events: &Events,
    ) -> Vec<Track> {
        Vec::new()
    }

    pub(crate) fn refresh(&self, _pc: &RtcPeerConnection) {}

    pub(crate) fn outgoing(&self, sdp: String) -> String {
        sdp
    }

    pub(crate) fn end_all(&self) {}
}

/// A media track of a browser peer; applications use `unipeer::Track`.
///
/// Built without the `media` feature, so there is none: `add_track` returns
/// `Error::Unsupported` and no `PeerEvent::Track` comes. The methods are those of the
/// `media` build and can never be called.
#[derive(Clone)]
pub struct Track {
    never: Infallible,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.never {}
    }
}

impl Track {
    /// See `unipeer::Track::kind`.
    pub fn kind(&self) -> MediaKind {
        match self.never {}
    }

    /// See `unipeer::Track::mid`.
    pub fn mid(&self) -> Option<String> {
        match self.never {}
    }

    /// See `unipeer::Track::direction`.
    pub fn direction(&self) -> TrackDirection {
        match self.never {}
    }

    /// See `unipeer::Track::state`.
    pub fn state(&self) -> TrackState {
        match self.never {}
    }

    /// See `unipeer::Track::remote_track_id`.
    pub fn remote_ids(&self) -> Option<(String, String)> {
        match self.never {}
    }

    /// See `unipeer::Track::send_codec`.
    pub fn send_codec(&self) -> Option<Codec> {
        match self.never {}
    }

    /// See `unipeer::Track::set_direction`.
    pub async fn set_direction(&self, _direction: TrackDirection) -> Result<()> {
        match self.never {}
    }

    /// See `unipeer::Track::stop`.
    pub async fn stop(&self) -> Result<()> {
        match self.never {}
    }

    /// See `unipeer::Track::stats`.
    pub async fn stats(&self) -> Result<TrackStats> {
        match self.never {}
    }

    /// See `unipeer::Track::wait_ended`.
    pub async fn wait_ended(&self) {
        match self.never {}
    }

    /// See `unipeer::Track::set_source`.
    pub async fn set_source(&self, _source: Option<&MediaStreamTrack>) -> Result<()> {
        match self.never {}
    }

    /// See `unipeer::Track::remote_track`.
    pub fn remote_track(&self) -> Option<MediaStreamTrack> {
        match self.never {}
    }

    /// See `unipeer::Track::remote_stream`.
    pub fn remote_stream(&self) -> Option<MediaStream> {
        match self.never {}
    }
}
