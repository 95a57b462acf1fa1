use thiserror::Error;

/// Result with unipeer's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in unipeer. Each message says what to do about it.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a `_` arm.
/// No variant carries a platform type, so the same code handles errors on every target.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A session description could not be used.
    #[error(
        "invalid session description: {0}; pass the SDP exactly as the remote peer produced it"
    )]
    InvalidSdp(String),
    /// An ICE candidate line could not be parsed or used.
    #[error("invalid ICE candidate: {0}; pass the candidate string exactly as the remote peer produced it")]
    InvalidCandidate(String),
    /// A candidate named a media section this session does not have.
    // `'{0}'`, not `{0:?}`: Debug of a String pulls Unicode tables into every wasm build.
    #[error("unknown media section '{0}': the candidate belongs to another session or arrived before its description")]
    UnknownMid(String),
    /// A call was made in a state that does not allow it (for example an answer with no offer).
    #[error("{0}")]
    InvalidState(String),
    /// The data-channel options are inconsistent.
    #[error("invalid data channel options: {0}")]
    InvalidChannelInit(String),
    /// Another channel already uses this negotiated stream id.
    #[error("data channel id {0} is already in use on this peer; pick another negotiated id")]
    DuplicateChannelId(u16),
    /// The message is larger than the remote peer accepts.
    #[error("message of {size} bytes exceeds the negotiated maximum of {max} bytes; split it or send it in parts")]
    MessageTooLarge {
        /// Size of the rejected message in bytes.
        size: usize,
        /// The largest message the remote accepts, in bytes.
        max: usize,
    },
    /// An empty message cannot be sent.
    #[error(
        "empty messages cannot be sent (WebRTC stacks disagree on them): send at least one byte"
    )]
    EmptyMessage,
    /// The data channel is closing or closed; nothing more can be sent on it.
    #[error("the data channel is closed; open a new channel to send more")]
    ChannelClosed,
    /// The peer connection is closed or failed.
    #[error("the peer connection is closed; create a new Peer to reconnect")]
    PeerClosed,
    /// The configuration cannot be used.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// An ICE server in the configuration cannot be used (see the inner error).
    #[error("invalid ICE server: {0}")]
    InvalidIceServer(#[from] crate::IceServerError),
    /// An ICE server answered with an error (for TURN, 401 means the username or
    /// credential is wrong or expired). Reported in
    /// [`PeerEvent::IceServerError`](crate::PeerEvent::IceServerError); the peer goes on
    /// with its other candidates.
    #[error("the ICE server refused the request: {code} {reason}{}", refusal_hint(*.code))]
    IceServerRefused {
        /// The STUN error code (RFC 8489 section 14.8), such as 401.
        code: u16,
        /// The server's reason phrase.
        reason: String,
    },
    /// An ICE server did not answer in time (reported like `IceServerRefused`).
    #[error("the ICE server did not answer in time: check its address and port, and that the network lets the traffic through")]
    IceServerUnreachable,
    /// This backend cannot use this kind of ICE server yet (reported like
    /// `IceServerRefused`; the other servers are still used).
    #[error("{0} is not supported by this backend yet; the other ICE servers are still used")]
    IceServerUnsupported(String),
    /// The track options are inconsistent.
    #[error("invalid track options: {0}")]
    InvalidTrackInit(String),
    /// The track was stopped (by either side) or its peer closed.
    #[error("the track has ended; add a new track to send or receive again")]
    TrackEnded,
    /// The track cannot do this now; the message says why (for example a frame written
    /// before the track was negotiated, or on a receive-only track).
    #[error("{0}")]
    TrackNotReady(String),
    /// No codec both sides support could be agreed for the track, or a frame names a
    /// codec the track did not negotiate.
    #[error("codec not negotiated: {0}")]
    CodecNotNegotiated(String),
    /// This platform's backend cannot do this (the message says what to use instead).
    #[error("{0}")]
    Unsupported(String),
    /// An operating-system I/O operation failed (for example binding a socket).
    #[error("I/O error: {0}")]
    Io(String),
    /// The platform's WebRTC implementation reported an error (its message is kept).
    #[error("the platform's WebRTC stack failed: {0}")]
    Platform(String),
    /// The WebRTC stack hit an internal fault; the peer was closed to protect the process.
    #[error("internal fault, the peer was closed: {0}; please report this as a bug")]
    Internal(String),
    /// The signaling server could not be reached, refused the client, or sent something
    /// that is not protocol v1. The message says which.
    #[error("signaling: {0}")]
    Signaling(String),
    /// A connection could not be established in time (no working network path).
    #[error("could not connect to {0}: no network path was found in time; check the ICE servers (STUN/TURN) and firewalls")]
    ConnectFailed(String),
    /// No connected peer has this id.
    #[error("no connected peer '{0}': use an id from a PeerConnected event or Mesh::peers()")]
    UnknownPeer(String),
    /// The channel index is not in the mesh's configured channel list.
    #[error(
        "channel index {index} is not configured: the mesh has {count} channel(s), numbered from 0"
    )]
    UnknownChannel {
        /// The index that was asked for.
        index: usize,
        /// How many channels the mesh was configured with.
        count: usize,
    },
}

fn refusal_hint(code: u16) -> &'static str {
    match code {
        401 => {
            "; check the TURN username and credential (short-lived credentials may have expired)"
        }
        403 => "; the server does not allow this request from this client",
        437 | 438 => "; the allocation was lost, it is made again on the next attempt",
        486 => "; this user has too many allocations on the server",
        508 => "; the server is out of relay capacity",
        _ => "",
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
