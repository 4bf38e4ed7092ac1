//! Limits over real sockets: each is answered with a clear error, and the server keeps serving.

use std::time::Duration;

use reqwest::StatusCode;
use vroom::config::Limits;
use vroom_api::RateLimit;
use vroom_testkit::SignalClient;

use crate::common::{Options, TestServer};

#[tokio::test]
async fn an_account_over_its_rest_rate_gets_429_20429_and_retry_after() {
    let s = TestServer::with(Options {
        limits: Limits {
            rest: Some(RateLimit {
                per_second: 2.0,
                burst: 4.0,
            }),
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let http = reqwest::Client::new();
    let key = s.creds.api_key_sid.to_string();
    let mut answers = Vec::new();
    for _ in 0..12 {
        let resp = http
            .get(format!("{}/v1/Rooms", s.base))
            .basic_auth(&key, Some(&s.creds.api_key_secret))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        let body: serde_json::Value = resp.json().await.unwrap();
        answers.push((status, retry_after, body));
    }
    let ok = answers.iter().filter(|a| a.0 == StatusCode::OK).count();
    assert!(
        (4..12).contains(&ok),
        "the burst is served, then the pace: {ok} of 12"
    );
    let (_, retry_after, body) = answers
        .iter()
        .find(|a| a.0 == StatusCode::TOO_MANY_REQUESTS)
        .expect("a 429");
    assert_eq!(body["code"], 20429, "{body}");
    assert_eq!(body["status"], 429, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Too Many Requests")
    );
    let wait = retry_after.expect("a Retry-After");
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    // Unauthenticated requests are refused as such, not counted against the account.
    let resp = http
        .get(format!("{}/v1/Rooms", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // After the wait it says, the account is served again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, body) = s.get("/v1/Rooms").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_oversize_signaling_message_is_closed_with_1009_and_others_carry_on() {
    let s = TestServer::with(Options {
        limits: Limits {
            signaling_message_bytes: 16 * 1024,
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let (mut calm, _) = SignalClient::join(&s.ws, &s.token("calm", None), Some("big"), &[]).await;
    let big = format!(
        r#"{{"type":"msg","body":{{"type":"update","pad":"{}"}}}}"#,
        "x".repeat(20_000)
    );
    // Before the handshake, and from a participant in a room.
    let mut early = SignalClient::open(&s.ws).await.unwrap();
    early.send_text(&big).await;
    let close = early
        .closed()
        .await
        .expect("a close frame, not a dropped connection");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    let (mut loud, joined) =
        SignalClient::join(&s.ws, &s.token("loud", None), Some("big"), &[]).await;
    assert_eq!(joined["type"], "connected");
    loud.send_text(&big).await;
    let close = loud.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    // Just under the limit is fine, and the room's other participant is still served.
    let fits = format!(r#"{{"type":"heartbeat","pad":"{}"}}"#, "x".repeat(15_000));
    calm.send_text(&fits).await;
    let (status, body) = s.get("/v1/Rooms/big/Participants/calm").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("connected")),
        "{body}"
    );
    let (_again, rejoined) =
        SignalClient::join(&s.ws, &s.token("third", None), Some("big"), &[]).await;
    assert_eq!(rejoined["type"], "connected", "{rejoined}");
}

fn with_connections(connections: vroom::listen::ConnectionLimits) -> Options {
    Options {
        limits: Limits {
            connections,
            ..Limits::default()
        },
        ..Options::default()
    }
}

/// A TCP connection to `s` from the local address `from`.
async fn connect_from(s: &TestServer, from: [u8; 4]) -> tokio::net::TcpStream {
    let addr: std::net::SocketAddr = s.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(from), 0).into())
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// Everything the server sends on `tcp` until it closes it (or 20 s pass).
async fn until_closed(tcp: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_headers_are_cut_off_while_others_are_served() {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::with(with_connections(vroom::listen::ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        ..vroom::listen::ConnectionLimits::default()
    }))
    .await;
    // Slowloris: the start of a request, then nothing more.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut tcp = connect_from(&s, [127, 0, 0, 1]).await;
        tcp.write_all(b"GET /v1/Rooms HTTP/1.1\r\nHost: vroom\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(tcp);
    }
    let (status, _) = s.get("/v1/Rooms").await;
    assert_eq!(status, StatusCode::OK, "served while the slow ones wait");
    for tcp in &mut slow {
        assert!(
            until_closed(tcp).await.is_some(),
            "a slow connection was held"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_caps_get_an_error_and_other_addresses_are_served() {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::with(with_connections(vroom::listen::ConnectionLimits {
        max_connections: 4,
        max_connections_per_address: 2,
        ..vroom::listen::ConnectionLimits::default()
    }))
    .await;
    // One address: a WebSocket and an idle connection fill its share.
    let (_ws, joined) = SignalClient::join(&s.ws, &s.token("ws", None), Some("cap"), &[]).await;
    assert_eq!(joined["type"], "connected");
    let _idle = connect_from(&s, [127, 0, 0, 1]).await;
    let mut third = connect_from(&s, [127, 0, 0, 1]).await;
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: vroom\r\n\r\n")
        .await;
    let answer = until_closed(&mut third).await.expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.contains("\"code\":20429") && answer.contains("retry-after: 1"),
        "{answer}"
    );
    // Another address is still served, up to the total.
    let mut other = connect_from(&s, [127, 0, 0, 2]).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: vroom\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut other).await.expect("answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let _b1 = connect_from(&s, [127, 0, 0, 2]).await;
    let _b2 = connect_from(&s, [127, 0, 0, 2]).await;
    let mut fifth = connect_from(&s, [127, 0, 0, 3]).await;
    let answer = until_closed(&mut fifth).await.expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":20503"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signaling_flood_is_disconnected_and_the_room_carries_on() {
    let s = TestServer::with(Options {
        limits: Limits {
            signaling_messages: vroom::config::signaling_rate(5.0),
            signaling_updates: vroom::config::signaling_rate(2.0),
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let (mut calm, _) = SignalClient::join(&s.ws, &s.token("calm", None), Some("flood"), &[]).await;
    for (identity, flood_updates) in [("chatty", false), ("churner", true)] {
        let (mut c, joined) =
            SignalClient::join(&s.ws, &s.token(identity, None), Some("flood"), &[]).await;
        assert_eq!(joined["type"], "connected", "{joined}");
        let session = joined["session"].as_str().unwrap().to_owned();
        for revision in 2..200u64 {
            let frame = if flood_updates {
                let track = vroom_testkit::track(&format!("t{revision}"), "audio", "mic");
                serde_json::json!({"type": "msg", "body": {"session": session, "type": "update", "version": 2,
                    "participant": {"revision": revision, "tracks": [track]}}})
                .to_string()
            } else {
                r#"{"type":"heartbeat"}"#.to_owned()
            };
            // The server may close the connection before the flood is all sent.
            if !c.try_send_text(&frame).await {
                break;
            }
        }
        let error = c.next_of("error").await.expect("told why");
        assert_eq!(error["code"], 53000, "{error}");
        let what = if flood_updates {
            "too many updates"
        } else {
            "too many messages"
        };
        assert!(error["message"].as_str().unwrap().contains(what), "{error}");
        let close = c.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1008, "{close:?}");
        let (_, p) = s
            .get(&format!(
                "/v1/Rooms/flood/Participants?Identity={identity}&Status=disconnected"
            ))
            .await;
        assert_eq!(p["participants"].as_array().map(Vec::len), Some(1), "{p}");
    }
    // The calm participant is still in, and still heard.
    calm.send_text(r#"{"type":"heartbeat"}"#).await;
    let (status, body) = s.get("/v1/Rooms/flood/Participants/calm").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("connected")),
        "{body}"
    );
    let (_again, rejoined) =
        SignalClient::join(&s.ws, &s.token("chatty", None), Some("flood"), &[]).await;
    assert_eq!(
        rejoined["type"], "connected",
        "a new connection starts with a full budget"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_at_its_room_cap_is_refused_new_rooms_and_keeps_its_others() {
    let s = TestServer::with(Options {
        limits: Limits {
            max_rooms_per_account: Some(2),
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let first = s.create_room(&[("UniqueName", "one")]).await;
    let (_alice, joined) =
        SignalClient::join(&s.ws, &s.token("alice", None), Some("two"), &[]).await;
    assert_eq!(
        joined["type"], "connected",
        "an ad-hoc room counts too: {joined}"
    );
    let (status, body) = s.post("/v1/Rooms", &[("UniqueName", "three")]).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(53103)),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("2 Rooms in progress"),
        "{body}"
    );
    let (_c, refused) = SignalClient::join(&s.ws, &s.token("carol", None), Some("four"), &[]).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_i64()),
        (Some("error"), Some(53103)),
        "{refused}"
    );
    // Its rooms in progress are still joined; once one ends, a new one can be made.
    let (_bob, joined) = SignalClient::join(&s.ws, &s.token("bob", None), Some("one"), &[]).await;
    assert_eq!(joined["type"], "connected", "{joined}");
    let sid = first["sid"].as_str().unwrap();
    let (status, _) = s
        .post(&format!("/v1/Rooms/{sid}"), &[("Status", "completed")])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    s.eventually("the completed room no longer counts", || async {
        s.post("/v1/Rooms", &[("UniqueName", "three")]).await.0 == StatusCode::CREATED
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creates_never_overshoot_the_room_cap() {
    let s = TestServer::with(Options {
        limits: Limits {
            max_rooms_per_account: Some(5),
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let names: Vec<String> = (0..20).map(|i| format!("race-{i}")).collect();
    let forms: Vec<[(&str, &str); 1]> =
        names.iter().map(|n| [("UniqueName", n.as_str())]).collect();
    let answers =
        futures::future::join_all(forms.iter().map(|form| s.post("/v1/Rooms", form))).await;
    let created = answers
        .iter()
        .filter(|(st, _)| *st == StatusCode::CREATED)
        .count();
    assert_eq!(created, 5, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(st, _)| *st != StatusCode::CREATED)
            .all(|(_, b)| b["code"] == 53103)
    );
    let (_, rooms) = s.get("/v1/Rooms").await;
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 5);
}
