//! Composition hooks and RecordingSettings / CompositionSettings over REST against the real
//! server: CRUD and errors, a hook composing a room when it ends (once), settings stored and
//! returned.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vroom_domain::track::TrackKind;
use vroom_store::Change;

use crate::common::TestServer;
use crate::compositions::{code, recording, settled};

#[tokio::test]
async fn composition_hooks_compose_rooms_that_end_and_settings_are_kept() {
    let s = TestServer::start().await;
    let (status, list) = s.get("/v1/CompositionHooks").await;
    assert_eq!(
        (status, list["meta"]["key"].clone()),
        (StatusCode::OK, json!("composition_hooks"))
    );
    for (form, param) in [
        (vec![("AudioSources", "*")], "FriendlyName"),
        (
            vec![
                ("FriendlyName", "x"),
                ("Resolution", "1x1"),
                ("AudioSources", "*"),
            ],
            "Resolution",
        ),
        (vec![("FriendlyName", "x")], "VideoLayout"),
        (
            vec![
                ("FriendlyName", "x"),
                ("AudioSources", "*"),
                ("Enabled", "sometimes"),
            ],
            "Enabled",
        ),
    ] {
        let (status, body) = s.post("/v1/CompositionHooks", &form).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 20001),
            "{form:?}: {body}"
        );
        assert!(body["message"].as_str().unwrap().contains(param), "{body}");
    }
    let (status, hook) = s
        .post(
            "/v1/CompositionHooks",
            &[
                ("FriendlyName", "every call"),
                ("AudioSources", "*"),
                ("Format", "webm"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let hsid = hook["sid"].as_str().unwrap().to_owned();
    assert!(hsid.starts_with("HK"), "{hook}");
    assert_eq!(
        (
            hook["enabled"].clone(),
            hook["format"].clone(),
            hook["date_updated"].clone()
        ),
        (json!(true), json!("webm"), Value::Null)
    );
    assert_eq!(
        hook["url"],
        format!("{}/v1/CompositionHooks/{hsid}", s.base)
    );
    let (status, dup) = s
        .post(
            "/v1/CompositionHooks",
            &[("FriendlyName", "every call"), ("AudioSources", "*")],
        )
        .await;
    assert_eq!(
        (status, code(&dup)),
        (StatusCode::BAD_REQUEST, 20001),
        "a taken name: {dup}"
    );
    let (status, off) = s
        .post(
            "/v1/CompositionHooks",
            &[
                ("FriendlyName", "off"),
                ("AudioSources", "*"),
                ("Enabled", "false"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, enabled) = s.get("/v1/CompositionHooks?Enabled=true").await;
    assert_eq!(enabled["composition_hooks"].as_array().unwrap().len(), 1);
    let (status, changed) = s
        .post(
            &format!("/v1/CompositionHooks/{}", off["sid"].as_str().unwrap()),
            &[("FriendlyName", "still off"), ("Trim", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (
            changed["trim"].clone(),
            changed["enabled"].clone(),
            changed["audio_sources"].clone()
        ),
        (json!(false), json!(false), json!(["*"]))
    );
    assert!(changed["date_updated"].is_string());
    let resp = reqwest::Client::new()
        .delete(format!(
            "{}/v1/CompositionHooks/{}",
            s.base,
            off["sid"].as_str().unwrap()
        ))
        .basic_auth(
            s.creds.api_key_sid.to_string(),
            Some(&s.creds.api_key_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, _) = s
        .get(&format!(
            "/v1/CompositionHooks/{}",
            off["sid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A room with a recording ends: the hook composes it, once.
    let room = s.create_room(&[("UniqueName", "hooked")]).await;
    let media = s.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    let rec = recording(
        &room,
        &media,
        1,
        TrackKind::Audio,
        s.now().millis() - 5_000,
        2,
    );
    let store = vroom_store::open(&s.db_url).await.unwrap();
    store
        .apply(&[Change::InsertRecording(rec)], &[])
        .await
        .unwrap();
    drop(store);
    let rsid = room["sid"].as_str().unwrap();
    s.post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    let mut made = Value::Null;
    for _ in 0..100 {
        let (_, list) = s.get(&format!("/v1/Compositions?RoomSid={rsid}")).await;
        if let Some(c) = list["compositions"].as_array().and_then(|l| l.first()) {
            made = c.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let csid = made["sid"]
        .as_str()
        .expect("the hook made a composition of the room")
        .to_owned();
    assert_eq!(made["format"], "webm");
    let done = settled(&s, &csid).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, list) = s.get(&format!("/v1/Compositions?RoomSid={rsid}")).await;
    assert_eq!(
        list["compositions"].as_array().unwrap().len(),
        1,
        "one composition per room and hook"
    );

    // Recording and composition settings: stored and returned, external storage not used.
    for path in [
        "/v1/RecordingSettings/Default",
        "/v1/CompositionSettings/Default",
    ] {
        let (status, unset) = s.get(path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (
                unset["friendly_name"].clone(),
                unset["aws_storage_enabled"].clone()
            ),
            (Value::Null, json!(false)),
            "{unset}"
        );
        assert_eq!(unset["url"], format!("{}{path}", s.base));
        let (status, body) = s.post(path, &[("AwsStorageEnabled", "true")]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 20001),
            "FriendlyName is required: {body}"
        );
        let (status, body) = s
            .post(
                path,
                &[("FriendlyName", "x"), ("AwsCredentialsSid", "CR12")],
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 20001),
            "{body}"
        );
        let cr = format!("CR{}", "0a".repeat(16));
        let (status, set) = s
            .post(
                path,
                &[
                    ("FriendlyName", "archive"),
                    ("AwsCredentialsSid", &cr),
                    ("AwsS3Url", "https://bucket.s3.amazonaws.com/x"),
                    ("AwsStorageEnabled", "true"),
                    ("EncryptionEnabled", "false"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!(
            (
                set["friendly_name"].clone(),
                set["aws_credentials_sid"].clone(),
                set["aws_storage_enabled"].clone()
            ),
            (json!("archive"), json!(cr), json!(true))
        );
        let (_, again) = s.get(path).await;
        assert_eq!(again, set);
    }
}
