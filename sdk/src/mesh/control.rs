//! The mesh's own channel on every link: a pre-negotiated data channel that carries the
//! one thing the mesh needs to tell a linked peer outside signaling, its new signaling id
//! after it re-joined the server (see `roster.rs`). Nothing is sent on it otherwise.

use serde::{Deserialize, Serialize};
use unipeer_core::DataChannelInit;

/// The control channel's stream id. Application channels use ids from 0 up, so this one
/// sits at the top of the 1024 streams every browser negotiates.
pub(super) const CONTROL_ID: u16 = 1023;

/// The control channel's label.
pub(super) const CONTROL_LABEL: &str = "unipeer-mesh";

pub(super) fn init() -> DataChannelInit {
    DataChannelInit {
        ordered: true,
        protocol: "unipeer-mesh/1".into(),
        negotiated: Some(CONTROL_ID),
        ..Default::default()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    /// The sender's signaling id is now `peer_id`.
    PeerId { peer_id: String },
}

/// The announcement of a new signaling id.
pub(super) fn announce(peer_id: &str) -> String {
    let message = Control::PeerId {
        peer_id: peer_id.to_string(),
    };
    serde_json::to_string(&message).unwrap_or_default()
}

/// The signaling id a control message announces, if it is one (anything else is ignored).
pub(super) fn parse(text: &str) -> Option<String> {
    match serde_json::from_str(text).ok()? {
        Control::PeerId { peer_id } if !peer_id.is_empty() => Some(peer_id),
        Control::PeerId { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(parse(&announce("p-7")), Some("p-7".into()));
        assert_eq!(announce("x"), r#"{"type":"peer_id","peer_id":"x"}"#);
        for bad in [
            "",
            "{",
            r#"{"type":"peer_id"}"#,
            r#"{"type":"peer_id","peer_id":""}"#,
            r#"{"type":"bye"}"#,
            "[]",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
