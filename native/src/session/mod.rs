//! One peer's state machine: str0m's `Rtc` plus unipeer's rules, driven by time and input
//! passed in as arguments (sans-I/O). The driver owns the sockets and the clock.

mod channels;
mod codec_prefs;
mod held;
mod lifecycle;
mod media;
mod media_convert;
mod negotiation;
mod shared;

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tracing::debug;
use unipeer_core::{ConnectionState, DataChannelLimits, Error, EventQueue, PeerEvent};

use crate::command::{Command, PeerId, TrackCommand};
use crate::driver::DriverHandle;
use crate::ice::{GatherInput, Gatherer, IcePlan};
use crate::DataChannel;
use channels::Channels;
pub(crate) use channels::{
    config_of as channels_config, settings_of as channel_settings, SCTP_HARD_CAP,
};
use held::HeldDatagrams;
pub(crate) use lifecycle::reply_closed;
use lifecycle::CLOSE_DRAIN_LIMIT;
use media::{HandleParts, Media};
use negotiation::Negotiation;
pub(crate) use shared::PeerShared;

/// Datagrams fed to str0m between drains of its output (its DTLS layer holds 30 records;
/// measured: draining every 8 instead of every one saves a quarter of the CPU per byte).
const DRAIN_EVERY: usize = 8;

/// A connected peer that heard nothing from the remote for this long reports
/// `Disconnected` (advisory; `Failed` follows `failed_timeout` later unless traffic comes
/// back). str0m checks the selected pair at least every 3 s, so a live remote is heard
/// more often than this; str0m itself notices a silent remote only after ~20 s.
const SILENCE_LIMIT: Duration = Duration::from_secs(5);

/// Outbox capacity kept between bursts (a connected idle peer sends a few keepalives).
const OUTBOX_KEEP: usize = 8;

/// What a new session needs besides its `Rtc`.
pub(crate) struct SessionParts {
    pub id: PeerId,
    pub rtc: Rtc,
    pub local_addrs: Vec<SocketAddr>,
    pub events: EventQueue<DataChannel, crate::Track>,
    pub shared: Arc<PeerShared>,
    pub driver: Weak<DriverHandle>,
    pub limits: DataChannelLimits,
    pub failed_timeout: Duration,
    pub ice: IcePlan,
    /// Received frames kept per track.
    pub receive_queue: usize,
    pub recipe: crate::prebuilt::Recipe,
    /// The driver's clock when the session was made.
    pub now: Instant,
}

pub(crate) struct Session {
    id: PeerId,
    rtc: Rtc,
    local_addrs: Vec<SocketAddr>,
    events: EventQueue<DataChannel, crate::Track>,
    shared: Arc<PeerShared>,
    driver: Weak<DriverHandle>,
    failed_timeout: Duration,
    state: ConnectionState,
    disconnected_since: Option<Instant>,
    /// When a datagram from the remote last reached str0m.
    last_heard: Option<Instant>,
    negotiation: Negotiation,
    channels: Channels,
    media: Media,
    /// `close` was called or the remote closed: drain str0m's close output, then go.
    closing: bool,
    /// When a close gives up draining: the remote may never acknowledge it.
    close_by: Option<Instant>,
    dead: bool,
    /// Datagrams str0m produced, waiting for the driver to send them.
    outbox: Vec<Transmit>,
    /// Bytes for the TCP connections to TURN servers: (local, remote, bytes).
    tcp_outbox: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    held: HeldDatagrams,
    /// Datagrams handed to str0m since its output was last drained.
    undrained: usize,
    /// Drain str0m's output after this many datagrams: `DRAIN_EVERY`, or 1 in RTP mode,
    /// where str0m keeps only the last received RTP packet until its output is polled.
    drain_every: usize,
    /// Server-reflexive candidates from the STUN servers.
    gatherer: Gatherer,
    /// The (source, destination) the connection's packets last went over.
    selected: Option<(SocketAddr, SocketAddr)>,
    /// Its types, as last reported.
    selected_type: Option<unipeer_core::CandidatePair>,
    /// `close` calls waiting for the session to end.
    close_replies: Vec<crate::command::Reply<()>>,
    /// The last `poll` stopped with messages still moving into SCTP: poll again soon.
    unfinished: bool,
}

impl Session {
    pub(crate) fn new(parts: SessionParts) -> Self {
        let gatherer = Gatherer::new(&parts.local_addrs, parts.ice, parts.now);
        let mut s = Session {
            id: parts.id,
            rtc: parts.rtc,
            local_addrs: parts.local_addrs,
            events: parts.events,
            shared: parts.shared,
            driver: parts.driver,
            failed_timeout: parts.failed_timeout,
            state: ConnectionState::New,
            disconnected_since: None,
            last_heard: None,
            negotiation: Negotiation::default(),
            channels: Channels::new(parts.limits),
            media: Media::new(parts.receive_queue, parts.recipe.rtp_mode),
            closing: false,
            close_by: None,
            dead: false,
            outbox: Vec::new(),
            tcp_outbox: Vec::new(),
            held: HeldDatagrams::default(),
            undrained: 0,
            drain_every: if parts.recipe.rtp_mode {
                1
            } else {
                DRAIN_EVERY
            },
            gatherer,
            selected: None,
            selected_type: None,
            close_replies: Vec::new(),
            unfinished: false,
        };
        s.negotiation.set_recipe(parts.recipe);
        s.negotiation
            .add_host_candidates(&mut s.rtc, &s.local_addrs);
        s
    }

    /// The session has finished and can be dropped with its sockets.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead
    }

    /// The last `poll` left work for another, or output for another socket or a TURN TCP
    /// connection: the driver must come back at once.
    pub(crate) fn is_unfinished(&self) -> bool {
        !self.dead && (self.unfinished || !self.outbox.is_empty() || !self.tcp_outbox.is_empty())
    }

    pub(crate) fn handle_command(&mut self, cmd: Command, now: Instant) {
        if self.dead {
            reply_closed(cmd);
            return;
        }
        match cmd {
            // Registration is the driver's business; a session never receives itself.
            Command::Register(..) => {}
            Command::CreateOffer(reply) => {
                let r = self.closed_check().and_then(|_| {
                    self.negotiation.create_offer(
                        &mut self.rtc,
                        &mut self.channels,
                        &mut self.media,
                    )
                });
                self.after_description(&r);
                let _ = reply.send(r);
            }
            Command::AcceptOffer(offer, reply) => {
                let msids = offer.msids();
                let r = self.closed_check().and_then(|_| {
                    self.negotiation.accept_offer(
                        &mut self.rtc,
                        &mut self.channels,
                        &mut self.media,
                        offer,
                    )
                });
                self.after_description(&r);
                if r.is_ok() {
                    self.after_agreement(&msids);
                }
                let _ = reply.send(r);
            }
            Command::AcceptAnswer(answer, reply) => {
                let msids = answer.msids();
                let r = self.closed_check().and_then(|_| {
                    self.negotiation
                        .accept_answer(&mut self.rtc, &mut self.channels, answer)
                });
                if r.is_ok() {
                    self.after_agreement(&msids);
                }
                let _ = reply.send(r);
            }
            Command::AddCandidate(c, reply) => {
                let r = self
                    .closed_check()
                    .and_then(|_| self.negotiation.add_remote_candidate(&mut self.rtc, c));
                if let Ok(Some(addr)) = r {
                    self.gatherer.remote_candidate(addr, now);
                    self.recheck_selected_pair(addr);
                }
                let _ = reply.send(r.map(|_| ()));
            }
            Command::CreateChannel(new, reply) => {
                let r = self.closed_check().and_then(|_| {
                    let negotiated = self.negotiation.app_negotiated();
                    self.channels.create(&mut self.rtc, new, negotiated)
                });
                let _ = reply.send(r);
            }
            Command::AddTrack(new, reply) => {
                let r = self.closed_check().and_then(|_| self.media.add(new));
                let _ = reply.send(r);
                self.announce_negotiation();
            }
            Command::Track(key, cmd) => {
                // Frame writes (the hot path) change nothing that needs an offer.
                let renegotiates =
                    matches!(cmd, TrackCommand::SetDirection(..) | TrackCommand::Stop(_));
                self.media
                    .command(&mut self.rtc, key, cmd, now, &self.events);
                if renegotiates {
                    self.announce_negotiation();
                }
            }
            Command::Send(key, msg) => self.channels.enqueue(key, msg),
            Command::CloseChannel(key) => self.channels.request_close(key),
            Command::Close(reply) => {
                self.start_close(now);
                // Answered when the session is gone: after its TURN allocations are
                // released (at most 2 s), so a program may exit once `close` returns.
                if let Some(reply) = reply {
                    self.close_replies.push(reply);
                }
            }
            Command::IceServersResolved(addrs) => {
                self.gatherer.add_resolved(addrs, now);
                self.after_gathering();
            }
        }
    }

    /// A remote candidate announced after ICE already used its address (as a
    /// peer-reflexive one) changes the reported type of the pair in use.
    fn recheck_selected_pair(&mut self, addr: SocketAddr) {
        let Some((source, destination)) = self.selected else {
            return;
        };
        if destination != addr {
            return;
        }
        let before = self.selected_type;
        let now = self.negotiation.pair_type(source, destination);
        if before != Some(now) {
            self.selected_type = Some(now);
            self.events
                .push(PeerEvent::SelectedCandidatePairChange(now));
        }
    }

    /// Hands new candidates to str0m and the application, and the end of candidates once
    /// gathering is complete.
    fn after_gathering(&mut self) {
        for c in self.gatherer.take_found() {
            self.negotiation.add_gathered(&mut self.rtc, c);
        }
        if self.gatherer.is_complete() {
            self.negotiation.gathering_complete();
        }
        for e in self.negotiation.take_candidate_events() {
            self.events.push(e);
        }
        for (url, error) in self.gatherer.take_errors() {
            debug!(peer = self.id, %error, "an ICE server could not be used");
            self.events.push(PeerEvent::IceServerError { url, error });
        }
    }

    /// An offer/answer completed: the tracks learn what was agreed, and changes made
    /// meanwhile ask for the next round.
    fn after_agreement(&mut self, msids: &[(String, String, String)]) {
        self.media
            .after_agreement(&mut self.rtc, msids, &self.events);
        self.announce_negotiation();
    }

    /// `NegotiationNeeded` when a track change waits and an offer can be made.
    fn announce_negotiation(&mut self) {
        let stable = self.negotiation.is_stable() && !self.closing;
        self.media.announce(stable, &self.events);
    }

    fn closed_check(&self) -> unipeer_core::Result<()> {
        if self.closing || self.state.is_terminal() {
            Err(Error::PeerClosed)
        } else {
            Ok(())
        }
    }

    fn after_description<T>(&mut self, r: &unipeer_core::Result<T>) {
        if r.is_ok() {
            for e in self.negotiation.take_candidate_events() {
                self.events.push(e);
            }
            if self.state == ConnectionState::New {
                self.set_state(ConnectionState::Connecting);
            }
        }
    }

    /// A datagram from the network. Packets str0m cannot parse, and packets from addresses
    /// ICE has not validated, are dropped here so they never reach DTLS.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        if self.dead {
            return;
        }
        // Traffic from the STUN and TURN servers is the gatherer's; str0m sees only what
        // a TURN server relayed from a peer, as received on the relayed address.
        if self.gatherer.expects(source) {
            match self
                .gatherer
                .handle_datagram(now, source, destination, data)
            {
                GatherInput::NotOurs => {}
                GatherInput::Consumed => {
                    self.after_gathering();
                    return;
                }
                GatherInput::Relayed {
                    peer,
                    relayed,
                    data,
                } => {
                    self.after_gathering();
                    self.receive(now, peer, relayed, &data);
                    return;
                }
            }
        }
        self.receive(now, source, destination, data);
    }

    /// Bytes from a TCP connection to a TURN server (empty: the connection ended).
    pub(crate) fn handle_tcp(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        if self.dead {
            return;
        }
        let mut relayed = Vec::new();
        self.gatherer
            .handle_tcp(now, local, remote, data, &mut relayed);
        self.after_gathering();
        for (peer, relayed, data) in relayed {
            self.receive(now, peer, relayed, &data);
        }
    }

    /// Bytes for the TCP connections, produced by the calls since the last take.
    pub(crate) fn tcp_outbox(&mut self) -> &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
        &mut self.tcp_outbox
    }

    /// A datagram for str0m (arrived on a host socket, or relayed).
    fn receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) {
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, data) else {
            debug!(
                peer = self.id,
                len = data.len(),
                "dropped a datagram that is not WebRTC"
            );
            return;
        };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            debug!(
                peer = self.id,
                "held a datagram from a not yet validated address"
            );
            self.held.hold(now, source, destination, data);
            return;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            debug!(peer = self.id, error = %e, "str0m rejected a datagram");
        }
        self.heard(now);
        // str0m must be drained often: its DTLS layer holds at most 30 records, and a
        // burst fed without draining would be dropped. Every few datagrams keeps well under
        // that at a fraction of the cost of draining after each; `poll`, once per receive
        // batch, drains the rest and moves queued messages into SCTP.
        self.undrained += 1;
        if self.undrained >= self.drain_every {
            let _ = self.drain_output(now);
        }
        if !self.held.is_empty() {
            self.retry_held(now);
        }
    }

    /// The remote was heard: a connection that went quiet is connected again.
    fn heard(&mut self, now: Instant) {
        self.last_heard = Some(now);
        if self.state == ConnectionState::Disconnected && self.rtc.is_connected() {
            debug!(peer = self.id, "the remote is heard again");
            self.disconnected_since = None;
            self.set_state(ConnectionState::Connected);
        }
    }

    /// A connected remote that went silent is reported `Disconnected` (consent freshness:
    /// `Failed` follows after `failed_timeout` of it, and the peer stops sending).
    fn check_silence(&mut self, now: Instant) {
        if self.state != ConnectionState::Connected {
            return;
        }
        if let Some(heard) = self.last_heard {
            if now >= heard + SILENCE_LIMIT {
                debug!(
                    peer = self.id,
                    "nothing heard from the remote; disconnected"
                );
                self.disconnected_since = Some(now);
                self.set_state(ConnectionState::Disconnected);
            }
        }
    }

    /// Offers held datagrams to the ICE gate again; those still refused wait until they
    /// are too old.
    fn retry_held(&mut self, now: Instant) {
        for h in self.held.take(now) {
            let Ok(receive) = Receive::new(Protocol::Udp, h.source, h.destination, &h.data) else {
                continue;
            };
            let input = Input::Receive(now, receive);
            if self.rtc.accepts(&input) {
                if let Err(e) = self.rtc.handle_input(input) {
                    debug!(peer = self.id, error = %e, "str0m rejected a held datagram");
                }
                let _ = self.drain_output(now);
            } else {
                self.held.hold(h.at, h.source, h.destination, &h.data);
            }
        }
    }

    /// Datagrams to send, produced by the calls since the last take.
    pub(crate) fn outbox(&mut self) -> &mut Vec<Transmit> {
        // After a burst the queue would keep its peak capacity for the life of the peer.
        if self.outbox.is_empty() && self.outbox.capacity() > OUTBOX_KEEP {
            self.outbox.shrink_to(OUTBOX_KEEP);
        }
        &mut self.outbox
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.dead {
            return;
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            debug!(peer = self.id, error = %e, "str0m timeout handling failed");
        }
        self.gatherer.handle_timeout(now);
        if !self.closing {
            self.after_gathering();
        }
        self.check_silence(now);
        if let Some(since) = self.disconnected_since {
            if now >= since + self.failed_timeout && self.state == ConnectionState::Disconnected {
                self.fail();
            }
        }
    }

    /// Runs str0m until it waits: queues datagrams to send in the outbox and returns when
    /// the session wants `handle_timeout` next, or `None` once it is dead.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<Instant> {
        if self.dead {
            return None;
        }
        // Input first: acknowledgements handed to str0m are processed here and free room
        // in SCTP for the queued messages. Writing can free room for more only after str0m
        // ran again, and str0m events can open channels with queued messages: go round
        // until nothing moves, a bounded number of times so one busy peer cannot hold the
        // driver (the rest is for the next turn).
        let mut deadline = self.drain_output(now)?;
        let mut rounds = 0;
        self.unfinished = false;
        while self.channels.flush(&mut self.rtc) {
            deadline = self.drain_output(now)?;
            rounds += 1;
            if rounds >= 4 {
                self.unfinished = true;
                break;
            }
        }
        self.channels.update_buffered(&mut self.rtc);
        if self.closing {
            // str0m's last datagrams went through the relays above: release them now.
            self.gatherer.close(now);
        }
        self.gatherer
            .transmit_into(&mut self.outbox, &mut self.tcp_outbox);
        if let Some(t) = self.gatherer.next_timeout() {
            deadline = deadline.min(t);
        }
        let drained = !self.rtc.is_alive() && !self.gatherer.is_releasing();
        if self.closing && (drained || self.close_by.is_some_and(|at| now >= at)) {
            self.set_dead();
            return None;
        }
        if let Some(at) = self.close_by {
            deadline = deadline.min(at);
        }
        if let Some(since) = self.disconnected_since {
            deadline = deadline.min(since + self.failed_timeout);
        }
        if self.state == ConnectionState::Connected {
            if let Some(heard) = self.last_heard {
                deadline = deadline.min(heard + SILENCE_LIMIT);
            }
        }
        Some(deadline)
    }

    fn drain_output(&mut self, now: Instant) -> Option<Instant> {
        self.undrained = 0;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    // DTLS and SCTP go over the nominated pair only (STUN, first byte
                    // below 4, goes over every pair): a change of path is seen here.
                    if self.selected != Some((t.source, t.destination))
                        && t.contents.first().is_some_and(|b| *b >= 20)
                    {
                        self.selected = Some((t.source, t.destination));
                        let pair = self.negotiation.pair_type(t.source, t.destination);
                        self.selected_type = Some(pair);
                        debug!(
                            peer = self.id,
                            local = pair.local.as_str(),
                            remote = pair.remote.as_str(),
                            "selected candidate pair"
                        );
                        self.events
                            .push(PeerEvent::SelectedCandidatePairChange(pair));
                    }
                    if self.gatherer.is_relayed(t.source) {
                        self.gatherer.send_relayed(now, &t);
                    } else {
                        self.outbox.push(t)
                    }
                }
                Ok(Output::Event(e)) => self.on_event(e, now),
                // A closed str0m still answers with a timeout; `poll` decides when the
                // session is over (after the TURN release).
                Ok(Output::Timeout(t)) => return Some(t),
                Err(e) => {
                    self.fault(Error::Platform(format!("the WebRTC session failed: {e}")));
                    return None;
                }
            }
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Connected => {
                self.disconnected_since = None;
                self.set_state(ConnectionState::Connected);
                let max = self.negotiation.remote_max_message_size();
                self.channels.set_remote_max_message_size(max);
            }
            Event::IceConnectionStateChange(s) => self.on_ice_state(s, now),
            Event::ChannelOpen(id, _label) => {
                if let Some(ch) =
                    self.channels
                        .opened(&mut self.rtc, id, self.id, &self.driver, &self.shared)
                {
                    self.events.push(PeerEvent::DataChannel(ch));
                }
            }
            Event::ChannelData(d) => self.channels.data(d),
            Event::MediaAdded(added) => {
                let parts = HandleParts {
                    peer: self.id,
                    driver: &self.driver,
                    shared: &self.shared,
                };
                self.media
                    .on_added(&mut self.rtc, added, &parts, &self.events);
            }
            Event::MediaChanged(changed) => self.media.on_changed(changed),
            Event::MediaData(data) => self.media.on_data(data),
            Event::RtpPacket(p) => self.media.on_rtp(&mut self.rtc, p),
            Event::KeyframeRequest(r) => self.media.on_keyframe_request(r),
            Event::StreamPaused(p) => self.media.on_paused(p.mid, p.paused, &self.events),
            Event::MediaIngressStats(s) => self.media.on_ingress_stats(s),
            Event::MediaEgressStats(s) => self.media.on_egress_stats(s),
            Event::ChannelClose(id) => self.channels.closed(id),
            Event::Closed => {
                debug!(peer = self.id, "the remote closed the connection");
                self.finish_close();
                self.closing = true;
                self.close_by.get_or_insert(now + CLOSE_DRAIN_LIMIT);
            }
            _ => {}
        }
    }

    fn on_ice_state(&mut self, s: IceConnectionState, now: Instant) {
        match s {
            IceConnectionState::Checking if self.state == ConnectionState::New => {
                self.set_state(ConnectionState::Connecting);
            }
            IceConnectionState::Disconnected if self.state == ConnectionState::Connected => {
                self.disconnected_since = Some(now);
                self.set_state(ConnectionState::Disconnected);
            }
            IceConnectionState::Connected | IceConnectionState::Completed
                if self.state == ConnectionState::Disconnected && self.rtc.is_connected() =>
            {
                self.disconnected_since = None;
                self.set_state(ConnectionState::Connected);
            }
            _ => {}
        }
    }
}
