//! Media files for encoded frames: IVF (VP8, VP9, AV1) and Ogg Opus, read and written in
//! pure Rust over any `Read`/`Write`. Native tracks send and receive encoded frames, so
//! these stream a file into a call ([`IvfReader`], [`OggOpusReader`]) or record one
//! ([`IvfWriter`], [`OggOpusWriter`]) without a codec.
//!
//! Hostile or broken files give a [`FileError`], never a panic, and never make a reader
//! allocate more than the data really holds: a frame or packet grows as its bytes arrive,
//! up to the size limit (16 MiB).

mod ivf;
mod ogg;

pub use ivf::{is_keyframe, IvfFrame, IvfHeader, IvfReader, IvfWriter};
pub use ogg::{OggOpusReader, OggOpusWriter, OggPacket};

use std::io::Read;

/// The largest frame or packet read or written (a 4K keyframe is a few MiB).
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Why a media file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Reading or writing failed.
    #[error("media file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with an IVF header (`DKIF`).
    #[error("not an IVF file (no DKIF header): give a .ivf file, e.g. from ffmpeg -c:v libvpx")]
    NotIvf,
    /// The file is not an Ogg Opus stream.
    #[error("not an Ogg Opus file: give a .ogg/.opus file with Opus audio, e.g. from ffmpeg -c:a libopus")]
    NotOggOpus,
    /// The codec is not one this container supports here.
    #[error("unsupported codec {0}: IVF holds VP8, VP9 or AV1")]
    UnsupportedCodec(String),
    /// The file ends in the middle of a header, frame or packet.
    #[error("the file is truncated: it ends in the middle of a frame")]
    Truncated,
    /// An Ogg page's checksum does not match: the file is damaged.
    #[error("an Ogg page's checksum does not match: the file is damaged")]
    BadChecksum,
    /// The file breaks the format in another way (the message says how).
    #[error("malformed media file: {0}")]
    Malformed(String),
}

/// Reads until `buf` is full or the input ends; returns how many bytes it read, so the
/// caller can tell a clean end (0) from a cut (fewer than `buf.len()`).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, FileError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}

/// Fills `buf`; `false` when the input ended before the first byte, `Truncated` when it
/// ended later.
fn read_exact_or_end(r: &mut impl Read, buf: &mut [u8]) -> Result<bool, FileError> {
    match read_full(r, buf)? {
        0 if !buf.is_empty() => Ok(false),
        n if n == buf.len() => Ok(true),
        _ => Err(FileError::Truncated),
    }
}

/// Reads `len` bytes into a vector that grows as they arrive: a size field costs memory
/// only for the data really behind it. An early end is `Truncated`.
fn read_vec(r: &mut impl Read, len: usize) -> Result<Vec<u8>, FileError> {
    let mut data = Vec::new();
    r.take(len as u64).read_to_end(&mut data)?;
    if data.len() < len {
        return Err(FileError::Truncated);
    }
    Ok(data)
}
