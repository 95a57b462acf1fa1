//! `Track` over `RTCRtpTransceiver`: one media section, its sender and its receiver.
//!
//! - kind, mid and direction are the transceiver's (`direction` is what this peer wants;
//!   `stop` turns it to `stopped`, reported as `Inactive`);
//! - the state follows the receiver's `MediaStreamTrack`: `mute` → `Muted`, `unmute` →
//!   `Live`, `ended` → `Ended`; a stopped transceiver (by either side, or a section the
//!   remote rejected) and the peer's close end it too. Each change is one
//!   `PeerEvent::TrackStateChange` on the peer (once the track has a mid);
//! - the remote's ids come from its description's `a=msid` for the mid (the receiver
//!   track's own id is local and random);
//! - the send codec is the first entry of `RTCRtpSender.getParameters().codecs` that
//!   unipeer knows, once negotiated.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use event_listener::Event as Notify;
use js_sys::{Array, Reflect};
use unipeer_core::{
    Codec, Error, MediaKind, PeerEvent, Result, TrackDirection, TrackState, TrackStats,
};
use wasm_bindgen::JsValue;
use web_sys::{MediaStream, MediaStreamTrack};

use crate::error::call;
use crate::listener::Listener;
use crate::peer::Events;
use crate::sdp::parse_direction;
use crate::sys_media::RtcRtpTransceiver;

/// A media track of a browser peer; applications use `unipeer::Track`.
///
/// Clones are handles to the same track. Its listeners belong to the peer: they go when
/// the track ends or the peer closes.
#[derive(Clone)]
pub struct Track {
    pub(crate) shared: Rc<TrackShared>,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track")
            .field("kind", &self.kind())
            .field("mid", &self.mid())
            .field("state", &self.state())
            .finish()
    }
}

/// What the peer, the handles and the receiver track's listeners share.
pub(crate) struct TrackShared {
    pub(crate) transceiver: RtcRtpTransceiver,
    pub(crate) kind: MediaKind,
    /// Created by this peer's `add_track` (else by the remote's offer).
    pub(crate) local: bool,
    /// The application's stream id of a local track.
    pub(crate) stream_id: Option<String>,
    state: Cell<TrackState>,
    /// The last mid the transceiver had (a stopped one may lose it).
    mid: RefCell<Option<String>>,
    remote_ids: RefCell<Option<(String, String)>>,
    /// The stream id of the `track` event, for a remote whose description has no msid.
    pub(crate) event_stream: RefCell<Option<String>>,
    /// For a remote-added track: the direction the remote offered last.
    pub(crate) offered: Cell<Option<TrackDirection>>,
    remote_stream: RefCell<Option<MediaStream>>,
    ended: Notify,
    events: Events,
    listeners: RefCell<Vec<Listener>>,
}

impl TrackShared {
    /// A track over `transceiver`, listening to its receiver track's mute, unmute and end.
    /// `local`: `Some(application stream id)` for a track of `add_track`, `None` for one
    /// the remote added.
    pub(crate) fn new(
        transceiver: RtcRtpTransceiver,
        kind: MediaKind,
        local: Option<Option<String>>,
        events: Events,
    ) -> Rc<Self> {
        let shared = Rc::new(Self {
            kind,
            local: local.is_some(),
            stream_id: local.flatten(),
            state: Cell::new(TrackState::Live),
            mid: RefCell::new(transceiver.mid()),
            remote_ids: RefCell::new(None),
            event_stream: RefCell::new(None),
            offered: Cell::new(None),
            remote_stream: RefCell::new(None),
            ended: Notify::new(),
            events,
            listeners: RefCell::new(Vec::new()),
            transceiver,
        });
        let target: web_sys::EventTarget = shared.transceiver.receiver().track().into();
        let on = |event: &'static str, state: TrackState| {
            let weak = Rc::downgrade(&shared);
            Listener::new(&target, event, move |_| {
                if let Some(t) = weak.upgrade() {
                    t.set_state(state);
                }
            })
        };
        let listeners = vec![
            on("mute", TrackState::Muted),
            on("unmute", TrackState::Live),
            on("ended", TrackState::Ended),
        ];
        *shared.listeners.borrow_mut() = listeners;
        shared
    }

    pub(crate) fn mid(&self) -> Option<String> {
        let now = self.transceiver.mid();
        if now.is_some() {
            self.mid.replace(now.clone());
            return now;
        }
        self.mid.borrow().clone()
    }

    pub(crate) fn state(&self) -> TrackState {
        self.state.get()
    }

    /// Moves to `state` and reports it; `Ended` is final. Returns whether it changed.
    pub(crate) fn set_state(&self, state: TrackState) -> bool {
        let old = self.state.get();
        if old == state || old == TrackState::Ended {
            return false;
        }
        self.state.set(state);
        if state == TrackState::Ended {
            self.ended.notify(usize::MAX);
        }
        // A track never put in a description has no mid to report.
        if let Some(mid) = self.mid() {
            self.events.push(PeerEvent::TrackStateChange { mid, state });
        }
        true
    }

    /// Ends the track and drops its listeners. Not from one of those listeners (a running
    /// closure must not be freed): an `ended` event only sets the state, and its listeners
    /// go with the peer.
    pub(crate) fn end(&self) {
        self.set_state(TrackState::Ended);
        self.listeners.take();
    }

    pub(crate) fn set_remote_ids(&self, ids: Option<(String, String)>) {
        *self.remote_ids.borrow_mut() = ids;
    }

    /// Whether the transceiver was stopped (by either side or a rejecting answer).
    pub(crate) fn stopped(&self) -> bool {
        self.transceiver.direction() == "stopped"
            || self.transceiver.current_direction().as_deref() == Some("stopped")
    }
}

impl Track {
    pub(crate) fn new(shared: Rc<TrackShared>) -> Self {
        Self { shared }
    }

    /// See `unipeer::Track::kind`.
    pub fn kind(&self) -> MediaKind {
        self.shared.kind
    }

    /// See `unipeer::Track::mid`.
    pub fn mid(&self) -> Option<String> {
        self.shared.mid()
    }

    /// See `unipeer::Track::direction`. The transceiver's `direction`: what this peer
    /// wants (a stopped track is `Inactive`).
    pub fn direction(&self) -> TrackDirection {
        parse_direction(&self.shared.transceiver.direction())
    }

    /// See `unipeer::Track::state`.
    pub fn state(&self) -> TrackState {
        self.shared.state()
    }

    /// See `unipeer::Track::remote_track_id`. From the remote's `a=msid` for this mid;
    /// when its description has none but the browser's `track` event named a stream, that
    /// stream's id with the receiver track's (local) id.
    pub fn remote_ids(&self) -> Option<(String, String)> {
        if let Some(ids) = self.shared.remote_ids.borrow().clone() {
            return Some(ids);
        }
        let stream = self.shared.event_stream.borrow().clone()?;
        Some((stream, self.shared.transceiver.receiver().track().id()))
    }

    /// See `unipeer::Track::send_codec`: the first codec of the sender's negotiated
    /// parameters, `None` before the answer, on a track that does not send, or once ended.
    pub fn send_codec(&self) -> Option<Codec> {
        let t = &self.shared.transceiver;
        let negotiated = t.current_direction().map(|d| parse_direction(&d))?;
        if self.state() == TrackState::Ended || !negotiated.sends() {
            return None;
        }
        let params = t.sender().get_parameters().ok()?;
        let codecs = Reflect::get(&params, &JsValue::from_str("codecs")).ok()?;
        // RTX, RED and FEC entries are not codecs of their own: skip to the first media one.
        Array::from(&codecs).iter().find_map(|c| {
            let mime = Reflect::get(&c, &JsValue::from_str("mimeType")).ok()?;
            Codec::from_name(&mime.as_string()?)
        })
    }

    /// See `unipeer::Track::set_direction`. The browser fires `negotiationneeded` when it
    /// differs from the negotiated one.
    pub async fn set_direction(&self, direction: TrackDirection) -> Result<()> {
        if self.state() == TrackState::Ended {
            return Err(Error::TrackEnded);
        }
        self.shared
            .transceiver
            .set_direction(direction.as_str())
            // Only a stopping transceiver refuses (a race with the remote's stop).
            .map_err(|_| Error::TrackEnded)
    }

    /// See `unipeer::Track::stop`. Ends the track at once; the remote sees it end after
    /// the next offer/answer round (`negotiationneeded` follows).
    pub async fn stop(&self) -> Result<()> {
        if self.state() == TrackState::Ended {
            return Ok(());
        }
        // Throws only on a closed connection, whose tracks are ended already.
        let _ = self.shared.transceiver.stop();
        self.shared.end();
        Ok(())
    }

    /// See `unipeer::Track::stats` (the mapping is in `track_stats.rs`).
    pub async fn stats(&self) -> Result<TrackStats> {
        crate::track_stats::collect(&self.shared.transceiver, self.kind())
            .await
            .map_err(|e| {
                if self.state() == TrackState::Ended {
                    Error::TrackEnded
                } else {
                    e.platform()
                }
            })
    }

    /// See `unipeer::Track::wait_ended`.
    pub async fn wait_ended(&self) {
        loop {
            if self.state() == TrackState::Ended {
                return;
            }
            let listener = self.shared.ended.listen();
            // Registered before the second look: an end in between is not missed.
            if self.state() == TrackState::Ended {
                return;
            }
            listener.await;
        }
    }

    /// See `unipeer::Track::set_source`: `RTCRtpSender.replaceTrack`, awaited. Media flows
    /// while the negotiated direction sends.
    pub async fn set_source(&self, source: Option<&MediaStreamTrack>) -> Result<()> {
        if self.state() == TrackState::Ended {
            return Err(Error::TrackEnded);
        }
        if let Some(s) = source {
            let kind = s.kind();
            if kind != self.kind().as_str() {
                return Err(Error::InvalidTrackInit(format!(
                    "a {kind} source cannot feed a {} track",
                    self.kind().as_str()
                )));
            }
            if s.ready_state() == web_sys::MediaStreamTrackState::Ended {
                return Err(Error::InvalidTrackInit(
                    "the source MediaStreamTrack has ended; pass a live one".into(),
                ));
            }
        }
        call(self.shared.transceiver.sender().replace_track(source))
            .await
            .map(|_| ())
            .map_err(|e| {
                if self.state() == TrackState::Ended || e.is("InvalidStateError") {
                    Error::TrackEnded
                } else if e.is("TypeError") {
                    Error::InvalidTrackInit(e.text)
                } else {
                    e.platform()
                }
            })
    }

    /// See `unipeer::Track::remote_track`: the receiver's track while this peer's
    /// direction receives.
    pub fn remote_track(&self) -> Option<MediaStreamTrack> {
        self.direction()
            .receives()
            .then(|| self.shared.transceiver.receiver().track())
    }

    /// See `unipeer::Track::remote_stream`: one `MediaStream` per track, made on the
    /// first call, so repeated calls give the same stream.
    pub fn remote_stream(&self) -> Option<MediaStream> {
        let track = self.remote_track()?;
        let mut cached = self.shared.remote_stream.borrow_mut();
        if cached.is_none() {
            let tracks = Array::of1(&track);
            *cached = MediaStream::new_with_tracks(&tracks).ok();
        }
        cached.clone()
    }
}
