//! Entry points for the fuzz targets (`fuzz/`), compiled only under `cfg(fuzzing)` (which
//! `cargo fuzz` sets): everything the RPC layer parses from the remote, without a channel.

use super::codec::Codec;
use super::reassembly::{Assembled, Reassembly};
use super::wire::{self, Kind};

/// Feeds `data` to the RPC parsers as a sequence of messages (each prefixed by a one-byte
/// length), through the reassembly and into the body parsers and both codecs, the way
/// the driver does with what the remote sends. Must never panic.
pub fn rpc_messages(data: &[u8]) {
    let mut reassembly = Reassembly::new(4096);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (message, tail) = tail.split_at(len);
        rest = tail;
        let Some(piece) = wire::parse(message) else {
            continue;
        };
        if piece.kind == Kind::Cancel {
            reassembly.forget(Kind::Request, piece.id);
        }
        let Assembled::Whole(body) = reassembly.push(&piece) else {
            continue;
        };
        match piece.kind {
            Kind::Request => {
                if let Ok(r) = wire::parse_request(&body) {
                    let _ = r.payload_kind.decode::<(i64, String, Vec<u8>)>(r.payload);
                }
            }
            Kind::Error => {
                if let Ok(e) = wire::parse_error(&body) {
                    let _ = super::RpcError::from(e);
                }
            }
            Kind::Credit => {
                let _ = wire::parse_credit(&body);
            }
            Kind::Response | Kind::Item => {
                for codec in [Codec::Postcard, Codec::Json] {
                    let _ = codec.decode::<Vec<(u32, Option<String>)>>(&body);
                }
            }
            Kind::End | Kind::Cancel => {}
        }
    }
}
