//! Helpers the tests share: loopback configuration, a connected pair of peers with
//! trickled candidates, and time bounds on every wait.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use unipeer::{
    ConnectionState, DataChannel, DataChannelInit, HostCandidates, IceCandidate, Peer, PeerConfig,
    PeerEvent, PeerEvents,
};

/// The bound on any single wait in a test.
pub const STEP: Duration = Duration::from_secs(20);

/// Peers gather loopback candidates only (the network rule for tests).
pub fn loopback() -> PeerConfig {
    PeerConfig {
        host_candidates: HostCandidates::Loopback,
        ..Default::default()
    }
}

/// Sleeps without a runtime of its own (works natively and in the browser).
pub async fn sleep(d: Duration) {
    futures_timer::Delay::new(d).await
}

/// `fut`, or a panic naming `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    let fut = std::pin::pin!(fut);
    match select(fut, futures_timer::Delay::new(limit)).await {
        Either::Left((v, _)) => v,
        Either::Right(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Runs a conformance test to completion on the current thread (native targets).
#[cfg(not(target_arch = "wasm32"))]
pub fn run(test: impl Future<Output = ()>) {
    futures::executor::block_on(within(Duration::from_secs(120), "the whole test", test))
}

/// A peer's events with a backlog: events read while looking for something else are kept
/// for later, so nothing is lost whatever order a backend delivers them in (a browser may
/// announce a channel before its own end of candidates).
pub struct Events {
    stream: PeerEvents,
    backlog: VecDeque<PeerEvent>,
}

impl Events {
    /// Wraps a peer's event stream.
    pub fn of(peer: &Peer) -> Self {
        Self {
            stream: peer.events(),
            backlog: VecDeque::new(),
        }
    }

    /// The next event, from the backlog first.
    pub async fn next(&mut self) -> Option<PeerEvent> {
        match self.backlog.pop_front() {
            Some(e) => Some(e),
            None => self.stream.next().await,
        }
    }

    /// Every event already delivered (backlog and queue), without waiting.
    pub fn take_ready(&mut self) -> Vec<PeerEvent> {
        let mut out: Vec<PeerEvent> = self.backlog.drain(..).collect();
        while let Some(e) = self.stream.try_next_event() {
            out.push(e);
        }
        out
    }

    /// Whether an event satisfying `want` was delivered by now, without waiting; every
    /// event stays for later.
    pub fn has_ready(&mut self, want: impl Fn(&PeerEvent) -> bool) -> bool {
        while let Some(e) = self.stream.try_next_event() {
            self.backlog.push_back(e);
        }
        self.backlog.iter().any(want)
    }

    /// The first event satisfying `want` (within `limit`); others stay in the backlog.
    pub async fn find<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut want: impl FnMut(&mut PeerEvent) -> Option<T>,
    ) -> T {
        if let Some(i) = self.backlog.iter_mut().position(|e| want(e).is_some()) {
            let mut e = self.backlog.remove(i).expect("index from position");
            return want(&mut e).expect("matched above");
        }
        within(limit, what, async {
            loop {
                match self.stream.next().await {
                    Some(mut e) => match want(&mut e) {
                        Some(v) => return v,
                        None => self.backlog.push_back(e),
                    },
                    None => panic!("the event stream ended while waiting for {what}"),
                }
            }
        })
        .await
    }
}

impl Events {
    /// The next local candidate; `None` at the end of candidates (or when the peer closed,
    /// after which none come). Other events stay in the backlog.
    pub async fn next_candidate(&mut self) -> Option<IceCandidate> {
        self.find(STEP, "local candidates", |e| match e {
            PeerEvent::LocalCandidate(c) => Some(Some(c.clone())),
            PeerEvent::EndOfCandidates | PeerEvent::Closed => Some(None),
            _ => None,
        })
        .await
    }
}

/// VmRSS of this process, KiB (native only: it reads `/proc/self/status`).
#[cfg(not(target_arch = "wasm32"))]
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .expect("VmRSS in /proc/self/status")
}

/// Two peers, `a` (the offerer) and `b`, negotiated with each other.
pub struct Pair {
    /// The offerer.
    pub a: Peer,
    /// The answerer.
    pub b: Peer,
    /// `a`'s events, after the candidates were forwarded.
    pub a_events: Events,
    /// `b`'s events, after the candidates were forwarded.
    pub b_events: Events,
}

impl Pair {
    /// Creates both peers, the channels `channels` on `a` before the offer, negotiates and
    /// trickles every candidate. Returns `a`'s channels (open or opening).
    pub async fn negotiate(
        config_a: PeerConfig,
        config_b: PeerConfig,
        channels: &[(&str, DataChannelInit)],
    ) -> (Pair, Vec<DataChannel>) {
        let a = Peer::new(config_a).expect("peer a");
        let b = Peer::new(config_b).expect("peer b");
        let mut created = Vec::new();
        for (label, init) in channels {
            created.push(
                a.create_data_channel(label, init.clone())
                    .await
                    .expect("channel"),
            );
        }
        let (mut a_events, mut b_events) = (Events::of(&a), Events::of(&b));
        connect(&a, &mut a_events, &b, &mut b_events).await;
        (
            Pair {
                a,
                b,
                a_events,
                b_events,
            },
            created,
        )
    }

    /// A loopback pair with one channel: returns it from both ends, open.
    pub async fn with_channel(
        label: &str,
        init: DataChannelInit,
    ) -> (Pair, DataChannel, DataChannel) {
        let (mut pair, mut chans) = Pair::negotiate(loopback(), loopback(), &[(label, init)]).await;
        let local = chans.remove(0);
        let remote = next_channel(&mut pair.b_events).await;
        within(STEP, "the local channel to open", local.wait_open())
            .await
            .expect("open");
        (pair, local, remote)
    }
}

/// Offer from `a`, answer from `b`, and every candidate trickled both ways.
pub async fn connect(a: &Peer, a_events: &mut Events, b: &Peer, b_events: &mut Events) {
    let offer = a.create_offer().await.expect("offer");
    let answer = b.accept_offer(offer).await.expect("answer");
    a.accept_answer(answer).await.expect("accept answer");
    forward_candidates(a_events, b).await;
    forward_candidates(b_events, a).await;
}

/// Forwards `events`' candidates to `to` until the end of candidates; other events stay
/// in the backlog.
pub async fn forward_candidates(events: &mut Events, to: &Peer) {
    while let Some(c) = events.next_candidate().await {
        to.add_ice_candidate(c)
            .await
            .expect("remote accepts our candidate");
    }
}

/// The next channel the remote opened; other events stay in the backlog.
pub async fn next_channel(events: &mut Events) -> DataChannel {
    events
        .find(STEP, "an incoming data channel", |e| match e {
            PeerEvent::DataChannel(ch) => Some(ch.clone()),
            _ => None,
        })
        .await
}

/// Waits for the first event satisfying `want`, within `limit`.
pub async fn wait_for(
    events: &mut Events,
    limit: Duration,
    what: &str,
    want: impl Fn(&PeerEvent) -> bool,
) {
    events.find(limit, what, |e| want(e).then_some(())).await
}

/// Whether the event reports one of the final connection states or the close.
pub fn is_ended(e: &PeerEvent) -> bool {
    matches!(
        e,
        PeerEvent::Closed
            | PeerEvent::ConnectionStateChange(ConnectionState::Closed | ConnectionState::Failed)
    )
}
