//! Helpers the tests share: loopback configuration, a connected pair of peers with
//! trickled candidates, and time bounds on every wait.

use std::future::Future;
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use unipeer::{
    ConnectionState, DataChannel, DataChannelInit, HostCandidates, Peer, PeerConfig, PeerEvent,
    PeerEvents,
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

/// Two peers, `a` (the offerer) and `b`, negotiated with each other.
pub struct Pair {
    /// The offerer.
    pub a: Peer,
    /// The answerer.
    pub b: Peer,
    /// `a`'s events, after the candidates were forwarded.
    pub a_events: PeerEvents,
    /// `b`'s events, after the candidates were forwarded.
    pub b_events: PeerEvents,
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
        let offer = a.create_offer().await.expect("offer");
        let answer = b.accept_offer(offer).await.expect("answer");
        a.accept_answer(answer).await.expect("accept answer");
        let (a_events, b_events) = (a.events(), b.events());
        forward_candidates(&a_events, &b).await;
        forward_candidates(&b_events, &a).await;
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
        let (pair, mut chans) = Pair::negotiate(loopback(), loopback(), &[(label, init)]).await;
        let local = chans.remove(0);
        let remote = next_channel(&pair.b_events).await;
        within(STEP, "the local channel to open", local.wait_open())
            .await
            .expect("open");
        (pair, local, remote)
    }
}

/// Forwards `events`' candidates to `to` until the end of candidates.
pub async fn forward_candidates(events: &PeerEvents, to: &Peer) {
    within(STEP, "local candidates", async {
        loop {
            match events.next_event().await {
                Some(PeerEvent::LocalCandidate(c)) => to
                    .add_ice_candidate(c)
                    .await
                    .expect("remote accepts our candidate"),
                Some(PeerEvent::EndOfCandidates) => return,
                Some(_) => {}
                None => panic!("the peer closed while gathering"),
            }
        }
    })
    .await
}

/// The next channel the remote opened, skipping other events.
pub async fn next_channel(events: &PeerEvents) -> DataChannel {
    within(STEP, "an incoming data channel", async {
        loop {
            match events.next_event().await {
                Some(PeerEvent::DataChannel(ch)) => return ch,
                Some(_) => {}
                None => panic!("the peer closed before a channel arrived"),
            }
        }
    })
    .await
}

/// Waits for the first event satisfying `want`, within `limit`.
pub async fn wait_for(
    events: &mut PeerEvents,
    limit: Duration,
    what: &str,
    want: impl Fn(&PeerEvent) -> bool,
) -> PeerEvent {
    within(limit, what, async {
        loop {
            match events.next().await {
                Some(e) if want(&e) => return e,
                Some(_) => {}
                None => panic!("the event stream ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// Whether the event reports one of the final connection states or the close.
pub fn is_ended(e: &PeerEvent) -> bool {
    matches!(
        e,
        PeerEvent::Closed
            | PeerEvent::ConnectionStateChange(ConnectionState::Closed | ConnectionState::Failed)
    )
}
