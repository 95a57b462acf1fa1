//! Running a call from the remote: the handler's future (or stream) and sending its answer.
//! The driver runs these concurrently and drops one to cancel it.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::Poll;

use futures_util::task::AtomicWaker;
use futures_util::StreamExt;

use super::error::{RpcError, WireError};
use super::handler::ItemStream;
use super::shared::Shared;
use super::wire::{self, Kind};
use crate::platform::{boxed, BoxFuture};

/// How many stream items the caller still takes. The producer waits at zero, so a fast
/// stream cannot flood a slow consumer: at most the caller's window is ever in flight.
pub(crate) struct CreditGate {
    credit: AtomicU32,
    waker: AtomicWaker,
}

impl CreditGate {
    pub(crate) fn new(credit: u32) -> Self {
        Self {
            credit: AtomicU32::new(credit),
            waker: AtomicWaker::new(),
        }
    }

    /// More credit from the caller.
    pub(crate) fn add(&self, n: u32) {
        let _ = self
            .credit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                Some(c.saturating_add(n))
            });
        self.waker.wake();
    }

    fn try_take(&self) -> bool {
        self.credit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| c.checked_sub(1))
            .is_ok()
    }

    /// Waits for one unit of credit and takes it.
    async fn take(&self) {
        poll_fn(|cx| {
            if self.try_take() {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.try_take() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Sends an error as the call's answer.
async fn send_error(shared: &Shared, id: u64, e: &RpcError) {
    let body = wire::error_body(&WireError::from(e));
    if let Err(e) = shared.send(Kind::Error, id, &body, &[]).await {
        tracing::debug!(id, "rpc: an error answer was not sent: {e}");
    }
}

/// A unary call: run the handler, send its response or error.
pub(crate) fn unary(
    shared: Arc<Shared>,
    id: u64,
    handler: BoxFuture<Result<Vec<u8>, RpcError>>,
) -> BoxFuture<()> {
    boxed(async move {
        match handler.await {
            Ok(response) => {
                if let Err(e) = shared.send(Kind::Response, id, &[], &response).await {
                    tracing::debug!(id, "rpc: a response was not sent: {e}");
                }
            }
            Err(e) => send_error(&shared, id, &e).await,
        }
    })
}

/// A stream call: send items while the caller has credit, then the end or the error.
pub(crate) fn stream(
    shared: Arc<Shared>,
    id: u64,
    handler: BoxFuture<Result<ItemStream, RpcError>>,
    credit: Arc<CreditGate>,
) -> BoxFuture<()> {
    boxed(async move {
        let mut items = match handler.await {
            Ok(items) => items,
            Err(e) => return send_error(&shared, id, &e).await,
        };
        loop {
            credit.take().await;
            let sent = match items.next().await {
                Some(Ok(item)) => shared.send(Kind::Item, id, &[], &item).await,
                Some(Err(e)) => return send_error(&shared, id, &e).await,
                None => {
                    let _ = shared.send(Kind::End, id, &[], &[]).await;
                    return;
                }
            };
            if let Err(e) = sent {
                tracing::debug!(id, "rpc: a stream item was not sent: {e}");
                return;
            }
        }
    })
}
