//! Status callbacks of recordings and compositions, end to end: the real server, its composer
//! (ffmpeg) and its outbox, and a real receiver (tests/webhooks/receiver.py) validating every
//! signature with Twilio's RequestValidator.

use reqwest::StatusCode;
use serde_json::Value;
use vroom_domain::track::TrackKind;
use vroom_testkit::SignalClient;

use crate::common::TestServer;
use crate::compositions::{media_folder, recording, store_recordings};
use crate::webhooks::Receiver;

fn event(r: &Value) -> &str {
    r["params"]["StatusCallbackEvent"]
        .as_str()
        .unwrap_or_default()
}

/// Callbacks answered with 200 until one is `last` (at most 40).
async fn until(rx: &mut Receiver, last: &str) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < 40 {
        let (ok, _) = rx.delivered(1).await;
        let done = event(&ok[0]) == last;
        got.extend(ok);
        if done {
            return got;
        }
    }
    panic!("no {last} among {got:?}");
}

fn param<'a>(r: &'a Value, name: &str) -> &'a str {
    r["params"][name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} missing: {r}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn composition_callbacks_are_signed_and_carry_twilios_parameters() {
    let s = TestServer::start().await;
    let mut rx = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    let room = s.create_room(&[("UniqueName", "comp-callbacks")]).await;
    let rsid = room["sid"].as_str().unwrap().to_owned();
    let (status, _) = s
        .post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let media = media_folder(&s);
    let t0 = s.now().millis() - 60_000;
    let recs = [
        recording(&room, &media, 1, TrackKind::Audio, t0, 4),
        recording(&room, &media, 1, TrackKind::Video, t0, 4),
    ];
    store_recordings(&s, &recs).await;

    let url = rx.url("/composition");
    let (status, c) = s
        .post(
            "/v1/Compositions",
            &[
                ("RoomSid", rsid.as_str()),
                ("VideoLayout", r#"{"grid":{"video_sources":["*"]}}"#),
                ("AudioSources", "*"),
                ("StatusCallback", url.as_str()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let csid = c["sid"].as_str().unwrap().to_owned();
    let got = until(&mut rx, "composition-available").await;
    let names: Vec<&str> = got.iter().map(event).collect();
    assert_eq!(
        names.first().copied(),
        Some("composition-enqueued"),
        "{names:?}"
    );
    assert_eq!(
        names.get(1).copied(),
        Some("composition-started"),
        "{names:?}"
    );
    assert!(
        names[2..names.len() - 1]
            .iter()
            .all(|n| *n == "composition-progress"),
        "only progress between started and available: {names:?}"
    );
    let done: Value = s.get(&format!("/v1/Compositions/{csid}")).await.1;
    assert_eq!(done["status"], "completed", "{done}");
    for r in &got {
        assert_eq!(
            r["valid"], true,
            "signed with the account's auth token: {r}"
        );
        assert_eq!(r["method"], "POST");
        assert_eq!(r["path"], "/composition");
        assert_eq!(param(r, "AccountSid"), s.creds.account_sid.to_string());
        assert_eq!(param(r, "RoomSid"), rsid);
        assert_eq!(param(r, "CompositionSid"), csid);
        assert_eq!(
            param(r, "CompositionUri"),
            format!("/v1/Compositions/{csid}")
        );
        assert!(param(r, "Timestamp").ends_with('Z'), "{r}");
    }
    for p in got.iter().filter(|r| event(r) == "composition-progress") {
        let pct: u32 = param(p, "PercentageDone").parse().unwrap();
        assert!(pct.is_multiple_of(10) && (10..100).contains(&pct), "{p}");
        let _: u64 = param(p, "SecondsRemaining").parse().unwrap();
    }
    let available = got.last().unwrap();
    assert_eq!(
        param(available, "MediaUri"),
        format!("/v1/Compositions/{csid}/Media")
    );
    assert_eq!(param(available, "Duration"), done["duration"].to_string());
    assert_eq!(param(available, "Size"), done["size"].to_string());

    // A composition of sources the room does not have fails, and says why.
    let (status, c) = s
        .post(
            "/v1/Compositions",
            &[
                ("RoomSid", rsid.as_str()),
                ("AudioSources", "nobody*"),
                ("StatusCallback", url.as_str()),
                ("StatusCallbackMethod", "GET"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let got = until(&mut rx, "composition-failed").await;
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        [
            "composition-enqueued",
            "composition-started",
            "composition-failed"
        ]
    );
    let failed = got.last().unwrap();
    assert_eq!(failed["method"], "GET");
    assert_eq!(failed["valid"], true, "{failed}");
    assert_eq!(param(failed, "CompositionSid"), c["sid"].as_str().unwrap());
    assert!(
        param(failed, "ErrorMessage").contains("no completed recording"),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recording_callbacks_go_to_the_rooms_callback() {
    let s = TestServer::start().await;
    let mut rx = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    let room = s
        .create_room(&[
            ("UniqueName", "rec-callbacks"),
            ("RecordParticipantsOnConnect", "true"),
            ("StatusCallback", &rx.url("/room")),
        ])
        .await;
    let rsid = room["sid"].as_str().unwrap().to_owned();
    let mic = vroom_testkit::track("m1", "audio", "mic");
    let (_alice, _) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some("rec-callbacks"),
        std::slice::from_ref(&mic),
    )
    .await;
    let got = until(&mut rx, "recording-started").await;
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        [
            "room-created",
            "participant-connected",
            "track-added",
            "recording-started"
        ]
    );
    let started = got.last().unwrap();
    let (_, list) = s.get(&format!("/v1/Rooms/{rsid}/Recordings")).await;
    let rec = &list["recordings"][0];
    let rtsid = rec["sid"].as_str().unwrap().to_owned();
    // This client sends no media: the recording ends failed when the room does.
    let (status, _) = s
        .post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mut settled = None;
    for _ in 0..20 {
        let r = rx.delivered(1).await.0.remove(0);
        if event(&r).starts_with("recording-") {
            settled = Some(r);
            break;
        }
    }
    let settled = settled.expect("a recording-completed or recording-failed callback");
    let (_, now) = s.get(&format!("/v1/Recordings/{rtsid}")).await;
    assert_eq!(
        event(&settled),
        format!("recording-{}", now["status"].as_str().unwrap()),
        "the callback says what REST says: {now}"
    );
    for r in [started, &settled] {
        assert_eq!(r["valid"], true, "{r}");
        assert_eq!(r["path"], "/room");
        assert_eq!(param(r, "RoomSid"), rsid);
        assert_eq!(param(r, "RoomName"), "rec-callbacks");
        assert_eq!(param(r, "RoomType"), "group");
        assert_eq!(param(r, "RecordingSid"), rtsid);
        assert_eq!(param(r, "RecordingUri"), format!("/v1/Recordings/{rtsid}"));
        assert_eq!(
            param(r, "ParticipantSid"),
            rec["grouping_sids"]["participant_sid"]
        );
        assert_eq!(param(r, "ParticipantIdentity"), "alice");
        assert_eq!(param(r, "SourceSid"), rec["source_sid"]);
        assert_eq!(param(r, "TrackName"), "mic");
        assert_eq!(param(r, "Type"), "audio");
        assert_eq!(param(r, "Container"), "mka");
        assert_eq!(param(r, "Codec"), "OPUS");
        assert_eq!(
            param(r, "OffsetFromTwilioVideoEpoch"),
            rec["offset"].to_string()
        );
    }
    if event(&settled) == "recording-failed" {
        assert!(!param(&settled, "FailedOperation").is_empty());
    } else {
        assert_eq!(
            param(&settled, "MediaUri"),
            format!("/v1/Recordings/{rtsid}/Media")
        );
        assert_eq!(param(&settled, "Size"), now["size"].to_string());
    }
}
