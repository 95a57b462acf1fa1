//! A joined client: the read loop (relay, rate limit, keepalive) and the close.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::connection::{await_close_reply, close_and_linger, close_frame, linger_raw, Ws};
use crate::protocol::{
    close_code, close_reason, error_code, parse_client_frame, truncate, ClientFrame, ServerFrame,
    MAX_CONSECUTIVE_BAD_FRAMES,
};
use crate::queue::{outbox, Outbox};
use crate::ratelimit::TokenBucket;
use crate::room::{JoinError, RelayError};
use crate::server::Shared;

/// How a session ended.
#[derive(Debug)]
enum Exit {
    /// The client closed, or the socket failed while reading.
    Client,
    /// The server closes with this code and reason.
    Close(u16, &'static str),
    /// The client sent an oversized frame: close with 1008, and never parse the stream again.
    TooLarge,
    /// The connection is dropped at once (slow reader, failed write).
    Abort,
}

/// Removes the peer from its room when dropped, however the session ends.
struct Membership {
    shared: Arc<Shared>,
    room: String,
    id: String,
}

impl Drop for Membership {
    fn drop(&mut self) {
        // During a shutdown every client is closed with 1001 and should reconnect; telling
        // the others that their peers left would only make them tear down connections
        // that can outlive the signaling server.
        let notify = !self.shared.shutdown.is_cancelled();
        self.shared.registry.leave(&self.room, &self.id, notify);
    }
}

/// Joins `room` and serves the client until it leaves or is closed.
pub(crate) async fn run(ws: Ws, remote: SocketAddr, room: String, shared: Arc<Shared>) {
    let config = &shared.config;
    let abort = CancellationToken::new();
    // Whatever happens to this future, the writer must stop with it.
    let _stop_writer = abort.clone().drop_guard();
    let (out, rx) = outbox(
        config.send_queue_frames,
        config.send_queue_bytes,
        abort.clone(),
    );
    let id = match shared.registry.join(&room, out.clone()) {
        Ok(id) => id,
        Err(e) => {
            let reason = match e {
                JoinError::RoomFull => close_reason::ROOM_FULL,
                JoinError::TooManyRooms => close_reason::TOO_MANY_ROOMS,
            };
            info!(%remote, room, reason, "join refused");
            close_and_linger(ws, close_code::TRY_AGAIN_LATER, reason, &shared).await;
            return;
        }
    };
    info!(%remote, room, peer = id, "peer joined");
    let membership = Membership {
        shared: shared.clone(),
        room,
        id,
    };
    let (sink, mut stream) = ws.split();
    let mut writer = tokio::spawn(crate::writer::run(sink, rx, abort.clone()));

    let exit = read_loop(&mut stream, &membership, &out, &abort).await;
    info!(%remote, room = membership.room, peer = membership.id, ?exit, "peer left");
    drop(membership);

    let wait = shared.config.close_timeout;
    let frame = match exit {
        Exit::Abort => {
            abort.cancel();
            return;
        }
        Exit::Client => None,
        Exit::Close(code, reason) => Some(close_frame(code, reason)),
        Exit::TooLarge => Some(close_frame(
            close_code::POLICY_VIOLATION,
            close_reason::FRAME_TOO_LARGE,
        )),
    };
    let we_close = frame.is_some();
    // After an oversized frame header the stream cannot be parsed any more.
    let desynced = matches!(exit, Exit::TooLarge);
    out.close(frame);
    drop(out);
    let sink = match timeout(wait, &mut writer).await {
        Ok(Ok(Some(sink))) => sink,
        _ => {
            abort.cancel();
            return;
        }
    };
    let Ok(ws) = sink.reunite(stream) else { return };
    if desynced {
        linger_raw(ws.into_inner(), wait).await;
    } else if we_close {
        await_close_reply(ws, wait).await;
    }
    // Otherwise the client closed first and got our reply: dropping the socket closes TCP.
}

/// Reads client frames until the session must end.
async fn read_loop(
    stream: &mut SplitStream<Ws>,
    me: &Membership,
    out: &Outbox,
    abort: &CancellationToken,
) -> Exit {
    let config = &me.shared.config;
    let mut bucket = TokenBucket::new(
        config.rate_limit_per_sec,
        config.rate_limit_burst,
        Instant::now().into_std(),
    );
    let mut bad_frames = 0u32;
    let mut next_ping = Instant::now() + config.ping_interval;
    let mut pong_deadline: Option<Instant> = None;
    loop {
        let timer = pong_deadline.unwrap_or(next_ping);
        let msg = tokio::select! {
            biased;
            _ = abort.cancelled() => return Exit::Abort,
            _ = me.shared.shutdown.cancelled() => {
                return Exit::Close(close_code::GOING_AWAY, close_reason::SHUTTING_DOWN);
            }
            _ = sleep_until(timer) => {
                if pong_deadline.is_some() {
                    return Exit::Close(close_code::GOING_AWAY, close_reason::PING_TIMEOUT);
                }
                if !out.push_ping() {
                    return Exit::Abort;
                }
                pong_deadline = Some(Instant::now() + config.ping_timeout);
                continue;
            }
            msg = stream.next() => msg,
        };
        let msg = match msg {
            None => return Exit::Client,
            Some(Ok(msg)) => msg,
            Some(Err(WsError::Capacity(_))) => {
                return Exit::TooLarge;
            }
            Some(Err(e)) => {
                debug!(peer = me.id, error = %e, "read failed");
                return Exit::Client;
            }
        };
        // Any frame proves the client is alive.
        let now = Instant::now();
        pong_deadline = None;
        next_ping = now + config.ping_interval;
        if !bucket.try_take(now.into_std()) {
            return Exit::Close(close_code::POLICY_VIOLATION, close_reason::RATE_LIMITED);
        }
        match msg {
            Message::Text(text) => match parse_client_frame(&text) {
                Ok(ClientFrame::Signal { to, payload }) => {
                    bad_frames = 0;
                    debug!(peer = me.id, to, bytes = payload.get().len(), "signal");
                    let relayed = me.shared.registry.relay(&me.room, &me.id, &to, &payload);
                    if let Err(RelayError::UnknownPeer) = relayed {
                        let message = format!("no peer {:?} in this room", truncate(&to, 64));
                        send_error(out, error_code::UNKNOWN_PEER, &message);
                    }
                }
                Err(message) => {
                    bad_frames += 1;
                    debug!(peer = me.id, bad_frames, message, "bad frame");
                    if bad_frames > MAX_CONSECUTIVE_BAD_FRAMES {
                        return Exit::Close(
                            close_code::POLICY_VIOLATION,
                            close_reason::TOO_MANY_BAD_FRAMES,
                        );
                    }
                    send_error(out, error_code::BAD_FRAME, &message);
                }
            },
            Message::Binary(_) => {
                return Exit::Close(
                    close_code::UNSUPPORTED_DATA,
                    close_reason::BINARY_NOT_SUPPORTED,
                );
            }
            Message::Close(_) => return Exit::Client,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Queues an `error` frame (a full queue aborts the connection, seen on the next turn).
fn send_error(out: &Outbox, code: &str, message: &str) {
    out.push_text(ServerFrame::Error { code, message }.to_json().into());
}
