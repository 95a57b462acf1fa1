//! IVF: the simple container of VP8, VP9 and AV1 frames (a 32-byte header, then each
//! frame behind a 12-byte header with its size and timestamp).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use unipeer_core::Codec;

use super::{read_exact_or_end, read_full, read_vec, FileError, MAX_FRAME};

/// One frame of an IVF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfFrame {
    /// The encoded frame.
    pub data: Vec<u8>,
    /// Its presentation time (the file's timestamp through its timebase).
    pub timestamp: Duration,
    /// Whether a decoder can start here (VP8 and VP9 read from the frame header; AV1:
    /// the frame carries a sequence header).
    pub keyframe: bool,
}

/// The header of an IVF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    /// The codec (from the FourCC `VP80`, `VP90` or `AV01`).
    pub codec: Codec,
    /// Picture width in pixels.
    pub width: u16,
    /// Picture height in pixels.
    pub height: u16,
    /// Timestamps count units of `timebase_num / timebase_den` seconds.
    pub timebase_den: u32,
    /// See `timebase_den`.
    pub timebase_num: u32,
    /// The header's length field: the frame count by the IVF description, the duration in
    /// timebase units as ffmpeg writes and reads it (the same at one frame per tick; 0
    /// when the writer could not seek back).
    pub length: u32,
}

/// Reads frames from an IVF file.
///
/// ```
/// use std::time::Duration;
/// use unipeer::media::file::{IvfReader, IvfWriter};
/// use unipeer::Codec;
///
/// let mut file = std::io::Cursor::new(Vec::new());
/// let mut writer = IvfWriter::new(&mut file, Codec::Vp8, 320, 240)?;
/// writer.write_frame(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a], Duration::ZERO)?;
/// writer.finish()?;
/// file.set_position(0);
/// let mut reader = IvfReader::new(file)?;
/// assert_eq!(reader.header().width, 320);
/// let frame = reader.next_frame()?.unwrap();
/// assert!(frame.keyframe);
/// # Ok::<(), unipeer::media::file::FileError>(())
/// ```
#[derive(Debug)]
pub struct IvfReader<R> {
    inner: R,
    header: IvfHeader,
    /// The file ended or a frame could not be read: nothing more comes.
    done: bool,
}

impl<R: Read> IvfReader<R> {
    /// Reads the file header.
    ///
    /// Errors: [`FileError::NotIvf`] without the `DKIF` signature,
    /// [`FileError::UnsupportedCodec`] for a FourCC other than `VP80`, `VP90` and `AV01`,
    /// [`FileError::Malformed`] for a zero timebase, [`FileError::Truncated`] when the data
    /// ends inside the header.
    pub fn new(mut inner: R) -> Result<Self, FileError> {
        let mut h = [0u8; 32];
        let got = read_full(&mut inner, &mut h)?;
        if got >= 4 && &h[0..4] != b"DKIF" {
            return Err(FileError::NotIvf);
        }
        if got < h.len() {
            return Err(FileError::Truncated);
        }
        let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let header_len = u16_at(6);
        let codec = match &h[8..12] {
            b"VP80" => Codec::Vp8,
            b"VP90" => Codec::Vp9,
            b"AV01" => Codec::Av1,
            other => {
                return Err(FileError::UnsupportedCodec(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        };
        let header = IvfHeader {
            codec,
            width: u16_at(12),
            height: u16_at(14),
            timebase_den: u32_at(16),
            timebase_num: u32_at(20),
            length: u32_at(24),
        };
        if header.timebase_den == 0 || header.timebase_num == 0 {
            return Err(FileError::Malformed("the timebase is zero".into()));
        }
        // A longer header (never seen in practice) is skipped; a shorter one is read as 32
        // bytes, as libvpx and ffmpeg read it.
        let extra = u64::from(header_len.saturating_sub(32));
        if std::io::copy(&mut (&mut inner).take(extra), &mut std::io::sink())? < extra {
            return Err(FileError::Truncated);
        }
        Ok(Self {
            inner,
            header,
            done: false,
        })
    }

    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// The next frame, or `None` at the end of the file.
    ///
    /// Errors: [`FileError::Truncated`] when the file ends inside a frame,
    /// [`FileError::Malformed`] for a frame of 0 bytes or over 16 MiB, or a timestamp that
    /// is negative (the field is signed in libvpx and ffmpeg) or too large for a
    /// `Duration`. Nothing after a frame that could not be read lines up, so after an
    /// error the reader is finished: later calls return `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<IvfFrame>, FileError> {
        if self.done {
            return Ok(None);
        }
        let frame = self.read_frame();
        if !matches!(frame, Ok(Some(_))) {
            self.done = true;
        }
        frame
    }

    fn read_frame(&mut self) -> Result<Option<IvfFrame>, FileError> {
        let mut h = [0u8; 12];
        if !read_exact_or_end(&mut self.inner, &mut h)? {
            return Ok(None);
        }
        let size = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if size == 0 || size > MAX_FRAME {
            return Err(FileError::Malformed(format!(
                "a frame of {size} bytes (the limit is {MAX_FRAME})"
            )));
        }
        let pts = u64::from_le_bytes([h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11]]);
        let timestamp = i64::try_from(pts)
            .ok()
            .and_then(|_| {
                let (num, den) = (self.header.timebase_num, self.header.timebase_den);
                ticks_to_duration(u128::from(pts) * u128::from(num), u128::from(den))
            })
            .ok_or_else(|| {
                FileError::Malformed(format!(
                    "a frame timestamp of {} ticks (negative or too large)",
                    pts as i64
                ))
            })?;
        let data = read_vec(&mut self.inner, size)?;
        let keyframe = is_keyframe(self.header.codec, &data);
        Ok(Some(IvfFrame {
            data,
            timestamp,
            keyframe,
        }))
    }
}

/// `ticks` of `1 / rate` seconds as a `Duration` (rounded down to the nanosecond);
/// `None` beyond `Duration`'s range.
fn ticks_to_duration(ticks: u128, rate: u128) -> Option<Duration> {
    let secs = u64::try_from(ticks / rate).ok()?;
    let nanos = (ticks % rate) * 1_000_000_000 / rate;
    Some(Duration::new(secs, nanos as u32))
}

/// Whether a decoder can start at `frame` (read from the bitstream's first bytes; garbage
/// gives `false`):
/// - VP8 (RFC 6386 section 9.1): the frame tag's bit 0 is 0, and the key frame start
///   code `9d 01 2a` follows the tag;
/// - VP9 (bitstream specification section 6.2): the uncompressed header's frame_type is
///   KEY_FRAME (a show_existing_frame repeat is not) and its sync code `49 83 42` is there;
/// - AV1: the temporal unit carries a sequence header OBU, which encoders send with every
///   key frame and without which a decoder cannot start (AV1 has no key frame flag
///   readable without parsing the frame header).
pub fn is_keyframe(codec: Codec, frame: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => matches!(frame, [tag, _, _, 0x9d, 0x01, 0x2a, ..] if tag & 1 == 0),
        Codec::Vp9 => vp9_keyframe(frame).unwrap_or(false),
        Codec::Av1 => av1_has_sequence_header(frame),
        _ => false,
    }
}

/// VP9 uncompressed header: frame_marker (0b10), profile_low_bit, profile_high_bit, a
/// reserved zero bit in profile 3, show_existing_frame, frame_type (0 = KEY_FRAME),
/// show_frame, error_resilient_mode, then a key frame's sync code. `None` for garbage.
/// (In a superframe the first frame comes first, so this reads its header.)
fn vp9_keyframe(frame: &[u8]) -> Option<bool> {
    let mut position = 0usize;
    let mut read = |n: usize| -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            let byte = frame.get(position / 8)?;
            value = value << 1 | u32::from((byte >> (7 - position % 8)) & 1);
            position += 1;
        }
        Some(value)
    };
    if read(2)? != 0b10 {
        return None;
    }
    let profile = read(1)? | read(1)? << 1;
    if profile == 3 && read(1)? != 0 {
        return None;
    }
    if read(1)? == 1 || read(1)? != 0 {
        return Some(false); // show_existing_frame, or frame_type NON_KEY_FRAME
    }
    let _show_frame_and_error_resilient_mode = read(2)?;
    Some(read(24)? == 0x49_83_42)
}

/// Whether an AV1 temporal unit (a sequence of OBUs) holds an OBU_SEQUENCE_HEADER.
fn av1_has_sequence_header(frame: &[u8]) -> bool {
    const OBU_SEQUENCE_HEADER: u8 = 1;
    let mut rest = frame;
    while let [header, tail @ ..] = rest {
        if header & 0x80 != 0 {
            return false; // obu_forbidden_bit
        }
        let has_extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        let Some(tail) = tail.get(usize::from(has_extension)..) else {
            return false;
        };
        if (header >> 3) & 0x0f == OBU_SEQUENCE_HEADER {
            return true;
        }
        if !has_size {
            return false; // the OBU runs to the end of the data
        }
        let Some((size, payload)) = leb128(tail) else {
            return false;
        };
        let Some(next) = usize::try_from(size).ok().and_then(|s| payload.get(s..)) else {
            return false;
        };
        rest = next;
    }
    false
}

/// AV1's leb128 (specification section 4.10.5): at most 8 bytes, a value below 2^32.
fn leb128(data: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, byte) in data.iter().take(8).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (value <= u64::from(u32::MAX)).then(|| (value, &data[i + 1..]));
        }
    }
    None
}

/// Writes frames to an IVF file.
#[derive(Debug)]
pub struct IvfWriter<W: Write> {
    inner: W,
    /// Timestamps are written in units of 1 / this (90 kHz, the RTP video clock).
    rate: u32,
    frames: u32,
    first_pts: Option<u64>,
    last_pts: Option<u64>,
    /// Bytes written after the header, so that `finish` finds the header wherever the
    /// file started in `inner`.
    written: u64,
}

impl<W: Write> IvfWriter<W> {
    /// Writes the header of a `codec` (VP8, VP9 or AV1) file of pictures this size, with a
    /// 1/90 000 s timebase (the RTP video clock: received frames keep their timing).
    pub fn new(mut inner: W, codec: Codec, width: u16, height: u16) -> Result<Self, FileError> {
        let fourcc = match codec {
            Codec::Vp8 => b"VP80",
            Codec::Vp9 => b"VP90",
            Codec::Av1 => b"AV01",
            other => return Err(FileError::UnsupportedCodec(other.mime_type().into())),
        };
        let rate = 90_000u32;
        let mut h = Vec::with_capacity(32);
        h.extend_from_slice(b"DKIF");
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&32u16.to_le_bytes());
        h.extend_from_slice(fourcc);
        h.extend_from_slice(&width.to_le_bytes());
        h.extend_from_slice(&height.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        inner.write_all(&h)?;
        Ok(Self {
            inner,
            rate,
            frames: 0,
            first_pts: None,
            last_pts: None,
            written: 0,
        })
    }

    /// Appends a frame presented at `timestamp` (stored as the nearest tick). Timestamps
    /// must not go backwards (a frame that would gets the previous frame's time plus one
    /// tick).
    ///
    /// Errors: [`FileError::Malformed`] for a frame of 0 bytes or over 16 MiB, or a
    /// timestamp past the file's range (2^63 ticks, some 3 million years); nothing is
    /// written then.
    pub fn write_frame(&mut self, data: &[u8], timestamp: Duration) -> Result<(), FileError> {
        if data.is_empty() || data.len() > MAX_FRAME {
            return Err(FileError::Malformed(format!(
                "a frame of {} bytes (1 to {MAX_FRAME} fit)",
                data.len()
            )));
        }
        let rate = u128::from(self.rate);
        let ticks = (timestamp.as_nanos() * rate + 500_000_000) / 1_000_000_000;
        let ticks = match self.last_pts {
            Some(last) => ticks.max(u128::from(last) + 1),
            None => ticks,
        };
        // The field is signed in libvpx and ffmpeg.
        let pts = u64::try_from(ticks)
            .ok()
            .filter(|&t| t <= i64::MAX as u64)
            .ok_or_else(|| {
                FileError::Malformed(format!(
                    "a frame timestamp of {timestamp:?}, beyond what IVF stores"
                ))
            })?;
        self.last_pts = Some(pts);
        self.first_pts.get_or_insert(pts);
        // MAX_FRAME fits in u32.
        self.inner.write_all(&(data.len() as u32).to_le_bytes())?;
        self.inner.write_all(&pts.to_le_bytes())?;
        self.inner.write_all(data)?;
        self.frames = self.frames.saturating_add(1);
        self.written += 12 + data.len() as u64;
        Ok(())
    }

    /// The frames written so far.
    pub fn frames(&self) -> u32 {
        self.frames
    }
}

impl<W: Write + Seek> IvfWriter<W> {
    /// Puts the length in the header (as ffmpeg does: the duration in timebase units,
    /// counting the last frame as long as the average) and flushes; returns the writer,
    /// positioned after the last frame.
    pub fn finish(mut self) -> Result<W, FileError> {
        let n = u64::from(self.frames);
        let length = match (self.first_pts, self.last_pts) {
            (Some(first), Some(last)) if n > 1 => (last - first).saturating_mul(n) / (n - 1),
            _ => n,
        };
        // From the end of the file back to the length field (8 bytes before the frames),
        // and forward again.
        let back = i64::try_from(self.written + 8).map_err(std::io::Error::other)?;
        self.inner.seek(SeekFrom::Current(-back))?;
        self.inner
            .write_all(&u32::try_from(length).unwrap_or(u32::MAX).to_le_bytes())?;
        self.inner.seek(SeekFrom::Current(back - 4))?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn file(frames: &[(&[u8], u64)]) -> Vec<u8> {
        let mut w = IvfWriter::new(Cursor::new(Vec::new()), Codec::Vp8, 64, 48).unwrap();
        for (data, ms) in frames {
            w.write_frame(data, Duration::from_millis(*ms)).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn frames_round_trip() {
        // A VP8 key frame: frame tag with bit 0 clear, then the start code 9d 01 2a.
        let key: &[u8] = &[0x10, 1, 2, 0x9d, 0x01, 0x2a, 64, 0, 48, 0];
        let bytes = file(&[(key, 0), (&[0x11, 3], 33), (&[0x11, 4], 66)]);
        let mut r = IvfReader::new(Cursor::new(bytes)).unwrap();
        // 3 frames 33 ms apart: 99 ms of 90 kHz ticks.
        assert_eq!(r.header().length, 8910);
        assert_eq!((r.header().width, r.header().codec), (64, Codec::Vp8));
        let f = r.next_frame().unwrap().unwrap();
        assert!(f.keyframe);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(
            (f.data.as_slice(), f.timestamp),
            (&[0x11, 3][..], Duration::from_millis(33))
        );
        assert!(!f.keyframe);
        assert!(r.next_frame().unwrap().is_some());
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn bad_files_give_errors() {
        assert!(matches!(
            IvfReader::new(Cursor::new(b"RIFF".repeat(8))),
            Err(FileError::NotIvf)
        ));
        assert!(matches!(
            IvfReader::new(Cursor::new(b"DKIF".to_vec())),
            Err(FileError::Truncated)
        ));
        let mut bytes = file(&[(&[0x10, 1, 2], 0)]);
        bytes.truncate(bytes.len() - 1);
        let mut r = IvfReader::new(Cursor::new(bytes)).unwrap();
        assert!(matches!(r.next_frame(), Err(FileError::Truncated)));
        // A frame size far beyond the limit is refused before anything is allocated.
        let mut bytes = file(&[]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let mut r = IvfReader::new(Cursor::new(bytes)).unwrap();
        assert!(matches!(r.next_frame(), Err(FileError::Malformed(_))));
    }

    #[test]
    fn vp9_keyframes_are_read_from_the_header() {
        // frame_marker 10, profile 0, show_existing 0, frame_type 0 (key), show_frame 1,
        // error_resilient_mode 0, then the sync code 49 83 42.
        let key = [0b1000_0010, 0x49, 0x83, 0x42];
        assert!(is_keyframe(Codec::Vp9, &key));
        // Without the sync code it is garbage, not a key frame.
        assert!(!is_keyframe(Codec::Vp9, &[0b1000_0000, 0, 0, 0]));
        // frame_type 1 (inter).
        assert!(!is_keyframe(Codec::Vp9, &[0b1000_0100, 0]));
        // show_existing_frame.
        assert!(!is_keyframe(Codec::Vp9, &[0b1000_1000, 0]));
    }
}
