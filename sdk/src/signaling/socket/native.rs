//! The native WebSocket: async-tungstenite over async-net (see `../socket.rs` for why).

use std::collections::VecDeque;
use std::task::{ready, Context, Poll};

use async_tungstenite::smol::{connect_async_with_config, ConnectStream};
use async_tungstenite::tungstenite::error::{Error as WsError, UrlError};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures_util::{SinkExt, StreamExt};

use super::{Closed, ConnectError, Incoming};

/// The largest frame we accept from the server (its own limit is far lower).
const MAX_FRAME: usize = 1024 * 1024;

pub(crate) struct Socket {
    ws: WebSocketStream<ConnectStream>,
}

impl Socket {
    /// Opens a WebSocket to `url` (`ws://`; `wss://` is refused with a clear message).
    pub(crate) async fn connect(url: String) -> Result<Socket, ConnectError> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        match connect_async_with_config(url.as_str(), Some(config)).await {
            Ok((ws, _response)) => Ok(Socket { ws }),
            Err(e) => Err(connect_error(e)),
        }
    }

    /// The next text frame, or how the connection ended.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Incoming> {
        loop {
            let closed = match ready!(self.ws.poll_next_unpin(cx)) {
                Some(Ok(Message::Text(text))) => {
                    return Poll::Ready(Incoming::Text(text.to_string()))
                }
                // Binary frames are not part of the protocol; pings are answered by
                // tungstenite itself.
                Some(Ok(
                    Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_),
                )) => continue,
                Some(Ok(Message::Close(frame))) => Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                },
                Some(Err(e)) => Closed {
                    code: None,
                    reason: format!("connection lost: {e}"),
                },
                None => Closed {
                    code: None,
                    reason: "the server closed the connection".into(),
                },
            };
            return Poll::Ready(Incoming::Closed(closed));
        }
    }

    /// Writes every queued frame and flushes. Ready once the queue is empty and flushed.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        queue: &mut VecDeque<String>,
    ) -> Poll<Result<(), String>> {
        while !queue.is_empty() {
            ready!(self.ws.poll_ready_unpin(cx)).map_err(|e| e.to_string())?;
            let Some(text) = queue.pop_front() else { break };
            self.ws
                .start_send_unpin(Message::text(text))
                .map_err(|e| e.to_string())?;
        }
        self.ws.poll_flush_unpin(cx).map_err(|e| e.to_string())
    }

    /// Sends a normal close and waits until it is written (the caller bounds the wait).
    pub(crate) async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}

fn connect_error(e: WsError) -> ConnectError {
    match e {
        WsError::Http(response) => {
            let status = response.status();
            ConnectError {
                refused: status.is_client_error(),
                message: format!(
                    "the server answered HTTP {status} instead of a WebSocket upgrade{}",
                    if status.as_u16() == 401 || status.as_u16() == 403 {
                        " (is the room token right?)"
                    } else {
                        ""
                    }
                ),
            }
        }
        WsError::Url(UrlError::TlsFeatureNotEnabled) => ConnectError {
            refused: true,
            message: "wss:// is not supported by the native client yet; \
                      use ws:// (behind a TLS-terminating proxy on the same host)"
                .into(),
        },
        WsError::Url(u) => ConnectError {
            refused: true,
            message: format!("bad URL: {u}"),
        },
        other => ConnectError {
            refused: false,
            message: other.to_string(),
        },
    }
}
