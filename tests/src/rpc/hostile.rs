//! A hostile or broken remote, speaking raw frames (the format of docs/rpc.md) on the
//! channel: nothing it sends may panic the RPC, block other calls or go unanswered where
//! the protocol owes an answer.

use std::collections::HashMap;

use unipeer::rpc::{CallOptions, Rpc, RpcConfig, RpcError};
use unipeer::{DataChannel, DataChannelInit, Message};

use super::Drivers;
use crate::{within, Pair, STEP};

const REQUEST: u8 = 1;
const RESPONSE: u8 = 2;
const ERROR: u8 = 3;
const ITEM: u8 = 4;
const CANCEL: u8 = 6;
const MORE: u8 = 1;
const POSTCARD: u8 = 0;

fn frame(kind: u8, flags: u8, id: u64, body: &[u8]) -> Vec<u8> {
    let mut f = vec![kind, flags];
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(body);
    f
}

fn request(id: u64, method: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![POSTCARD, 0, 0, 0, 0];
    body.extend_from_slice(&(method.len() as u16).to_le_bytes());
    body.extend_from_slice(method.as_bytes());
    body.extend_from_slice(payload);
    frame(REQUEST, 0, id, &body)
}

/// The error code in an error frame's body.
fn error_code(body: &[u8]) -> u16 {
    u16::from_le_bytes([body[0], body[1]])
}

/// A small deterministic generator (the test must be reproducible).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// One RPC endpoint facing a raw channel.
async fn hostile_pair() -> (Pair, Rpc, Drivers, DataChannel) {
    let (pair, a_ch, raw) = Pair::with_channel("rpc", DataChannelInit::default()).await;
    let (a, driver) = Rpc::new(a_ch, RpcConfig::default()).unwrap();
    a.register("add", |(x, y): (i64, i64)| async move { Ok(x + y) });
    (pair, a, Drivers(vec![driver]), raw)
}

/// Reads frames from `raw` until one of each id in `want` came; returns them by id.
async fn answers(raw: &DataChannel, want: &[u64]) -> HashMap<u64, (u8, Vec<u8>)> {
    let mut got = HashMap::new();
    within(STEP, "the answers", async {
        while want.iter().any(|id| !got.contains_key(id)) {
            let Some(Message::Binary(f)) = raw.recv().await else {
                panic!("the channel closed or sent text");
            };
            let id = u64::from_le_bytes(f[2..10].try_into().unwrap());
            got.insert(id, (f[0], f[10..].to_vec()));
        }
    })
    .await;
    got
}

/// Garbage from a caller: malformed requests are answered with errors, everything else is
/// dropped, and a valid call after it all is served.
pub async fn rpc_garbage_from_a_caller() {
    let (_pair, _a, drivers, raw) = hostile_pair().await;
    drivers
        .run(async {
            let add = postcard_pair(2, 3);
            let garbage: Vec<Vec<u8>> = vec![
                vec![REQUEST, 0, 1],
                frame(99, 0, 3, b"unknown kind"),
                frame(REQUEST, 0, 5, &[POSTCARD, 0]), // truncated
                frame(REQUEST, 0, 6, &[POSTCARD, 0, 0, 0, 0, 200, 0, b'a']), // name past the end
                frame(REQUEST, 0, 7, &[42, 0, 0, 0, 0, 0, 0]), // unknown payload kind
                request(8, "no_such_method", &[]),
                frame(CANCEL, 0, 1234, &[]), // cancel of nothing
                frame(7, 0, 1234, &[1, 2]),  // bad credit
                frame(RESPONSE, 0, 999, b"answer to nothing"),
                frame(ERROR, 0, 999, &[1]),
                frame(REQUEST, MORE, 11, &[POSTCARD]), // a split request, abandoned
                request(9, "add", &add[..1]),          // payload cut short
            ];
            for g in garbage {
                raw.send(g).await.unwrap();
            }
            raw.send_text("text is not the protocol").await.unwrap();
            let mut rng = Lcg(7);
            for _ in 0..2000 {
                // At least one byte: empty messages are refused by `send`.
                let len = 1 + (rng.next() % 64) as usize;
                let mut g: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                // Mostly frames of a known kind, so they get past the header check.
                if !rng.next().is_multiple_of(4) {
                    g[0] = 1 + (rng.next() % 7) as u8;
                }
                // Random ids, far from the ones checked below.
                if len >= 10 {
                    g[2..10].copy_from_slice(&(1_000_000 + rng.next()).to_le_bytes());
                }
                raw.send(g).await.unwrap();
            }
            raw.send(request(10, "add", &add)).await.unwrap();

            let got = answers(&raw, &[5, 6, 7, 8, 9, 10]).await;
            for id in [5, 6, 7, 9] {
                let (kind, body) = &got[&id];
                assert_eq!(*kind, ERROR, "call {id}");
                assert_eq!(error_code(body), 7, "call {id}: decode error expected");
            }
            let (kind, body) = &got[&8];
            assert_eq!((*kind, error_code(body)), (ERROR, 1), "unknown method");
            let (kind, body) = &got[&10];
            assert_eq!(*kind, RESPONSE);
            assert_eq!(body, &postcard_i64(5));
        })
        .await;
}

/// Garbage from a callee: each broken answer ends its own call with an error; a good
/// answer afterwards completes normally.
pub async fn rpc_garbage_from_a_callee() {
    let (_pair, a, drivers, raw) = hostile_pair().await;
    drivers
        .run(async {
            let options = CallOptions::default();
            let calls = async {
                let undecodable = a.call::<_, String>("x", &()).await;
                let broken_error = a.call::<_, String>("x", &()).await;
                let item_for_unary = a.call::<_, String>("x", &()).await;
                let good = a.call_raw("x", b"ok?", options).await;
                (undecodable, broken_error, item_for_unary, good)
            };
            let callee = async {
                let mut answer = 0;
                while answer < 4 {
                    let Some(Message::Binary(f)) = raw.recv().await else {
                        panic!("no request");
                    };
                    // The caller cancels the call whose answer broke the protocol.
                    if f[0] == CANCEL {
                        continue;
                    }
                    assert_eq!(f[0], REQUEST);
                    answer += 1;
                    let id = u64::from_le_bytes(f[2..10].try_into().unwrap());
                    let reply = match answer {
                        1 => frame(RESPONSE, 0, id, &[0xff, 0xff, 0xff, 0xff, 0xff]),
                        2 => frame(ERROR, 0, id, &[2, 0, 1]),
                        3 => frame(ITEM, 0, id, b"?"),
                        _ => frame(RESPONSE, 0, id, b"fine"),
                    };
                    raw.send(reply).await.unwrap();
                }
            };
            let ((undecodable, broken_error, item_for_unary, good), ()) =
                within(STEP, "the calls", futures::future::join(calls, callee)).await;
            assert!(
                matches!(undecodable, Err(RpcError::Decode(_))),
                "{undecodable:?}"
            );
            assert!(
                matches!(broken_error, Err(RpcError::Protocol(_))),
                "{broken_error:?}"
            );
            assert!(
                matches!(item_for_unary, Err(RpcError::Protocol(_))),
                "{item_for_unary:?}"
            );
            assert_eq!(good.unwrap(), b"fine");
        })
        .await;
}

fn postcard_i64(v: i64) -> Vec<u8> {
    // postcard: zigzag varint.
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn postcard_pair(a: i64, b: i64) -> Vec<u8> {
    let mut out = postcard_i64(a);
    out.extend(postcard_i64(b));
    out
}
