//! REST API behaviour over real HTTP: status codes, fields, errors, paging, filters, persistence.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use vroom_testkit::{SignalClient, track};

use crate::common::TestServer;

mod cache;

fn code(body: &Value) -> i64 {
    body["code"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn authentication_accepts_both_credential_pairs_and_refuses_the_rest() {
    let s = TestServer::start().await;
    let account = s.creds.account_sid.to_string();
    let key = s.creds.api_key_sid.to_string();
    for (user, pass) in [
        (account.as_str(), s.creds.auth_token.as_str()),
        (key.as_str(), s.creds.api_key_secret.as_str()),
    ] {
        let (status, _) = s
            .request(Method::GET, "/v1/Rooms", Some((user, pass)), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    for auth in [
        None,
        Some((account.as_str(), "wrong")),
        Some((key.as_str(), s.creds.auth_token.as_str())),
        Some(("", "")),
    ] {
        let (status, body) = s.request(Method::GET, "/v1/Rooms", auth, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            serde_json::json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
        );
    }
}

#[tokio::test]
async fn create_applies_defaults_and_every_parameter() {
    let s = TestServer::start().await;
    let room = s.create_room(&[]).await;
    assert_eq!(
        room["unique_name"], room["sid"],
        "without a UniqueName the name is the SID"
    );
    for _ in 0..2 {
        // `UniqueName=` (a field left blank) is as if absent, as Twilio treats it: each such room
        // is named by its own SID, so two of them never collide.
        let blank = s.create_room(&[("UniqueName", "")]).await;
        assert_eq!(blank["unique_name"], blank["sid"], "{blank}");
    }
    assert_eq!(
        (room["status"].as_str(), room["type"].as_str()),
        (Some("in-progress"), Some("group"))
    );
    assert_eq!(room["max_participants"], 50);
    assert_eq!(room["max_participant_duration"], 14400);
    assert_eq!(
        (
            room["empty_room_timeout"].as_i64(),
            room["unused_room_timeout"].as_i64()
        ),
        (Some(5), Some(5))
    );
    assert_eq!(room["end_time"], Value::Null);
    assert_eq!(room["duration"], Value::Null);
    let sid = room["sid"].as_str().unwrap();
    assert_eq!(room["url"], format!("{}/v1/Rooms/{sid}", s.base));
    assert_eq!(
        room["links"]["participants"],
        format!("{}/v1/Rooms/{sid}/Participants", s.base)
    );
    let created = room["date_created"].as_str().unwrap();
    assert!(
        created.len() == 20 && created.ends_with('Z'),
        "YYYY-MM-DDTHH:MM:SSZ, got {created}"
    );

    let full = s
        .create_room(&[
            ("Type", "group-small"),
            ("UniqueName", "Daily Standup"),
            ("StatusCallback", "https://example.com/cb?x=1"),
            ("StatusCallbackMethod", "GET"),
            ("MaxParticipants", "3"),
            ("RecordParticipantsOnConnect", "true"),
            ("TranscribeParticipantsOnConnect", "false"),
            ("TranscriptionsConfiguration", r#"{"languageCode":"en-US"}"#),
            ("VideoCodecs", "VP8"),
            ("VideoCodecs", "H264"),
            ("MediaRegion", "ie1"),
            ("RecordingRules", r#"[{"type":"include","kind":"audio"}]"#),
            ("AudioOnly", "true"),
            ("MaxParticipantDuration", "600"),
            ("EmptyRoomTimeout", "1"),
            ("UnusedRoomTimeout", "60"),
            ("EnableTurn", "false"),
        ])
        .await;
    let expect = serde_json::json!({
        "type": "group-small", "unique_name": "Daily Standup", "status_callback": "https://example.com/cb?x=1",
        "status_callback_method": "GET", "max_participants": 3, "record_participants_on_connect": true,
        "video_codecs": ["VP8", "H264"], "media_region": "ie1", "audio_only": true, "max_participant_duration": 600,
        "empty_room_timeout": 1, "unused_room_timeout": 60, "enable_turn": false,
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&full[k], v, "field {k}");
    }
    let (status, rules) = s
        .get(&format!(
            "/v1/Rooms/{}/RecordingRules",
            full["sid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rules["rules"],
        serde_json::json!([{"type": "include", "kind": "audio"}])
    );
}

#[tokio::test]
async fn bad_create_parameters_get_twilio_codes_naming_the_parameter() {
    let s = TestServer::start().await;
    s.create_room(&[("UniqueName", "taken")]).await;
    let long = "x".repeat(129);
    type Case<'a> = (Vec<(&'a str, &'a str)>, i64, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("Type", "huge")], 53108, "RoomType"),
        (vec![("UniqueName", "taken")], 53113, "Room exists"),
        (vec![("UniqueName", &long)], 53101, "too long"),
        (vec![("MaxParticipants", "51")], 53107, "MaxParticipants"),
        (vec![("MaxParticipants", "0")], 53107, "MaxParticipants"),
        (vec![("MaxParticipants", "lots")], 53107, "MaxParticipants"),
        (
            vec![("Type", "go"), ("MaxParticipants", "3")],
            53107,
            "MaxParticipants",
        ),
        (vec![("EmptyRoomTimeout", "0")], 53109, "EmptyRoomTimeout"),
        (
            vec![("UnusedRoomTimeout", "61")],
            53109,
            "UnusedRoomTimeout",
        ),
        (
            vec![("StatusCallbackMethod", "PUT")],
            53110,
            "StatusCallbackMethod",
        ),
        (
            vec![("StatusCallback", "not a url")],
            53111,
            "StatusCallback",
        ),
        (vec![("MediaRegion", "mars1")], 53115, "MediaRegion"),
        (vec![("RecordingRules", "[]")], 53120, "Recording Rule"),
        (vec![("RecordingRules", "{nope")], 53120, "Recording Rule"),
        (
            vec![("MaxParticipantDuration", "599")],
            53123,
            "MaxParticipantDuration",
        ),
        (
            vec![("Type", "peer-to-peer"), ("AudioOnly", "true")],
            53124,
            "AudioOnly",
        ),
        (
            vec![("Type", "go"), ("RecordParticipantsOnConnect", "true")],
            53114,
            "RecordParticipantsOnConnect",
        ),
        (vec![("AudioOnly", "maybe")], 20001, "AudioOnly"),
        (vec![("VideoCodecs", "VP9")], 20001, "VideoCodecs"),
        (
            vec![("TranscriptionsConfiguration", "[1]")],
            20001,
            "TranscriptionsConfiguration",
        ),
    ];
    for (form, want, mention) in cases {
        let (status, body) = s.post("/v1/Rooms", &form).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, want),
            "{form:?} -> {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(mention),
            "{form:?}: message should mention {mention}: {body}"
        );
        assert_eq!(body["status"], 400);
        assert_eq!(
            body["more_info"],
            format!("https://www.twilio.com/docs/errors/{want}")
        );
    }
    let (status, body) = s
        .request(
            Method::POST,
            "/v1/Rooms",
            Some((&s.creds.api_key_sid.to_string(), &s.creds.api_key_secret)),
            Some(("application/json", "{}")),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, 20001),
        "JSON bodies are refused: {body}"
    );
}

#[tokio::test]
async fn rooms_are_fetched_by_sid_or_in_progress_name_and_completed_once() {
    let s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "My Room")]).await;
    let sid = room["sid"].as_str().unwrap().to_owned();
    let (status, by_name) = s.get("/v1/Rooms/My%20Room").await;
    assert_eq!(
        (status, by_name["sid"].as_str()),
        (StatusCode::OK, Some(sid.as_str()))
    );

    let (status, done) = s
        .post(&format!("/v1/Rooms/{sid}"), &[("Status", "completed")])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(done["status"], "completed");
    assert!(done["end_time"].is_string() && done["duration"].is_i64());

    let (status, body) = s.get("/v1/Rooms/My%20Room").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, 20404),
        "a completed room is not found by name"
    );
    assert_eq!(
        body["message"],
        "The requested resource /Rooms/My%20Room was not found"
    );
    let (status, body) = s.get(&format!("/v1/Rooms/{sid}")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("completed"))
    );

    let (status, body) = s
        .post(&format!("/v1/Rooms/{sid}"), &[("Status", "completed")])
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, 53112),
        "completing twice"
    );
    let other = s.create_room(&[("UniqueName", "My Room")]).await;
    assert_ne!(other["sid"], room["sid"], "the name is free again");
    for status_value in ["in-progress", "bogus", ""] {
        let (status, body) = s
            .post("/v1/Rooms/My%20Room", &[("Status", status_value)])
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 53112),
            "Status={status_value}"
        );
    }
    let (status, body) = s.get("/v1/Rooms/RM00000000000000000000000000000000").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, 20404));
}

#[tokio::test]
async fn room_lists_filter_and_page_with_absolute_urls() {
    let s = TestServer::start().await;
    let mut sids = Vec::new();
    for i in 0..5 {
        sids.push(
            s.create_room(&[("UniqueName", &format!("list-{i}"))]).await["sid"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let done = sids[0].clone();
    s.post(&format!("/v1/Rooms/{done}"), &[("Status", "completed")])
        .await;

    // Default: in-progress rooms only, newest first, across pages of two.
    let mut seen = Vec::new();
    let mut url = "/v1/Rooms?PageSize=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = s.get(&url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["meta"]["key"], "rooms");
        assert_eq!(page["meta"]["page"], pages);
        assert!(
            page["meta"]["first_page_url"]
                .as_str()
                .unwrap()
                .starts_with(&s.base)
        );
        seen.extend(
            page["rooms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["sid"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page["meta"]["next_page_url"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&format!(
                        "{}/v1/Rooms?PageSize=2&Page={pages}&PageToken=PA",
                        s.base
                    )),
                    "{next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    let expected: Vec<String> = sids[1..].iter().rev().cloned().collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 2);

    // Previous page of the second page is the first page.
    let (_, p1) = s.get("/v1/Rooms?PageSize=2").await;
    let (_, p2) = s.get(p1["meta"]["next_page_url"].as_str().unwrap()).await;
    let (_, back) = s
        .get(p2["meta"]["previous_page_url"].as_str().unwrap())
        .await;
    assert_eq!(back["rooms"], p1["rooms"]);

    let (_, completed) = s.get("/v1/Rooms?Status=completed").await;
    assert_eq!(completed["rooms"].as_array().unwrap().len(), 1);
    assert_eq!(
        completed["meta"]["url"],
        format!("{}/v1/Rooms?Status=completed&PageSize=50&Page=0", s.base)
    );
    let (_, named) = s.get("/v1/Rooms?UniqueName=list-3").await;
    assert_eq!(named["rooms"][0]["sid"].as_str(), Some(sids[3].as_str()));
    let (_, none) = s.get("/v1/Rooms?UniqueName=list-0").await;
    assert!(
        none["rooms"].as_array().unwrap().is_empty(),
        "UniqueName without Status looks at in-progress rooms"
    );
    let (_, future) = s.get("/v1/Rooms?DateCreatedAfter=2999-01-01").await;
    assert!(future["rooms"].as_array().unwrap().is_empty());
    let (_, past) = s
        .get("/v1/Rooms?DateCreatedBefore=2999-01-01T00%3A00%3A00Z")
        .await;
    assert_eq!(past["rooms"].as_array().unwrap().len(), 4);

    for (query, want) in [
        ("Status=open", 20001),
        ("DateCreatedAfter=yesterday", 20001),
        ("PageToken=PAxyz", 21481),
        ("PageSize=0", 20001),
        ("Page=3", 20001),
    ] {
        let (status, body) = s.get(&format!("/v1/Rooms?{query}")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, want),
            "{query}: {body}"
        );
    }
    let unknown = format!(
        "/v1/Rooms?Page=1&PageToken=PA{}",
        "RM".to_owned() + &"0".repeat(32)
    );
    let (status, body) = s.get(&unknown).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, 21481));
}

#[tokio::test]
async fn unknown_paths_methods_and_unbuilt_operations_answer_twilio_errors() {
    let s = TestServer::start().await;
    let (status, body) = s.get("/v1/Nothing/Here").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, 20404));
    let (status, body) = s
        .request(
            Method::DELETE,
            "/v1/Rooms",
            Some((&s.creds.api_key_sid.to_string(), &s.creds.api_key_secret)),
            None,
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, 20004)
    );
    let room = s.create_room(&[]).await;
    let sid = room["sid"].as_str().unwrap();
    for path in [&format!("/v1/Rooms/{sid}/Transcriptions")] {
        let (status, body) = s.get(path).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_IMPLEMENTED, 20501),
            "{path}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("docs/compatibility.md")
        );
    }
}

#[tokio::test]
async fn participants_list_fetch_and_kick_with_history() {
    let s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "team")]).await;
    let rsid = room["sid"].as_str().unwrap().to_owned();
    let (mut alice, connected) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some("team"),
        &[track("a1", "audio", "mic")],
    )
    .await;
    assert_eq!(connected["type"], "connected", "{connected}");
    let asid = connected["participant"]["sid"].as_str().unwrap().to_owned();
    let (bob, connected) =
        SignalClient::join(&s.ws, &s.token("bob", Some("team")), Some("team"), &[]).await;
    let bsid = connected["participant"]["sid"].as_str().unwrap().to_owned();

    let (_, list) = s.get("/v1/Rooms/team/Participants").await;
    let listed: Vec<&str> = list["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sid"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [bsid.as_str(), asid.as_str()],
        "connected participants, newest first"
    );
    assert_eq!(list["meta"]["key"], "participants");

    let (status, a) = s.get("/v1/Rooms/team/Participants/alice").await;
    assert_eq!(
        (status, a["sid"].as_str()),
        (StatusCode::OK, Some(asid.as_str()))
    );
    assert_eq!(
        (
            a["status"].as_str(),
            a["end_time"].clone(),
            a["duration"].clone()
        ),
        (Some("connected"), Value::Null, Value::Null)
    );
    assert_eq!(
        a["url"],
        format!("{}/v1/Rooms/{rsid}/Participants/{asid}", s.base)
    );
    assert_eq!(
        a["links"]["published_tracks"],
        format!(
            "{}/v1/Rooms/{rsid}/Participants/{asid}/PublishedTracks",
            s.base
        )
    );
    let (_, tracks) = s
        .get(&format!(
            "/v1/Rooms/{rsid}/Participants/{asid}/PublishedTracks"
        ))
        .await;
    assert_eq!(tracks["published_tracks"][0]["name"], "mic");
    assert_eq!(tracks["published_tracks"][0]["kind"], "audio");
    let (status, t) = s
        .get("/v1/Rooms/team/Participants/alice/PublishedTracks/mic")
        .await;
    assert_eq!(
        (status, t["participant_sid"].as_str()),
        (StatusCode::OK, Some(asid.as_str()))
    );

    // Kick alice by identity: 202, her client is told and disconnected, the record keeps her history.
    let (status, kicked) = s
        .post(
            "/v1/Rooms/team/Participants/alice",
            &[("Status", "disconnected")],
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(kicked["status"], "disconnected");
    assert!(kicked["end_time"].is_string() && kicked["duration"].is_i64());
    let told = alice.next_of("error").await.expect("alice is told");
    assert_eq!(told["code"], 53204);
    alice.leave().await;

    let (status, body) = s.get("/v1/Rooms/team/Participants/alice").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, 20404),
        "by identity: connected only"
    );
    let (status, body) = s.get(&format!("/v1/Rooms/team/Participants/{asid}")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("disconnected")),
        "by SID: any status"
    );
    let (_, gone) = s
        .get("/v1/Rooms/team/Participants?Status=disconnected")
        .await;
    assert_eq!(gone["participants"].as_array().unwrap().len(), 1);
    let (_, by_identity) = s
        .get("/v1/Rooms/team/Participants?Status=disconnected&Identity=alice")
        .await;
    assert_eq!(
        by_identity["participants"][0]["sid"].as_str(),
        Some(asid.as_str())
    );
    let (status, body) = s
        .post(
            "/v1/Rooms/team/Participants/bob",
            &[("Status", "connected")],
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, 53209));
    let (status, body) = s
        .post(
            &format!("/v1/Rooms/team/Participants/{asid}/Anonymize"),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["identity"].as_str()),
        (StatusCode::OK, Some(asid.as_str()))
    );
    assert!(body.get("links").is_none());
    let (status, body) = s
        .post(
            &format!("/v1/Rooms/team/Participants/{bsid}/Anonymize"),
            &[],
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, 53209),
        "connected participants are not anonymized"
    );

    // Completed room: the default list shows the disconnected participants.
    s.post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    let (_, after) = s.get(&format!("/v1/Rooms/{rsid}/Participants")).await;
    assert_eq!(after["participants"].as_array().unwrap().len(), 2);
    assert!(
        after["participants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "disconnected")
    );
    drop(bob);
}

#[tokio::test]
async fn participant_pages_stay_correct_while_people_join() {
    let s = TestServer::start().await;
    s.create_room(&[("UniqueName", "busy")]).await;
    let mut clients = Vec::new();
    for i in 0..5 {
        clients.push(
            SignalClient::join(&s.ws, &s.token(&format!("p{i}"), None), Some("busy"), &[])
                .await
                .0,
        );
    }
    let (_, first) = s.get("/v1/Rooms/busy/Participants?PageSize=2").await;
    for i in 5..8 {
        clients.push(
            SignalClient::join(&s.ws, &s.token(&format!("p{i}"), None), Some("busy"), &[])
                .await
                .0,
        );
    }
    let mut identities: Vec<String> = first["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["identity"].as_str().unwrap().to_owned())
        .collect();
    let mut next = first["meta"]["next_page_url"].as_str().map(str::to_owned);
    while let Some(url) = next {
        let (_, page) = s.get(&url).await;
        identities.extend(
            page["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["identity"].as_str().unwrap().to_owned()),
        );
        next = page["meta"]["next_page_url"].as_str().map(str::to_owned);
    }
    assert_eq!(
        identities,
        ["p4", "p3", "p2", "p1", "p0"],
        "newcomers do not shift or repeat later pages"
    );
}

#[tokio::test]
async fn history_survives_a_restart() {
    let s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "kept")]).await;
    let (client, connected) =
        SignalClient::join(&s.ws, &s.token("dana", None), Some("kept"), &[]).await;
    let psid = connected["participant"]["sid"].as_str().unwrap().to_owned();
    client.leave().await;
    let rsid = room["sid"].as_str().unwrap().to_owned();
    s.eventually("dana's leave is stored", || async {
        s.get(&format!("/v1/Rooms/{rsid}/Participants/{psid}"))
            .await
            .1["status"]
            == "disconnected"
    })
    .await;
    let s = s.restart().await;
    let (status, back) = s.get("/v1/Rooms/kept").await;
    assert_eq!(
        (status, back["sid"].as_str()),
        (StatusCode::OK, Some(rsid.as_str())),
        "rooms in progress stay in progress"
    );
    let (_, p) = s
        .get(&format!("/v1/Rooms/{rsid}/Participants/{psid}"))
        .await;
    assert_eq!(p["identity"], "dana");
    assert_eq!(p["status"], "disconnected");
}

#[tokio::test]
async fn subscribed_tracks_follow_subscribe_rules() {
    let s = TestServer::start().await;
    s.create_room(&[("UniqueName", "subs")]).await;
    let (_alice, am) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some("subs"),
        &[track("a1", "audio", "mic"), track("a2", "video", "cam")],
    )
    .await;
    let (_bob, bm) = SignalClient::join(&s.ws, &s.token("bob", None), Some("subs"), &[]).await;
    let bob = bm["participant"]["sid"].as_str().unwrap().to_owned();
    let base = format!("/v1/Rooms/subs/Participants/{bob}");

    let (status, list) = s.get(&format!("{base}/SubscribedTracks")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["meta"]["key"], "subscribed_tracks");
    let got = list["subscribed_tracks"].as_array().unwrap();
    assert_eq!(
        got.len(),
        2,
        "bob receives both of alice's tracks by default: {list}"
    );
    assert!(
        got.iter()
            .all(|t| t["publisher_sid"] == am["participant"]["sid"]
                && t["participant_sid"] == bob.as_str())
    );
    let cam_sid = got.iter().find(|t| t["kind"] == "video").unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, one) = s.get(&format!("{base}/SubscribedTracks/{cam_sid}")).await;
    assert_eq!(
        (status, one["name"].as_str()),
        (StatusCode::OK, Some("cam"))
    );
    let (status, _) = s.get(&format!("{base}/SubscribedTracks/cam")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "subscribed tracks are fetched by SID only"
    );

    let (status, rules) = s.get(&format!("{base}/SubscribeRules")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rules["rules"],
        serde_json::json!([{"type": "include", "all": true}])
    );
    let (status, rules) = s
        .post(
            &format!("{base}/SubscribeRules"),
            &[(
                "Rules",
                r#"[{"type":"include","all":true},{"type":"exclude","kind":"video"}]"#,
            )],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    assert_eq!(
        rules["rules"][1],
        serde_json::json!({"type": "exclude", "kind": "video"})
    );
    let (_, list) = s.get(&format!("{base}/SubscribedTracks")).await;
    let kinds: Vec<&str> = list["subscribed_tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["audio"], "the excluded video is no longer received");

    for bad in [
        "[]",
        "nope",
        r#"[{"type":"include","all":false}]"#,
        r#"[{"type":"maybe"}]"#,
    ] {
        let (status, body) = s
            .post(&format!("{base}/SubscribeRules"), &[("Rules", bad)])
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 53215),
            "{bad}: {body}"
        );
    }
    let (_, rules) = s.get(&format!("{base}/SubscribeRules")).await;
    assert_eq!(
        rules["rules"].as_array().unwrap().len(),
        2,
        "invalid rules leave the old ones"
    );
}
