//! Protocol v1 frames: the JSON text messages on the signaling WebSocket.
//!
//! Parsing is strict about what it needs and lenient about the rest: unknown fields are
//! ignored, an unknown frame `type` is a distinct error ([`FrameError::UnknownType`]) that a
//! client skips, and nothing in a frame can make the parser panic.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FrameError;

/// A frame the server sends to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The client joined the room: its id, and the peers that were there before it.
    Welcome {
        /// This client's id in the room (new on every join).
        peer_id: String,
        /// The ids of the peers already in the room.
        peers: Vec<String>,
    },
    /// Another peer joined the room.
    PeerJoined {
        /// The newcomer's id.
        peer_id: String,
    },
    /// A peer left the room (its WebSocket closed).
    PeerLeft {
        /// The id of the peer that left.
        peer_id: String,
    },
    /// A signal from another peer of the room; `from` is stamped by the server.
    Signal {
        /// The sender's id.
        from: String,
        /// The sender's payload, as it sent it (see [`SignalPayload`](super::SignalPayload)).
        payload: Value,
    },
    /// The server refused something the client did.
    Error {
        /// A machine-readable code.
        code: String,
        /// What went wrong, for people.
        message: String,
    },
}

/// The `type` values of [`ServerFrame`].
const SERVER_TYPES: [&str; 5] = ["welcome", "peer_joined", "peer_left", "signal", "error"];

/// A frame a client sends to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Relay `payload` to the peer `to` of the same room.
    Signal {
        /// The recipient's id.
        to: String,
        /// The payload, delivered as is.
        payload: Value,
    },
}

const CLIENT_TYPES: [&str; 1] = ["signal"];

impl ServerFrame {
    /// Parses one text frame.
    ///
    /// ```
    /// use unipeer::signaling::{FrameError, ServerFrame};
    /// let f = ServerFrame::parse(r#"{"type":"peer_left","peer_id":"p7","extra":1}"#)?;
    /// assert_eq!(f, ServerFrame::PeerLeft { peer_id: "p7".into() });
    /// assert!(matches!(ServerFrame::parse(r#"{"type":"news"}"#), Err(FrameError::UnknownType(_))));
    /// # Ok::<(), FrameError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        parse_tagged(text, &SERVER_TYPES)
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

impl ClientFrame {
    /// Parses one text frame (what a server does with a client's frame).
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        parse_tagged(text, &CLIENT_TYPES)
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

fn to_json(value: &impl Serialize) -> String {
    // Serialising these types cannot fail: string keys, no maps with non-string keys.
    serde_json::to_string(value).unwrap_or_default()
}

fn parse_tagged<T: serde::de::DeserializeOwned>(
    text: &str,
    known: &[&str],
) -> Result<T, FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
    let Some(object) = value.as_object() else {
        return Err(FrameError::Json("a frame must be a JSON object".into()));
    };
    let ty = match object.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(FrameError::MissingType),
        None => return Err(FrameError::MissingType),
    };
    if !known.contains(&ty.as_str()) {
        return Err(FrameError::UnknownType(ty));
    }
    serde_json::from_value(value).map_err(|e| FrameError::Invalid {
        frame_type: ty,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_server_frame_round_trips() {
        let frames = [
            ServerFrame::Welcome {
                peer_id: "a".into(),
                peers: vec!["b".into(), "c".into()],
            },
            ServerFrame::PeerJoined {
                peer_id: "b".into(),
            },
            ServerFrame::PeerLeft {
                peer_id: "b".into(),
            },
            ServerFrame::Signal {
                from: "b".into(),
                payload: json!({"kind": "end_of_candidates"}),
            },
            ServerFrame::Error {
                code: "rate_limited".into(),
                message: "slow down".into(),
            },
        ];
        for f in frames {
            assert_eq!(ServerFrame::parse(&f.to_json()), Ok(f));
        }
    }

    #[test]
    fn wire_format_is_protocol_v1() {
        let w = ServerFrame::parse(r#"{"type":"welcome","peer_id":"x","peers":[]}"#).unwrap();
        assert_eq!(
            w,
            ServerFrame::Welcome {
                peer_id: "x".into(),
                peers: vec![]
            }
        );
        let c = ClientFrame::Signal {
            to: "b".into(),
            payload: json!({"kind": "end_of_candidates"}),
        };
        let v: Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"type": "signal", "to": "b", "payload": {"kind": "end_of_candidates"}})
        );
        assert_eq!(ClientFrame::parse(&c.to_json()), Ok(c));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let f = ServerFrame::parse(
            r#"{"type":"signal","from":"b","payload":{"kind":"x"},"ts":12,"room":"r"}"#,
        )
        .unwrap();
        assert!(matches!(f, ServerFrame::Signal { ref from, .. } if from == "b"));
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        assert!(matches!(ServerFrame::parse("{"), Err(FrameError::Json(_))));
        assert!(matches!(ServerFrame::parse(""), Err(FrameError::Json(_))));
        assert!(matches!(
            ServerFrame::parse("[1]"),
            Err(FrameError::Json(_))
        ));
        assert!(matches!(
            ServerFrame::parse("\"welcome\""),
            Err(FrameError::Json(_))
        ));
        assert_eq!(ServerFrame::parse("{}"), Err(FrameError::MissingType));
        assert_eq!(
            ServerFrame::parse(r#"{"type":7}"#),
            Err(FrameError::MissingType)
        );
        assert_eq!(
            ServerFrame::parse(r#"{"type":"presence","peer_id":"a"}"#),
            Err(FrameError::UnknownType("presence".into()))
        );
        // Client frames are not server frames, and the other way round.
        assert!(matches!(
            ServerFrame::parse(r#"{"type":"signal","to":"b","payload":{}}"#),
            Err(FrameError::Invalid { .. })
        ));
        assert!(matches!(
            ClientFrame::parse(r#"{"type":"welcome","peer_id":"a","peers":[]}"#),
            Err(FrameError::UnknownType(_))
        ));
    }

    #[test]
    fn missing_and_mistyped_fields_name_the_frame_and_field() {
        let cases = [
            (r#"{"type":"welcome","peer_id":"a"}"#, "welcome", "peers"),
            (r#"{"type":"welcome","peers":[]}"#, "welcome", "peer_id"),
            (
                r#"{"type":"welcome","peer_id":"a","peers":[1]}"#,
                "welcome",
                "string",
            ),
            (r#"{"type":"peer_joined"}"#, "peer_joined", "peer_id"),
            (
                r#"{"type":"peer_left","peer_id":null}"#,
                "peer_left",
                "string",
            ),
            (r#"{"type":"signal","from":"a"}"#, "signal", "payload"),
            (r#"{"type":"error","code":"x"}"#, "error", "message"),
        ];
        for (text, ty, needle) in cases {
            match ServerFrame::parse(text) {
                Err(FrameError::Invalid { frame_type, reason }) => {
                    assert_eq!(frame_type, ty, "{text}");
                    assert!(reason.contains(needle), "{text}: {reason}");
                }
                other => panic!("{text}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        let inputs = [
            "\u{0}",
            "{\"type\":\"welcome\",\"peer_id\":\"\u{202e}\",\"peers\":[\"\"]}",
            &"[".repeat(10_000),
            "{\"type\":\"signal\",\"from\":\"a\",\"payload\":1e999999}",
            "{\"type\":\"welcome\",\"type\":\"error\"}",
        ];
        for text in inputs {
            let _ = ServerFrame::parse(text);
            let _ = ClientFrame::parse(text);
        }
    }
}
