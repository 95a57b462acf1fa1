//! What a track carries natively: encoded frames (str0m's frame model).

use std::time::Duration;

use unipeer_core::{Codec, KeyframeRequest, MediaFrame, Result, RtpPacket};

use crate::Track;

impl Track {
    /// Sends one encoded frame (a VP8/VP9/H.264/AV1 picture or an Opus packet) with the
    /// track's [`send_codec`](Self::send_codec). `timestamp` is media time: only the
    /// differences between frames matter, so the first frame may use zero.
    ///
    /// Fails with [`Error::TrackNotReady`](crate::Error::TrackNotReady) before the track is
    /// negotiated or on a track that does not send, and with
    /// [`Error::TrackEnded`](crate::Error::TrackEnded) once it is stopped. Frames written
    /// before the connection is up may be lost (a sender starts with a keyframe once it
    /// is), as a browser's camera frames are then.
    /// Native only; in the browser attach a `MediaStreamTrack` with `set_source`.
    pub async fn write_frame(&self, data: impl Into<Vec<u8>>, timestamp: Duration) -> Result<()> {
        self.inner.write_frame(None, data.into(), timestamp).await
    }

    /// [`write_frame`](Self::write_frame) with a given codec, which the track must have
    /// negotiated (for example to send back exactly what was received).
    pub async fn write_frame_with(
        &self,
        codec: Codec,
        data: impl Into<Vec<u8>>,
        timestamp: Duration,
    ) -> Result<()> {
        self.inner
            .write_frame(Some(codec), data.into(), timestamp)
            .await
    }

    /// The next frame the remote sent, or `None` once the track has ended and every frame
    /// that arrived before was read. Frames nobody reads are kept up to
    /// [`MediaConfig::receive_queue`](crate::MediaConfig::receive_queue), oldest dropped
    /// first. Native only.
    pub async fn next_frame(&self) -> Option<MediaFrame> {
        self.inner.next_frame().await
    }

    /// A frame that already arrived, without waiting. Native only.
    pub fn try_next_frame(&self) -> Option<MediaFrame> {
        self.inner.try_next_frame()
    }

    /// Asks the remote sender for a keyframe (a PLI), as a decoder does after a loss
    /// (`MediaFrame::contiguous` false). Fails on a track that does not receive. Native
    /// only; the browser asks by itself.
    pub async fn request_keyframe(&self) -> Result<()> {
        self.inner.request_keyframe().await
    }

    /// The next keyframe request from the remote: answer it by sending a keyframe soon.
    /// `None` once the track has ended. Native only; the browser's encoder answers by
    /// itself.
    pub async fn next_keyframe_request(&self) -> Option<KeyframeRequest> {
        self.inner.next_keyframe_request().await
    }

    /// Sends one RTP packet (a peer in RTP mode, see
    /// [`MediaConfig::rtp_mode`](crate::MediaConfig::rtp_mode)): str0m adds the header
    /// and encrypts it; the payload, sequence number, timestamp and marker are yours. With
    /// `packet.codec` set, the track's payload type for that codec is used. Native only.
    pub async fn write_rtp(&self, packet: RtpPacket) -> Result<()> {
        self.inner.write_rtp(packet).await
    }

    /// The next RTP packet the remote sent (RTP mode), or `None` once the track has ended
    /// and every packet was read. Native only.
    pub async fn next_rtp(&self) -> Option<RtpPacket> {
        self.inner.next_rtp().await
    }

    /// An RTP packet that already arrived (RTP mode), without waiting. Native only.
    pub fn try_next_rtp(&self) -> Option<RtpPacket> {
        self.inner.try_next_rtp()
    }
}
