//! Test clients for the signaling server. Every wait is bounded.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use unipeer_server::{bind, Server, ServerConfig};

/// Longest a test waits for any single expected event.
pub const STEP: Duration = Duration::from_secs(5);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A config listening on a free loopback port.
pub fn config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    }
}

pub async fn start(config: ServerConfig) -> Server {
    bind(config).await.expect("server binds")
}

pub fn room_url(addr: SocketAddr, room: &str) -> String {
    format!("ws://{addr}/v1/rooms/{room}")
}

/// Opens a WebSocket to `url` (no protocol expectations).
pub async fn connect(url: &str) -> Result<Ws, tungstenite::Error> {
    match timeout(STEP, tokio_tungstenite::connect_async(url)).await {
        Ok(result) => result.map(|(ws, _)| ws),
        Err(_) => panic!("connecting to {url} timed out"),
    }
}

/// A joined client.
pub struct Client {
    pub ws: Ws,
    pub id: String,
    pub peers: Vec<String>,
}

impl Client {
    /// Connects to `url` and reads the welcome.
    pub async fn join(url: &str) -> Client {
        let ws = connect(url).await.expect("websocket connects");
        Client::from_ws(ws).await
    }

    /// Reads the welcome on an open socket.
    pub async fn from_ws(ws: Ws) -> Client {
        let mut c = Client {
            ws,
            id: String::new(),
            peers: Vec::new(),
        };
        let welcome = c.recv().await;
        assert_eq!(welcome["type"], "welcome", "first frame: {welcome}");
        c.id = welcome["peer_id"].as_str().unwrap().to_owned();
        c.peers = welcome["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        c
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        let text: String = text.into();
        timeout(STEP, self.ws.send(Message::text(text)))
            .await
            .expect("send timed out")
            .expect("send failed");
    }

    /// Sends, tolerating a socket the server already closed; `true` if it went out.
    pub async fn send_quiet(&mut self, text: impl Into<String>) -> bool {
        let text: String = text.into();
        matches!(
            timeout(STEP, self.ws.send(Message::text(text))).await,
            Ok(Ok(()))
        )
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    pub async fn signal(&mut self, to: &str, payload: Value) {
        self.send_json(json!({"type": "signal", "to": to, "payload": payload}))
            .await;
    }

    /// The next text frame, raw. Panics on close, error or timeout.
    pub async fn recv_text(&mut self) -> String {
        loop {
            let msg = timeout(STEP, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("client {} waited too long for a frame", self.id));
            match msg {
                Some(Ok(Message::Text(t))) => return t.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("client {} expected a text frame, got {other:?}", self.id),
            }
        }
    }

    /// The next text frame, parsed.
    pub async fn recv(&mut self) -> Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text).expect("server frames are JSON")
    }

    /// The next text frame if one arrives within `wait`.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        match timeout(wait, self.next_text_or_close()).await {
            Ok(Some(Message::Text(t))) => Some(serde_json::from_str(&t).unwrap()),
            Ok(other) => panic!("client {} expected a text frame, got {other:?}", self.id),
            Err(_) => None,
        }
    }

    /// The next frame, which must have `type` `ty`.
    pub async fn expect(&mut self, ty: &str) -> Value {
        let v = self.recv().await;
        assert_eq!(v["type"], ty, "client {} got {v}", self.id);
        v
    }

    /// Reads until the server's close frame; returns its code and reason.
    /// Text frames before it are skipped.
    pub async fn expect_close(&mut self) -> (u16, String) {
        expect_close(&mut self.ws).await
    }

    /// The next frame must be the server's close frame; returns its code and reason.
    pub async fn expect_close_next(&mut self) -> (u16, String) {
        let closed = match timeout(STEP, self.next_text_or_close()).await {
            Ok(Some(Message::Close(Some(f)))) => (u16::from(f.code), f.reason.to_string()),
            other => panic!(
                "client {} expected a close frame next, got {other:?}",
                self.id
            ),
        };
        finish_close(&mut self.ws).await;
        closed
    }

    /// Asserts that no text frame arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(msg) = timeout(wait, self.next_text_or_close()).await {
            panic!("client {} expected silence, got {msg:?}", self.id);
        }
    }

    async fn next_text_or_close(&mut self) -> Option<Message> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                _ => return None,
            }
        }
    }
}

/// Reads `ws` until the server's close frame; returns its code and reason.
pub async fn expect_close(ws: &mut Ws) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no close frame in time");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => {
                finish_close(ws).await;
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) => {
                finish_close(ws).await;
                return (1005, String::new());
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// After the server's close frame: keeps polling so the client's close reply goes out,
/// until the server closes the connection (which it must do promptly).
async fn finish_close(ws: &mut Ws) {
    let end = timeout(STEP, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    assert!(
        end.is_ok(),
        "the server did not close the connection after the close handshake"
    );
}

/// Polls `cond` every 10 ms until it holds, at most `STEP`.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + STEP;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
