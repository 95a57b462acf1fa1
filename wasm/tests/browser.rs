//! The browser backend on its own, in headless Chromium: two peers in one page.
//! (The conformance suite in `tests/` runs the full `unipeer` API on top of this.)
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures::future::{select, Either};
use unipeer_core::{DataChannelInit, HostCandidates, Message, PeerConfig, PeerEvent};
use unipeer_wasm::{DataChannel, Peer};
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
                console_log!("candidate {c:?}");
                to.add_ice_candidate(c).await.expect("candidate accepted");
                n += 1;
            }
            Some(PeerEvent::EndOfCandidates) => return n,
            Some(PeerEvent::DataChannel(c)) => {
                console_log!("channel before end of candidates");
                channels.push(c)
            }
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
            Some(e) => console_log!("b event {e:?}"),
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
    let na = trickle(&a, &b, &mut Vec::new()).await;
    let nb = trickle(&b, &a, &mut early).await;
    console_log!("candidates: a {na}, b {nb}");
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

#[wasm_bindgen_test]
async fn experiment_remote_close() {
    let (a, b, _ch, remote) = pair().await;
    let t0 = js_sys::Date::now();
    a.close().await;
    let events = b.events();
    let _ = select(
        std::pin::pin!(async {
            loop {
                let e = events.next_event().await;
                console_log!(
                    "{:.0} ms: b event {e:?} channel {:?}",
                    js_sys::Date::now() - t0,
                    remote.core().state()
                );
                if e.is_none() {
                    break;
                }
            }
        }),
        gloo_timers::future::sleep(Duration::from_secs(35)),
    )
    .await;
    console_log!(
        "b state {:?}, channel {:?}",
        b.connection_state(),
        remote.core().state()
    );
}
