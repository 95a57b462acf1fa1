//! Registered methods, with their types erased: every handler takes the request's payload
//! kind and bytes and gives bytes (or a stream of bytes) back.

use std::future::Future;
use std::sync::Arc;

use futures_core::Stream;
use futures_util::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::PayloadKind;
use super::error::RpcError;
use crate::platform::{boxed, BoxFuture, BoxStream, MaybeSend, MaybeSync, SharedFn};

/// A request as a handler gets it.
pub(crate) type Input = (PayloadKind, Vec<u8>);
/// A stream handler's items, encoded.
pub(crate) type ItemStream = BoxStream<Result<Vec<u8>, RpcError>>;

/// A registered method.
#[derive(Clone)]
pub(crate) enum Handler {
    Unary(SharedFn<Input, BoxFuture<Result<Vec<u8>, RpcError>>>),
    Stream(SharedFn<Input, BoxFuture<Result<ItemStream, RpcError>>>),
}

/// A typed unary handler: decode, run, encode in the request's codec.
pub(crate) fn unary<Req, Resp, F, Fut>(handler: F) -> Handler
where
    Req: DeserializeOwned + 'static,
    Resp: Serialize + 'static,
    F: Fn(Req) -> Fut + MaybeSend + MaybeSync + 'static,
    Fut: Future<Output = Result<Resp, RpcError>> + MaybeSend + 'static,
{
    Handler::Unary(Arc::new(move |(kind, bytes): Input| {
        match kind.decode::<Req>(&bytes) {
            Ok(req) => boxed(handler(req).map(move |r| kind.encode(&r?))),
            Err(e) => boxed(std::future::ready(Err(e))),
        }
    }))
}

/// A unary handler on bytes.
pub(crate) fn raw<F, Fut>(handler: F) -> Handler
where
    F: Fn(Vec<u8>) -> Fut + MaybeSend + MaybeSync + 'static,
    Fut: Future<Output = Result<Vec<u8>, RpcError>> + MaybeSend + 'static,
{
    Handler::Unary(Arc::new(move |(_, bytes): Input| boxed(handler(bytes))))
}

/// A typed stream handler: its items are encoded in the request's codec.
pub(crate) fn stream<Req, Item, F, Fut, S>(handler: F) -> Handler
where
    Req: DeserializeOwned + 'static,
    Item: Serialize + 'static,
    F: Fn(Req) -> Fut + MaybeSend + MaybeSync + 'static,
    Fut: Future<Output = Result<S, RpcError>> + MaybeSend + 'static,
    S: Stream<Item = Result<Item, RpcError>> + MaybeSend + 'static,
{
    Handler::Stream(Arc::new(move |(kind, bytes): Input| {
        match kind.decode::<Req>(&bytes) {
            Ok(req) => boxed(handler(req).map(move |r| {
                r.map(|items| -> ItemStream {
                    Box::pin(items.map(move |item| kind.encode(&item?)))
                })
            })),
            Err(e) => boxed(std::future::ready(Err(e))),
        }
    }))
}
