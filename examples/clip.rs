//! Encoded clips played on tracks in real time: what the `media` and `demo` examples send.
//! There is no encoder here: the frames go out as the file holds them.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::{self, FutureExt, LocalBoxFuture};
use unipeer::media::file::{IvfReader, OggOpusReader};
use unipeer::{Error, MediaKind, Track};

/// The frames of a file, in memory, with their timestamps from the file's start.
pub struct Clip {
    frames: Vec<(Duration, Vec<u8>)>,
    /// From the first frame to the end of the last one.
    length: Duration,
}

impl Clip {
    /// A VP8, VP9 or AV1 IVF file. It must start with a keyframe: a keyframe request is
    /// answered by playing the clip again from its start.
    pub fn ivf(path: &Path) -> Result<Clip, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut reader = IvfReader::new(BufReader::new(file)).map_err(|e| e.to_string())?;
        let mut frames = Vec::new();
        let mut starts_with_keyframe = None;
        while let Some(f) = reader.next_frame().map_err(|e| e.to_string())? {
            starts_with_keyframe.get_or_insert(f.keyframe);
            frames.push((f.timestamp, f.data));
        }
        if starts_with_keyframe != Some(true) {
            return Err(format!("{} does not start with a keyframe", path.display()));
        }
        Ok(Clip::new(frames))
    }

    /// An Ogg Opus file.
    pub fn ogg_opus(path: &Path) -> Result<Clip, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut reader = OggOpusReader::new(BufReader::new(file)).map_err(|e| e.to_string())?;
        let mut packets = Vec::new();
        while let Some(p) = reader.next_packet().map_err(|e| e.to_string())? {
            packets.push((p.timestamp, p.data));
        }
        if packets.is_empty() {
            return Err(format!("{} holds no audio", path.display()));
        }
        Ok(Clip::new(packets))
    }

    fn new(frames: Vec<(Duration, Vec<u8>)>) -> Clip {
        let last = frames.last().map_or(Duration::ZERO, |f| f.0);
        // The last frame lasts as long as the average one.
        let gaps = u32::try_from(frames.len().saturating_sub(1)).unwrap_or(u32::MAX);
        let last_frame = if gaps == 0 {
            Duration::from_millis(20)
        } else {
            last / gaps
        };
        Clip {
            frames,
            length: last + last_frame,
        }
    }
}

/// Plays each clip on its track, together, in a loop and in real time, until a track
/// ends: then it returns how many video frames it wrote. It first waits (up to
/// `negotiation`) until every track can send. A keyframe request on a video track starts
/// every clip again from its start, the one keyframe at hand.
pub async fn play(tracks: &[(&Track, &Clip)], negotiation: Duration) -> Result<u64, String> {
    let started = Instant::now();
    while tracks.iter().any(|(t, _)| t.send_codec().is_none()) {
        if tracks
            .iter()
            .any(|(t, _)| t.state() == unipeer::TrackState::Ended)
        {
            return Ok(0);
        }
        if started.elapsed() > negotiation {
            return Err("the tracks were not negotiated in time".into());
        }
        futures_timer::Delay::new(Duration::from_millis(20)).await;
    }
    let length = tracks
        .iter()
        .map(|(_, c)| c.length)
        .max()
        .unwrap_or_default();
    let mut video_frames = 0u64;
    for round in 0u32.. {
        let base = length * round;
        let start = Instant::now();
        let mut next = vec![0usize; tracks.len()];
        // Whichever clip's next frame comes first in media time, until all are played.
        while let Some(i) = (0..tracks.len())
            .filter(|&i| next[i] < tracks[i].1.frames.len())
            .min_by_key(|&i| tracks[i].1.frames[next[i]].0)
        {
            let (track, clip) = tracks[i];
            let (at, data) = &clip.frames[next[i]];
            next[i] += 1;
            if let Some(wait) = at.checked_sub(start.elapsed()) {
                match keyframe_request_or(tracks, wait).await {
                    Wait::Elapsed => {}
                    Wait::KeyframeRequested => break,
                    Wait::Ended => return Ok(video_frames),
                }
            }
            match track.write_frame(data.clone(), base + *at).await {
                Ok(()) => video_frames += u64::from(track.kind() == MediaKind::Video),
                Err(Error::TrackEnded | Error::PeerClosed) => return Ok(video_frames),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(video_frames)
}

enum Wait {
    Elapsed,
    KeyframeRequested,
    /// A video track ended.
    Ended,
}

/// Waits `wait`, or less if a video track's remote asks for a keyframe or the track ends.
async fn keyframe_request_or(tracks: &[(&Track, &Clip)], wait: Duration) -> Wait {
    let mut waits: Vec<LocalBoxFuture<'_, Wait>> = vec![futures_timer::Delay::new(wait)
        .map(|()| Wait::Elapsed)
        .boxed_local()];
    for (track, _) in tracks.iter().filter(|(t, _)| t.kind() == MediaKind::Video) {
        waits.push(
            track
                .next_keyframe_request()
                .map(|r| match r {
                    Some(_) => Wait::KeyframeRequested,
                    None => Wait::Ended,
                })
                .boxed_local(),
        );
    }
    future::select_all(waits).await.0
}
