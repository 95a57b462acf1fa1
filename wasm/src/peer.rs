//! `Peer` over `RTCPeerConnection`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Array, Object, Reflect};
use unipeer_core::{
    ConnectionState, DataChannelInit, Error, EventQueue, EventStream, HostCandidates, IceCandidate,
    PeerConfig, PeerEvent, Result, SdpType, SessionDescription,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::candidates::announced;
use crate::channel::{DataChannel, Shared};
use crate::error::{call, JsError};
use crate::listener::{Handler, Listener};
use crate::media::Media;
use crate::sdp::limit_max_message_size;
use crate::sys;
#[cfg(feature = "media")]
use crate::sys_media::{RtcRtpTransceiver, RtcTrackEvent};
use crate::Track;

/// A peer's event queue (its tracks have clones).
pub(crate) type Events = EventQueue<DataChannel, Track>;

/// One peer connection in the browser. Dropping it closes the `RTCPeerConnection` and
/// removes its listeners.
///
/// Not `Send`: the browser's objects live on the page's one thread.
pub struct Peer {
    inner: Rc<PeerInner>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("state", &self.connection_state())
            .finish()
    }
}

struct PeerInner {
    pc: sys::RtcPeerConnection,
    /// Its clones are with the tracks, which report their state changes.
    events: Events,
    stream: EventStream<DataChannel, Track>,
    host_candidates: HostCandidates,
    high_water_mark: usize,
    /// The largest message this peer takes, advertised in the descriptions it hands out.
    local_max_message_size: usize,
    /// The largest message the remote takes, once its description is set.
    remote_max_message_size: Cell<Option<usize>>,
    /// Every channel of this peer (to update its size limit, and close it with the peer).
    channels: RefCell<Vec<Weak<Shared>>>,
    closed: Cell<bool>,
    /// The DTLS transport watched for the remote's close (see `watch_transport`).
    watched: RefCell<Option<sys::RtcDtlsTransport>>,
    /// Whether a first offer/answer exchange completed: `negotiationneeded` is reported
    /// only after it (see `Peer::new`).
    agreed: Cell<bool>,
    media: Media,
    me: Weak<PeerInner>,
    /// The last state reported as an event.
    reported: Cell<ConnectionState>,
    listeners: RefCell<Vec<Listener>>,
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Setting a property of a plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn map_state(s: &str) -> ConnectionState {
    match s {
        "new" => ConnectionState::New,
        "connecting" => ConnectionState::Connecting,
        "connected" => ConnectionState::Connected,
        "disconnected" => ConnectionState::Disconnected,
        "failed" => ConnectionState::Failed,
        _ => ConnectionState::Closed,
    }
}

impl Peer {
    /// Creates an `RTCPeerConnection` with the configured ICE servers.
    ///
    /// The browser gathers host candidates on the interfaces it chooses; `host_candidates`
    /// decides which of them this peer announces (trickled events and SDP alike), so
    /// `HostCandidates::Loopback` keeps a test on loopback as it does natively. (Under
    /// `Loopback` the browser's mDNS `.local` names are announced too: a browser gathers
    /// loopback candidates only when started with `--allow-loopback-in-peer-connection`.) The browser
    /// also decides when a disconnected connection has failed (`failed_timeout` does not
    /// apply).
    pub fn new(config: PeerConfig) -> Result<Self> {
        // The same checks as natively, before the browser sees the servers: a bad URL or a
        // TURN URL without credentials gives the same typed error on both backends.
        config.validate()?;
        let servers = Array::new();
        for server in &config.ice_servers {
            let s = Object::new();
            let urls: Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
            set(&s, "urls", &urls);
            if let Some(u) = &server.username {
                set(&s, "username", &JsValue::from_str(u));
            }
            if let Some(c) = &server.credential {
                set(&s, "credential", &JsValue::from_str(c));
            }
            servers.push(&s);
        }
        let rtc_config = Object::new();
        set(&rtc_config, "iceServers", &servers);
        let pc = sys::RtcPeerConnection::new(&rtc_config).map_err(|e| {
            let e = JsError::from_js(&e);
            if e.is("SyntaxError") || e.is("TypeError") || e.is("InvalidAccessError") {
                Error::InvalidConfig(e.text)
            } else {
                Error::Platform(e.text)
            }
        })?;

        let (events, stream) = EventQueue::new();
        let inner = Rc::new_cyclic(|weak: &Weak<PeerInner>| {
            let target: &web_sys::EventTarget = &pc;
            // Each listener calls its handler while the peer lives.
            let handlers: &[(&'static str, Handler<PeerInner>)] = &[
                ("icecandidate", PeerInner::on_candidate),
                ("icecandidateerror", PeerInner::on_server_error),
                ("connectionstatechange", |p, _| p.report_state()),
                ("datachannel", |p, e| {
                    let dc = e.unchecked_ref::<sys::RtcDataChannelEvent>().channel();
                    let channel = p.adopt(dc);
                    p.events.push(PeerEvent::DataChannel(channel));
                }),
                ("negotiationneeded", PeerInner::on_negotiation_needed),
                #[cfg(feature = "media")]
                ("track", |p, e| {
                    p.media.on_track_event(e.unchecked_ref::<RtcTrackEvent>());
                }),
            ];
            let listeners = handlers
                .iter()
                .map(|&(event, handler)| {
                    let w = weak.clone();
                    Listener::new(target, event, move |e| {
                        if let Some(p) = w.upgrade() {
                            handler(&p, e);
                        }
                    })
                })
                .collect();
            PeerInner {
                pc: pc.clone(),
                events,
                stream,
                host_candidates: config.host_candidates.clone(),
                high_water_mark: config.data_channel.high_water_mark,
                local_max_message_size: config.data_channel.max_message_size,
                remote_max_message_size: Cell::new(None),
                channels: RefCell::new(Vec::new()),
                closed: Cell::new(false),
                watched: RefCell::new(None),
                agreed: Cell::new(false),
                media: Media::default(),
                me: weak.clone(),
                reported: Cell::new(ConnectionState::New),
                listeners: RefCell::new(listeners),
            }
        });
        Ok(Self { inner })
    }

    /// Creates an offer and sets it as the local description.
    pub async fn create_offer(&self) -> Result<SessionDescription> {
        let p = &self.inner;
        p.check_open()?;
        let offer = call(p.pc.create_offer()).await.map_err(|e| p.fail(e))?;
        let sdp = Reflect::get(&offer, &JsValue::from_str("sdp"))
            .ok()
            .and_then(|s| s.as_string());
        if !sdp.is_some_and(|s| s.lines().any(|l| l.starts_with("m="))) {
            return Err(Error::InvalidState(
                "nothing to offer: create a data channel before create_offer".into(),
            ));
        }
        call(p.pc.set_local_description(&offer))
            .await
            .map_err(|e| p.fail(e))?;
        p.local_description(SdpType::Offer)
    }

    /// Sets the remote's offer, then creates and sets the answer.
    pub async fn accept_offer(&self, offer: SessionDescription) -> Result<SessionDescription> {
        let p = &self.inner;
        p.check_open()?;
        if offer.kind != SdpType::Offer {
            return Err(Error::InvalidSdp("accept_offer was given an answer".into()));
        }
        p.set_remote(&offer).await?;
        let added = p.media.adopt_remote(&p.pc, &offer.sdp, &p.events);
        let answered = async {
            let answer = call(p.pc.create_answer()).await?;
            call(p.pc.set_local_description(&answer)).await
        }
        .await;
        p.media.refresh(&p.pc);
        // Announced with the answer set, so their send codec is known; also when the
        // answer failed: the browser keeps the transceivers either way.
        for track in added {
            p.events.push(PeerEvent::Track(track));
        }
        answered.map_err(|e| p.fail(e))?;
        p.agreed.set(true);
        p.watch_transport();
        p.local_description(SdpType::Answer)
    }

    /// Sets the remote's answer to the pending offer.
    pub async fn accept_answer(&self, answer: SessionDescription) -> Result<()> {
        let p = &self.inner;
        p.check_open()?;
        if answer.kind != SdpType::Answer {
            return Err(Error::InvalidSdp("accept_answer was given an offer".into()));
        }
        if p.pc.signaling_state() != "have-local-offer" {
            return Err(Error::InvalidState(
                "accept_answer needs a pending offer: call create_offer first".into(),
            ));
        }
        p.set_remote(&answer).await?;
        p.media.refresh(&p.pc);
        p.agreed.set(true);
        p.watch_transport();
        Ok(())
    }

    /// Adds a remote candidate; an empty candidate string (end of candidates) is accepted.
    pub async fn add_ice_candidate(&self, candidate: IceCandidate) -> Result<()> {
        let p = &self.inner;
        p.check_open()?;
        let line = candidate.candidate.trim_ascii();
        let line = line.strip_prefix("a=").unwrap_or(line);
        let remote = p.pc.remote_description().map(|d| d.sdp());
        if line.is_empty() {
            // The remote's end of candidates: a hint to the browser, never an error.
            if remote.is_some() {
                let init = candidate_init("", &candidate);
                let _ = call(p.pc.add_ice_candidate(&init)).await;
            }
            return Ok(());
        }
        let Some(remote) = remote else {
            return Err(Error::InvalidState(
                "a remote candidate arrived before the remote description; add candidates \
                 after accept_offer/accept_answer"
                    .into(),
            ));
        };
        let mids = SessionDescription::offer(remote).mids();
        match (&candidate.sdp_mid, candidate.sdp_m_line_index) {
            (Some(mid), _) if !mids.contains(mid) => return Err(Error::UnknownMid(mid.clone())),
            (None, Some(i)) if usize::from(i) >= mids.len() => {
                return Err(Error::UnknownMid(format!("m-line {i}")))
            }
            _ => {}
        }
        let init = candidate_init(line, &candidate);
        call(p.pc.add_ice_candidate(&init)).await.map_err(|e| {
            if e.is("InvalidStateError") {
                p.fail(e)
            } else {
                Error::InvalidCandidate(e.text)
            }
        })?;
        Ok(())
    }

    /// Creates a data channel (announced in-band unless `init.negotiated` is set).
    pub async fn create_data_channel(
        &self,
        label: &str,
        init: DataChannelInit,
    ) -> Result<DataChannel> {
        let p = &self.inner;
        p.check_open()?;
        init.validate()?;
        if let Some(id) = init.negotiated {
            let in_use = p
                .channels
                .borrow()
                .iter()
                .filter_map(Weak::upgrade)
                .any(|c| {
                    c.core.id() == Some(id)
                        && c.core.state() != unipeer_core::DataChannelState::Closed
                });
            if in_use {
                return Err(Error::DuplicateChannelId(id));
            }
        }
        let o = Object::new();
        set(&o, "ordered", &JsValue::from_bool(init.ordered));
        if let Some(n) = init.max_retransmits {
            set(&o, "maxRetransmits", &JsValue::from(n));
        }
        if let Some(ms) = init.max_packet_life_time {
            set(&o, "maxPacketLifeTime", &JsValue::from(ms));
        }
        set(&o, "protocol", &JsValue::from_str(&init.protocol));
        if let Some(id) = init.negotiated {
            set(&o, "negotiated", &JsValue::TRUE);
            set(&o, "id", &JsValue::from(id));
        }
        let dc = p.pc.create_data_channel(label, &o).map_err(|e| {
            let e = JsError::from_js(&e);
            match init.negotiated {
                _ if e.is("InvalidStateError") => Error::PeerClosed,
                Some(id) if e.is("OperationError") => Error::DuplicateChannelId(id),
                _ if e.is("TypeError") || e.is("SyntaxError") => Error::InvalidChannelInit(e.text),
                _ => Error::Platform(e.text),
            }
        })?;
        Ok(p.adopt(dc))
    }

    /// See `unipeer::Peer::add_track`: a transceiver (see `media.rs`). On a negotiated
    /// peer the browser's `negotiationneeded` follows as `PeerEvent::NegotiationNeeded`.
    pub async fn add_track(&self, init: unipeer_core::TrackInit) -> Result<Track> {
        let p = &self.inner;
        p.check_open()?;
        p.media.add(&p.pc, init, p.events.clone())
    }

    /// The peer's events; every call reads the same queue.
    pub fn events(&self) -> EventStream<DataChannel, Track> {
        self.inner.stream.clone()
    }

    /// The browser's `connectionState`.
    pub fn connection_state(&self) -> ConnectionState {
        if self.inner.closed.get() {
            return ConnectionState::Closed;
        }
        map_state(&self.inner.pc.connection_state())
    }

    /// Closes the connection: channels close on both sides, then the event stream ends with
    /// `Closed`.
    pub async fn close(&self) {
        self.inner.shut_down();
        self.inner.listeners.take();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.inner.shut_down();
    }
}

/// The DTLS transport under the data channels, or under the first live media section
/// (everything is bundled on one transport); `None` before a description gives one.
fn current_transport(pc: &sys::RtcPeerConnection) -> Option<sys::RtcDtlsTransport> {
    if let Some(sctp) = pc.sctp() {
        return Some(sctp.transport());
    }
    // A media-only session (only with the `media` feature: without it this peer makes
    // no media sections, and a remote's are not its business).
    media_transport(pc)
}

#[cfg(not(feature = "media"))]
fn media_transport(_pc: &sys::RtcPeerConnection) -> Option<sys::RtcDtlsTransport> {
    None
}

#[cfg(feature = "media")]
fn media_transport(pc: &sys::RtcPeerConnection) -> Option<sys::RtcDtlsTransport> {
    pc.get_transceivers().iter().find_map(|t| {
        let t: RtcRtpTransceiver = t.unchecked_into();
        if t.current_direction().as_deref() == Some("stopped") {
            return None;
        }
        t.sender().transport()
    })
}

fn candidate_init(line: &str, c: &IceCandidate) -> Object {
    let o = Object::new();
    set(&o, "candidate", &JsValue::from_str(line));
    if let Some(mid) = &c.sdp_mid {
        set(&o, "sdpMid", &JsValue::from_str(mid));
    }
    if let Some(i) = c.sdp_m_line_index {
        set(&o, "sdpMLineIndex", &JsValue::from(i));
    }
    if c.sdp_mid.is_none() && c.sdp_m_line_index.is_none() {
        // The browser needs one of the two; a single-section session uses index 0.
        set(&o, "sdpMLineIndex", &JsValue::from(0u16));
    }
    o
}

impl PeerInner {
    /// `icecandidate`: a local candidate (or the end of them) as an event.
    fn on_candidate(&self, e: &web_sys::Event) {
        let e = e.unchecked_ref::<sys::RtcPeerConnectionIceEvent>();
        match e.candidate() {
            None => self.events.push(PeerEvent::EndOfCandidates),
            Some(c) => {
                let candidate = c.candidate_line();
                // An empty candidate marks the end of one m-line's candidates; the null
                // candidate that follows ends them all.
                if !candidate.is_empty() && announced(&self.host_candidates, &candidate) {
                    self.events.push(PeerEvent::LocalCandidate(IceCandidate {
                        candidate,
                        sdp_mid: c.sdp_mid(),
                        sdp_m_line_index: c.sdp_m_line_index(),
                    }));
                }
            }
        }
    }

    /// `icecandidateerror`: an ICE server that could not be used, the same non-fatal event
    /// as natively (701 is the browser's "no answer" code).
    fn on_server_error(&self, e: &web_sys::Event) {
        let e = e.unchecked_ref::<sys::RtcPeerConnectionIceErrorEvent>();
        let error = match e.error_code() {
            701 => Error::IceServerUnreachable,
            code => Error::IceServerRefused {
                code,
                reason: e.error_text(),
            },
        };
        self.events.push(PeerEvent::IceServerError {
            url: e.url(),
            error,
        });
    }

    /// `negotiationneeded`. The browser asks for an offer whenever the session differs
    /// from the last agreement, including for what was created before the first offer (a
    /// data channel, tracks): those go in that offer, so only changes after the first
    /// agreement are reported, as natively. It never asks for a data channel once the
    /// session has one.
    fn on_negotiation_needed(&self, _: &web_sys::Event) {
        if self.agreed.get() && !self.closed.get() {
            self.events.push(PeerEvent::NegotiationNeeded);
        }
    }

    /// A browser failure: `PeerClosed` if the peer closed meanwhile.
    fn fail(&self, e: JsError) -> Error {
        if self.closed.get() {
            Error::PeerClosed
        } else {
            e.platform()
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            Err(Error::PeerClosed)
        } else {
            Ok(())
        }
    }

    fn report_state(&self) {
        if self.closed.get() {
            return;
        }
        let state = map_state(&self.pc.connection_state());
        if self.reported.replace(state) != state {
            self.events.push(PeerEvent::ConnectionStateChange(state));
        }
    }

    async fn set_remote(&self, desc: &SessionDescription) -> Result<()> {
        let init = Object::new();
        set(&init, "type", &JsValue::from_str(desc.kind.as_str()));
        set(&init, "sdp", &JsValue::from_str(&desc.sdp));
        call(self.pc.set_remote_description(&init))
            .await
            .map_err(|e| {
                if self.closed.get() || e.is("InvalidStateError") {
                    self.fail(e)
                } else {
                    Error::InvalidSdp(e.text)
                }
            })?;
        // What the remote takes, bounded by what the browser's SCTP transport will send.
        let mut max = desc.max_message_size();
        if let Some(sctp) = self.pc.sctp() {
            let browser = sctp.max_message_size();
            if browser.is_finite() && browser > 0.0 {
                max = max.min(browser as usize);
            }
        }
        self.remote_max_message_size.set(Some(max));
        self.channels.borrow_mut().retain(|c| match c.upgrade() {
            Some(c) => {
                c.set_max_message_size(max);
                true
            }
            None => false,
        });
        Ok(())
    }

    /// The local description as handed to the remote: it advertises this peer's
    /// `max_message_size` when that is below the browser's.
    fn local_description(&self, kind: SdpType) -> Result<SessionDescription> {
        let sdp = self
            .pc
            .local_description()
            .map(|d| d.sdp())
            .ok_or_else(|| Error::Platform("the browser set no local description".into()))?;
        let sdp: String = sdp
            .split_inclusive('\n')
            .filter(|l| match l.trim_ascii_end().strip_prefix("a=") {
                Some(c) if c.starts_with("candidate:") => announced(&self.host_candidates, c),
                _ => true,
            })
            .collect();
        let sdp = self.media.outgoing(sdp);
        Ok(SessionDescription {
            kind,
            sdp: limit_max_message_size(&sdp, self.local_max_message_size),
        })
    }

    /// Watches the DTLS transport the session runs over: the remote's close (its DTLS
    /// close_notify) closes this peer. The browser's `connectionState` stays "connected"
    /// then (and turns "failed" only ~15 s later), so this is what tells the remote's close.
    ///
    /// Called once an offer/answer exchange completed, not before: until then a section's
    /// transport may be provisional. An answerer's SCTP transport after the remote's offer
    /// is the data section's own; when the answer bundles everything on the first (media)
    /// section, Chromium closes that one during `setLocalDescription` while `pc.sctp` still
    /// returns it, and then replaces it. Only the current transport's close counts.
    fn watch_transport(&self) {
        let Some(dtls) = current_transport(&self.pc) else {
            return;
        };
        if self.watched.replace(Some(dtls.clone())).as_ref() == Some(&dtls) {
            return;
        }
        let me = self.me.clone();
        let on_dtls = Listener::new(&dtls.clone(), "statechange", move |_| {
            let Some(p) = me.upgrade() else { return };
            if dtls.state() == "closed" && current_transport(&p.pc).as_ref() == Some(&dtls) {
                // Its listeners stay until the peer drops: this very one is running.
                p.shut_down();
            }
        });
        self.listeners.borrow_mut().push(on_dtls);
    }

    fn adopt(&self, dc: sys::RtcDataChannel) -> DataChannel {
        let channel =
            DataChannel::wrap(dc, self.high_water_mark, self.remote_max_message_size.get());
        let mut channels = self.channels.borrow_mut();
        channels.retain(|c| c.strong_count() > 0);
        channels.push(Rc::downgrade(channel.shared()));
        channel
    }

    fn shut_down(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.pc.close();
        // Closing the connection closes its channels without firing their events.
        for c in self.channels.take() {
            if let Some(c) = c.upgrade() {
                c.closed();
            }
        }
        // Every track ends, each with its event, before the peer's own.
        self.media.end_all();
        if self.reported.replace(ConnectionState::Closed) != ConnectionState::Closed {
            self.events
                .push(PeerEvent::ConnectionStateChange(ConnectionState::Closed));
        }
        self.events.push(PeerEvent::Closed);
        self.events.close();
    }
}
