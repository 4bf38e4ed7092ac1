//! Room lifecycle on the real server: timeouts on a manual clock (minutes of room life without
//! sleeping), maximum participant duration, and the MaxParticipants race over real sockets.

use serde_json::Value;
use vroom_domain::time::{Span, Timestamp};
use vroom_rooms::clock::ManualClock;
use vroom_testkit::SignalClient;

use crate::common::{Options, TestServer};

/// A server on a manual clock whose signaling heartbeats never time out while the test moves time.
async fn manual() -> TestServer {
    TestServer::with(Options {
        clock: Some(ManualClock::new(Timestamp::from_secs(1_800_000_000))),
        heartbeat_ms: 100_000_000,
        ..Options::default()
    })
    .await
}

async fn status_of(s: &TestServer, sid: &str) -> Value {
    s.get(&format!("/v1/Rooms/{sid}")).await.1
}

async fn until_status(s: &TestServer, sid: &str, want: &str) -> Value {
    s.eventually(&format!("room {sid} becomes {want}"), || async move {
        status_of(s, sid).await["status"] == want
    })
    .await;
    status_of(s, sid).await
}

#[tokio::test]
async fn an_unused_room_ends_after_its_unused_timeout() {
    let s = manual().await;
    let room = s.create_room(&[("UnusedRoomTimeout", "2")]).await;
    let sid = room["sid"].as_str().unwrap();
    s.advance(Span::from_secs(119));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        status_of(&s, sid).await["status"],
        "in-progress",
        "not a second early"
    );
    s.advance(Span::from_secs(1));
    let done = until_status(&s, sid, "completed").await;
    assert_eq!(done["duration"], 120);
}

#[tokio::test]
async fn an_empty_room_ends_after_its_empty_timeout_and_a_join_cancels_it() {
    let s = manual().await;
    let room = s
        .create_room(&[("UniqueName", "emptying"), ("EmptyRoomTimeout", "3")])
        .await;
    let sid = room["sid"].as_str().unwrap();
    let (a, _) = SignalClient::join(&s.ws, &s.token("a", None), Some("emptying"), &[]).await;
    a.leave().await;
    s.eventually("a has left", || async {
        s.get("/v1/Rooms/emptying/Participants").await.1["participants"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .await;
    s.advance(Span::from_secs(120));
    let (b, _) = SignalClient::join(&s.ws, &s.token("b", None), Some("emptying"), &[]).await;
    s.advance(Span::from_secs(120));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        status_of(&s, sid).await["status"],
        "in-progress",
        "b's join cancelled the empty timer"
    );
    b.leave().await;
    s.eventually("b has left", || async {
        s.get("/v1/Rooms/emptying/Participants").await.1["participants"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .await;
    s.advance(Span::from_secs(180));
    let done = until_status(&s, sid, "completed").await;
    assert!(done["end_time"].is_string());
    let (status, _) = s.post("/v1/Rooms", &[("UniqueName", "emptying")]).await;
    assert_eq!(status, 201, "the name is free again");
}

#[tokio::test]
async fn a_participant_is_disconnected_at_its_maximum_duration() {
    let s = manual().await;
    s.create_room(&[("UniqueName", "capped"), ("MaxParticipantDuration", "600")])
        .await;
    let (mut a, am) = SignalClient::join(&s.ws, &s.token("a", None), Some("capped"), &[]).await;
    s.advance(Span::from_secs(300));
    let (mut b, _) = SignalClient::join(&s.ws, &s.token("b", None), Some("capped"), &[]).await;
    s.advance(Span::from_secs(300));
    let e = a.next_of("error").await.expect("a is told");
    assert_eq!(e["code"], 53216);
    let psid = am["participant"]["sid"].as_str().unwrap();
    let (_, p) = s
        .get(&format!("/v1/Rooms/capped/Participants/{psid}"))
        .await;
    assert_eq!(
        (p["status"].as_str(), p["duration"].as_i64()),
        (Some("disconnected"), Some(600))
    );
    let left = loop {
        let p = b.next_participant().await.expect("b hears of it");
        if p["sid"] == am["participant"]["sid"] {
            break p;
        }
    };
    assert_eq!(left["state"], "disconnected");
    let (_, p) = s.get("/v1/Rooms/capped/Participants/b").await;
    assert_eq!(p["status"], "connected", "b joined later and stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_clients_joining_a_room_of_fifty_at_once() {
    let s = TestServer::start().await;
    s.create_room(&[("UniqueName", "rush"), ("MaxParticipants", "50")])
        .await;
    let mut joins = Vec::new();
    for i in 0..200 {
        let ws = s.ws.clone();
        let token = s.token(&format!("p{i}"), None);
        joins.push(tokio::spawn(async move {
            SignalClient::join(&ws, &token, Some("rush"), &[]).await
        }));
    }
    let mut connected = Vec::new();
    let mut refused = 0;
    for j in joins {
        let (client, m) = j.await.unwrap();
        match (m["type"].as_str(), m["code"].as_i64()) {
            (Some("connected"), _) => connected.push(client),
            (Some("error"), Some(53105)) => refused += 1,
            other => panic!("unexpected answer {other:?}: {m}"),
        }
    }
    assert_eq!((connected.len(), refused), (50, 150));
    let (_, listed) = s.get("/v1/Rooms/rush/Participants?PageSize=100").await;
    assert_eq!(listed["participants"].as_array().unwrap().len(), 50);
}
