//! A session's media tracks, mapped onto str0m's frame API: sections added and
//! negotiated, frames in and out, keyframe requests, statistics and track states.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use str0m::change::SdpApi;
use str0m::media::{
    KeyframeRequest as StrKeyframeRequest, KeyframeRequestKind, MediaAdded, MediaChanged,
    MediaData, Mid, Pt,
};
use str0m::stats::{MediaEgressStats, MediaIngressStats};
use str0m::Rtc;
use tracing::debug;
use unipeer_core::{
    Codec, Error, EventQueue, KeyframeRequest, MediaFrame, MediaKind, PeerEvent, Result, RtpPacket,
    TrackDirection, TrackState,
};

use crate::command::{NewTrack, PeerId, TrackCommand, TrackKey};
use crate::driver::DriverHandle;
use crate::track::{Track, TrackShared};
use crate::DataChannel;

use super::media_convert::{
    duration_to_media_time, from_str0m_codec, from_str0m_dir, from_str0m_kind,
    media_time_to_duration, to_str0m_dir, to_str0m_kind,
};
use super::PeerShared;

/// Media sections a remote may add: each costs a little state and an event.
const MAX_TRACKS: usize = 64;

struct Entry {
    key: TrackKey,
    shared: Arc<TrackShared>,
    kind: MediaKind,
    /// Set once the section is in an offer (ours) or came in the remote's.
    mid: Option<Mid>,
    /// Codec preferences, most wanted first (for remote-added tracks: the remote's order).
    codecs: Vec<Codec>,
    /// The application listed preferences: our offers narrow the section to them.
    explicit_codecs: bool,
    stream_id: Option<String>,
    /// A direction change waiting for the next offer.
    direction_change: Option<TrackDirection>,
    /// `stop` was called: the next offer stops the section.
    stop_pending: bool,
}

/// The session's tracks.
pub(super) struct Media {
    entries: Vec<Entry>,
    /// Tracks carry RTP packets, not frames.
    rtp_mode: bool,
    receive_queue: usize,
    /// `NegotiationNeeded` was announced and no offer was made since.
    announced: bool,
    /// The remote's `(mid, stream id, track id)`s from its last description (str0m
    /// announces the sections it added after the description was applied).
    remote_msids: Vec<(String, String, String)>,
}

type Events = EventQueue<DataChannel, Track>;

/// What the session passes so that remote tracks get handles.
pub(super) struct HandleParts<'a> {
    pub peer: PeerId,
    pub driver: &'a Weak<DriverHandle>,
    pub shared: &'a PeerShared,
}

impl Media {
    pub(super) fn new(receive_queue: usize, rtp_mode: bool) -> Self {
        Self {
            entries: Vec::new(),
            rtp_mode,
            receive_queue,
            announced: false,
            remote_msids: Vec::new(),
        }
    }

    fn entry(&mut self, key: TrackKey) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    fn by_mid(&mut self, mid: Mid) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.mid == Some(mid))
    }

    /// Whether a change waits for an offer.
    pub(super) fn needs_negotiation(&self) -> bool {
        self.entries.iter().any(|e| {
            (e.mid.is_none() && !e.stop_pending)
                || (e.mid.is_some() && (e.direction_change.is_some() || e.stop_pending))
        })
    }

    /// `NegotiationNeeded`, once per change set, when the session could make an offer now.
    pub(super) fn announce(&mut self, can_offer: bool, events: &Events) {
        if can_offer && !self.announced && self.needs_negotiation() {
            self.announced = true;
            events.push(PeerEvent::NegotiationNeeded);
        }
    }

    pub(super) fn add(&mut self, new: NewTrack) -> Result<()> {
        if self.entries.len() >= MAX_TRACKS {
            return Err(Error::InvalidState(format!(
                "a peer has at most {MAX_TRACKS} tracks; stop unused ones or use another peer"
            )));
        }
        self.entries.push(Entry {
            key: new.key,
            shared: new.shared,
            kind: new.init.kind,
            mid: None,
            codecs: new.init.effective_codecs(),
            explicit_codecs: !new.init.codecs.is_empty(),
            stream_id: new.init.stream_id,
            direction_change: None,
            stop_pending: false,
        });
        Ok(())
    }

    /// Puts the waiting changes into the offer being made; returns the tracks whose
    /// sections are new in it (a rollback takes them back).
    pub(super) fn hand_over(&mut self, api: &mut SdpApi) -> Vec<TrackKey> {
        self.announced = false;
        let mut added = Vec::new();
        for e in &mut self.entries {
            match e.mid {
                None if !e.stop_pending => {
                    let dir = to_str0m_dir(e.shared.direction());
                    let mid =
                        api.add_media(to_str0m_kind(e.kind), dir, e.stream_id.clone(), None, None);
                    e.mid = Some(mid);
                    e.shared.set_mid(Some(mid.to_string()));
                    added.push(e.key);
                }
                None => {}
                Some(mid) => {
                    if e.stop_pending {
                        e.stop_pending = false;
                        api.stop_media(mid);
                    } else if let Some(d) = e.direction_change.take() {
                        api.set_direction(mid, to_str0m_dir(d));
                    }
                }
            }
        }
        added
    }

    /// `(mid, codecs)` of the sections our offers narrow to the application's preferences.
    pub(super) fn offer_preferences(&self) -> Vec<(String, Vec<Codec>)> {
        self.entries
            .iter()
            .filter(|e| e.explicit_codecs)
            .filter_map(|e| Some((e.mid?.to_string(), e.codecs.clone())))
            .collect()
    }

    /// Our offer was rolled back: its new sections wait for the next offer.
    pub(super) fn take_back(&mut self, keys: &[TrackKey]) {
        for e in self.entries.iter_mut().filter(|e| keys.contains(&e.key)) {
            e.mid = None;
            e.shared.set_mid(None);
        }
    }

    /// An offer/answer completed: send codecs, remote ids and rejected sections.
    pub(super) fn after_agreement(
        &mut self,
        rtc: &mut Rtc,
        msids: &[(String, String, String)],
        events: &Events,
    ) {
        self.remote_msids = msids.to_vec();
        for e in &mut self.entries {
            let Some(mid) = e.mid else { continue };
            let Some(media) = rtc.media(mid) else {
                continue;
            };
            if media.disabled() {
                if e.shared.set_state(TrackState::Ended) {
                    events.push(track_state(mid, TrackState::Ended));
                }
                continue;
            }
            let ids = msids.iter().find(|(m, _, _)| *m == mid.to_string());
            e.shared
                .set_remote_ids(ids.map(|(_, s, t)| (s.clone(), t.clone())));
            let codec = send_codec(rtc, mid, &e.codecs);
            e.shared.set_send_codec(codec);
        }
    }

    pub(super) fn on_added(
        &mut self,
        rtc: &mut Rtc,
        added: MediaAdded,
        parts: &HandleParts<'_>,
        events: &Events,
    ) {
        let direction = from_str0m_dir(added.direction);
        if let Some(e) = self.by_mid(added.mid) {
            e.shared.set_direction(direction);
            e.shared
                .set_send_codec(send_codec(rtc, added.mid, &e.codecs));
            return;
        }
        if self.entries.len() >= MAX_TRACKS {
            debug!(
                peer = parts.peer,
                "the remote added too many tracks; ignored"
            );
            return;
        }
        let Some(driver) = parts.driver.upgrade() else {
            return;
        };
        let kind = from_str0m_kind(added.kind);
        let shared = Arc::new(TrackShared::new(kind, direction, self.receive_queue));
        let mid = added.mid.to_string();
        let ids = self.remote_msids.iter().find(|(m, _, _)| *m == mid);
        shared.set_remote_ids(ids.map(|(_, s, t)| (s.clone(), t.clone())));
        shared.set_mid(Some(mid));
        let key = parts.shared.next_track_key();
        // The remote's section: its codec order is the remote's preference.
        let codecs = remote_codec_order(rtc, added.mid);
        shared.set_send_codec(codecs.first().copied());
        self.entries.push(Entry {
            key,
            shared: shared.clone(),
            kind,
            mid: Some(added.mid),
            codecs,
            explicit_codecs: false,
            stream_id: None,
            direction_change: None,
            stop_pending: false,
        });
        events.push(PeerEvent::Track(Track::new(
            shared, key, parts.peer, driver,
        )));
    }

    pub(super) fn on_changed(&mut self, changed: MediaChanged) {
        if let Some(e) = self.by_mid(changed.mid) {
            e.shared.set_direction(from_str0m_dir(changed.direction));
        }
    }

    pub(super) fn on_data(&mut self, data: MediaData) {
        let Some(e) = self.by_mid(data.mid) else {
            return;
        };
        let Some(codec) = from_str0m_codec(data.params.spec().codec) else {
            return;
        };
        let keyframe = e.kind == MediaKind::Audio || data.is_keyframe();
        // Extended sequence numbers (they do not wrap).
        let packets = (**data.seq_range.end())
            .saturating_sub(**data.seq_range.start())
            .saturating_add(1);
        let frame = MediaFrame {
            data: data.data.to_vec(),
            timestamp: media_time_to_duration(data.time),
            codec,
            keyframe,
            contiguous: data.contiguous,
        };
        e.shared.push_frame(frame, packets);
    }

    /// A received RTP packet (RTP mode), to the track of its stream's section.
    pub(super) fn on_rtp(&mut self, rtc: &mut Rtc, packet: str0m::rtp::RtpPacket) {
        let ssrc = packet.header.ssrc;
        let Some(mid) = rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid()) else {
            return;
        };
        let pt = packet.header.payload_type;
        let codec = rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.pt() == pt)
            .and_then(|p| from_str0m_codec(p.spec().codec));
        let Some(e) = self.by_mid(mid) else { return };
        e.shared.push_packet(RtpPacket {
            payload_type: *pt,
            sequence_number: *packet.seq_no,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            payload: packet.payload.to_vec(),
            codec,
        });
    }

    pub(super) fn on_keyframe_request(&mut self, r: StrKeyframeRequest) {
        if let Some(e) = self.by_mid(r.mid) {
            e.shared.push_keyframe_request(match r.kind {
                KeyframeRequestKind::Pli => KeyframeRequest::Pli,
                KeyframeRequestKind::Fir => KeyframeRequest::Fir,
            });
        }
    }

    pub(super) fn on_paused(&mut self, mid: Mid, paused: bool, events: &Events) {
        let Some(e) = self.by_mid(mid) else { return };
        let state = if paused {
            TrackState::Muted
        } else {
            TrackState::Live
        };
        if e.shared.set_state(state) {
            events.push(track_state(mid, state));
        }
    }

    pub(super) fn on_ingress_stats(&mut self, s: MediaIngressStats) {
        if let Some(e) = self.by_mid(s.mid) {
            e.shared.update_stats(|t| {
                t.packets_lost = s
                    .loss
                    .map_or(t.packets_lost, |l| (f64::from(l) * s.packets as f64) as u64);
                t.jitter = Some(Duration::from_secs_f64(
                    f64::from(s.jitter) / f64::from(e.kind_clock()),
                ));
                if s.rtt.is_some() {
                    t.rtt = s.rtt;
                }
            });
        }
    }

    pub(super) fn on_egress_stats(&mut self, s: MediaEgressStats) {
        if let Some(e) = self.by_mid(s.mid) {
            e.shared.update_stats(|t| {
                t.packets_sent = s.packets;
                if s.rtt.is_some() {
                    t.rtt = s.rtt;
                }
                t.loss = s.loss;
            });
        }
    }

    pub(super) fn command(
        &mut self,
        rtc: &mut Rtc,
        key: TrackKey,
        cmd: TrackCommand,
        now: Instant,
        events: &Events,
    ) {
        let rtp_mode = self.rtp_mode;
        let Some(e) = self.entry(key) else {
            reply_ended(cmd);
            return;
        };
        if e.shared.state() == TrackState::Ended {
            reply_ended(cmd);
            return;
        }
        match cmd {
            TrackCommand::Write { reply, .. } if rtp_mode => {
                let _ = reply.send(Err(Error::TrackNotReady(
                    "this peer is in RTP mode (MediaConfig::rtp_mode): write RTP packets".into(),
                )));
            }
            TrackCommand::Write {
                codec,
                data,
                timestamp,
                reply,
            } => {
                let r = write(rtc, e, codec, data, timestamp, now);
                let _ = reply.send(r);
            }
            TrackCommand::WriteRtp { reply, .. } if !rtp_mode => {
                let _ = reply.send(Err(Error::TrackNotReady(
                    "RTP packets need a peer in RTP mode (MediaConfig::rtp_mode); write frames"
                        .into(),
                )));
            }
            TrackCommand::WriteRtp { packet, reply } => {
                let r = write_rtp(rtc, e, packet, now);
                let _ = reply.send(r);
            }
            TrackCommand::RequestKeyframe(reply) => {
                let r = request_keyframe(rtc, e);
                let _ = reply.send(r);
            }
            TrackCommand::SetDirection(d, reply) => {
                if e.shared.direction() != d || e.mid.is_none() {
                    e.shared.set_direction(d);
                    if e.mid.is_some() {
                        e.direction_change = Some(d);
                    }
                }
                let _ = reply.send(Ok(()));
            }
            TrackCommand::Stop(reply) => {
                e.stop_pending = true;
                if e.shared.set_state(TrackState::Ended) {
                    if let Some(mid) = e.mid {
                        events.push(track_state(mid, TrackState::Ended));
                    }
                }
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// The peer closed: every track ends (reported before the peer's `Closed`).
    pub(super) fn end_all(&mut self, events: &Events) {
        for e in &self.entries {
            if e.shared.set_state(TrackState::Ended) {
                if let Some(mid) = e.mid {
                    events.push(track_state(mid, TrackState::Ended));
                }
            }
        }
    }
}

impl Entry {
    fn kind_clock(&self) -> u32 {
        match self.kind {
            MediaKind::Audio => 48_000,
            MediaKind::Video => 90_000,
        }
    }
}

fn reply_ended(cmd: TrackCommand) {
    let e = || Err(Error::TrackEnded);
    match cmd {
        TrackCommand::Write { reply, .. } | TrackCommand::WriteRtp { reply, .. } => {
            drop(reply.send(e()))
        }
        TrackCommand::RequestKeyframe(r) | TrackCommand::SetDirection(_, r) => drop(r.send(e())),
        TrackCommand::Stop(r) => drop(r.send(Ok(()))),
    }
}

fn track_state(mid: Mid, state: TrackState) -> PeerEvent<DataChannel, Track> {
    PeerEvent::TrackStateChange {
        mid: mid.to_string(),
        state,
    }
}

fn write(
    rtc: &mut Rtc,
    e: &mut Entry,
    codec: Option<Codec>,
    data: Vec<u8>,
    timestamp: Duration,
    now: Instant,
) -> Result<()> {
    let Some(mid) = e.mid else {
        return Err(Error::TrackNotReady(
            "the track is not negotiated yet: write frames after the answer is accepted".into(),
        ));
    };
    if !e.shared.direction().sends() {
        return Err(Error::TrackNotReady(format!(
            "the track's direction is {}: set a sending direction to write frames",
            e.shared.direction().as_str()
        )));
    }
    let codec = match codec.or_else(|| e.shared.send_codec()) {
        Some(c) => c,
        None => {
            return Err(Error::CodecNotNegotiated(
                "the remote accepted none of the track's codecs (or has not answered yet)".into(),
            ))
        }
    };
    let Some(pt) = pt_for(rtc, mid, codec) else {
        return Err(Error::CodecNotNegotiated(format!(
            "{} is not among the track's negotiated codecs",
            codec.mime_type()
        )));
    };
    let Some(writer) = rtc.writer(mid) else {
        return Err(Error::TrackNotReady(
            "the track is not sending: the remote's answer does not let this peer send on it"
                .into(),
        ));
    };
    let len = data.len() as u64;
    let time = duration_to_media_time(timestamp, codec.clock_rate());
    writer
        .write(pt, now, time, data)
        .map_err(|err| Error::TrackNotReady(format!("the frame could not be sent: {err}")))?;
    e.shared.update_stats(|t| {
        t.frames_sent += 1;
        t.bytes_sent += len;
    });
    Ok(())
}

fn write_rtp(rtc: &mut Rtc, e: &mut Entry, packet: RtpPacket, now: Instant) -> Result<()> {
    let not_sending = || {
        Error::TrackNotReady(
            "the track is not sending: negotiate a sending direction before writing".into(),
        )
    };
    let mid = e.mid.ok_or_else(not_sending)?;
    if !e.shared.direction().sends() {
        return Err(not_sending());
    }
    let found = match packet.codec {
        Some(c) => pt_for(rtc, mid, c),
        None => negotiated(rtc, mid)
            .into_iter()
            .map(|(pt, _)| pt)
            .find(|pt| **pt == packet.payload_type),
    };
    let pt = found.ok_or_else(|| {
        Error::CodecNotNegotiated(format!(
            "payload type {} ({}) is not negotiated on this track",
            packet.payload_type,
            packet.codec.map_or("no codec named", Codec::mime_type)
        ))
    })?;
    if packet.payload.is_empty() {
        return Err(Error::EmptyMessage);
    }
    let len = packet.payload.len() as u64;
    let mut api = rtc.direct_api();
    let stream = api.stream_tx_by_mid(mid, None).ok_or_else(not_sending)?;
    let write = str0m::rtp::RtpWrite::new(
        pt,
        packet.sequence_number.into(),
        packet.timestamp,
        now,
        packet.payload,
    )
    .marker(packet.marker);
    stream.write_rtp(write);
    e.shared.update_stats(|t| t.bytes_sent += len);
    Ok(())
}

fn request_keyframe(rtc: &mut Rtc, e: &mut Entry) -> Result<()> {
    let not_receiving = || {
        Error::TrackNotReady(
            "the track receives nothing yet: ask for keyframes once the remote sends".into(),
        )
    };
    let mid = e.mid.ok_or_else(not_receiving)?;
    if !e.shared.direction().receives() {
        return Err(not_receiving());
    }
    // The receive stream directly: str0m makes no `Writer` in RTP mode.
    let mut api = rtc.direct_api();
    let stream = api.stream_rx_by_mid(mid, None).ok_or_else(not_receiving)?;
    stream.request_keyframe(KeyframeRequestKind::Pli);
    e.shared.update_stats(|t| t.keyframe_requests_sent += 1);
    Ok(())
}

/// The payload types negotiated for `mid`, in the remote's order, with their codecs
/// (what str0m's `Writer::payload_params` gives, without a writer: in RTP mode str0m
/// refuses to make one).
fn negotiated(rtc: &Rtc, mid: Mid) -> Vec<(Pt, Option<Codec>)> {
    let Some(media) = rtc.media(mid) else {
        return Vec::new();
    };
    let params = rtc.codec_config().params();
    media
        .remote_pts()
        .iter()
        .filter_map(|pt| params.iter().find(|p| p.pt() == *pt))
        .map(|p| (p.pt(), from_str0m_codec(p.spec().codec)))
        .collect()
}

/// The payload type for `codec` on `mid`.
fn pt_for(rtc: &Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    negotiated(rtc, mid)
        .into_iter()
        .find(|(_, c)| *c == Some(codec))
        .map(|(pt, _)| pt)
}

/// The first of `prefs` the remote accepted for `mid`.
fn send_codec(rtc: &Rtc, mid: Mid, prefs: &[Codec]) -> Option<Codec> {
    let negotiated: Vec<Codec> = negotiated(rtc, mid)
        .into_iter()
        .filter_map(|(_, c)| c)
        .collect();
    prefs.iter().copied().find(|c| negotiated.contains(c))
}

/// The codecs negotiated for `mid`, in the remote's order of preference.
fn remote_codec_order(rtc: &Rtc, mid: Mid) -> Vec<Codec> {
    let mut order = Vec::new();
    for c in negotiated(rtc, mid).into_iter().filter_map(|(_, c)| c) {
        if !order.contains(&c) {
            order.push(c);
        }
    }
    order
}
