//! The media example natively: stream files to every peer, or record what peers send.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use unipeer::media::file::{IvfWriter, OggOpusWriter};
use unipeer::{Codec, HostCandidates, MediaKind, Mesh, Track, TrackDirection, TrackInit};
use unipeer_examples::clip::{self, Clip};

use super::Task;

const USAGE: &str = "usage: media --url ws://HOST:PORT --room ROOM [--loopback] \
    (send --video FILE.ivf --audio FILE.ogg | record --dir DIR [--frames N])";

/// How long a track may take to be negotiated.
const NEGOTIATION: Duration = Duration::from_secs(30);

pub struct Args {
    pub url: String,
    pub room: String,
    loopback: bool,
    command: Command,
}

enum Command {
    Send { video: PathBuf, audio: PathBuf },
    Record { dir: PathBuf, frames: u64 },
}

impl Args {
    pub fn get() -> Result<Self, String> {
        let (mut url, mut room, mut loopback) = (None, None, false);
        let (mut command, mut video, mut audio, mut dir) = (None, None, None, None);
        let mut frames = 100;
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .ok_or_else(|| format!("{arg} needs a value; {USAGE}"))
            };
            match arg.as_str() {
                "--url" => url = Some(value()?),
                "--room" => room = Some(value()?),
                "--loopback" => loopback = true,
                "--video" => video = Some(PathBuf::from(value()?)),
                "--audio" => audio = Some(PathBuf::from(value()?)),
                "--dir" => dir = Some(PathBuf::from(value()?)),
                "--frames" => {
                    frames = value()?
                        .parse()
                        .map_err(|_| format!("--frames takes a number; {USAGE}"))?
                }
                "send" | "record" => command = Some(arg),
                other => return Err(format!("unknown argument `{other}`; {USAGE}")),
            }
        }
        let command = match command.as_deref() {
            Some("send") => Command::Send {
                video: video.ok_or(format!("send needs --video; {USAGE}"))?,
                audio: audio.ok_or(format!("send needs --audio; {USAGE}"))?,
            },
            Some(_) => Command::Record {
                dir: dir.ok_or(format!("record needs --dir; {USAGE}"))?,
                frames,
            },
            None => return Err(USAGE.into()),
        };
        Ok(Self {
            url: url.ok_or(USAGE)?,
            room: room.ok_or(USAGE)?,
            loopback,
            command,
        })
    }

    pub fn host_candidates(&self) -> HostCandidates {
        unipeer_examples::host_candidates(&self.url, self.loopback)
    }
}

/// What the node does with peers.
pub enum Mode {
    Send { video: PathBuf, audio: PathBuf },
    Record { dir: PathBuf, frames: u64 },
}

impl Mode {
    pub async fn start(args: &Args) -> Result<Mode, String> {
        Ok(match &args.command {
            Command::Send { video, audio } => {
                // Fail at once on a file that cannot be read, not when a peer comes.
                Clip::ivf(video)?;
                Clip::ogg_opus(audio)?;
                Mode::Send {
                    video: video.clone(),
                    audio: audio.clone(),
                }
            }
            Command::Record { dir, frames } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                Mode::Record {
                    dir: dir.clone(),
                    frames: *frames,
                }
            }
        })
    }

    /// Sending: a video and an audio track to each peer that connects.
    pub async fn connected(&mut self, mesh: &Mesh, peer: &str) -> Result<Option<Task>, String> {
        let Mode::Send { video, audio } = self else {
            return Ok(None);
        };
        let add = |kind, codec| TrackInit {
            codecs: vec![codec],
            ..TrackInit::new(kind, TrackDirection::SendOnly)
        };
        let v = mesh
            .add_track(peer, add(MediaKind::Video, Codec::Vp8))
            .await;
        let a = mesh
            .add_track(peer, add(MediaKind::Audio, Codec::Opus))
            .await;
        let (v, a) = (v.map_err(|e| e.to_string())?, a.map_err(|e| e.to_string())?);
        let (video, audio, peer) = (video.clone(), audio.clone(), peer.to_string());
        Ok(Some(
            async move { stream(&peer, v, a, &video, &audio).await }.boxed_local(),
        ))
    }

    /// Recording: each track a peer sends goes to a file.
    pub fn track(&mut self, peer: &str, track: Track) -> Option<Task> {
        let Mode::Record { dir, frames } = self else {
            return None;
        };
        let (dir, frames, peer) = (dir.clone(), *frames, peer.to_string());
        Some(async move { record(&peer, track, &dir, frames).await }.boxed_local())
    }

    /// The native node runs until killed.
    pub fn finished(&mut self) -> bool {
        false
    }

    /// Result lines are only printed.
    pub fn note(&mut self, _line: &str) {}
}

/// Streams both files to the peer in a loop, in real time, until its tracks end.
async fn stream(
    peer: &str,
    video: Track,
    audio: Track,
    video_path: &Path,
    audio_path: &Path,
) -> Result<String, String> {
    let (vc, ac) = (Clip::ivf(video_path)?, Clip::ogg_opus(audio_path)?);
    unipeer_examples::print_line(&format!("media: sending to {peer}"));
    let sent = clip::play(&[(&video, &vc), (&audio, &ac)], NEGOTIATION)
        .await
        .map_err(|e| format!("{peer}: {e}"))?;
    Ok(format!("media: sent {sent} video frames to {peer}"))
}

/// Records `track` to `DIR/PEER-video.ivf` or `DIR/PEER-audio.ogg` until `frames` video
/// frames (or 5 × `frames` audio packets) were written.
async fn record(peer: &str, track: Track, dir: &Path, frames: u64) -> Result<String, String> {
    let kind = track.kind();
    let path = dir.join(match kind {
        MediaKind::Video => format!("{peer}-video.ivf"),
        MediaKind::Audio => format!("{peer}-audio.ogg"),
    });
    let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let want = match kind {
        MediaKind::Video => frames,
        MediaKind::Audio => frames * 5,
    };
    let (mut written, mut keyframes) = (0u64, 0u64);
    let mut started = false;
    let mut sink = Sink::new(kind, file)?;
    while written < want {
        let Some(frame) = track.next_frame().await else {
            break;
        };
        // A recording starts at a keyframe (ask for one if the first frame is not).
        if !started && !frame.keyframe {
            let _ = track.request_keyframe().await;
            continue;
        }
        started = true;
        keyframes += u64::from(frame.keyframe && kind == MediaKind::Video);
        sink.write(&frame.data, frame.timestamp)?;
        written += 1;
    }
    sink.finish()?;
    Ok(match kind {
        MediaKind::Video => format!(
            "media: recorded video from {peer} frames={written} keyframes={keyframes} file={}",
            path.display()
        ),
        MediaKind::Audio => format!(
            "media: recorded audio from {peer} packets={written} file={}",
            path.display()
        ),
    })
}

/// An IVF or Ogg Opus file being written, with timestamps made relative to the first.
enum Sink {
    /// The IVF header needs the picture size: the writer is made at the first keyframe.
    Video(Option<File>, Option<IvfWriter<File>>, Option<Duration>),
    Audio(OggOpusWriter<File>, Option<Duration>),
}

impl Sink {
    fn new(kind: MediaKind, file: File) -> Result<Sink, String> {
        Ok(match kind {
            MediaKind::Video => Sink::Video(Some(file), None, None),
            MediaKind::Audio => {
                Sink::Audio(OggOpusWriter::new(file).map_err(|e| e.to_string())?, None)
            }
        })
    }

    fn write(&mut self, data: &[u8], at: Duration) -> Result<(), String> {
        let rel = |first: &mut Option<Duration>| at.saturating_sub(*first.get_or_insert(at));
        match self {
            Sink::Video(file, writer, first) => {
                if writer.is_none() {
                    let (w, h) =
                        vp8_size(data).ok_or("the first video frame is not a VP8 keyframe")?;
                    let file = file.take().ok_or("the IVF file is gone")?;
                    *writer =
                        Some(IvfWriter::new(file, Codec::Vp8, w, h).map_err(|e| e.to_string())?);
                }
                match writer {
                    Some(w) => w.write_frame(data, rel(first)),
                    None => return Err("no IVF writer".into()),
                }
            }
            Sink::Audio(w, first) => w.write_packet(data, rel(first)),
        }
        .map_err(|e| e.to_string())
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sink::Video(_, Some(w), _) => w.finish().map(|_| ()),
            Sink::Video(..) => Ok(()),
            Sink::Audio(w, _) => w.finish().map(|_| ()),
        }
        .map_err(|e| e.to_string())
    }
}

/// The picture size in a VP8 keyframe's header (RFC 6386 section 9.1).
fn vp8_size(frame: &[u8]) -> Option<(u16, u16)> {
    let keyframe = frame.first()? & 1 == 0;
    if !keyframe || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let le = |i: usize| Some(u16::from_le_bytes([*frame.get(i)?, *frame.get(i + 1)?]) & 0x3fff);
    Some((le(6)?, le(8)?))
}
