//! Recordings over REST: Twilio's shapes and errors, RecordingRules, and what a restart makes of
//! recordings a stop or crash left processing. (The media itself: the `recordings_*` browser
//! scenarios, the SFU's tests/recording.rs, and recording_crash.rs: a SIGKILL while real media
//! is recorded.)

use reqwest::StatusCode;
use serde_json::{Value, json};
use vroom_domain::recording::{Recording, RecordingCodec};
use vroom_domain::sid::{ParticipantSid, RandomIds, RecordingSid, TrackSid};
use vroom_domain::track::TrackKind;
use vroom_store::Change;

use crate::common::TestServer;

fn code(body: &Value) -> i64 {
    body["code"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn recordings_lists_fetches_and_errors_look_like_twilio() {
    let s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "rec-rest")]).await;
    let rsid = room["sid"].as_str().unwrap();

    let (status, list) = s.get("/v1/Recordings").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["recordings"], json!([]));
    assert_eq!(list["meta"]["key"], "recordings");
    let (status, list) = s.get(&format!("/v1/Rooms/{rsid}/Recordings")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["meta"]["key"], "recordings");

    let unknown = "RT0123456789abcdef0123456789abcdef";
    for path in [
        format!("/v1/Recordings/{unknown}"),
        format!("/v1/Recordings/{unknown}/Media"),
        "/v1/Recordings/nope".to_owned(),
        format!("/v1/Rooms/{rsid}/Recordings/{unknown}"),
        format!("/v1/Rooms/{rsid}/Recordings/{unknown}/Media"),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, 20404),
            "{path}"
        );
    }
    for (query, name) in [
        ("Status=done", "Status"),
        ("MediaType=data", "MediaType"),
        ("SourceSid=MT12", "SourceSid"),
        ("GroupingSid=nope", "GroupingSid"),
        ("DateCreatedAfter=yesterday", "DateCreatedAfter"),
    ] {
        let (status, body) = s.get(&format!("/v1/Recordings?{query}")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 20001),
            "{query}"
        );
        assert!(body["message"].as_str().unwrap().contains(name), "{body}");
    }

    // RecordingRules: what is in force, replaced by POST, checked like Twilio.
    let (status, rules) = s.get(&format!("/v1/Rooms/{rsid}/RecordingRules")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rules["rules"], json!([{"type": "exclude", "all": true}]));
    let path = format!("/v1/Rooms/{rsid}/RecordingRules");
    let (status, set) = s
        .post(
            &path,
            &[(
                "Rules",
                r#"{"rules":[{"type":"include","publisher":"alice"}]}"#,
            )],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(
        set["rules"],
        json!([{"type": "include", "publisher": "alice"}])
    );
    assert_eq!(set["room_sid"], rsid);
    let (_, again) = s.get(&path).await;
    assert_eq!(again["rules"], set["rules"]);
    for rules in ["[]", "{nope", r#"[{"type":"include","kind":"data"}]"#] {
        let (status, body) = s.post(&path, &[("Rules", rules)]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 53120),
            "{rules}"
        );
    }
    let (status, body) = s.post(&path, &[]).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, 53120));
    let (status, _) = s
        .post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = s
        .post(&path, &[("Rules", r#"[{"type":"include","all":true}]"#)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        code(&body),
        53118,
        "a completed room's rules cannot change: {body}"
    );
}

fn processing(room: &Value, n: u8, kind: TrackKind) -> Recording {
    Recording::start(
        RecordingSid::generate(&RandomIds),
        room["account_sid"].as_str().unwrap().parse().unwrap(),
        room["sid"].as_str().unwrap().parse().unwrap(),
        ParticipantSid::from_bytes([n; 16]),
        TrackSid::from_bytes([n; 16]),
        format!("track-{n}"),
        kind,
        if kind == TrackKind::Audio {
            RecordingCodec::Opus
        } else {
            RecordingCodec::Vp8
        },
        vroom_domain::time::Timestamp::from_secs(1_800_000_000),
    )
}

#[tokio::test]
async fn a_restart_settles_recordings_left_processing_and_deleting_removes_media() {
    let mut s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "rec-crash")]).await;
    s.pause().await;
    // What a crash leaves: recordings still processing, one without a file, one whose file is not
    // a recording at all.
    let store = vroom_store::open(&s.db_url).await.unwrap();
    let (lost, junk) = (
        processing(&room, 1, TrackKind::Audio),
        processing(&room, 2, TrackKind::Video),
    );
    store
        .apply(
            &[
                Change::InsertRecording(lost.clone()),
                Change::InsertRecording(junk.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    drop(store);
    let media = s.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join(junk.file_name()), b"half a header").unwrap();

    let s = s.resume().await;
    for r in [&lost, &junk] {
        let (status, body) = s.get(&format!("/v1/Recordings/{}", r.sid)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "failed", "never left processing: {body}");
        assert_eq!(body["type"], r.kind.as_str());
        assert_eq!(body["container_format"], r.container());
        assert_eq!(body["grouping_sids"]["room_sid"], room["sid"]);
        let (status, _) = s.get(&format!("/v1/Recordings/{}/Media", r.sid)).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a failed recording has no media"
        );
    }
    // DELETE removes what media there is and marks the recording deleted.
    let resp = reqwest::Client::new()
        .delete(format!("{}/v1/Recordings/{}", s.base, junk.sid))
        .basic_auth(
            s.creds.api_key_sid.to_string(),
            Some(&s.creds.api_key_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(!s.media_dir().join(junk.file_name()).exists());
    let (_, body) = s.get(&format!("/v1/Recordings/{}", junk.sid)).await;
    assert_eq!(body["status"], "deleted");
    let (_, list) = s.get("/v1/Recordings?Status=deleted").await;
    assert_eq!(list["recordings"].as_array().unwrap().len(), 1);
    // A signed URL is needed for media; a made-up one is refused.
    let resp = reqwest::get(format!(
        "{}/media/{}?Expires=99999999999&Signature=00",
        s.base,
        lost.file_name()
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
