use std::net::IpAddr;
use std::time::Duration;

/// How a peer connects: ICE servers, where to gather host candidates, data-channel limits.
///
/// ```
/// use unipeer_core::{HostCandidates, PeerConfig};
/// // Loopback only: both peers on this machine (what tests and the demo use).
/// let config = PeerConfig { host_candidates: HostCandidates::Loopback, ..Default::default() };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    /// STUN and TURN servers, in the browser's `RTCIceServer` shape.
    pub ice_servers: Vec<IceServer>,
    /// Where the native backend gathers host candidates. The browser gathers its own and
    /// ignores this.
    pub host_candidates: HostCandidates,
    /// Data-channel limits: message size and send buffering.
    pub data_channel: DataChannelLimits,
    /// How long the connection may stay `Disconnected` before it is declared `Failed`
    /// (default 30 s). Natively a connected peer that hears nothing from the remote for
    /// 5 s is `Disconnected` (advisory: traffic coming back makes it `Connected` again),
    /// and once `Failed` it sends nothing more to the remote (consent freshness, RFC 7675).
    /// The browser decides both itself.
    pub failed_timeout: Duration,
    /// Media options: statistics refresh and receive queues.
    pub media: crate::MediaConfig,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            host_candidates: HostCandidates::default(),
            data_channel: DataChannelLimits::default(),
            failed_timeout: Duration::from_secs(30),
            media: crate::MediaConfig::default(),
        }
    }
}

impl PeerConfig {
    /// Checks that the values can work together.
    pub fn validate(&self) -> crate::Result<()> {
        let dc = &self.data_channel;
        if dc.max_message_size < 1024 {
            return Err(crate::Error::InvalidConfig(
                "data_channel.max_message_size must be at least 1024 bytes".into(),
            ));
        }
        if dc.high_water_mark == 0 {
            return Err(crate::Error::InvalidConfig(
                "data_channel.high_water_mark must be above 0".into(),
            ));
        }
        if let HostCandidates::Addresses(a) = &self.host_candidates {
            if a.is_empty() {
                return Err(crate::Error::InvalidConfig(
                    "host_candidates lists no address; give at least one or use AllInterfaces"
                        .into(),
                ));
            }
        }
        if self.media.receive_queue == 0 {
            return Err(crate::Error::InvalidConfig(
                "media.receive_queue must be above 0".into(),
            ));
        }
        if self.media.stats_interval == Some(Duration::ZERO) {
            return Err(crate::Error::InvalidConfig(
                "media.stats_interval must be above 0, or None to turn RTCP statistics off".into(),
            ));
        }
        for s in &self.ice_servers {
            s.parse_urls()?;
        }
        Ok(())
    }
}

/// One STUN or TURN server, in the browser's `RTCIceServer` shape.
#[derive(Clone, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp|tcp` or `turns:host:port`
    /// (see [`IceUrl`](crate::IceUrl) for the defaults; checked by
    /// [`IceServer::parse_urls`] when a peer is created, identically on every backend).
    pub urls: Vec<String>,
    /// TURN user name (required for `turn:` and `turns:` URLs).
    pub username: Option<String>,
    /// TURN credential, the password (required for `turn:` and `turns:` URLs).
    pub credential: Option<String>,
}

// Credentials never reach logs through `{:?}`.
impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username.as_ref().map(|_| "<set>"))
            .field("credential", &self.credential.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Which local addresses the native backend offers as host candidates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HostCandidates {
    /// Every usable interface address except loopback and link-local IPv6 (the default).
    #[default]
    AllInterfaces,
    /// Only 127.0.0.1: for peers on the same machine, tests and demos.
    Loopback,
    /// Exactly these local addresses (each must be assigned to an interface).
    Addresses(Vec<IpAddr>),
}

/// Data-channel limits for a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChannelLimits {
    /// The largest message this peer accepts, advertised to the remote as
    /// `a=max-message-size` (default 256 KiB). What this peer may send is the remote's limit.
    pub max_message_size: usize,
    /// `send` waits while a channel buffers more than this many bytes (default 1 MiB):
    /// a sender never buffers more than this, or one message if a single message is larger.
    pub high_water_mark: usize,
}

impl Default for DataChannelLimits {
    fn default() -> Self {
        Self {
            max_message_size: 256 * 1024,
            high_water_mark: 1024 * 1024,
        }
    }
}
