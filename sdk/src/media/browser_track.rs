//! What a track carries in the browser: `MediaStreamTrack`s.

use unipeer_core::Result;

use crate::Track;

impl Track {
    /// Sends this `MediaStreamTrack` (a camera, a microphone, a canvas capture) on the
    /// track, replacing what it sent before; `None` stops sending without renegotiation
    /// (the browser's `RTCRtpSender.replaceTrack`, awaited). It may be set before the track
    /// is negotiated; media flows while the negotiated direction sends. A source of the
    /// other kind, or one that has ended, gives
    /// [`Error::InvalidTrackInit`](crate::Error::InvalidTrackInit); an ended track
    /// [`Error::TrackEnded`](crate::Error::TrackEnded). Browser only; natively write
    /// encoded frames with `write_frame`.
    pub async fn set_source(&self, source: Option<&web_sys::MediaStreamTrack>) -> Result<()> {
        self.inner.set_source(source).await
    }

    /// The track the remote sends, to play (the receiver's `MediaStreamTrack`). `None`
    /// on a track that does not receive. Browser only.
    pub fn remote_track(&self) -> Option<web_sys::MediaStreamTrack> {
        self.inner.remote_track()
    }

    /// A `MediaStream` holding [`remote_track`](Self::remote_track), ready for a
    /// `<video>` or `<audio>` element's `srcObject`: one per track, the same stream on
    /// every call. Browser only.
    pub fn remote_stream(&self) -> Option<web_sys::MediaStream> {
        self.inner.remote_stream()
    }
}
