//! Conversions between str0m's media types and unipeer's.

use std::time::Duration;

use str0m::format::Codec as StrCodec;
use str0m::media::{Direction, MediaKind as StrKind, MediaTime};
use unipeer_core::{Codec, MediaKind, TrackDirection};

pub(super) fn media_time_to_duration(t: MediaTime) -> Duration {
    let rate = u64::from(t.denom().max(1));
    let n = t.numer();
    Duration::from_secs(n / rate) + Duration::from_nanos((n % rate) * 1_000_000_000 / rate)
}

pub(super) fn duration_to_media_time(d: Duration, rate: u32) -> MediaTime {
    let ticks = d.as_nanos() * u128::from(rate) / 1_000_000_000;
    let freq = str0m::media::Frequency::new(rate)
        // Clock rates come from `Codec::clock_rate`: 48 000 or 90 000, never zero.
        .expect("a codec clock rate is not zero");
    MediaTime::new(u64::try_from(ticks).unwrap_or(u64::MAX), freq)
}

pub(super) fn to_str0m_kind(k: MediaKind) -> StrKind {
    match k {
        MediaKind::Audio => StrKind::Audio,
        MediaKind::Video => StrKind::Video,
    }
}

pub(super) fn from_str0m_kind(k: StrKind) -> MediaKind {
    if k.is_audio() {
        MediaKind::Audio
    } else {
        MediaKind::Video
    }
}

pub(super) fn to_str0m_dir(d: TrackDirection) -> Direction {
    match d {
        TrackDirection::SendRecv => Direction::SendRecv,
        TrackDirection::SendOnly => Direction::SendOnly,
        TrackDirection::RecvOnly => Direction::RecvOnly,
        TrackDirection::Inactive => Direction::Inactive,
    }
}

pub(super) fn from_str0m_dir(d: Direction) -> TrackDirection {
    match d {
        Direction::SendRecv => TrackDirection::SendRecv,
        Direction::SendOnly => TrackDirection::SendOnly,
        Direction::RecvOnly => TrackDirection::RecvOnly,
        Direction::Inactive => TrackDirection::Inactive,
    }
}

pub(super) fn from_str0m_codec(c: StrCodec) -> Option<Codec> {
    Some(match c {
        StrCodec::Opus => Codec::Opus,
        StrCodec::Vp8 => Codec::Vp8,
        StrCodec::Vp9 => Codec::Vp9,
        StrCodec::H264 => Codec::H264,
        StrCodec::Av1 => Codec::Av1,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_time_round_trips() {
        let d = Duration::from_millis(1234);
        assert_eq!(media_time_to_duration(duration_to_media_time(d, 90_000)), d);
        assert_eq!(media_time_to_duration(duration_to_media_time(d, 48_000)), d);
    }
}
