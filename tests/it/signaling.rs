//! Signaling over real WebSockets with our own client: handshake, joins and leaves with revisions,
//! identity takeover, room completion, tokens, bad frames, heartbeats, reconnection, crash recovery.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vroom_domain::time::Span;
use vroom_testkit::{SignalClient, connect_body, track};

use crate::common::{Options, TestServer};

fn sid(v: &Value) -> String {
    v["participant"]["sid"]
        .as_str()
        .expect("a participant SID")
        .to_owned()
}

#[tokio::test]
async fn connect_answers_connected_with_everything_the_client_reads() {
    let s = TestServer::start().await;
    let (c, m) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some("lobby"),
        &[track("t1", "audio", "mic"), track("t2", "video", "cam")],
    )
    .await;
    assert_eq!(m["type"], "connected", "{m}");
    assert_eq!(m["name"], "lobby");
    assert!(m["sid"].as_str().unwrap().starts_with("RM"));
    assert_eq!(m["participant"]["identity"], "alice");
    assert!(m["session"].is_string());
    assert_eq!(m["options"]["session_timeout"], 30);
    assert_eq!(m["participants"], json!([]));
    let published = m["published"]["tracks"].as_array().unwrap();
    assert_eq!(published.len(), 2);
    assert!(
        published
            .iter()
            .all(|t| t["state"] == "ready" && t["sid"].as_str().unwrap().starts_with("MT"))
    );
    assert_eq!(m["subscribed"]["tracks"], json!([]));

    // The room was created ad hoc, with defaults, and the participant is on record.
    let (status, room) = s.get("/v1/Rooms/lobby").await;
    assert_eq!(
        (status, room["type"].as_str(), room["sid"].clone()),
        (StatusCode::OK, Some("group"), m["sid"].clone())
    );
    let (_, p) = s
        .get(&format!("/v1/Rooms/lobby/Participants/{}", sid(&m)))
        .await;
    assert_eq!(p["status"], "connected");
    c.leave().await;
}

#[tokio::test]
async fn others_learn_of_joins_changes_and_leaves_with_increasing_revisions() {
    let s = TestServer::start().await;
    let (mut a, _) = SignalClient::join(&s.ws, &s.token("alice", None), Some("r"), &[]).await;
    let (mut b, bm) = SignalClient::join(
        &s.ws,
        &s.token("bob", None),
        Some("r"),
        &[track("b1", "audio", "bob-mic")],
    )
    .await;
    assert_eq!(
        bm["participants"][0]["identity"], "alice",
        "bob sees alice already there"
    );
    assert_eq!(bm["participants"][0]["tracks"], json!([]));

    let joined = a.next_participant().await.expect("a participant state");
    assert_eq!(
        (joined["identity"].as_str(), joined["state"].as_str()),
        (Some("bob"), Some("connected"))
    );
    assert_eq!(
        joined["tracks"][0]["name"], "bob-mic",
        "one state with the newcomer's tracks"
    );
    let r1 = joined["revision"].as_u64().unwrap();

    b.update_tracks(
        3,
        &[
            track("b1", "audio", "bob-mic"),
            track("b2", "video", "bob-cam"),
        ],
    )
    .await;
    let ack = b.next_of("update").await.unwrap();
    assert_eq!(ack["published"]["tracks"].as_array().unwrap().len(), 2);
    assert!(
        ack["published"]["revision"].as_u64().unwrap()
            > bm["published"]["revision"].as_u64().unwrap()
    );
    let changed = a.next_participant().await.expect("a participant state");
    let r2 = changed["revision"].as_u64().unwrap();
    assert!(r2 > r1 && changed["tracks"].as_array().unwrap().len() == 2);

    b.leave().await;
    let left = a.next_participant().await.expect("a participant state");
    assert_eq!(left["state"], "disconnected");
    assert!(left["revision"].as_u64().unwrap() > r2);
    let (_, p) = s
        .get(&format!("/v1/Rooms/r/Participants/{}", sid(&bm)))
        .await;
    assert_eq!(p["status"], "disconnected");
    assert!(p["duration"].is_i64() && p["end_time"].is_string());
    a.leave().await;
}

#[tokio::test]
async fn a_burst_of_joins_and_leaves_reaches_a_member_once_each_in_order() {
    // Changes queued together may share one `update`: none is lost, repeated or reordered.
    let s = TestServer::start().await;
    let (mut watcher, _) =
        SignalClient::join(&s.ws, &s.token("watcher", None), Some("burst"), &[]).await;
    let joins = (0..24).map(|i| {
        let token = s.token(&format!("p{i}"), None);
        let ws = s.ws.clone();
        async move { SignalClient::join(&ws, &token, Some("burst"), &[]).await.0 }
    });
    let clients = futures::future::join_all(joins).await;
    let mut seen = std::collections::HashMap::new();
    while seen.len() < clients.len() {
        let p = watcher
            .next_participant()
            .await
            .expect("a participant state");
        assert_eq!(p["state"], "connected", "{p}");
        let revision = p["revision"].as_u64().unwrap();
        assert!(
            seen.insert(p["identity"].as_str().unwrap().to_owned(), revision)
                .is_none(),
            "told twice of {p}"
        );
    }
    futures::future::join_all(clients.into_iter().map(SignalClient::leave)).await;
    let mut left = std::collections::HashSet::new();
    while left.len() < seen.len() {
        let p = watcher
            .next_participant()
            .await
            .expect("a participant state");
        let identity = p["identity"].as_str().unwrap().to_owned();
        assert_eq!(p["state"], "disconnected", "{p}");
        assert!(p["revision"].as_u64().unwrap() > seen[&identity], "{p}");
        assert!(left.insert(identity), "told twice of {p}");
    }
    watcher.leave().await;
}

#[tokio::test]
async fn a_newcomer_with_the_same_identity_disconnects_the_older_client() {
    let s = TestServer::start().await;
    let (mut old, om) = SignalClient::join(&s.ws, &s.token("alice", None), Some("dup"), &[]).await;
    let (mut bob, _) = SignalClient::join(&s.ws, &s.token("bob", None), Some("dup"), &[]).await;
    let (new, nm) = SignalClient::join(&s.ws, &s.token("alice", None), Some("dup"), &[]).await;
    assert_eq!(nm["type"], "connected");
    assert_ne!(sid(&om), sid(&nm));
    let err = old
        .next_of("error")
        .await
        .expect("the older client is told");
    assert_eq!(err["code"], 53205);
    old.leave().await;

    let first = bob.next_participant().await.expect("a participant state");
    let second = bob.next_participant().await.expect("a participant state");
    assert_eq!(
        (first["sid"].as_str(), first["state"].as_str()),
        (Some(sid(&om).as_str()), Some("disconnected"))
    );
    assert_eq!(
        (second["sid"].as_str(), second["state"].as_str()),
        (Some(sid(&nm).as_str()), Some("connected"))
    );
    let (_, p) = s
        .get(&format!("/v1/Rooms/dup/Participants/{}", sid(&om)))
        .await;
    assert_eq!(p["status"], "disconnected");
    let (_, p) = s.get("/v1/Rooms/dup/Participants/alice").await;
    assert_eq!(p["sid"].as_str(), Some(sid(&nm).as_str()));
    new.leave().await;
}

#[tokio::test]
async fn completing_a_room_tells_every_client_and_closes_them() {
    let s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "ending")]).await;
    let (mut a, _) = SignalClient::join(&s.ws, &s.token("a", None), Some("ending"), &[]).await;
    let (mut b, _) = SignalClient::join(&s.ws, &s.token("b", None), Some("ending"), &[]).await;
    let (status, _) = s
        .post(
            &format!("/v1/Rooms/{}", room["sid"].as_str().unwrap()),
            &[("Status", "completed")],
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for c in [&mut a, &mut b] {
        let d = c
            .next_of("disconnected")
            .await
            .expect("told the room ended");
        assert_eq!(d["status"], "completed");
    }
    // Without a goodbye from the client, the server closes the connection after its grace period.
    a.leave().await;
    let close = b.closed().await.expect("the server closes the connection");
    assert_eq!(u16::from(close.code), 1000);
    let (_, ps) = s.get("/v1/Rooms/ending/Participants").await;
    assert_eq!(
        ps["status"], 404,
        "a completed room is no longer found by name"
    );
}

#[tokio::test]
async fn max_participants_refuses_with_53105() {
    let s = TestServer::start().await;
    s.create_room(&[("UniqueName", "small"), ("MaxParticipants", "2")])
        .await;
    let (_a, am) = SignalClient::join(&s.ws, &s.token("a", None), Some("small"), &[]).await;
    let (_b, bm) = SignalClient::join(&s.ws, &s.token("b", None), Some("small"), &[]).await;
    assert_eq!(
        (am["type"].as_str(), bm["type"].as_str()),
        (Some("connected"), Some("connected"))
    );
    let (_c, cm) = SignalClient::join(&s.ws, &s.token("c", None), Some("small"), &[]).await;
    assert_eq!(
        (cm["type"].as_str(), cm["code"].as_i64()),
        (Some("error"), Some(53105))
    );
}

#[tokio::test]
async fn bad_tokens_get_the_matching_access_token_codes() {
    let s = TestServer::start().await;
    let key = vroom_signaling::token::TokenKey {
        account_sid: s.creds.account_sid,
        api_key_sid: s.creds.api_key_sid,
        secret: s.creds.api_key_secret.clone(),
    };
    let wrong = vroom_signaling::token::TokenKey {
        secret: "not the secret".into(),
        ..key.clone()
    };
    let now = s.now();
    let mint =
        |k: &vroom_signaling::token::TokenKey, id: &str, room: Option<&str>, ttl: i64, at| {
            vroom_signaling::token::mint(k, id, room, ttl, at).unwrap()
        };
    let past = vroom_domain::time::Timestamp::from_secs(now.secs() - 7200);
    let cases = [
        ("garbage".to_owned(), None, 20101),
        (mint(&wrong, "a", None, 3600, now), None, 20107),
        (mint(&key, "a", None, 3600, past), None, 20104),
        (
            mint(&key, "a", Some("elsewhere"), 3600, now),
            Some("here"),
            20106,
        ),
        (mint(&key, &"x".repeat(200), None, 3600, now), None, 53201),
    ];
    for (token, room, want) in cases {
        let (c, m) = SignalClient::join(&s.ws, &token, room.or(Some("here")), &[]).await;
        assert_eq!(
            (m["type"].as_str(), m["code"].as_i64()),
            (Some("error"), Some(want)),
            "{m}"
        );
        // The server gives the client its goodbye window, then closes.
        c.leave().await;
    }
    let (_, rooms) = s.get("/v1/Rooms").await;
    assert!(
        rooms["rooms"].as_array().unwrap().is_empty(),
        "no room is created for a refused token"
    );
}

#[tokio::test]
async fn garbage_and_out_of_order_frames_get_clear_errors_and_others_keep_working() {
    let s = TestServer::start().await;
    let (mut bystander, _) =
        SignalClient::join(&s.ws, &s.token("calm", None), Some("g"), &[]).await;

    // Before the handshake: `bad` and a close.
    for frame in [
        "not json",
        r#"{"type":"msg","body":{"type":"connect"}}"#,
        r#"{"type":"hello","version":1}"#,
        r#"{"type":"shout"}"#,
        "[1]",
    ] {
        let mut c = SignalClient::open(&s.ws).await.unwrap();
        c.send_text(frame).await;
        let answer = c.next_frame().await.expect("an answer");
        assert_eq!(answer["type"], "bad", "{frame} -> {answer}");
        assert!(answer["reason"].as_str().is_some_and(|r| !r.is_empty()));
        let close = c.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1002);
    }

    // After the handshake: an `error` with 53004, and the participant is removed.
    for frame in [
        "{oops",
        r#"{"type":"msg","body":{"type":"update","participant":{"tracks":"none"}}}"#,
        r#"{"type":"msg","body":"text"}"#,
    ] {
        let (mut c, m) = SignalClient::join(&s.ws, &s.token("rude", None), Some("g"), &[]).await;
        assert_eq!(m["type"], "connected");
        c.send_text(frame).await;
        let e = c.next_of("error").await.expect("an error");
        assert_eq!(e["code"], 53004, "{frame}");
        let joined = bystander
            .next_participant()
            .await
            .expect("a participant state");
        assert_eq!(joined["state"], "connected");
        let left = bystander
            .next_participant()
            .await
            .expect("a participant state");
        assert_eq!(left["state"], "disconnected");
    }

    // An update before connect is refused; a hello repeated is answered with welcome again.
    let mut c = SignalClient::open(&s.ws).await.unwrap();
    c.hello(json!({"type": "ice", "version": 1, "token": "x", "edge": "roaming"}))
        .await;
    assert_eq!(c.next_frame().await.unwrap()["type"], "welcome");
    assert_eq!(c.next_msg().await.unwrap()["type"], "iced");
    c.hello(json!({"type": "ice"})).await;
    assert_eq!(
        c.next_frame().await.unwrap()["type"],
        "welcome",
        "a retried hello gets welcome, its body is not redone"
    );
    c.msg(json!({"type": "update", "participant": {"revision": 1, "tracks": []}}))
        .await;
    assert_eq!(c.next_of("error").await.unwrap()["code"], 53004);

    // The bystander was never disturbed and still works.
    bystander
        .update_tracks(2, &[track("m", "audio", "mic")])
        .await;
    let ack = bystander.next_of("update").await.unwrap();
    assert_eq!(ack["published"]["tracks"][0]["state"], "ready");
}

#[tokio::test]
async fn the_ice_round_trip_comes_before_connect() {
    let s = TestServer::start().await;
    let mut c = SignalClient::open(&s.ws).await.unwrap();
    c.hello(json!({"edge": "roaming", "token": s.token("ice", None), "type": "ice", "version": 1}))
        .await;
    assert_eq!(c.next_frame().await.unwrap()["type"], "welcome");
    let iced = c.next_msg().await.unwrap();
    assert_eq!(
        (iced["type"].as_str(), iced["ice_servers"].is_array()),
        (Some("iced"), true)
    );
    let mut body = connect_body(&s.token("ice", None), Some("icy"), &[]);
    body["ice_servers"] = json!("acquire");
    c.msg(body).await;
    assert_eq!(c.next_msg().await.unwrap()["type"], "connected");
}

#[tokio::test]
async fn heartbeats_flow_and_a_silent_client_is_reconnecting_then_gone() {
    let s = TestServer::with(Options {
        clock: Some(vroom_rooms::clock::ManualClock::new(
            vroom_domain::time::Timestamp::from_secs(1_800_000_000),
        )),
        ..Options::default()
    })
    .await;
    let (mut quiet, qm) = SignalClient::join(&s.ws, &s.token("quiet", None), Some("hb"), &[]).await;
    let (mut other, _) = SignalClient::join(&s.ws, &s.token("other", None), Some("hb"), &[]).await;
    assert_eq!(
        quiet.next_participant().await.expect("a participant state")["identity"],
        "other"
    );

    // After five silent seconds the server sends a heartbeat.
    s.advance(Span::from_secs(5));
    let hb = quiet
        .next_raw(Duration::from_secs(5))
        .await
        .expect("a heartbeat");
    assert_eq!(hb["type"], "heartbeat");

    // `other` keeps sending heartbeats; `quiet` sends nothing for 15 s and is given up.
    for _ in 0..4 {
        other.send(&json!({"type": "heartbeat"})).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.advance(Span::from_secs(4));
    }
    let close = quiet.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 4001);
    let reconnecting = other.next_participant().await.expect("a participant state");
    assert_eq!(
        (
            reconnecting["identity"].as_str(),
            reconnecting["state"].as_str()
        ),
        (Some("quiet"), Some("reconnecting"))
    );
    let (_, p) = s
        .get(&format!("/v1/Rooms/hb/Participants/{}", sid(&qm)))
        .await;
    assert_eq!(
        p["status"], "connected",
        "still in the room while it may come back"
    );

    // The reconnect window (30 s) passes: disconnected for good.
    for _ in 0..8 {
        other.send(&json!({"type": "heartbeat"})).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.advance(Span::from_secs(4));
    }
    let gone = other.next_participant().await.expect("a participant state");
    assert_eq!(gone["state"], "disconnected");
    let (_, p) = s
        .get(&format!("/v1/Rooms/hb/Participants/{}", sid(&qm)))
        .await;
    assert_eq!(p["status"], "disconnected");
}

#[tokio::test]
async fn sync_resumes_the_same_participant_on_a_new_connection() {
    let s = TestServer::start().await;
    let (mut stay, _) =
        SignalClient::join(&s.ws, &s.token("stay", None), Some("resume"), &[]).await;
    let (lost, lm) = SignalClient::join(
        &s.ws,
        &s.token("lost", None),
        Some("resume"),
        &[track("l1", "audio", "mic")],
    )
    .await;
    assert_eq!(
        stay.next_participant().await.expect("a participant state")["identity"],
        "lost"
    );
    let session = lost.session.clone().unwrap();
    lost.drop_connection();
    let reconnecting = stay.next_participant().await.expect("a participant state");
    assert_eq!(reconnecting["state"], "reconnecting");

    let mut back = SignalClient::open(&s.ws).await.unwrap();
    back.hello(json!({
        "name": "resume", "participant": {"revision": 2, "tracks": [track("l1", "audio", "mic")]},
        "peer_connections": [], "type": "sync", "version": 2, "session": session, "token": s.token("lost", None),
    }))
    .await;
    assert_eq!(back.next_frame().await.unwrap()["type"], "welcome");
    let synced = back.next_msg().await.unwrap();
    assert_eq!(synced["type"], "synced", "{synced}");
    assert_eq!(
        synced["participants"][0]["identity"], "stay",
        "the full, authoritative roster"
    );
    assert_eq!(
        synced["published"]["tracks"][0]["sid"], lm["published"]["tracks"][0]["sid"],
        "same track SID"
    );
    assert!(
        synced["published"]["revision"].as_u64() > lm["published"]["revision"].as_u64(),
        "revisions keep increasing"
    );
    let again = stay.next_participant().await.expect("a participant state");
    assert_eq!(
        (again["sid"].as_str(), again["state"].as_str()),
        (Some(sid(&lm).as_str()), Some("connected"))
    );

    // A forged or stale session is refused with 53204.
    let mut forged = SignalClient::open(&s.ws).await.unwrap();
    forged.hello(json!({"type": "sync", "version": 2, "session": format!("{}.AAAA", sid(&lm)), "token": s.token("lost", None)})).await;
    assert_eq!(forged.next_frame().await.unwrap()["type"], "welcome");
    assert_eq!(forged.next_msg().await.unwrap()["code"], 53204);
    back.leave().await;
}

#[tokio::test]
async fn a_crash_leaves_no_participant_connected_after_the_next_start() {
    // The real binary, killed with SIGKILL while a participant is connected.
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = crate::common::test_credentials();
    let port = crate::common::free_port();
    let token = crate::common::token_for(&creds, "survivor");
    let ws = format!("ws://127.0.0.1:{port}/signaling");
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let (user, pass) = (creds.api_key_sid.to_string(), creds.api_key_secret.clone());
        async move {
            let r = http
                .get(format!("http://127.0.0.1:{port}{path}"))
                .basic_auth(user, Some(pass))
                .send()
                .await
                .ok()?;
            r.json::<Value>().await.ok()
        }
    };

    let mut first = crate::common::spawn_vroom(port, &db, &creds).await;
    // A room made through REST outlives its participants (an ad-hoc one would end with its last).
    let created = http
        .post(format!("http://127.0.0.1:{port}/v1/Rooms"))
        .basic_auth(creds.api_key_sid.to_string(), Some(&creds.api_key_secret))
        .form(&[("UniqueName", "crashy")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let (_client, m) = SignalClient::join(&ws, &token, Some("crashy"), &[]).await;
    assert_eq!(m["type"], "connected");
    let psid = sid(&m);
    first.kill().await.unwrap();

    let mut second = crate::common::spawn_vroom(port, &db, &creds).await;
    let p = get(format!("/v1/Rooms/crashy/Participants/{psid}"))
        .await
        .expect("the participant record");
    assert_eq!(p["status"], "disconnected", "{p}");
    assert!(p["end_time"].is_string() && p["duration"].is_i64());
    let room = get("/v1/Rooms/crashy".to_owned()).await.unwrap();
    assert_eq!(room["status"], "in-progress", "the room survives the crash");
    second.kill().await.unwrap();
}
