//! Running the server on its own thread, for code that has no tokio runtime.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use crate::config::ServerConfig;
use crate::server::{bind, ServerHandle, ServerStats};

/// A server running on its own thread with its own tokio runtime.
/// [`RunningServer::stop`] or dropping it shuts it down gracefully and joins the thread.
pub struct RunningServer {
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

/// Starts a server on a new thread (with a 2-worker tokio runtime) and returns once it
/// is bound and accepting. Usable from any code, async or not, with or without tokio.
pub fn spawn_in_thread(config: ServerConfig) -> io::Result<RunningServer> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("unipeer-server".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("unipeer-server-worker")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                match bind(config).await {
                    Ok(server) => {
                        let _ = ready_tx.send(Ok(server.handle()));
                        server.wait().await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
    match ready_rx.recv() {
        Ok(Ok(handle)) => Ok(RunningServer {
            handle,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(io::Error::other("server thread exited during startup"))
        }
    }
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
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

    /// A handle that can stop the server from elsewhere (without joining its thread).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Shuts down gracefully (clients get close 1001) and joins the server thread.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
