//! Why a signaling frame or payload could not be used.

use unipeer_core::Error;

/// A signaling frame or payload that is not protocol v1.
///
/// Clients skip [`UnknownType`](Self::UnknownType) and [`UnknownKind`](Self::UnknownKind)
/// (a newer peer or server may send more than this version knows) and report the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The text is not a JSON object.
    Json(String),
    /// The object has no string `type` field.
    MissingType,
    /// The `type` is not one this version knows.
    UnknownType(String),
    /// A known frame type with a missing or mistyped field.
    Invalid {
        /// The frame's `type`.
        frame_type: String,
        /// Which field and what is wrong with it.
        reason: String,
    },
    /// The payload is not a JSON object with a string `kind`.
    MissingKind,
    /// The payload `kind` is not one this version knows.
    UnknownKind(String),
    /// A known payload kind with a missing or mistyped field.
    InvalidPayload {
        /// The payload's `kind`.
        kind: String,
        /// Which field and what is wrong with it.
        reason: String,
    },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Json(e) => write!(f, "the frame is not a JSON object: {e}"),
            FrameError::MissingType => f.write_str("the frame has no string \"type\" field"),
            FrameError::UnknownType(t) => write!(f, "unknown frame type {t:?}"),
            FrameError::Invalid { frame_type, reason } => {
                write!(f, "malformed {frame_type:?} frame: {reason}")
            }
            FrameError::MissingKind => {
                f.write_str("the signal payload is not an object with a string \"kind\" field")
            }
            FrameError::UnknownKind(k) => write!(f, "unknown signal payload kind {k:?}"),
            FrameError::InvalidPayload { kind, reason } => {
                write!(f, "malformed {kind:?} signal payload: {reason}")
            }
        }
    }
}

impl std::error::Error for FrameError {}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        Error::Signaling(format!(
            "{e}; the server or peer does not speak unipeer signaling protocol v1"
        ))
    }
}
