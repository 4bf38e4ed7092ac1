//! The embedded TURN server over real sockets on loopback, driven by webrtc-rs's TURN client over
//! UDP, TCP and TLS (a certificate made for the test): a fresh credential allocates a relay that
//! reaches the media server (a socket standing in for it) both ways; the relay neither sends to nor
//! hears from anyone else; a credential stops working once the server's clock passes its expiry,
//! and a revoked one at once (its relay closed); forged ones never work. A relay allocated over TCP
//! or TLS closes with its client's connection; a renewed TLS certificate is served from the next
//! connection on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;
use turn::client::{Client, ClientConfig};
use vroom_domain::time::{Span, Timestamp};
use vroom_rooms::clock::ManualClock;
use vroom_sfu::{Turn, TurnConfig, TurnTls, TurnTransport};
use webrtc_util::Conn;

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A TURN client's socket over a stream (TCP or TLS): what it sends is written as is (STUN and
/// padded ChannelData delimit themselves), what it receives is cut by the same rules.
struct StreamSocket<S> {
    read: tokio::sync::Mutex<ReadHalf<S>>,
    write: tokio::sync::Mutex<WriteHalf<S>>,
    server: SocketAddr,
    local: SocketAddr,
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Send + 'static> Conn for StreamSocket<S> {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut read = self.read.lock().await;
        let mut head = [0u8; 4];
        read.read_exact(&mut head).await?;
        let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let rest = if head[0] >> 6 == 0 {
            16 + length
        } else {
            length.div_ceil(4) * 4
        };
        buf[..4].copy_from_slice(&head);
        read.read_exact(&mut buf[4..4 + rest]).await?;
        Ok((4 + rest, self.server))
    }
    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.write.lock().await.write_all(buf).await?;
        Ok(buf.len())
    }
    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(self.server)
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// Closing a client's connection the way a network drop or a closed tab does: no Refresh with
/// lifetime 0 first, only the end of the stream.
#[async_trait]
trait HangUp: Send + Sync {
    async fn hang_up(&self);
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Send + 'static> HangUp for StreamSocket<S> {
    async fn hang_up(&self) {
        let _ = self.write.lock().await.shutdown().await;
    }
}

type StreamParts = (Arc<dyn Conn + Send + Sync>, Arc<dyn HangUp>);

fn stream_socket<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    server: SocketAddr,
    local: SocketAddr,
) -> StreamParts {
    let (read, write) = tokio::io::split(stream);
    let socket = Arc::new(StreamSocket {
        read: tokio::sync::Mutex::new(read),
        write: tokio::sync::Mutex::new(write),
        server,
        local,
    });
    (Arc::clone(&socket) as Arc<dyn Conn + Send + Sync>, socket)
}

/// A TLS connection to `server` trusting only the certificate `trust` (DER).
async fn tls_connect(
    server: SocketAddr,
    trust: &[u8],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(server).await?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.to_vec().into()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
}

/// A self-signed certificate for `localhost`, written as PEM files in `dir` (over any there); and
/// its DER.
fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = |label: &str, der: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    let cert = dir.join("turn.crt");
    let key = dir.join("turn.key");
    std::fs::write(&cert, pem("CERTIFICATE", made.cert.der())).unwrap();
    std::fs::write(&key, pem("PRIVATE KEY", &made.signing_key.serialize_der())).unwrap();
    (cert, key, made.cert.der().to_vec())
}

struct Setup {
    turn: Turn,
    clock: ManualClock,
    media: UdpSocket,
    stranger: UdpSocket,
    /// The test certificate (DER), which the TLS client trusts.
    cert: Vec<u8>,
    stop: CancellationToken,
    /// Where the certificate files are.
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let stop = CancellationToken::new();
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media_addr = media.local_addr().unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file, cert) = certificate(dir.path());
    let clock = ManualClock::new(Timestamp::from_secs(i64::try_from(now_unix()).unwrap()));
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let turn = Turn::start(
        &TurnConfig {
            bind: loopback,
            tcp_bind: Some(loopback),
            tls: Some(TurnTls {
                bind: loopback,
                cert: cert_file,
                key: key_file,
                host: Some("localhost".into()),
            }),
            announce_ip: None,
            credential_ttl: Duration::from_secs(60),
            clock: Arc::new(clock.clone()),
        },
        &[(media_addr, media_addr)],
        stop.clone(),
    )
    .await
    .unwrap();
    Setup {
        turn,
        clock,
        media,
        stranger,
        cert,
        stop,
        dir,
    }
}

impl Setup {
    fn now(&self) -> u64 {
        u64::try_from(vroom_rooms::clock::Clock::now(&self.clock).millis() / 1000).unwrap()
    }

    /// A TURN client reaching the server over `transport`.
    async fn client(&self, transport: TurnTransport, username: String, password: String) -> Client {
        self.client_and_hang_up(transport, username, password)
            .await
            .0
    }

    /// A TURN client reaching the server over `transport`, and for TCP and TLS what closes its
    /// connection.
    async fn client_and_hang_up(
        &self,
        transport: TurnTransport,
        username: String,
        password: String,
    ) -> (Client, Option<Arc<dyn HangUp>>) {
        let server = self.turn.addr_of(transport).unwrap();
        let (conn, hang_up): (Arc<dyn Conn + Send + Sync>, _) = match transport {
            TurnTransport::Udp => (
                Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()),
                None,
            ),
            TurnTransport::Tcp => {
                let tcp = TcpStream::connect(server).await.unwrap();
                let local = tcp.local_addr().unwrap();
                let (conn, hang_up) = stream_socket(tcp, server, local);
                (conn, Some(hang_up))
            }
            TurnTransport::Tls => {
                let tls = tls_connect(server, &self.cert)
                    .await
                    .expect("the TLS handshake succeeds with the configured certificate");
                let local = tls.get_ref().0.local_addr().unwrap();
                let (conn, hang_up) = stream_socket(tls, server, local);
                (conn, Some(hang_up))
            }
        };
        let client = Client::new(ClientConfig {
            stun_serv_addr: server.to_string(),
            turn_serv_addr: server.to_string(),
            username,
            password,
            realm: "vroom".into(),
            software: String::new(),
            rto_in_ms: 0,
            conn,
            vnet: None,
        })
        .await
        .unwrap();
        client.listen().await.unwrap();
        (client, hang_up)
    }

    /// A relay over `transport` reaches the media server both ways, and no one else.
    async fn relays_media_only(&self, transport: TurnTransport, who: &str) -> Client {
        let (user, pass) = self.turn.issuer().credential(who, self.now());
        let client = self.client(transport, user, pass).await;
        let relay = client
            .allocate()
            .await
            .unwrap_or_else(|e| panic!("a fresh credential allocates over {transport:?}: {e}"));
        assert_eq!(self.turn.relays_over(transport), 1, "{transport:?}");
        let media_addr = self.media.local_addr().unwrap();
        let stranger_addr = self.stranger.local_addr().unwrap();

        // To anyone but the media server: refused. To the media server: delivered.
        // (The client cannot tell: the server drops it.)
        let _ = relay.send_to(b"to the stranger", stranger_addr).await;
        relay.send_to(b"to media", media_addr).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, relay_local) = self.media.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"to media", "{transport:?}");
        // Loopback delivers in send order: had the relay sent to the stranger, it would be there.
        assert!(
            self.stranger.try_recv_from(&mut buf).is_err(),
            "nothing reached the stranger over {transport:?}"
        );

        // The stranger (same IP as the media server, so the client's permission covers it) writes
        // to the relay first, then the media server answers: only the media server's comes back.
        self.stranger
            .send_to(b"from the stranger", relay_local)
            .await
            .unwrap();
        self.media
            .send_to(b"from media", relay_local)
            .await
            .unwrap();
        let (n, from) = relay.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"from media"[..], media_addr),
            "{transport:?}"
        );
        // Packets the size of RTP, both ways, one after another (as channel data once bound).
        let mut big = [0u8; 1500];
        for i in 0..20u8 {
            self.media.send_to(&[i; 1000], relay_local).await.unwrap();
            let (n, _) = relay.recv_from(&mut big).await.unwrap();
            assert_eq!(&big[..n], &[i; 1000][..], "{transport:?}");
            relay.send_to(&[i; 999], media_addr).await.unwrap();
            let (n, _) = self.media.recv_from(&mut big).await.unwrap();
            assert_eq!(&big[..n], &[i; 999][..], "{transport:?}");
        }
        client
    }
}

#[tokio::test]
async fn the_relay_reaches_only_the_media_server_over_udp_tcp_and_tls() {
    let s = setup().await;
    let addr = |t| s.turn.addr_of(t).unwrap();
    assert_eq!(
        s.turn.issuer().urls(),
        [
            format!("turn:{}?transport=udp", addr(TurnTransport::Udp)),
            format!("turn:{}?transport=tcp", addr(TurnTransport::Tcp)),
            format!(
                "turns:localhost:{}?transport=tcp",
                addr(TurnTransport::Tls).port()
            ),
        ]
    );
    let mut clients = Vec::new();
    for (transport, who) in [
        (TurnTransport::Udp, "alice"),
        (TurnTransport::Tcp, "bob"),
        (TurnTransport::Tls, "carol"),
    ] {
        clients.push(s.relays_media_only(transport, who).await);
    }
    assert_eq!(s.turn.relays(), 3);
    assert_eq!(s.turn.allocations_over(TurnTransport::Tls), 1);

    // A forged password: no relay, over any transport.
    for transport in TurnTransport::ALL {
        let (user, _) = s.turn.issuer().credential("mallory", s.now());
        let c = s.client(transport, user, "forged".into()).await;
        assert!(
            c.allocate().await.is_err(),
            "a forged password is refused over {transport:?}"
        );
    }
    assert_eq!(s.turn.relays(), 3);
    for c in clients {
        let _ = c.close().await;
    }
    s.stop.cancel();
}

#[tokio::test]
async fn a_credential_is_refused_once_the_clock_passes_its_expiry_or_it_is_revoked() {
    let s = setup().await;
    let issuer = s.turn.issuer().clone();

    // Issued now with a 60 s lifetime: it works, and still works in its last second.
    let (user, pass) = issuer.credential("dave", s.now());
    let early = s
        .client(TurnTransport::Tcp, user.clone(), pass.clone())
        .await;
    early
        .allocate()
        .await
        .expect("a fresh credential allocates");
    s.clock.advance(Span::from_secs(60));
    let last = s
        .client(TurnTransport::Udp, user.clone(), pass.clone())
        .await;
    last.allocate()
        .await
        .expect("valid through its expiry second");

    // One second later the same credential is stale, over every transport.
    s.clock.advance(Span::from_secs(1));
    for transport in TurnTransport::ALL {
        let late = s.client(transport, user.clone(), pass.clone()).await;
        assert!(
            late.allocate().await.is_err(),
            "a credential past its expiry is refused over {transport:?}"
        );
    }
    let expired = s.turn.refused()[0];
    assert_eq!(expired.0, "expired");
    assert!(expired.1 >= 3, "{expired:?}");

    // A revoked credential: refused at once, and the relay made with it is closed.
    let (erin, erin_pass) = issuer.credential("erin", s.now());
    let c = s
        .client(TurnTransport::Udp, erin.clone(), erin_pass.clone())
        .await;
    c.allocate().await.expect("allocates before the revocation");
    let open = s.turn.relays_over(TurnTransport::Udp);
    issuer.revoke(&erin);
    let again = s.client(TurnTransport::Tcp, erin, erin_pass).await;
    assert!(
        again.allocate().await.is_err(),
        "a revoked credential is refused"
    );
    let mut closed = false;
    for _ in 0..100 {
        if s.turn.relays_over(TurnTransport::Udp) == open - 1 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "the revoked credential's relay was closed");
    assert_eq!(s.turn.refused()[1], ("revoked", 1));
    s.stop.cancel();
}

/// Polls `check` for up to 10 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not within 10 s: {what}");
}

#[tokio::test]
async fn a_relay_closes_with_its_clients_tcp_or_tls_connection() {
    let s = setup().await;
    // One credential for every relay, as a browser allocates over each TURN URL it was given.
    let (user, pass) = s.turn.issuer().credential("frank", s.now());
    let udp = s
        .client(TurnTransport::Udp, user.clone(), pass.clone())
        .await;
    let udp_relay = udp.allocate().await.expect("a relay over UDP");
    for transport in [TurnTransport::Tcp, TurnTransport::Tls] {
        let (client, hang_up) = s
            .client_and_hang_up(transport, user.clone(), pass.clone())
            .await;
        let relay = client.allocate().await.expect("a relay");
        let port = relay.local_addr().unwrap().port();
        assert_eq!(s.turn.relays_over(transport), 1, "{transport:?}");
        // The connection ends without a deallocation (the client is kept, never closed).
        hang_up.expect("a stream client").hang_up().await;
        eventually(
            &format!("the {transport:?} relay is counted closed"),
            || s.turn.relays_over(transport) == 0,
        )
        .await;
        // Its socket is gone: the port can be bound again.
        eventually(
            &format!("the {transport:?} relay's port {port} is free"),
            || std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok(),
        )
        .await;
        drop(client);
    }
    // The relay of the same credential over UDP has no connection to lose: it stays, and relays.
    assert_eq!(s.turn.relays_over(TurnTransport::Udp), 1);
    let media_addr = s.media.local_addr().unwrap();
    udp_relay.send_to(b"still here", media_addr).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, relay_local) = s.media.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"still here");
    s.media.send_to(b"and back", relay_local).await.unwrap();
    let (n, _) = udp_relay.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"and back");
    let _ = udp.close().await;
    s.stop.cancel();
}

#[tokio::test]
async fn a_renewed_tls_certificate_is_served_from_the_next_connection_on() {
    let s = setup().await;
    let server = s.turn.addr_of(TurnTransport::Tls).unwrap();
    let first = tls_connect(server, &s.cert)
        .await
        .expect("the first certificate is served");
    // The files are replaced (a renewal): a new key pair, the same paths.
    let (_, key_file, renewed) = certificate(s.dir.path());
    assert!(
        tls_connect(server, &s.cert).await.is_err(),
        "the old certificate is no longer served to new connections"
    );
    let tls = tls_connect(server, &renewed)
        .await
        .expect("the renewed certificate is served without a restart");
    drop(tls);
    // A half-written renewal (a key that does not parse): the last good certificate stays.
    std::fs::write(&key_file, "-----BEGIN PRIVATE KEY-----\nnot a key\n").unwrap();
    tls_connect(server, &renewed)
        .await
        .expect("a broken renewal leaves the last good certificate in use");
    // The connection made before the renewal still works: a relay over it.
    let local = first.get_ref().0.local_addr().unwrap();
    let (conn, _) = stream_socket(first, server, local);
    let (user, pass) = s.turn.issuer().credential("gina", s.now());
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: user,
        password: pass,
        realm: "vroom".into(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    client
        .allocate()
        .await
        .expect("a connection opened before the renewal keeps working");
    let _ = client.close().await;
    s.stop.cancel();
}
