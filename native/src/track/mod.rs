//! A native track handle: application threads ask the driver, or read the shared state.

mod shared;

use std::sync::Arc;
use std::time::Duration;

use futures_channel::oneshot;
use unipeer_core::{
    Codec, Error, KeyframeRequest, MediaFrame, MediaKind, Result, RtpPacket, TrackDirection,
    TrackState, TrackStats,
};

use crate::command::{Command, PeerId, Reply, TrackCommand, TrackKey};
use crate::driver::DriverHandle;
pub(crate) use shared::TrackShared;

/// A native media track handle; applications use `unipeer::Track`.
#[derive(Clone)]
pub struct Track {
    shared: Arc<TrackShared>,
    key: TrackKey,
    peer: PeerId,
    driver: Arc<DriverHandle>,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track")
            .field("kind", &self.kind())
            .field("mid", &self.mid())
            .finish()
    }
}

impl Track {
    pub(crate) fn new(
        shared: Arc<TrackShared>,
        key: TrackKey,
        peer: PeerId,
        driver: Arc<DriverHandle>,
    ) -> Self {
        Self {
            shared,
            key,
            peer,
            driver,
        }
    }

    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> TrackCommand) -> Result<T> {
        if self.shared.state() == TrackState::Ended {
            return Err(Error::TrackEnded);
        }
        let (tx, rx) = oneshot::channel();
        if !self
            .driver
            .send(self.peer, Command::Track(self.key, make(tx)))
        {
            return Err(Error::PeerClosed);
        }
        rx.await.unwrap_or(Err(Error::PeerClosed))
    }

    /// See `unipeer::Track::kind`.
    pub fn kind(&self) -> MediaKind {
        self.shared.kind()
    }

    /// See `unipeer::Track::mid`.
    pub fn mid(&self) -> Option<String> {
        self.shared.mid()
    }

    /// See `unipeer::Track::direction`.
    pub fn direction(&self) -> TrackDirection {
        self.shared.direction()
    }

    /// See `unipeer::Track::state`.
    pub fn state(&self) -> TrackState {
        self.shared.state()
    }

    /// See `unipeer::Track::remote_stream_id`: (stream id, track id).
    pub fn remote_ids(&self) -> Option<(String, String)> {
        self.shared.remote_ids()
    }

    /// See `unipeer::Track::send_codec`: `None` while nothing is sent (an ended track, or
    /// a direction that does not send).
    pub fn send_codec(&self) -> Option<Codec> {
        if self.shared.state() == TrackState::Ended || !self.shared.direction().sends() {
            return None;
        }
        self.shared.send_codec()
    }

    /// See `unipeer::Track::set_direction`.
    pub async fn set_direction(&self, direction: TrackDirection) -> Result<()> {
        self.request(|r| TrackCommand::SetDirection(direction, r))
            .await
    }

    /// See `unipeer::Track::stop`.
    pub async fn stop(&self) -> Result<()> {
        if self.shared.state() == TrackState::Ended {
            return Ok(());
        }
        self.request(TrackCommand::Stop).await
    }

    /// See `unipeer::Track::stats`.
    pub async fn stats(&self) -> Result<TrackStats> {
        Ok(self.shared.stats())
    }

    /// See `unipeer::Track::wait_ended`.
    pub async fn wait_ended(&self) {
        self.shared.ended().await
    }

    /// See `unipeer::Track::write_frame`.
    pub async fn write_frame(
        &self,
        codec: Option<Codec>,
        data: Vec<u8>,
        timestamp: Duration,
    ) -> Result<()> {
        if data.is_empty() {
            return Err(Error::EmptyMessage);
        }
        self.request(|r| TrackCommand::Write {
            codec,
            data,
            timestamp,
            reply: r,
        })
        .await
    }

    /// See `unipeer::Track::next_frame`.
    pub async fn next_frame(&self) -> Option<MediaFrame> {
        self.shared.frame().await
    }

    /// See `unipeer::Track::try_next_frame`.
    pub fn try_next_frame(&self) -> Option<MediaFrame> {
        self.shared.try_frame()
    }

    /// See `unipeer::Track::write_rtp`.
    pub async fn write_rtp(&self, packet: RtpPacket) -> Result<()> {
        self.request(|reply| TrackCommand::WriteRtp { packet, reply })
            .await
    }

    /// See `unipeer::Track::next_rtp`.
    pub async fn next_rtp(&self) -> Option<RtpPacket> {
        self.shared.packet().await
    }

    /// See `unipeer::Track::try_next_rtp`.
    pub fn try_next_rtp(&self) -> Option<RtpPacket> {
        self.shared.try_packet()
    }

    /// See `unipeer::Track::request_keyframe`.
    pub async fn request_keyframe(&self) -> Result<()> {
        self.request(TrackCommand::RequestKeyframe).await
    }

    /// See `unipeer::Track::next_keyframe_request`.
    pub async fn next_keyframe_request(&self) -> Option<KeyframeRequest> {
        self.shared.keyframe_request().await
    }
}
