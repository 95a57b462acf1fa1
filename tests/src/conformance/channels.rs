use unipeer::{DataChannelInit, Message, Reliability};

use crate::{loopback, next_channel, within, Pair, STEP};

/// Unordered and partially reliable settings and the protocol reach the remote unchanged.
pub async fn channel_settings_reach_the_remote() {
    let inits = [
        (
            "unordered",
            DataChannelInit {
                ordered: false,
                ..Default::default()
            },
        ),
        (
            "rexmit0",
            DataChannelInit {
                ordered: false,
                max_retransmits: Some(0),
                ..Default::default()
            },
        ),
        (
            "lifetime",
            DataChannelInit {
                max_packet_life_time: Some(150),
                ..Default::default()
            },
        ),
        (
            "proto",
            DataChannelInit {
                protocol: "chat.v2".into(),
                ..Default::default()
            },
        ),
    ];
    let (mut pair, local) = Pair::negotiate(loopback(), loopback(), &inits).await;
    let mut remote = Vec::new();
    for _ in 0..inits.len() {
        remote.push(next_channel(&mut pair.b_events).await);
    }
    for (label, init) in &inits {
        let r = remote
            .iter()
            .find(|c| c.label() == *label)
            .expect("remote channel");
        let l = local.iter().find(|c| c.label() == *label).unwrap();
        within(STEP, "open", l.wait_open()).await.unwrap();
        assert_eq!(r.ordered(), init.ordered, "{label}");
        assert_eq!(r.reliability(), init.reliability(), "{label}");
        assert_eq!(r.max_retransmits(), init.max_retransmits, "{label}");
        assert_eq!(
            r.max_packet_life_time(),
            init.max_packet_life_time,
            "{label}"
        );
        assert_eq!(r.protocol(), init.protocol, "{label}");
        assert_eq!(l.reliability(), init.reliability());
        assert!(!r.negotiated());
    }
    assert_eq!(
        remote
            .iter()
            .find(|c| c.label() == "rexmit0")
            .unwrap()
            .reliability(),
        Reliability::MaxRetransmits(0)
    );
}

/// Out-of-band negotiated channels open on both sides with the transport, carry data, and
/// are not announced as incoming channels.
pub async fn negotiated_channels() {
    let init = DataChannelInit {
        negotiated: Some(7),
        ..Default::default()
    };
    let a = unipeer::Peer::new(loopback()).unwrap();
    let b = unipeer::Peer::new(loopback()).unwrap();
    let ca = a.create_data_channel("neg", init.clone()).await.unwrap();
    let cb = b.create_data_channel("neg", init.clone()).await.unwrap();
    assert_eq!(ca.id(), Some(7));
    assert!(ca.negotiated());
    // A second channel with the same id is refused.
    assert!(matches!(
        a.create_data_channel("dup", init.clone()).await,
        Err(unipeer::Error::DuplicateChannelId(7))
    ));
    let (mut ae, mut be) = (crate::Events::of(&a), crate::Events::of(&b));
    crate::connect(&a, &mut ae, &b, &mut be).await;
    within(STEP, "a open", ca.wait_open()).await.unwrap();
    within(STEP, "b open", cb.wait_open()).await.unwrap();
    ca.send_text("ping").await.unwrap();
    assert_eq!(
        within(STEP, "ping", cb.recv()).await,
        Some(Message::Text("ping".into()))
    );
    cb.send_text("pong").await.unwrap();
    assert_eq!(
        within(STEP, "pong", ca.recv()).await,
        Some(Message::Text("pong".into()))
    );
    for e in be.take_ready() {
        assert!(
            !matches!(e, unipeer::PeerEvent::DataChannel(_)),
            "negotiated is not announced"
        );
    }
}

/// Sixteen channels at once, each with its own traffic, none mixed up.
pub async fn sixteen_channels() {
    let labels: Vec<String> = (0..16).map(|i| format!("ch{i}")).collect();
    let inits: Vec<(&str, DataChannelInit)> = labels
        .iter()
        .map(|l| (l.as_str(), DataChannelInit::default()))
        .collect();
    let (mut pair, local) = Pair::negotiate(loopback(), loopback(), &inits).await;
    let mut remote = Vec::new();
    for _ in 0..16 {
        remote.push(next_channel(&mut pair.b_events).await);
    }
    for l in &local {
        within(STEP, "open", l.wait_open()).await.unwrap();
        for n in 0..20 {
            l.send_text(format!("{}:{n}", l.label())).await.unwrap();
        }
    }
    for r in &remote {
        for n in 0..20 {
            let m = within(STEP, "message", r.recv()).await;
            assert_eq!(m, Some(Message::Text(format!("{}:{n}", r.label()))));
        }
    }
    let mut ids: Vec<_> = local.iter().map(|c| c.id().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 16, "distinct stream ids");
}
