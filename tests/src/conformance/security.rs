use std::collections::HashSet;
use std::time::Duration;

use unipeer::{ConnectionState, DataChannelInit, Error, Peer, PeerEvent, SessionDescription};

use crate::{loopback, sleep, within, Events, STEP};

/// How long a tampered pair is watched for any sign of a connection.
const WATCH: Duration = Duration::from_secs(8);

/// The value of the first `a=NAME:` line.
fn attribute<'a>(sdp: &'a SessionDescription, name: &str) -> &'a str {
    let prefix = format!("a={name}:");
    sdp.sdp
        .lines()
        .find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no a={name} line in the description"))
}

/// The description with one hex digit of its DTLS fingerprint changed.
fn tamper(sdp: &SessionDescription) -> SessionDescription {
    let line = sdp
        .sdp
        .lines()
        .find(|l| l.starts_with("a=fingerprint:"))
        .expect("a fingerprint line");
    let mut tampered = line.to_string();
    // The last character is a hex digit of the hash: change it.
    let last = tampered.pop().expect("non-empty");
    tampered.push(if last == '0' { '1' } else { '0' });
    SessionDescription {
        kind: sdp.kind,
        sdp: sdp.sdp.replace(line, &tampered),
    }
}

/// Negotiates with a tampered fingerprint on one side (the offer's if `in_offer`, else the
/// answer's) and watches: the side that got it never connects, and no channel opens.
async fn never_connects(in_offer: bool) {
    let a = Peer::new(loopback()).unwrap();
    let b = Peer::new(loopback()).unwrap();
    let ch = a
        .create_data_channel("secret", DataChannelInit::default())
        .await
        .unwrap();
    let (mut a_events, mut b_events) = (Events::of(&a), Events::of(&b));
    let offer = a.create_offer().await.unwrap();
    let offer = if in_offer { tamper(&offer) } else { offer };
    let answer = b.accept_offer(offer).await.unwrap();
    let answer = if in_offer { answer } else { tamper(&answer) };
    a.accept_answer(answer).await.unwrap();
    // Both sides may give up (and close) as soon as DTLS fails: forwarding may then fail.
    futures::future::join(
        forward_until_closed(&mut a_events, &b),
        forward_until_closed(&mut b_events, &a),
    )
    .await;

    // The channel must not open; failing (the peer giving up) is fine.
    let (open, watch) = (std::pin::pin!(ch.wait_open()), std::pin::pin!(sleep(WATCH)));
    if let futures::future::Either::Left((Ok(()), _)) = futures::future::select(open, watch).await {
        panic!("a channel opened though a fingerprint was tampered with");
    }
    // The side whose remote description was tampered with never connects. (The other
    // side's check passed: a browser may report its transport connected until the victim's
    // DTLS alert arrives, but no channel opens on it either.)
    let victim = if in_offer { "answerer" } else { "offerer" };
    for (side, events) in [("offerer", &mut a_events), ("answerer", &mut b_events)] {
        for e in events.take_ready() {
            let connected = matches!(
                e,
                PeerEvent::ConnectionStateChange(ConnectionState::Connected)
            );
            assert!(
                !(connected && side == victim),
                "the {side} connected with a tampered fingerprint"
            );
            assert!(
                !matches!(e, PeerEvent::DataChannel(_)),
                "the {side} got a channel with a tampered fingerprint"
            );
        }
    }
    let victim = if in_offer { &b } else { &a };
    assert_ne!(victim.connection_state(), ConnectionState::Connected);
    a.close().await;
    b.close().await;
}

/// Forwards candidates until the end of candidates, or until either side closed.
async fn forward_until_closed(events: &mut Events, to: &Peer) {
    while let Some(c) = events.next_candidate().await {
        match to.add_ice_candidate(c).await {
            Ok(()) => {}
            Err(Error::PeerClosed) => return,
            Err(e) => panic!("the remote refused a candidate: {e}"),
        }
    }
}

/// A tampered DTLS fingerprint, in the offer or in the answer, never lets the peers
/// connect, so no data can flow. (There is no API to switch the check off.)
pub async fn tampered_fingerprint_never_connects() {
    within(
        WATCH + 2 * STEP,
        "the tampered negotiations",
        futures::future::join(never_connects(true), never_connects(false)),
    )
    .await;
}

/// Every peer has its own ICE credentials and DTLS certificate, with passwords long
/// enough to carry 128 bits.
pub async fn credentials_are_fresh_per_peer() {
    const PEERS: usize = 12;
    let (mut ufrags, mut pwds, mut fingerprints) = (HashSet::new(), HashSet::new(), HashSet::new());
    let mut peers = Vec::new();
    for _ in 0..PEERS {
        let p = Peer::new(loopback()).unwrap();
        p.create_data_channel("x", DataChannelInit::default())
            .await
            .unwrap();
        let offer = p.create_offer().await.unwrap();
        let pwd = attribute(&offer, "ice-pwd");
        assert!(pwd.len() >= 22, "ICE password of {} characters", pwd.len());
        assert!(attribute(&offer, "ice-ufrag").len() >= 4);
        ufrags.insert(attribute(&offer, "ice-ufrag").to_string());
        pwds.insert(pwd.to_string());
        fingerprints.insert(attribute(&offer, "fingerprint").to_string());
        peers.push(p);
    }
    assert_eq!(ufrags.len(), PEERS, "ICE usernames repeat");
    assert_eq!(pwds.len(), PEERS, "ICE passwords repeat");
    assert_eq!(fingerprints.len(), PEERS, "DTLS certificates repeat");
    for p in peers {
        p.close().await;
    }
}
