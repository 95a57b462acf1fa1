//! `cargo xtask media-clips`: regenerates the media test clips in `tests/media/` with
//! Debian's ffmpeg from its built-in test sources (nothing is downloaded). The clips are
//! committed; the flags make ffmpeg's output the same on every run.

use std::process::Command;

use anyhow::Result;

use crate::{cmd, setup};

/// (file, ffmpeg arguments between the input and the output)
const CLIPS: [(&str, &[&str]); 2] = [
    (
        "vp8.ivf",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30",
            "-t",
            "5",
            // VP8, a keyframe every 30 frames (1 s), no hidden alt-ref frames (each IVF
            // frame is a shown picture), one thread (deterministic output).
            "-c:v",
            "libvpx",
            "-b:v",
            "300k",
            "-g",
            "30",
            "-keyint_min",
            "30",
            "-auto-alt-ref",
            "0",
            "-deadline",
            "good",
            "-cpu-used",
            "4",
            "-threads",
            "1",
        ],
    ),
    (
        "opus.ogg",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "5",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-frame_duration",
            "20",
            "-ac",
            "1",
        ],
    ),
];

pub fn run() -> Result<()> {
    setup::apt_install(&["ffmpeg"])?;
    let dir = cmd::root().join("tests").join("media");
    std::fs::create_dir_all(&dir)?;
    for (file, args) in CLIPS {
        let mut ffmpeg = Command::new("ffmpeg");
        ffmpeg
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .args([
                "-fflags",
                "+bitexact",
                "-flags",
                "+bitexact",
                "-map_metadata",
                "-1",
            ])
            .arg(dir.join(file));
        cmd::run(&mut ffmpeg)?;
        println!("xtask: wrote tests/media/{file}");
    }
    Ok(())
}
