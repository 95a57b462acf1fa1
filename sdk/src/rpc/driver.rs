//! The future that runs an `Rpc`: it reads the channel, routes answers to the calls
//! waiting for them, runs the handlers of incoming calls concurrently, times calls out and
//! sends the frames queued by others. Nothing else reads the channel, and nothing is
//! spawned: the application polls (or spawns) the driver on whatever runtime it has.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::future::{AbortHandle, Abortable};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use unipeer_core::Message;

use super::error::{RpcError, WireError};
use super::handler::{Handler, ItemStream};
use super::reassembly::{Assembled, Reassembly};
use super::serve::{self, CreditGate};
use super::shared::{now_us, Shared, Waiting};
use super::wire::{self, Kind, Piece};
use crate::platform::{boxed, sleep, BoxFuture, BoxStream};

/// Messages handled per poll before the driver yields to other tasks.
const BUDGET: usize = 64;
/// Queued outgoing frames above which the driver stops reading the channel, so a peer
/// that floods requests it never reads the answers to cannot grow memory here.
const OUTBOX_LIMIT: usize = 4096;

/// A call from the remote that is running here.
struct Running {
    abort: AbortHandle,
    credit: Option<Arc<CreditGate>>,
}

/// Runs an [`Rpc`](super::Rpc): poll it (or spawn it) for as long as the RPC is used.
///
/// It completes when the channel closes; calls still waiting then fail with
/// [`RpcError::PeerGone`]. Dropping it stops the RPC the same way.
#[must_use = "an Rpc makes no progress unless its driver is polled"]
pub struct RpcDriver {
    shared: Arc<Shared>,
    incoming: BoxStream<Message>,
    outbox: mpsc::UnboundedReceiver<Vec<u8>>,
    sending: Option<BoxFuture<()>>,
    tasks: FuturesUnordered<BoxFuture<u64>>,
    running: HashMap<u64, Running>,
    reassembly: Reassembly,
    timer: Option<BoxFuture<()>>,
    done: bool,
}

impl std::fmt::Debug for RpcDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcDriver")
            .field("running", &self.running.len())
            .field("done", &self.done)
            .finish()
    }
}

impl RpcDriver {
    pub(crate) fn new(shared: Arc<Shared>, outbox: mpsc::UnboundedReceiver<Vec<u8>>) -> Self {
        let channel = shared.channel.clone();
        let incoming = futures_util::stream::unfold(channel, |ch| async move {
            let m = ch.recv().await?;
            Some((m, ch))
        });
        Self {
            reassembly: Reassembly::new(shared.config.max_payload),
            shared,
            incoming: Box::pin(incoming),
            outbox,
            sending: None,
            tasks: FuturesUnordered::new(),
            running: HashMap::new(),
            timer: None,
            done: false,
        }
    }

    fn on_message(&mut self, message: Message) {
        let Message::Binary(bytes) = message else {
            tracing::debug!("rpc: dropping a text message (the protocol is binary)");
            return;
        };
        let Some(piece) = wire::parse(&bytes) else {
            tracing::debug!(
                len = bytes.len(),
                "rpc: dropping a message with no valid header"
            );
            return;
        };
        if piece.kind == Kind::Cancel {
            self.reassembly.forget(Kind::Request, piece.id);
        }
        match self.reassembly.push(&piece) {
            Assembled::Whole(body) => self.on_body(piece.kind, piece.id, &body),
            Assembled::Pending | Assembled::Skipped => {}
            Assembled::TooLarge { size } => self.on_too_large(&piece, size),
        }
    }

    fn on_too_large(&mut self, piece: &Piece<'_>, size: u64) {
        let e = RpcError::PayloadTooLarge {
            size,
            limit: self.shared.config.max_payload as u64,
        };
        match piece.kind {
            Kind::Request => self.reply_error(piece.id, &e),
            Kind::Response | Kind::Item | Kind::Error => self.fail_call(piece.id, e),
            // Tiny bodies: only a hostile peer makes them large.
            Kind::End | Kind::Cancel | Kind::Credit => {
                tracing::debug!("rpc: dropping an oversized control frame")
            }
        }
    }

    fn on_body(&mut self, kind: Kind, id: u64, body: &[u8]) {
        match kind {
            Kind::Request => self.on_request(id, body),
            Kind::Cancel => {
                if let Some(r) = self.running.remove(&id) {
                    r.abort.abort();
                }
            }
            Kind::Credit => match wire::parse_credit(body) {
                Ok(n) => {
                    if let Some(gate) = self.running.get(&id).and_then(|r| r.credit.as_ref()) {
                        gate.add(n);
                    }
                }
                Err(e) => tracing::debug!("rpc: dropping a bad credit frame: {e}"),
            },
            Kind::Response => self.answer(id, Ok(body.to_vec())),
            Kind::Error => {
                let e = match wire::parse_error(body) {
                    Ok(w) => RpcError::from(w),
                    Err(e) => RpcError::Protocol(e),
                };
                self.answer(id, Err(e));
            }
            Kind::Item => self.stream_item(id, body.to_vec()),
            Kind::End => self.stream_end(id),
        }
    }

    /// A call from the remote: start its handler, or answer with why not.
    fn on_request(&mut self, id: u64, body: &[u8]) {
        let request = match wire::parse_request(body) {
            Ok(r) => r,
            Err(e) => return self.reply_error(id, &RpcError::Decode(e)),
        };
        if self.running.contains_key(&id) {
            return self.reply_error(id, &RpcError::Protocol("call id already in use".into()));
        }
        let max = self.shared.config.max_calls;
        if self.running.len() >= max {
            return self.reply_error(id, &RpcError::Busy(max as u64));
        }
        let handler = self.shared.state().handlers.get(request.method).cloned();
        let input = (request.payload_kind, request.payload.to_vec());
        let stream = request.credit > 0;
        let (task, credit): (BoxFuture<()>, _) = match (handler, stream) {
            (Some(Handler::Unary(f)), false) => {
                (serve::unary(self.shared.clone(), id, f(input)), None)
            }
            (Some(Handler::Stream(f)), true) => {
                let gate = Arc::new(CreditGate::new(request.credit));
                let items: BoxFuture<Result<ItemStream, RpcError>> = f(input);
                (
                    serve::stream(self.shared.clone(), id, items, gate.clone()),
                    Some(gate),
                )
            }
            _ => {
                let e = RpcError::UnknownMethod(request.method.to_string());
                return self.reply_error(id, &e);
            }
        };
        let (abort, registration) = AbortHandle::new_pair();
        let task = Abortable::new(task, registration);
        self.tasks.push(boxed(async move {
            let _ = task.await;
            id
        }));
        self.running.insert(id, Running { abort, credit });
    }

    fn reply_error(&self, id: u64, e: &RpcError) {
        tracing::debug!(id, "rpc: refusing a call: {e}");
        self.shared
            .enqueue(Kind::Error, id, &wire::error_body(&WireError::from(e)));
    }

    /// Completes a unary call, or ends a stream with an error.
    fn answer(&mut self, id: u64, result: Result<Vec<u8>, RpcError>) {
        let Some(p) = self.shared.take(id) else {
            return; // Already timed out or abandoned.
        };
        match p.waiting {
            Waiting::Unary(tx) => {
                let _ = tx.send(result);
            }
            Waiting::Stream { frames, .. } => {
                let frame = match result {
                    Ok(_) => Err(RpcError::Protocol("a stream got a unary response".into())),
                    Err(e) => Err(e),
                };
                let _ = frames.unbounded_send(frame);
            }
        }
    }

    /// Ends a call with a local error, telling the remote to stop.
    fn fail_call(&mut self, id: u64, e: RpcError) {
        if self.shared.state().pending.contains_key(&id) {
            self.answer(id, Err(e));
            self.shared.enqueue(Kind::Cancel, id, &[]);
        }
    }

    fn stream_item(&mut self, id: u64, item: Vec<u8>) {
        let mut state = self.shared.state();
        let Some(p) = state.pending.get_mut(&id) else {
            return;
        };
        let deadline = p.deadline.take();
        let violation = match &mut p.waiting {
            Waiting::Stream { credit: 0, .. } => Some("more stream items than credit"),
            Waiting::Stream { frames, credit } => {
                *credit -= 1;
                let _ = frames.unbounded_send(Ok(Some(item)));
                None
            }
            Waiting::Unary(_) => Some("a unary call got a stream item"),
        };
        if let Some((at, _)) = deadline {
            state.deadlines.remove(&(at, id));
        }
        drop(state);
        if let Some(v) = violation {
            self.fail_call(id, RpcError::Protocol(v.into()));
        }
    }

    fn stream_end(&mut self, id: u64) {
        let Some(p) = self.shared.take(id) else {
            return;
        };
        match p.waiting {
            Waiting::Stream { frames, .. } => {
                let _ = frames.unbounded_send(Ok(None));
            }
            Waiting::Unary(tx) => {
                let _ = tx.send(Err(RpcError::Protocol(
                    "a unary call got a stream end".into(),
                )));
            }
        }
    }

    /// Times out the calls whose deadline passed and keeps the timer set for the next one.
    /// The timer is only moved earlier, never later: a call that ends before its deadline
    /// costs no timer work, which keeps short calls cheap.
    fn poll_timer(&mut self, cx: &mut Context<'_>) {
        loop {
            let now = now_us();
            let (expired, next) = {
                let mut state = self.shared.state();
                let mut expired = Vec::new();
                while let Some(&(at, id)) = state.deadlines.first() {
                    if at > now {
                        break;
                    }
                    state.deadlines.pop_first();
                    expired.push(id);
                }
                (expired, state.deadlines.first().map(|&(at, _)| at))
            };
            for id in expired {
                let timeout = self
                    .shared
                    .state()
                    .pending
                    .get(&id)
                    .and_then(|p| p.deadline.map(|(_, d)| d));
                if let Some(d) = timeout {
                    self.fail_call(id, RpcError::Timeout(d));
                }
            }
            let armed = self.shared.timer_at.load(Ordering::Acquire);
            if let Some(at) = next.filter(|&at| self.timer.is_none() || at < armed) {
                self.shared.timer_at.store(at, Ordering::Release);
                self.timer = Some(sleep(Duration::from_micros(at.saturating_sub(now))));
            }
            let Some(timer) = self.timer.as_mut() else {
                return;
            };
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
            self.timer = None;
            self.shared.timer_at.store(u64::MAX, Ordering::Release);
        }
    }

    /// Sends queued frames, one at a time. True if any was sent.
    fn poll_outbox(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        loop {
            if let Some(sending) = self.sending.as_mut() {
                if sending.as_mut().poll(cx).is_pending() {
                    return progressed;
                }
                self.sending = None;
                self.shared.outbox_len.fetch_sub(1, Ordering::AcqRel);
                progressed = true;
            }
            match self.outbox.poll_next_unpin(cx) {
                Poll::Ready(Some(frame)) => {
                    let channel = self.shared.channel.clone();
                    self.sending = Some(boxed(async move {
                        if let Err(e) = channel.send(frame).await {
                            tracing::debug!("rpc: a control frame was not sent: {e}");
                        }
                    }));
                }
                // The sender lives in `shared`, which this driver holds: never `None`.
                Poll::Ready(None) | Poll::Pending => return progressed,
            }
        }
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.shared.close();
            for (_, r) in self.running.drain() {
                r.abort.abort();
            }
            self.tasks = FuturesUnordered::new();
        }
    }
}

impl Future for RpcDriver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(());
        }
        this.shared.driver.register(cx.waker());
        for _ in 0..BUDGET {
            let mut busy = this.poll_outbox(cx);
            if this.shared.outbox_len.load(Ordering::Acquire) < OUTBOX_LIMIT {
                match this.incoming.poll_next_unpin(cx) {
                    Poll::Ready(Some(m)) => {
                        this.on_message(m);
                        busy = true;
                    }
                    Poll::Ready(None) => {
                        this.finish();
                        return Poll::Ready(());
                    }
                    Poll::Pending => {}
                }
            }
            while let Poll::Ready(Some(id)) = this.tasks.poll_next_unpin(cx) {
                this.running.remove(&id);
            }
            this.poll_timer(cx);
            if !busy {
                return Poll::Pending;
            }
        }
        // Still busy: let other tasks run, then carry on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for RpcDriver {
    fn drop(&mut self) {
        self.finish();
    }
}
