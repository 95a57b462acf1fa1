//! The browser WebSocket: `web_sys::WebSocket` with listeners owned by the socket.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use gloo_events::EventListener;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::{Closed, ConnectError, Incoming};

pub(crate) struct Socket {
    ws: WebSocket,
    rx: mpsc::UnboundedReceiver<Incoming>,
    /// `open`, `message` and `close`; removed when the socket drops (no `forget`).
    _listeners: [EventListener; 3],
    closed: bool,
}

/// The text of a thrown JS value.
fn js_text(value: &JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            js_sys::Reflect::get(value, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown browser error".into())
}

impl Socket {
    /// Opens a WebSocket to `url` and waits until it is open.
    pub(crate) async fn connect(url: String) -> Result<Socket, ConnectError> {
        // Throws only for a malformed URL or a forbidden port: retrying cannot help.
        let ws = WebSocket::new(&url).map_err(|e| ConnectError {
            refused: true,
            message: format!("bad URL {url:?}: {}", js_text(&e)),
        })?;
        let (tx, rx) = mpsc::unbounded();
        let (open_tx, open_rx) = oneshot::channel::<()>();
        let mut open_tx = Some(open_tx);
        let on_open = EventListener::new(&ws, "open", move |_| {
            if let Some(open) = open_tx.take() {
                let _ = open.send(());
            }
        });
        let on_message = {
            let tx = tx.clone();
            EventListener::new(&ws, "message", move |event| {
                let Some(event) = event.dyn_ref::<MessageEvent>() else {
                    return;
                };
                // Binary frames are not part of the protocol.
                if let Some(text) = event.data().as_string() {
                    let _ = tx.unbounded_send(Incoming::Text(text));
                }
            })
        };
        let on_close = EventListener::new(&ws, "close", move |event| {
            let closed = match event.dyn_ref::<CloseEvent>() {
                // 1006: closed without a close frame (refused, unreachable, dropped).
                Some(e) if e.code() == 1006 => Closed {
                    code: None,
                    reason: "the connection failed or was lost (the browser gives no detail)"
                        .into(),
                },
                Some(e) => Closed {
                    code: Some(e.code()),
                    reason: e.reason(),
                },
                None => Closed {
                    code: None,
                    reason: "the connection closed".into(),
                },
            };
            let _ = tx.unbounded_send(Incoming::Closed(closed));
        });
        let mut socket = Socket {
            ws,
            rx,
            _listeners: [on_open, on_message, on_close],
            closed: false,
        };
        // Dropping this future before the socket opens drops (and closes) the socket.
        let failed = match select(open_rx, socket.rx.next()).await {
            Either::Left((Ok(()), _)) => None,
            Either::Right((Some(Incoming::Closed(c)), _)) => Some(c.to_string()),
            _ => Some("the connection closed before it opened".to_string()),
        };
        match failed {
            None => Ok(socket),
            Some(message) => Err(ConnectError {
                refused: false,
                message,
            }),
        }
    }

    /// The next text frame, or how the connection ended.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Incoming> {
        match self.rx.poll_next_unpin(cx) {
            Poll::Ready(Some(incoming)) => {
                if matches!(incoming, Incoming::Closed(_)) {
                    self.closed = true;
                }
                Poll::Ready(incoming)
            }
            Poll::Ready(None) => Poll::Ready(Incoming::Closed(Closed {
                code: None,
                reason: "the connection closed".into(),
            })),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Hands every queued frame to the browser (which buffers them itself).
    pub(crate) fn poll_send(
        &mut self,
        _cx: &mut Context<'_>,
        queue: &mut VecDeque<String>,
    ) -> Poll<Result<(), String>> {
        while let Some(text) = queue.pop_front() {
            self.ws.send_with_str(&text).map_err(|e| js_text(&e))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Starts a normal close (the browser finishes it on its own).
    pub(crate) async fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = self.ws.close_with_code(1000);
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.ws.close();
        }
    }
}
