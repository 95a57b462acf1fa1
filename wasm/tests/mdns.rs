//! Chromium's default host candidates: `<uuid>.local` mDNS names instead of IP addresses.
//!
//! The test is `#[ignore]`d in the ordinary browser run and run with `--include-ignored` in the mDNS
//! configuration (see wasm/README.md): Chromium without
//! `--disable-features=WebRtcHideLocalIpsWithMdns` and without a media permission
//! (`--use-fake-ui-for-media-stream` grants one, and with it Chromium shows real IPs),
//! inside a network namespace whose default route is a veth interface, so that Chromium
//! has a non-loopback interface to hide and no mDNS packet leaves the namespace.
//! The test asserts that `.local` candidates really appeared, so it fails loudly if run in
//! the wrong configuration rather than proving nothing.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures::future::{select, Either};
use unipeer_core::{DataChannelInit, Message, PeerConfig, PeerEvent};
use unipeer_wasm::Peer;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    let fut = std::pin::pin!(fut);
    match select(fut, gloo_timers::future::sleep(Duration::from_secs(20))).await {
        Either::Left((v, _)) => v,
        Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}

/// With mDNS host candidates the SDK trickles them, the remote accepts them without error,
/// and the two peers connect and exchange messages.
#[wasm_bindgen_test]
#[ignore = "needs Chromium's default mDNS configuration (wasm/README.md); run with --include-ignored there"]
async fn mdns_candidates_are_trickled_accepted_and_connect() {
    // The default policy announces every host candidate, `.local` ones included.
    let a = Peer::new(PeerConfig::default()).expect("peer a");
    let b = Peer::new(PeerConfig::default()).expect("peer b");
    let ch = a
        .create_data_channel("mdns", DataChannelInit::default())
        .await
        .expect("channel");
    let offer = a.create_offer().await.expect("offer");
    let answer = b.accept_offer(offer).await.expect("answer");
    a.accept_answer(answer).await.expect("accept answer");

    let (ae, be) = (a.events(), b.events());
    let mut mdns = 0;
    let mut remote = None;
    let mut ended = 0;
    while ended < 2 || remote.is_none() {
        let (na, nb) = (
            std::pin::pin!(ae.next_event()),
            std::pin::pin!(be.next_event()),
        );
        let (event, to) = match within("events", select(na, nb)).await {
            Either::Left((e, _)) => (e, &b),
            Either::Right((e, _)) => (e, &a),
        };
        match event.expect("peer open") {
            PeerEvent::LocalCandidate(c) => {
                if c.candidate
                    .split_ascii_whitespace()
                    .nth(4)
                    .is_some_and(|h| h.ends_with(".local"))
                {
                    mdns += 1;
                }
                console_log!("trickled: {}", c.candidate);
                to.add_ice_candidate(c)
                    .await
                    .expect("the remote accepts an mDNS candidate");
            }
            PeerEvent::EndOfCandidates => ended += 1,
            PeerEvent::DataChannel(c) => remote = Some(c),
            _ => {}
        }
    }
    assert!(
        mdns > 0,
        "no .local candidate: Chromium is not in its default mDNS configuration"
    );
    let remote = remote.expect("channel");
    within("open", ch.core().wait_open()).await.expect("open");
    ch.send(Message::Text("over mdns".into()))
        .await
        .expect("send");
    assert_eq!(
        within("message", remote.core().recv()).await,
        Some(Message::Text("over mdns".into()))
    );
    remote
        .send(Message::Binary(vec![9; 4096]))
        .await
        .expect("send back");
    assert_eq!(
        within("reply", ch.core().recv()).await.map(|m| m.len()),
        Some(4096)
    );
}
