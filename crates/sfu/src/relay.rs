//! The embedded TURN server (RFC 8656, UDP), for clients that can reach vroom only through a relay
//! (or were told to use one: `iceTransportPolicy: 'relay'`).
//!
//! It is webrtc-rs's `turn` server with two of its seams filled in:
//! - credentials are the TURN REST API scheme: the username is `<expiry, Unix seconds>:<who>` and the
//!   password the base64 HMAC-SHA1 of the username under a secret only this process knows, so any
//!   number of them can be handed out ([`TurnIssuer::ice_servers`]) with nothing stored, and a
//!   stale one is refused;
//! - every relay socket only talks to vroom's own media server: a peer other than the media
//!   server's address is refused on send, and datagrams from anyone else are dropped on receive.
//!   A TURN server that relays anywhere is an open proxy into the operator's network.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turn::auth::{AuthHandler, generate_auth_key};
use turn::relay::RelayAddressGenerator;
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};
use webrtc_util::Conn;

/// The realm of every credential (RFC 8489 long-term credentials).
const REALM: &str = "vroom";

/// Where the TURN server listens and what it relays to.
#[derive(Debug, Clone)]
pub struct TurnConfig {
    /// UDP address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// The address put in the URLs clients get and in relayed addresses (default: as media).
    pub announce_ip: Option<IpAddr>,
    /// How long a credential handed out stays valid.
    pub credential_ttl: Duration,
}

/// Mints the credentials the TURN server accepts. Cheap to clone.
#[derive(Clone)]
pub struct TurnIssuer {
    secret: Arc<[u8]>,
    urls: Vec<String>,
    ttl: Duration,
}

impl std::fmt::Debug for TurnIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnIssuer")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn password(secret: &[u8], username: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

impl TurnIssuer {
    /// An issuer for a server that knows `secret` and is reached at `urls`.
    #[must_use]
    pub fn new(secret: &[u8], urls: Vec<String>, ttl: Duration) -> Self {
        Self {
            secret: secret.into(),
            urls,
            ttl,
        }
    }

    /// The TURN URLs clients are given.
    #[must_use]
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// A credential for `who`, valid until `now_unix + ttl`: (username, password).
    #[must_use]
    pub fn credential(&self, who: &str, now_unix: u64) -> (String, String) {
        let expiry = now_unix.saturating_add(self.ttl.as_secs());
        let username = format!("{expiry}:{who}");
        let password = password(&self.secret, &username);
        (username, password)
    }

    /// RTCIceServer objects for `who`, as `iced` carries them (`urls`, `username`, `credential`).
    #[must_use]
    pub fn ice_servers(&self, who: &str, now_unix: u64) -> serde_json::Value {
        let (username, credential) = self.credential(who, now_unix);
        serde_json::json!([{
            "urls": self.urls,
            "username": username,
            "credential": credential,
        }])
    }
}

/// Checks TURN REST API credentials: unexpired, and the key the password derives from.
struct RestAuth {
    secret: Arc<[u8]>,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let expiry = username
            .split_once(':')
            .and_then(|(e, _)| e.parse::<u64>().ok())
            .ok_or_else(|| turn::Error::Other("not a vroom TURN username".into()))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if expiry < now {
            tracing::debug!("TURN: an expired credential refused");
            return Err(turn::Error::Other("expired credential".into()));
        }
        Ok(generate_auth_key(
            username,
            realm,
            &password(&self.secret, username),
        ))
    }
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
    allocations: Arc<AtomicU64>,
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
        let socket = UdpSocket::bind(SocketAddr::new(self.bind_ip, 0))
            .await
            .map_err(|e| turn::Error::Other(e.to_string()))?;
        let port = socket
            .local_addr()
            .map_err(|e| turn::Error::Other(e.to_string()))?
            .port();
        let count = self.allocations.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(
            relay_port = port,
            allocations = count,
            "TURN: relay allocated"
        );
        let conn = MediaOnly {
            socket,
            media: Arc::clone(&self.media),
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
            let (n, from) = self.socket.recv_from(buf).await?;
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
    addr: SocketAddr,
    allocations: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
}

impl Turn {
    /// Binds the TURN server's UDP socket and starts it; it relays only to the media workers in
    /// `media`, each as (the address clients know it at, the address this host reaches it at).
    /// Runs until `stop`.
    ///
    /// # Errors
    /// When the socket cannot be bound or the server not started.
    pub async fn start(
        config: &TurnConfig,
        media: &[(SocketAddr, SocketAddr)],
        stop: CancellationToken,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(config.bind).await?;
        let local = socket.local_addr()?;
        let announce_ip = config
            .announce_ip
            .or_else(|| media.first().map(|(public, _)| public.ip()))
            .unwrap_or_else(|| loopback_like(local.ip()));
        let addr = SocketAddr::new(announce_ip, local.port());
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
        let allocations = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicU64::new(0));
        let (closes_tx, mut closes) = mpsc::channel(64);
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: Arc::new(socket),
                relay_addr_generator: Box::new(MediaOnlyRelays {
                    bind_ip,
                    announce_ip,
                    media,
                    allocations: Arc::clone(&allocations),
                }),
            }],
            realm: REALM.to_owned(),
            auth_handler: Arc::new(RestAuth {
                secret: secret.into(),
            }),
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: Some(closes_tx),
        })
        .await
        .map_err(std::io::Error::other)?;
        let count = Arc::clone(&closed);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    info = closes.recv() => {
                        let Some(info) = info else { return };
                        count.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(relay = %info.relay_addr, "TURN: relay closed");
                    }
                    () = stop.cancelled() => {
                        let _ = server.close().await;
                        return;
                    }
                }
            }
        });
        tracing::info!(%local, %addr, "TURN server listening (UDP)");
        let issuer = TurnIssuer::new(
            &secret,
            vec![format!("turn:{}?transport=udp", host_port(addr))],
            config.credential_ttl,
        );
        Ok(Self {
            issuer,
            addr,
            allocations,
            closed,
        })
    }

    /// What mints the credentials this server accepts.
    #[must_use]
    pub fn issuer(&self) -> &TurnIssuer {
        &self.issuer
    }

    /// The address clients reach the TURN server at.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Relays open now (allocated and not yet closed).
    #[must_use]
    pub fn relays(&self) -> u64 {
        self.allocations
            .load(Ordering::Relaxed)
            .saturating_sub(self.closed.load(Ordering::Relaxed))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_api_scheme_and_expire() {
        let issuer = TurnIssuer::new(b"secret", vec!["turn:x".into()], Duration::from_secs(60));
        let (user, pass) = issuer.credential("alice", 1000);
        assert_eq!(user, "1060:alice");
        assert_eq!(pass, password(b"secret", "1060:alice"));
        let auth = RestAuth {
            secret: Arc::from(&b"secret"[..]),
        };
        let from = SocketAddr::from(([127, 0, 0, 1], 1));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (fresh, fresh_pass) = issuer.credential("alice", now);
        assert_eq!(
            auth.auth_handle(&fresh, REALM, from).unwrap(),
            generate_auth_key(&fresh, REALM, &fresh_pass)
        );
        let (stale, _) = issuer.credential("alice", now - 120);
        assert!(auth.auth_handle(&stale, REALM, from).is_err());
        assert!(auth.auth_handle("alice", REALM, from).is_err());
    }
}
