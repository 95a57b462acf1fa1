//! `Peer` over `RTCPeerConnection`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Array, Object, Reflect};
use unipeer_core::{
    ConnectionState, DataChannelInit, Error, EventQueue, EventStream, HostCandidates, IceCandidate,
    PeerConfig, PeerEvent, Result, SdpType, SessionDescription,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::channel::{DataChannel, Shared};
use crate::error::{call, JsError};
use crate::listener::Listener;
use crate::sys;
use crate::track::Track;

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
    events: EventQueue<DataChannel, Track>,
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
    /// Whether the DTLS transport is watched (see `watch_transport`).
    watching: Cell<bool>,
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
            let w = weak.clone();
            let on_candidate = Listener::new(target, "icecandidate", move |e| {
                let Some(p) = w.upgrade() else { return };
                let e = e.unchecked_ref::<sys::RtcPeerConnectionIceEvent>();
                match e.candidate() {
                    None => p.events.push(PeerEvent::EndOfCandidates),
                    Some(c) => {
                        let candidate = c.candidate_line();
                        // An empty candidate marks the end of one m-line's candidates;
                        // the null candidate that follows ends them all.
                        if !candidate.is_empty() && announced(&p.host_candidates, &candidate) {
                            p.events.push(PeerEvent::LocalCandidate(IceCandidate {
                                candidate,
                                sdp_mid: c.sdp_mid(),
                                sdp_m_line_index: c.sdp_m_line_index(),
                            }));
                        }
                    }
                }
            });
            let w = weak.clone();
            // An ICE server that could not be used: the same non-fatal event as natively
            // (701 is the browser's "no answer" code).
            let on_server_error = Listener::new(target, "icecandidateerror", move |e| {
                let Some(p) = w.upgrade() else { return };
                let e = e.unchecked_ref::<sys::RtcPeerConnectionIceErrorEvent>();
                let error = match e.error_code() {
                    701 => Error::IceServerUnreachable,
                    code => Error::IceServerRefused {
                        code,
                        reason: e.error_text(),
                    },
                };
                p.events.push(PeerEvent::IceServerError {
                    url: e.url(),
                    error,
                });
            });
            let w = weak.clone();
            let on_state = Listener::new(target, "connectionstatechange", move |_| {
                if let Some(p) = w.upgrade() {
                    p.report_state();
                }
            });
            let w = weak.clone();
            let on_channel = Listener::new(target, "datachannel", move |e| {
                let Some(p) = w.upgrade() else { return };
                let dc = e.unchecked_ref::<sys::RtcDataChannelEvent>().channel();
                let channel = p.adopt(dc);
                p.events.push(PeerEvent::DataChannel(channel));
            });
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
                watching: Cell::new(false),
                me: weak.clone(),
                reported: Cell::new(ConnectionState::New),
                listeners: RefCell::new(vec![on_candidate, on_server_error, on_state, on_channel]),
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
        let answer = call(p.pc.create_answer()).await.map_err(|e| p.fail(e))?;
        call(p.pc.set_local_description(&answer))
            .await
            .map_err(|e| p.fail(e))?;
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
        p.set_remote(&answer).await
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

    /// See `unipeer::Peer::add_track`.
    pub async fn add_track(&self, _init: unipeer_core::TrackInit) -> Result<Track> {
        Err(Error::Unsupported(
            "media tracks are not implemented in the browser backend yet".into(),
        ))
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
        self.watch_transport();
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
        Ok(SessionDescription {
            kind,
            sdp: limit_max_message_size(&sdp, self.local_max_message_size),
        })
    }

    /// Watches the DTLS transport under the data channels: the remote's close (its DTLS
    /// close_notify) closes this peer. The browser's `connectionState` stays "connected"
    /// then (and turns "failed" only ~15 s later), so this is what tells the remote's close.
    fn watch_transport(&self) {
        if self.watching.get() {
            return;
        }
        let Some(sctp) = self.pc.sctp() else { return };
        let dtls = sctp.transport();
        self.watching.set(true);
        let me = self.me.clone();
        let d = dtls.clone();
        let on_dtls = Listener::new(&dtls, "statechange", move |_| {
            if d.state() == "closed" {
                if let Some(p) = me.upgrade() {
                    // Its listeners stay until the peer drops: this very one is running.
                    p.shut_down();
                }
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
        if self.reported.replace(ConnectionState::Closed) != ConnectionState::Closed {
            self.events
                .push(PeerEvent::ConnectionStateChange(ConnectionState::Closed));
        }
        self.events.push(PeerEvent::Closed);
        self.events.close();
    }
}

/// Whether a local candidate is announced under the peer's host-candidate policy: host
/// candidates only on the chosen addresses, every other type (reflexive, relayed) always.
fn announced(policy: &HostCandidates, candidate: &str) -> bool {
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
    let mut fields = candidate.split_ascii_whitespace();
    let address = fields.nth(4);
    if fields.nth(2) != Some("host") {
        return true;
    }
    let Some(address) = address else { return true };
    match policy {
        // The browser writes addresses in their canonical form (RFC 5952 for IPv6). A browser
        // without special flags gathers no loopback candidate at all but hides this
        // machine's addresses behind `<uuid>.local` names, which only nearby peers resolve:
        // those are kept too, so two peers of one page still meet.
        HostCandidates::Loopback => {
            address.starts_with("127.") || address == "::1" || address.ends_with(".local")
        }
        HostCandidates::Addresses(list) => list.iter().any(|ip| same_address(ip, address)),
        _ => true,
    }
}

/// Whether `text` (an address in a candidate) is `ip`, without `IpAddr::from_str` (whose
/// parser is a large part of a small wasm module).
fn same_address(ip: &std::net::IpAddr, text: &str) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut octets = text.split('.').map(|o| o.parse::<u8>().ok());
            v4.octets().iter().all(|&o| octets.next() == Some(Some(o))) && octets.next().is_none()
        }
        std::net::IpAddr::V6(v6) => {
            let groups = |part: &str| -> Option<Vec<u16>> {
                if part.is_empty() {
                    return Some(Vec::new());
                }
                part.split(':')
                    .map(|g| u16::from_str_radix(g, 16).ok())
                    .collect()
            };
            let (head, tail, gap) = match text.as_bytes().windows(2).position(|w| w == b"::") {
                Some(i) => (&text[..i], &text[i + 2..], true),
                None => (text, "", false),
            };
            let (Some(mut all), Some(tail)) = (groups(head), groups(tail)) else {
                return false;
            };
            match (gap, all.len() + tail.len()) {
                // "::" stands for at least one group of zeros.
                (true, n) if n <= 7 => all.resize(8 - tail.len(), 0),
                (false, 8) => {}
                _ => return false,
            }
            all.extend(tail);
            all == v6.segments()
        }
    }
}

/// Lowers the SDP's `a=max-message-size` to `limit` (never raises it: the browser receives
/// no more than it advertised).
fn limit_max_message_size(sdp: &str, limit: usize) -> String {
    let line = format!("a=max-message-size:{limit}\r\n");
    // No line means 65536: then say a lower limit after the SCTP port.
    let absent = !sdp.lines().any(|l| l.starts_with("a=max-message-size:"));
    let mut out = String::with_capacity(sdp.len() + line.len());
    for l in sdp.split_inclusive('\n') {
        match l.trim_ascii_end().strip_prefix("a=max-message-size:") {
            Some(v) => {
                let current = match v.trim_ascii().parse::<u64>() {
                    Ok(0) | Err(_) => usize::MAX,
                    Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
                };
                out.push_str(if limit < current { &line } else { l });
            }
            None => {
                out.push_str(l);
                if absent && limit < 65_536 && l.starts_with("a=sctp-port:") {
                    out.push_str(&line);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn loopback_policy_keeps_loopback_and_mdns_host_candidates() {
        let c =
            |addr: &str, typ: &str| format!("candidate:1 1 udp 2122194687 {addr} 5000 typ {typ}");
        let p = HostCandidates::Loopback;
        assert!(announced(&p, &c("127.0.0.1", "host")));
        assert!(announced(&p, &c("::1", "host")));
        assert!(announced(
            &p,
            &c("0b7c9a8e-1f7a-4c1e-9d3c-2a5b6c7d8e9f.local", "host")
        ));
        assert!(!announced(&p, &c("192.0.2.2", "host")));
        assert!(!announced(&p, &c("fd00::2", "host")));
        assert!(
            announced(&p, &c("198.51.100.7", "srflx")),
            "only host candidates are filtered"
        );
        assert!(announced(
            &HostCandidates::AllInterfaces,
            &c("192.0.2.2", "host")
        ));
        let only = HostCandidates::Addresses(vec!["fd00::2".parse().unwrap()]);
        assert!(announced(&only, &c("fd00::2", "host")));
        assert!(!announced(&only, &c("fd00::3", "host")));
    }

    #[wasm_bindgen_test]
    fn addresses_compare_like_parsed_ones() {
        let same = |ip: &str, text: &str| same_address(&ip.parse().unwrap(), text);
        assert!(same("192.0.2.2", "192.0.2.2"));
        assert!(!same("192.0.2.2", "192.0.2.22"));
        assert!(!same("192.0.2.2", "192.0.2"));
        assert!(same("::1", "::1"));
        assert!(same("fe80::fc:ff:fe00:1", "fe80::fc:ff:fe00:1"));
        assert!(same("2001:db8::", "2001:db8::"));
        assert!(same("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"));
        assert!(!same("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7"));
        assert!(!same("::1", "::2"));
        assert!(!same("::1", "x.local"));
    }

    #[wasm_bindgen_test]
    fn max_message_size_is_only_lowered() {
        let sdp = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
        let lower = limit_max_message_size(sdp, 65_536);
        assert_eq!(SessionDescription::offer(lower).max_message_size(), 65_536);
        let same = limit_max_message_size(sdp, 1 << 20);
        assert_eq!(same, sdp, "never raised above what the browser takes");
        let absent = "a=sctp-port:5000\r\na=mid:0\r\n";
        let added = limit_max_message_size(absent, 4096);
        assert_eq!(
            added,
            "a=sctp-port:5000\r\na=max-message-size:4096\r\na=mid:0\r\n"
        );
        assert_eq!(limit_max_message_size(absent, 1 << 20), absent);
    }
}
