//! The browser backend on its own, in headless Chromium: two peers in one page.
//! (The conformance suite in `tests/` runs the full `unipeer` API on top of this.)
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures::future::{select, Either};
use unipeer_core::{DataChannelInit, HostCandidates, Message, PeerConfig, PeerEvent};
use unipeer_wasm::{live_listeners, DataChannel, Peer};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    let fut = std::pin::pin!(fut);
    match select(fut, gloo_timers::future::sleep(Duration::from_secs(20))).await {
        Either::Left((v, _)) => v,
        Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}

fn loopback() -> PeerConfig {
    PeerConfig {
        host_candidates: HostCandidates::Loopback,
        ..Default::default()
    }
}

/// Forwards `from`'s candidates to `to` until `from` ends its candidates; keeps the
/// channels that `from` announced meanwhile.
async fn trickle(from: &Peer, to: &Peer, channels: &mut Vec<DataChannel>) -> usize {
    let events = from.events();
    let mut n = 0;
    loop {
        match within("candidates", events.next_event()).await {
            Some(PeerEvent::LocalCandidate(c)) => {
                to.add_ice_candidate(c).await.expect("candidate accepted");
                n += 1;
            }
            Some(PeerEvent::EndOfCandidates) => return n,
            Some(PeerEvent::DataChannel(c)) => channels.push(c),
            Some(_) => {}
            None => panic!("closed while gathering"),
        }
    }
}

async fn incoming(peer: &Peer, early: &mut Vec<DataChannel>) -> DataChannel {
    if let Some(c) = early.pop() {
        return c;
    }
    let events = peer.events();
    loop {
        match within("incoming channel", events.next_event()).await {
            Some(PeerEvent::DataChannel(c)) => return c,
            Some(_) => {}
            None => panic!("closed"),
        }
    }
}

/// Two connected peers and one open channel from both ends.
async fn pair() -> (Peer, Peer, DataChannel, DataChannel) {
    let a = Peer::new(loopback()).expect("peer a");
    let b = Peer::new(loopback()).expect("peer b");
    let ch = a
        .create_data_channel("smoke", DataChannelInit::default())
        .await
        .expect("channel");
    let offer = a.create_offer().await.expect("offer");
    let answer = b.accept_offer(offer).await.expect("answer");
    a.accept_answer(answer).await.expect("accept answer");
    let mut early = Vec::new();
    assert!(
        trickle(&a, &b, &mut Vec::new()).await > 0,
        "a trickles candidates"
    );
    assert!(
        trickle(&b, &a, &mut early).await > 0,
        "b trickles candidates"
    );
    let remote = incoming(&b, &mut early).await;
    within("open", ch.core().wait_open()).await.expect("open");
    (a, b, ch, remote)
}

#[wasm_bindgen_test]
async fn two_peers_round_trip() {
    let (a, b, ch, remote) = pair().await;
    assert_eq!(remote.core().settings().label, "smoke");
    ch.send(Message::Text("ping".into())).await.expect("send");
    assert_eq!(
        within("ping", remote.core().recv()).await,
        Some(Message::Text("ping".into()))
    );
    remote
        .send(Message::Binary(vec![1, 2, 3]))
        .await
        .expect("send back");
    assert_eq!(
        within("pong", ch.core().recv()).await,
        Some(Message::Binary(vec![1, 2, 3]))
    );
    a.close().await;
    within("remote sees close", remote.core().wait_closed()).await;
    drop(b);
}

/// Runs the JS garbage collector: needs Chromium with `--js-flags=--expose-gc`.
fn collect_garbage() {
    let gc = js_sys::Reflect::get(&js_sys::global(), &"gc".into()).ok();
    let Some(gc) = gc.and_then(|f| f.dyn_into::<js_sys::Function>().ok()) else {
        panic!("gc() is missing: run Chromium with --js-flags=--expose-gc (cargo xtask does)");
    };
    gc.call0(&wasm_bindgen::JsValue::UNDEFINED).expect("gc()");
}

/// Creating, connecting and dropping 1,000 peers (500 connected pairs, one after another)
/// leaves no JS listener behind and does not grow the wasm memory beyond a small bound.
///
/// It also proves the backend keeps no reference to a dropped peer's JS objects: Chromium
/// refuses to create a 501st `RTCPeerConnection` while 500 are alive (not yet collected),
/// and the test runs the garbage collector every 50 pairs, so 1,000 peers only fit if every
/// dropped connection became garbage.
#[wasm_bindgen_test]
async fn a_thousand_peers_leave_no_listeners_or_memory_behind() {
    async fn one_pair(i: usize) {
        let (a, b, ch, remote) = pair().await;
        assert!(
            live_listeners() >= 8,
            "listeners are counted: {}",
            live_listeners()
        );
        ch.send(Message::Binary(vec![i as u8; 1000]))
            .await
            .expect("send");
        assert_eq!(
            within("message", remote.core().recv())
                .await
                .map(|m| m.len()),
            Some(1000)
        );
        drop((a, b, ch, remote));
        assert_eq!(
            live_listeners(),
            0,
            "every listener is removed with its peer and channel"
        );
    }
    // Warm up: the allocator and the browser reach their working size.
    for i in 0..20 {
        one_pair(i).await;
    }
    let memory = unipeer_wasm::wasm_memory_bytes();
    for i in 0..500 {
        one_pair(i).await;
        if i % 50 == 49 {
            collect_garbage();
        }
    }
    let growth = unipeer_wasm::wasm_memory_bytes() - memory;
    console_log!("wasm memory {memory} bytes, growth after 1,000 peers: {growth} bytes");
    assert!(
        growth <= 256 * 1024,
        "wasm memory grew by {growth} bytes over 1,000 peers"
    );
}

/// Tracks hold listeners on their receiver tracks; they belong to the peer: closing or
/// dropping it removes them even while the application still holds track handles, which
/// then report `Ended`.
#[wasm_bindgen_test]
async fn tracks_leave_no_listeners_behind() {
    use unipeer_core::{MediaKind, TrackDirection, TrackInit, TrackState};
    let mut kept = Vec::new();
    for round in 0..10 {
        let a = Peer::new(loopback()).expect("peer a");
        let b = Peer::new(loopback()).expect("peer b");
        for kind in [MediaKind::Audio, MediaKind::Video] {
            let init = TrackInit::new(kind, TrackDirection::SendRecv);
            kept.push(a.add_track(init).await.expect("track"));
        }
        let offer = a.create_offer().await.expect("offer");
        let answer = b.accept_offer(offer).await.expect("answer");
        a.accept_answer(answer).await.expect("accept answer");
        let events = b.events();
        while let Some(e) = events.try_next_event() {
            if let PeerEvent::Track(t) = e {
                kept.push(t);
            }
        }
        assert_eq!(kept.len(), (round + 1) * 4, "both tracks reached b");
        // Three per track (mute, unmute, ended) and at least six per peer.
        assert!(live_listeners() >= 4 * 3 + 2 * 6, "{}", live_listeners());
        if round % 2 == 0 {
            a.close().await;
        }
        drop((a, b));
        assert_eq!(live_listeners(), 0, "round {round}");
    }
    assert!(kept.iter().all(|t| t.state() == TrackState::Ended));
}
