//! Platform-neutral building blocks of [unipeer](https://docs.rs/unipeer).
//!
//! Application code uses the `unipeer` crate, which re-exports everything here. This crate
//! exists so that both backends (native `unipeer-native` and browser `unipeer-wasm`) share one
//! definition of the configuration, the signaling values, the errors and the data-channel
//! logic (backpressure, message-size rule, receive queue), written once.
#![deny(missing_docs)]

mod channel;
mod config;
mod error;
mod event;
mod ice;
mod media;
mod message;
mod signal;
mod state;

pub use channel::{ChannelCore, ChannelSettings, ReceiveQueue, Reliability};
pub use config::{DataChannelLimits, HostCandidates, IceServer, PeerConfig};
pub use error::{Error, Result};
pub use event::{CandidatePair, CandidateType, EventQueue, EventStream, PeerEvent};
pub use ice::{IceServerError, IceServerKind, IceTransport, IceUrl, IceUrlProblem};
pub use media::{
    Codec, KeyframeRequest, MediaConfig, MediaFrame, MediaKind, RtpPacket, TrackDirection,
    TrackInit, TrackState, TrackStats,
};
pub use message::Message;
pub use signal::{IceCandidate, SdpType, SessionDescription};
pub use state::{ConnectionState, DataChannelState};

/// Options for [`create_data_channel`](https://docs.rs/unipeer), with the meaning of the
/// browser's `RTCDataChannelInit`.
///
/// ```
/// use unipeer_core::DataChannelInit;
/// // An unordered channel that gives up on a message after 3 retransmissions.
/// let init = DataChannelInit { ordered: false, max_retransmits: Some(3), ..Default::default() };
/// assert!(init.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelInit {
    /// Deliver messages in the order they were sent (default `true`).
    pub ordered: bool,
    /// Give up on a message after this many retransmissions (partial reliability).
    pub max_retransmits: Option<u16>,
    /// Give up on a message after this many milliseconds (partial reliability).
    pub max_packet_life_time: Option<u16>,
    /// Sub-protocol name, seen by the remote as the channel's `protocol`.
    pub protocol: String,
    /// Out-of-band negotiated channel: both sides create it with this stream id and no
    /// in-band announcement is sent, so it opens on both sides with the transport.
    pub negotiated: Option<u16>,
}

impl Default for DataChannelInit {
    fn default() -> Self {
        Self {
            ordered: true,
            max_retransmits: None,
            max_packet_life_time: None,
            protocol: String::new(),
            negotiated: None,
        }
    }
}

impl DataChannelInit {
    /// Checks the options the way the browser does: `max_retransmits` and
    /// `max_packet_life_time` exclude each other, and stream ids stop at 65534.
    pub fn validate(&self) -> Result<()> {
        if self.max_retransmits.is_some() && self.max_packet_life_time.is_some() {
            return Err(Error::InvalidChannelInit(
                "set at most one of max_retransmits and max_packet_life_time".into(),
            ));
        }
        if self.negotiated == Some(u16::MAX) {
            return Err(Error::InvalidChannelInit(
                "negotiated stream id 65535 is reserved; use 0..=65534".into(),
            ));
        }
        Ok(())
    }

    /// The reliability these options ask for.
    pub fn reliability(&self) -> Reliability {
        match (self.max_retransmits, self.max_packet_life_time) {
            (Some(n), _) => Reliability::MaxRetransmits(n),
            (None, Some(ms)) => Reliability::MaxPacketLifeTime(ms),
            (None, None) => Reliability::Reliable,
        }
    }
}
