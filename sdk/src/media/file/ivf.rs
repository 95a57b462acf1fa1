//! IVF: the simple container of VP8, VP9 and AV1 frames (a 32-byte header, then each
//! frame behind a 12-byte header with its size and timestamp).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use unipeer_core::Codec;

use super::{read_exact_or_end, FileError, MAX_FRAME};

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
}

impl<R: Read> IvfReader<R> {
    /// Reads the file header.
    pub fn new(mut inner: R) -> Result<Self, FileError> {
        let mut h = [0u8; 32];
        if !read_exact_or_end(&mut inner, &mut h)? {
            return Err(FileError::Truncated);
        }
        if &h[0..4] != b"DKIF" {
            return Err(FileError::NotIvf);
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
        // A longer header (never seen in practice) is skipped.
        if header_len > 32 {
            let mut rest = vec![0u8; usize::from(header_len) - 32];
            if !read_exact_or_end(&mut inner, &mut rest)? {
                return Err(FileError::Truncated);
            }
        }
        Ok(Self { inner, header })
    }

    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// The next frame, or `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<IvfFrame>, FileError> {
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
        let mut data = vec![0u8; size];
        if !read_exact_or_end(&mut self.inner, &mut data)? {
            return Err(FileError::Truncated);
        }
        let nanos = u128::from(pts) * u128::from(self.header.timebase_num) * 1_000_000_000
            / u128::from(self.header.timebase_den);
        let timestamp = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let keyframe = is_keyframe(self.header.codec, &data);
        Ok(Some(IvfFrame {
            data,
            timestamp,
            keyframe,
        }))
    }
}

/// Whether a decoder can start at `frame`.
pub fn is_keyframe(codec: Codec, frame: &[u8]) -> bool {
    let Some(&first) = frame.first() else {
        return false;
    };
    match codec {
        // RFC 6386 section 9.1: bit 0 of the frame tag is 0 on keyframes.
        Codec::Vp8 => first & 1 == 0,
        Codec::Vp9 => vp9_keyframe(frame),
        // A temporal unit that starts a coded video sequence carries the sequence header
        // OBU (type 1), usually first after the temporal delimiter.
        Codec::Av1 => frame
            .iter()
            .take(16)
            .any(|b| (b >> 3) & 0x0f == 1 && b & 0x80 == 0),
        _ => false,
    }
}

/// VP9 uncompressed header (VP9 bitstream spec 6.2): frame marker, profile, then
/// `show_existing_frame` and `frame_type` (0 = key frame).
fn vp9_keyframe(frame: &[u8]) -> bool {
    let b = frame[0];
    if b >> 6 != 0b10 {
        return false;
    }
    let profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
    // Profile 3 has a reserved zero bit after the profile bits.
    let mut bit = if profile == 3 { 3 } else { 4 };
    let read = |bit: i32| -> Option<u8> {
        if bit >= 0 {
            Some((b >> bit) & 1)
        } else {
            frame.get(1).map(|n| (n >> (8 + bit)) & 1)
        }
    };
    bit -= 1;
    if read(bit) == Some(1) {
        return false; // show_existing_frame
    }
    read(bit - 1) == Some(0)
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
        })
    }

    /// Appends a frame presented at `timestamp`. Timestamps must not go backwards (a
    /// frame that would gets the previous frame's time plus one tick).
    pub fn write_frame(&mut self, data: &[u8], timestamp: Duration) -> Result<(), FileError> {
        if data.is_empty() || data.len() > MAX_FRAME {
            return Err(FileError::Malformed(format!(
                "a frame of {} bytes (1 to {MAX_FRAME} fit)",
                data.len()
            )));
        }
        let ticks = timestamp.as_nanos() * u128::from(self.rate) / 1_000_000_000;
        let mut pts = u64::try_from(ticks).unwrap_or(u64::MAX);
        if let Some(last) = self.last_pts {
            pts = pts.max(last.saturating_add(1));
        }
        self.last_pts = Some(pts);
        self.first_pts.get_or_insert(pts);
        // MAX_FRAME fits in u32.
        self.inner.write_all(&(data.len() as u32).to_le_bytes())?;
        self.inner.write_all(&pts.to_le_bytes())?;
        self.inner.write_all(data)?;
        self.frames = self.frames.saturating_add(1);
        Ok(())
    }

    /// The frames written so far.
    pub fn frames(&self) -> u32 {
        self.frames
    }
}

impl<W: Write + Seek> IvfWriter<W> {
    /// Puts the length in the header (as ffmpeg does: the duration in timebase units,
    /// counting the last frame as long as the average) and flushes; returns the writer.
    pub fn finish(mut self) -> Result<W, FileError> {
        let n = u64::from(self.frames);
        let length = match (self.first_pts, self.last_pts) {
            (Some(first), Some(last)) if n > 1 => (last - first).saturating_mul(n) / (n - 1),
            _ => n,
        };
        self.inner.seek(SeekFrom::Start(24))?;
        self.inner
            .write_all(&u32::try_from(length).unwrap_or(u32::MAX).to_le_bytes())?;
        self.inner.seek(SeekFrom::End(0))?;
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
        let bytes = file(&[(&[0x10, 1, 2], 0), (&[0x11, 3], 33), (&[0x11, 4], 66)]);
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
        // frame_marker 10, profile 0, show_existing 0, frame_type 0 (key).
        assert!(is_keyframe(Codec::Vp9, &[0b1000_0000, 0]));
        // frame_type 1 (inter).
        assert!(!is_keyframe(Codec::Vp9, &[0b1000_0100, 0]));
        // show_existing_frame.
        assert!(!is_keyframe(Codec::Vp9, &[0b1000_1000, 0]));
    }
}
