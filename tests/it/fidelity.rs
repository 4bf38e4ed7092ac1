//! What twilio-video.js's own integration tests expect of a Twilio server, checked over real
//! WebSockets with our signaling client: joining a REST-made room by its SID (and that room's options
//! holding for those who did).

use reqwest::StatusCode;
use serde_json::Value;
use vroom_testkit::{SignalClient, track};

use crate::common::TestServer;

fn published_of<'a>(connected: &'a Value, id: &str) -> &'a Value {
    connected["published"]["tracks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["id"] == id))
        .unwrap_or_else(|| panic!("no published entry for {id}: {connected}"))
}

#[tokio::test]
async fn connecting_with_a_room_sid_joins_that_room_with_its_options() {
    let s = TestServer::start().await;
    let room = s
        .create_room(&[("UniqueName", "standup"), ("AudioOnly", "true")])
        .await;
    let room_sid = room["sid"].as_str().unwrap().to_owned();

    // By SID: the REST-made room itself, reported under its unique name, with its options in force
    // (an audio-only room refuses the video track with 53125, audio and data publish).
    let (alice, a) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some(&room_sid),
        &[
            track("a-mic", "audio", "mic"),
            track("a-cam", "video", "cam"),
            track("a-data", "data", "chat"),
        ],
    )
    .await;
    assert_eq!(a["type"], "connected", "{a}");
    assert_eq!(
        (a["sid"].as_str(), a["name"].as_str()),
        (Some(room_sid.as_str()), Some("standup"))
    );
    for id in ["a-mic", "a-data"] {
        assert_eq!(published_of(&a, id)["state"], "ready", "{id}: {a}");
    }
    let cam = published_of(&a, "a-cam");
    assert_eq!(
        (cam["state"].as_str(), cam["error"]["code"].as_i64()),
        (Some("failed"), Some(53125)),
        "{a}"
    );

    // By name, someone else lands in the same room and sees alice.
    let (bob, b) = SignalClient::join(&s.ws, &s.token("bob", None), Some("standup"), &[]).await;
    assert_eq!(b["sid"], room_sid.as_str(), "{b}");
    assert_eq!(b["participants"][0]["identity"], "alice", "{b}");

    // A token granted the room by name lets its holder join by SID, and the other way round.
    let (carol, c) = SignalClient::join(
        &s.ws,
        &s.token("carol", Some("standup")),
        Some(&room_sid),
        &[],
    )
    .await;
    assert_eq!(c["sid"], room_sid.as_str(), "{c}");
    let (dave, d) = SignalClient::join(
        &s.ws,
        &s.token("dave", Some(&room_sid)),
        Some("standup"),
        &[],
    )
    .await;
    assert_eq!(d["sid"], room_sid.as_str(), "{d}");

    // REST by SID finds them all; no other room was made.
    let (_, list) = s.get(&format!("/v1/Rooms/{room_sid}/Participants")).await;
    assert_eq!(
        list["participants"].as_array().map(Vec::len),
        Some(4),
        "{list}"
    );
    let (_, rooms) = s.get("/v1/Rooms").await;
    assert_eq!(rooms["rooms"].as_array().map(Vec::len), Some(1), "{rooms}");

    // REST ends the room: those who joined by SID are told it completed (twilio-video.js: 53118).
    let (status, _) = s
        .post(&format!("/v1/Rooms/{room_sid}"), &[("Status", "completed")])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for mut client in [alice, bob, carol, dave] {
        let m = client
            .next_of("disconnected")
            .await
            .expect("a disconnected");
        assert_eq!(m["status"], "completed", "{m}");
    }

    // A completed room's SID is refused with 53118 (never a new room); an unknown SID with 53106.
    let (_, late) = SignalClient::join(&s.ws, &s.token("erin", None), Some(&room_sid), &[]).await;
    assert_eq!(
        (late["type"].as_str(), late["code"].as_i64()),
        (Some("error"), Some(53118)),
        "{late}"
    );
    let unknown = "RM0123456789abcdef0123456789abcdef";
    let (_, none) = SignalClient::join(&s.ws, &s.token("erin", None), Some(unknown), &[]).await;
    assert_eq!(
        (none["type"].as_str(), none["code"].as_i64()),
        (Some("error"), Some(53106)),
        "{none}"
    );
    let (_, rooms) = s.get("/v1/Rooms?Status=in-progress").await;
    assert_eq!(rooms["rooms"].as_array().map(Vec::len), Some(0), "{rooms}");
}

#[tokio::test]
async fn a_second_track_with_a_taken_name_is_refused_with_53304() {
    let s = TestServer::start().await;
    let (mut alice, a) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some("names"),
        &[
            track("a1", "audio", "foo"),
            track("v1", "video", "foo"),
            track("d1", "data", "bar"),
        ],
    )
    .await;
    assert_eq!(a["type"], "connected", "{a}");
    for id in ["a1", "d1"] {
        assert_eq!(published_of(&a, id)["state"], "ready", "{id}: {a}");
    }
    let dup = published_of(&a, "v1");
    assert_eq!(
        (
            dup["state"].as_str(),
            dup["error"]["code"].as_i64(),
            dup["error"]["message"].as_str()
        ),
        (
            Some("failed"),
            Some(53304),
            Some("Track name is duplicated")
        ),
        "names are unique across kinds: {a}"
    );

    // Later publications: a taken name is refused, a freed one can be used again.
    alice
        .update_tracks(
            5,
            &[
                track("a1", "audio", "foo"),
                track("d1", "data", "bar"),
                track("v2", "video", "bar"),
            ],
        )
        .await;
    let m = alice.next_of("update").await.expect("an update");
    assert_eq!(published_of(&m, "v2")["error"]["code"], 53304, "{m}");
    assert_eq!(published_of(&m, "a1")["state"], "ready", "{m}");
    alice
        .update_tracks(
            6,
            &[track("d1", "data", "bar"), track("v3", "video", "foo")],
        )
        .await;
    let m = alice.next_of("update").await.expect("an update");
    assert_eq!(
        published_of(&m, "v3")["state"],
        "ready",
        "the name was freed: {m}"
    );

    // Others only ever see one track per name.
    let (bob, b) = SignalClient::join(&s.ws, &s.token("bob", None), Some("names"), &[]).await;
    let mut names: Vec<&str> = b["participants"][0]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["bar", "foo"], "{b}");
    bob.leave().await;
    alice.leave().await;
}

#[tokio::test]
async fn the_last_state_of_a_departed_participant_keeps_its_tracks() {
    let s = TestServer::start().await;
    let (mut alice, _) =
        SignalClient::join(&s.ws, &s.token("alice", None), Some("last"), &[]).await;
    let (bob, b) = SignalClient::join(
        &s.ws,
        &s.token("bob", None),
        Some("last"),
        &[track("b1", "audio", "mic"), track("b2", "video", "cam")],
    )
    .await;
    let sids = |tracks: &Value| -> Vec<String> {
        let mut v: Vec<String> = tracks
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["sid"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let published = sids(&b["published"]["tracks"]);
    assert_eq!(published.len(), 2, "{b}");
    bob.leave().await;
    let last = loop {
        let p = alice.next_participant().await.expect("a participant state");
        if p["state"] == "disconnected" {
            break p;
        }
    };
    assert_eq!(sids(&last["tracks"]), published, "{last}");
    alice.leave().await;
}

#[tokio::test]
async fn connected_reports_the_signaling_region_the_url_asked_for() {
    let s = TestServer::start().await;
    let cases = [
        ("?region=us1", "us1"),
        ("?region=de1", "de1"),
        ("?region=gll", "gll"),
        // Not a Twilio region, or none asked: vroom's own name.
        ("?region=foo", "vroom"),
        ("", "vroom"),
    ];
    for (i, (query, want)) in cases.into_iter().enumerate() {
        let url = format!("{}{query}", s.ws);
        let (c, m) =
            SignalClient::join(&url, &s.token(&format!("p{i}"), None), Some("regions"), &[]).await;
        assert_eq!(m["options"]["signaling_region"], want, "{query}: {m}");
        c.leave().await;
    }
}

#[tokio::test]
async fn a_room_joined_by_sid_keeps_its_participant_cap() {
    // twilio-video.js's REST suite: a group-small room made over REST, four joins by SID, and the
    // fifth is refused with 53105 (RoomMaxParticipantsExceededError).
    let s = TestServer::start().await;
    let room = s.create_room(&[("Type", "group-small")]).await;
    let sid = room["sid"].as_str().unwrap();
    let mut inside = Vec::new();
    for i in 0..4 {
        let (c, m) =
            SignalClient::join(&s.ws, &s.token(&format!("p{i}"), None), Some(sid), &[]).await;
        assert_eq!(m["sid"], sid, "{m}");
        inside.push(c);
    }
    let (_, fifth) = SignalClient::join(&s.ws, &s.token("p4", None), Some(sid), &[]).await;
    assert_eq!(
        (fifth["type"].as_str(), fifth["code"].as_i64()),
        (Some("error"), Some(53105)),
        "{fifth}"
    );
    for c in inside {
        c.leave().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_room_joined_by_sid_calls_its_own_status_callback() {
    // Before joins by SID, such a join made a new ad-hoc room that called nobody.
    let s = TestServer::start().await;
    let mut rx = crate::webhooks::Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    let room = s
        .create_room(&[("UniqueName", "called"), ("StatusCallback", &rx.url("/cb"))])
        .await;
    let sid = room["sid"].as_str().unwrap();
    let (c, m) = SignalClient::join(&s.ws, &s.token("alice", None), Some(sid), &[]).await;
    let (got, failed) = rx.delivered(2).await;
    assert!(failed.is_empty());
    let events: Vec<&str> = got
        .iter()
        .map(|r| {
            r["params"]["StatusCallbackEvent"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(events, ["room-created", "participant-connected"]);
    assert_eq!(got[1]["params"]["RoomSid"], sid);
    assert_eq!(got[1]["params"]["RoomName"], "called");
    assert_eq!(got[1]["params"]["ParticipantSid"], m["participant"]["sid"]);
    c.leave().await;
}
