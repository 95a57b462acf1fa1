//! The media example in the page: play what peers send, or send the camera and microphone.

use std::time::Duration;

use futures::FutureExt;
use unipeer::{HostCandidates, MediaKind, Mesh, Track, TrackDirection, TrackInit};
use unipeer_examples::page_arg;
use wasm_bindgen::JsCast;

use super::Task;

/// How long a result may take.
const LIMIT: Duration = Duration::from_secs(90);

pub struct Args {
    pub url: String,
    pub room: String,
    watch: bool,
    echo: bool,
    frames: u64,
}

impl Args {
    /// `?url=URL&room=ROOM&mode=watch|camera[&echo=1][&frames=N]` in the page's address.
    pub fn get() -> Result<Self, String> {
        let (url, room, mode) = (page_arg("url"), page_arg("room"), page_arg("mode"));
        if url.is_empty() || room.is_empty() || !["watch", "camera"].contains(&mode.as_str()) {
            return Err(
                "open the page with ?url=ws://HOST:PORT&room=ROOM&mode=watch|camera".into(),
            );
        }
        Ok(Self {
            url,
            room,
            watch: mode == "watch",
            echo: page_arg("echo") == "1",
            frames: page_arg("frames").parse().unwrap_or(50),
        })
    }

    /// The browser gathers its own candidates.
    pub fn host_candidates(&self) -> HostCandidates {
        HostCandidates::default()
    }
}

pub struct Mode {
    watch: bool,
    echo: bool,
    frames: u64,
    camera: Option<web_sys::MediaStream>,
    /// Results so far: video and audio seen (watch), or sent and echoed (camera).
    video_done: bool,
    audio_done: bool,
}

impl Mode {
    pub async fn start(args: &Args) -> Result<Mode, String> {
        let camera = if args.watch {
            None
        } else {
            Some(open_camera().await?)
        };
        Ok(Mode {
            watch: args.watch,
            echo: args.echo,
            frames: args.frames,
            camera,
            video_done: false,
            audio_done: false,
        })
    }

    /// Sending the camera: a video and an audio track to each peer that connects.
    pub async fn connected(&mut self, mesh: &Mesh, peer: &str) -> Result<Option<Task>, String> {
        let Some(camera) = &self.camera else {
            return Ok(None);
        };
        let mut tracks = Vec::new();
        for kind in [MediaKind::Video, MediaKind::Audio] {
            let source = match kind {
                MediaKind::Video => camera.get_video_tracks().get(0),
                MediaKind::Audio => camera.get_audio_tracks().get(0),
            };
            let source: web_sys::MediaStreamTrack = source
                .dyn_into()
                .map_err(|_| format!("the camera has no {} track", kind.as_str()))?;
            let track = mesh
                .add_track(peer, TrackInit::new(kind, TrackDirection::SendRecv))
                .await
                .map_err(|e| e.to_string())?;
            track
                .set_source(Some(&source))
                .await
                .map_err(|e| e.to_string())?;
            tracks.push(track);
        }
        let (peer, frames, echo) = (peer.to_string(), self.frames, self.echo);
        Ok(Some(
            async move { sent(&peer, &tracks[0], frames, echo).await }.boxed_local(),
        ))
    }

    /// Watching: each track a peer sends plays in an element until enough arrived.
    pub fn track(&mut self, peer: &str, track: Track) -> Option<Task> {
        if !self.watch {
            return None;
        }
        let (peer, frames) = (peer.to_string(), self.frames);
        Some(async move { watch(&peer, track, frames).await }.boxed_local())
    }

    /// Finished once every result the page waits for came.
    pub fn finished(&mut self) -> bool {
        self.video_done && (self.audio_done || !self.watch)
    }

    /// Notes a result line (the tasks' lines say what they proved).
    pub fn note(&mut self, line: &str) {
        if line.contains(" video ") {
            self.video_done = true;
        }
        if line.contains(" audio ") {
            self.audio_done = true;
        }
    }
}

/// The fake (or real) camera and microphone.
async fn open_camera() -> Result<web_sys::MediaStream, String> {
    let window = web_sys::window().ok_or("no window")?;
    let devices = window
        .navigator()
        .media_devices()
        .map_err(|_| "no media devices (is the page served from http://127.0.0.1?)")?;
    let constraints = web_sys::MediaStreamConstraints::new();
    constraints.set_video(&true.into());
    constraints.set_audio(&true.into());
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| format!("getUserMedia: {e:?}"))?;
    let stream = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|e| format!("getUserMedia refused: {e:?}"))?;
    stream
        .dyn_into()
        .map_err(|_| "getUserMedia gave no MediaStream".into())
}

/// Plays `track` in a new element and waits until `frames` video frames were decoded (or
/// as many audio packets arrived).
async fn watch(peer: &str, track: Track, frames: u64) -> Result<String, String> {
    let stream = track.remote_stream().ok_or("the track receives nothing")?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let tag = match track.kind() {
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
    };
    let element: web_sys::HtmlMediaElement = document
        .create_element(tag)
        .map_err(|_| "no media element")?
        .dyn_into()
        .map_err(|_| "not a media element")?;
    element.set_autoplay(true);
    element.set_muted(true);
    element.set_src_object(Some(&stream));
    if let Some(body) = document.body() {
        let _ = body.append_child(&element);
    }
    let stats = wait_stats(&track, |s| match track.kind() {
        MediaKind::Video => s.frames_received >= frames,
        MediaKind::Audio => s.packets_received >= frames,
    })
    .await?;
    Ok(match track.kind() {
        MediaKind::Video => format!(
            "media: watched video from {peer} frames_decoded={} keyframes={}",
            stats.frames_received, stats.keyframes_received
        ),
        MediaKind::Audio => format!(
            "media: watched audio from {peer} packets={}",
            stats.packets_received
        ),
    })
}

/// Waits until the camera's video went out (and, with `echo`, came back decoded).
async fn sent(peer: &str, video: &Track, frames: u64, echo: bool) -> Result<String, String> {
    let s = wait_stats(video, |s| s.frames_sent >= frames).await?;
    let mut line = format!("media: sent video to {peer} frames={}", s.frames_sent);
    if echo {
        let s = wait_stats(video, |s| s.frames_received >= frames).await?;
        line += &format!(" echoed frames_decoded={}", s.frames_received);
    }
    Ok(line)
}

/// Polls the track's statistics until `done` holds, within [`LIMIT`].
async fn wait_stats(
    track: &Track,
    done: impl Fn(&unipeer::TrackStats) -> bool,
) -> Result<unipeer::TrackStats, String> {
    let step = Duration::from_millis(250);
    let mut last = None;
    for _ in 0..(LIMIT.as_millis() / step.as_millis()) {
        let s = track.stats().await.map_err(|e| e.to_string())?;
        if done(&s) {
            return Ok(s);
        }
        last = Some(s);
        futures_timer::Delay::new(step).await;
    }
    Err(format!("timed out; last statistics {last:?}"))
}
