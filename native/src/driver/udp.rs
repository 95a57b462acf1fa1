//! One UDP socket of one peer, through quinn-udp: batched receives with GRO and batched
//! sends with GSO where the kernel offers them.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;

use mio::{Interest, Registry, Token};
use quinn_udp::{RecvMeta, Transmit as UdpTransmit, UdpSocketState, BATCH_SIZE};
use str0m::net::Transmit;
use tracing::debug;

use crate::command::PeerId;

/// GRO can coalesce up to 64 KiB into one receive.
const SLOT: usize = 64 * 1024;
/// A GSO batch is one UDP send: its payload must stay under the 65,507-byte IPv4 limit.
const MAX_GSO_BYTES: usize = 65_000;
/// Kernel buffers per socket: room for bursts of a fast channel.
const SOCKET_BUFFER: usize = 2 * 1024 * 1024;

/// Receive buffers shared by every socket of the driver (one thread reads at a time).
pub(super) struct RecvBuffers {
    data: Vec<u8>,
    meta: Vec<RecvMeta>,
}

impl RecvBuffers {
    pub(super) fn new() -> Self {
        Self {
            data: vec![0; SLOT * BATCH_SIZE],
            meta: vec![RecvMeta::default(); BATCH_SIZE],
        }
    }
}

pub(super) struct Endpoint {
    socket: mio::net::UdpSocket,
    state: UdpSocketState,
    pub(super) peer: PeerId,
    local: SocketAddr,
}

impl Endpoint {
    pub(super) fn new(
        socket: std::net::UdpSocket,
        peer: PeerId,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        let state = UdpSocketState::new((&socket).into())?;
        // Larger buffers only help; a kernel that caps them is fine.
        let _ = state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER);
        let _ = state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER);
        let mut socket = mio::net::UdpSocket::from_std(socket);
        registry.register(&mut socket, token, Interest::READABLE)?;
        Ok(Self {
            socket,
            state,
            peer,
            local,
        })
    }

    pub(super) fn local(&self) -> SocketAddr {
        self.local
    }

    pub(super) fn deregister(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.socket);
    }

    /// Reads one batch and hands each datagram to `f(source, destination, data)`.
    /// `Ok(None)` when nothing was waiting; `Ok(Some(more))` after a batch, with `more`
    /// false once the socket is known to be drained: on Linux a batch that was not full
    /// (epoll is edge-triggered and fires on every arrival, so a later datagram brings a
    /// new event; reading on to `WouldBlock` would only cost a system call per turn).
    pub(super) fn recv(
        &self,
        bufs: &mut RecvBuffers,
        mut f: impl FnMut(SocketAddr, SocketAddr, &[u8]),
    ) -> io::Result<Option<bool>> {
        let RecvBuffers { data, meta } = bufs;
        let mut iovs: Vec<IoSliceMut<'_>> = data.chunks_mut(SLOT).map(IoSliceMut::new).collect();
        let n = match self.state.recv((&self.socket).into(), &mut iovs, meta) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        for (iov, m) in iovs.iter().zip(meta.iter()).take(n) {
            let dest = m
                .dst_ip
                .map_or(self.local, |ip| SocketAddr::new(ip, self.local.port()));
            let stride = if m.stride == 0 { m.len } else { m.stride };
            for segment in iov[..m.len].chunks(stride.max(1)) {
                f(m.addr, dest, segment);
            }
        }
        Ok(Some(!cfg!(target_os = "linux") || n >= iovs.len()))
    }

    /// Sends datagrams, coalescing runs to one destination into GSO batches assembled in
    /// `scratch` (the driver's, shared by every socket so no peer keeps a large buffer).
    pub(super) fn send_all<'a>(
        &self,
        scratch: &mut Vec<u8>,
        transmits: impl Iterator<Item = &'a Transmit>,
    ) {
        let max = self.state.max_gso_segments().max(1);
        let mut dest: Option<SocketAddr> = None;
        let mut segment = 0;
        let mut count = 0;
        // A shorter segment ends a GSO batch: only the last may be short.
        let mut short = false;
        scratch.clear();
        for t in transmits {
            let len = t.contents.len();
            let joins = dest == Some(t.destination)
                && count < max
                && !short
                && len <= segment
                && scratch.len() + len <= MAX_GSO_BYTES;
            if !joins {
                self.flush_batch(scratch, dest, segment, count);
                dest = Some(t.destination);
                segment = len;
                count = 0;
                short = false;
            }
            short |= len < segment;
            scratch.extend_from_slice(&t.contents);
            count += 1;
        }
        self.flush_batch(scratch, dest, segment, count);
    }

    fn flush_batch(
        &self,
        scratch: &mut Vec<u8>,
        dest: Option<SocketAddr>,
        segment: usize,
        count: usize,
    ) {
        let Some(destination) = dest else { return };
        if scratch.is_empty() {
            return;
        }
        let transmit = UdpTransmit {
            destination,
            ecn: None,
            contents: scratch,
            segment_size: (count > 1).then_some(segment),
            src_ip: None,
        };
        // A full socket buffer drops the datagrams, as the network would; SCTP and ICE
        // retransmit.
        match self.state.try_send((&self.socket).into(), &transmit) {
            Err(e) if count > 1 && quinn_udp::is_msg_size_err(&e) => {
                // The path refuses this batch size: send its datagrams one by one.
                for one in scratch.chunks(segment) {
                    let single = UdpTransmit {
                        contents: one,
                        segment_size: None,
                        ..transmit
                    };
                    if let Err(e) = self.state.try_send((&self.socket).into(), &single) {
                        debug!(error = %e, "send failed; datagram dropped");
                    }
                }
            }
            Err(e) => debug!(error = %e, "send failed; datagrams dropped"),
            Ok(()) => {}
        }
        scratch.clear();
    }
}
