//! Bounded per-client send queue.
//!
//! Frames and bytes are counted from the moment a frame is queued until the writer has
//! handed it to the socket. A push that would exceed either bound aborts the connection
//! (the client is a slow reader) instead of growing the queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

/// One item for the writer.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A frame and the bytes it counts for.
    Frame(Message, usize),
    /// Send a close frame (or just flush a close reply when `None`), then stop.
    Close(Option<CloseFrame>),
}

#[derive(Debug)]
struct State {
    frames: AtomicUsize,
    bytes: AtomicUsize,
    max_frames: usize,
    max_bytes: usize,
    /// Cancelled when the connection must be dropped at once (slow reader, dead socket).
    abort: CancellationToken,
}

/// Sending side; cheap to clone (the room registry holds one per peer).
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    state: Arc<State>,
}

/// Receiving side, owned by the connection's writer.
#[derive(Debug)]
pub(crate) struct OutboxRx {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    state: Arc<State>,
}

/// A queue bounded by `max_frames` and `max_bytes`, tied to `abort`.
pub(crate) fn outbox(
    max_frames: usize,
    max_bytes: usize,
    abort: CancellationToken,
) -> (Outbox, OutboxRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(State {
        frames: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        max_frames,
        max_bytes,
        abort,
    });
    (
        Outbox {
            tx,
            state: state.clone(),
        },
        OutboxRx { rx, state },
    )
}

impl Outbox {
    /// Queues a text frame. On overflow the connection is aborted and `false` returned.
    pub(crate) fn push_text(&self, text: Utf8Bytes) -> bool {
        let len = text.len();
        self.push(Message::Text(text), len)
    }

    /// Queues a ping. On overflow the connection is aborted and `false` returned.
    pub(crate) fn push_ping(&self) -> bool {
        self.push(Message::Ping(Bytes::new()), 0)
    }

    fn push(&self, msg: Message, len: usize) -> bool {
        let s = &self.state;
        if s.abort.is_cancelled() {
            return false;
        }
        let frames = s.frames.fetch_add(1, Ordering::AcqRel) + 1;
        let bytes = s.bytes.fetch_add(len, Ordering::AcqRel) + len;
        let over = frames > s.max_frames || (frames > 1 && bytes > s.max_bytes);
        if over || self.tx.send(Outgoing::Frame(msg, len)).is_err() {
            s.frames.fetch_sub(1, Ordering::AcqRel);
            s.bytes.fetch_sub(len, Ordering::AcqRel);
            if over {
                s.abort.cancel();
            }
            return false;
        }
        true
    }

    /// Queues the final close (not subject to the bounds). `false` if the writer is gone.
    pub(crate) fn close(&self, frame: Option<CloseFrame>) -> bool {
        self.tx.send(Outgoing::Close(frame)).is_ok()
    }

    /// Bytes currently queued or being written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.state.bytes.load(Ordering::Acquire)
    }
}

impl OutboxRx {
    /// Next item, `None` once every sender is gone.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        self.rx.recv().await
    }

    /// Next item if one is queued (tests only).
    #[cfg(test)]
    pub(crate) fn try_recv(&mut self) -> Result<Outgoing, mpsc::error::TryRecvError> {
        self.rx.try_recv()
    }

    /// Marks a frame of `len` bytes as written.
    pub(crate) fn written(&self, len: usize) {
        self.state.frames.fetch_sub(1, Ordering::AcqRel);
        self.state.bytes.fetch_sub(len, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_abort_the_connection() {
        let abort = CancellationToken::new();
        let (tx, _rx) = outbox(3, 10, abort.clone());
        // One frame is always accepted into an empty queue, even a big one.
        assert!(tx.push_text("x".repeat(100).into()));
        assert!(!abort.is_cancelled());
        assert!(!tx.push_text("y".into()));
        assert!(abort.is_cancelled());
        assert!(!tx.push_ping());
        assert_eq!(tx.queued_bytes(), 100);
    }

    #[test]
    fn frame_bound_and_written_releases() {
        let abort = CancellationToken::new();
        let (tx, rx) = outbox(2, 1000, abort.clone());
        assert!(tx.push_text("a".into()));
        assert!(tx.push_text("b".into()));
        rx.written(1);
        assert!(tx.push_text("c".into()));
        assert!(!abort.is_cancelled());
        assert!(!tx.push_text("d".into()));
        assert!(abort.is_cancelled());
    }
}
