//! A peer's media tracks: the transceivers it created (`add_track`) and those the remote's
//! offers created, kept apart so that only the latter are announced as `PeerEvent::Track`.
//!
//! - `add_track` is `addTransceiver(kind, { direction, streams })` with codec preferences
//!   from `RTCRtpReceiver.getCapabilities(kind)`, ordered by the track's preferences.
//! - A section the remote adds gets the counterpart of the offered direction (sendrecv
//!   stays sendrecv, so this peer can answer on it), as natively; later offers that change
//!   the offered direction change it again, and a local `set_direction` holds until then.
//! - Stream ids: the browser picks a `MediaStream`'s id itself. Each application
//!   `stream_id` gets one `MediaStream` (tracks with the same id share it), and the
//!   descriptions this peer hands out say the application's id instead of the browser's
//!   (`sdp::rename_streams`), so the remote sees the requested id on both backends.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use unipeer_core::{Codec, Error, MediaKind, Result, TrackInit, TrackState};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::MediaStream;

use crate::error::JsError;
use crate::peer::Events;
use crate::sdp;
use crate::sys::RtcPeerConnection;
use crate::sys_media::{RtcRtpReceiver, RtcRtpTransceiver, RtcTrackEvent};
use crate::track::{Track, TrackShared};

/// Tracks a peer keeps at most (its own and the remote's): each costs listeners and an
/// event, so a remote cannot make this peer hold an unbounded number.
const MAX_TRACKS: usize = 64;

/// Entries of a codec capability list that serve the media codecs (retransmission,
/// redundancy, forward error correction): kept after the preferred ones, or the browser
/// would negotiate without them.
const HELPERS: [&str; 4] = ["rtx", "red", "ulpfec", "flexfec-03"];

#[derive(Default)]
pub(crate) struct Media {
    /// Every live track of the peer (ended ones are dropped at the next description).
    tracks: RefCell<Vec<Rc<TrackShared>>>,
    /// The `MediaStream` of each application stream id.
    named_streams: RefCell<Vec<(String, MediaStream)>>,
    /// Stream ids from `track` events for transceivers adopted later in the same
    /// `setRemoteDescription`.
    pending_streams: RefCell<Vec<(RtcRtpTransceiver, String)>>,
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Setting a property of a plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn string(obj: &JsValue, key: &str) -> Option<String> {
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
}

impl Media {
    fn find(&self, t: &RtcRtpTransceiver) -> Option<Rc<TrackShared>> {
        self.tracks
            .borrow()
            .iter()
            .find(|s| &s.transceiver == t)
            .cloned()
    }

    fn live(&self) -> usize {
        let tracks = self.tracks.borrow();
        tracks
            .iter()
            .filter(|t| t.state() != TrackState::Ended)
            .count()
    }

    /// `add_track`: a transceiver with the track's direction, stream and codecs.
    pub(crate) fn add(
        &self,
        pc: &RtcPeerConnection,
        init: TrackInit,
        events: Events,
    ) -> Result<Track> {
        init.validate()?;
        if self.live() >= MAX_TRACKS {
            return Err(Error::InvalidState(format!(
                "a peer has at most {MAX_TRACKS} tracks; stop unused ones or use another peer"
            )));
        }
        let codecs = codec_preferences(&init)?;
        let stream = self.stream_for(init.stream_id.as_deref())?;
        let o = Object::new();
        set(&o, "direction", &JsValue::from_str(init.direction.as_str()));
        set(&o, "streams", &Array::of1(&stream));
        let t = pc.add_transceiver(init.kind.as_str(), &o).map_err(|e| {
            let e = JsError::from_js(&e);
            if e.is("InvalidStateError") {
                Error::PeerClosed
            } else {
                e.platform()
            }
        })?;
        if let Some(codecs) = codecs {
            if let Err(e) = t.set_codec_preferences(&codecs) {
                // Unused, so it never reaches a description.
                let _ = t.stop();
                return Err(Error::CodecNotNegotiated(format!(
                    "the browser refused the codec preferences: {}",
                    JsError::from_js(&e).text
                )));
            }
        }
        let shared = TrackShared::new(t, init.kind, Some(init.stream_id), events);
        self.tracks.borrow_mut().push(shared.clone());
        Ok(Track::new(shared))
    }

    /// The `MediaStream` a new local track joins: the one of its application stream id,
    /// or a fresh one.
    fn stream_for(&self, id: Option<&str>) -> Result<MediaStream> {
        let fresh = || {
            MediaStream::new().map_err(|e| {
                Error::Platform(format!(
                    "could not create a MediaStream: {}",
                    JsError::from_js(&e).text
                ))
            })
        };
        let Some(id) = id else { return fresh() };
        let mut named = self.named_streams.borrow_mut();
        // `Clone::clone`, not `.clone()`: `MediaStream` has an inherent `clone`, the JS
        // method, which makes a new stream with a new id.
        if let Some((_, s)) = named.iter().find(|(n, _)| n == id) {
            return Ok(Clone::clone(s));
        }
        let s = fresh()?;
        named.push((id.to_string(), Clone::clone(&s)));
        Ok(s)
    }

    /// The browser's `track` event: remembers the stream it names, the fallback for a
    /// description without `a=msid`.
    pub(crate) fn on_track_event(&self, e: &RtcTrackEvent) {
        let t = e.transceiver();
        let Some(stream) = e
            .streams()
            .get(0)
            .dyn_into::<MediaStream>()
            .ok()
            .map(|s| s.id())
        else {
            return;
        };
        match self.find(&t) {
            Some(track) => *track.event_stream.borrow_mut() = Some(stream),
            None => self.pending_streams.borrow_mut().push((t, stream)),
        }
    }

    /// After the remote's offer is set, before the answer: adopts the transceivers it
    /// created and sets their directions (see the module docs). Returns the new tracks,
    /// to announce once the answer is set.
    pub(crate) fn adopt_remote(
        &self,
        pc: &RtcPeerConnection,
        offer: &str,
        events: &Events,
    ) -> Vec<Track> {
        let pending = self.pending_streams.take();
        let mut added = Vec::new();
        for t in pc.get_transceivers().iter() {
            let t: RtcRtpTransceiver = t.unchecked_into();
            let Some(mid) = t.mid() else { continue };
            let offered = sdp::direction(offer, &mid);
            if let Some(track) = self.find(&t) {
                if !track.local && offered.is_some() && track.offered.get() != offered {
                    track.offered.set(offered);
                    if let Some(d) = offered {
                        let _ = t.set_direction(sdp::counterpart(d).as_str());
                    }
                }
                continue;
            }
            // A rejected section, or one stopped meanwhile, has nothing to announce.
            let Some(offered) = offered else { continue };
            if t.direction() == "stopped" {
                continue;
            }
            let kind = match t.receiver().track().kind().as_str() {
                "audio" => MediaKind::Audio,
                "video" => MediaKind::Video,
                _ => continue,
            };
            if self.live() >= MAX_TRACKS {
                // Nothing flows on a section beyond the bound.
                let _ = t.set_direction("inactive");
                continue;
            }
            let want = sdp::counterpart(offered);
            let _ = t.set_direction(want.as_str());
            if want.sends() {
                // Else the answer's msid names no stream ("-").
                if let Ok(stream) = MediaStream::new() {
                    let _ = t.sender().set_streams(&stream);
                }
            }
            let shared = TrackShared::new(t, kind, None, events.clone());
            shared.offered.set(Some(offered));
            if let Some((_, s)) = pending.iter().find(|(p, _)| *p == shared.transceiver) {
                *shared.event_stream.borrow_mut() = Some(s.clone());
            }
            shared.set_remote_ids(sdp::msid(offer, &mid));
            self.tracks.borrow_mut().push(shared.clone());
            added.push(Track::new(shared));
        }
        added
    }

    /// After a description was set (either side): mids, the remote's ids, and the end of
    /// stopped tracks (stopped here, by the remote, or rejected in the answer).
    pub(crate) fn refresh(&self, pc: &RtcPeerConnection) {
        let remote = pc.remote_description().map(|d| d.sdp());
        let tracks = self.tracks.borrow().clone();
        for t in &tracks {
            if let (Some(sdp), Some(mid)) = (&remote, t.mid()) {
                t.set_remote_ids(sdp::msid(sdp, &mid));
            }
            if t.stopped() {
                t.end();
            }
        }
        let mut tracks = self.tracks.borrow_mut();
        tracks.retain(|t| t.state() != TrackState::Ended);
        // A stream id no live track uses any more: its stream goes (ended sections carry no
        // msid), so a long session does not accumulate them.
        self.named_streams
            .borrow_mut()
            .retain(|(id, _)| tracks.iter().any(|t| t.stream_id.as_deref() == Some(id)));
    }

    /// A description this peer hands out, with the application's stream ids.
    pub(crate) fn outgoing(&self, sdp: String) -> String {
        if self.named_streams.borrow().is_empty() {
            return sdp;
        }
        let renames: Vec<(String, String)> = self
            .named_streams
            .borrow()
            .iter()
            .map(|(app, s)| (s.id(), app.clone()))
            .collect();
        sdp::rename_streams(&sdp, &renames)
    }

    /// The peer closed: every track ends (with its event) and drops its listeners.
    pub(crate) fn end_all(&self) {
        for t in self.tracks.take() {
            t.end();
        }
        self.pending_streams.take();
    }
}

/// The codec list for `setCodecPreferences`: the browser's entries for each preferred codec
/// in preference order, then the helper entries. `None` when the browser cannot tell its
/// codecs and the application has no preference (the browser's defaults then apply).
fn codec_preferences(init: &TrackInit) -> Result<Option<Array>> {
    let caps = RtcRtpReceiver::get_capabilities(init.kind.as_str())
        .ok()
        .flatten();
    let Some(caps) = caps else {
        if init.codecs.is_empty() {
            return Ok(None);
        }
        return Err(Error::Unsupported(
            "this browser cannot set codec preferences (no RTCRtpReceiver.getCapabilities); \
             leave TrackInit::codecs empty"
                .into(),
        ));
    };
    let all: Vec<JsValue> = Reflect::get(&caps, &JsValue::from_str("codecs"))
        .ok()
        .filter(|c| c.is_object())
        .map(|c| Array::from(&c).iter().collect())
        .unwrap_or_default();
    let mime = |c: &JsValue| string(c, "mimeType").unwrap_or_default();
    let wanted = init.effective_codecs();
    let out = Array::new();
    for codec in &wanted {
        for c in all
            .iter()
            .filter(|c| mime(c).eq_ignore_ascii_case(codec.mime_type()))
        {
            out.push(c);
        }
    }
    if out.length() == 0 {
        let names =
            |codecs: &mut dyn Iterator<Item = String>| codecs.collect::<Vec<_>>().join(", ");
        let available = names(
            &mut all
                .iter()
                .map(mime)
                .filter(|m| Codec::from_name(m).is_some_and(|c| c.kind() == init.kind)),
        );
        return Err(Error::CodecNotNegotiated(format!(
            "this browser has none of {} (it has {available}); prefer one of those",
            names(&mut wanted.iter().map(|c| c.mime_type().to_string()))
        )));
    }
    for c in all.iter().filter(|c| {
        let m = mime(c);
        let sub = m.rsplit('/').next().unwrap_or("");
        HELPERS.iter().any(|h| sub.eq_ignore_ascii_case(h))
    }) {
        out.push(c);
    }
    Ok(Some(out))
}
