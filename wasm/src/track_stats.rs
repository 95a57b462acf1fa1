//! `TrackStats` from the browser's statistics: the transceiver's `sender.getStats()` and
//! `receiver.getStats()` reports, mapped field by field.
//!
//! | `TrackStats` | report entry (summed over entries of the type) |
//! |---|---|
//! | `packets_sent`, `bytes_sent` | `outbound-rtp` `packetsSent`, `bytesSent` (payload bytes) |
//! | `frames_sent` | video: `outbound-rtp` `framesSent` (else `framesEncoded`); audio: `packetsSent` (one Opus packet per frame, as natively) |
//! | `keyframe_requests_received` | `outbound-rtp` `pliCount` + `firCount` |
//! | `packets_received`, `bytes_received` | `inbound-rtp` `packetsReceived`, `bytesReceived` |
//! | `frames_received` | video: `inbound-rtp` `framesDecoded`; audio: `packetsReceived` |
//! | `keyframes_received` | video: `inbound-rtp` `keyFramesDecoded`; audio: as `frames_received` (every audio frame starts a decoder, as natively) |
//! | `packets_lost` | `inbound-rtp` `packetsLost` (negative values, duplicates, count as 0) |
//! | `jitter` | `inbound-rtp` `jitter` (seconds) |
//! | `keyframe_requests_sent` | `inbound-rtp` `pliCount` + `firCount` |
//! | `rtt`, `loss` | `remote-inbound-rtp` `roundTripTime` (else `remote-outbound-rtp`'s), `fractionLost` |

use std::time::Duration;

use js_sys::{Object, Reflect};
use unipeer_core::{MediaKind, TrackStats};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{call, JsError};
use crate::sys_media::{RtcRtpTransceiver, RtcStatsReport};

/// Reads both reports of `transceiver` and maps them.
pub(crate) async fn collect(
    transceiver: &RtcRtpTransceiver,
    kind: MediaKind,
) -> Result<TrackStats, JsError> {
    let sent = call(transceiver.sender().get_stats()).await?;
    let received = call(transceiver.receiver().get_stats()).await?;
    let mut stats = TrackStats::default();
    for entry in entries(&sent).chain(entries(&received)) {
        apply(&mut stats, kind, &entry);
    }
    Ok(stats)
}

/// The stats objects of a report (its values).
fn entries(report: &JsValue) -> impl Iterator<Item = Object> {
    let values = report
        .dyn_ref::<Object>()
        .map(|r| r.unchecked_ref::<RtcStatsReport>().values());
    values
        .into_iter()
        .flat_map(|it| it.into_iter().filter_map(|v| v.ok()))
        .filter_map(|v| v.dyn_into::<Object>().ok())
}

fn get(entry: &Object, key: &str) -> Option<f64> {
    Reflect::get(entry, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_f64())
        .filter(|v| v.is_finite())
}

/// A counter: absent, negative or not a number counts 0.
fn count(entry: &Object, key: &str) -> u64 {
    get(entry, key).map_or(0, |v| v.max(0.0) as u64)
}

fn seconds(entry: &Object, key: &str) -> Option<Duration> {
    get(entry, key)
        .filter(|v| *v >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Adds one report entry to `stats`. Each sender and receiver report also holds
/// transport, codec and candidate entries; only the RTP ones count.
fn apply(stats: &mut TrackStats, kind: MediaKind, entry: &Object) {
    let kind_of = |e: &Object| {
        Reflect::get(e, &JsValue::from_str("type"))
            .ok()
            .and_then(|t| t.as_string())
    };
    let Some(kind_name) = kind_of(entry) else {
        return;
    };
    let video = kind == MediaKind::Video;
    match kind_name.as_str() {
        "outbound-rtp" => {
            let packets = count(entry, "packetsSent");
            stats.packets_sent += packets;
            stats.bytes_sent += count(entry, "bytesSent");
            stats.frames_sent += if video {
                get(entry, "framesSent")
                    .map(|_| count(entry, "framesSent"))
                    .unwrap_or_else(|| count(entry, "framesEncoded"))
            } else {
                packets
            };
            stats.keyframe_requests_received += count(entry, "pliCount") + count(entry, "firCount");
        }
        "inbound-rtp" => {
            let packets = count(entry, "packetsReceived");
            stats.packets_received += packets;
            stats.bytes_received += count(entry, "bytesReceived");
            let (frames, keyframes) = if video {
                (
                    count(entry, "framesDecoded"),
                    count(entry, "keyFramesDecoded"),
                )
            } else {
                (packets, packets)
            };
            stats.frames_received += frames;
            stats.keyframes_received += keyframes;
            stats.packets_lost += count(entry, "packetsLost");
            stats.keyframe_requests_sent += count(entry, "pliCount") + count(entry, "firCount");
            if let Some(j) = seconds(entry, "jitter") {
                stats.jitter = Some(j);
            }
        }
        "remote-inbound-rtp" => {
            if let Some(rtt) = seconds(entry, "roundTripTime") {
                stats.rtt = Some(rtt);
            }
            if let Some(loss) = get(entry, "fractionLost") {
                stats.loss = Some(loss.clamp(0.0, 1.0) as f32);
            }
        }
        // The receiving side's round trip, only when the sending side's is unknown.
        "remote-outbound-rtp" if stats.rtt.is_none() => {
            stats.rtt = seconds(entry, "roundTripTime");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn entry(fields: &[(&str, JsValue)]) -> Object {
        let o = Object::new();
        for (k, v) in fields {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        }
        o
    }

    fn n(v: f64) -> JsValue {
        JsValue::from_f64(v)
    }

    #[wasm_bindgen_test]
    fn video_entries_map_to_track_stats() {
        let mut s = TrackStats::default();
        let out = entry(&[
            ("type", "outbound-rtp".into()),
            ("packetsSent", n(100.0)),
            ("bytesSent", n(90_000.0)),
            ("framesEncoded", n(31.0)),
            ("framesSent", n(30.0)),
            ("pliCount", n(2.0)),
            ("firCount", n(1.0)),
        ]);
        let inbound = entry(&[
            ("type", "inbound-rtp".into()),
            ("packetsReceived", n(80.0)),
            ("bytesReceived", n(70_000.0)),
            ("framesDecoded", n(25.0)),
            ("keyFramesDecoded", n(2.0)),
            ("packetsLost", n(-1.0)),
            ("jitter", n(0.004)),
            ("pliCount", n(1.0)),
        ]);
        let remote = entry(&[
            ("type", "remote-inbound-rtp".into()),
            ("roundTripTime", n(0.012)),
            ("fractionLost", n(0.25)),
        ]);
        let codec = entry(&[("type", "codec".into()), ("payloadType", n(96.0))]);
        for e in [&out, &inbound, &remote, &codec] {
            apply(&mut s, MediaKind::Video, e);
        }
        assert_eq!(
            (s.packets_sent, s.bytes_sent, s.frames_sent),
            (100, 90_000, 30)
        );
        assert_eq!(s.keyframe_requests_received, 3);
        assert_eq!((s.packets_received, s.bytes_received), (80, 70_000));
        assert_eq!((s.frames_received, s.keyframes_received), (25, 2));
        assert_eq!(s.packets_lost, 0, "negative loss (duplicates) counts 0");
        assert_eq!(s.jitter, Some(Duration::from_millis(4)));
        assert_eq!(s.keyframe_requests_sent, 1);
        assert_eq!(s.rtt, Some(Duration::from_millis(12)));
        assert_eq!(s.loss, Some(0.25));
    }

    #[wasm_bindgen_test]
    fn audio_counts_packets_as_frames() {
        let mut s = TrackStats::default();
        apply(
            &mut s,
            MediaKind::Audio,
            &entry(&[("type", "outbound-rtp".into()), ("packetsSent", n(50.0))]),
        );
        apply(
            &mut s,
            MediaKind::Audio,
            &entry(&[("type", "inbound-rtp".into()), ("packetsReceived", n(40.0))]),
        );
        assert_eq!(s.frames_sent, 50);
        assert_eq!((s.frames_received, s.keyframes_received), (40, 40));
        assert_eq!(s.rtt, None);
    }

    #[wasm_bindgen_test]
    fn video_without_frames_sent_uses_frames_encoded() {
        let mut s = TrackStats::default();
        apply(
            &mut s,
            MediaKind::Video,
            &entry(&[("type", "outbound-rtp".into()), ("framesEncoded", n(7.0))]),
        );
        assert_eq!(s.frames_sent, 7);
    }
}
