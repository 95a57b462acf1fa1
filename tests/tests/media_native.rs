//! Media between two native peers: encoded frames both ways next to a data channel,
//! keyframe requests answered, the receive queue's bound, and the typed errors of frame
//! writes. (What runs on both backends is in `tests/src/media`; frames are native-only.)
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use unipeer::{
    Codec, DataChannelInit, Error, KeyframeRequest, MediaKind, Message, Peer, PeerConfig,
    PeerEvent, Track, TrackDirection, TrackInit, TrackState,
};
use unipeer_tests::{connect, loopback, next_channel, run, within, Events, STEP};

/// A VP8 keyframe as a decoder sees it: frame tag with the key bit clear, the start code
/// and a 320x240 size, then filler.
fn vp8_keyframe(n: u8) -> Vec<u8> {
    let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
    f.extend(std::iter::repeat_n(n, 3000));
    f
}

/// A VP8 interframe: the key bit set.
fn vp8_interframe(n: u8) -> Vec<u8> {
    let mut f = vec![0x11, 0x02, 0x00];
    f.extend(std::iter::repeat_n(n, 800));
    f
}

/// An Opus packet: TOC byte for one 20 ms CELT frame, then filler.
fn opus_packet(n: u8) -> Vec<u8> {
    let mut p = vec![0xfc];
    p.extend(std::iter::repeat_n(n, 60));
    p
}

async fn remote_track(events: &mut Events, kind: MediaKind) -> Track {
    events
        .find(STEP, "the remote's track", |e| match e {
            PeerEvent::Track(t) if t.kind() == kind => Some(t.clone()),
            _ => None,
        })
        .await
}

/// Frames arrive until `want` of them passed `keep`, within `limit`.
async fn receive(track: &Track, want: usize, keep: impl Fn(&unipeer::MediaFrame) -> bool) -> usize {
    within(Duration::from_secs(20), "frames to arrive", async {
        let mut n = 0;
        while n < want {
            let f = track.next_frame().await.expect("the track ended early");
            if keep(&f) {
                n += 1;
            }
        }
        n
    })
    .await
}

#[test]
fn frames_flow_next_to_a_data_channel_and_keyframe_requests_are_answered() {
    run(async {
        let a = Peer::new(loopback()).unwrap();
        let b = Peer::new(loopback()).unwrap();
        let chat = a
            .create_data_channel("chat", DataChannelInit::default())
            .await
            .unwrap();
        let video = a
            .add_track(TrackInit {
                codecs: vec![Codec::Vp8],
                ..TrackInit::new(MediaKind::Video, TrackDirection::SendRecv)
            })
            .await
            .unwrap();
        let audio = a
            .add_track(TrackInit::new(MediaKind::Audio, TrackDirection::SendOnly))
            .await
            .unwrap();
        let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
        connect(&a, &mut ae, &b, &mut be).await;
        let b_video = remote_track(&mut be, MediaKind::Video).await;
        let b_audio = remote_track(&mut be, MediaKind::Audio).await;
        let b_chat = next_channel(&mut be).await;
        assert_eq!(b_video.mid(), video.mid());
        assert_eq!(b_audio.direction(), TrackDirection::RecvOnly);
        assert!(b_video.remote_stream_id().is_some());
        assert_eq!(video.send_codec(), Some(Codec::Vp8));
        // The preference narrowed the offer: VP8 is all the remote could accept.
        assert_eq!(b_video.send_codec(), Some(Codec::Vp8));
        assert!(matches!(
            b_video
                .write_frame_with(Codec::Vp9, vp8_keyframe(0), Duration::ZERO)
                .await,
            Err(Error::CodecNotNegotiated(_))
        ));
        within(STEP, "the channel to open", chat.wait_open())
            .await
            .unwrap();

        // 60 video frames (a keyframe every 30) and 50 audio packets, paced at 1 ms so
        // the test does not take real media time.
        for i in 0..60u8 {
            let ts = Duration::from_millis(33 * u64::from(i));
            let frame = if i % 30 == 0 {
                vp8_keyframe(i)
            } else {
                vp8_interframe(i)
            };
            video.write_frame(frame, ts).await.unwrap();
            if i < 50 {
                audio
                    .write_frame(opus_packet(i), Duration::from_millis(20 * u64::from(i)))
                    .await
                    .unwrap();
            }
            unipeer_tests::sleep(Duration::from_millis(1)).await;
        }
        chat.send_text("next to the media").await.unwrap();
        assert_eq!(
            within(STEP, "a message", b_chat.recv()).await,
            Some(Message::Text("next to the media".into()))
        );
        let got = receive(&b_video, 50, |f| f.codec == Codec::Vp8).await;
        assert_eq!(got, 50);
        receive(&b_audio, 40, |f| f.codec == Codec::Opus && f.keyframe).await;

        // The receiver asks for a keyframe; the sender sees the request and answers it.
        b_video.request_keyframe().await.unwrap();
        let request = within(STEP, "the keyframe request", video.next_keyframe_request())
            .await
            .expect("a request");
        assert_eq!(request, KeyframeRequest::Pli);
        video
            .write_frame(vp8_keyframe(99), Duration::from_millis(33 * 61))
            .await
            .unwrap();
        receive(&b_video, 1, |f| f.keyframe && f.data.last() == Some(&99)).await;

        let sent = video.stats().await.unwrap();
        let received = b_video.stats().await.unwrap();
        assert_eq!(sent.frames_sent, 61);
        assert_eq!(sent.keyframe_requests_received, 1);
        assert_eq!(received.keyframe_requests_sent, 1);
        assert!(received.frames_received >= 51, "{received:?}");
        assert!(received.keyframes_received >= 3, "{received:?}");
        assert!(received.packets_received >= received.frames_received);
        // RTCP figures come with the statistics refresh (1 s by default).
        let rtcp = within(STEP, "RTCP statistics", async {
            loop {
                let (s, r) = (video.stats().await.unwrap(), b_video.stats().await.unwrap());
                if s.packets_sent > 0 && s.rtt.is_some() && r.jitter.is_some() {
                    return (s, r);
                }
                unipeer_tests::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(rtcp.0.rtt.unwrap() < Duration::from_secs(1), "{rtcp:?}");

        a.close().await;
        within(STEP, "the remote track to end", b_video.wait_ended()).await;
        assert_eq!(video.state(), TrackState::Ended);
        assert_eq!(
            video.write_frame(vp8_interframe(1), Duration::ZERO).await,
            Err(Error::TrackEnded)
        );
        b.close().await;
    });
}

#[test]
fn an_unread_track_keeps_a_bounded_queue() {
    run(async {
        let mut config = loopback();
        config.media.receive_queue = 8;
        let a = Peer::new(loopback()).unwrap();
        let b = Peer::new(config).unwrap();
        let video = a
            .add_track(TrackInit::new(MediaKind::Video, TrackDirection::SendOnly))
            .await
            .unwrap();
        let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
        connect(&a, &mut ae, &b, &mut be).await;
        let b_video = remote_track(&mut be, MediaKind::Video).await;
        unipeer_tests::wait_for(&mut ae, STEP, "connected", |e| {
            matches!(
                e,
                PeerEvent::ConnectionStateChange(unipeer::ConnectionState::Connected)
            )
        })
        .await;
        for i in 0..40u8 {
            let frame = if i == 0 {
                vp8_keyframe(i)
            } else {
                vp8_interframe(i)
            };
            video
                .write_frame(frame, Duration::from_millis(33 * u64::from(i)))
                .await
                .unwrap();
            unipeer_tests::sleep(Duration::from_millis(1)).await;
        }
        // Every frame arrived (the statistics count them), but only the newest 8 wait.
        within(STEP, "all frames to arrive", async {
            while b_video.stats().await.unwrap().frames_received < 40 {
                unipeer_tests::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let mut kept = Vec::new();
        while let Some(f) = b_video.try_next_frame() {
            kept.push(f);
        }
        assert_eq!(kept.len(), 8);
        assert!(!kept[0].contiguous, "the first kept frame follows a gap");
        assert_eq!(kept[7].data.last(), Some(&39));
        a.close().await;
        b.close().await;
    });
}

#[test]
fn frame_writes_fail_with_typed_errors() {
    run(async {
        let a = Peer::new(loopback()).unwrap();
        let b = Peer::new(PeerConfig {
            media: unipeer::MediaConfig {
                stats_interval: None,
                ..Default::default()
            },
            ..loopback()
        })
        .unwrap();
        let video = a
            .add_track(TrackInit::new(MediaKind::Video, TrackDirection::SendRecv))
            .await
            .unwrap();
        let listen = a
            .add_track(TrackInit::new(MediaKind::Audio, TrackDirection::RecvOnly))
            .await
            .unwrap();
        assert!(matches!(
            video.write_frame(vp8_keyframe(0), Duration::ZERO).await,
            Err(Error::TrackNotReady(_))
        ));
        assert_eq!(
            video.write_frame(Vec::new(), Duration::ZERO).await,
            Err(Error::EmptyMessage)
        );
        assert!(matches!(
            a.add_track(TrackInit {
                codecs: vec![Codec::Opus],
                ..TrackInit::new(MediaKind::Video, TrackDirection::SendRecv)
            })
            .await,
            Err(Error::InvalidTrackInit(_))
        ));
        let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
        connect(&a, &mut ae, &b, &mut be).await;
        assert!(matches!(
            listen.write_frame(opus_packet(0), Duration::ZERO).await,
            Err(Error::TrackNotReady(_))
        ));
        assert!(matches!(
            video
                .write_frame_with(Codec::Opus, vp8_keyframe(0), Duration::ZERO)
                .await,
            Err(Error::CodecNotNegotiated(_))
        ));
        // A sending-only track of the remote cannot ask for keyframes from this side.
        let b_listen = remote_track(&mut be, MediaKind::Audio).await;
        assert!(matches!(
            b_listen.request_keyframe().await,
            Err(Error::TrackNotReady(_))
        ));
        a.close().await;
        b.close().await;
    });
}

/// An SFU-like forwarder: peers in RTP mode pass packets from one session to another
/// without depacketizing; the receiver at the end gets the sender's frames intact.
#[test]
fn a_forwarder_in_rtp_mode_passes_packets_between_sessions() {
    run(async {
        let rtp = || PeerConfig {
            media: unipeer::MediaConfig {
                rtp_mode: true,
                ..Default::default()
            },
            ..loopback()
        };
        let (sender, from_sender) = (Peer::new(loopback()).unwrap(), Peer::new(rtp()).unwrap());
        let (to_receiver, receiver) = (Peer::new(rtp()).unwrap(), Peer::new(loopback()).unwrap());
        let video_init = || TrackInit {
            codecs: vec![Codec::Vp8],
            ..TrackInit::new(MediaKind::Video, TrackDirection::SendOnly)
        };
        let source = sender.add_track(video_init()).await.unwrap();
        let forward = to_receiver.add_track(video_init()).await.unwrap();
        let (mut se, mut fe) = (Events::of(&sender), Events::of(&from_sender));
        connect(&sender, &mut se, &from_sender, &mut fe).await;
        let (mut te, mut re) = (Events::of(&to_receiver), Events::of(&receiver));
        connect(&to_receiver, &mut te, &receiver, &mut re).await;
        let incoming = remote_track(&mut fe, MediaKind::Video).await;
        let out = remote_track(&mut re, MediaKind::Video).await;
        for (events, what) in [(&mut se, "sender"), (&mut te, "forwarder")] {
            unipeer_tests::wait_for(events, STEP, what, |e| {
                matches!(
                    e,
                    PeerEvent::ConnectionStateChange(unipeer::ConnectionState::Connected)
                )
            })
            .await;
        }
        assert!(matches!(
            forward.write_frame(vp8_keyframe(0), Duration::ZERO).await,
            Err(Error::TrackNotReady(_))
        ));

        for i in 0..30u8 {
            let frame = if i % 10 == 0 {
                vp8_keyframe(i)
            } else {
                vp8_interframe(i)
            };
            source
                .write_frame(frame, Duration::from_millis(33 * u64::from(i)))
                .await
                .unwrap();
            unipeer_tests::sleep(Duration::from_millis(1)).await;
        }
        // Forward every packet as it came, naming the codec (payload types are per session).
        let forwarded = within(STEP, "packets to forward", async {
            let mut n = 0;
            let mut markers = 0;
            while markers < 30 {
                let mut p = incoming.next_rtp().await.expect("packets");
                assert_eq!(p.codec, Some(Codec::Vp8));
                markers += usize::from(p.marker);
                p.payload_type = 0;
                forward.write_rtp(p).await.unwrap();
                n += 1;
            }
            n
        })
        .await;
        assert!(forwarded >= 30);
        let frames = within(STEP, "forwarded frames", async {
            let mut got = Vec::new();
            while got.len() < 30 {
                got.push(out.next_frame().await.expect("frames"));
            }
            got
        })
        .await;
        assert!(frames.iter().all(|f| f.codec == Codec::Vp8));
        assert_eq!(frames[0].data, vp8_keyframe(0));
        assert_eq!(frames[29].data, vp8_interframe(29));
        assert_eq!(frames.iter().filter(|f| f.keyframe).count(), 3);
        for p in [sender, from_sender, to_receiver, receiver] {
            p.close().await;
        }
    });
}
