//! What a mesh is configured with, and the room URL built from it.

use unipeer_core::{DataChannelInit, Error, PeerConfig, Result};

use super::control::{CONTROL_ID, CONTROL_LABEL};
use crate::signaling::ReconnectPolicy;

/// How a [`Mesh`](super::Mesh) connects: the peer settings for every link, the data
/// channels every link has, the room token and the signaling reconnect policy.
///
/// ```
/// use unipeer::{DataChannelInit, MeshConfig};
/// // Channel 0: reliable and ordered; channel 1: unordered, no retransmissions.
/// let config = MeshConfig {
///     channels: vec![
///         ("chat".into(), DataChannelInit::default()),
///         ("state".into(), DataChannelInit { ordered: false, max_retransmits: Some(0), ..Default::default() }),
///     ],
///     ..Default::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MeshConfig {
    /// Settings for every peer connection of the mesh (ICE servers, host candidates,
    /// limits). Its `failed_timeout` also bounds how long a new link may take to connect:
    /// a link still not connected then ends with [`Error::ConnectFailed`].
    pub peer: PeerConfig,
    /// The data channels every link has, in order: channel `i` is pre-negotiated with
    /// stream id `i` (the mesh sets `negotiated`; any value given is replaced), so it opens
    /// with the connection on both ends. Every member of a room must list the same
    /// channels. Default: one reliable, ordered channel `"data"`. At most 1023.
    pub channels: Vec<(String, DataChannelInit)>,
    /// The room token, for servers that require one (sent as `?token=`).
    pub token: Option<String>,
    /// How signaling reconnects after its connection drops.
    pub reconnect: ReconnectPolicy,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            peer: PeerConfig::default(),
            channels: vec![("data".into(), DataChannelInit::default())],
            token: None,
            reconnect: ReconnectPolicy::default(),
        }
    }
}

impl MeshConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        self.peer.validate()?;
        self.reconnect.validate()?;
        if self.channels.len() > usize::from(CONTROL_ID) {
            return Err(Error::InvalidConfig(format!(
                "a mesh has at most {CONTROL_ID} channels"
            )));
        }
        for (label, init) in &self.channels {
            init.validate()?;
            if label == CONTROL_LABEL {
                return Err(Error::InvalidConfig(format!(
                    "the channel label {CONTROL_LABEL:?} is reserved for the mesh"
                )));
            }
        }
        Ok(())
    }

    /// The channel list with the negotiated ids set.
    pub(super) fn negotiated_channels(&self) -> Vec<(String, DataChannelInit)> {
        self.channels
            .iter()
            .enumerate()
            .map(|(i, (label, init))| {
                let mut init = init.clone();
                // Validated: fewer than CONTROL_ID channels, so the index fits.
                init.negotiated = u16::try_from(i).ok();
                (label.clone(), init)
            })
            .collect()
    }
}

/// `{base}/v1/rooms/{room}` with `?token=` when there is one; room and token are
/// percent-encoded.
pub(super) fn room_url(base: &str, room: &str, token: Option<&str>) -> Result<String> {
    let base = base.trim_end_matches('/');
    if !(base.starts_with("ws://") || base.starts_with("wss://")) {
        return Err(Error::InvalidConfig(format!(
            "the signaling URL must look like ws://HOST:PORT, got {base:?}"
        )));
    }
    if room.is_empty() {
        return Err(Error::InvalidConfig("the room name is empty".into()));
    }
    let mut url = format!("{base}/v1/rooms/{}", encode(room));
    if let Some(token) = token {
        url.push_str("?token=");
        url.push_str(&encode(token));
    }
    Ok(url)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            room_url("ws://127.0.0.1:8787", "lobby", None).unwrap(),
            "ws://127.0.0.1:8787/v1/rooms/lobby"
        );
        assert_eq!(
            room_url("ws://h:1/", "a b/c", Some("t+/=")).unwrap(),
            "ws://h:1/v1/rooms/a%20b%2Fc?token=t%2B%2F%3D"
        );
        assert!(room_url("http://h", "r", None).is_err());
        assert!(room_url("ws://h", "", None).is_err());
    }

    #[test]
    fn channels_get_their_index_as_id() {
        let config = MeshConfig {
            channels: vec![
                (
                    "a".into(),
                    DataChannelInit {
                        negotiated: Some(9),
                        ..Default::default()
                    },
                ),
                ("b".into(), DataChannelInit::default()),
            ],
            ..Default::default()
        };
        let ids: Vec<_> = config
            .negotiated_channels()
            .iter()
            .map(|(_, i)| i.negotiated)
            .collect();
        assert_eq!(ids, vec![Some(0), Some(1)]);
    }

    #[test]
    fn validation() {
        assert!(MeshConfig::default().validate().is_ok());
        let too_many = MeshConfig {
            channels: vec![("c".into(), DataChannelInit::default()); 1024],
            ..Default::default()
        };
        assert!(too_many.validate().is_err());
        let reserved = MeshConfig {
            channels: vec![(CONTROL_LABEL.into(), DataChannelInit::default())],
            ..Default::default()
        };
        assert!(reserved.validate().is_err());
        let bad = MeshConfig {
            channels: vec![(
                "x".into(),
                DataChannelInit {
                    max_retransmits: Some(1),
                    max_packet_life_time: Some(1),
                    ..Default::default()
                },
            )],
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
