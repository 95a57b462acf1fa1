use unipeer::{ConnectionState, DataChannelInit, DataChannelState, PeerEvent};

use crate::{loopback, next_channel, wait_for, within, Events, Pair, STEP};

/// Two peers connect; both see `Connected`, the channel opens on both ends with its label,
/// and trickled candidates carry the real mid and m-line index.
pub async fn connect() {
    let a = unipeer::Peer::new(loopback()).unwrap();
    let b = unipeer::Peer::new(loopback()).unwrap();
    let ch = a
        .create_data_channel("hello", DataChannelInit::default())
        .await
        .unwrap();
    let offer = a.create_offer().await.unwrap();
    let offer_mids = offer.mids();
    assert_eq!(offer_mids.len(), 1, "one m=application section");
    let answer = b.accept_offer(offer).await.unwrap();
    a.accept_answer(answer).await.unwrap();

    let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
    for (events, to) in [(&mut ae, &b), (&mut be, &a)] {
        let mut seen = 0;
        while let Some(c) = events.next_candidate().await {
            assert!(c.candidate.starts_with("candidate:"), "{}", c.candidate);
            assert_eq!(c.sdp_mid.as_deref(), Some(offer_mids[0].as_str()));
            assert_eq!(c.sdp_m_line_index, Some(0));
            to.add_ice_candidate(c).await.unwrap();
            seen += 1;
        }
        assert!(seen >= 1, "at least one host candidate trickles");
    }
    let remote = next_channel(&mut be).await;
    assert_eq!(remote.label(), "hello");
    within(STEP, "open", ch.wait_open()).await.unwrap();
    assert_eq!(ch.state(), DataChannelState::Open);
    assert_eq!(remote.state(), DataChannelState::Open);
    assert_eq!(ch.id(), remote.id(), "both ends agree on the stream id");
    assert!(ch.id().is_some());
    for events in [&mut ae, &mut be] {
        let connected = |e: &PeerEvent| {
            matches!(
                e,
                PeerEvent::ConnectionStateChange(ConnectionState::Connected)
            )
        };
        // `Connected` may already have been consumed above; the state tells either way.
        if a.connection_state() != ConnectionState::Connected
            || b.connection_state() != ConnectionState::Connected
        {
            wait_for(events, STEP, "Connected", connected).await;
        }
    }
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    assert_eq!(b.connection_state(), ConnectionState::Connected);
}

/// A channel created on a connected peer opens at once, without a new offer.
pub async fn channel_after_connect_needs_no_renegotiation() {
    let (mut pair, first, _remote_first) =
        Pair::with_channel("first", DataChannelInit::default()).await;
    let late = pair
        .a
        .create_data_channel("late", DataChannelInit::default())
        .await
        .unwrap();
    let remote = next_channel(&mut pair.b_events).await;
    assert_eq!(remote.label(), "late");
    within(STEP, "late channel open", late.wait_open())
        .await
        .unwrap();
    late.send_text("works").await.unwrap();
    assert_eq!(
        within(STEP, "message", remote.recv()).await,
        Some(unipeer::Message::Text("works".into()))
    );
    // The answerer can open channels too.
    let from_b = pair
        .b
        .create_data_channel("from-b", DataChannelInit::default())
        .await
        .unwrap();
    let at_a = next_channel(&mut pair.a_events).await;
    assert_eq!(at_a.label(), "from-b");
    within(STEP, "from-b open", from_b.wait_open())
        .await
        .unwrap();
    drop(first);
}
