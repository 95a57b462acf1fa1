//! Ogg Opus (RFC 7845): Opus packets in Ogg pages (RFC 3533), after an `OpusHead` and an
//! `OpusTags` header packet. Granule positions count 48 kHz samples.

use std::io::{Read, Write};
use std::time::Duration;

use super::{read_exact_or_end, FileError, MAX_FRAME};

/// One Opus packet of an Ogg Opus file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPacket {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// When it starts (from the granule positions, less the pre-skip).
    pub timestamp: Duration,
    /// How long it plays (from its TOC byte, RFC 6716 section 3.1).
    pub duration: Duration,
}

/// Reads Opus packets from an Ogg Opus file.
#[derive(Debug)]
pub struct OggOpusReader<R> {
    inner: R,
    /// Packets of the current page still to hand out.
    ready: std::collections::VecDeque<Vec<u8>>,
    /// A packet continuing on the next page.
    partial: Vec<u8>,
    channels: u8,
    pre_skip: u16,
    /// 48 kHz samples before the next packet.
    samples: u64,
    serial: Option<u32>,
    ended: bool,
}

impl<R: Read> OggOpusReader<R> {
    /// Reads the `OpusHead` and `OpusTags` headers.
    pub fn new(inner: R) -> Result<Self, FileError> {
        let mut r = Self {
            inner,
            ready: Default::default(),
            partial: Vec::new(),
            channels: 0,
            pre_skip: 0,
            samples: 0,
            serial: None,
            ended: false,
        };
        let head = r.raw_packet()?.ok_or(FileError::Truncated)?;
        if head.len() < 19 || &head[0..8] != b"OpusHead" {
            return Err(FileError::NotOggOpus);
        }
        r.channels = head[9];
        r.pre_skip = u16::from_le_bytes([head[10], head[11]]);
        let tags = r.raw_packet()?.ok_or(FileError::Truncated)?;
        if !tags.starts_with(b"OpusTags") {
            return Err(FileError::Malformed(
                "the second packet is not OpusTags".into(),
            ));
        }
        Ok(r)
    }

    /// The channel count from `OpusHead`.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// The next Opus packet, or `None` at the end of the stream.
    pub fn next_packet(&mut self) -> Result<Option<OggPacket>, FileError> {
        let Some(data) = self.raw_packet()? else {
            return Ok(None);
        };
        let samples = opus_samples(&data)?;
        let start = self.samples.saturating_sub(u64::from(self.pre_skip));
        self.samples += samples;
        Ok(Some(OggPacket {
            data,
            timestamp: samples_to_duration(start),
            duration: samples_to_duration(samples),
        }))
    }

    fn raw_packet(&mut self) -> Result<Option<Vec<u8>>, FileError> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(Some(p));
            }
            if self.ended || !self.read_page()? {
                if !self.partial.is_empty() {
                    return Err(FileError::Truncated);
                }
                return Ok(None);
            }
        }
    }

    /// Reads one page into `ready`; `false` at the end of the file.
    fn read_page(&mut self) -> Result<bool, FileError> {
        let mut h = [0u8; 27];
        if !read_exact_or_end(&mut self.inner, &mut h)? {
            return Ok(false);
        }
        if &h[0..4] != b"OggS" {
            return Err(FileError::NotOggOpus);
        }
        if h[4] != 0 {
            return Err(FileError::Malformed(format!("Ogg version {}", h[4])));
        }
        let flags = h[5];
        let serial = u32::from_le_bytes([h[14], h[15], h[16], h[17]]);
        if *self.serial.get_or_insert(serial) != serial {
            return Err(FileError::Malformed(
                "more than one logical stream (only single-stream Ogg Opus is read)".into(),
            ));
        }
        let mut lacing = vec![0u8; usize::from(h[26])];
        if !read_exact_or_end(&mut self.inner, &mut lacing)? {
            return Err(FileError::Truncated);
        }
        let body_len: usize = lacing.iter().map(|l| usize::from(*l)).sum();
        let mut body = vec![0u8; body_len];
        if !read_exact_or_end(&mut self.inner, &mut body)? {
            return Err(FileError::Truncated);
        }
        let expected = u32::from_le_bytes([h[22], h[23], h[24], h[25]]);
        let mut page = h.to_vec();
        page[22..26].fill(0);
        page.extend_from_slice(&lacing);
        page.extend_from_slice(&body);
        if crc32(&page) != expected {
            return Err(FileError::BadChecksum);
        }
        let continued = flags & 1 != 0;
        if !continued && !self.partial.is_empty() {
            return Err(FileError::Malformed("a packet was cut off".into()));
        }
        let mut at = 0;
        for l in lacing {
            let l = usize::from(l);
            self.partial.extend_from_slice(&body[at..at + l]);
            at += l;
            if self.partial.len() > MAX_FRAME {
                return Err(FileError::Malformed("a packet above the size limit".into()));
            }
            if l < 255 {
                self.ready.push_back(std::mem::take(&mut self.partial));
            }
        }
        self.ended = flags & 4 != 0;
        Ok(true)
    }
}

/// 48 kHz samples in an Opus packet (RFC 6716 section 3.1: the TOC byte's configuration
/// gives the frame duration, its code the frame count).
fn opus_samples(packet: &[u8]) -> Result<u64, FileError> {
    let toc = *packet
        .first()
        .ok_or_else(|| FileError::Malformed("an empty Opus packet".into()))?;
    let config = toc >> 3;
    // Frame sizes in 48 kHz samples, per configuration (SILK, hybrid, CELT ranges).
    let per_frame: u64 = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(
            packet.get(1).ok_or_else(|| {
                FileError::Malformed("an Opus code 3 packet without a count".into())
            })? & 0x3f,
        ),
    };
    Ok(per_frame * frames)
}

/// 48 kHz samples as time (1 sample = 62 500 / 3 ns).
fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_nanos(samples.saturating_mul(62_500) / 3)
}

/// Writes Opus packets to an Ogg Opus file (one packet per page, so a recording cut short
/// loses at most one packet).
#[derive(Debug)]
pub struct OggOpusWriter<W: Write> {
    inner: W,
    serial: u32,
    sequence: u32,
    /// 48 kHz samples written (the granule position), including the pre-skip.
    granule: u64,
    /// The previous packet: written when the next one (or the end) comes, so that the
    /// last page can carry the end-of-stream flag.
    pending: Option<(Vec<u8>, u64)>,
    first: Option<Duration>,
    packets: u64,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the `OpusHead` (2 channels, as WebRTC's Opus is described, 48 kHz, no
    /// pre-skip) and `OpusTags` pages.
    pub fn new(inner: W) -> Result<Self, FileError> {
        let mut w = Self {
            inner,
            serial: 0x756e_6970, // "unip"
            sequence: 0,
            granule: 0,
            pending: None,
            first: None,
            packets: 0,
        };
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 2]);
        head.extend_from_slice(&0u16.to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&[0, 0, 0]);
        w.page(&head, 0, 2)?;
        let mut tags = b"OpusTags".to_vec();
        let vendor = b"unipeer";
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        w.page(&tags, 0, 0)?;
        Ok(w)
    }

    /// Appends a packet that starts at `timestamp` (media time; only differences count).
    /// A gap in the timestamps (packets lost on the network) keeps its place in time: the
    /// granule position follows the timestamps, never going backwards.
    pub fn write_packet(&mut self, data: &[u8], timestamp: Duration) -> Result<(), FileError> {
        let samples = opus_samples(data)?;
        if data.len() > MAX_FRAME {
            return Err(FileError::Malformed("a packet above the size limit".into()));
        }
        let first = *self.first.get_or_insert(timestamp);
        let start =
            u64::try_from(timestamp.saturating_sub(first).as_nanos() * 48_000 / 1_000_000_000)
                .unwrap_or(u64::MAX);
        let end = start.max(self.granule).saturating_add(samples);
        if let Some((prev, granule)) = self.pending.take() {
            self.page(&prev, granule, 0)?;
        }
        self.granule = end;
        self.pending = Some((data.to_vec(), end));
        self.packets += 1;
        Ok(())
    }

    /// The packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Writes the last page (end of stream) and flushes; returns the writer.
    pub fn finish(mut self) -> Result<W, FileError> {
        match self.pending.take() {
            Some((prev, granule)) => self.page(&prev, granule, 4)?,
            None => self.page(&[], self.granule, 4)?,
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn page(&mut self, packet: &[u8], granule: u64, flags: u8) -> Result<(), FileError> {
        let mut lacing = vec![255u8; packet.len() / 255];
        lacing.push((packet.len() % 255) as u8);
        if lacing.len() > 255 {
            return Err(FileError::Malformed(
                "a packet too large for one Ogg page".into(),
            ));
        }
        let mut page = b"OggS".to_vec();
        page.push(0);
        page.push(flags);
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.sequence.to_le_bytes());
        page.extend_from_slice(&[0; 4]);
        page.push(lacing.len() as u8);
        page.extend_from_slice(&lacing);
        page.extend_from_slice(packet);
        let crc = crc32(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.inner.write_all(&page)?;
        self.sequence = self.sequence.wrapping_add(1);
        Ok(())
    }
}

/// Ogg's CRC-32: polynomial 0x04C11DB7, no reflection, initial value 0, no final XOR.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn the_checksum_is_ogg_s() {
        // CRC-32/MPEG-2 without its initial all-ones value: the check value of "123456789".
        assert_eq!(crc32(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn packets_round_trip_with_their_times() {
        let mut w = OggOpusWriter::new(Vec::new()).unwrap();
        // 20 ms CELT packets (config 31 = 20 ms fullband, code 0), one lost in the middle.
        for (i, ms) in [0u64, 20, 40, 80].iter().enumerate() {
            let mut p = vec![0xf8];
            p.extend(std::iter::repeat_n(i as u8, 300 * i + 1));
            w.write_packet(&p, Duration::from_millis(1000 + ms))
                .unwrap();
        }
        let bytes = w.finish().unwrap();
        let mut r = OggOpusReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.channels(), 2);
        let mut got = Vec::new();
        while let Some(p) = r.next_packet().unwrap() {
            assert_eq!(p.duration, Duration::from_millis(20));
            got.push(p.data.len());
        }
        // A 601-byte packet spans lacing values of 255; every packet is intact.
        assert_eq!(got, vec![2, 302, 602, 902]);
    }

    #[test]
    fn bad_files_give_errors() {
        assert!(matches!(
            OggOpusReader::new(Cursor::new(b"RIFF0000".repeat(5))),
            Err(FileError::NotOggOpus)
        ));
        let mut bytes = OggOpusWriter::new(Vec::new()).unwrap().finish().unwrap();
        bytes[30] ^= 1;
        assert!(matches!(
            OggOpusReader::new(Cursor::new(bytes.clone())),
            Err(FileError::BadChecksum)
        ));
        bytes.truncate(20);
        assert!(matches!(
            OggOpusReader::new(Cursor::new(bytes)),
            Err(FileError::Truncated)
        ));
    }
}
