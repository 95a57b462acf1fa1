/// The state of a peer connection, with the meaning of the browser's `RTCPeerConnectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Created; no connectivity checks yet.
    New,
    /// ICE and DTLS are being set up.
    Connecting,
    /// The transport is up: data channels can open.
    Connected,
    /// Connectivity was lost; it may come back on its own.
    Disconnected,
    /// Connectivity was lost for longer than the configured bound, or the handshake failed.
    Failed,
    /// The peer was closed, locally or by the remote.
    Closed,
}

impl ConnectionState {
    /// Whether the state is final (`Failed` or `Closed`).
    pub fn is_terminal(self) -> bool {
        matches!(self, ConnectionState::Failed | ConnectionState::Closed)
    }
}

/// The state of a data channel, with the meaning of the browser's `RTCDataChannelState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataChannelState {
    /// Waiting for the transport or the remote's acknowledgement.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// `close` was called; buffered messages are still being delivered.
    Closing,
    /// Closed by either side; `recv` returns what was already received, then `None`.
    Closed,
}

impl DataChannelState {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            DataChannelState::Connecting => 0,
            DataChannelState::Open => 1,
            DataChannelState::Closing => 2,
            DataChannelState::Closed => 3,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => DataChannelState::Connecting,
            1 => DataChannelState::Open,
            2 => DataChannelState::Closing,
            _ => DataChannelState::Closed,
        }
    }
}
