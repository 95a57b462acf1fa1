//! What can go wrong with a call, and how an error crosses the wire.

use std::time::Duration;

use thiserror::Error;
use unipeer_core::Error;

/// Why a call failed. Errors raised by the remote (an unknown method, a handler's error, a
/// request it could not decode, ...) cross the wire with their code and message, so the
/// caller sees the same variant the remote produced.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The remote has no method of this name and kind (unary or stream).
    #[error("the remote has no method '{0}' of this kind: register it there (register for calls, register_stream for call_stream)")]
    UnknownMethod(String),
    /// The remote's handler returned an error; `code` is the application's own.
    #[error("the remote handler failed (code {code}): {message}")]
    Handler {
        /// An application-defined code (0 when the handler gave none).
        code: u32,
        /// The handler's message.
        message: String,
    },
    /// No answer came in time. The remote call was cancelled.
    #[error("no answer within {0:?}; the remote call was cancelled: raise the timeout (CallOptions) or check that the remote is alive")]
    Timeout(Duration),
    /// The call was cancelled (by the remote, or because its stream was dropped).
    #[error("the call was cancelled")]
    Cancelled,
    /// The RPC channel closed, or its driver stopped, before the call finished.
    #[error("the RPC channel closed before the call finished: reconnect and call again (and keep the RpcDriver polled)")]
    PeerGone,
    /// A request, response or stream item is larger than the receiving side accepts.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes (RpcConfig::max_payload on the receiving side): send it in smaller parts")]
    PayloadTooLarge {
        /// The payload's size in bytes (as far as it was seen).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A payload could not be decoded into the expected type.
    #[error("could not decode the payload: {0}; both ends must use the same types")]
    Decode(String),
    /// A value could not be encoded with the chosen codec.
    #[error("could not encode the payload: {0}")]
    Encode(String),
    /// Too many calls are in flight (on this side, or running on the remote).
    #[error("too many calls in flight (limit {0}): wait for some to finish, or raise RpcConfig::max_calls")]
    Busy(u64),
    /// The remote broke the RPC protocol for this call (a malformed or unexpected frame).
    #[error("the remote broke the RPC protocol: {0}")]
    Protocol(String),
    /// The data channel refused the message for another reason than being closed.
    #[error("the data channel failed: {0}")]
    Channel(Error),
}

impl RpcError {
    /// A handler error with code 0, for `Err(RpcError::handler(e))?` in a handler.
    pub fn handler(message: impl std::fmt::Display) -> Self {
        Self::with_code(0, message)
    }

    /// A handler error with an application-defined code.
    pub fn with_code(code: u32, message: impl std::fmt::Display) -> Self {
        Self::Handler {
            code,
            message: message.to_string(),
        }
    }

    /// Maps a send failure: a closed channel or peer means the peer is gone.
    pub(crate) fn from_send(e: Error) -> Self {
        match e {
            Error::ChannelClosed | Error::PeerClosed => Self::PeerGone,
            other => Self::Channel(other),
        }
    }
}

/// An error as it travels: a code, two numbers and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    pub code: u16,
    pub a: u64,
    pub b: u64,
    pub message: String,
}

// Wire codes (docs/rpc.md). Never renumber: peers of different versions talk.
const UNKNOWN_METHOD: u16 = 1;
const HANDLER: u16 = 2;
const TIMEOUT: u16 = 3;
const CANCELLED: u16 = 4;
const PEER_GONE: u16 = 5;
const PAYLOAD_TOO_LARGE: u16 = 6;
const DECODE: u16 = 7;
const ENCODE: u16 = 8;
const BUSY: u16 = 9;
const PROTOCOL: u16 = 10;

impl From<&RpcError> for WireError {
    fn from(e: &RpcError) -> Self {
        let (code, a, b, message) = match e {
            RpcError::UnknownMethod(m) => (UNKNOWN_METHOD, 0, 0, m.clone()),
            RpcError::Handler { code, message } => (HANDLER, u64::from(*code), 0, message.clone()),
            RpcError::Timeout(d) => (TIMEOUT, d.as_millis() as u64, 0, String::new()),
            RpcError::Cancelled => (CANCELLED, 0, 0, String::new()),
            RpcError::PeerGone => (PEER_GONE, 0, 0, String::new()),
            RpcError::PayloadTooLarge { size, limit } => {
                (PAYLOAD_TOO_LARGE, *size, *limit, String::new())
            }
            RpcError::Decode(m) => (DECODE, 0, 0, m.clone()),
            RpcError::Encode(m) => (ENCODE, 0, 0, m.clone()),
            RpcError::Busy(limit) => (BUSY, *limit, 0, String::new()),
            RpcError::Protocol(m) => (PROTOCOL, 0, 0, m.clone()),
            // A local channel failure never needs to be told to the remote; if it is, the
            // remote learns that this side could not send.
            RpcError::Channel(e) => (PROTOCOL, 0, 0, e.to_string()),
        };
        WireError {
            code,
            a,
            b,
            message,
        }
    }
}

impl From<WireError> for RpcError {
    fn from(w: WireError) -> Self {
        match w.code {
            UNKNOWN_METHOD => RpcError::UnknownMethod(w.message),
            HANDLER => RpcError::Handler {
                code: u32::try_from(w.a).unwrap_or(u32::MAX),
                message: w.message,
            },
            TIMEOUT => RpcError::Timeout(Duration::from_millis(w.a)),
            CANCELLED => RpcError::Cancelled,
            PEER_GONE => RpcError::PeerGone,
            PAYLOAD_TOO_LARGE => RpcError::PayloadTooLarge {
                size: w.a,
                limit: w.b,
            },
            DECODE => RpcError::Decode(w.message),
            ENCODE => RpcError::Encode(w.message),
            BUSY => RpcError::Busy(w.a),
            PROTOCOL => RpcError::Protocol(w.message),
            other => RpcError::Protocol(format!(
                "unknown error code {other} with message '{}'",
                w.message
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_remote_error_survives_the_wire() {
        let errors = [
            RpcError::UnknownMethod("add".into()),
            RpcError::with_code(42, "nope"),
            RpcError::Timeout(Duration::from_millis(1500)),
            RpcError::Cancelled,
            RpcError::PeerGone,
            RpcError::PayloadTooLarge { size: 10, limit: 5 },
            RpcError::Decode("bad".into()),
            RpcError::Encode("worse".into()),
            RpcError::Busy(4096),
            RpcError::Protocol("odd".into()),
        ];
        for e in errors {
            assert_eq!(RpcError::from(WireError::from(&e)), e);
        }
    }

    #[test]
    fn unknown_codes_become_protocol_errors() {
        let w = WireError {
            code: 999,
            a: 0,
            b: 0,
            message: "future".into(),
        };
        assert!(matches!(RpcError::from(w), RpcError::Protocol(m) if m.contains("999")));
    }
}
