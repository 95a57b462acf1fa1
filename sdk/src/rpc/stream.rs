//! The caller's side of a stream call.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_core::stream::{FusedStream, Stream};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::codec::PayloadKind;
use super::error::RpcError;
use super::shared::{Shared, StreamFrame, Waiting};
use super::wire::{self, Kind};

/// The items of a stream call ([`Rpc::call_stream`](super::Rpc::call_stream)), in order.
///
/// It ends after the last item, or with one `Err` if the call failed (the remote's error, a
/// timeout before the first item, the peer leaving). Items arrive only as fast as this
/// stream is read: the remote sends at most the stream window
/// ([`RpcConfig::stream_window`](super::RpcConfig::stream_window)) ahead. Dropping it
/// cancels the call on the remote.
#[must_use = "a stream call does nothing useful unless its stream is read"]
pub struct RpcStream<T> {
    shared: Arc<Shared>,
    id: u64,
    frames: mpsc::UnboundedReceiver<StreamFrame>,
    kind: PayloadKind,
    /// Items read since credit was last given back.
    consumed: u32,
    done: bool,
    _items: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RpcStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcStream")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish()
    }
}

impl<T> RpcStream<T> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: u64,
        frames: mpsc::UnboundedReceiver<StreamFrame>,
        kind: PayloadKind,
    ) -> Self {
        Self {
            shared,
            id,
            frames,
            kind,
            consumed: 0,
            done: false,
            _items: PhantomData,
        }
    }

    /// Gives credit back once half the window was read, so the remote keeps going.
    fn consumed_one(&mut self) {
        self.consumed += 1;
        if self.consumed < (self.shared.config.stream_window / 2).max(1) {
            return;
        }
        let n = std::mem::take(&mut self.consumed);
        let still_open = {
            let mut state = self.shared.state();
            match state.pending.get_mut(&self.id).map(|p| &mut p.waiting) {
                Some(Waiting::Stream { credit, .. }) => {
                    *credit = credit.saturating_add(n);
                    true
                }
                _ => false,
            }
        };
        if still_open {
            self.shared
                .enqueue(Kind::Credit, self.id, &wire::credit_body(n));
        }
    }
}

impl<T: DeserializeOwned> Stream for RpcStream<T> {
    type Item = Result<T, RpcError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let frame = match this.frames.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(frame) => frame,
        };
        match frame {
            Some(Ok(Some(bytes))) => {
                this.consumed_one();
                Poll::Ready(Some(this.kind.decode(&bytes)))
            }
            Some(Ok(None)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            // The driver dropped the call without a word: it stopped.
            None => {
                this.done = true;
                Poll::Ready(Some(Err(RpcError::PeerGone)))
            }
        }
    }
}

impl<T: DeserializeOwned> FusedStream for RpcStream<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Drop for RpcStream<T> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.abandon(self.id);
        }
    }
}

/// Keeps a unary call in the table while its future lives; dropping the future early
/// cancels the call on the remote.
pub(crate) struct CallGuard<'a> {
    pub shared: &'a Shared,
    pub id: u64,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        // A no-op once the call was answered (the driver took it out of the table).
        self.shared.abandon(self.id);
    }
}
