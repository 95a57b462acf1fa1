use std::time::Duration;

use unipeer::{DataChannelInit, DataChannelState, Error, Message, PeerEvent};

use crate::{is_ended, loopback, next_channel, wait_for, within, Pair, STEP};

/// A channel closed on either side is seen closed on the other, after the messages sent
/// before the close; sending on it then fails with `ChannelClosed`.
pub async fn close_from_either_side() {
    let inits = [
        ("one", DataChannelInit::default()),
        ("two", DataChannelInit::default()),
    ];
    let (mut pair, local) = Pair::negotiate(loopback(), loopback(), &inits).await;
    let r1 = next_channel(&mut pair.b_events).await;
    let r2 = next_channel(&mut pair.b_events).await;
    let (l1, l2) = (&local[0], &local[1]);
    let (r1, r2) = if r1.label() == "one" {
        (r1, r2)
    } else {
        (r2, r1)
    };
    within(STEP, "open", l1.wait_open()).await.unwrap();
    within(STEP, "open", l2.wait_open()).await.unwrap();

    // Local close: the last message still arrives, then the remote sees the end.
    l1.send_text("last words").await.unwrap();
    l1.close();
    assert_eq!(
        within(STEP, "last", r1.recv()).await,
        Some(Message::Text("last words".into()))
    );
    assert_eq!(within(STEP, "end", r1.recv()).await, None);
    within(STEP, "remote closed", r1.wait_closed()).await;
    within(STEP, "local closed", l1.wait_closed()).await;
    assert_eq!(l1.send_text("nope").await, Err(Error::ChannelClosed));

    // Remote close.
    r2.close();
    within(STEP, "l2 closed", l2.wait_closed()).await;
    assert_eq!(l2.state(), DataChannelState::Closed);
    assert_eq!(within(STEP, "end", l2.recv()).await, None);
    assert_eq!(r2.send(vec![1]).await, Err(Error::ChannelClosed));
}

/// `Peer::close` ends both peers: channels close on both sides, both streams report
/// `Closed`, and later calls fail with `PeerClosed`.
pub async fn peer_close_is_seen_by_both() {
    let (mut pair, tx, rx) = Pair::with_channel("c", DataChannelInit::default()).await;
    pair.a.close().await;
    wait_for(&mut pair.a_events, STEP, "a closed", |e| {
        matches!(e, PeerEvent::Closed)
    })
    .await;
    wait_for(&mut pair.b_events, STEP, "b sees the close", is_ended).await;
    within(STEP, "tx closed", tx.wait_closed()).await;
    within(STEP, "rx closed", rx.wait_closed()).await;
    assert_eq!(pair.a.create_offer().await.err(), Some(Error::PeerClosed));
    assert_eq!(tx.send_text("x").await, Err(Error::ChannelClosed));
}

/// Dropping a peer in the middle of a transfer gives the remote a closed or failed state
/// within a bounded time, and the remote's channel ends.
pub async fn dropping_a_peer_mid_transfer_ends_the_remote() {
    let (pair, tx, rx) = Pair::with_channel("t", DataChannelInit::default()).await;
    let Pair {
        a,
        b: _b,
        a_events: _ae,
        mut b_events,
    } = pair;
    for _ in 0..50 {
        tx.send(vec![7u8; 16 * 1024]).await.unwrap();
    }
    drop(a);
    wait_for(
        &mut b_events,
        Duration::from_secs(40),
        "the remote to end",
        is_ended,
    )
    .await;
    within(STEP, "rx ends", async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert_eq!(rx.state(), DataChannelState::Closed);
}
