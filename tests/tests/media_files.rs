//! The committed test clips read as they were made, and what the writers make is what
//! ffprobe (from ffmpeg, installed by `cargo xtask setup native`) reads back.
#![cfg(not(target_arch = "wasm32"))]

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use unipeer::media::file::{IvfReader, IvfWriter, OggOpusReader, OggOpusWriter};
use unipeer::Codec;

fn clip(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("media")
        .join(name)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("unipeer-media-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// (codec name, packet count, duration in seconds) as ffprobe reads `file`.
fn probe(file: &Path) -> (String, u64, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries"])
        .args([
            "stream=codec_name,nb_read_packets:format=duration",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .expect("ffprobe is missing: run `cargo xtask setup native` (it installs ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &json["streams"][0];
    (
        s["codec_name"].as_str().unwrap().to_string(),
        s["nb_read_packets"].as_str().unwrap().parse().unwrap(),
        json["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    )
}

#[test]
fn the_vp8_clip_reads_and_rewrites_frame_for_frame() {
    let mut reader = IvfReader::new(BufReader::new(File::open(clip("vp8.ivf")).unwrap())).unwrap();
    let h = *reader.header();
    assert_eq!(
        (h.codec, h.width, h.height, h.length),
        (Codec::Vp8, 320, 240, 150)
    );
    let out = temp("copy.ivf");
    let mut writer = IvfWriter::new(File::create(&out).unwrap(), Codec::Vp8, 320, 240).unwrap();
    let mut keyframes = Vec::new();
    let mut n = 0;
    while let Some(f) = reader.next_frame().unwrap() {
        assert_eq!(f.timestamp, Duration::from_secs(n) / 30, "frame {n}");
        if f.keyframe {
            keyframes.push(n);
        }
        writer.write_frame(&f.data, f.timestamp).unwrap();
        n += 1;
    }
    assert_eq!(n, 150);
    assert_eq!(keyframes, vec![0, 30, 60, 90, 120]);
    writer.finish().unwrap();
    let (codec, packets, duration) = probe(&out);
    assert_eq!((codec.as_str(), packets), ("vp8", 150));
    assert!((duration - 5.0).abs() < 0.1, "{duration}");
}

#[test]
fn the_opus_clip_reads_and_rewrites_packet_for_packet() {
    let mut reader =
        OggOpusReader::new(BufReader::new(File::open(clip("opus.ogg")).unwrap())).unwrap();
    assert_eq!(reader.channels(), 1);
    let out = temp("copy.ogg");
    let mut writer = OggOpusWriter::new(File::create(&out).unwrap()).unwrap();
    let mut n = 0;
    let mut last = Duration::ZERO;
    while let Some(p) = reader.next_packet().unwrap() {
        assert_eq!(p.duration, Duration::from_millis(20));
        assert!(n == 0 || p.timestamp > last);
        last = p.timestamp;
        writer.write_packet(&p.data, p.timestamp).unwrap();
        n += 1;
    }
    // 5 s of 20 ms packets, and the encoder's look-ahead (its pre-skip) in one more.
    assert_eq!(n, 251);
    writer.finish().unwrap();
    let (codec, packets, duration) = probe(&out);
    assert_eq!((codec.as_str(), packets), ("opus", 251));
    assert!((duration - 5.02).abs() < 0.05, "{duration}");
}

/// Frames as they come off the network: timestamps on the RTP clock from an arbitrary
/// start, with a gap where packets were lost.
#[test]
fn recordings_with_network_gaps_stay_readable() {
    let video = temp("gaps.ivf");
    let mut w = IvfWriter::new(File::create(&video).unwrap(), Codec::Vp8, 320, 240).unwrap();
    let mut frames = IvfReader::new(BufReader::new(File::open(clip("vp8.ivf")).unwrap())).unwrap();
    let start = Duration::from_secs(49_710);
    let mut i = 0u32;
    while let Some(f) = frames.next_frame().unwrap() {
        if !(40..50).contains(&i) {
            w.write_frame(&f.data, start + f.timestamp).unwrap();
        }
        i += 1;
    }
    w.finish().unwrap();
    let (codec, packets, _) = probe(&video);
    assert_eq!((codec.as_str(), packets), ("vp8", 140));

    let audio = temp("gaps.ogg");
    let mut w = OggOpusWriter::new(File::create(&audio).unwrap()).unwrap();
    let mut packets_in =
        OggOpusReader::new(BufReader::new(File::open(clip("opus.ogg")).unwrap())).unwrap();
    let mut i = 0u32;
    while let Some(p) = packets_in.next_packet().unwrap() {
        if !(100..110).contains(&i) {
            w.write_packet(&p.data, start + p.timestamp).unwrap();
        }
        i += 1;
    }
    w.finish().unwrap();
    let (codec, packets, duration) = probe(&audio);
    assert_eq!((codec.as_str(), packets), ("opus", 241));
    // The gap keeps its place in time.
    assert!((duration - 5.0).abs() < 0.1, "{duration}");
}
