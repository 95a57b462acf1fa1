use unipeer_core::{Codec, MediaKind, Result, TrackDirection, TrackState, TrackStats};

use crate::platform::{BackendTrack, TrackImpl};

/// One media section of a peer: sends and/or receives one audio or video track.
///
/// Handles are cheap to clone; clones use the same track. What it carries depends on the
/// platform (see the [module docs](crate::media)); this part is the same everywhere.
#[derive(Clone)]
pub struct Track {
    pub(crate) inner: TrackImpl,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track")
            .field("kind", &self.kind())
            .field("mid", &self.mid())
            .field("direction", &self.direction())
            .field("state", &self.state())
            .finish()
    }
}

impl Track {
    pub(crate) fn new(inner: TrackImpl) -> Self {
        Self { inner }
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        BackendTrack::kind(&self.inner)
    }

    /// The media section's id in the SDP (`a=mid`), once the track is part of a
    /// description (`None` before the first offer that carries it).
    pub fn mid(&self) -> Option<String> {
        BackendTrack::mid(&self.inner)
    }

    /// The direction this peer wants: the one given at creation (or by
    /// [`set_direction`](Self::set_direction)), or the remote's offer's counterpart for a
    /// track the remote added.
    pub fn direction(&self) -> TrackDirection {
        BackendTrack::direction(&self.inner)
    }

    /// Whether the remote is delivering media on this track.
    pub fn state(&self) -> TrackState {
        BackendTrack::state(&self.inner)
    }

    /// The id of the remote's track (`a=msid`), once the remote described it.
    pub fn remote_track_id(&self) -> Option<String> {
        BackendTrack::remote_ids(&self.inner).map(|(_, track)| track)
    }

    /// The id of the remote's media stream (`a=msid`), once the remote described it;
    /// tracks of one stream are meant to be played together.
    pub fn remote_stream_id(&self) -> Option<String> {
        BackendTrack::remote_ids(&self.inner).map(|(stream, _)| stream)
    }

    /// The codec this peer sends with: the first of the track's preferences that the
    /// remote accepted (`None` before the answer, or when nothing is sent).
    pub fn send_codec(&self) -> Option<Codec> {
        BackendTrack::send_codec(&self.inner)
    }

    /// Changes the direction. On a negotiated track this takes a new offer/answer round
    /// ([`PeerEvent::NegotiationNeeded`](crate::PeerEvent::NegotiationNeeded) follows).
    pub async fn set_direction(&self, direction: TrackDirection) -> Result<()> {
        BackendTrack::set_direction(&self.inner, direction).await
    }

    /// Stops the track for good: nothing is sent or received on it any more and its state
    /// becomes `Ended` (the remote sees it end after the next offer/answer round).
    pub async fn stop(&self) -> Result<()> {
        BackendTrack::stop(&self.inner).await
    }

    /// The track's statistics. In the browser they come from the sender's and receiver's
    /// `getStats()` (video frames are encoded/decoded frames, audio counts one frame per
    /// packet, as natively).
    pub async fn stats(&self) -> Result<TrackStats> {
        BackendTrack::stats(&self.inner).await
    }

    /// Waits until the track's state is `Ended`.
    pub async fn wait_ended(&self) {
        BackendTrack::wait_ended(&self.inner).await
    }
}
