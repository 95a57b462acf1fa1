//! Server-reflexive candidates: a STUN binding request from each host socket to each STUN
//! server (RFC 8489 through the sans-I/O `stun-proto` agent), with bounded retransmits.
//!
//! Responses are recognised by the server's address and a transaction id this module
//! issued; everything else is left for str0m. A failure (timeout, error response, garbage)
//! costs only that candidate: it is logged at debug and never reaches the peer.

use std::net::SocketAddr;
use std::time::Duration;

use stun_proto::agent::{StunAgent, StunAgentPollRet};
use stun_proto::types::attribute::XorMappedAddress;
use stun_proto::types::message::{
    Message, MessageClass, MessageWrite, MessageWriteVec, TransactionId, BINDING,
};
use stun_proto::types::TransportType;
use stun_proto::Instant;
use tracing::debug;

/// Retransmission schedule: sends at 0, 0.5, 1.5, 3.5 and 5.5 s, gives up at 7.5 s
/// (RFC 8489 allows 39.5 s; a candidate that late is of no use to a connection attempt).
const RTO_INITIAL: Duration = Duration::from_millis(500);
const RTO_MAX: Duration = Duration::from_secs(2);
const TRANSMISSIONS: u32 = 5;
const LAST_WAIT: Duration = Duration::from_secs(2);

/// One binding transaction, from one host socket to one server.
struct Request {
    local: SocketAddr,
    server: SocketAddr,
    id: TransactionId,
}

/// What a received datagram was to the STUN gatherer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StunInput {
    /// Not an answer to one of our requests: str0m's business.
    NotOurs,
    /// Our answer, used up (a failure was logged at debug).
    Consumed,
    /// Our answer, with this host socket's public address.
    Mapped {
        /// The host socket the request left from (the candidate's base).
        local: SocketAddr,
        /// The address the server saw.
        mapped: SocketAddr,
    },
}

/// The binding transactions of one peer.
pub(crate) struct StunGatherer {
    /// One agent per host socket (`stun-proto` agents are per local address).
    agents: Vec<StunAgent>,
    requests: Vec<Request>,
    /// Datagrams to send: (from, to, bytes).
    outbox: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    next_wake: Option<Instant>,
}

impl StunGatherer {
    pub(crate) fn new() -> Self {
        Self {
            agents: Vec::new(),
            requests: Vec::new(),
            outbox: Vec::new(),
            next_wake: None,
        }
    }

    /// Sends a binding request from `local` to `server` (once per pair).
    pub(crate) fn start(&mut self, local: SocketAddr, server: SocketAddr, now: Instant) {
        if self
            .requests
            .iter()
            .any(|r| r.local == local && r.server == server)
        {
            return;
        }
        let agent = match self.agents.iter().position(|a| a.local_addr() == local) {
            Some(i) => &mut self.agents[i],
            None => {
                self.agents.push(
                    StunAgent::builder(TransportType::Udp, local)
                        .request_retransmits(RTO_INITIAL, RTO_MAX, TRANSMISSIONS, LAST_WAIT)
                        .build(),
                );
                let last = self.agents.len() - 1;
                &mut self.agents[last]
            }
        };
        let request = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
        let Ok(header) = Message::from_bytes(&request) else {
            debug!("could not build a STUN binding request");
            return;
        };
        let id = header.transaction_id();
        match agent.send_request(&request, server, now) {
            Ok(t) => {
                let data = t.data.to_vec();
                self.outbox.push((local, server, data));
                self.requests.push(Request { local, server, id });
                self.next_wake = Some(now);
            }
            Err(e) => debug!(error = %e, "STUN binding request not sent"),
        }
    }

    /// Transactions still waiting for an answer.
    pub(crate) fn pending(&self) -> usize {
        self.requests.len()
    }

    /// Whether a datagram from `source` could be one of our answers (a cheap first test).
    pub(crate) fn expects(&self, source: SocketAddr) -> bool {
        self.requests.iter().any(|r| r.server == source)
    }

    /// Offers a datagram received on `local` from `source`.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: SocketAddr,
        data: &[u8],
    ) -> StunInput {
        let Ok(msg) = Message::from_bytes(data) else {
            return StunInput::NotOurs;
        };
        if !msg.is_response() {
            return StunInput::NotOurs;
        }
        let id = msg.transaction_id();
        let Some(pos) = self
            .requests
            .iter()
            .position(|r| r.id == id && r.server == source && r.local == local)
        else {
            return StunInput::NotOurs;
        };
        let Some(agent) = self.agents.iter_mut().find(|a| a.local_addr() == local) else {
            return StunInput::NotOurs;
        };
        if !agent.handle_stun_message_with_time(&msg, source, now) {
            return StunInput::NotOurs;
        }
        self.requests.swap_remove(pos);
        if !msg.has_method(BINDING) || msg.class() != MessageClass::Success {
            debug!(
                "a STUN server refused a binding request; no server-reflexive candidate from it"
            );
            return StunInput::Consumed;
        }
        match msg.attribute::<XorMappedAddress>() {
            Ok(xor) => {
                let mapped = xor.addr(id);
                if mapped.is_ipv4() != local.is_ipv4() || mapped.port() == 0 {
                    debug!("a STUN server answered with an unusable mapped address");
                    return StunInput::Consumed;
                }
                StunInput::Mapped { local, mapped }
            }
            Err(_) => {
                debug!("a STUN binding response without XOR-MAPPED-ADDRESS was ignored");
                StunInput::Consumed
            }
        }
    }

    /// Retransmits what is due and drops transactions that ran out of time.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut wake: Option<Instant> = None;
        for agent in &mut self.agents {
            // Each call reports at most one timed-out transaction: loop, bounded by the
            // number of requests.
            for _ in 0..=self.requests.len() {
                match agent.poll(now) {
                    StunAgentPollRet::TransactionTimedOut(id)
                    | StunAgentPollRet::TransactionCancelled(id) => {
                        debug!("a STUN binding request got no answer in time");
                        self.requests.retain(|r| r.id != id);
                    }
                    StunAgentPollRet::WaitUntil(at) => {
                        wake = Some(wake.map_or(at, |w: Instant| w.min(at)));
                        break;
                    }
                }
            }
            let local = agent.local_addr();
            for _ in 0..self.requests.len() {
                let Some(t) = agent.poll_transmit(now) else {
                    break;
                };
                self.outbox.push((local, t.to, t.data.to_vec()));
            }
        }
        self.next_wake = if self.requests.is_empty() { None } else { wake };
    }

    /// When `handle_timeout` is next due.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.next_wake
    }

    /// Datagrams to send: (from, to, bytes).
    pub(crate) fn take_transmits(
        &mut self,
    ) -> impl Iterator<Item = (SocketAddr, SocketAddr, Vec<u8>)> + '_ {
        self.outbox.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_proto::types::message::MessageWriteExt;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(i64::try_from(ms * 1_000_000).unwrap())
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The server's side: a success response carrying `mapped`.
    fn answer(request: &[u8], mapped: SocketAddr) -> Vec<u8> {
        let req = Message::from_bytes(request).unwrap();
        let mut resp = Message::builder_success(&req, MessageWriteVec::new());
        resp.add_attribute(&XorMappedAddress::new(mapped, req.transaction_id()))
            .unwrap();
        resp.finish()
    }

    #[test]
    fn a_binding_response_gives_the_mapped_address() {
        let (local, server) = (addr("10.0.1.2:5000"), addr("203.0.113.1:3478"));
        let mut g = StunGatherer::new();
        g.start(local, server, at(0));
        let sent: Vec<_> = g.take_transmits().collect();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].0, sent[0].1), (local, server));
        assert!(g.expects(server) && !g.expects(addr("203.0.113.9:3478")));

        let mapped = addr("203.0.113.11:40000");
        let reply = answer(&sent[0].2, mapped);
        // From another address, or to another socket: not ours.
        assert_eq!(
            g.handle_datagram(at(5), addr("203.0.113.9:3478"), local, &reply),
            StunInput::NotOurs
        );
        assert_eq!(
            g.handle_datagram(at(5), server, addr("10.0.1.2:5001"), &reply),
            StunInput::NotOurs
        );
        assert_eq!(
            g.handle_datagram(at(5), server, local, &reply),
            StunInput::Mapped { local, mapped }
        );
        assert_eq!(g.pending(), 0);
        // A duplicate answer is no longer ours.
        assert_eq!(
            g.handle_datagram(at(6), server, local, &reply),
            StunInput::NotOurs
        );
    }

    #[test]
    fn garbage_and_foreign_stun_are_left_alone() {
        let (local, server) = (addr("10.0.1.2:5000"), addr("203.0.113.1:3478"));
        let mut g = StunGatherer::new();
        g.start(local, server, at(0));
        let _ = g.take_transmits().count();
        for junk in [&b""[..], b"\x00\x01", &[0xff; 64], &[0u8; 20]] {
            assert_eq!(
                g.handle_datagram(at(1), server, local, junk),
                StunInput::NotOurs
            );
        }
        // A well-formed response to a transaction we never sent.
        let other = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
        let reply = answer(&other, addr("203.0.113.11:1"));
        assert_eq!(
            g.handle_datagram(at(1), server, local, &reply),
            StunInput::NotOurs
        );
        assert_eq!(g.pending(), 1);
    }

    #[test]
    fn retransmits_are_bounded_in_count_and_time() {
        let (local, server) = (addr("10.0.1.2:5000"), addr("203.0.113.1:3478"));
        let mut g = StunGatherer::new();
        g.start(local, server, at(0));
        let mut sends = g.take_transmits().count();
        let mut now = 0;
        while g.pending() > 0 {
            let wake = g.next_wake().expect("a pending request has a wake-up");
            let ms = u64::try_from(wake.as_nanos() / 1_000_000).unwrap();
            now = ms.max(now + 1);
            assert!(now < 60_000, "still retrying after a minute");
            g.handle_timeout(at(now));
            sends += g.take_transmits().count();
        }
        assert_eq!(sends, TRANSMISSIONS as usize);
        assert!((7_000..=8_000).contains(&now), "gave up at {now} ms");
        assert!(g.next_wake().is_none());
    }
}
