use unipeer::{DataChannelInit, Error, IceCandidate, SessionDescription};

use crate::{forward_candidates, loopback, next_channel, within, Events, STEP};

/// Malformed descriptions give typed errors and lose nothing: the same peers still
/// connect afterwards.
pub async fn malformed_sdp_gives_errors_and_loses_nothing() {
    let a = unipeer::Peer::new(loopback()).unwrap();
    let b = unipeer::Peer::new(loopback()).unwrap();
    let ch = a
        .create_data_channel("x", DataChannelInit::default())
        .await
        .unwrap();

    assert!(matches!(
        b.accept_offer(SessionDescription::offer("this is not sdp"))
            .await,
        Err(Error::InvalidSdp(_))
    ));
    assert!(matches!(
        a.accept_answer(SessionDescription::answer("v=0\r\n")).await,
        Err(Error::InvalidState(_))
    ));
    let offer = a.create_offer().await.unwrap();
    // An offer passed as an answer, and an answer stripped of its fingerprint.
    assert!(matches!(
        b.accept_offer(SessionDescription::answer(offer.sdp.clone()))
            .await,
        Err(Error::InvalidSdp(_))
    ));
    let no_fp: String = offer
        .sdp
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    assert!(matches!(
        b.accept_offer(SessionDescription::offer(no_fp)).await,
        Err(Error::InvalidSdp(_))
    ));
    let truncated = SessionDescription::offer(offer.sdp[..offer.sdp.len() / 3].to_string());
    assert!(b.accept_offer(truncated).await.is_err());

    // Nothing was lost: the real offer still works.
    let answer = b.accept_offer(offer).await.unwrap();
    assert!(matches!(
        a.accept_answer(SessionDescription::answer("garbage")).await,
        Err(Error::InvalidSdp(_))
    ));
    a.accept_answer(answer).await.unwrap();
    let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
    forward_candidates(&mut ae, &b).await;
    forward_candidates(&mut be, &a).await;
    let remote = next_channel(&mut be).await;
    within(STEP, "open", ch.wait_open()).await.unwrap();
    ch.send_text("ok").await.unwrap();
    assert!(within(STEP, "message", remote.recv()).await.is_some());
}

/// Bad candidates give typed errors; the end-of-candidates marker is accepted.
pub async fn malformed_candidates_give_errors() {
    let a = unipeer::Peer::new(loopback()).unwrap();
    let b = unipeer::Peer::new(loopback()).unwrap();
    let cand = |c: &str, mid: Option<&str>, idx: Option<u16>| IceCandidate {
        candidate: c.into(),
        sdp_mid: mid.map(Into::into),
        sdp_m_line_index: idx,
    };
    let good = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host";
    // Before any remote description.
    assert!(matches!(
        b.add_ice_candidate(cand(good, None, Some(0))).await,
        Err(Error::InvalidState(_))
    ));

    a.create_data_channel("x", DataChannelInit::default())
        .await
        .unwrap();
    let offer = a.create_offer().await.unwrap();
    let mid = offer.mids()[0].clone();
    b.accept_offer(offer).await.unwrap();

    for bad in [
        "candidate:garbage",
        "candidate:1 1 udp notanumber 1.2.3.4 5 typ host",
        "hello",
    ] {
        assert!(
            matches!(
                b.add_ice_candidate(cand(bad, Some(&mid), Some(0))).await,
                Err(Error::InvalidCandidate(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        b.add_ice_candidate(cand(good, Some("no-such-mid"), None))
            .await,
        Err(Error::UnknownMid(_))
    ));
    assert!(matches!(
        b.add_ice_candidate(cand(good, None, Some(9))).await,
        Err(Error::UnknownMid(_))
    ));
    // End of candidates, and a good one, are fine.
    b.add_ice_candidate(cand("", Some(&mid), Some(0)))
        .await
        .unwrap();
    b.add_ice_candidate(cand(good, Some(&mid), Some(0)))
        .await
        .unwrap();
    // An mDNS candidate from a browser is ignored, not an error.
    let mdns =
        "candidate:2 1 udp 2130706431 3f1a5c4e-8d5b-4f0e-9a57-2f3c1f5f9e11.local 54321 typ host";
    b.add_ice_candidate(cand(mdns, Some(&mid), Some(0)))
        .await
        .unwrap();
}

/// Options that contradict each other are refused before anything is created.
pub async fn invalid_channel_options_are_refused() {
    let a = unipeer::Peer::new(loopback()).unwrap();
    let both = DataChannelInit {
        max_retransmits: Some(1),
        max_packet_life_time: Some(1),
        ..Default::default()
    };
    assert!(matches!(
        a.create_data_channel("x", both).await,
        Err(Error::InvalidChannelInit(_))
    ));
    // Nothing to offer yet: a clear error, not an empty offer.
    assert!(matches!(
        a.create_offer().await,
        Err(Error::InvalidState(_))
    ));
}

/// ICE servers are checked the same way on every backend, before anything is created: a
/// malformed URL or a TURN URL without credentials is a typed error; well-formed STUN and
/// TURN servers (`?transport=udp|tcp`, `turns:`) are accepted.
pub async fn invalid_ice_servers_are_refused() {
    use unipeer::{IceServer, IceServerError, IceUrlProblem, PeerConfig};
    let with = |server: IceServer| PeerConfig {
        ice_servers: vec![server],
        ..loopback()
    };
    let refused = |server: IceServer| match unipeer::Peer::new(with(server)) {
        Err(Error::InvalidIceServer(e)) => e,
        Err(other) => panic!("expected InvalidIceServer, got {other}"),
        Ok(_) => panic!("a bad ICE server was accepted"),
    };
    assert!(matches!(
        refused(IceServer::stun("stun://203.0.113.1")),
        IceServerError::InvalidUrl {
            problem: IceUrlProblem::Slashes,
            ..
        }
    ));
    assert!(matches!(
        refused(IceServer::stun("http://203.0.113.1")),
        IceServerError::InvalidUrl {
            problem: IceUrlProblem::Scheme,
            ..
        }
    ));
    assert!(matches!(
        refused(IceServer::turn(
            ["turn:203.0.113.1?transport=sctp"],
            "u",
            "p"
        )),
        IceServerError::InvalidUrl {
            problem: IceUrlProblem::Query,
            ..
        }
    ));
    let mut no_password = IceServer::turn(["turn:203.0.113.1"], "u", "p");
    no_password.credential = None;
    assert!(matches!(
        refused(no_password),
        IceServerError::MissingCredentials { .. }
    ));
    // Well-formed servers are accepted (on loopback, where nothing answers).
    let good = PeerConfig {
        ice_servers: vec![
            IceServer::stun("stun:127.0.0.1:3478"),
            IceServer::turn(
                [
                    "turn:127.0.0.1?transport=udp",
                    "turn:127.0.0.1:3478?transport=tcp",
                ],
                "user",
                "secret",
            ),
        ],
        ..loopback()
    };
    let peer = unipeer::Peer::new(good).unwrap();
    peer.close().await;
}
