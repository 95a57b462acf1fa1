//! Server configuration.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Everything the server can be tuned with. Start from [`ServerConfig::default`] and
/// override fields: `ServerConfig { listen: addr, ..Default::default() }`.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1:8787`; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Largest accepted WebSocket message (and frame), in bytes. Default 64 KiB.
    pub max_frame_bytes: usize,
    /// Sustained frames per second a connection may send (token bucket refill rate).
    /// 0 disables rate limiting. Default 50.
    pub rate_limit_per_sec: u32,
    /// Burst size of the token bucket, in frames. Default 100.
    pub rate_limit_burst: u32,
    /// Most frames queued for one client before it is disconnected as a slow reader. Default 256.
    pub send_queue_frames: usize,
    /// Most bytes queued for one client before it is disconnected as a slow reader. A single
    /// frame is always accepted into an empty queue. Default 1 MiB.
    pub send_queue_bytes: usize,
    /// Shared secret; when set, every client must present a valid room token. Default none.
    pub secret: Option<Vec<u8>>,
    /// How often the server pings a client. Default 15 s.
    pub ping_interval: Duration,
    /// How long a client has to answer a ping (any frame counts) before it is evicted. Default 10 s.
    pub ping_timeout: Duration,
    /// Most peers in one room. Default 64.
    pub max_peers_per_room: usize,
    /// Most rooms at once. Default 10 000.
    pub max_rooms: usize,
    /// Most open TCP connections (including ones still in the handshake); more are dropped
    /// at accept. Default 10 000.
    pub max_connections: usize,
    /// Time a client has to complete the WebSocket handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// Time the server waits for the client during a close handshake (and for a blocked
    /// write before a close). Default 2 s.
    pub close_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8787)),
            max_frame_bytes: 64 * 1024,
            rate_limit_per_sec: 50,
            rate_limit_burst: 100,
            send_queue_frames: 256,
            send_queue_bytes: 1024 * 1024,
            secret: None,
            ping_interval: Duration::from_secs(15),
            ping_timeout: Duration::from_secs(10),
            max_peers_per_room: 64,
            max_rooms: 10_000,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("send_queue_frames", &self.send_queue_frames)
            .field("send_queue_bytes", &self.send_queue_bytes)
            .field("auth", &self.secret.is_some())
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_peers_per_room", &self.max_peers_per_room)
            .field("max_rooms", &self.max_rooms)
            .field("max_connections", &self.max_connections)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("close_timeout", &self.close_timeout)
            .finish()
    }
}

impl ServerConfig {
    /// Checks that the values make sense together; the error names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_frame_bytes", self.max_frame_bytes),
            ("send_queue_frames", self.send_queue_frames),
            ("send_queue_bytes", self.send_queue_bytes),
            ("max_peers_per_room", self.max_peers_per_room),
            ("max_rooms", self.max_rooms),
            ("max_connections", self.max_connections),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.max_frame_bytes < 1024 {
            return Err("max_frame_bytes must be at least 1024".into());
        }
        if self.rate_limit_per_sec > 0 && self.rate_limit_burst == 0 {
            return Err("rate_limit_burst must be at least 1 when rate limiting is on".into());
        }
        let durations = [
            ("ping_interval", self.ping_interval),
            ("ping_timeout", self.ping_timeout),
            ("handshake_timeout", self.handshake_timeout),
            ("close_timeout", self.close_timeout),
        ];
        for (name, value) in durations {
            if value.is_zero() {
                return Err(format!("{name} must be greater than zero"));
            }
        }
        if matches!(&self.secret, Some(s) if s.is_empty()) {
            return Err("secret must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_debug_hides_secret() {
        let mut c = ServerConfig::default();
        assert!(c.validate().is_ok());
        c.secret = Some(b"hunter2".to_vec());
        assert!(!format!("{c:?}").contains("hunter2"));
        c.max_frame_bytes = 0;
        assert!(c.validate().unwrap_err().contains("max_frame_bytes"));
    }
}
