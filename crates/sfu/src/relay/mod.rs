//! The embedded TURN server (RFC 8656) over UDP, TCP and TLS, for clients that can reach vroom
//! only through a relay (or were told to use one: `iceTransportPolicy: 'relay'`): networks that
//! block UDP, or let only TCP or TLS to port 443 out.
//!
//! It is webrtc-rs's `turn` server with its seams filled in:
//! - credentials are the TURN REST API scheme (`credentials`): any number handed out
//!   ([`TurnIssuer`]) with nothing stored, checked against the injected clock, revocable;
//! - TCP and TLS listeners (`stream`) adapted into the datagram socket the crate serves;
//! - every relay socket only talks to vroom's own media server: a peer other than the media
//!   server's address is refused on send, and datagrams from anyone else are dropped on receive.
//!   A TURN server that relays anywhere is an open proxy into the operator's network. Relays are
//!   UDP whatever the client's transport: the media server is a UDP peer.

mod credentials;
mod stream;
mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turn::relay::RelayAddressGenerator;
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};
use vroom_rooms::clock::Clock;
use webrtc_util::Conn;

use credentials::{REALM, RestAuth, Shared};
pub use credentials::{REFUSED_REASONS, TurnIssuer};
use stream::{Security, StreamConn};

/// How a client reaches the TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnTransport {
    /// `turn:…?transport=udp`
    Udp,
    /// `turn:…?transport=tcp`
    Tcp,
    /// `turns:…?transport=tcp`
    Tls,
}

impl TurnTransport {
    /// Every transport, in the order of the URLs clients get.
    pub const ALL: [Self; 3] = [Self::Udp, Self::Tcp, Self::Tls];

    /// The metrics label: `udp`, `tcp`, `tls`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Udp => 0,
            Self::Tcp => 1,
            Self::Tls => 2,
        }
    }
}

/// The TURN/TLS listener.
#[derive(Debug, Clone)]
pub struct TurnTls {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// PEM file of the certificate chain (the server's certificate first).
    pub cert: PathBuf,
    /// PEM file of its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The host name in the `turns:` URL clients get; it must be a name the certificate covers
    /// (default: the announced IP address, which only an IP certificate covers).
    pub host: Option<String>,
}

/// Where the TURN server listens and what it relays to.
#[derive(Clone)]
pub struct TurnConfig {
    /// UDP address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// TCP address to listen on (port 0: any free port); `None`: no TURN over TCP.
    pub tcp_bind: Option<SocketAddr>,
    /// The TLS listener; `None`: no TURN over TLS.
    pub tls: Option<TurnTls>,
    /// The address put in the URLs clients get and in relayed addresses (default: as media).
    pub announce_ip: Option<IpAddr>,
    /// How long a credential handed out stays valid.
    pub credential_ttl: Duration,
    /// The clock credentials are issued and checked on.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("bind", &self.bind)
            .field("tcp_bind", &self.tcp_bind)
            .field("tls", &self.tls)
            .field("announce_ip", &self.announce_ip)
            .field("credential_ttl", &self.credential_ttl)
            .finish_non_exhaustive()
    }
}

/// Relays allocated and closed per transport.
#[derive(Default)]
struct RelayStats {
    allocated: [AtomicU64; 3],
    closed: [AtomicU64; 3],
    /// The transport of each open relay, by its port, to count its close.
    open: Mutex<HashMap<u16, TurnTransport>>,
}

impl RelayStats {
    fn allocated(&self, transport: TurnTransport, port: u16) {
        self.allocated[transport.index()].fetch_add(1, Ordering::Relaxed);
        lock(&self.open).insert(port, transport);
    }

    fn closed(&self, port: u16) -> Option<TurnTransport> {
        let transport = lock(&self.open).remove(&port)?;
        self.closed[transport.index()].fetch_add(1, Ordering::Relaxed);
        Some(transport)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding these locks (inserts and removes only).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes relay sockets that only exchange datagrams with the media server.
struct MediaOnlyRelays {
    /// The IP relay sockets bind.
    bind_ip: IpAddr,
    /// The IP put in relayed addresses (what clients see).
    announce_ip: IpAddr,
    /// Each media worker as clients know it (the peer address they ask to reach) and as this host
    /// reaches it.
    media: Arc<[(SocketAddr, SocketAddr)]>,
    /// How the clients of this listener reach the TURN server.
    transport: TurnTransport,
    /// The listener's connections, for TCP and TLS: a relay closes with its client's.
    stream: Option<Arc<StreamConn>>,
    stats: Arc<RelayStats>,
}

#[async_trait]
impl RelayAddressGenerator for MediaOnlyRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        _requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        if use_ipv4 != self.bind_ip.is_ipv4() {
            return Err(turn::Error::Other("address family not relayed".into()));
        }
        let gone = match &self.stream {
            None => None,
            Some(stream) => {
                let (_, gone) = stream.current_client().ok_or_else(|| {
                    turn::Error::Other("the client's connection is closed".into())
                })?;
                Some(gone)
            }
        };
        let socket = UdpSocket::bind(SocketAddr::new(self.bind_ip, 0))
            .await
            .map_err(|e| turn::Error::Other(e.to_string()))?;
        let port = socket
            .local_addr()
            .map_err(|e| turn::Error::Other(e.to_string()))?
            .port();
        self.stats.allocated(self.transport, port);
        tracing::info!(
            transport = self.transport.as_str(),
            relay_port = port,
            "TURN: relay allocated"
        );
        let conn = MediaOnly {
            socket,
            media: Arc::clone(&self.media),
            gone,
            port,
            stats: Arc::clone(&self.stats),
        };
        Ok((Arc::new(conn), SocketAddr::new(self.announce_ip, port)))
    }
}

/// A relay socket bound to the media server: its workers are the only peers it sends to or hears
/// from.
struct MediaOnly {
    socket: UdpSocket,
    /// (as clients know it, as this host reaches it) for each worker.
    media: Arc<[(SocketAddr, SocketAddr)]>,
    /// For a TCP or TLS client, cancelled when its connection closes. The relay's receive then
    /// fails, and the crate's packet handler removes the allocation on a failed receive, so the
    /// relay goes with the connection (the crate sends no close notice that way: it is counted
    /// here).
    gone: Option<CancellationToken>,
    port: u16,
    stats: Arc<RelayStats>,
}

fn refused() -> webrtc_util::Error {
    webrtc_util::Error::Other("vroom's TURN relays only to its media server".into())
}

#[async_trait]
impl Conn for MediaOnly {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(refused())
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = match &self.gone {
                None => self.socket.recv_from(buf).await?,
                Some(gone) => tokio::select! {
                    r = self.socket.recv_from(buf) => r?,
                    () = gone.cancelled() => {
                        if let Some(transport) = self.stats.closed(self.port) {
                            tracing::info!(
                                transport = transport.as_str(),
                                relay_port = self.port,
                                "TURN: relay closed with its client's connection"
                            );
                        }
                        return Err(webrtc_util::Error::Other(
                            "the TURN client's connection closed".into(),
                        ));
                    }
                },
            };
            // Anyone else who finds the relay port is not relayed to the client.
            if let Some((public, _)) = self.media.iter().find(|(_, local)| *local == from) {
                return Ok((n, *public));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(refused())
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let Some((_, local)) = self.media.iter().find(|(public, _)| *public == target) else {
            return Err(refused());
        };
        Ok(self.socket.send_to(buf, *local).await?)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// A handle on the running TURN server.
#[derive(Clone)]
pub struct Turn {
    issuer: TurnIssuer,
    addrs: [Option<SocketAddr>; 3],
    stats: Arc<RelayStats>,
    shared: Arc<Shared>,
}

impl Turn {
    /// Binds the TURN server's sockets (UDP, and TCP and TLS when configured) and starts it; it
    /// relays only to the media workers in `media`, each as (the address clients know it at, the
    /// address this host reaches it at). Runs until `stop`.
    ///
    /// # Errors
    /// When a socket cannot be bound, the TLS certificate or key cannot be read, or the server not
    /// started.
    pub async fn start(
        config: &TurnConfig,
        media: &[(SocketAddr, SocketAddr)],
        stop: CancellationToken,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(config.bind).await?;
        let local = socket.local_addr()?;
        let tcp = match config.tcp_bind {
            Some(bind) => Some(TcpListener::bind(bind).await?),
            None => None,
        };
        let tls = match &config.tls {
            Some(t) => Some((
                TcpListener::bind(t.bind).await?,
                Arc::new(tls::Certificate::load(t)?),
            )),
            None => None,
        };
        let announce_ip = config
            .announce_ip
            .or_else(|| media.first().map(|(public, _)| public.ip()))
            .unwrap_or_else(|| loopback_like(local.ip()));
        let secret: [u8; 32] = rand::random();
        let media: Arc<[(SocketAddr, SocketAddr)]> = media
            .iter()
            .map(|(public, local)| {
                let local = if local.ip().is_unspecified() {
                    SocketAddr::new(loopback_like(local.ip()), local.port())
                } else {
                    *local
                };
                (*public, local)
            })
            .collect();
        let bind_ip = if local.ip().is_unspecified() {
            loopback_like(local.ip())
        } else {
            local.ip()
        };
        let stats = Arc::new(RelayStats::default());
        let relays = |transport: TurnTransport,
                      stream: Option<Arc<StreamConn>>|
         -> Box<dyn RelayAddressGenerator + Send + Sync> {
            Box::new(MediaOnlyRelays {
                bind_ip,
                announce_ip,
                media: Arc::clone(&media),
                transport,
                stream,
                stats: Arc::clone(&stats),
            })
        };
        let mut addrs = [Some(SocketAddr::new(announce_ip, local.port())), None, None];
        let mut conn_configs = vec![ConnConfig {
            conn: Arc::new(socket),
            relay_addr_generator: relays(TurnTransport::Udp, None),
        }];
        let mut listening = vec![local];
        for (transport, listener, security) in [
            tcp.map(|l| (TurnTransport::Tcp, l, Security::Plain)),
            tls.map(|(l, a)| (TurnTransport::Tls, l, Security::Tls(a))),
        ]
        .into_iter()
        .flatten()
        {
            let at = listener.local_addr()?;
            listening.push(at);
            addrs[transport.index()] = Some(SocketAddr::new(announce_ip, at.port()));
            let conn = StreamConn::start(listener, security, transport.as_str(), stop.clone())?;
            conn_configs.push(ConnConfig {
                conn: Arc::clone(&conn) as Arc<dyn Conn + Send + Sync>,
                relay_addr_generator: relays(transport, Some(conn)),
            });
        }
        let (drop_tx, mut drops) = mpsc::unbounded_channel::<String>();
        let shared = Arc::new(Shared::new(
            &secret,
            Arc::clone(&config.clock),
            Some(drop_tx),
        ));
        let (closes_tx, mut closes) = mpsc::channel(64);
        let server = Server::new(ServerConfig {
            conn_configs,
            realm: REALM.to_owned(),
            auth_handler: Arc::new(RestAuth(Arc::clone(&shared))),
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: Some(closes_tx),
        })
        .await
        .map_err(std::io::Error::other)?;
        let closed = Arc::clone(&stats);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    info = closes.recv() => {
                        let Some(info) = info else { return };
                        // None: counted already, closed with its client's connection.
                        if let Some(transport) = closed.closed(info.relay_addr.port()) {
                            tracing::info!(
                                transport = transport.as_str(),
                                relay = %info.relay_addr,
                                user = %info.username,
                                "TURN: relay closed"
                            );
                        }
                    }
                    user = drops.recv() => {
                        let Some(user) = user else { return };
                        tracing::info!(%user, "TURN: credential revoked, its relays closed");
                        let _ = server.delete_allocations_by_username(user).await;
                    }
                    () = stop.cancelled() => {
                        let _ = server.close().await;
                        return;
                    }
                }
            }
        });
        let mut urls = vec![];
        for transport in TurnTransport::ALL {
            let Some(addr) = addrs[transport.index()] else {
                continue;
            };
            urls.push(match transport {
                TurnTransport::Udp => format!("turn:{}?transport=udp", host_port(addr)),
                TurnTransport::Tcp => format!("turn:{}?transport=tcp", host_port(addr)),
                TurnTransport::Tls => match config.tls.as_ref().and_then(|t| t.host.as_deref()) {
                    Some(host) => format!("turns:{host}:{}?transport=tcp", addr.port()),
                    None => format!("turns:{}?transport=tcp", host_port(addr)),
                },
            });
        }
        tracing::info!(?listening, ?urls, "TURN server listening");
        let issuer = TurnIssuer::from_shared(Arc::clone(&shared), urls, config.credential_ttl);
        Ok(Self {
            issuer,
            addrs,
            stats,
            shared,
        })
    }

    /// What mints the credentials this server accepts.
    #[must_use]
    pub fn issuer(&self) -> &TurnIssuer {
        &self.issuer
    }

    /// The address clients reach the TURN server at over UDP.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        // The UDP listener always runs.
        self.addrs[0].expect("the UDP listener always runs")
    }

    /// The address clients reach it at over `transport`, if that listener runs.
    #[must_use]
    pub fn addr_of(&self, transport: TurnTransport) -> Option<SocketAddr> {
        self.addrs[transport.index()]
    }

    /// Relays open now (allocated and not yet closed), over every transport.
    #[must_use]
    pub fn relays(&self) -> u64 {
        TurnTransport::ALL
            .into_iter()
            .map(|t| self.relays_over(t))
            .sum()
    }

    /// Relays open now for clients that reach the server over `transport`.
    #[must_use]
    pub fn relays_over(&self, transport: TurnTransport) -> u64 {
        let i = transport.index();
        self.stats.allocated[i]
            .load(Ordering::Relaxed)
            .saturating_sub(self.stats.closed[i].load(Ordering::Relaxed))
    }

    /// Relays allocated since the start for clients over `transport`.
    #[must_use]
    pub fn allocations_over(&self, transport: TurnTransport) -> u64 {
        self.stats.allocated[transport.index()].load(Ordering::Relaxed)
    }

    /// Credentials refused since the start, by reason ([`REFUSED_REASONS`]).
    #[must_use]
    pub fn refused(&self) -> [(&'static str, u64); 3] {
        std::array::from_fn(|i| {
            (
                REFUSED_REASONS[i],
                self.shared.refused[i].load(Ordering::Relaxed),
            )
        })
    }
}

fn loopback_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    }
}

/// `host:port` as a URL writes it (IPv6 in brackets).
fn host_port(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    }
}
