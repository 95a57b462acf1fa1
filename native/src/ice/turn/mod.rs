//! Relayed candidates: a TURN allocation over UDP from each host socket to each TURN
//! server (RFC 8656, through the sans-I/O `turn-client-proto` client), with the client's
//! allocation and permission refreshes, permissions for the remote's addresses, channel
//! bindings for the peers actually used, and release (a zero-lifetime refresh) on close.
//!
//! str0m sees a relayed candidate like any other: it sends from the relayed address, and
//! the session hands those datagrams here to be wrapped for the server; data the server
//! relays from a peer is unwrapped and goes to str0m as if it arrived on the relayed address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use stun_proto::types::attribute::ErrorCode;
use stun_proto::types::message::{Message, MessageClass};
use stun_proto::types::TransportType;
use stun_proto::Instant;
use tracing::debug;
use turn_client_proto::api::{TurnClientApi, TurnConfig, TurnEvent, TurnPollRet, TurnRecvRet};
use turn_client_proto::client::TurnClient;
use turn_client_proto::stun::agent::Transmit as StunTransmit;
use turn_client_proto::tcp::TurnClientTcp;
use turn_client_proto::types::prelude::DelayedTransmitBuild;
use turn_client_proto::types::{AddressFamily, TurnCredentials};
use turn_client_proto::udp::TurnClientUdp;

/// Retransmits of TURN requests: the same bounds as the STUN binding requests.
const RTO_INITIAL: Duration = Duration::from_millis(500);
const RTO_MAX: Duration = Duration::from_secs(2);
const TRANSMISSIONS: u32 = 5;
const LAST_WAIT: Duration = Duration::from_secs(2);

/// How long a closing peer waits for its allocations' release to be acknowledged.
const RELEASE_LIMIT: Duration = Duration::from_secs(2);

/// Peers a client remembers asking a permission or channel for (bounded: a remote cannot
/// make it grow without end).
const MAX_PEERS: usize = 64;

/// A TURN server from the configuration.
#[derive(Clone)]
pub(crate) struct TurnServer {
    /// The URL as configured (for error reports; it holds no credentials).
    pub url: String,
    pub addr: SocketAddr,
    pub username: String,
    pub credential: String,
    /// Reached over TCP (`?transport=tcp`) instead of UDP.
    pub tcp: bool,
}

/// A datagram (or, for TCP, bytes of the stream) to send: from, to, bytes, over TCP.
pub(crate) type TurnTransmit = (SocketAddr, SocketAddr, Vec<u8>, bool);

/// What happened to an allocation that the session must know.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TurnOutcome {
    /// The server relays for us on this address; `local` is the host socket.
    Allocated {
        relayed: SocketAddr,
        local: SocketAddr,
    },
    /// No allocation: the server refused (its error code and reason) or never answered.
    Failed {
        url: String,
        refusal: Option<(u16, String)>,
    },
}

/// What a datagram from a TURN server was.
pub(crate) enum TurnInput {
    NotOurs,
    Consumed,
    /// Data a peer sent to our relayed address.
    PeerData {
        peer: SocketAddr,
        relayed: SocketAddr,
        data: Vec<u8>,
    },
}

struct Client {
    server: TurnServer,
    client: TurnClient,
    relayed: Option<SocketAddr>,
    done: bool,
    /// The last error code the server answered with (the reason a failure is reported).
    last_error: Option<(u16, String)>,
    /// 401 answers to the allocation so far.
    unauthorized: u8,
    permissions_asked: Vec<IpAddr>,
    channels_asked: Vec<SocketAddr>,
    wake: Option<Instant>,
    /// Being released (closing): until the server acknowledges, or this time.
    releasing_until: Option<Instant>,
    /// The TCP stream cut into messages (unused over UDP).
    framer: TcpFramer,
}

/// Cuts a TURN-over-TCP byte stream into STUN messages and ChannelData messages (RFC 8656
/// section 12.5: ChannelData is padded to 4 bytes over TCP; the padding is dropped here).
#[derive(Default)]
struct TcpFramer {
    buf: Vec<u8>,
}

impl TcpFramer {
    /// Appends `data` and moves every complete message to `out`; false if the stream is
    /// not TURN (then nothing more can be read from it).
    fn push(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) -> bool {
        self.buf.extend_from_slice(data);
        let mut at = 0;
        loop {
            let rest = &self.buf[at..];
            if rest.len() < 4 {
                break;
            }
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            let (frame, used) = match rest[0] & 0xC0 {
                // STUN: a 20-byte header, then `len` bytes (a multiple of 4).
                0x00 => (20 + len, 20 + len),
                // ChannelData: a 4-byte header, `len` bytes, padding to 4.
                0x40 => (4 + len, (4 + len).div_ceil(4) * 4),
                _ => {
                    self.buf.clear();
                    return false;
                }
            };
            if rest.len() < used {
                break;
            }
            out.push(rest[..frame].to_vec());
            at += used;
        }
        self.buf.drain(..at);
        true
    }
}

/// The TURN clients of one peer.
pub(crate) struct TurnGatherer {
    clients: Vec<Client>,
    outbox: Vec<TurnTransmit>,
    outcomes: Vec<TurnOutcome>,
}

impl TurnGatherer {
    pub(crate) fn new() -> Self {
        Self {
            clients: Vec::new(),
            outbox: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// Starts an allocation from `local` on `server`.
    pub(crate) fn start(&mut self, local: SocketAddr, server: &TurnServer, now: Instant) {
        let mut config =
            TurnConfig::new(TurnCredentials::new(&server.username, &server.credential));
        config.set_request_retransmits(RTO_INITIAL, RTO_MAX, TRANSMISSIONS, LAST_WAIT);
        if local.is_ipv6() {
            config.set_address_family(AddressFamily::IPV6);
        }
        // The relayed address is UDP either way; `tcp` is how the server is reached.
        let client = if server.tcp {
            TurnClient::Tcp(TurnClientTcp::allocate(local, server.addr, config))
        } else {
            TurnClient::Udp(TurnClientUdp::allocate(local, server.addr, config))
        };
        self.clients.push(Client {
            server: server.clone(),
            client,
            relayed: None,
            done: false,
            last_error: None,
            unauthorized: 0,
            permissions_asked: Vec::new(),
            channels_asked: Vec::new(),
            wake: Some(now),
            releasing_until: None,
            framer: TcpFramer::default(),
        });
        self.handle_timeout(now);
    }

    /// Allocations still being made.
    pub(crate) fn pending(&self) -> usize {
        self.clients
            .iter()
            .filter(|c| !c.done && c.relayed.is_none())
            .count()
    }

    pub(crate) fn expects(&self, source: SocketAddr) -> bool {
        self.clients.iter().any(|c| c.server.addr == source)
    }

    pub(crate) fn is_relayed(&self, addr: SocketAddr) -> bool {
        self.clients.iter().any(|c| c.relayed == Some(addr))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// A datagram received on `local` from `source`.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: SocketAddr,
        data: &[u8],
    ) -> TurnInput {
        self.receive(now, source, local, data, false)
    }

    /// Bytes of the TCP connection `local` -> `remote` (empty: the connection ended). The
    /// stream is cut into whole messages here (without the padding of ChannelData, which
    /// the client does not expect); data relayed from peers is appended to `relayed_out`.
    pub(crate) fn handle_tcp(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        relayed_out: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    ) {
        let Some(i) = self.clients.iter().position(|c| {
            c.server.tcp && c.server.addr == remote && c.client.local_addr() == local && !c.done
        }) else {
            return;
        };
        if data.is_empty() {
            let c = &mut self.clients[i];
            if c.relayed.is_none() {
                debug!("the TCP connection to a TURN server ended before an allocation");
                fail(c, &mut self.outcomes);
            } else {
                debug!("the TCP connection to a TURN server ended; its relayed candidate is gone");
                c.done = true;
            }
            return;
        }
        let mut frames = Vec::new();
        if !self.clients[i].framer.push(data, &mut frames) {
            debug!("a TURN server sent bytes that are not STUN or ChannelData; connection dropped");
            let c = &mut self.clients[i];
            if c.relayed.is_none() {
                fail(c, &mut self.outcomes);
            }
            c.done = true;
            return;
        }
        for frame in frames {
            if let TurnInput::PeerData {
                peer,
                relayed,
                data,
            } = self.receive(now, remote, local, &frame, true)
            {
                relayed_out.push((peer, relayed, data));
            }
        }
    }

    fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: SocketAddr,
        data: &[u8],
        tcp: bool,
    ) -> TurnInput {
        let Some(c) = self.clients.iter_mut().find(|c| {
            c.server.tcp == tcp
                && c.server.addr == source
                && c.client.local_addr() == local
                && !c.done
        }) else {
            return TurnInput::NotOurs;
        };
        // Remember why the server refused, if it did (the client reports only that it
        // failed).
        if let Ok(msg) = Message::from_bytes(data) {
            if msg.class() == MessageClass::Error {
                if let Ok(code) = msg.attribute::<ErrorCode>() {
                    c.last_error = Some((code.code(), code.reason().to_string()));
                    if code.code() == 401 && c.relayed.is_none() {
                        // The first 401 is the server's challenge (realm and nonce); a
                        // second one answers the credentials themselves: they are wrong.
                        // (The client would only find out when its request times out.)
                        c.unauthorized += 1;
                        if c.unauthorized >= 2 {
                            fail(c, &mut self.outcomes);
                            return TurnInput::Consumed;
                        }
                    }
                }
            }
        }
        let transport = if tcp {
            TransportType::Tcp
        } else {
            TransportType::Udp
        };
        let transmit = StunTransmit::new(data, transport, source, local);
        let ret = match c.client.recv(transmit, now) {
            TurnRecvRet::Handled => TurnInput::Consumed,
            TurnRecvRet::Ignored(_) => TurnInput::NotOurs,
            TurnRecvRet::PeerData(d) => match c.relayed.filter(|_| c.releasing_until.is_none()) {
                Some(relayed) => TurnInput::PeerData {
                    peer: d.peer,
                    relayed,
                    data: d.data().to_vec(),
                },
                None => TurnInput::Consumed,
            },
            TurnRecvRet::PeerIcmp { .. } => TurnInput::Consumed,
        };
        // Answers can move the client on (events, new requests).
        c.wake = Some(now);
        self.handle_timeout(now);
        ret
    }

    /// Sends `data` from the relayed address `relayed` to `peer`: wrapped for the server if
    /// the peer has a permission; otherwise the permission is asked for and this datagram
    /// is dropped (ICE retransmits its checks).
    pub(crate) fn send(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
    ) {
        let Some(c) = self.clients.iter_mut().find(|c| c.relayed == Some(relayed)) else {
            return;
        };
        if !c.client.have_permission(TransportType::Udp, peer.ip()) {
            ask_permission(c, peer.ip(), now);
            c.wake = Some(now);
            self.handle_timeout(now);
            return;
        }
        // A channel makes each datagram 4 bytes of overhead instead of 36.
        if !c.channels_asked.contains(&peer) && c.channels_asked.len() < MAX_PEERS {
            c.channels_asked.push(peer);
            if let Err(e) = c.client.bind_channel(TransportType::Udp, peer, now) {
                debug!(error = %e, "TURN channel not bound; data goes in Send indications");
            }
        }
        match c.client.send_to(TransportType::Udp, peer, data, now) {
            Ok(Some(t)) => {
                let (from, to) = (t.from, t.to);
                let mut bytes = t.data.build();
                if c.server.tcp {
                    pad_channel_data(&mut bytes);
                }
                self.outbox.push((from, to, bytes, c.server.tcp));
            }
            Ok(None) => {}
            Err(e) => debug!(error = %e, "TURN send failed; datagram dropped"),
        }
        c.wake = Some(now);
    }

    /// The remote announced a candidate: permissions for its address on every allocation,
    /// so its checks reach our relayed candidates.
    pub(crate) fn remote_candidate(&mut self, addr: SocketAddr, now: Instant) {
        for c in &mut self.clients {
            if c.relayed.is_some_and(|r| r.is_ipv4() == addr.is_ipv4()) {
                ask_permission(c, addr.ip(), now);
                c.wake = Some(now);
            }
        }
        self.handle_timeout(now);
    }

    /// Releases every allocation (a refresh with lifetime 0, retransmitted until the server
    /// acknowledges it or `RELEASE_LIMIT` passes); allocations still being made are dropped.
    pub(crate) fn close(&mut self, now: Instant) {
        for c in &mut self.clients {
            if c.done || c.releasing_until.is_some() {
                continue;
            }
            if c.relayed.is_none() {
                c.done = true;
                continue;
            }
            match c.client.delete(now) {
                Ok(()) => {
                    c.releasing_until = Some(now + RELEASE_LIMIT);
                    c.wake = Some(now);
                }
                Err(e) => {
                    debug!(error = %e, "TURN allocation not released");
                    c.done = true;
                }
            }
        }
        self.handle_timeout(now);
    }

    /// Allocations whose release is not acknowledged yet.
    pub(crate) fn releasing(&self) -> bool {
        self.clients
            .iter()
            .any(|c| !c.done && c.releasing_until.is_some())
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for c in &mut self.clients {
            // A release ends when the client closes (the server acknowledged it) or at
            // the limit.
            if c.releasing_until.is_some_and(|until| now >= until) && !c.done {
                debug!("TURN allocation release not acknowledged in time");
                c.done = true;
            }
            if c.done || c.wake.is_some_and(|w| w > now) {
                continue;
            }
            // Each call does a bounded amount of work: events and transmits are drained to
            // empty, and the client's own timers bound the rest.
            let polled = c.client.poll(now);
            while let Some(event) = c.client.poll_event() {
                match event {
                    TurnEvent::AllocationCreated(_, relayed) => {
                        debug!(%relayed, "TURN allocation created");
                        c.relayed = Some(relayed);
                        self.outcomes.push(TurnOutcome::Allocated {
                            relayed,
                            local: c.client.local_addr(),
                        });
                    }
                    TurnEvent::AllocationCreateFailed(_) => fail(c, &mut self.outcomes),
                    TurnEvent::PermissionCreateFailed(_, _) => {
                        debug!("the TURN server refused a permission");
                    }
                    TurnEvent::ChannelCreateFailed(_, _) => {
                        debug!("the TURN server refused a channel");
                    }
                    _ => {}
                }
            }
            drain(c, now, &mut self.outbox);
            c.wake = match polled {
                TurnPollRet::WaitUntil(at) => Some(at.max(now)),
                TurnPollRet::Closed => {
                    if c.relayed.is_none() {
                        fail(c, &mut self.outcomes);
                    } else if c.releasing_until.is_some() {
                        debug!("TURN allocation released");
                    }
                    c.done = true;
                    None
                }
                _ => Some(now + Duration::from_millis(50)),
            };
            if c.wake == Some(now) {
                // Ready again at once (events were queued): go round on the next call.
                c.wake = Some(now + Duration::from_millis(1));
            }
        }
    }

    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.clients
            .iter()
            .filter(|c| !c.done)
            .filter_map(|c| c.wake)
            .min()
    }

    pub(crate) fn take_outcomes(&mut self) -> Vec<TurnOutcome> {
        std::mem::take(&mut self.outcomes)
    }

    pub(crate) fn take_transmits(&mut self) -> impl Iterator<Item = TurnTransmit> + '_ {
        self.outbox.drain(..)
    }
}

/// Over TCP a ChannelData message is padded to a multiple of 4 bytes (RFC 8656 section
/// 12.5), so the server finds the next message in the stream; the client does not pad.
fn pad_channel_data(bytes: &mut Vec<u8>) {
    // ChannelData starts with 0b01 (channel numbers 0x4000-0x7FFF); STUN messages, already
    // padded, with 0b00.
    if bytes.first().is_some_and(|b| b & 0xC0 == 0x40) {
        let padded = bytes.len().div_ceil(4) * 4;
        bytes.resize(padded, 0);
    }
}

fn ask_permission(c: &mut Client, ip: IpAddr, now: Instant) {
    if c.permissions_asked.contains(&ip) || c.permissions_asked.len() >= MAX_PEERS {
        return;
    }
    c.permissions_asked.push(ip);
    if let Err(e) = c.client.create_permission(TransportType::Udp, ip, now) {
        debug!(error = %e, "TURN permission not requested");
    }
}

fn fail(c: &mut Client, outcomes: &mut Vec<TurnOutcome>) {
    if c.done {
        return;
    }
    c.done = true;
    debug!("TURN allocation failed");
    outcomes.push(TurnOutcome::Failed {
        url: c.server.url.clone(),
        refusal: c.last_error.take(),
    });
}

fn drain(c: &mut Client, now: Instant, outbox: &mut Vec<TurnTransmit>) {
    // Bounded: a client holds a handful of pending requests at most.
    for _ in 0..64 {
        let Some(t) = c.client.poll_transmit(now) else {
            break;
        };
        outbox.push((t.from, t.to, t.data.to_vec(), c.server.tcp));
    }
}

#[cfg(test)]
mod tests;
