//! Media tracks: the platform-neutral values both backends share.

use std::time::Duration;

use crate::{Error, Result};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Sound (Opus).
    Audio,
    /// Pictures (VP8, VP9, H.264, AV1).
    Video,
}

impl MediaKind {
    /// `audio` or `video`, as in SDP and the browser's `MediaStreamTrack.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// Which way a track's media flows, seen from this peer (the browser's
/// `RTCRtpTransceiverDirection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackDirection {
    /// This peer sends and receives.
    SendRecv,
    /// This peer only sends.
    SendOnly,
    /// This peer only receives.
    RecvOnly,
    /// Nothing flows (the section stays in the session, ready to be used again).
    Inactive,
}

impl TrackDirection {
    /// Whether this peer sends in this direction.
    pub fn sends(self) -> bool {
        matches!(self, TrackDirection::SendRecv | TrackDirection::SendOnly)
    }

    /// Whether this peer receives in this direction.
    pub fn receives(self) -> bool {
        matches!(self, TrackDirection::SendRecv | TrackDirection::RecvOnly)
    }

    /// The SDP / browser name: `sendrecv`, `sendonly`, `recvonly` or `inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackDirection::SendRecv => "sendrecv",
            TrackDirection::SendOnly => "sendonly",
            TrackDirection::RecvOnly => "recvonly",
            TrackDirection::Inactive => "inactive",
        }
    }
}

/// A media codec both backends can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Opus audio, 48 kHz.
    Opus,
    /// VP8 video.
    Vp8,
    /// VP9 video.
    Vp9,
    /// H.264 video (constrained baseline, packetization mode 1, where both ends have it).
    H264,
    /// AV1 video.
    Av1,
}

impl Codec {
    /// Every codec, audio first, in the default preference order.
    pub const ALL: [Codec; 5] = [Codec::Opus, Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1];

    /// Whether it carries audio or video.
    pub fn kind(self) -> MediaKind {
        match self {
            Codec::Opus => MediaKind::Audio,
            _ => MediaKind::Video,
        }
    }

    /// The RTP clock rate: 48 kHz for Opus, 90 kHz for video.
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            _ => 90_000,
        }
    }

    /// The MIME type, as in the browser's `RTCRtpCodec.mimeType` (`video/VP8`).
    pub fn mime_type(self) -> &'static str {
        match self {
            Codec::Opus => "audio/opus",
            Codec::Vp8 => "video/VP8",
            Codec::Vp9 => "video/VP9",
            Codec::H264 => "video/H264",
            Codec::Av1 => "video/AV1",
        }
    }

    /// The codec with this MIME type or SDP encoding name (case-insensitive; `video/vp8`,
    /// `VP8`, `opus`).
    pub fn from_name(name: &str) -> Option<Codec> {
        let bare = name.rsplit('/').next().unwrap_or(name);
        Codec::ALL.into_iter().find(|c| {
            c.mime_type()
                .rsplit('/')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case(bare))
        })
    }
}

/// What [`Peer::add_track`](https://docs.rs/unipeer) creates: one media section (an SDP
/// m-line, the browser's transceiver) that sends and/or receives one audio or video track.
///
/// ```
/// use unipeer_core::{Codec, MediaKind, TrackDirection, TrackInit};
/// // A camera: send video, VP8 preferred, H.264 if the remote has no VP8.
/// let init = TrackInit {
///     codecs: vec![Codec::Vp8, Codec::H264],
///     ..TrackInit::new(MediaKind::Video, TrackDirection::SendOnly)
/// };
/// assert!(init.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInit {
    /// Audio or video.
    pub kind: MediaKind,
    /// Which way media flows (default `SendRecv`).
    pub direction: TrackDirection,
    /// Codec preferences, most wanted first; only these are offered. Empty: every codec of
    /// the kind that the backend supports, in [`Codec::ALL`]'s order.
    pub codecs: Vec<Codec>,
    /// The media stream the track belongs to, as the remote sees it (`a=msid`); tracks with
    /// the same id are played together. `None`: a fresh one.
    pub stream_id: Option<String>,
}

impl TrackInit {
    /// A track of this kind and direction with every codec and its own stream.
    pub fn new(kind: MediaKind, direction: TrackDirection) -> Self {
        Self {
            kind,
            direction,
            codecs: Vec::new(),
            stream_id: None,
        }
    }

    /// Checks that the codecs match the kind and the stream id is an SDP token.
    pub fn validate(&self) -> Result<()> {
        if let Some(c) = self.codecs.iter().find(|c| c.kind() != self.kind) {
            return Err(Error::InvalidTrackInit(format!(
                "{} is not a {} codec; list only {} codecs",
                c.mime_type(),
                self.kind.as_str(),
                self.kind.as_str()
            )));
        }
        if let Some(id) = &self.stream_id {
            let token = |ch: char| ch.is_ascii_graphic() && !"\"(),/:;<=>?@[\\]{}".contains(ch);
            if id.is_empty() || id.len() > 64 || !id.chars().all(token) {
                return Err(Error::InvalidTrackInit(
                    "stream_id must be 1 to 64 SDP token characters (letters, digits, - . _ ! # $ % & ' * + ^ ` | ~)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// The codecs to offer: the preferences, or every codec of the kind.
    pub fn effective_codecs(&self) -> Vec<Codec> {
        if self.codecs.is_empty() {
            Codec::ALL
                .into_iter()
                .filter(|c| c.kind() == self.kind)
                .collect()
        } else {
            self.codecs.clone()
        }
    }
}

/// Whether a track's remote side is delivering media (the browser's `MediaStreamTrack`
/// `muted` and `readyState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrackState {
    /// Negotiated; media flows or may start at any time.
    Live,
    /// The remote stopped sending for now (no packets for a while, or its direction no
    /// longer sends); it may come back.
    Muted,
    /// The track is over: stopped by either side or the peer closed. Final.
    Ended,
}

/// One encoded frame (a video picture or an audio packet) received on a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFrame {
    /// The encoded frame, depacketized: what a decoder (or an IVF/Ogg file) takes.
    pub data: Vec<u8>,
    /// Media time on the track's clock. Only differences matter: the first frame's
    /// value is arbitrary (RTP starts at a random timestamp).
    pub timestamp: Duration,
    /// The codec the frame is encoded with.
    pub codec: Codec,
    /// Whether a decoder can start at this frame (a video keyframe; always true for audio).
    pub keyframe: bool,
    /// `false` when frames were lost just before this one: a video decoder may need a
    /// keyframe (ask with `request_keyframe`).
    pub contiguous: bool,
}

/// One RTP packet of a track, for peers in RTP mode ([`MediaConfig::rtp_mode`]) that
/// forward media without depacketizing it (an SFU-like node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// The payload type. Received: the remote's; written: used as given unless `codec` is
    /// set (payload types differ between sessions, so forwarders set `codec`).
    pub payload_type: u8,
    /// The extended sequence number (it does not wrap; only its low 16 bits are sent).
    pub sequence_number: u64,
    /// The RTP timestamp, on the codec's clock.
    pub timestamp: u32,
    /// The marker bit (for video: the last packet of a frame).
    pub marker: bool,
    /// The payload, without the RTP header.
    pub payload: Vec<u8>,
    /// The codec of `payload_type` in its session, when it is one unipeer names.
    pub codec: Option<Codec>,
}

/// What a keyframe request asked for (RFC 4585 / RFC 5104).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyframeRequest {
    /// Picture Loss Indication: the receiver lost part of a picture.
    Pli,
    /// Full Intra Request: the receiver needs a keyframe to start decoding at all.
    Fir,
}

/// A track's statistics, the same struct on every backend. Counters start at zero and
/// only grow; a value the backend cannot know yet is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct TrackStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// RTP packets received.
    pub packets_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Complete frames received (natively: handed to the application; in the browser:
    /// decoded).
    pub frames_received: u64,
    /// Keyframes received.
    pub keyframes_received: u64,
    /// Keyframe requests (PLI or FIR) the remote sent for this track.
    pub keyframe_requests_received: u64,
    /// Keyframe requests (PLI or FIR) this peer sent for this track.
    pub keyframe_requests_sent: u64,
    /// Packets of the received stream lost on the way, as the receiver counts them.
    pub packets_lost: u64,
    /// Fraction of sent packets the remote reported lost (0 to 1), from its last report.
    pub loss: Option<f32>,
    /// Inter-arrival jitter of the received stream.
    pub jitter: Option<Duration>,
    /// Round-trip time measured with RTCP.
    pub rtt: Option<Duration>,
}

/// Media options of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// How often the native backend refreshes the RTCP-based figures of
    /// [`TrackStats`] (loss, jitter, round-trip time). Each refresh wakes the peer, so a
    /// process with thousands of data-only peers sets `None` (the counters still work).
    /// Default 1 s. The browser keeps its own statistics and ignores this.
    pub stats_interval: Option<Duration>,
    /// Natively, received frames are kept for the application up to this many per track
    /// (default 256); beyond it the oldest is dropped, so a track nobody reads costs
    /// bounded memory. Dropped frames make the next one non-`contiguous`.
    pub receive_queue: usize,
    /// Natively, carry RTP packets instead of frames (default `false`): tracks then
    /// take `write_rtp` and give `next_rtp` (up to 16 × `receive_queue` packets kept),
    /// and the frame methods fail. For nodes that forward media (an SFU); the browser
    /// ignores this.
    pub rtp_mode: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            stats_interval: Some(Duration::from_secs(1)),
            receive_queue: 256,
            rtp_mode: false,
        }
    }
}
