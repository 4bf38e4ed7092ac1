//! TURN as vroom hands it out in `iced`, checked with webrtc-rs's TURN client against the real
//! server: a valid token gets vroom's TURN URLs (UDP and TCP) with a credential that allocates a
//! relay; a room created with `EnableTurn=false` gets none, whether its token names it (no TURN in
//! `iced`) or not (the credential handed out before `connect` stops working once the client joins
//! that room).

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use vroom_testkit::{SignalClient, connect_body};

use crate::browser::Served;
use crate::common::{Options, TestServer};

/// Opens a signaling connection and asks for ICE servers as twilio-video.js does (an `ice`
/// message in the hello); returns the connection and `iced`'s `ice_servers`.
async fn ask_ice(s: &TestServer, token: &str) -> (SignalClient, Value) {
    let mut c = SignalClient::open(&s.ws).await.unwrap();
    c.hello(json!({"edge": "roaming", "token": token, "type": "ice", "version": 1}))
        .await;
    assert_eq!(c.next_frame().await.unwrap()["type"], "welcome");
    let iced = c.next_msg().await.unwrap();
    assert_eq!(iced["type"], "iced");
    (c, iced["ice_servers"].clone())
}

/// The UDP TURN server of `servers`, and its credential.
fn udp_turn(servers: &Value) -> (SocketAddr, String, String) {
    let server = &servers[0];
    let url = server["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|u| u.starts_with("turn:") && u.ends_with("?transport=udp"))
        .expect("a TURN/UDP URL");
    let addr = url["turn:".len()..url.len() - "?transport=udp".len()]
        .parse()
        .unwrap();
    (
        addr,
        server["username"].as_str().unwrap().to_owned(),
        server["credential"].as_str().unwrap().to_owned(),
    )
}

/// Whether the credential allocates a relay at `server` (over UDP).
async fn allocates(server: SocketAddr, username: &str, password: &str) -> bool {
    let conn = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: username.to_owned(),
        password: password.to_owned(),
        realm: "vroom".into(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(conn),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    let ok = client.allocate().await.is_ok();
    let _ = client.close().await;
    ok
}

#[tokio::test]
async fn iced_hands_out_turn_except_to_rooms_created_with_enable_turn_false() {
    let s = TestServer::start().await;
    let room = s
        .create_room(&[("UniqueName", "no-relay"), ("EnableTurn", "false")])
        .await;
    assert_eq!(
        room["enable_turn"], false,
        "the resource says what the room does"
    );
    let open = s.create_room(&[("UniqueName", "relay-ok")]).await;
    assert_eq!(open["enable_turn"], true);

    // A token for an ordinary room: TURN over UDP and TCP, with a credential that works.
    let (_c, servers) = ask_ice(&s, &s.token("ann", Some("relay-ok"))).await;
    let urls: Vec<&str> = servers[0]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(urls.len(), 2, "{urls:?}");
    assert!(urls[0].ends_with("?transport=udp") && urls[1].ends_with("?transport=tcp"));
    let (turn, user, pass) = udp_turn(&servers);
    assert!(
        !user.contains("ann"),
        "the username does not carry the identity"
    );
    assert!(allocates(turn, &user, &pass).await);

    // A token naming the EnableTurn=false room (by name or by SID): no ICE servers at all.
    for granted in ["no-relay", room["sid"].as_str().unwrap()] {
        let (_c, servers) = ask_ice(&s, &s.token("bea", Some(granted))).await;
        assert_eq!(servers, json!([]), "{granted}");
    }

    // A token naming no room gets a credential (the room is not known yet)…
    let token = s.token("cid", None);
    let (mut c, servers) = ask_ice(&s, &token).await;
    let (turn, user, pass) = udp_turn(&servers);
    assert!(allocates(turn, &user, &pass).await);
    // …which stops working once it joins the room that withholds TURN.
    let mut body = connect_body(&token, Some("no-relay"), &[]);
    body["ice_servers"] = json!("acquire");
    c.msg(body).await;
    assert_eq!(c.next_msg().await.unwrap()["type"], "connected");
    assert!(
        !allocates(turn, &user, &pass).await,
        "the credential was revoked when the client joined an EnableTurn=false room"
    );

    // The same in an ordinary room: the credential keeps working.
    let token = s.token("dee", None);
    let (mut c, servers) = ask_ice(&s, &token).await;
    let (turn, user, pass) = udp_turn(&servers);
    let mut body = connect_body(&token, Some("relay-ok"), &[]);
    body["ice_servers"] = json!("acquire");
    c.msg(body).await;
    assert_eq!(c.next_msg().await.unwrap()["type"], "connected");
    assert!(allocates(turn, &user, &pass).await);
}

/// The browser profile `turn_tls`: a server with TURN over TLS on a self-signed certificate for
/// 127.0.0.1 (the host of its `turns:` URL); the description names the certificate file
/// (`turnTlsCert`) so run.js can have Chromium accept it.
pub(crate) async fn with_tls() -> Served {
    let dir = tempfile::tempdir().expect("a temp dir");
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a test certificate");
    let cert = dir.path().join("turn.crt");
    let key = dir.path().join("turn.key");
    std::fs::write(&cert, pem("CERTIFICATE", made.cert.der())).unwrap();
    std::fs::write(&key, pem("PRIVATE KEY", &made.signing_key.serialize_der())).unwrap();
    let server = TestServer::with(Options {
        turn_tls: Some((cert.clone(), key)),
        ..Options::default()
    })
    .await;
    Served::in_process_keeping(server, json!({ "turnTlsCert": cert }), Box::new(dir))
}

/// DER as a PEM block (rcgen is built without its `pem` feature).
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
