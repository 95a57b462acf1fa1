//! The media file readers (`unipeer::media::file`) on arbitrary bytes: the same input is
//! read as IVF and as Ogg Opus (and once more as Ogg Opus with every page's checksum
//! fixed up, so the fuzzer gets past the CRC to the page and packet logic). Reading ends
//! with the file or an error, never a panic or a loop that reads nothing, and a size
//! field never makes a reader allocate more than the data holds (the largest allocation
//! while reading is measured: at most twice the input, plus 64 KiB for fixed buffers).
//!
//! Then the round trip: what a reader accepted, written back with the matching writer,
//! reads back frame for frame. Data, key frame flags and durations come back as they
//! were; timestamps come back as the writer stores them (IVF: 90 kHz ticks, rounded to
//! the nearest and strictly increasing; Ogg Opus: 48 kHz granule positions from the first
//! packet on, never going backwards), and a second round trip changes nothing at all.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use unipeer::media::file::{
    FileError, IvfFrame, IvfReader, IvfWriter, OggOpusReader, OggOpusWriter, OggPacket,
};

/// The system allocator, noting the largest allocation made while `MEASURING`.
struct Measured;

static MEASURING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    if MEASURING.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Measured {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Measured = Measured;

/// Runs `read` on `data`, checking that no single allocation is out of proportion to it.
fn measured<'a, T>(data: &'a [u8], read: impl FnOnce(&'a [u8]) -> T) -> T {
    LARGEST.store(0, Ordering::Relaxed);
    MEASURING.store(true, Ordering::Relaxed);
    let result = read(data);
    MEASURING.store(false, Ordering::Relaxed);
    let largest = LARGEST.load(Ordering::Relaxed);
    let limit = 2 * data.len() + 64 * 1024;
    assert!(
        largest <= limit,
        "reading {} bytes allocated {largest} at once",
        data.len()
    );
    result
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ivf(data);
    ogg(data);
    let fixed = fix_ogg_checksums(data);
    if fixed != data {
        ogg(&fixed);
    }
});

/// Every frame up to the end or the first error. Each frame takes at least 13 bytes of
/// input, so a reader still yielding frames past that bound reads nothing: a hang.
fn read_ivf(data: &[u8]) -> Option<(IvfReader<&[u8]>, Vec<IvfFrame>, bool)> {
    let mut reader = IvfReader::new(data).ok()?;
    let mut frames = Vec::new();
    let clean = loop {
        match reader.next_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => break true,
            Err(_) => break false,
        }
        assert!(frames.len() <= data.len() / 13, "frames out of nothing");
    };
    Some((reader, frames, clean))
}

fn ivf(data: &[u8]) {
    let Some((reader, frames, _)) = measured(data, read_ivf) else {
        return;
    };
    let header = *reader.header();
    let Some(first) = write_ivf(&header, &frames) else {
        return;
    };
    let (_, again, clean) = read_ivf(&first).expect("a written IVF file reads");
    assert!(clean, "a written IVF file reads to its end");
    assert_eq!(again.len(), frames.len());
    let mut last_tick: Option<u128> = None;
    for (frame, back) in frames.iter().zip(&again) {
        assert_eq!(back.data, frame.data);
        assert_eq!(back.keyframe, frame.keyframe);
        // The writer stores the nearest 90 kHz tick, one past the previous at least.
        let nearest = (frame.timestamp.as_nanos() * 90_000 + 500_000_000) / 1_000_000_000;
        let tick = last_tick.map_or(nearest, |last| nearest.max(last + 1));
        last_tick = Some(tick);
        assert_eq!(back.timestamp, ticks_to_duration(tick, 90_000));
    }
    // What the writer wrote is a fixed point: written again, the same bytes.
    let second = write_ivf(&header, &again).expect("a written IVF file rewrites");
    assert!(first == second, "a second IVF round trip changed the file");
}

/// The frames written back as IVF; `None` when the writer refuses a timestamp too large
/// for its 90 kHz ticks (past 2^63), which is a typed error.
fn write_ivf(header: &unipeer::media::file::IvfHeader, frames: &[IvfFrame]) -> Option<Vec<u8>> {
    let mut writer = IvfWriter::new(
        Cursor::new(Vec::new()),
        header.codec,
        header.width,
        header.height,
    )
    .expect("the header of a codec the reader read");
    for frame in frames {
        match writer.write_frame(&frame.data, frame.timestamp) {
            Ok(()) => {}
            Err(FileError::Malformed(m)) if m.contains("timestamp") => return None,
            Err(e) => panic!("the writer refuses a frame the reader gave: {e}"),
        }
    }
    Some(writer.finish().expect("finish").into_inner())
}

fn ticks_to_duration(ticks: u128, rate: u128) -> Duration {
    let nanos = ticks * 1_000_000_000 / rate;
    Duration::new((nanos / 1_000_000_000) as u64, (nanos % 1_000_000_000) as u32)
}

/// Every packet up to the end or the first error; each takes at least one byte of input.
fn read_ogg(data: &[u8]) -> Option<(Vec<OggPacket>, bool)> {
    let mut reader = OggOpusReader::new(data).ok()?;
    let mut packets = Vec::new();
    let clean = loop {
        match reader.next_packet() {
            Ok(Some(packet)) => packets.push(packet),
            Ok(None) => break true,
            Err(_) => break false,
        }
        assert!(packets.len() <= data.len(), "packets out of nothing");
    };
    Some((packets, clean))
}

fn ogg(data: &[u8]) {
    let Some((packets, _)) = measured(data, read_ogg) else {
        return;
    };
    let Some(first) = write_ogg(&packets) else {
        return;
    };
    let (again, clean) = read_ogg(&first).expect("a written Ogg Opus file reads");
    assert!(clean, "a written Ogg Opus file reads to its end");
    assert_eq!(again.len(), packets.len());
    // The writer counts from the first packet, in 48 kHz samples (rounded to the nearest),
    // and never goes back: a packet starts where it says or where the previous one ended.
    let origin = packets.first().map_or(Duration::ZERO, |p| p.timestamp);
    let mut end = 0u128;
    for (packet, back) in packets.iter().zip(&again) {
        assert_eq!(back.data, packet.data);
        assert_eq!(back.duration, packet.duration);
        let offset = packet.timestamp.saturating_sub(origin).as_nanos();
        let start = ((offset * 48_000 + 500_000_000) / 1_000_000_000).max(end);
        assert_eq!(back.timestamp, ticks_to_duration(start, 48_000));
        end = start + (packet.duration.as_nanos() * 48_000 + 500_000_000) / 1_000_000_000;
    }
    let second = write_ogg(&again).expect("a written Ogg Opus file rewrites");
    assert!(first == second, "a second Ogg Opus round trip changed the file");
}

/// The packets written back as Ogg Opus; `None` when the writer refuses a timestamp too
/// large for a granule position (past 2^63), which is a typed error.
fn write_ogg(packets: &[OggPacket]) -> Option<Vec<u8>> {
    let mut writer = OggOpusWriter::new(Vec::new()).expect("the headers");
    for packet in packets {
        match writer.write_packet(&packet.data, packet.timestamp) {
            Ok(()) => {}
            Err(FileError::Malformed(m)) if m.contains("timestamp") => return None,
            Err(e) => panic!("the writer refuses a packet the reader gave: {e}"),
        }
    }
    Some(writer.finish().expect("finish"))
}

/// The input with the CRC of every page recomputed, as far as the pages' own lengths
/// go (what follows is left as it is).
fn fix_ogg_checksums(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut at = 0;
    while out.len() >= at + 27 && &out[at..at + 4] == b"OggS" {
        let segments = usize::from(out[at + 26]);
        let Some(lacing) = out.get(at + 27..at + 27 + segments) else {
            break;
        };
        let len = 27 + segments + lacing.iter().map(|&l| usize::from(l)).sum::<usize>();
        let Some(page) = out.get_mut(at..at + len) else {
            break;
        };
        page[22..26].fill(0);
        let crc = ogg_crc(page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        at += len;
    }
    out
}

/// Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial value 0).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
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
