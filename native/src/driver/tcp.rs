//! TCP connections of a peer to its TURN servers (`turn:...?transport=tcp`): the driver
//! only moves bytes; the session's TURN client frames them.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::{Interest, Registry, Token};
use tracing::debug;

use crate::command::PeerId;

/// Bytes a connection may hold unsent before more are dropped (the TURN client
/// retransmits its requests; relayed data is datagrams that may be lost).
const MAX_PENDING: usize = 256 * 1024;

/// Bytes read per readiness event before the other sockets get a turn.
const READ_PER_TURN: usize = 256 * 1024;

/// What a read left.
#[derive(PartialEq, Eq)]
pub(super) enum TcpRead {
    /// Nothing more is waiting (the next readiness event brings more).
    Drained,
    /// The turn ended with bytes still waiting: read again.
    More,
    /// The connection is gone (EOF or error).
    Ended,
}

pub(super) struct TcpLink {
    stream: mio::net::TcpStream,
    pub(super) peer: PeerId,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    pending: Vec<u8>,
    /// Closed (by either side or an error): the session was told once.
    pub(super) closed: bool,
}

impl TcpLink {
    pub(super) fn new(
        stream: std::net::TcpStream,
        remote: SocketAddr,
        peer: PeerId,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        let local = stream.local_addr()?;
        let mut stream = mio::net::TcpStream::from_std(stream);
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Self {
            stream,
            peer,
            local,
            remote,
            pending: Vec::new(),
            closed: false,
        })
    }

    pub(super) fn deregister(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
    }

    /// Reads what is waiting into `buf` (cleared first), at most `READ_PER_TURN` bytes.
    pub(super) fn read(&mut self, buf: &mut Vec<u8>) -> TcpRead {
        buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        while buf.len() < READ_PER_TURN {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.closed = true;
                    return TcpRead::Ended;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return TcpRead::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(error = %e, "TCP connection to a TURN server failed");
                    self.closed = true;
                    return TcpRead::Ended;
                }
            }
        }
        TcpRead::More
    }

    /// Queues bytes and writes what the socket takes.
    pub(super) fn send(&mut self, data: &[u8]) {
        if self.closed {
            return;
        }
        if self.pending.len() + data.len() > MAX_PENDING {
            debug!("TCP send buffer to a TURN server full; data dropped");
            return;
        }
        self.pending.extend_from_slice(data);
        self.flush();
    }

    /// Writes pending bytes (on writability, and after each send).
    pub(super) fn flush(&mut self) {
        while !self.pending.is_empty() && !self.closed {
            match self.stream.write(&self.pending) {
                Ok(0) => {
                    self.closed = true;
                }
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Not connected yet: written when it is.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(error = %e, "TCP write to a TURN server failed");
                    self.closed = true;
                }
            }
        }
    }
}
