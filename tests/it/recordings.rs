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

/// A completed recording's media through its signed URL, fetched the ways players and download
/// tools fetch it: whole, by byte range (seeking, resuming), past the end, and HEAD.
#[tokio::test]
async fn media_urls_answer_range_requests_like_a_file_server() {
    let mut s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "rec-range")]).await;
    s.pause().await;
    // Bytes that differ at every offset a range could start on, so a wrong slice shows.
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut done = processing(&room, 3, TrackKind::Video);
    done.complete(
        vroom_domain::time::Timestamp::from_secs(1_800_000_010),
        content.len() as u64,
        10_000,
    );
    let media = s.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join(done.file_name()), &content).unwrap();
    let store = vroom_store::open(&s.db_url).await.unwrap();
    store
        .apply(&[Change::InsertRecording(done.clone())], &[])
        .await
        .unwrap();
    drop(store);
    let s = s.resume().await;

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http
        .get(format!("{}/v1/Recordings/{}/Media", s.base, done.sid))
        .basic_auth(
            s.creds.api_key_sid.to_string(),
            Some(&s.creds.api_key_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let url = resp.headers()["location"].to_str().unwrap().to_owned();

    let whole = http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/x-matroska");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert!(whole.headers().contains_key("last-modified"));
    assert_eq!(whole.bytes().await.unwrap().as_ref(), content.as_slice());

    for (range, from, to) in [
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=99990-", 99_990, 99_999),
        ("bytes=-10", 99_990, 99_999),
        ("bytes=0-0", 0, 0),
        ("bytes=50000-200000", 50_000, 99_999),
    ] {
        let part = http.get(&url).header("Range", range).send().await.unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes {from}-{to}/100000").as_str(),
            "{range}"
        );
        assert_eq!(
            part.bytes().await.unwrap().as_ref(),
            &content[from..=to],
            "{range}"
        );
    }
    let past = http
        .get(&url)
        .header("Range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers()["content-range"], "bytes */100000");

    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "100000");
    assert!(head.bytes().await.unwrap().is_empty());

    // Ranges do not open the door to a forged or another file's URL.
    let forged = url.replace(&done.sid.to_string(), "RT0123456789abcdef0123456789abcdef");
    let resp = http
        .get(&forged)
        .header("Range", "bytes=0-10")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
