//! What the `Rpc` handles, their calls and the driver share: the channel, the calls waiting
//! for an answer (with their deadlines), the handlers, and the small frames the driver
//! sends on behalf of others (cancels and credits, which are sent from `Drop` and `poll`
//! where nothing can be awaited).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_channel::{mpsc, oneshot};
use futures_util::lock::Mutex as AsyncMutex;
use futures_util::task::AtomicWaker;

use super::error::RpcError;
use super::handler::Handler;
use super::wire::{self, Kind};
use super::RpcConfig;
use crate::platform::now_ms;
use crate::DataChannel;

/// What a stream's consumer receives: an item, the end, or the error that ended it.
pub(crate) type StreamFrame = Result<Option<Vec<u8>>, RpcError>;

/// A call waiting for its answer.
pub(crate) enum Waiting {
    Unary(oneshot::Sender<Result<Vec<u8>, RpcError>>),
    Stream {
        frames: mpsc::UnboundedSender<StreamFrame>,
        /// Items the remote may still send before it needs more credit.
        credit: u32,
    },
}

pub(crate) struct Pending {
    pub waiting: Waiting,
    /// When the call times out (µs on `now_us`), and after how long; streams lose their
    /// deadline with their first frame.
    pub deadline: Option<(u64, Duration)>,
}

pub(crate) struct State {
    pub pending: HashMap<u64, Pending>,
    pub deadlines: BTreeSet<(u64, u64)>,
    pub handlers: HashMap<String, Handler>,
    pub closed: bool,
}

pub(crate) struct Shared {
    pub channel: DataChannel,
    pub config: RpcConfig,
    state: Mutex<State>,
    next_id: AtomicU64,
    /// Split bodies go out one at a time (see reassembly.rs).
    split_send: AsyncMutex<()>,
    outbox: mpsc::UnboundedSender<Vec<u8>>,
    /// Frames in the outbox, so the driver can stop reading while too many wait.
    pub outbox_len: AtomicUsize,
    /// The deadline the driver's timer is set for (µs; `u64::MAX`: none).
    pub timer_at: AtomicU64,
    pub driver: AtomicWaker,
}

/// Microseconds on a clock that does not go backwards.
pub(crate) fn now_us() -> u64 {
    (now_ms() * 1000.0) as u64
}

impl Shared {
    pub(crate) fn new(
        channel: DataChannel,
        config: RpcConfig,
    ) -> (Self, mpsc::UnboundedReceiver<Vec<u8>>) {
        let (outbox, outbox_rx) = mpsc::unbounded();
        let shared = Self {
            channel,
            config,
            state: Mutex::new(State {
                pending: HashMap::new(),
                deadlines: BTreeSet::new(),
                handlers: HashMap::new(),
                closed: false,
            }),
            next_id: AtomicU64::new(1),
            split_send: AsyncMutex::new(()),
            outbox,
            outbox_len: AtomicUsize::new(0),
            timer_at: AtomicU64::new(u64::MAX),
            driver: AtomicWaker::new(),
        };
        (shared, outbox_rx)
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the maps half-updated in a way that
        // matters: every update is a single insert or remove.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a call; its id, or why it cannot be made.
    pub(crate) fn register(&self, waiting: Waiting, timeout: Duration) -> Result<u64, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let deadline = now_us()
            .checked_add(u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX))
            .map(|at| (at, timeout));
        let mut state = self.state();
        if state.closed {
            return Err(RpcError::PeerGone);
        }
        if state.pending.len() >= self.config.max_calls {
            return Err(RpcError::Busy(self.config.max_calls as u64));
        }
        if let Some((at, _)) = deadline {
            state.deadlines.insert((at, id));
        }
        state.pending.insert(id, Pending { waiting, deadline });
        drop(state);
        // A deadline sooner than the driver's timer: the driver re-arms it.
        if deadline.is_some_and(|(at, _)| at < self.timer_at.load(Ordering::Acquire)) {
            self.driver.wake();
        }
        Ok(id)
    }

    /// Takes a call out of the table (answered, failed or abandoned).
    pub(crate) fn take(&self, id: u64) -> Option<Pending> {
        let mut state = self.state();
        let pending = state.pending.remove(&id)?;
        if let Some((at, _)) = pending.deadline {
            state.deadlines.remove(&(at, id));
        }
        Some(pending)
    }

    /// Abandons a call the caller no longer waits for: the remote is told to stop.
    pub(crate) fn abandon(&self, id: u64) {
        if self.take(id).is_some() {
            self.enqueue(Kind::Cancel, id, &[]);
        }
    }

    /// Queues a small frame for the driver to send.
    pub(crate) fn enqueue(&self, kind: Kind, id: u64, body: &[u8]) {
        for m in wire::messages(kind, id, &[], body, usize::MAX) {
            if self.outbox.unbounded_send(m).is_ok() {
                self.outbox_len.fetch_add(1, Ordering::AcqRel);
            }
        }
        self.driver.wake();
    }

    /// Sends `prefix ++ payload` as one body, split if the channel needs it.
    pub(crate) async fn send(
        &self,
        kind: Kind,
        id: u64,
        prefix: &[u8],
        payload: &[u8],
    ) -> Result<(), RpcError> {
        let max = self.channel.max_message_size();
        let mut messages = wire::messages(kind, id, prefix, payload, max);
        if messages.len() == 1 {
            let m = messages.pop().unwrap_or_default();
            return self.channel.send(m).await.map_err(RpcError::from_send);
        }
        let _one_at_a_time = self.split_send.lock().await;
        for m in messages {
            self.channel.send(m).await.map_err(RpcError::from_send)?;
        }
        Ok(())
    }

    /// Ends every call with `PeerGone` and refuses new ones.
    pub(crate) fn close(&self) {
        let pending = {
            let mut state = self.state();
            state.closed = true;
            state.deadlines.clear();
            std::mem::take(&mut state.pending)
        };
        for (_, p) in pending {
            match p.waiting {
                Waiting::Unary(tx) => {
                    let _ = tx.send(Err(RpcError::PeerGone));
                }
                Waiting::Stream { frames, .. } => {
                    let _ = frames.unbounded_send(Err(RpcError::PeerGone));
                }
            }
        }
    }
}
