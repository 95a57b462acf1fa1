//! One client connection: handshake, admission, then the session, then the close.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info};

use crate::protocol::{close_code, close_reason, is_valid_room_name};
use crate::server::Shared;
use crate::target::{parse_target, Target};
use crate::token::{unix_now, verify_token, TokenError};

/// Most bytes read and discarded while waiting for a client to finish a close.
const LINGER_MAX_BYTES: usize = 1 << 20;
/// Read buffer of each connection (tungstenite allocates it up front).
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// Most frames read and discarded while waiting for a client's close reply.
const LINGER_MAX_FRAMES: usize = 256;

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Decrements the connection count when the connection ends, however it ends.
struct ConnectionSlot(Arc<Shared>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves one accepted TCP connection to the end. The caller has already counted it in
/// `shared.connections`.
pub(crate) async fn serve(tcp: TcpStream, remote: SocketAddr, shared: Arc<Shared>) {
    let _slot = ConnectionSlot(shared.clone());
    let _ = tcp.set_nodelay(true);
    let Some((ws, target)) = handshake(tcp, &shared).await else {
        debug!(%remote, "handshake failed");
        return;
    };
    if let Err(reason) = admit(&target, &shared) {
        info!(%remote, reason, "connection refused");
        close_and_linger(ws, close_code::POLICY_VIOLATION, reason, &shared).await;
        return;
    }
    crate::session::run(ws, remote, target.room, shared).await;
}

/// Performs the WebSocket upgrade, refusing paths other than `/v1/rooms/{room}` with 404.
async fn handshake(tcp: TcpStream, shared: &Shared) -> Option<(Ws, Target)> {
    let mut target = None;
    // The callback's signature is tungstenite's; its error type is an HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match parse_target(req.uri().path(), req.uri().query()) {
            Some(t) => {
                target = Some(t);
                Ok(resp)
            }
            None => {
                let mut err = ErrorResponse::new(Some("not found: use /v1/rooms/{room}\n".into()));
                *err.status_mut() = StatusCode::NOT_FOUND;
                Err(err)
            }
        }
    };
    let max = shared.config.max_frame_bytes;
    // Signaling is light: small eagerly allocated buffers keep idle connections cheap.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let accept = tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(config));
    let ws = timeout(shared.config.handshake_timeout, accept)
        .await
        .ok()?
        .ok()?;
    Some((ws, target?))
}

/// Checks the room name and, when the server has a secret, the token.
/// Returns the close reason on refusal (sent with close code 1008).
fn admit(target: &Target, shared: &Shared) -> Result<(), &'static str> {
    if !is_valid_room_name(&target.room) {
        return Err(close_reason::INVALID_ROOM);
    }
    let Some(secret) = &shared.config.secret else {
        return Ok(());
    };
    let token = target
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or(close_reason::TOKEN_REQUIRED)?;
    verify_token(secret, token, &target.room, unix_now()).map_err(|e| match e {
        TokenError::Malformed | TokenError::BadSignature => close_reason::TOKEN_INVALID,
        TokenError::Expired => close_reason::TOKEN_EXPIRED,
        TokenError::WrongRoom => close_reason::TOKEN_WRONG_ROOM,
    })
}

/// A close frame with `code` and `reason`.
pub(crate) fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }
}

/// Sends a close frame on a connection that has no session yet, then waits for the reply.
pub(crate) async fn close_and_linger(mut ws: Ws, code: u16, reason: &'static str, shared: &Shared) {
    let wait = shared.config.close_timeout;
    if timeout(wait, ws.close(Some(close_frame(code, reason))))
        .await
        .is_ok()
    {
        await_close_reply(ws, wait).await;
    }
}

/// After our close frame went out: reads and discards the client's frames until its close
/// reply (or the end of the stream), at most `wait` and [`LINGER_MAX_FRAMES`], then drops
/// the socket. Dropping a socket with unread input would reset the connection and could
/// destroy the close frame before the client reads it.
pub(crate) async fn await_close_reply(mut ws: Ws, wait: Duration) {
    let drain = async {
        let mut frames = 0;
        while let Some(Ok(msg)) = ws.next().await {
            frames += 1;
            if msg.is_close() || frames > LINGER_MAX_FRAMES {
                break;
            }
        }
    };
    let _ = timeout(wait, drain).await;
}

/// Like [`await_close_reply`] for a stream that can no longer be parsed (after an oversized
/// frame header): closes our sending side and discards raw input until the client closes,
/// at most `wait` and [`LINGER_MAX_BYTES`].
pub(crate) async fn linger_raw(mut tcp: TcpStream, wait: Duration) {
    let _ = tcp.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while let Ok(n @ 1..) = tcp.read(&mut buf).await {
            total += n;
            if total > LINGER_MAX_BYTES {
                break;
            }
        }
    };
    let _ = timeout(wait, drain).await;
}
