//! The embedded TURN server over real UDP on loopback, driven by webrtc-rs's TURN client: a fresh
//! credential allocates a relay that reaches the media server (a socket standing in for it) both
//! ways; the relay neither sends to nor hears from anyone else; stale and forged credentials are
//! refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use turn::client::{Client, ClientConfig};
use vroom_sfu::{Turn, TurnConfig};
use webrtc_util::Conn;

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn client(turn: &Turn, username: String, password: String) -> Client {
    let conn = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: turn.addr().to_string(),
        turn_serv_addr: turn.addr().to_string(),
        username,
        password,
        realm: "vroom".into(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(conn),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    client
}

#[tokio::test]
async fn the_relay_reaches_only_the_media_server_and_only_with_a_valid_credential() {
    let stop = CancellationToken::new();
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media_addr = media.local_addr().unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stranger_addr = stranger.local_addr().unwrap();
    let turn = Turn::start(
        &TurnConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            announce_ip: None,
            credential_ttl: Duration::from_secs(60),
        },
        &[(media_addr, media_addr)],
        stop.clone(),
    )
    .await
    .unwrap();
    let issuer = turn.issuer();
    assert_eq!(
        issuer.urls(),
        [format!("turn:{}?transport=udp", turn.addr())]
    );

    // A fresh credential: a relay.
    let (user, pass) = issuer.credential("alice", now_unix());
    let alice = client(&turn, user, pass).await;
    let relay = alice
        .allocate()
        .await
        .expect("a fresh credential allocates");
    assert_eq!(turn.relays(), 1);

    // To anyone but the media server: refused. To the media server: delivered.
    // (The client cannot tell: the server drops it.)
    let _ = relay.send_to(b"to the stranger", stranger_addr).await;
    relay.send_to(b"to media", media_addr).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, relay_local) = media.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"to media");
    // Loopback delivers in send order: had the relay sent to the stranger, it would be there now.
    assert!(
        stranger.try_recv_from(&mut buf).is_err(),
        "nothing reached the stranger"
    );

    // The stranger (same IP as the media server, so the client's permission covers it) writes to
    // the relay first, then the media server answers: only the media server's datagram comes back.
    stranger
        .send_to(b"from the stranger", relay_local)
        .await
        .unwrap();
    media.send_to(b"from media", relay_local).await.unwrap();
    let (n, from) = relay.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"from media"[..], media_addr));

    // A credential past its expiry, and one with a forged password: no relay.
    let (stale_user, stale_pass) = issuer.credential("bob", now_unix() - 120);
    let bob = client(&turn, stale_user, stale_pass).await;
    assert!(
        bob.allocate().await.is_err(),
        "a stale credential is refused"
    );
    let (user, _) = issuer.credential("carol", now_unix());
    let carol = client(&turn, user, "forged".into()).await;
    assert!(
        carol.allocate().await.is_err(),
        "a forged password is refused"
    );
    assert_eq!(turn.relays(), 1);

    let _ = alice.close().await;
    stop.cancel();
}
