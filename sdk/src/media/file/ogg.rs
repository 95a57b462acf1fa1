//! Ogg Opus (RFC 7845): Opus packets in Ogg pages (RFC 3533), after an `OpusHead` and an
//! `OpusTags` header packet. Granule positions count 48 kHz samples.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::time::Duration;

use super::{read_exact_or_end, read_full, read_vec, FileError, MAX_FRAME};

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
///
/// Timestamps follow the pages' granule positions (RFC 7845 section 4), so a gap in a
/// recording (packets lost in a call) keeps its place in time; a granule position that
/// goes back (or the last page's end trimming) counts on from the previous packet
/// instead. A page whose checksum fails ([`FileError::BadChecksum`]) is skipped and
/// reading goes on after it (a packet spanning it is lost); after any other error the
/// reader is finished and later calls return `Ok(None)`.
#[derive(Debug)]
pub struct OggOpusReader<R> {
    inner: R,
    /// Packets of the pages read, with their times, still to hand out.
    ready: VecDeque<OggPacket>,
    /// An error in the middle of a page, for after the packets before it.
    error: Option<FileError>,
    /// A packet continuing on the next page.
    partial: Vec<u8>,
    channels: u8,
    pre_skip: u16,
    /// The granule position (48 kHz samples, pre-skip included) where the last packet
    /// ends; `None` before the first.
    position: Option<u64>,
    serial: Option<u32>,
    /// The sequence number the next page should have (`None` after a damaged page).
    next_sequence: Option<u32>,
    /// The end-of-stream page was read.
    ended: bool,
    /// An error ended the reading.
    failed: bool,
}

/// The packets that end on a page, and its granule position (`None` for -1).
struct Page {
    packets: Vec<Vec<u8>>,
    granule: Option<u64>,
}

impl<R: Read> OggOpusReader<R> {
    /// Reads the `OpusHead` and `OpusTags` headers.
    ///
    /// Errors: [`FileError::NotOggOpus`] for data that is not Ogg or whose first packet is
    /// not an `OpusHead`, [`FileError::Malformed`] for an invalid `OpusHead` (no
    /// channels, an unknown major version, a bad channel mapping) or no `OpusTags` after
    /// it, [`FileError::Truncated`] when the data ends first, and the errors of
    /// [`OggOpusReader::next_packet`].
    pub fn new(inner: R) -> Result<Self, FileError> {
        let mut r = Self {
            inner,
            ready: VecDeque::new(),
            error: None,
            partial: Vec::new(),
            channels: 0,
            pre_skip: 0,
            position: None,
            serial: None,
            next_sequence: None,
            ended: false,
            failed: false,
        };
        let mut headers = 0;
        while headers < 2 {
            if r.ended {
                return Err(FileError::Truncated);
            }
            let page = r.read_page()?.ok_or(FileError::Truncated)?;
            let mut packets = page.packets.into_iter();
            while headers < 2 {
                let Some(packet) = packets.next() else {
                    break;
                };
                if headers == 0 {
                    (r.channels, r.pre_skip) = opus_head(&packet)?;
                } else if !packet.starts_with(b"OpusTags") {
                    return Err(FileError::Malformed(
                        "the second packet is not OpusTags".into(),
                    ));
                }
                headers += 1;
            }
            // Audio on the page of the tags breaks RFC 7845 but costs nothing to read.
            r.time(packets.collect(), page.granule);
        }
        Ok(r)
    }

    /// The channel count from `OpusHead`.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// The next Opus packet, or `None` at the end of the stream.
    ///
    /// Errors: [`FileError::BadChecksum`] for a damaged page, which is skipped: read on
    /// to continue after it. [`FileError::Truncated`] when the data ends inside a page or
    /// packet, [`FileError::Malformed`] for an invalid Opus packet (RFC 6716 section 3),
    /// one over 16 MiB, or pages that break the format, [`FileError::NotOggOpus`]
    /// for... [`FileError::Io`]: these end the reading.
    pub fn next_packet(&mut self) -> Result<Option<OggPacket>, FileError> {
        loop {
            if let Some(packet) = self.ready.pop_front() {
                return Ok(Some(packet));
            }
            if let Some(e) = self.error.take() {
                self.failed = true;
                return Err(e);
            }
            if self.failed {
                return Ok(None);
            }
            let page = if self.ended {
                Ok(None)
            } else {
                self.read_page()
            };
            match page {
                Ok(Some(page)) => self.time(page.packets, page.granule),
                Ok(None) if self.partial.is_empty() => return Ok(None),
                Ok(None) => self.error = Some(FileError::Truncated),
                Err(e @ FileError::BadChecksum) => return Err(e),
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Reads one page; `None` at the end of the data.
    fn read_page(&mut self) -> Result<Option<Page>, FileError> {
        let mut h = [0u8; 27];
        let got = read_full(&mut self.inner, &mut h)?;
        if got == 0 {
            return Ok(None);
        }
        if got >= 4 && &h[0..4] != b"OggS" {
            return Err(match self.serial {
                None => FileError::NotOggOpus,
                Some(_) => FileError::Malformed("lost sync: no Ogg page after a page".into()),
            });
        }
        if got < h.len() {
            return Err(FileError::Truncated);
        }
        let mut lacing = vec![0u8; usize::from(h[26])];
        if !read_exact_or_end(&mut self.inner, &mut lacing)? {
            return Err(FileError::Truncated);
        }
        // At most 255 * 255 bytes.
        let body_len: usize = lacing.iter().map(|l| usize::from(*l)).sum();
        let body = read_vec(&mut self.inner, body_len)?;
        let expected = u32::from_le_bytes([h[22], h[23], h[24], h[25]]);
        h[22..26].fill(0);
        if crc32(&[&h[..], &lacing[..], &body[..]]) != expected {
            // The page is lost, and with it the packet it continues (if any): the next
            // page's continuation of it is skipped.
            self.partial.clear();
            self.next_sequence = None;
            return Err(FileError::BadChecksum);
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
        let sequence = u32::from_le_bytes([h[18], h[19], h[20], h[21]]);
        if self.next_sequence.is_some_and(|next| next != sequence) {
            // A page went missing: so did the end of the packet it continued.
            self.partial.clear();
        }
        self.next_sequence = Some(sequence.wrapping_add(1));
        let continued = flags & 1 != 0;
        if !continued && !self.partial.is_empty() {
            return Err(FileError::Malformed("a packet was cut off".into()));
        }
        // The rest of a packet whose start was lost (or never there) is skipped.
        let mut skipping = continued && self.partial.is_empty();
        let mut packets = Vec::new();
        let mut at = 0;
        for l in lacing {
            let l = usize::from(l);
            let segment = &body[at..at + l];
            at += l;
            if skipping {
                skipping = l == 255;
                continue;
            }
            self.partial.extend_from_slice(segment);
            if self.partial.len() > MAX_FRAME {
                return Err(FileError::Malformed("a packet above the size limit".into()));
            }
            if l < 255 {
                packets.push(std::mem::take(&mut self.partial));
            }
        }
        self.ended = flags & 4 != 0;
        let granule = i64::from_le_bytes([h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13]]);
        Ok(Some(Page {
            packets,
            granule: u64::try_from(granule).ok(),
        }))
    }

    /// Gives the audio packets that ended on a page their times and queues them. The
    /// page's granule position is where its last packet ends: the first page and a page
    /// that jumps ahead start there less their packets' samples; otherwise the packets
    /// follow the previous one. An invalid packet is an error after those before it.
    fn time(&mut self, packets: Vec<Vec<u8>>, granule: Option<u64>) {
        let mut durations = Vec::with_capacity(packets.len());
        for packet in &packets {
            match opus_samples(packet) {
                Ok(samples) => durations.push(samples),
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
        if durations.is_empty() {
            return;
        }
        let total: u64 = durations.iter().sum();
        let start = match (self.position, granule) {
            _ if self.error.is_some() => self.position.unwrap_or(0),
            (None, Some(g)) => g.saturating_sub(total),
            (Some(p), Some(g)) if g > p.saturating_add(total) => g - total,
            (position, _) => position.unwrap_or(0),
        };
        let mut at = start;
        for (data, samples) in packets.into_iter().zip(durations) {
            self.ready.push_back(OggPacket {
                data,
                timestamp: samples_to_duration(at.saturating_sub(u64::from(self.pre_skip))),
                duration: samples_to_duration(samples),
            });
            at = at.saturating_add(samples);
        }
        self.position = Some(at);
    }
}

/// The channel count and pre-skip of an `OpusHead` packet (RFC 7845 section 5.1).
fn opus_head(head: &[u8]) -> Result<(u8, u16), FileError> {
    if head.len() < 19 || &head[0..8] != b"OpusHead" {
        return Err(FileError::NotOggOpus);
    }
    let malformed = |what: String| Err(FileError::Malformed(format!("OpusHead: {what}")));
    // The high nibble is the major version: only 0 is defined.
    if head[8] > 15 {
        return malformed(format!("version {} (0.x is read)", head[8]));
    }
    let (channels, family) = (head[9], head[18]);
    match (family, channels) {
        (_, 0) => return malformed("zero channels".into()),
        (0, 1 | 2) => {}
        (0, n) => return malformed(format!("{n} channels in mapping family 0")),
        (_, n) => {
            // Stream count, coupled stream count, then a mapping byte per channel.
            match head.get(19..21 + usize::from(n)) {
                Some([streams, coupled, ..]) if *streams > 0 && coupled <= streams => {}
                _ => return malformed("an invalid channel mapping table".into()),
            }
        }
    }
    Ok((channels, u16::from_le_bytes([head[10], head[11]])))
}

/// 48 kHz samples in an Opus packet (RFC 6716 section 3.1: the TOC byte's configuration
/// gives the frame duration, its code the frame count); invalid packets are errors: an
/// empty one, code 3 without frames, or over 120 ms.
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
    let samples = per_frame * frames;
    if samples == 0 || samples > 5760 {
        return Err(FileError::Malformed(format!(
            "an Opus packet of {frames} frames of {} ms (1 to 120 ms make a packet)",
            per_frame as f64 / 48.0
        )));
    }
    Ok(samples)
}

/// 48 kHz samples as time (rounded down to the nanosecond).
fn samples_to_duration(samples: u64) -> Duration {
    Duration::new(
        samples / 48_000,
        ((samples % 48_000) * 1_000_000_000 / 48_000) as u32,
    )
}

/// Writes Opus packets to an Ogg Opus file (one packet per page, or a run of pages for one
/// over 64 KB, so a recording cut short loses at most one packet).
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
        w.packet_pages(&head, 0, 2)?;
        let mut tags = b"OpusTags".to_vec();
        let vendor = b"unipeer";
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        w.packet_pages(&tags, 0, 0)?;
        Ok(w)
    }

    /// Appends a packet that starts at `timestamp` (media time; only differences count;
    /// stored as the nearest 48 kHz sample). A gap in the timestamps (packets lost on the
    /// network) keeps its place in time: the granule position follows the timestamps,
    /// never going backwards.
    ///
    /// Errors: [`FileError::Malformed`] for an invalid Opus packet (see
    /// [`OggOpusReader::next_packet`]), one over 16 MiB, or a timestamp past what a granule
    /// position holds (2^63 samples after the first packet); nothing is written then.
    pub fn write_packet(&mut self, data: &[u8], timestamp: Duration) -> Result<(), FileError> {
        let samples = opus_samples(data)?;
        if data.len() > MAX_FRAME {
            return Err(FileError::Malformed("a packet above the size limit".into()));
        }
        let first = self.first.unwrap_or(timestamp);
        let offset = timestamp.saturating_sub(first).as_nanos();
        let start = (offset * 48_000 + 500_000_000) / 1_000_000_000;
        let end = start.max(u128::from(self.granule)) + u128::from(samples);
        let end = u64::try_from(end)
            .ok()
            .filter(|&end| end <= i64::MAX as u64)
            .ok_or_else(|| {
                FileError::Malformed(format!(
                    "a packet timestamp of {timestamp:?}, {offset} ns after the first, beyond what Ogg stores"
                ))
            })?;
        self.first = Some(first);
        if let Some((prev, granule)) = self.pending.take() {
            self.packet_pages(&prev, granule, 0)?;
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
            Some((prev, granule)) => self.packet_pages(&prev, granule, 4)?,
            // No packet: an empty last page (no packet ends on it: granule -1).
            None => self.page(&[], &[], u64::MAX, 4)?,
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Writes a packet on as many pages as it takes (255 lacing values each): the last
    /// ends it and carries `granule` and `flags`, those before it no granule (-1).
    fn packet_pages(&mut self, packet: &[u8], granule: u64, flags: u8) -> Result<(), FileError> {
        let mut lacing = vec![255u8; packet.len() / 255];
        lacing.push((packet.len() % 255) as u8);
        let mut pages = lacing.chunks(255).peekable();
        let mut rest = packet;
        let mut continued = 0;
        while let Some(segments) = pages.next() {
            let (body, after) = rest.split_at(segments.iter().map(|&l| usize::from(l)).sum());
            rest = after;
            match pages.peek() {
                Some(_) => self.page(segments, body, u64::MAX, continued)?,
                None => self.page(segments, body, granule, continued | flags)?,
            }
            continued = 1;
        }
        Ok(())
    }

    fn page(
        &mut self,
        lacing: &[u8],
        body: &[u8],
        granule: u64,
        flags: u8,
    ) -> Result<(), FileError> {
        let mut page = b"OggS".to_vec();
        page.push(0);
        page.push(flags);
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.sequence.to_le_bytes());
        page.extend_from_slice(&[0; 4]);
        // At most 255 lacing values: `packet_pages` cuts them so.
        page.push(lacing.len() as u8);
        page.extend_from_slice(lacing);
        page.extend_from_slice(body);
        let crc = crc32(&[&page[..]]);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.inner.write_all(&page)?;
        self.sequence = self.sequence.wrapping_add(1);
        Ok(())
    }
}

/// Ogg's CRC-32 of `parts` one after the other: polynomial 0x04C11DB7, no reflection,
/// initial value 0, no final XOR.
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = 0u32;
    for &b in parts.iter().copied().flatten() {
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
        assert_eq!(crc32(&[b"1234", b"56789"]), 0x89A1_897F);
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
