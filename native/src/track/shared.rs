//! A track's state shared by its handles (application threads) and its session (the
//! driver thread): one small mutex, held only to copy values in or out.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use event_listener::{Event, EventListener};
use unipeer_core::{
    Codec, KeyframeRequest, MediaFrame, MediaKind, RtpPacket, TrackDirection, TrackState,
    TrackStats,
};

/// Keyframe requests kept for the application: more than a few say nothing new.
const KEYFRAME_REQUESTS_KEPT: usize = 4;

pub(crate) struct TrackShared {
    kind: MediaKind,
    inner: Mutex<Inner>,
    /// Frames, keyframe requests or the end arrived.
    changed: Event,
}

struct Inner {
    mid: Option<String>,
    direction: TrackDirection,
    state: TrackState,
    remote_ids: Option<(String, String)>,
    send_codec: Option<Codec>,
    frames: VecDeque<MediaFrame>,
    frame_limit: usize,
    /// RTP mode: packets instead of frames.
    packets: VecDeque<RtpPacket>,
    keyframe_requests: VecDeque<KeyframeRequest>,
    stats: TrackStats,
}

impl TrackShared {
    pub(crate) fn new(kind: MediaKind, direction: TrackDirection, frame_limit: usize) -> Self {
        Self {
            kind,
            inner: Mutex::new(Inner {
                mid: None,
                direction,
                state: TrackState::Live,
                remote_ids: None,
                send_codec: None,
                frames: VecDeque::new(),
                frame_limit: frame_limit.max(1),
                packets: VecDeque::new(),
                keyframe_requests: VecDeque::new(),
                stats: TrackStats::default(),
            }),
            changed: Event::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock (plain copies), so a poisoned lock still
        // holds consistent values.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn kind(&self) -> MediaKind {
        self.kind
    }

    pub(crate) fn mid(&self) -> Option<String> {
        self.lock().mid.clone()
    }

    pub(crate) fn set_mid(&self, mid: Option<String>) {
        self.lock().mid = mid;
    }

    pub(crate) fn direction(&self) -> TrackDirection {
        self.lock().direction
    }

    pub(crate) fn set_direction(&self, d: TrackDirection) {
        self.lock().direction = d;
    }

    pub(crate) fn state(&self) -> TrackState {
        self.lock().state
    }

    /// Sets the state; `false` when it did not change (or the track had already ended,
    /// which is final).
    pub(crate) fn set_state(&self, s: TrackState) -> bool {
        let mut inner = self.lock();
        if inner.state == s || inner.state == TrackState::Ended {
            return false;
        }
        inner.state = s;
        drop(inner);
        if s == TrackState::Ended {
            self.changed.notify(usize::MAX);
        }
        true
    }

    pub(crate) fn remote_ids(&self) -> Option<(String, String)> {
        self.lock().remote_ids.clone()
    }

    pub(crate) fn set_remote_ids(&self, ids: Option<(String, String)>) {
        self.lock().remote_ids = ids;
    }

    pub(crate) fn send_codec(&self) -> Option<Codec> {
        self.lock().send_codec
    }

    pub(crate) fn set_send_codec(&self, c: Option<Codec>) {
        self.lock().send_codec = c;
    }

    pub(crate) fn stats(&self) -> TrackStats {
        self.lock().stats
    }

    pub(crate) fn update_stats(&self, f: impl FnOnce(&mut TrackStats)) {
        f(&mut self.lock().stats);
    }

    /// A received frame, counted and queued; the oldest is dropped when the queue is full.
    pub(crate) fn push_frame(&self, mut frame: MediaFrame, packets: u64) {
        let mut inner = self.lock();
        let s = &mut inner.stats;
        s.frames_received += 1;
        s.bytes_received += frame.data.len() as u64;
        s.packets_received += packets;
        s.keyframes_received += u64::from(frame.keyframe);
        if inner.frames.len() >= inner.frame_limit {
            inner.frames.pop_front();
            // The frame read next no longer follows the one read before it.
            match inner.frames.front_mut() {
                Some(next) => next.contiguous = false,
                None => frame.contiguous = false,
            }
        }
        inner.frames.push_back(frame);
        drop(inner);
        self.changed.notify(usize::MAX);
    }

    /// A received RTP packet (RTP mode), counted and queued; the oldest is dropped when
    /// the queue (16 packets per frame the frame queue would keep) is full.
    pub(crate) fn push_packet(&self, packet: RtpPacket) {
        let mut inner = self.lock();
        inner.stats.packets_received += 1;
        inner.stats.bytes_received += packet.payload.len() as u64;
        if inner.packets.len() >= inner.frame_limit.saturating_mul(16) {
            inner.packets.pop_front();
        }
        inner.packets.push_back(packet);
        drop(inner);
        self.changed.notify(usize::MAX);
    }

    pub(crate) fn try_packet(&self) -> Option<RtpPacket> {
        self.lock().packets.pop_front()
    }

    pub(crate) async fn packet(&self) -> Option<RtpPacket> {
        self.wait_for(|shared| match shared.try_packet() {
            Some(p) => Some(Some(p)),
            None if shared.state() == TrackState::Ended => Some(None),
            None => None,
        })
        .await
    }

    pub(crate) fn push_keyframe_request(&self, r: KeyframeRequest) {
        let mut inner = self.lock();
        inner.stats.keyframe_requests_received += 1;
        if inner.keyframe_requests.len() < KEYFRAME_REQUESTS_KEPT {
            inner.keyframe_requests.push_back(r);
        }
        drop(inner);
        self.changed.notify(usize::MAX);
    }

    pub(crate) fn try_frame(&self) -> Option<MediaFrame> {
        self.lock().frames.pop_front()
    }

    pub(crate) async fn frame(&self) -> Option<MediaFrame> {
        self.wait_for(|shared| match shared.try_frame() {
            Some(f) => Some(Some(f)),
            None if shared.state() == TrackState::Ended => Some(None),
            None => None,
        })
        .await
    }

    pub(crate) async fn keyframe_request(&self) -> Option<KeyframeRequest> {
        self.wait_for(|shared| {
            let mut inner = shared.lock();
            match inner.keyframe_requests.pop_front() {
                Some(r) => Some(Some(r)),
                None if inner.state == TrackState::Ended => Some(None),
                None => None,
            }
        })
        .await
    }

    pub(crate) async fn ended(&self) {
        self.wait_for(|shared| (shared.state() == TrackState::Ended).then_some(()))
            .await
    }

    /// Waits until `check` gives a value, re-checking after every change.
    async fn wait_for<T>(&self, check: impl Fn(&Self) -> Option<T>) -> T {
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            let listener: EventListener = self.changed.listen();
            // Checked again after listening: a change between the check and the listen
            // would otherwise be missed.
            if let Some(v) = check(self) {
                return v;
            }
            listener.await;
        }
    }
}
