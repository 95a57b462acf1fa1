//! Media flow between two browser peers of one page: what a browser track carries is a
//! `MediaStreamTrack` (here a canvas capture), so this part is browser-only; the shared
//! track semantics are in `src/media`.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures::future::{select, Either};
use unipeer::{
    Codec, DataChannelInit, Error, MediaKind, Message, Peer, Track, TrackDirection, TrackInit,
    TrackState, TrackStats,
};
use unipeer_tests::media::{negotiation_needed, remote_track, renegotiate};
use unipeer_tests::{connect, loopback, next_channel, sleep, within, Events, STEP};
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, MediaStreamTrack};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// A canvas in the page and its context.
fn canvas() -> (HtmlCanvasElement, CanvasRenderingContext2d) {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect("a document");
    let canvas: HtmlCanvasElement = document
        .create_element("canvas")
        .expect("a canvas")
        .dyn_into()
        .expect("an HTMLCanvasElement");
    canvas.set_width(320);
    canvas.set_height(240);
    // In the page, so Chromium paints it (and its capture sees the frames).
    if let Some(body) = document.body() {
        body.append_child(&canvas).expect("canvas in the page");
    }
    let context = canvas
        .get_context("2d")
        .expect("getContext")
        .expect("a 2d context")
        .dyn_into()
        .expect("a CanvasRenderingContext2d");
    (canvas, context)
}

/// The canvas's capture track at 30 frames per second.
fn capture(canvas: &HtmlCanvasElement) -> MediaStreamTrack {
    canvas
        .capture_stream_with_frame_request_rate(30.0)
        .expect("captureStream")
        .get_video_tracks()
        .get(0)
        .dyn_into()
        .expect("a video track")
}

/// Paints a changing picture `frames` times, about 30 times a second (a capture only
/// produces frames when the canvas changes).
async fn paint(context: &CanvasRenderingContext2d, frames: u32) {
    for i in 0..frames {
        context.set_fill_style_str(&format!("hsl({} 80% 50%)", (i * 7) % 360));
        context.fill_rect(0.0, 0.0, 320.0, 240.0);
        context.set_fill_style_str("white");
        context.fill_rect(f64::from(i % 300), 100.0, 20.0, 40.0);
        sleep(Duration::from_millis(33)).await;
    }
}

/// `track`'s statistics until `done` holds for them (polled every 250 ms, at most `polls`
/// times).
async fn stats_until(track: &Track, polls: u32, done: impl Fn(&TrackStats) -> bool) -> TrackStats {
    let mut last = TrackStats::default();
    for _ in 0..polls {
        last = track.stats().await.expect("stats");
        if done(&last) {
            return last;
        }
        sleep(Duration::from_millis(250)).await;
    }
    panic!("statistics never got there: {last:?}");
}

/// A canvas capture sent with `set_source` reaches the other peer: its statistics count
/// more than 10 decoded frames and its `remote_track()` is a live video track; the sender
/// counts what it sent; the remote track ends when the sender's peer closes. A media-only
/// session (no data channel), so the remote's close is seen on the media transport.
#[wasm_bindgen_test::wasm_bindgen_test]
async fn canvas_capture_reaches_the_remote() {
    within(Duration::from_secs(90), "the whole test", async {
        let a = Peer::new(loopback()).unwrap();
        let b = Peer::new(loopback()).unwrap();
        let video = a
            .add_track(TrackInit {
                codecs: vec![Codec::Vp8],
                ..TrackInit::new(MediaKind::Video, TrackDirection::SendOnly)
            })
            .await
            .unwrap();
        let (canvas, context) = canvas();
        let source = capture(&canvas);
        video.set_source(Some(&source)).await.unwrap();

        let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
        connect(&a, &mut ae, &b, &mut be).await;
        let remote = remote_track(&mut be, MediaKind::Video).await;
        assert_eq!(remote.direction(), TrackDirection::RecvOnly);
        assert_eq!(video.send_codec(), Some(Codec::Vp8));

        // At most 30 s of painting; the statistics are polled meanwhile.
        let painting = std::pin::pin!(paint(&context, 900));
        let received = std::pin::pin!(stats_until(&remote, 120, |s| s.frames_received > 10));
        let received = match select(painting, received).await {
            Either::Right((stats, _)) => stats,
            Either::Left(((), _)) => panic!("30 s of painting and fewer than 11 frames decoded"),
        };
        assert!(received.packets_received > 0 && received.bytes_received > 0);
        assert!(received.keyframes_received >= 1, "{received:?}");
        let sent = video.stats().await.unwrap();
        assert!(
            sent.frames_sent > 0 && sent.packets_sent > 0 && sent.bytes_sent > 0,
            "{sent:?}"
        );

        let track = remote
            .remote_track()
            .expect("a receiving track has a remote track");
        assert_eq!(track.kind(), "video");
        assert_eq!(track.ready_state(), web_sys::MediaStreamTrackState::Live);
        assert_eq!(remote.state(), TrackState::Live);
        let stream = remote
            .remote_stream()
            .expect("a stream for the remote track");
        let again = remote.remote_stream().expect("the stream again");
        assert!(*stream == *again, "the same stream each time");
        assert_eq!(stream.get_video_tracks().length(), 1);
        assert!(
            video.remote_track().is_none(),
            "a send-only track receives nothing"
        );

        video.set_source(None).await.expect("sending nothing");
        a.close().await;
        assert_eq!(video.state(), TrackState::Ended);
        within(STEP, "the remote track's end", remote.wait_ended()).await;
        canvas.remove();
        source.stop();
    })
    .await
}

/// A source must match the track's kind and be live.
#[wasm_bindgen_test::wasm_bindgen_test]
async fn sources_must_match_the_track() {
    let a = Peer::new(loopback()).unwrap();
    let audio = a
        .add_track(TrackInit::new(MediaKind::Audio, TrackDirection::SendRecv))
        .await
        .unwrap();
    let video = a
        .add_track(TrackInit::new(MediaKind::Video, TrackDirection::SendRecv))
        .await
        .unwrap();
    let (canvas, _context) = canvas();
    let source = capture(&canvas);
    assert!(matches!(
        audio.set_source(Some(&source)).await,
        Err(Error::InvalidTrackInit(_))
    ));
    video
        .set_source(Some(&source))
        .await
        .expect("a video source before negotiation");
    source.stop();
    assert!(matches!(
        video.set_source(Some(&source)).await,
        Err(Error::InvalidTrackInit(_))
    ));
    video.stop().await.unwrap();
    assert_eq!(video.set_source(None).await, Err(Error::TrackEnded));
    canvas.remove();
    a.close().await;
}

/// A session that started with media only has no data section: its first data channel
/// needs a new offer, and the browser asks for it (`NegotiationNeeded`); the channel then
/// opens and carries messages.
#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_media_only_session_renegotiates_for_its_first_channel() {
    let a = Peer::new(loopback()).unwrap();
    let b = Peer::new(loopback()).unwrap();
    let _audio = a
        .add_track(TrackInit::new(MediaKind::Audio, TrackDirection::SendRecv))
        .await
        .unwrap();
    let (mut ae, mut be) = (Events::of(&a), Events::of(&b));
    connect(&a, &mut ae, &b, &mut be).await;
    let remote = remote_track(&mut be, MediaKind::Audio).await;
    let chat = a
        .create_data_channel("late", DataChannelInit::default())
        .await
        .unwrap();
    negotiation_needed(&mut ae).await;
    renegotiate(&a, &b).await;
    let remote_chat = next_channel(&mut be).await;
    within(STEP, "the channel to open", chat.wait_open())
        .await
        .unwrap();
    chat.send_text("hello").await.unwrap();
    assert_eq!(
        within(STEP, "a message", remote_chat.recv()).await,
        Some(Message::Text("hello".into()))
    );
    a.close().await;
    within(STEP, "the remote track's end", remote.wait_ended()).await;
}
