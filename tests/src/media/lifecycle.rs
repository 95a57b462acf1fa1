use unipeer::{
    DataChannel, DataChannelInit, Error, MediaKind, Message, PeerEvent, Track, TrackDirection,
    TrackInit, TrackState,
};

use super::{asked_to_negotiate, negotiation_needed, remote_track, renegotiate, state_change};
use crate::{wait_for, within, Pair, STEP};

/// A connected pair with a channel, and a track of `kind` that `a` added afterwards (one
/// renegotiation): returns it from both ends.
async fn pair_with_track(kind: MediaKind) -> (Pair, DataChannel, DataChannel, Track, Track) {
    let (mut pair, chat, remote_chat) =
        Pair::with_channel("chat", DataChannelInit::default()).await;
    let local = pair
        .a
        .add_track(TrackInit::new(kind, TrackDirection::SendRecv))
        .await
        .unwrap();
    negotiation_needed(&mut pair.a_events).await;
    renegotiate(&pair.a, &pair.b).await;
    let remote = remote_track(&mut pair.b_events, kind).await;
    (pair, chat, remote_chat, local, remote)
}

async fn still_carries(chat: &DataChannel, remote_chat: &DataChannel, text: &str) {
    chat.send_text(text).await.unwrap();
    assert_eq!(
        within(STEP, "a message on the data channel", remote_chat.recv()).await,
        Some(Message::Text(text.into()))
    );
}

/// Stopping a track ends it at once locally (and for good: stopping again is fine, other
/// changes fail with `TrackEnded`); after the renegotiation it asks for, the remote sees
/// the track end.
pub async fn stopping_a_track_ends_it_on_both_sides() {
    let (mut pair, chat, remote_chat, local, remote) = pair_with_track(MediaKind::Video).await;
    let mid = local.mid().expect("negotiated");
    local.stop().await.unwrap();
    assert_eq!(local.state(), TrackState::Ended);
    within(STEP, "the local track's end", local.wait_ended()).await;
    local.stop().await.expect("stopping twice is fine");
    assert_eq!(
        local.set_direction(TrackDirection::SendOnly).await,
        Err(Error::TrackEnded)
    );
    assert_eq!(local.send_codec(), None, "an ended track sends nothing");

    negotiation_needed(&mut pair.a_events).await;
    renegotiate(&pair.a, &pair.b).await;
    state_change(&mut pair.b_events, &mid, TrackState::Ended).await;
    within(STEP, "the remote track's end", remote.wait_ended()).await;
    assert_eq!(remote.state(), TrackState::Ended);
    assert!(
        !asked_to_negotiate(&mut pair.b_events).await,
        "the answer settled the stop"
    );
    still_carries(&chat, &remote_chat, "after the stop").await;
}

/// `set_direction` on a negotiated track asks for a renegotiation (unless the direction
/// does not change); after it the remote's side of the section follows: inactive, then
/// sending and receiving again.
pub async fn direction_changes_renegotiate() {
    let (mut pair, chat, remote_chat, local, remote) = pair_with_track(MediaKind::Audio).await;
    local
        .set_direction(TrackDirection::SendRecv)
        .await
        .expect("the same direction");
    assert!(
        !asked_to_negotiate(&mut pair.a_events).await,
        "an unchanged direction needs no offer"
    );

    local.set_direction(TrackDirection::Inactive).await.unwrap();
    assert_eq!(local.direction(), TrackDirection::Inactive);
    negotiation_needed(&mut pair.a_events).await;
    renegotiate(&pair.a, &pair.b).await;
    assert_eq!(remote.direction(), TrackDirection::Inactive);
    assert_eq!(local.send_codec(), None, "an inactive track sends nothing");
    assert!(
        !asked_to_negotiate(&mut pair.b_events).await,
        "the answer settled the change"
    );

    local.set_direction(TrackDirection::SendRecv).await.unwrap();
    negotiation_needed(&mut pair.a_events).await;
    renegotiate(&pair.a, &pair.b).await;
    assert!(remote.direction().receives(), "{:?}", remote.direction());
    assert!(local.send_codec().is_some());
    assert_ne!(local.state(), TrackState::Ended);
    assert_ne!(remote.state(), TrackState::Ended);
    still_carries(&chat, &remote_chat, "after the direction changes").await;
}

/// Closing a peer ends its tracks, each with a `TrackStateChange` before `Closed`; the
/// remote's tracks end when it sees the close.
pub async fn closing_a_peer_ends_its_tracks() {
    let (mut pair, _chat, _remote_chat, local, remote) = pair_with_track(MediaKind::Audio).await;
    let mid = local.mid().expect("negotiated");
    pair.a.close().await;
    assert_eq!(local.state(), TrackState::Ended);
    within(STEP, "the local track's end", local.wait_ended()).await;
    state_change(&mut pair.a_events, &mid, TrackState::Ended).await;
    wait_for(&mut pair.a_events, STEP, "Closed", |e| {
        matches!(e, PeerEvent::Closed)
    })
    .await;
    within(STEP, "the remote track's end", remote.wait_ended()).await;
    assert_eq!(
        local.set_direction(TrackDirection::Inactive).await,
        Err(Error::TrackEnded)
    );
}
