//! The media interop scenarios (see `interop.rs` for how scenarios run): the `media`
//! example natively and as a page in headless Chromium (fake camera and microphone), and
//! the `media_echo` node.
//!
//! - `media-to-browser`: the native node streams the VP8 and Opus test clips
//!   (`tests/media/`) to the page, which decodes at least 50 video frames and receives at
//!   least 50 audio packets.
//! - `media-from-browser`: the page sends Chromium's fake camera and microphone; the
//!   native node records 60 video frames (starting at a keyframe) and 300 audio packets
//!   to IVF and Ogg files, which ffprobe reads as VP8 and Opus with those counts.
//! - `media-echo`: the page sends its camera to `media_echo` and decodes at least 50
//!   frames of it coming back on the same track.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cmd;
use crate::interop::field;
use crate::web;
use crate::webapp::{query, Nodes, Signaling};

/// Video frames the recorder keeps.
const RECORDED_FRAMES: u64 = 60;

/// The signaling server, the node logs and a native node started with `args`; returns the
/// node's peer id once it is ready.
fn start_native(
    logs: &Path,
    bin: &Path,
    program: &str,
    room: &str,
    args: &[&str],
) -> Result<(Signaling, Nodes, String)> {
    let signaling = Signaling::start()?;
    let mut nodes = Nodes::new(logs)?;
    let mut native = Command::new(bin.join(program));
    native
        .args(["--url", &signaling.url, "--room", room, "--loopback"])
        .args(args);
    nodes.native("native", &mut native)?;
    let ready = format!("{program}: ready peer_id=");
    let id = nodes.wait_for("the native node", Duration::from_secs(20), |n| {
        Ok(n.line_starting("native", &ready)
            .and_then(|l| field(l, "peer_id=")))
    })?;
    Ok((signaling, nodes, id))
}

/// Runs the page with these parameters; returns what it printed (it must print `done`).
fn page(page: &Path, signaling: &Signaling, room: &str, params: &[(&str, &str)]) -> Result<String> {
    let mut all = vec![("url", signaling.url.clone()), ("room", room.to_string())];
    all.extend(params.iter().map(|(k, v)| (*k, v.to_string())));
    web::check_in_chromium(page, &format!("?{}", query(&all)))
}

/// The number in `key=N` of the first printed line starting with `prefix`.
fn number(printed: &str, prefix: &str, key: &str) -> Result<u64> {
    printed
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| field(l, key))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no `{prefix}` line with {key}; printed:\n{printed}"))
}

pub fn to_browser(bin: &Path, web: &Path, logs: &Path) -> Result<String> {
    let room = "interop-media-to-browser";
    let clips = cmd::root().join("tests").join("media");
    let (video, audio) = (clips.join("vp8.ivf"), clips.join("opus.ogg"));
    let args = [
        "send",
        "--video",
        &video.to_string_lossy(),
        "--audio",
        &audio.to_string_lossy(),
    ]
    .map(str::to_string);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (signaling, _nodes, native) = start_native(logs, bin, "media", room, &args)?;
    let printed = page(
        web,
        &signaling,
        room,
        &[("mode", "watch"), ("frames", "50")],
    )?;
    let decoded = number(&printed, "media: watched video", "frames_decoded=")?;
    let packets = number(&printed, "media: watched audio", "packets=")?;
    if decoded < 50 || packets < 50 {
        bail!("too little media arrived: {decoded} frames decoded, {packets} audio packets");
    }
    Ok(format!(
        "Chromium decoded {decoded} VP8 frames and got {packets} Opus packets from native {native}"
    ))
}

pub fn from_browser(bin: &Path, web: &Path, logs: &Path) -> Result<String> {
    let room = "interop-media-from-browser";
    let dir = logs.join("recorded");
    let frames = RECORDED_FRAMES.to_string();
    let dir_arg = dir.to_string_lossy().to_string();
    let args = ["record", "--dir", &dir_arg, "--frames", &frames];
    let (signaling, mut nodes, native) = start_native(logs, bin, "media", room, &args)?;
    // The page sends for longer than the recorder needs (30 frames per second).
    page(
        web,
        &signaling,
        room,
        &[("mode", "camera"), ("frames", "150")],
    )?;
    let lines = nodes.wait_for("the recordings", Duration::from_secs(30), |n| {
        let video = n
            .line_starting("native", "media: recorded video")
            .map(str::to_string);
        let audio = n
            .line_starting("native", "media: recorded audio")
            .map(str::to_string);
        Ok(video.zip(audio))
    })?;
    let (video, audio) = lines;
    let recorded = |line: &str, key: &str| -> Result<u64> {
        field(line, key)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {key} in `{line}`"))
    };
    let (frames, keyframes) = (
        recorded(&video, "frames=")?,
        recorded(&video, "keyframes=")?,
    );
    let packets = recorded(&audio, "packets=")?;
    if frames != RECORDED_FRAMES || keyframes == 0 || packets != RECORDED_FRAMES * 5 {
        bail!("the recordings are short: `{video}`, `{audio}`");
    }
    let video_file = field(&video, "file=").context("no video file")?;
    let audio_file = field(&audio, "file=").context("no audio file")?;
    let probed_video = probe(Path::new(&video_file), "vp8")?;
    let probed_audio = probe(Path::new(&audio_file), "opus")?;
    if probed_video != frames || probed_audio != packets {
        bail!(
            "ffprobe counts {probed_video} video frames and {probed_audio} audio packets, \
             the recorder wrote {frames} and {packets}"
        );
    }
    Ok(format!(
        "native {native} recorded {frames} VP8 frames ({keyframes} keyframes) and {packets} \
         Opus packets from Chromium; ffprobe reads both files"
    ))
}

pub fn echo(bin: &Path, web: &Path, logs: &Path) -> Result<String> {
    let room = "interop-media-echo";
    let (signaling, _nodes, native) = start_native(logs, bin, "media_echo", room, &[])?;
    let printed = page(
        web,
        &signaling,
        room,
        &[("mode", "camera"), ("echo", "1"), ("frames", "50")],
    )?;
    let echoed = number(&printed, "media: sent video", "frames_decoded=")?;
    Ok(format!(
        "Chromium's camera came back from media_echo {native}: {echoed} frames decoded"
    ))
}

/// ffprobe's codec check and packet count of the one stream in `file`.
fn probe(file: &Path, codec: &str) -> Result<u64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries"])
        .args(["stream=codec_name,nb_read_packets", "-of", "json"])
        .arg(file)
        .output()
        .context("running ffprobe (cargo xtask setup installs ffmpeg)")?;
    if !out.status.success() {
        bail!(
            "ffprobe cannot read {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let json: Value = serde_json::from_slice(&out.stdout).context("ffprobe's JSON")?;
    let stream = &json["streams"][0];
    if stream["codec_name"] != codec {
        bail!(
            "{} holds {} , not {codec}",
            file.display(),
            stream["codec_name"]
        );
    }
    stream["nb_read_packets"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no packet count for {}", file.display()))
}
