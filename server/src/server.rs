//! The listener, the accept loop and the embedding API.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::ServerConfig;
use crate::room::Registry;

/// State shared by the accept loop and every connection.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) registry: Registry,
    /// Cancelled to start a graceful shutdown.
    pub(crate) shutdown: CancellationToken,
    /// Open TCP connections, including ones still in the handshake.
    pub(crate) connections: AtomicUsize,
}

/// A snapshot of the server's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerStats {
    /// Open TCP connections, including handshakes in progress and closing ones.
    pub connections: usize,
    /// Rooms with at least one peer.
    pub rooms: usize,
    /// Joined peers, over all rooms.
    pub peers: usize,
    /// Bytes queued for joined peers and not yet written to their sockets.
    pub queued_bytes: usize,
}

/// A cheap, cloneable handle to a running server: stop it or read its stats from anywhere.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl ServerHandle {
    /// Starts a graceful shutdown (idempotent); does not wait for it.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// Whether a shutdown has been started.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutdown.is_cancelled()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's base URL, `ws://IP:PORT`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.local_addr)
    }

    /// The URL of `room`: `ws://IP:PORT/v1/rooms/{room}`.
    pub fn room_url(&self, room: &str) -> String {
        format!(
            "ws://{}{}{room}",
            self.local_addr,
            crate::protocol::PATH_PREFIX
        )
    }

    /// Current load.
    pub fn stats(&self) -> ServerStats {
        let counts = self.shared.registry.counts();
        ServerStats {
            connections: self.shared.connections.load(Ordering::Acquire),
            rooms: counts.rooms,
            peers: counts.peers,
            queued_bytes: counts.queued_bytes,
        }
    }
}

/// A server bound to its address and accepting connections on the current tokio runtime.
///
/// Dropping it starts a graceful shutdown without waiting for it; use
/// [`Server::shutdown`] to wait, or [`Server::wait`] to run until a [`ServerHandle`] stops it.
pub struct Server {
    handle: ServerHandle,
    task: Option<JoinHandle<()>>,
}

/// Binds `config.listen` and starts accepting connections on the current tokio runtime.
/// Fails if the configuration is invalid or the address cannot be bound.
pub async fn bind(config: ServerConfig) -> io::Result<Server> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(config.listen).await?;
    let local_addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        registry: Registry::new(config.max_rooms, config.max_peers_per_room),
        config,
        shutdown: CancellationToken::new(),
        connections: AtomicUsize::new(0),
    });
    info!(%local_addr, config = ?shared.config, "listening");
    let task = tokio::spawn(accept_loop(listener, shared.clone()));
    Ok(Server {
        handle: ServerHandle { shared, local_addr },
        task: Some(task),
    })
}

impl Server {
    /// The address the server listens on (the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// The server's base URL, `ws://IP:PORT`.
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// The URL of `room`: `ws://IP:PORT/v1/rooms/{room}`.
    pub fn room_url(&self, room: &str) -> String {
        self.handle.room_url(room)
    }

    /// Current load.
    pub fn stats(&self) -> ServerStats {
        self.handle.stats()
    }

    /// A handle that can stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Gracefully shuts down: stops accepting, closes every client with 1001
    /// ("server shutting down"), and returns once all connections are gone (bounded by
    /// about twice `close_timeout`). The port is free when this returns.
    pub async fn shutdown(self) {
        self.handle.shutdown();
        self.wait().await;
    }

    /// Runs until the server is stopped through a [`ServerHandle`], then finishes the
    /// graceful shutdown.
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        warn!(error = %e, "connection task panicked");
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    let open = shared.connections.fetch_add(1, Ordering::AcqRel);
                    if open >= shared.config.max_connections {
                        shared.connections.fetch_sub(1, Ordering::AcqRel);
                        warn!(%remote, open, "connection limit reached; dropping connection");
                        continue;
                    }
                    debug!(%remote, "accepted");
                    connections.spawn(crate::connection::serve(tcp, remote, shared.clone()));
                }
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let open = connections.len();
    info!(open, "shutting down");
    let grace = shared.config.close_timeout * 2 + Duration::from_millis(500);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            left = connections.len(),
            "closing the remaining connections abruptly"
        );
        connections.shutdown().await;
    }
    info!("stopped");
}
