//! Candidates beyond the host sockets: server-reflexive ones from STUN servers.
//!
//! The [`Gatherer`] is sans-I/O like the rest of a session: it is handed time and the
//! datagrams that answer its requests, and leaves datagrams to send in the session's outbox
//! (on the same sockets as str0m's). The session asks it first about each datagram from
//! one of its servers, so STUN server answers never reach str0m.

mod stun;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Weak;
use std::time::{Duration, Instant};

use str0m::net::{Protocol, Transmit};
use str0m::Candidate;
use tracing::debug;
use unipeer_core::{IceServer, IceServerKind, Result};

use crate::command::{Command, PeerId};
use crate::driver::DriverHandle;
use stun::{StunGatherer, StunInput};

/// How long host-name resolution of ICE servers may take before gathering ends without it.
const RESOLVE_LIMIT: Duration = Duration::from_secs(10);

/// The ICE servers of a peer, as the native backend uses them.
#[derive(Debug, Default)]
pub(crate) struct IcePlan {
    /// STUN servers given as IP addresses.
    stun: Vec<SocketAddr>,
    /// STUN servers given by name: (host, port), resolved off the driver thread.
    stun_names: Vec<(String, u16)>,
    /// Names are being resolved: gathering waits for them (within `RESOLVE_LIMIT`).
    awaits_names: bool,
}

impl IcePlan {
    /// The plan for `servers` (already checked by `PeerConfig::validate`).
    pub(crate) fn new(servers: &[IceServer]) -> Result<Self> {
        let mut plan = IcePlan::default();
        for server in servers {
            for url in server.parse_urls()? {
                match url.kind {
                    IceServerKind::Stun => match url.ip() {
                        Some(ip) => plan.stun.push(SocketAddr::new(ip, url.port)),
                        None => plan.stun_names.push((url.host.clone(), url.port)),
                    },
                    _ => debug!("TURN servers are not used by the native backend yet"),
                }
            }
        }
        plan.stun.dedup();
        Ok(plan)
    }

    /// The server names to resolve; the gatherer then waits for one
    /// [`Command::IceServersResolved`] (see [`resolve_in_background`]).
    pub(crate) fn take_names(&mut self) -> Vec<(String, u16)> {
        let names = std::mem::take(&mut self.stun_names);
        self.awaits_names = !names.is_empty();
        names
    }
}

/// Resolves ICE server names on a thread of their own (the OS resolver blocks), then hands
/// the addresses to the peer's session through the driver. Call it after the peer is
/// registered, so the answer cannot overtake the registration.
pub(crate) fn resolve_in_background(
    names: Vec<(String, u16)>,
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
            for (host, port) in names {
                match (host.as_str(), port).to_socket_addrs() {
                    Ok(addrs) => found.extend(addrs),
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

/// A candidate found by the gatherer, ready for str0m.
pub(crate) type Found = Candidate;

/// Gathers server-reflexive candidates for one peer.
pub(crate) struct Gatherer {
    /// Time zero of the sans-I/O clock the STUN agents use.
    epoch: Instant,
    locals: Vec<SocketAddr>,
    stun_servers: Vec<SocketAddr>,
    stun: StunGatherer,
    /// Waiting for names to resolve until this time.
    resolving_until: Option<Instant>,
    started: bool,
    found: Vec<Found>,
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
            stun: StunGatherer::new(),
            resolving_until: plan.awaits_names.then(|| now + RESOLVE_LIMIT),
            started: false,
            found: Vec::new(),
            mapped: Vec::new(),
        }
    }

    /// No request is waiting for an answer and no name for its address.
    pub(crate) fn is_complete(&self) -> bool {
        self.started && self.resolving_until.is_none() && self.stun.pending() == 0
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
        if !self.started {
            self.started = true;
            let servers = std::mem::take(&mut self.stun_servers);
            self.start_requests(&servers, now);
            self.stun_servers = servers;
        }
        if self.resolving_until.is_some_and(|t| now >= t) {
            debug!("ICE server names did not resolve in time; gathering goes on without them");
            self.resolving_until = None;
        }
        let clock = self.clock(now);
        self.stun.handle_timeout(clock);
    }

    /// Addresses of servers that were given by name.
    pub(crate) fn add_resolved(&mut self, addrs: Vec<SocketAddr>, now: Instant) {
        if self.resolving_until.take().is_none() {
            return; // Too late: gathering already ended without them.
        }
        let new: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| !self.stun_servers.contains(a))
            .collect();
        if self.started {
            self.start_requests(&new, now);
        }
        self.stun_servers.extend(new);
    }

    fn start_requests(&mut self, servers: &[SocketAddr], now: Instant) {
        let clock = self.clock(now);
        for server in servers {
            for local in &self.locals {
                if reachable(*local, *server) {
                    self.stun.start(*local, *server, clock);
                }
            }
        }
    }

    /// Whether a datagram from `source` may be for the gatherer (cheap; checked first).
    pub(crate) fn expects(&self, source: SocketAddr) -> bool {
        self.stun.expects(source)
    }

    /// Takes a datagram that answers one of the gatherer's requests; false if it is not
    /// one (then it is str0m's).
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) -> bool {
        // Host sockets are bound to one address each: the destination is the base.
        let local = destination;
        if !self.locals.contains(&local) {
            return false;
        }
        let clock = self.clock(now);
        match self.stun.handle_datagram(clock, source, local, data) {
            StunInput::NotOurs => false,
            StunInput::Consumed => true,
            StunInput::Mapped { local, mapped } => {
                self.add_mapped(local, mapped);
                true
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
    pub(crate) fn take_found(&mut self) -> Vec<Found> {
        std::mem::take(&mut self.found)
    }

    /// Datagrams to send, appended to the session's outbox.
    pub(crate) fn transmit_into(&mut self, outbox: &mut Vec<Transmit>) {
        for (source, destination, data) in self.stun.take_transmits() {
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
        if !self.started {
            return Some(self.epoch);
        }
        let stun = self.stun.next_wake().map(|t| self.wall(t));
        match (stun, self.resolving_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
    fn plan_takes_stun_addresses_and_names() {
        let plan = IcePlan::new(&[
            IceServer::stun("stun:203.0.113.1"),
            IceServer::stun("stun:stun.example.org:19302"),
        ])
        .unwrap();
        assert_eq!(plan.stun, vec!["203.0.113.1:3478".parse().unwrap()]);
        assert_eq!(plan.stun_names, vec![("stun.example.org".into(), 19302)]);
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
