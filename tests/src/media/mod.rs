//! The media suite: tracks through the public `unipeer` API only, so the very same source
//! runs natively and in headless Chromium (`tests/media.rs`). It covers what both
//! backends share: negotiation, renegotiation, ids, directions, codecs, states. Media
//! *flow* is platform-shaped (encoded frames natively, `MediaStreamTrack`s in the browser)
//! and is tested per platform (`tests/media_native.rs`, `tests/media_browser.rs`).

mod lifecycle;
mod negotiation;

pub use lifecycle::*;
pub use negotiation::*;

use std::time::Duration;

use unipeer::{MediaKind, Peer, PeerEvent, Track, TrackState};

use crate::{sleep, wait_for, Events, STEP};

/// How long a test waits before it concludes that an event did not come (the backends
/// report `NegotiationNeeded` within a task of the change).
pub const SETTLE: Duration = Duration::from_millis(500);

/// Waits for `NegotiationNeeded`.
pub async fn negotiation_needed(events: &mut Events) {
    wait_for(events, STEP, "NegotiationNeeded", |e| {
        matches!(e, PeerEvent::NegotiationNeeded)
    })
    .await
}

/// Whether `NegotiationNeeded` came (after [`SETTLE`]); the events stay for later.
pub async fn asked_to_negotiate(events: &mut Events) -> bool {
    sleep(SETTLE).await;
    events.has_ready(|e| matches!(e, PeerEvent::NegotiationNeeded))
}

/// A new offer/answer round on connected peers, `a` offering. The transport is bundled and
/// already up, so no candidates need to travel.
pub async fn renegotiate(a: &Peer, b: &Peer) {
    let offer = a.create_offer().await.expect("the new offer");
    let answer = b
        .accept_offer(offer)
        .await
        .expect("the answer to the new offer");
    a.accept_answer(answer)
        .await
        .expect("accepting the new answer");
}

/// The next track of `kind` the remote added.
pub async fn remote_track(events: &mut Events, kind: MediaKind) -> Track {
    events
        .find(STEP, "PeerEvent::Track", |e| match e {
            PeerEvent::Track(t) if t.kind() == kind => Some(t.clone()),
            _ => None,
        })
        .await
}

/// Waits for `TrackStateChange { mid, state }`.
pub async fn state_change(events: &mut Events, mid: &str, state: TrackState) {
    let what = format!("TrackStateChange {{ mid: {mid}, state: {state:?} }}");
    wait_for(events, STEP, &what, |e| {
        matches!(e, PeerEvent::TrackStateChange { mid: m, state: s } if m == mid && *s == state)
    })
    .await
}

/// The encoding names of the `m=<kind>` sections' `a=rtpmap` lines of `sdp`, upper-case.
pub fn offered_codecs(sdp: &str, kind: MediaKind) -> Vec<String> {
    let mut inside = false;
    let mut names = Vec::new();
    for line in sdp.lines() {
        if let Some(media) = line.strip_prefix("m=") {
            inside = media.starts_with(kind.as_str());
        } else if let Some(map) = line.strip_prefix("a=rtpmap:").filter(|_| inside) {
            // a=rtpmap:<pt> <name>/<clock>[/<channels>]
            if let Some(name) = map.split([' ', '/']).nth(1) {
                names.push(name.to_ascii_uppercase());
            }
        }
    }
    names
}
