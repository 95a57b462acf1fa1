//! The demo's video: the native node plays a test clip to every peer (`--video FILE.ivf`),
//! a page sends its camera once the user asks (the camera button); pages show what peers
//! send, native nodes read it. Every track's figures go into the node's state.

#[cfg(not(target_arch = "wasm32"))]
use std::rc::Rc;
#[cfg(not(target_arch = "wasm32"))]
use std::time::Duration;

use futures::future::{FutureExt, LocalBoxFuture};
use futures::stream::FuturesUnordered;
use serde_json::{json, Value};
use unipeer::{MediaKind, Mesh, Track, TrackDirection, TrackInit, TrackStats};

/// What the user hands the node besides chat lines.
pub enum Input {
    Chat(String),
    /// The page's camera was switched on (`Some`) or off.
    #[cfg(target_arch = "wasm32")]
    Camera(Option<web_sys::MediaStreamTrack>),
}

/// What this node sends to every peer.
#[derive(Clone)]
pub enum Source {
    None,
    /// A clip, played in a loop.
    #[cfg(not(target_arch = "wasm32"))]
    Clip(Rc<unipeer_examples::clip::Clip>),
    /// The camera.
    #[cfg(target_arch = "wasm32")]
    Camera(web_sys::MediaStreamTrack),
}

/// How a page shows tracks (natively nothing is shown).
pub trait Screen {
    /// A peer's track arrived: show it under `key`.
    fn show(&self, key: &str, peer: &str, track: &Track);
    /// The track under `key` ended.
    fn hide(&self, key: &str);
}

/// Something a track's task finished.
pub enum Done {
    Ended(String),
    /// The clip could not be played.
    #[cfg(not(target_arch = "wasm32"))]
    Failed(String, String),
    /// The track's figures (`None`: it has none any more).
    Stats(String, Option<TrackStats>),
}

struct Entry {
    peer: String,
    track: Track,
    outgoing: bool,
    stats: TrackStats,
}

pub struct Media {
    source: Source,
    tracks: std::collections::BTreeMap<String, Entry>,
    next_key: u64,
    /// Per track: playing or reading it, waiting for its end, fetching its figures.
    pub tasks: FuturesUnordered<LocalBoxFuture<'static, Done>>,
}

impl Media {
    pub fn new(source: Source) -> Self {
        Self {
            source,
            tracks: Default::default(),
            next_key: 0,
            tasks: FuturesUnordered::new(),
        }
    }

    /// A new link: send it what this node sends.
    pub async fn connected(&mut self, mesh: &Mesh, peer: &str) -> Result<(), String> {
        if matches!(self.source, Source::None) {
            return Ok(());
        }
        let init = TrackInit::new(MediaKind::Video, TrackDirection::SendOnly);
        let track = mesh
            .add_track(peer, init)
            .await
            .map_err(|e| format!("adding a video track for {peer}: {e}"))?;
        let key = self.key();
        let task = match &self.source {
            Source::None => return Ok(()),
            #[cfg(not(target_arch = "wasm32"))]
            Source::Clip(clip) => play(key.clone(), track.clone(), clip.clone()),
            #[cfg(target_arch = "wasm32")]
            Source::Camera(camera) => {
                track
                    .set_source(Some(camera))
                    .await
                    .map_err(|e| format!("sending the camera to {peer}: {e}"))?;
                ended(key.clone(), track.clone())
            }
        };
        self.tasks.push(task);
        self.insert(key, peer, track, true);
        Ok(())
    }

    /// A peer's track: show it (page) or read it (native) until it ends.
    pub fn remote_track(&mut self, peer: &str, track: Track, screen: &impl Screen) {
        let key = self.key();
        screen.show(&key, peer, &track);
        #[cfg(not(target_arch = "wasm32"))]
        self.tasks.push(read(key.clone(), track.clone()));
        #[cfg(target_arch = "wasm32")]
        self.tasks.push(ended(key.clone(), track.clone()));
        self.insert(key, peer, track, false);
    }

    /// The camera went on or off: send it to every peer, or stop sending.
    #[cfg(target_arch = "wasm32")]
    pub async fn set_camera(
        &mut self,
        mesh: &Mesh,
        camera: Option<web_sys::MediaStreamTrack>,
    ) -> Result<(), String> {
        for entry in self.tracks.values().filter(|e| e.outgoing) {
            // Stopping renegotiates; the track's task then reports its end.
            entry.track.stop().await.map_err(|e| e.to_string())?;
        }
        self.source = match camera {
            Some(camera) => Source::Camera(camera),
            None => Source::None,
        };
        for peer in mesh.peers() {
            self.connected(mesh, &peer).await?;
        }
        Ok(())
    }

    /// Forgets every track (the node leaves the room; its links close).
    pub fn clear(&mut self, screen: &impl Screen) {
        for key in self.tracks.keys() {
            screen.hide(key);
        }
        self.tracks.clear();
        self.tasks = FuturesUnordered::new();
    }

    /// A link went away: its tracks with it.
    pub fn disconnected(&mut self, peer: &str, screen: &impl Screen) {
        let gone: Vec<String> = self
            .tracks
            .iter()
            .filter(|(_, e)| e.peer == peer)
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.tracks.remove(&key);
            screen.hide(&key);
        }
    }

    /// Fetches every track's figures (they come back as `Done::Stats`).
    pub fn refresh(&mut self) {
        for (key, entry) in &self.tracks {
            let (key, track) = (key.clone(), entry.track.clone());
            self.tasks
                .push(async move { Done::Stats(key, track.stats().await.ok()) }.boxed_local());
        }
    }

    /// Takes in what a task finished; a line for the user when there is one.
    pub fn done(&mut self, done: Done, screen: &impl Screen) -> Option<String> {
        match done {
            Done::Stats(key, stats) => {
                if let (Some(entry), Some(stats)) = (self.tracks.get_mut(&key), stats) {
                    entry.stats = stats;
                }
                None
            }
            Done::Ended(key) => {
                screen.hide(&key);
                let entry = self.tracks.remove(&key)?;
                Some(format!("video {} {} ended", direction(&entry), entry.peer))
            }
            #[cfg(not(target_arch = "wasm32"))]
            Done::Failed(key, e) => {
                let entry = self.tracks.get(&key)?;
                Some(format!("video {} {}: {e}", direction(entry), entry.peer))
            }
        }
    }

    /// Every live track: its peer, kind, direction and figures.
    pub fn json(&self) -> Value {
        self.tracks
            .iter()
            .map(|(key, e)| {
                let s = &e.stats;
                let (frames, bytes, packets) = if e.outgoing {
                    (s.frames_sent, s.bytes_sent, s.packets_sent)
                } else {
                    (s.frames_received, s.bytes_received, s.packets_received)
                };
                json!({
                    "key": key, "peer": e.peer, "kind": kind(e.track.kind()),
                    "dir": if e.outgoing { "out" } else { "in" },
                    "frames": frames, "bytes": bytes, "packets": packets,
                    "keyframes": s.keyframes_received,
                    "rtt_ms": s.rtt.map(|r| r.as_secs_f64() * 1e3),
                })
            })
            .collect()
    }

    fn key(&mut self) -> String {
        self.next_key += 1;
        format!("t{}", self.next_key)
    }

    fn insert(&mut self, key: String, peer: &str, track: Track, outgoing: bool) {
        let entry = Entry {
            peer: peer.to_string(),
            track,
            outgoing,
            stats: TrackStats::default(),
        };
        self.tracks.insert(key, entry);
    }
}

fn direction(entry: &Entry) -> &'static str {
    if entry.outgoing {
        "to"
    } else {
        "from"
    }
}

/// `audio` or `video`.
pub fn kind(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    }
}

/// How long a new track may take to be negotiated before the clip gives up.
#[cfg(not(target_arch = "wasm32"))]
const NEGOTIATION: Duration = Duration::from_secs(30);

/// Plays the clip on the track until it ends.
#[cfg(not(target_arch = "wasm32"))]
fn play(
    key: String,
    track: Track,
    clip: Rc<unipeer_examples::clip::Clip>,
) -> LocalBoxFuture<'static, Done> {
    async move {
        match unipeer_examples::clip::play(&[(&track, &clip)], NEGOTIATION).await {
            Ok(_) => Done::Ended(key),
            Err(e) => Done::Failed(key, e),
        }
    }
    .boxed_local()
}

/// Reads the track's frames until it ends: a native node only counts them (its figures).
#[cfg(not(target_arch = "wasm32"))]
fn read(key: String, track: Track) -> LocalBoxFuture<'static, Done> {
    async move {
        while track.next_frame().await.is_some() {}
        Done::Ended(key)
    }
    .boxed_local()
}

/// Waits for the end of a track the browser plays or sends by itself.
#[cfg(target_arch = "wasm32")]
fn ended(key: String, track: Track) -> LocalBoxFuture<'static, Done> {
    async move {
        track.wait_ended().await;
        Done::Ended(key)
    }
    .boxed_local()
}
