//! The payloads the SDK puts in `signal` frames, mapped to and from unipeer's values.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unipeer_core::{IceCandidate, SdpType, SessionDescription};

use super::FrameError;

/// What one peer signals to another: a description, a trickled candidate, or the end of
/// its candidates.
///
/// On the wire (the `payload` of a `signal` frame):
/// `{"kind":"description","type":"offer"|"answer","sdp":"..."}`,
/// `{"kind":"candidate","candidate":"candidate:...","sdpMid":"0","sdpMLineIndex":0}`,
/// `{"kind":"end_of_candidates"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalPayload {
    /// An offer or an answer.
    Description(SessionDescription),
    /// One trickled ICE candidate.
    Candidate(IceCandidate),
    /// The sender has no more candidates.
    EndOfCandidates,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Wire {
    Description {
        #[serde(rename = "type")]
        sdp_type: WireSdpType,
        sdp: String,
    },
    Candidate {
        candidate: String,
        #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        #[serde(
            rename = "sdpMLineIndex",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        sdp_m_line_index: Option<u16>,
    },
    EndOfCandidates,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WireSdpType {
    Offer,
    Answer,
}

const KINDS: [&str; 3] = ["description", "candidate", "end_of_candidates"];

impl SignalPayload {
    /// The payload as the JSON value to put in a `signal` frame.
    pub fn to_json(&self) -> Value {
        let wire = match self {
            SignalPayload::Description(d) => Wire::Description {
                sdp_type: match d.kind {
                    SdpType::Offer => WireSdpType::Offer,
                    SdpType::Answer => WireSdpType::Answer,
                },
                sdp: d.sdp.clone(),
            },
            SignalPayload::Candidate(c) => Wire::Candidate {
                candidate: c.candidate.clone(),
                sdp_mid: c.sdp_mid.clone(),
                sdp_m_line_index: c.sdp_m_line_index,
            },
            SignalPayload::EndOfCandidates => Wire::EndOfCandidates,
        };
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_value(wire).unwrap_or(Value::Null)
    }

    /// Reads a payload from a `signal` frame. Unknown fields are ignored; an unknown
    /// `kind` is [`FrameError::UnknownKind`].
    ///
    /// ```
    /// use unipeer::signaling::SignalPayload;
    /// let json = serde_json::json!({"kind": "candidate", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
    ///                               "sdpMid": "0", "sdpMLineIndex": 0});
    /// let SignalPayload::Candidate(c) = SignalPayload::from_json(&json)? else { unreachable!() };
    /// assert_eq!(c.sdp_mid.as_deref(), Some("0"));
    /// # Ok::<(), unipeer::signaling::FrameError>(())
    /// ```
    pub fn from_json(value: &Value) -> Result<Self, FrameError> {
        let kind = match value.get("kind") {
            Some(Value::String(k)) => k.clone(),
            _ => return Err(FrameError::MissingKind),
        };
        if !KINDS.contains(&kind.as_str()) {
            return Err(FrameError::UnknownKind(kind));
        }
        let wire: Wire = Wire::deserialize(value).map_err(|e| FrameError::InvalidPayload {
            kind,
            reason: e.to_string(),
        })?;
        Ok(match wire {
            Wire::Description { sdp_type, sdp } => SignalPayload::Description(match sdp_type {
                WireSdpType::Offer => SessionDescription::offer(sdp),
                WireSdpType::Answer => SessionDescription::answer(sdp),
            }),
            Wire::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
            } => SignalPayload::Candidate(IceCandidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
            }),
            Wire::EndOfCandidates => SignalPayload::EndOfCandidates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn candidate() -> IceCandidate {
        IceCandidate {
            candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        }
    }

    #[test]
    fn wire_format_is_protocol_v1() {
        assert_eq!(
            SignalPayload::Description(SessionDescription::offer("v=0\r\n")).to_json(),
            json!({"kind": "description", "type": "offer", "sdp": "v=0\r\n"})
        );
        assert_eq!(
            SignalPayload::Description(SessionDescription::answer("v=0")).to_json(),
            json!({"kind": "description", "type": "answer", "sdp": "v=0"})
        );
        assert_eq!(
            SignalPayload::Candidate(candidate()).to_json(),
            json!({"kind": "candidate",
                   "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
                   "sdpMid": "0", "sdpMLineIndex": 0})
        );
        assert_eq!(
            SignalPayload::EndOfCandidates.to_json(),
            json!({"kind": "end_of_candidates"})
        );
    }

    #[test]
    fn round_trips() {
        let payloads = [
            SignalPayload::Description(SessionDescription::offer("o")),
            SignalPayload::Description(SessionDescription::answer("a")),
            SignalPayload::Candidate(candidate()),
            SignalPayload::Candidate(IceCandidate {
                sdp_mid: None,
                sdp_m_line_index: None,
                ..candidate()
            }),
            SignalPayload::EndOfCandidates,
        ];
        for p in payloads {
            assert_eq!(SignalPayload::from_json(&p.to_json()), Ok(p));
        }
    }

    #[test]
    fn browser_nulls_and_extra_fields_are_accepted() {
        // What `JSON.stringify(event.candidate)` gives, plus fields a browser adds.
        let v = json!({"kind": "candidate", "candidate": "", "sdpMid": null,
                       "sdpMLineIndex": null, "usernameFragment": "abcd"});
        assert_eq!(
            SignalPayload::from_json(&v),
            Ok(SignalPayload::Candidate(IceCandidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_m_line_index: None
            }))
        );
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        assert_eq!(
            SignalPayload::from_json(&json!("offer")),
            Err(FrameError::MissingKind)
        );
        assert_eq!(
            SignalPayload::from_json(&json!({"type": "offer"})),
            Err(FrameError::MissingKind)
        );
        assert_eq!(
            SignalPayload::from_json(&json!({"kind": "hello"})),
            Err(FrameError::UnknownKind("hello".into()))
        );
        let bad = [
            (json!({"kind": "description", "sdp": "x"}), "type"),
            (json!({"kind": "description", "type": "offer"}), "sdp"),
            (
                json!({"kind": "description", "type": "rollback", "sdp": ""}),
                "rollback",
            ),
            (json!({"kind": "candidate"}), "candidate"),
            (
                json!({"kind": "candidate", "candidate": "c", "sdpMLineIndex": -1}),
                "-1",
            ),
            (
                json!({"kind": "candidate", "candidate": "c", "sdpMLineIndex": 70000}),
                "70000",
            ),
            (json!({"kind": "candidate", "candidate": 5}), "string"),
        ];
        for (v, needle) in bad {
            match SignalPayload::from_json(&v) {
                Err(FrameError::InvalidPayload { reason, .. }) => {
                    assert!(reason.contains(needle), "{v}: {reason}")
                }
                other => panic!("{v}: expected InvalidPayload, got {other:?}"),
            }
        }
    }

    #[test]
    fn errors_become_signaling_errors_that_say_what_to_do() {
        let e: unipeer_core::Error = FrameError::UnknownKind("x".into()).into();
        assert!(matches!(e, unipeer_core::Error::Signaling(ref m) if m.contains("protocol v1")));
    }
}
