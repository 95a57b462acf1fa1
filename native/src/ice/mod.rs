//! Candidates beyond the host sockets: server-reflexive ones from STUN servers, relayed
//! ones from TURN servers (UDP).
//!
//! The [`Gatherer`] is sans-I/O like the rest of a session: it is handed time and the
//! datagrams from its servers, and leaves datagrams to send in the session's outbox (on the
//! same sockets as str0m's). The session asks it first about each datagram from one of its
//! servers, so STUN and TURN server traffic never reaches str0m; data relayed by a TURN
//! server comes back unwrapped, as if it arrived on the relayed address.

mod stun;
mod turn;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Weak;
use std::time::{Duration, Instant};

use str0m::net::{Protocol, Transmit};
use str0m::Candidate;
use tracing::debug;
use unipeer_core::{Error, IceServer, IceServerKind, IceTransport, Result};

use crate::command::{Command, PeerId};
use crate::driver::DriverHandle;
use stun::{StunGatherer, StunInput};
use turn::{TurnGatherer, TurnInput, TurnOutcome, TurnServer};

/// How long host-name resolution of ICE servers may take before gathering ends without it.
const RESOLVE_LIMIT: Duration = Duration::from_secs(10);

/// A server given by host name, resolved off the driver thread.
#[derive(Clone)]
pub(crate) struct NamedServer {
    host: String,
    port: u16,
    /// `Some` for a TURN server (its address is filled in once resolved).
    turn: Option<TurnServer>,
}

/// An ICE server address found by the resolver.
pub(crate) enum ResolvedServer {
    Stun(SocketAddr),
    Turn(TurnServer),
}

/// The ICE servers of a peer, as the native backend uses them.
#[derive(Default)]
pub(crate) struct IcePlan {
    /// STUN servers given as IP addresses.
    stun: Vec<SocketAddr>,
    /// TURN servers (UDP) given as IP addresses.
    turn: Vec<TurnServer>,
    /// Servers given by name.
    names: Vec<NamedServer>,
    /// Names are being resolved: gathering waits for them (within `RESOLVE_LIMIT`).
    awaits_names: bool,
    /// Configured servers this backend cannot use: (url, why), reported when gathering starts.
    unsupported: Vec<(String, Error)>,
    /// TCP connections opened for TURN-over-TCP servers: (local address, server).
    tcp_links: Vec<(SocketAddr, TurnServer)>,
}

impl IcePlan {
    /// The plan for `servers` (already checked by `PeerConfig::validate`).
    pub(crate) fn new(servers: &[IceServer]) -> Result<Self> {
        let mut plan = IcePlan::default();
        for server in servers {
            for (raw, url) in server.urls.iter().zip(server.parse_urls()?) {
                match (url.kind, url.transport) {
                    (IceServerKind::Stun, _) => match url.ip() {
                        Some(ip) => plan.stun.push(SocketAddr::new(ip, url.port)),
                        None => plan.names.push(NamedServer {
                            host: url.host.clone(),
                            port: url.port,
                            turn: None,
                        }),
                    },
                    (IceServerKind::Turn, IceTransport::Tcp) if url.ip().is_none() => {
                        plan.unsupported.push((
                            raw.clone(),
                            Error::IceServerUnsupported(
                                "TURN over TCP to a host name (give its IP address)".into(),
                            ),
                        ))
                    }
                    (IceServerKind::Turn, transport) => {
                        let turn = TurnServer {
                            url: raw.clone(),
                            addr: SocketAddr::new(
                                url.ip().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
                                url.port,
                            ),
                            // `parse_urls` checked that TURN URLs have both.
                            username: server.username.clone().unwrap_or_default(),
                            credential: server.credential.clone().unwrap_or_default(),
                            tcp: transport == IceTransport::Tcp,
                        };
                        match url.ip() {
                            Some(_) => plan.turn.push(turn),
                            None => plan.names.push(NamedServer {
                                host: url.host.clone(),
                                port: url.port,
                                turn: Some(turn),
                            }),
                        }
                    }
                    _ => plan.unsupported.push((
                        raw.clone(),
                        Error::IceServerUnsupported("TURN over TLS (turns:)".into()),
                    )),
                }
            }
        }
        plan.stun.dedup();
        Ok(plan)
    }

    /// The TURN servers reached over TCP: the peer opens a connection from each host
    /// address to each (see [`IcePlan::add_tcp_link`]).
    pub(crate) fn tcp_servers(&self) -> Vec<SocketAddr> {
        self.turn.iter().filter(|t| t.tcp).map(|t| t.addr).collect()
    }

    /// A TCP connection from `local` to the TURN server at `server` is being made.
    pub(crate) fn add_tcp_link(&mut self, local: SocketAddr, server: SocketAddr) {
        if let Some(t) = self.turn.iter().find(|t| t.tcp && t.addr == server) {
            self.tcp_links.push((local, t.clone()));
        }
    }

    /// A TURN-over-TCP server could not be connected to at all.
    pub(crate) fn tcp_failed(&mut self, server: SocketAddr, error: Error) {
        if let Some(t) = self.turn.iter().find(|t| t.tcp && t.addr == server) {
            self.unsupported.push((t.url.clone(), error));
        }
    }

    /// The server names to resolve; the gatherer then waits for one
    /// [`Command::IceServersResolved`] (see [`resolve_in_background`]).
    pub(crate) fn take_names(&mut self) -> Vec<NamedServer> {
        let names = std::mem::take(&mut self.names);
        self.awaits_names = !names.is_empty();
        names
    }
}

/// Resolves ICE server names on a thread of their own (the OS resolver blocks), then hands
/// the addresses to the peer's session through the driver. Call it after the peer is
/// registered, so the answer cannot overtake the registration.
pub(crate) fn resolve_in_background(
    names: Vec<NamedServer>,
    peer: PeerId,
    driver: Weak<DriverHandle>,
) {
    if names.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("unipeer-resolve".into())
        .spawn(move || {
            let mut found = Vec::new();
            for name in names {
                match (name.host.as_str(), name.port).to_socket_addrs() {
                    Ok(addrs) => {
                        for addr in addrs {
                            found.push(match &name.turn {
                                None => ResolvedServer::Stun(addr),
                                Some(t) => ResolvedServer::Turn(TurnServer { addr, ..t.clone() }),
                            });
                        }
                    }
                    Err(e) => debug!(error = %e, "an ICE server name did not resolve"),
                }
            }
            if let Some(driver) = driver.upgrade() {
                driver.send(peer, Command::IceServersResolved(found));
            }
        });
    if let Err(e) = spawned {
        // The gatherer stops waiting at its deadline.
        debug!(error = %e, "no resolver thread; ICE servers given by name are skipped");
    }
}

/// What a datagram from one of the gatherer's servers was.
pub(crate) enum GatherInput {
    /// Not the gatherer's: str0m's business.
    NotOurs,
    /// Used up by the gatherer.
    Consumed,
    /// Data a peer sent to a relayed candidate: give it to str0m as received on `relayed`.
    Relayed {
        peer: SocketAddr,
        relayed: SocketAddr,
        data: Vec<u8>,
    },
}

/// Gathers server-reflexive and relayed candidates for one peer, and carries its relayed
/// traffic.
pub(crate) struct Gatherer {
    /// Time zero of the sans-I/O clock the STUN and TURN clients use.
    epoch: Instant,
    locals: Vec<SocketAddr>,
    stun_servers: Vec<SocketAddr>,
    turn_servers: Vec<TurnServer>,
    tcp_links: Vec<(SocketAddr, TurnServer)>,
    stun: StunGatherer,
    turn: TurnGatherer,
    /// Waiting for names to resolve until this time.
    resolving_until: Option<Instant>,
    started: bool,
    closed: bool,
    found: Vec<Candidate>,
    /// Servers that could not be used: (url, why).
    errors: Vec<(String, Error)>,
    /// Public addresses already offered, with their base.
    mapped: Vec<(SocketAddr, SocketAddr)>,
}

impl Gatherer {
    /// A gatherer for the host sockets `locals`.
    pub(crate) fn new(locals: &[SocketAddr], plan: IcePlan, now: Instant) -> Self {
        Self {
            epoch: now,
            locals: locals.to_vec(),
            stun_servers: plan.stun,
            turn_servers: plan.turn.into_iter().filter(|t| !t.tcp).collect(),
            tcp_links: plan.tcp_links,
            stun: StunGatherer::new(),
            turn: TurnGatherer::new(),
            resolving_until: plan.awaits_names.then(|| now + RESOLVE_LIMIT),
            started: false,
            closed: false,
            found: Vec::new(),
            errors: plan.unsupported,
            mapped: Vec::new(),
        }
    }

    /// No request is waiting for an answer and no name for its address.
    pub(crate) fn is_complete(&self) -> bool {
        self.started
            && self.resolving_until.is_none()
            && self.stun.pending() == 0
            && self.turn.pending() == 0
    }

    fn clock(&self, now: Instant) -> stun_proto::Instant {
        let nanos = now.saturating_duration_since(self.epoch).as_nanos();
        stun_proto::Instant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    fn wall(&self, at: stun_proto::Instant) -> Instant {
        self.epoch + Duration::from_nanos(u64::try_from(at.as_nanos()).unwrap_or(0))
    }

    /// Starts the requests (first call) and retransmits what is due.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            // Only the release of the TURN allocations goes on.
            let clock = self.clock(now);
            self.turn.handle_timeout(clock);
            return;
        }
        if !self.started {
            self.started = true;
            let stun = std::mem::take(&mut self.stun_servers);
            let turn = std::mem::take(&mut self.turn_servers);
            self.start_requests(&stun, &turn, now);
            self.stun_servers = stun;
            self.turn_servers = turn;
            let clock = self.clock(now);
            for (local, server) in &self.tcp_links {
                self.turn.start(*local, server, clock);
            }
            self.take_turn_outcomes();
        }
        if self.resolving_until.is_some_and(|t| now >= t) {
            debug!("ICE server names did not resolve in time; gathering goes on without them");
            self.resolving_until = None;
        }
        let clock = self.clock(now);
        self.stun.handle_timeout(clock);
        self.turn.handle_timeout(clock);
        self.take_turn_outcomes();
    }

    /// Addresses of servers that were given by name.
    pub(crate) fn add_resolved(&mut self, servers: Vec<ResolvedServer>, now: Instant) {
        if self.resolving_until.take().is_none() || self.closed {
            return; // Too late: gathering already ended without them.
        }
        let (mut stun, mut turn) = (Vec::new(), Vec::new());
        for s in servers {
            match s {
                ResolvedServer::Stun(a) if !self.stun_servers.contains(&a) => stun.push(a),
                ResolvedServer::Turn(t) => turn.push(t),
                ResolvedServer::Stun(_) => {}
            }
        }
        if self.started {
            self.start_requests(&stun, &turn, now);
        }
        self.stun_servers.extend(stun);
        self.turn_servers.extend(turn);
    }

    fn start_requests(&mut self, stun: &[SocketAddr], turn: &[TurnServer], now: Instant) {
        let clock = self.clock(now);
        for local in &self.locals {
            for server in stun {
                if reachable(*local, *server) {
                    self.stun.start(*local, *server, clock);
                }
            }
            for server in turn {
                if reachable(*local, server.addr) {
                    self.turn.start(*local, server, clock);
                }
            }
        }
        self.take_turn_outcomes();
    }

    /// Whether a datagram from `source` may be for the gatherer (cheap; checked first).
    pub(crate) fn expects(&self, source: SocketAddr) -> bool {
        self.stun.expects(source) || self.turn.expects(source)
    }

    /// Offers a datagram from one of the gatherer's servers.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) -> GatherInput {
        // Host sockets are bound to one address each: the destination is the base.
        let local = destination;
        if !self.locals.contains(&local) {
            return GatherInput::NotOurs;
        }
        let clock = self.clock(now);
        if !self.closed {
            match self.stun.handle_datagram(clock, source, local, data) {
                StunInput::NotOurs => {}
                StunInput::Consumed => return GatherInput::Consumed,
                StunInput::Mapped { local, mapped } => {
                    self.add_mapped(local, mapped);
                    return GatherInput::Consumed;
                }
            }
        }
        // While closing, the TURN servers' answers to the release still count.
        let input = self.turn.handle_datagram(clock, source, local, data);
        self.take_turn_outcomes();
        match input {
            TurnInput::NotOurs => GatherInput::NotOurs,
            TurnInput::Consumed => GatherInput::Consumed,
            TurnInput::PeerData {
                peer,
                relayed,
                data,
            } => GatherInput::Relayed {
                peer,
                relayed,
                data,
            },
        }
    }

    /// Bytes from a TCP connection to a TURN server (empty: it ended). Data relayed from
    /// peers is appended to `relayed` as (peer, relayed address, datagram).
    pub(crate) fn handle_tcp(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        relayed: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    ) {
        let clock = self.clock(now);
        self.turn.handle_tcp(clock, local, remote, data, relayed);
        self.take_turn_outcomes();
        if self.closed {
            relayed.clear();
        }
    }

    /// Whether str0m's datagrams from `source` must go through a TURN server.
    pub(crate) fn is_relayed(&self, source: SocketAddr) -> bool {
        !self.turn.is_empty() && self.turn.is_relayed(source)
    }

    /// Sends a datagram str0m produced on a relayed candidate through its TURN server.
    pub(crate) fn send_relayed(&mut self, now: Instant, t: &Transmit) {
        if self.closed {
            return;
        }
        let clock = self.clock(now);
        self.turn.send(clock, t.source, t.destination, &t.contents);
    }

    /// The remote announced a candidate at `addr` (TURN permissions for it).
    pub(crate) fn remote_candidate(&mut self, addr: SocketAddr, now: Instant) {
        if !self.turn.is_empty() && !self.closed {
            let clock = self.clock(now);
            self.turn.remote_candidate(addr, clock);
        }
    }

    /// Stops every request and releases the TURN allocations (call it after str0m's last
    /// datagrams went through them). Idempotent.
    pub(crate) fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let clock = self.clock(now);
        self.turn.close(clock);
        self.closed = true;
    }

    /// TURN allocations are still being released: keep the session (and its sockets) until
    /// this is false (bounded by the release limit).
    pub(crate) fn is_releasing(&self) -> bool {
        self.closed && self.turn.releasing()
    }

    fn take_turn_outcomes(&mut self) {
        for outcome in self.turn.take_outcomes() {
            match outcome {
                TurnOutcome::Allocated { relayed, local } => {
                    match Candidate::relayed(relayed, local, "udp") {
                        Ok(c) => self.found.push(c),
                        Err(e) => debug!(error = %e, "relayed address not usable"),
                    }
                }
                TurnOutcome::Failed { url, refusal } => {
                    let error = match refusal {
                        Some((code, reason)) => Error::IceServerRefused { code, reason },
                        None => Error::IceServerUnreachable,
                    };
                    self.errors.push((url, error));
                }
            }
        }
    }

    fn add_mapped(&mut self, local: SocketAddr, mapped: SocketAddr) {
        // The same address as the host candidate (no NAT), or already found through
        // another server: nothing new.
        if mapped == local || self.mapped.contains(&(mapped, local)) {
            return;
        }
        self.mapped.push((mapped, local));
        match Candidate::server_reflexive(mapped, local, "udp") {
            Ok(c) => {
                debug!(%mapped, base = %local, "server-reflexive candidate");
                self.found.push(c);
            }
            Err(e) => debug!(error = %e, "mapped address not usable as a candidate"),
        }
    }

    /// Candidates found since the last call.
    pub(crate) fn take_found(&mut self) -> Vec<Candidate> {
        std::mem::take(&mut self.found)
    }

    /// Servers that could not be used since the last call: (url, why).
    pub(crate) fn take_errors(&mut self) -> Vec<(String, Error)> {
        if !self.started {
            return Vec::new();
        }
        std::mem::take(&mut self.errors)
    }

    /// Datagrams to send, appended to the session's outbox; bytes for TCP connections to
    /// `tcp` as (local, remote, bytes).
    pub(crate) fn transmit_into(
        &mut self,
        outbox: &mut Vec<Transmit>,
        tcp: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    ) {
        let stun = self.stun.take_transmits().map(|(s, d, b)| (s, d, b, false));
        let turn = self.turn.take_transmits();
        for (source, destination, data, over_tcp) in stun.chain(turn) {
            if over_tcp {
                tcp.push((source, destination, data));
                continue;
            }
            outbox.push(Transmit {
                proto: Protocol::Udp,
                source,
                destination,
                contents: data.into(),
            });
        }
    }

    /// When `handle_timeout` is next due.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if self.closed {
            return self.turn.next_wake().map(|t| self.wall(t));
        }
        if !self.started {
            return Some(self.epoch);
        }
        [
            self.stun.next_wake().map(|t| self.wall(t)),
            self.turn.next_wake().map(|t| self.wall(t)),
            self.resolving_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// A socket can reach a server of its own address family and scope: loopback sockets
/// reach loopback servers only, and the other way round.
fn reachable(local: SocketAddr, server: SocketAddr) -> bool {
    local.is_ipv4() == server.is_ipv4() && local.ip().is_loopback() == server.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_sockets_only_reach_loopback_servers() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(reachable(a("127.0.0.1:1"), a("127.0.0.1:3478")));
        assert!(!reachable(a("127.0.0.1:1"), a("203.0.113.1:3478")));
        assert!(!reachable(a("10.0.0.2:1"), a("127.0.0.1:3478")));
        assert!(!reachable(a("10.0.0.2:1"), a("[2001:db8::1]:3478")));
        assert!(reachable(a("10.0.0.2:1"), a("203.0.113.1:3478")));
    }

    #[test]
    fn plan_sorts_servers_by_what_the_backend_does_with_them() {
        let plan = IcePlan::new(&[
            IceServer::stun("stun:203.0.113.1"),
            IceServer::stun("stun:stun.example.org:19302"),
            IceServer::turn(
                [
                    "turn:203.0.113.1",
                    "turn:turn.example.org",
                    "turn:203.0.113.1?transport=tcp",
                    "turns:203.0.113.1",
                ],
                "u",
                "p",
            ),
        ])
        .unwrap();
        assert_eq!(plan.stun, vec!["203.0.113.1:3478".parse().unwrap()]);
        assert_eq!(plan.turn.len(), 2);
        assert!(!plan.turn[0].tcp && plan.turn[1].tcp);
        assert_eq!(plan.turn[0].addr, "203.0.113.1:3478".parse().unwrap());
        assert_eq!(plan.turn[0].username, "u");
        let names: Vec<_> = plan
            .names
            .iter()
            .map(|n| (n.host.as_str(), n.port, n.turn.is_some()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("stun.example.org", 19302, false),
                ("turn.example.org", 3478, true)
            ]
        );
        let unsupported: Vec<_> = plan.unsupported.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(unsupported, vec!["turns:203.0.113.1"]);
        assert_eq!(
            plan.tcp_servers(),
            vec!["203.0.113.1:3478".parse().unwrap()]
        );
    }

    #[test]
    fn without_servers_gathering_completes_at_once() {
        let now = Instant::now();
        let mut g = Gatherer::new(&["10.0.0.2:5000".parse().unwrap()], IcePlan::default(), now);
        assert!(!g.is_complete());
        g.handle_timeout(now);
        assert!(g.is_complete());
        assert!(g.next_timeout().is_none());
    }
}
