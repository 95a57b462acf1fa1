//! Media tracks over `RTCRtpTransceiver`. (Placeholder while the browser side is built:
//! every call reports that the browser backend has no tracks yet.)

use std::time::Duration;

use unipeer_core::{Codec, Error, MediaKind, Result, TrackDirection, TrackState, TrackStats};

fn unsupported() -> Error {
    Error::Unsupported("media tracks are not implemented in the browser backend yet".into())
}

/// A media track of a browser peer; applications use `unipeer::Track`.
#[derive(Clone, Debug)]
pub struct Track {
    kind: MediaKind,
}

impl Track {
    /// See `unipeer::Track::kind`.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }
    /// See `unipeer::Track::mid`.
    pub fn mid(&self) -> Option<String> {
        None
    }
    /// See `unipeer::Track::direction`.
    pub fn direction(&self) -> TrackDirection {
        TrackDirection::Inactive
    }
    /// See `unipeer::Track::state`.
    pub fn state(&self) -> TrackState {
        TrackState::Ended
    }
    /// See `unipeer::Track::remote_track_id`.
    pub fn remote_ids(&self) -> Option<(String, String)> {
        None
    }
    /// See `unipeer::Track::send_codec`.
    pub fn send_codec(&self) -> Option<Codec> {
        None
    }
    /// See `unipeer::Track::set_direction`.
    pub async fn set_direction(&self, _direction: TrackDirection) -> Result<()> {
        Err(unsupported())
    }
    /// See `unipeer::Track::stop`.
    pub async fn stop(&self) -> Result<()> {
        Err(unsupported())
    }
    /// See `unipeer::Track::stats`.
    pub async fn stats(&self) -> Result<TrackStats> {
        Err(unsupported())
    }
    /// See `unipeer::Track::wait_ended`.
    pub async fn wait_ended(&self) {
        let _ = Duration::ZERO;
    }
    /// See `unipeer::Track::set_source`.
    pub async fn set_source(&self, _source: Option<&web_sys::MediaStreamTrack>) -> Result<()> {
        Err(unsupported())
    }
    /// See `unipeer::Track::remote_track`.
    pub fn remote_track(&self) -> Option<web_sys::MediaStreamTrack> {
        None
    }
    /// See `unipeer::Track::remote_stream`.
    pub fn remote_stream(&self) -> Option<web_sys::MediaStream> {
        None
    }
}
