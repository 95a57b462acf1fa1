use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use futures_channel::oneshot;
use unipeer_core::{
    ChannelCore, ConnectionState, DataChannelInit, Error, EventQueue, EventStream, IceCandidate,
    PeerConfig, Result, SessionDescription, TrackInit,
};

use crate::command::{Command, NewChannel, NewTrack, PeerId, Reply};
use crate::driver::{self, DriverHandle};
use crate::ice::{self, IcePlan};
use crate::session::{channels_config, PeerShared, Session, SessionParts};
use crate::track::{Track, TrackShared};
use crate::{gather, prebuilt, secure, DataChannel};

/// A native peer handle; applications use `unipeer::Peer`.
pub struct Peer {
    id: PeerId,
    driver: Arc<DriverHandle>,
    shared: Arc<PeerShared>,
    events: EventStream<DataChannel, Track>,
    high_water_mark: usize,
    receive_queue: usize,
}

impl Peer {
    /// Binds one UDP socket per host address and registers the peer with the driver.
    pub fn new(config: PeerConfig) -> Result<Self> {
        config.validate()?;
        let driver = driver::global()?;
        let mut sockets = Vec::new();
        let mut local_addrs = Vec::new();
        for ip in gather::host_addresses(&config.host_candidates)? {
            let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
                .map_err(|e| Error::Io(format!("binding a UDP socket on {ip} failed: {e}")))?;
            local_addrs.push(socket.local_addr()?);
            sockets.push(socket);
        }
        Self::start(config, driver, sockets, local_addrs, None)
    }

    /// A peer of the network simulator (`crate::sim`): no sockets, one made-up address.
    #[cfg(test)]
    pub(crate) fn simulated(
        config: PeerConfig,
        driver: Arc<DriverHandle>,
        addr: SocketAddr,
        now: Instant,
    ) -> Result<Self> {
        config.validate()?;
        Self::start(config, driver, Vec::new(), vec![addr], Some(now))
    }

    /// Makes the session and hands it to the driver with its sockets. `virtual_now`: the
    /// simulator's clock, which the session starts from (and no prebuilt `Rtc`, made on
    /// the real clock).
    fn start(
        config: PeerConfig,
        driver: Arc<DriverHandle>,
        sockets: Vec<UdpSocket>,
        local_addrs: Vec<SocketAddr>,
        virtual_now: Option<Instant>,
    ) -> Result<Self> {
        let now = virtual_now.unwrap_or_else(Instant::now);
        if u32::try_from(config.data_channel.max_message_size).is_err() {
            return Err(Error::InvalidConfig(
                "max_message_size must fit in 32 bits".into(),
            ));
        }
        let creds = secure::ice_credentials()?;
        let recipe = prebuilt::Recipe::of(&config);
        let prebuilt = match virtual_now {
            None => prebuilt::take(&recipe),
            Some(_) => None,
        };
        let rtc = match prebuilt {
            Some(mut rtc) => {
                rtc.direct_api().set_local_ice_credentials(creds);
                rtc
            }
            None => prebuilt::config(&recipe)
                .set_local_ice_credentials(creds)
                .build(now),
        };
        let id = driver.next_peer_id();
        let mut ice = IcePlan::new(&config.ice_servers)?;
        let names = ice.take_names();
        // TURN over TCP: a connection from each host address to each such server, made
        // without waiting (the driver sees it complete).
        let mut tcp = Vec::new();
        for server in ice.tcp_servers() {
            for ip in local_addrs.iter().map(|a| a.ip()) {
                if ip.is_ipv4() != server.is_ipv4() || ip.is_loopback() != server.ip().is_loopback()
                {
                    continue;
                }
                match connect_tcp(ip, server) {
                    Ok(stream) => {
                        ice.add_tcp_link(stream.local_addr()?, server);
                        tcp.push((stream, server));
                    }
                    Err(e) => ice.tcp_failed(
                        server,
                        Error::Io(format!(
                            "connecting to the TURN server over TCP failed: {e}"
                        )),
                    ),
                }
            }
        }
        let shared = Arc::new(PeerShared::new());
        let (events, stream) = EventQueue::new();
        let session = Session::new(SessionParts {
            id,
            rtc,
            local_addrs,
            events,
            shared: shared.clone(),
            driver: Arc::downgrade(&driver),
            limits: config.data_channel,
            failed_timeout: config.failed_timeout,
            ice,
            receive_queue: config.media.receive_queue,
            recipe,
            now,
        });
        if !driver.send(id, Command::Register(Box::new(session), sockets, tcp)) {
            return Err(Error::Internal("the I/O driver stopped".into()));
        }
        ice::resolve_in_background(names, id, Arc::downgrade(&driver));
        Ok(Self {
            id,
            driver,
            shared,
            events: stream,
            high_water_mark: config.data_channel.high_water_mark,
            receive_queue: config.media.receive_queue,
        })
    }

    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        if !self.driver.send(self.id, make(tx)) {
            return Err(Error::PeerClosed);
        }
        rx.await.unwrap_or(Err(Error::PeerClosed))
    }

    /// See `unipeer::Peer::create_offer`.
    pub async fn create_offer(&self) -> Result<SessionDescription> {
        self.request(Command::CreateOffer).await
    }

    /// See `unipeer::Peer::accept_offer`.
    pub async fn accept_offer(&self, offer: SessionDescription) -> Result<SessionDescription> {
        self.request(|r| Command::AcceptOffer(offer, r)).await
    }

    /// See `unipeer::Peer::accept_answer`.
    pub async fn accept_answer(&self, answer: SessionDescription) -> Result<()> {
        self.request(|r| Command::AcceptAnswer(answer, r)).await
    }

    /// See `unipeer::Peer::add_ice_candidate`.
    pub async fn add_ice_candidate(&self, candidate: IceCandidate) -> Result<()> {
        self.request(|r| Command::AddCandidate(candidate, r)).await
    }

    /// See `unipeer::Peer::create_data_channel`.
    pub async fn create_data_channel(
        &self,
        label: &str,
        init: DataChannelInit,
    ) -> Result<DataChannel> {
        init.validate()?;
        let config = channels_config(label, &init);
        let settings = crate::session::channel_settings(&config);
        let (core, queue) = ChannelCore::new(settings, init.negotiated, self.high_water_mark);
        let key = self.shared.next_channel_key();
        let new = NewChannel {
            key,
            config,
            core: core.clone(),
            queue,
        };
        self.request(|r| Command::CreateChannel(new, r)).await?;
        Ok(DataChannel::new(core, key, self.id, self.driver.clone()))
    }

    /// See `unipeer::Peer::add_track`.
    pub async fn add_track(&self, init: TrackInit) -> Result<Track> {
        init.validate()?;
        let shared = Arc::new(TrackShared::new(
            init.kind,
            init.direction,
            self.receive_queue,
        ));
        let key = self.shared.next_track_key();
        let new = NewTrack {
            key,
            init,
            shared: shared.clone(),
        };
        self.request(|r| Command::AddTrack(new, r)).await?;
        Ok(Track::new(shared, key, self.id, self.driver.clone()))
    }

    /// See `unipeer::Peer::events`.
    pub fn events(&self) -> EventStream<DataChannel, Track> {
        self.events.clone()
    }

    /// See `unipeer::Peer::connection_state`.
    pub fn connection_state(&self) -> ConnectionState {
        self.shared.state()
    }

    /// See `unipeer::Peer::close`. Returns once the peer's resources are released,
    /// its TURN allocations included (at most 2 s for those).
    pub async fn close(&self) {
        let _ = self.request(|r| Command::Close(Some(r))).await;
    }
}

/// A non-blocking TCP connection from `ip` to `server`, still being made when returned.
fn connect_tcp(ip: std::net::IpAddr, server: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    match socket.connect(&server.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc_einprogress()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

/// EINPROGRESS (115 on Linux, 36 on the BSDs and macOS).
fn libc_einprogress() -> i32 {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        115
    } else {
        36
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.driver.send(self.id, Command::Close(None));
    }
}
