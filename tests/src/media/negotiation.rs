use unipeer::{
    Codec, ConnectionState, DataChannelInit, Error, MediaKind, Message, Peer, TrackDirection,
    TrackInit, TrackState,
};

use super::{asked_to_negotiate, negotiation_needed, offered_codecs, remote_track, renegotiate};
use crate::{loopback, within, Events, Pair, STEP};

/// A call that starts with data only; one side adds a video track. That side is asked to
/// negotiate, the other side gets the track (same mid, the requested stream id, a
/// receiving direction) and is not asked for anything, and the data channel carries
/// messages throughout.
pub async fn video_added_to_a_data_call() {
    let (mut pair, chat, remote_chat) =
        Pair::with_channel("chat", DataChannelInit::default()).await;
    let video = pair
        .a
        .add_track(TrackInit {
            stream_id: Some("camera".into()),
            ..TrackInit::new(MediaKind::Video, TrackDirection::SendRecv)
        })
        .await
        .unwrap();
    assert_eq!(video.kind(), MediaKind::Video);
    assert_eq!(video.direction(), TrackDirection::SendRecv);
    assert_eq!(
        video.mid(),
        None,
        "no mid before an offer carries the track"
    );
    assert_eq!(video.send_codec(), None, "nothing is negotiated yet");
    assert_ne!(video.state(), TrackState::Ended);

    negotiation_needed(&mut pair.a_events).await;
    renegotiate(&pair.a, &pair.b).await;
    let mid = video.mid().expect("a mid once offered");

    let remote = remote_track(&mut pair.b_events, MediaKind::Video).await;
    assert_eq!(
        remote.mid().as_deref(),
        Some(mid.as_str()),
        "the same section"
    );
    assert_eq!(remote.remote_stream_id().as_deref(), Some("camera"));
    let track_id = remote.remote_track_id().expect("the remote's track id");
    assert!(!track_id.is_empty());
    assert!(
        remote.direction().receives(),
        "the answerer receives what the offer sends: {:?}",
        remote.direction()
    );
    assert_ne!(remote.state(), TrackState::Ended);
    assert!(
        video
            .send_codec()
            .is_some_and(|c| c.kind() == MediaKind::Video),
        "a video send codec after the answer: {:?}",
        video.send_codec()
    );

    assert!(
        !asked_to_negotiate(&mut pair.b_events).await,
        "the answer needed nothing more"
    );
    assert!(
        !asked_to_negotiate(&mut pair.a_events).await,
        "the round settled everything"
    );
    chat.send_text("after the video").await.unwrap();
    assert_eq!(
        within(STEP, "a message after renegotiation", remote_chat.recv()).await,
        Some(Message::Text("after the video".into()))
    );
    remote_chat.send_text("and back").await.unwrap();
    assert_eq!(
        within(STEP, "a reply after renegotiation", chat.recv()).await,
        Some(Message::Text("and back".into()))
    );
}

/// Audio and video tracks of one stream in the first offer, video limited to VP8: the offer
/// lists VP8 only, the senders use VP8 and Opus after the answer, the answerer sees both
/// tracks in that stream with their directions mirrored, and nobody is asked to negotiate
/// again.
pub async fn tracks_in_the_first_offer_follow_codec_preferences() {
    let a = Peer::new(loopback()).unwrap();
    let b = Peer::new(loopback()).unwrap();
    let _chat = a
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    let audio = a
        .add_track(TrackInit {
            stream_id: Some("call".into()),
            ..TrackInit::new(MediaKind::Audio, TrackDirection::SendRecv)
        })
        .await
        .unwrap();
    let video = a
        .add_track(TrackInit {
            codecs: vec![Codec::Vp8],
            stream_id: Some("call".into()),
            ..TrackInit::new(MediaKind::Video, TrackDirection::SendOnly)
        })
        .await
        .unwrap();

    let offer = a.create_offer().await.unwrap();
    let video_codecs = offered_codecs(&offer.sdp, MediaKind::Video);
    assert!(
        video_codecs.contains(&"VP8".to_string()),
        "{video_codecs:?}"
    );
    for other in ["VP9", "H264", "AV1"] {
        assert!(
            !video_codecs.iter().any(|c| c == other),
            "only VP8 is offered: {video_codecs:?}"
        );
    }
    assert!(offered_codecs(&offer.sdp, MediaKind::Audio).contains(&"OPUS".to_string()));
    let answer = b.accept_offer(offer).await.unwrap();
    a.accept_answer(answer).await.unwrap();
    let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
    crate::forward_candidates(&mut ae, &b).await;
    crate::forward_candidates(&mut be, &a).await;

    assert_eq!(video.send_codec(), Some(Codec::Vp8));
    assert_eq!(audio.send_codec(), Some(Codec::Opus));
    let (audio_mid, video_mid) = (audio.mid().unwrap(), video.mid().unwrap());
    assert_ne!(audio_mid, video_mid);

    let remote_audio = remote_track(&mut be, MediaKind::Audio).await;
    let remote_video = remote_track(&mut be, MediaKind::Video).await;
    assert_eq!(remote_audio.mid(), Some(audio_mid));
    assert_eq!(remote_video.mid(), Some(video_mid));
    assert_eq!(remote_video.direction(), TrackDirection::RecvOnly);
    assert_eq!(
        remote_video.send_codec(),
        None,
        "a receive-only track sends nothing"
    );
    assert!(remote_audio.direction().receives());
    assert_eq!(remote_audio.send_codec(), Some(Codec::Opus));
    // One stream id for both: the remote plays them together.
    assert_eq!(remote_audio.remote_stream_id().as_deref(), Some("call"));
    assert_eq!(remote_video.remote_stream_id().as_deref(), Some("call"));
    assert_ne!(
        remote_audio.remote_track_id(),
        remote_video.remote_track_id()
    );

    for (peer, events) in [(&a, &mut ae), (&b, &mut be)] {
        within(STEP, "connected", async {
            while peer.connection_state() != ConnectionState::Connected {
                crate::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            !asked_to_negotiate(events).await,
            "tracks made before the first offer need no second one"
        );
    }
}

/// Track options are checked before anything is created.
pub async fn invalid_track_options_are_refused() {
    let a = Peer::new(loopback()).unwrap();
    let wrong_kind = TrackInit {
        codecs: vec![Codec::Opus],
        ..TrackInit::new(MediaKind::Video, TrackDirection::SendRecv)
    };
    assert!(matches!(
        a.add_track(wrong_kind).await,
        Err(Error::InvalidTrackInit(_))
    ));
    let video_for_audio = TrackInit {
        codecs: vec![Codec::Opus, Codec::Vp8],
        ..TrackInit::new(MediaKind::Audio, TrackDirection::SendRecv)
    };
    assert!(matches!(
        a.add_track(video_for_audio).await,
        Err(Error::InvalidTrackInit(_))
    ));
    let bad_stream = TrackInit {
        stream_id: Some("two words".into()),
        ..TrackInit::new(MediaKind::Audio, TrackDirection::SendRecv)
    };
    assert!(matches!(
        a.add_track(bad_stream).await,
        Err(Error::InvalidTrackInit(_))
    ));
    // Nothing was created: there is still nothing to offer.
    assert!(a.create_offer().await.is_err());
    a.close().await;
    assert_eq!(
        a.add_track(TrackInit::new(MediaKind::Audio, TrackDirection::SendRecv))
            .await
            .err(),
        Some(Error::PeerClosed)
    );
}

/// A data channel opened on a connected peer needs no new offer: no `NegotiationNeeded`.
pub async fn channel_on_a_connected_peer_needs_no_negotiation() {
    let (mut pair, _chat, _remote_chat) =
        Pair::with_channel("chat", DataChannelInit::default()).await;
    let late = pair
        .a
        .create_data_channel("late", DataChannelInit::default())
        .await
        .unwrap();
    within(STEP, "the late channel to open", late.wait_open())
        .await
        .unwrap();
    assert!(!asked_to_negotiate(&mut pair.a_events).await);
    assert!(!asked_to_negotiate(&mut pair.b_events).await);
}

/// Both sides add a track, each renegotiating from its own side: each peer gets a
/// `PeerEvent::Track` for the other's track only (never for its own section, which the
/// other's offer also lists), and the earlier track keeps its direction.
pub async fn both_sides_add_tracks() {
    let (mut pair, chat, remote_chat) =
        Pair::with_channel("chat", DataChannelInit::default()).await;
    let video = pair
        .a
        .add_track(TrackInit::new(MediaKind::Video, TrackDirection::SendRecv))
        .await
        .unwrap();
    negotiation_needed(&mut pair.a_events).await;
    renegotiate(&pair.a, &pair.b).await;
    let b_video = remote_track(&mut pair.b_events, MediaKind::Video).await;

    let audio = pair
        .b
        .add_track(TrackInit::new(MediaKind::Audio, TrackDirection::SendOnly))
        .await
        .unwrap();
    negotiation_needed(&mut pair.b_events).await;
    renegotiate(&pair.b, &pair.a).await;
    let a_audio = remote_track(&mut pair.a_events, MediaKind::Audio).await;
    assert_eq!(a_audio.mid(), audio.mid());
    assert_eq!(a_audio.direction(), TrackDirection::RecvOnly);
    assert_eq!(audio.send_codec(), Some(Codec::Opus));
    assert_ne!(a_audio.mid(), video.mid());
    assert!(
        !pair.a_events.has_ready(
            |e| matches!(e, unipeer::PeerEvent::Track(t) if t.kind() == MediaKind::Video)
        ),
        "no event for a's own video section"
    );
    assert_eq!(video.direction(), TrackDirection::SendRecv);
    assert!(b_video.direction().receives());
    assert!(!asked_to_negotiate(&mut pair.a_events).await);
    chat.send_text("both").await.unwrap();
    assert_eq!(
        within(STEP, "a message", remote_chat.recv()).await,
        Some(Message::Text("both".into()))
    );
}
