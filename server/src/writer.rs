//! The writing half of a connection: drains the client's queue into the socket.

use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::connection::Ws;
use crate::queue::{OutboxRx, Outgoing};

/// Writing half of a split WebSocket.
pub(crate) type Sink = SplitSink<Ws, Message>;

/// Writes queued frames until the final close went out (then returns the sink so the
/// caller can finish the TCP close) or until `abort` (then returns `None`).
/// A failed write aborts the connection.
pub(crate) async fn run(
    mut sink: Sink,
    mut rx: OutboxRx,
    abort: CancellationToken,
) -> Option<Sink> {
    loop {
        let item = tokio::select! {
            biased;
            _ = abort.cancelled() => return None,
            item = rx.recv() => item?,
        };
        let (msg, len, last) = match item {
            Outgoing::Frame(msg, len) => (msg, len, false),
            Outgoing::Close(frame) => (Message::Close(frame), 0, true),
        };
        let result = tokio::select! {
            biased;
            _ = abort.cancelled() => return None,
            result = sink.send(msg) => result,
        };
        if last {
            // Errors here are normal: the client may have closed first.
            return Some(sink);
        }
        rx.written(len);
        if result.is_err() {
            abort.cancel();
            return None;
        }
    }
}
