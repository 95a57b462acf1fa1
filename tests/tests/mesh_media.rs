//! Media through the mesh natively: a track added to a connected link renegotiates by
//! itself (perfect negotiation), frames go back on the remote's side of the same track,
//! and a track added from the other side renegotiates the other way.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use futures::executor::block_on;
use unipeer::{Codec, MediaKind, Track, TrackDirection, TrackInit};
use unipeer_server::{spawn_in_thread, ServerConfig};
use unipeer_tests::mesh::{drive_for, drive_until, full_mesh, key_of, logs, mesh_config, Node};
use unipeer_tests::within;

fn frame(n: u8, key: bool) -> Vec<u8> {
    let mut f = if key {
        vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]
    } else {
        vec![0x11, 0x02, 0x00]
    };
    f.extend(std::iter::repeat_n(n, 500));
    f
}

/// Polls the meshes until `done` holds: for conditions no mesh event announces (such as
/// an answer accepted inside a link).
async fn settle(nodes: &mut [Node], what: &str, done: impl Fn(&[Node]) -> bool) {
    for _ in 0..400 {
        if done(nodes) {
            return;
        }
        drive_for(nodes, Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}\n{}", logs(nodes));
}

/// Writes 30 frames on `to` and reads them on `from`, which must get at least 25.
async fn send_and_receive(to: &Track, from: &Track) -> usize {
    for i in 0..30u8 {
        to.write_frame(frame(i, i == 0), Duration::from_millis(33 * u64::from(i)))
            .await
            .expect("a frame write");
        unipeer_tests::sleep(Duration::from_millis(2)).await;
    }
    within(Duration::from_secs(20), "frames", async {
        let mut n = 0;
        while n < 25 {
            from.next_frame().await.expect("the track ended");
            n += 1;
        }
        n
    })
    .await
}

#[test]
fn tracks_added_mid_call_renegotiate_through_the_mesh_both_ways() {
    block_on(within(Duration::from_secs(150), "the whole test", async {
        let server = spawn_in_thread(ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        })
        .expect("server");
        let url = server.url();
        let mut nodes = vec![
            Node::join("a", &url, "media", mesh_config()).await,
            Node::join("b", &url, "media", mesh_config()).await,
        ];
        drive_until(&mut nodes, "the link", full_mesh).await;
        let b_key = key_of(&nodes[0], &nodes[1]).unwrap();
        let a_key = key_of(&nodes[1], &nodes[0]).unwrap();

        // A adds a video track that also receives: B gets it and sends frames back on it.
        let video = nodes[0]
            .mesh
            .add_track(
                &b_key,
                TrackInit {
                    codecs: vec![Codec::Vp8],
                    ..TrackInit::new(MediaKind::Video, TrackDirection::SendRecv)
                },
            )
            .await
            .unwrap();
        settle(&mut nodes, "b to get the track", |n| {
            !n[1].tracks.is_empty() && video.send_codec().is_some()
        })
        .await;
        let (from, b_video) = nodes[1].tracks[0].clone();
        assert_eq!(from, a_key);
        assert_eq!(b_video.kind(), MediaKind::Video);
        assert_eq!(b_video.mid(), video.mid());
        assert_eq!(send_and_receive(&video, &b_video).await, 25);
        assert_eq!(send_and_receive(&b_video, &video).await, 25);

        // B adds an audio track towards A (B offers this time).
        let audio = nodes[1]
            .mesh
            .add_track(
                &a_key,
                TrackInit::new(MediaKind::Audio, TrackDirection::SendOnly),
            )
            .await
            .unwrap();
        settle(&mut nodes, "a to get the audio track", |n| {
            !n[0].tracks.is_empty() && audio.send_codec().is_some()
        })
        .await;
        let a_audio = nodes[0].tracks[0].1.clone();
        assert_eq!(a_audio.direction(), TrackDirection::RecvOnly);
        assert_eq!(send_and_receive(&audio, &a_audio).await, 25);

        // The data channels still work after both renegotiations.
        unipeer_tests::mesh::exchange(&nodes, "after media").await;
        for n in nodes {
            n.mesh.leave().await;
        }
    }));
}
