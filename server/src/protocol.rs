//! Wire format of signaling protocol v1 (see `docs/signaling.md`).
//!
//! The frame types are crate-private; the constants (URL prefix, close codes and
//! reasons, error codes) are public so embedders and tests can match on them.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Path prefix of the room endpoint: a client connects to `PATH_PREFIX + room`.
pub const PATH_PREFIX: &str = "/v1/rooms/";

/// Longest accepted room name, in bytes.
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// Number of consecutive malformed frames after which a connection is closed.
pub const MAX_CONSECUTIVE_BAD_FRAMES: u32 = 10;

/// WebSocket close codes the server sends.
pub mod close_code {
    /// Normal closure (never sent by the server on its own initiative).
    pub const NORMAL: u16 = 1000;
    /// Server shutting down, or a client that stopped answering pings.
    pub const GOING_AWAY: u16 = 1001;
    /// The client sent a binary frame; only JSON text frames are accepted.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Policy violation: oversized frame, rate limit, bad token, invalid room, repeated bad frames.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// Unexpected server error.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// Capacity: room full, too many rooms. The client may retry later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// Reasons carried in the server's close frames (exact strings, see `docs/signaling.md`).
pub mod close_reason {
    /// Sent with 1001 during graceful shutdown.
    pub const SHUTTING_DOWN: &str = "server shutting down";
    /// Sent with 1001 when a client did not answer a ping in time.
    pub const PING_TIMEOUT: &str = "ping timeout";
    /// Sent with 1003 when the client sent a binary frame.
    pub const BINARY_NOT_SUPPORTED: &str = "binary frames are not supported";
    /// Sent with 1008 when a frame (or message) exceeded the size limit.
    pub const FRAME_TOO_LARGE: &str = "frame too large";
    /// Sent with 1008 when the client exceeded the frame rate limit.
    pub const RATE_LIMITED: &str = "rate limit exceeded";
    /// Sent with 1008 after too many consecutive malformed frames.
    pub const TOO_MANY_BAD_FRAMES: &str = "too many bad frames";
    /// Sent with 1008 when the room name is invalid.
    pub const INVALID_ROOM: &str = "invalid room name";
    /// Sent with 1008 when the server requires a token and none was given.
    pub const TOKEN_REQUIRED: &str = "token required";
    /// Sent with 1008 when the token is malformed or its signature does not verify.
    pub const TOKEN_INVALID: &str = "invalid token";
    /// Sent with 1008 when the token has expired.
    pub const TOKEN_EXPIRED: &str = "token expired";
    /// Sent with 1008 when the token was minted for another room.
    pub const TOKEN_WRONG_ROOM: &str = "token not valid for this room";
    /// Sent with 1013 when the room already has the maximum number of peers.
    pub const ROOM_FULL: &str = "room full";
    /// Sent with 1013 when the server already hosts the maximum number of rooms.
    pub const TOO_MANY_ROOMS: &str = "too many rooms";
}

/// `code` values of `error` frames. The socket stays open after each of them.
pub mod error_code {
    /// The frame was not valid JSON, had an unknown `type`, or lacked a required field.
    pub const BAD_FRAME: &str = "bad_frame";
    /// The `to` of a `signal` is not a peer currently in the room (or is the sender itself).
    pub const UNKNOWN_PEER: &str = "unknown_peer";
}

/// A frame sent by a client.
#[derive(Debug)]
pub(crate) enum ClientFrame {
    /// Relay `payload` to peer `to`.
    Signal {
        /// Destination peer id.
        to: String,
        /// Opaque JSON value, relayed byte for byte.
        payload: Box<RawValue>,
    },
}

/// Every field any client frame may carry. Unknown fields (including a client-supplied
/// `from`) are ignored. (A struct rather than a tagged enum: serde cannot buffer a
/// `RawValue` inside an internally tagged enum.)
#[derive(Deserialize)]
struct RawClientFrame {
    #[serde(rename = "type")]
    kind: String,
    to: Option<String>,
    /// `Some` whenever the field is present, even when it is `null`.
    #[serde(default, deserialize_with = "present")]
    payload: Option<Box<RawValue>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// A frame sent by the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerFrame<'a> {
    /// First frame on every joined connection.
    Welcome {
        peer_id: &'a str,
        peers: Vec<&'a str>,
    },
    /// Another peer joined the room.
    PeerJoined { peer_id: &'a str },
    /// A peer left the room.
    PeerLeft { peer_id: &'a str },
    /// A relayed signal; `from` is stamped by the server.
    Signal {
        from: &'a str,
        payload: &'a RawValue,
    },
    /// A non-fatal error.
    Error { code: &'a str, message: &'a str },
}

impl ServerFrame<'_> {
    /// Serializes the frame to its JSON text.
    pub(crate) fn to_json(&self) -> String {
        // Serializing these types cannot fail: all keys are strings and RawValue is valid JSON.
        serde_json::to_string(self).expect("server frames always serialize")
    }
}

/// The client-frame parser, for the fuzz targets (`fuzz/`; `cargo fuzz` sets `fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_client_frame(text: &str) -> bool {
    parse_client_frame(text).is_ok()
}

/// Parses one client text frame. The error message is meant for the client itself.
pub(crate) fn parse_client_frame(text: &str) -> Result<ClientFrame, String> {
    let raw: RawClientFrame = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("invalid frame: {e}"),
        _ => format!("malformed JSON: {e}"),
    })?;
    match raw.kind.as_str() {
        "signal" => match (raw.to, raw.payload) {
            (Some(to), Some(payload)) => Ok(ClientFrame::Signal { to, payload }),
            (None, _) => Err("invalid frame: signal without \"to\"".into()),
            (_, None) => Err("invalid frame: signal without \"payload\"".into()),
        },
        other => Err(format!(
            "invalid frame: unknown type {:?}",
            truncate(other, 32)
        )),
    }
}

/// At most `max` bytes of `s`, cut on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether `room` is a valid room name: 1..=64 bytes of `[A-Za-z0-9_.-]`, and not `.` or `..`
/// (which browsers would normalize away as path segments).
pub fn is_valid_room_name(room: &str) -> bool {
    (1..=MAX_ROOM_NAME_LEN).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && room != "."
        && room != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert!(is_valid_room_name("a"));
        assert!(is_valid_room_name("Room_1.test-2"));
        assert!(is_valid_room_name(&"x".repeat(64)));
        assert!(!is_valid_room_name(""));
        assert!(!is_valid_room_name(&"x".repeat(65)));
        assert!(!is_valid_room_name("a b"));
        assert!(!is_valid_room_name("a/b"));
        assert!(!is_valid_room_name("a|b"));
        assert!(!is_valid_room_name("é"));
        assert!(!is_valid_room_name(".."));
        assert!(!is_valid_room_name("."));
        assert!(is_valid_room_name("..."));
    }

    #[test]
    fn parses_signal_and_ignores_from() {
        let f = parse_client_frame(
            r#"{"type":"signal","from":"evil","to":"ab","payload":{"x":[1, 2]}}"#,
        )
        .unwrap();
        let ClientFrame::Signal { to, payload } = f;
        assert_eq!(to, "ab");
        assert_eq!(payload.get(), r#"{"x":[1, 2]}"#);
    }

    #[test]
    fn rejects_bad_frames() {
        assert!(parse_client_frame("{")
            .unwrap_err()
            .starts_with("malformed JSON"));
        assert!(parse_client_frame(r#"{"type":"nope"}"#)
            .unwrap_err()
            .starts_with("invalid frame"));
        assert!(parse_client_frame(r#"{"type":"signal","to":"a"}"#).is_err());
        assert!(parse_client_frame(r#"{"type":"signal","payload":1}"#).is_err());
        assert!(parse_client_frame(r#"[1]"#).is_err());
        assert!(parse_client_frame(r#"{"type":"signal","to":1,"payload":1}"#).is_err());
        assert!(parse_client_frame(r#"{"type":"signal","to":"a","to":"b","payload":1}"#).is_err());
        assert!(parse_client_frame(r#"{"type":1,"to":"a","payload":1}"#).is_err());
        let ClientFrame::Signal { payload, .. } =
            parse_client_frame(r#"{"type":"signal","to":"a","payload":null}"#).unwrap();
        assert_eq!(payload.get(), "null");
    }

    #[test]
    fn serializes_server_frames() {
        let payload = RawValue::from_string(r#"{"kind":"end_of_candidates"}"#.into()).unwrap();
        assert_eq!(
            ServerFrame::Signal {
                from: "0123456789abcdef",
                payload: &payload
            }
            .to_json(),
            r#"{"type":"signal","from":"0123456789abcdef","payload":{"kind":"end_of_candidates"}}"#
        );
        assert_eq!(
            ServerFrame::Welcome {
                peer_id: "a",
                peers: vec!["b", "c"]
            }
            .to_json(),
            r#"{"type":"welcome","peer_id":"a","peers":["b","c"]}"#
        );
        assert_eq!(
            ServerFrame::Error {
                code: error_code::UNKNOWN_PEER,
                message: "m"
            }
            .to_json(),
            r#"{"type":"error","code":"unknown_peer","message":"m"}"#
        );
    }
}
