//! How typed requests, responses and stream items become bytes.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::RpcError;

/// The serialization of typed calls. Each request says which codec it uses and the remote
/// answers in the same one, so the two ends need not agree beforehand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Codec {
    /// [postcard](https://docs.rs/postcard): compact and fast; the default. It is not
    /// self-describing: both ends must use the same types (share them in a crate), since a
    /// value of another type can decode into a wrong value instead of an error.
    #[default]
    Postcard,
    /// JSON: readable on the wire, for debugging and for peers written in other languages;
    /// a type mismatch is a [`RpcError::Decode`].
    Json,
}

/// What a request's payload is, as carried in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadKind {
    Typed(Codec),
    /// Bytes the application encoded itself (`call_raw`).
    Raw,
}

impl PayloadKind {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            PayloadKind::Typed(Codec::Postcard) => 0,
            PayloadKind::Typed(Codec::Json) => 1,
            PayloadKind::Raw => 2,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(PayloadKind::Typed(Codec::Postcard)),
            1 => Some(PayloadKind::Typed(Codec::Json)),
            2 => Some(PayloadKind::Raw),
            _ => None,
        }
    }

    /// Decodes a typed value; raw bytes have no codec to decode them with.
    pub(crate) fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, RpcError> {
        match self {
            PayloadKind::Typed(codec) => codec.decode(bytes),
            PayloadKind::Raw => Err(RpcError::Decode(
                "raw bytes were sent to a typed method: call it with call or call_stream".into(),
            )),
        }
    }

    /// Encodes a typed value; raw payloads are encoded with the default codec.
    pub(crate) fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, RpcError> {
        match self {
            PayloadKind::Typed(codec) => codec.encode(value),
            PayloadKind::Raw => Codec::default().encode(value),
        }
    }
}

impl Codec {
    pub(crate) fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, RpcError> {
        match self {
            Codec::Postcard => {
                postcard::to_allocvec(value).map_err(|e| RpcError::Encode(e.to_string()))
            }
            Codec::Json => serde_json::to_vec(value).map_err(|e| RpcError::Encode(e.to_string())),
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, RpcError> {
        match self {
            Codec::Postcard => {
                postcard::from_bytes(bytes).map_err(|e| RpcError::Decode(e.to_string()))
            }
            Codec::Json => {
                serde_json::from_slice(bytes).map_err(|e| RpcError::Decode(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_codecs_round_trip_and_reject_garbage() {
        for codec in [Codec::Postcard, Codec::Json] {
            let bytes = codec.encode(&(7u32, "seven".to_string())).unwrap();
            let back: (u32, String) = codec.decode(&bytes).unwrap();
            assert_eq!(back, (7, "seven".to_string()));
            let garbage: Result<(u32, String), _> = codec.decode(&[0xff, 0xff, 0xff]);
            assert!(matches!(garbage, Err(RpcError::Decode(_))));
        }
        for kind in [
            PayloadKind::Typed(Codec::Postcard),
            PayloadKind::Typed(Codec::Json),
            PayloadKind::Raw,
        ] {
            assert_eq!(PayloadKind::from_byte(kind.to_byte()), Some(kind));
        }
        assert_eq!(PayloadKind::from_byte(3), None);
        let raw: Result<u32, _> = PayloadKind::Raw.decode(&[1]);
        assert!(matches!(raw, Err(RpcError::Decode(_))));
    }
}
