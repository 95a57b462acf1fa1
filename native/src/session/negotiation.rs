//! Offer/answer and ICE candidates, mapped onto str0m's SDP API with the browser's rules.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::{Candidate, CandidateKind, Rtc};
use tracing::debug;
use unipeer_core::{
    CandidatePair, CandidateType, Error, IceCandidate, PeerEvent, Result, SdpType,
    SessionDescription,
};

use super::channels::Channels;
use super::codec_prefs;
use super::media::Media;
use crate::command::{ChannelKey, TrackKey};
use crate::prebuilt;
use crate::DataChannel;

/// Remote candidates remembered for pair reports (a remote cannot grow this without bound).
const MAX_REMOTE_KINDS: usize = 64;

#[derive(Default)]
pub(super) struct Negotiation {
    pending_offer: Option<SdpPendingOffer>,
    /// Channels handed to str0m in the pending offer (str0m drops them on a rollback).
    pending_channels: Vec<ChannelKey>,
    /// Tracks whose sections are new in the pending offer (str0m drops them on a rollback).
    pending_tracks: Vec<TrackKey>,
    /// The addresses of the host candidates.
    host_addrs: Vec<SocketAddr>,
    /// Candidates gathered from ICE servers (server-reflexive), kept for a fresh `Rtc`.
    gathered: Vec<Candidate>,
    /// No more candidates will be gathered.
    gathering_done: bool,
    /// `EndOfCandidates` was announced for the current mid.
    end_announced: bool,
    /// The remote candidates' addresses and types (for the selected pair's report).
    remote_kinds: Vec<(SocketAddr, CandidateType)>,
    local_mids: Vec<String>,
    remote_mids: Vec<String>,
    has_remote: bool,
    /// An `m=application` section is agreed on both sides: channels open without an offer.
    app_negotiated: bool,
    local_candidates: Vec<String>,
    candidates_announced: bool,
    /// The mid the local candidates were announced with.
    announced_mid: Option<String>,
    candidate_events: Vec<PeerEvent<DataChannel, crate::Track>>,
    remote_max_message_size: Option<usize>,
    /// What a fresh `Rtc` is built from.
    recipe: prebuilt::Recipe,
}

impl Negotiation {
    pub(super) fn add_host_candidates(&mut self, rtc: &mut Rtc, addrs: &[SocketAddr]) {
        self.host_addrs = addrs.to_vec();
        for addr in addrs {
            match Candidate::host(*addr, "udp") {
                Ok(c) => {
                    if let Some(added) = rtc.add_local_candidate(c) {
                        self.local_candidates.push(added.to_sdp_string());
                    }
                }
                Err(e) => debug!(%addr, error = %e, "address not usable as a host candidate"),
            }
        }
    }

    /// A candidate found by the gatherer: into str0m, and trickled if the candidates were
    /// already announced (otherwise it goes with the announcement).
    pub(super) fn add_gathered(&mut self, rtc: &mut Rtc, c: Candidate) {
        self.gathered.push(c.clone());
        let Some(added) = rtc.add_local_candidate(c) else {
            return;
        };
        let line = added.to_sdp_string();
        if self.candidates_announced {
            self.candidate_events
                .push(PeerEvent::LocalCandidate(self.local_candidate(&line)));
        }
        self.local_candidates.push(line);
    }

    /// Gathering is over: the end of candidates is announced (now, or with the candidates).
    pub(super) fn gathering_complete(&mut self) {
        self.gathering_done = true;
        if self.candidates_announced && !self.end_announced {
            self.end_announced = true;
            self.candidate_events.push(PeerEvent::EndOfCandidates);
        }
    }

    fn local_candidate(&self, line: &str) -> IceCandidate {
        IceCandidate {
            candidate: line.strip_prefix("a=").unwrap_or(line).to_string(),
            sdp_mid: self.announced_mid.clone(),
            sdp_m_line_index: Some(0),
        }
    }

    /// A new str0m instance with `old`'s ICE credentials and host candidates.
    pub(super) fn set_recipe(&mut self, recipe: prebuilt::Recipe) {
        self.recipe = recipe;
    }

    fn fresh_rtc(&mut self, old: &mut Rtc) -> Rtc {
        let creds = old.direct_api().local_ice_credentials();
        let mut rtc = prebuilt::take(&self.recipe)
            .unwrap_or_else(|| prebuilt::config(&self.recipe).build(Instant::now()));
        rtc.direct_api().set_local_ice_credentials(creds);
        self.local_candidates.clear();
        let addrs = std::mem::take(&mut self.host_addrs);
        self.add_host_candidates(&mut rtc, &addrs);
        for c in &self.gathered {
            if let Some(added) = rtc.add_local_candidate(c.clone()) {
                self.local_candidates.push(added.to_sdp_string());
            }
        }
        rtc
    }

    pub(super) fn app_negotiated(&self) -> bool {
        self.app_negotiated
    }

    pub(super) fn remote_max_message_size(&self) -> usize {
        self.remote_max_message_size.unwrap_or(65_536)
    }

    pub(super) fn take_candidate_events(&mut self) -> Vec<PeerEvent<DataChannel, crate::Track>> {
        std::mem::take(&mut self.candidate_events)
    }

    /// Whether an offer could be made now: a description was agreed and none is pending.
    pub(super) fn is_stable(&self) -> bool {
        self.has_remote && self.pending_offer.is_none()
    }

    pub(super) fn create_offer(
        &mut self,
        rtc: &mut Rtc,
        channels: &mut Channels,
        media: &mut Media,
    ) -> Result<SessionDescription> {
        let mut api = rtc.sdp_api();
        let handed_over = channels.hand_over(&mut api);
        let tracks = media.hand_over(&mut api);
        // No offer means nothing needed negotiating (str0m applied any channels directly).
        let Some((offer, pending)) = api.apply() else {
            return Err(Error::InvalidState(
                "nothing to negotiate: create a data channel or add a track first".into(),
            ));
        };
        let sdp = codec_prefs::apply(&offer.to_sdp_string(), &media.offer_preferences());
        let desc = SessionDescription::offer(sdp);
        self.pending_offer = Some(pending);
        self.pending_channels = handed_over;
        self.pending_tracks = tracks;
        self.set_local(&desc);
        Ok(desc)
    }

    pub(super) fn accept_offer(
        &mut self,
        rtc: &mut Rtc,
        channels: &mut Channels,
        media: &mut Media,
        offer: SessionDescription,
    ) -> Result<SessionDescription> {
        if offer.kind != SdpType::Offer {
            return Err(Error::InvalidSdp("expected an offer, got an answer".into()));
        }
        let parsed =
            SdpOffer::from_sdp_string(&offer.sdp).map_err(|e| Error::InvalidSdp(e.to_string()))?;
        // str0m tears the whole session down on a missing fingerprint; refuse it first so
        // a bad description costs nothing that was already set up.
        if !has_fingerprint(&offer) {
            return Err(Error::InvalidSdp("the offer has no a=fingerprint".into()));
        }
        // Accepting an offer rolls back our own pending one (glare, the polite side of
        // perfect negotiation): the channels that offer carried go into this agreement.
        if self.pending_offer.take().is_some() {
            channels.take_back(std::mem::take(&mut self.pending_channels));
            media.take_back(&std::mem::take(&mut self.pending_tracks));
            if !self.has_remote {
                // str0m keeps the channel allocations of a dropped offer (and would refuse
                // the same negotiated ids again): like a browser, which discards the
                // transports of a rolled-back first offer, start from a fresh instance.
                // Nothing was agreed yet, so nothing is lost; the ICE credentials stay.
                *rtc = self.fresh_rtc(rtc);
            }
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(parsed)
            .map_err(|e| Error::InvalidSdp(e.to_string()))?;
        self.set_remote(&offer);
        let desc = SessionDescription::answer(answer.to_sdp_string());
        self.set_local(&desc);
        self.after_agreement(rtc, channels, &desc);
        Ok(desc)
    }

    pub(super) fn accept_answer(
        &mut self,
        rtc: &mut Rtc,
        channels: &mut Channels,
        answer: SessionDescription,
    ) -> Result<()> {
        if answer.kind != SdpType::Answer {
            return Err(Error::InvalidSdp("expected an answer, got an offer".into()));
        }
        if self.pending_offer.is_none() {
            return Err(Error::InvalidState(
                "no offer is pending: call create_offer before accept_answer".into(),
            ));
        }
        let parsed = SdpAnswer::from_sdp_string(&answer.sdp)
            .map_err(|e| Error::InvalidSdp(e.to_string()))?;
        if !has_fingerprint(&answer) {
            return Err(Error::InvalidSdp("the answer has no a=fingerprint".into()));
        }
        let Some(pending) = self.pending_offer.take() else {
            // Checked above; kept as an error rather than a panic.
            return Err(Error::InvalidState("no offer is pending".into()));
        };
        self.pending_channels.clear();
        self.pending_tracks.clear();
        rtc.sdp_api()
            .accept_answer(pending, parsed)
            .map_err(|e| Error::InvalidSdp(e.to_string()))?;
        self.set_remote(&answer);
        self.after_agreement(rtc, channels, &answer);
        Ok(())
    }

    fn after_agreement(&mut self, rtc: &mut Rtc, channels: &mut Channels, d: &SessionDescription) {
        if d.sdp.lines().any(|l| l.starts_with("m=application")) {
            self.app_negotiated = true;
            // Channels created while the offer was out open now, without a new offer.
            let mut api = rtc.sdp_api();
            if channels.add_unnegotiated(&mut api) {
                let _ = api.apply();
            }
        }
        channels.set_remote_max_message_size(self.remote_max_message_size());
    }

    fn set_local(&mut self, desc: &SessionDescription) {
        self.local_mids = desc.mids();
        let mid = self.local_mids.first().cloned();
        // Announced once, and again if the section's mid changed: after a rollback the
        // answer uses the remote offer's mid, and candidates naming ours would be refused.
        if !self.candidates_announced || self.announced_mid != mid {
            self.candidates_announced = true;
            self.announced_mid = mid;
            let events: Vec<_> = self
                .local_candidates
                .iter()
                .map(|c| PeerEvent::LocalCandidate(self.local_candidate(c)))
                .collect();
            self.candidate_events.extend(events);
            // With ICE servers, more candidates may follow: the end comes when gathering
            // completes.
            self.end_announced = self.gathering_done;
            if self.gathering_done {
                self.candidate_events.push(PeerEvent::EndOfCandidates);
            }
        }
    }

    fn set_remote(&mut self, desc: &SessionDescription) {
        self.has_remote = true;
        self.remote_mids = desc.mids();
        self.remote_max_message_size = Some(desc.max_message_size());
    }

    /// Adds a remote candidate; its address if it is one str0m will check.
    pub(super) fn add_remote_candidate(
        &mut self,
        rtc: &mut Rtc,
        c: IceCandidate,
    ) -> Result<Option<SocketAddr>> {
        let line = c.candidate.trim();
        let line = line.strip_prefix("a=").unwrap_or(line);
        if line.is_empty() {
            // The remote's end of candidates: nothing to do, str0m never stops listening.
            return Ok(None);
        }
        if !self.has_remote {
            return Err(Error::InvalidState(
                "a remote candidate arrived before the remote description: set the description \
                 first, or queue candidates until it is set"
                    .into(),
            ));
        }
        self.check_mid(&c)?;
        if is_mdns(line) {
            // A browser hiding its address behind mDNS; the peer is still found through
            // peer-reflexive discovery when it sends its checks.
            debug!("ignored an mDNS (.local) candidate");
            return Ok(None);
        }
        let cand =
            Candidate::from_sdp_string(line).map_err(|e| Error::InvalidCandidate(e.to_string()))?;
        let kind = match cand.kind() {
            CandidateKind::Host => CandidateType::Host,
            CandidateKind::ServerReflexive => CandidateType::ServerReflexive,
            CandidateKind::PeerReflexive => CandidateType::PeerReflexive,
            CandidateKind::Relayed => CandidateType::Relayed,
        };
        let addr = cand.addr();
        if self.remote_kinds.len() < MAX_REMOTE_KINDS {
            self.remote_kinds.push((addr, kind));
        }
        rtc.add_remote_candidate(cand);
        Ok(Some(addr))
    }

    /// The type of the pair `source` -> `destination`: the local side from this peer's own
    /// candidates, the remote side as the remote announced it (peer-reflexive if it did not).
    pub(super) fn pair_type(&self, source: SocketAddr, destination: SocketAddr) -> CandidatePair {
        let local = if self.host_addrs.contains(&source) {
            CandidateType::Host
        } else {
            CandidateType::Relayed
        };
        let remote = self
            .remote_kinds
            .iter()
            .find(|(a, _)| *a == destination)
            .map_or(CandidateType::PeerReflexive, |(_, k)| *k);
        CandidatePair::new(local, remote)
    }

    fn check_mid(&self, c: &IceCandidate) -> Result<()> {
        match (&c.sdp_mid, c.sdp_m_line_index) {
            (Some(mid), _) if !mid.is_empty() => {
                if self.remote_mids.iter().any(|m| m == mid) {
                    Ok(())
                } else {
                    Err(Error::UnknownMid(mid.clone()))
                }
            }
            (_, Some(index)) => {
                if usize::from(index) < self.remote_mids.len() {
                    Ok(())
                } else {
                    Err(Error::UnknownMid(format!("m-line index {index}")))
                }
            }
            _ => Err(Error::InvalidCandidate(
                "the candidate names neither sdp_mid nor sdp_m_line_index".into(),
            )),
        }
    }
}

fn is_mdns(line: &str) -> bool {
    line.split_whitespace()
        .nth(4)
        .is_some_and(|addr| addr.ends_with(".local"))
}

fn has_fingerprint(d: &SessionDescription) -> bool {
    d.sdp
        .lines()
        .any(|l| l.trim_start().starts_with("a=fingerprint:"))
}
