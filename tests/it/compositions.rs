//! Compositions over REST against the real server and its composer (ffmpeg): Twilio's shapes and
//! errors, a grid composition of two participants' recordings (generated with ffmpeg, so no
//! browser is needed) read back with ffprobe and looked at frame by frame, and what a restart
//! makes of jobs a stop or crash left behind. (Of twilio-video.js's own media: the browser
//! scenario `recordings_on_connect`.)

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vroom_domain::composition::{Composition, CompositionSpec, CompositionStatus, MAX_ATTEMPTS};
use vroom_domain::recording::{Recording, RecordingCodec};
use vroom_domain::sid::{CompositionSid, ParticipantSid, RandomIds, RecordingSid, TrackSid};
use vroom_domain::time::Timestamp;
use vroom_domain::track::TrackKind;
use vroom_store::Change;

use crate::common::TestServer;

pub(crate) fn code(body: &Value) -> i64 {
    body["code"].as_i64().unwrap_or_default()
}

pub(crate) fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (scripts/setup-test-deps): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A completed room and its resource.
async fn completed_room(s: &TestServer, name: &str) -> Value {
    let room = s.create_room(&[("UniqueName", name)]).await;
    let (status, _) = s
        .post(
            &format!("/v1/Rooms/{}", room["sid"].as_str().unwrap()),
            &[("Status", "completed")],
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    room
}

/// A completed recording of `kind` in `room` by participant `n`, whose file ffmpeg makes: `secs`
/// of a bright test picture (video) or a tone (audio), starting at `offset_ms`.
pub(crate) fn recording(
    room: &Value,
    media: &Path,
    n: u8,
    kind: TrackKind,
    offset_ms: i64,
    secs: u32,
) -> Recording {
    let mut r = Recording::start(
        RecordingSid::generate(&RandomIds),
        room["account_sid"].as_str().unwrap().parse().unwrap(),
        room["sid"].as_str().unwrap().parse().unwrap(),
        ParticipantSid::from_bytes([n; 16]),
        TrackSid::generate(&RandomIds),
        format!("{}-{n}", kind.as_str()),
        kind,
        if kind == TrackKind::Audio {
            RecordingCodec::Opus
        } else {
            RecordingCodec::Vp8
        },
        Timestamp::from_millis(offset_ms),
    );
    let file = media.join(r.file_name());
    let t = secs.to_string();
    let source = if kind == TrackKind::Audio {
        format!(
            "sine=frequency={}:sample_rate=48000:duration={t}",
            300 + u32::from(n) * 200
        )
    } else {
        format!("testsrc=size=320x240:rate=15:duration={t}")
    };
    let codec = if kind == TrackKind::Audio {
        "libopus"
    } else {
        "libvpx"
    };
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &source,
            "-c",
            codec,
            "-f",
            "matroska",
            file.to_str().unwrap(),
        ],
    );
    let size = std::fs::metadata(&file).unwrap().len();
    r.complete(
        Timestamp::from_millis(offset_ms + i64::from(secs) * 1000),
        size,
        u64::from(secs) * 1000,
    );
    r
}

/// The server's media store folder, made if missing (test recordings are written into it).
pub(crate) fn media_folder(s: &TestServer) -> std::path::PathBuf {
    let media = s.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    media
}

/// Stores `recs` in the server's database, as the media server would on finishing them.
pub(crate) async fn store_recordings(s: &TestServer, recs: &[Recording]) {
    let store = vroom_store::open(&s.db_url).await.unwrap();
    let inserts: Vec<Change> = recs.iter().cloned().map(Change::InsertRecording).collect();
    store.apply(&inserts, &[]).await.unwrap();
}

/// Polls the composition until it leaves enqueued/processing (composing takes seconds of CPU, more
/// on a loaded machine).
pub(crate) async fn settled(s: &TestServer, sid: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let (_, c) = s.get(&format!("/v1/Compositions/{sid}")).await;
        if c["status"] != "enqueued" && c["status"] != "processing" {
            return c;
        }
        last = c;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("composition {sid} did not finish in 120 s: {last}");
}

#[tokio::test]
async fn compositions_rest_shapes_and_errors_look_like_twilio() {
    let s = TestServer::start().await;
    let (status, list) = s.get("/v1/Compositions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (list["compositions"].clone(), list["meta"]["key"].clone()),
        (json!([]), json!("compositions"))
    );
    let live = s.create_room(&[("UniqueName", "comp-live")]).await;
    let rsid = live["sid"].as_str().unwrap();
    let grid = r#"{"grid":{"video_sources":["*"]}}"#;
    for (form, param) in [
        (vec![("VideoLayout", grid)], "RoomSid"),
        (vec![("RoomSid", "RM123"), ("VideoLayout", grid)], "RoomSid"),
        (
            vec![
                ("RoomSid", "RM0123456789abcdef0123456789abcdef"),
                ("VideoLayout", grid),
            ],
            "RoomSid",
        ),
        (vec![("RoomSid", rsid)], "VideoLayout"),
        (
            vec![("RoomSid", rsid), ("VideoLayout", "{\"grid\":[]}")],
            "VideoLayout",
        ),
        (
            vec![
                ("RoomSid", rsid),
                (
                    "VideoLayout",
                    "{\"grid\":{\"max_columns\":99,\"video_sources\":[\"*\"]}}",
                ),
            ],
            "VideoLayout",
        ),
        (
            vec![
                ("RoomSid", rsid),
                ("AudioSources", "*"),
                ("Resolution", "4000x10"),
            ],
            "Resolution",
        ),
        (
            vec![("RoomSid", rsid), ("AudioSources", "*"), ("Format", "avi")],
            "Format",
        ),
        (
            vec![("RoomSid", rsid), ("AudioSources", "*"), ("Trim", "yes")],
            "Trim",
        ),
        (
            vec![
                ("RoomSid", rsid),
                ("AudioSources", "*"),
                ("StatusCallback", "not a url"),
            ],
            "StatusCallback",
        ),
    ] {
        let (status, body) = s.post("/v1/Compositions", &form).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 20001),
            "{form:?}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(param),
            "{form:?}: {body}"
        );
    }
    let (status, body) = s
        .post(
            "/v1/Compositions",
            &[
                ("RoomSid", rsid),
                ("AudioSources", "*"),
                ("StatusCallbackMethod", "PUT"),
            ],
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, 53110),
        "{body}"
    );
    let go = s
        .create_room(&[("UniqueName", "comp-go"), ("Type", "go")])
        .await;
    let (status, body) = s
        .post(
            "/v1/Compositions",
            &[
                ("RoomSid", go["sid"].as_str().unwrap()),
                ("AudioSources", "*"),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a go room has no recordings: {body}"
    );

    // A room in progress: the composition waits, enqueued, until the room ends.
    let (status, c) = s
        .post(
            "/v1/Compositions",
            &[
                ("RoomSid", rsid),
                ("VideoLayout", grid),
                ("AudioSources", "alice*"),
                ("AudioSourcesExcluded", "bob"),
                ("StatusCallback", "https://example.com/composition"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let csid = c["sid"].as_str().unwrap();
    assert!(csid.starts_with("CJ") && csid.len() == 34, "{c}");
    assert_eq!(c["status"], "enqueued");
    assert_eq!(c["room_sid"], rsid);
    assert_eq!(c["format"], "mp4");
    assert_eq!(c["resolution"], "640x480");
    assert_eq!(c["trim"], true);
    assert_eq!(c["audio_sources"], json!(["alice*"]));
    assert_eq!(c["audio_sources_excluded"], json!(["bob"]));
    assert_eq!(
        c["video_layout"],
        json!({"grid": {"video_sources": ["*"], "video_sources_excluded": [], "reuse": "show_oldest",
            "x_pos": 0, "y_pos": 0, "z_pos": 0, "width": 0, "height": 0, "max_columns": 0, "max_rows": 0,
            "cells_excluded": []}})
    );
    assert_eq!(
        (
            c["bitrate"].clone(),
            c["size"].clone(),
            c["duration"].clone()
        ),
        (json!(0), json!(0), json!(0))
    );
    assert_eq!(c["status_callback_method"], "POST");
    assert_eq!(c["date_completed"], Value::Null);
    assert_eq!(c["url"], format!("{}/v1/Compositions/{csid}", s.base));
    assert_eq!(
        c["links"]["media"],
        format!("{}/v1/Compositions/{csid}/Media", s.base)
    );
    let (_, fetched) = s.get(&format!("/v1/Compositions/{csid}")).await;
    assert_eq!(fetched, c);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, still) = s.get(&format!("/v1/Compositions/{csid}")).await;
    assert_eq!(
        still["status"], "enqueued",
        "nothing to compose while the room runs"
    );
    let (status, _) = s.get(&format!("/v1/Compositions/{csid}/Media")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no media before it is completed"
    );
    let resp = reqwest::Client::new()
        .delete(format!("{}/v1/Compositions/{csid}", s.base))
        .basic_auth(
            s.creds.api_key_sid.to_string(),
            Some(&s.creds.api_key_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "an enqueued composition is not deleted"
    );

    for (query, param) in [
        ("Status=done", "Status"),
        ("RoomSid=nope", "RoomSid"),
        ("DateCreatedAfter=x", "DateCreatedAfter"),
    ] {
        let (status, body) = s.get(&format!("/v1/Compositions?{query}")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, 20001),
            "{query}"
        );
        assert!(body["message"].as_str().unwrap().contains(param), "{body}");
    }
    let (_, list) = s
        .get(&format!("/v1/Compositions?RoomSid={rsid}&Status=enqueued"))
        .await;
    assert_eq!(list["compositions"].as_array().unwrap().len(), 1);
    let (_, none) = s.get("/v1/Compositions?Status=completed").await;
    assert_eq!(none["compositions"], json!([]));
    let unknown = "CJ0123456789abcdef0123456789abcdef";
    for path in [
        format!("/v1/Compositions/{unknown}"),
        format!("/v1/Compositions/{unknown}/Media"),
        "/v1/Compositions/nope".to_owned(),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, 20404),
            "{path}"
        );
    }

    // The room ends; with no recording to compose, the job fails, truthfully.
    s.post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    let done = settled(&s, csid).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["date_completed"].is_string(), "{done}");
}

/// The frame at `at_secs` of `file`, as 64×48 grey pixels.
fn frame(file: &Path, at_secs: f64) -> Vec<u8> {
    let at = format!("{at_secs:.2}");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-ss",
            &at,
            "-i",
            file.to_str().unwrap(),
            "-frames:v",
            "1",
            "-vf",
            "scale=64:48",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ],
    )
}

/// The mean brightness of columns `cols` of a 64×48 grey frame.
fn brightness(frame: &[u8], cols: std::ops::Range<usize>) -> f64 {
    area(frame, cols, 0..48)
}

/// The mean brightness of columns `cols` of rows `rows` of a 64×48 grey frame.
fn area(frame: &[u8], cols: std::ops::Range<usize>, rows: std::ops::Range<usize>) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for row in frame.chunks(64).skip(rows.start).take(rows.len()) {
        for &p in &row[cols.clone()] {
            sum += u64::from(p);
            n += 1;
        }
    }
    sum as f64 / n.max(1) as f64
}

#[tokio::test]
async fn a_grid_composition_shows_both_participants_for_the_whole_call() {
    let s = TestServer::start().await;
    let room = completed_room(&s, "comp-grid").await;
    let media = media_folder(&s);
    // Alice for 6 s; bob joins 1 s later for 5 s.
    let t0 = s.now().millis() - 60_000;
    let recs = [
        recording(&room, &media, 1, TrackKind::Audio, t0, 6),
        recording(&room, &media, 1, TrackKind::Video, t0, 6),
        recording(&room, &media, 2, TrackKind::Audio, t0 + 1000, 5),
        recording(&room, &media, 2, TrackKind::Video, t0 + 1000, 5),
    ];
    store_recordings(&s, &recs).await;

    let rsid = room["sid"].as_str().unwrap();
    let (status, c) = s
        .post(
            "/v1/Compositions",
            &[
                ("RoomSid", rsid),
                ("VideoLayout", r#"{"grid":{"video_sources":["*"]}}"#),
                ("AudioSources", "*"),
                ("Format", "mp4"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let csid = c["sid"].as_str().unwrap();
    let done = settled(&s, csid).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["duration"], 6,
        "alice's 6 s, trimmed to the media: {done}"
    );
    assert!(done["size"].as_u64().unwrap() > 1000, "{done}");
    assert!(done["bitrate"].as_u64().unwrap() > 0, "{done}");
    assert!(done["date_completed"].is_string(), "{done}");

    // /Media: 302 to a signed URL serving the MP4.
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/v1/Compositions/{csid}/Media", s.base))
        .basic_auth(
            s.creds.api_key_sid.to_string(),
            Some(&s.creds.api_key_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["redirect_to"], location.as_str());
    let file = reqwest::get(&location).await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "video/mp4");
    let bytes = file.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, done["size"].as_u64().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("composed.mp4");
    std::fs::write(&path, &bytes).unwrap();
    let probe: Value = serde_json::from_slice(&run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
            path.to_str().unwrap(),
        ],
    ))
    .unwrap();
    let codecs: Vec<&str> = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect();
    assert_eq!(codecs, ["h264", "aac"], "{probe}");
    let video = &probe["streams"][0];
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(640), Some(480))
    );
    let secs: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((secs - 6.0).abs() <= 1.0, "ffprobe reads {secs} s");
    // Before bob joins, alice alone fills the frame: every eighth of its width is lit, top
    // and bottom rows too (her 4:3 picture in the 4:3 frame).
    let start = frame(&path, 0.3);
    for band in 0..8 {
        let lit = brightness(&start, band * 8..band * 8 + 8);
        assert!(lit > 35.0, "alice alone, columns {band}/8 lit: {lit:.0}");
    }
    let top = area(&start, 0..64, 0..10);
    assert!(top > 35.0, "alice alone reaches the top: {top:.0}");
    // The middle: both participants, side by side, each 4:3 picture in a half-width cell, so
    // letterboxed: lit halves, black top rows.
    let middle = frame(&path, secs / 2.0);
    let (left, right) = (brightness(&middle, 0..32), brightness(&middle, 32..64));
    assert!(
        left > 35.0 && right > 35.0,
        "two non-black halves: {left:.0} and {right:.0}"
    );
    let top = area(&middle, 0..64, 0..10);
    assert!(top < 10.0, "side by side, letterboxed: {top:.0}");

    // DELETE removes the media; the record stays, deleted.
    let resp = reqwest::Client::new()
        .delete(format!("{}/v1/Compositions/{csid}", s.base))
        .basic_auth(
            s.creds.api_key_sid.to_string(),
            Some(&s.creds.api_key_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(!media.join(format!("{csid}.mp4")).exists());
    let (_, gone) = s.get(&format!("/v1/Compositions/{csid}")).await;
    assert_eq!(gone["status"], "deleted");
    assert!(gone["date_deleted"].is_string());
    let (status, _) = s.get(&format!("/v1/Compositions/{csid}/Media")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_restart_starts_interrupted_jobs_over_or_fails_them_truthfully() {
    let mut s = TestServer::start().await;
    let room = completed_room(&s, "comp-restart").await;
    let media = media_folder(&s);
    let rec = recording(
        &room,
        &media,
        1,
        TrackKind::Audio,
        s.now().millis() - 10_000,
        2,
    );
    s.pause().await;
    // What a crash mid-composition leaves: a job processing under this node's claim (its first
    // attempt), one started as often as it may be, and a half-written file.
    let job = |attempts: u32| {
        let mut c = Composition::enqueue(
            CompositionSid::generate(&RandomIds),
            rec.account_sid,
            rec.room_sid,
            CompositionSpec {
                audio_sources: vec!["*".into()],
                ..CompositionSpec::default()
            },
            Timestamp::from_millis(rec.offset),
        );
        c.attempts = attempts;
        c.start();
        c
    };
    let (interrupted, hopeless) = (job(1), job(MAX_ATTEMPTS));
    let store = vroom_store::open(&s.db_url).await.unwrap();
    store
        .apply(
            &[
                Change::InsertRecording(rec),
                Change::InsertComposition(interrupted.clone()),
                Change::InsertComposition(hopeless.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    let far = Timestamp::from_millis(i64::MAX / 2);
    let node = s.node_id();
    for c in [&interrupted, &hopeless] {
        // Claimed by this node far into the future, as a run that died with it would leave it.
        let claimed = store
            .claim_composition(&node, Timestamp::from_millis(i64::MAX / 4), far)
            .await
            .unwrap();
        assert!(claimed.is_some(), "{}", c.sid);
    }
    drop(store);
    std::fs::write(
        media.join(format!("{}.part", interrupted.file_name())),
        b"half",
    )
    .unwrap();

    let s = s.resume().await;
    let done = settled(&s, &interrupted.sid.to_string()).await;
    assert_eq!(
        done["status"], "completed",
        "started over after the restart: {done}"
    );
    assert_eq!(done["duration"], 2, "{done}");
    let failed = settled(&s, &hopeless.sid.to_string()).await;
    assert_eq!(failed["status"], "failed", "out of attempts: {failed}");
    assert!(
        !media
            .join(format!("{}.part", interrupted.file_name()))
            .exists(),
        "leftovers removed"
    );
    let store = vroom_store::open(&s.db_url).await.unwrap();
    let c = store.composition(hopeless.sid).await.unwrap().unwrap();
    assert_eq!(c.status, CompositionStatus::Failed);
    assert!(c.error.unwrap().contains("without finishing"));
}

/// The composition's media, downloaded through `/Media` (its redirect followed) into `dir`.
async fn download(s: &TestServer, csid: &str, dir: &Path) -> std::path::PathBuf {
    let bytes = reqwest::Client::new()
        .get(format!("{}/v1/Compositions/{csid}/Media", s.base))
        .basic_auth(
            s.creds.api_key_sid.to_string(),
            Some(&s.creds.api_key_secret),
        )
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let path = dir.join(format!("{csid}.mp4"));
    std::fs::write(&path, &bytes).unwrap();
    path
}

#[tokio::test]
async fn trim_cuts_out_the_time_nobody_published() {
    let s = TestServer::start().await;
    let room = completed_room(&s, "comp-trim").await;
    let media = media_folder(&s);
    // Alice publishes for 3 s, then nobody for 10 s, then bob for 3 s.
    let t0 = s.now().millis() - 60_000;
    let recs = [
        recording(&room, &media, 1, TrackKind::Video, t0, 3),
        recording(&room, &media, 2, TrackKind::Video, t0 + 13_000, 3),
        recording(&room, &media, 2, TrackKind::Audio, t0 + 13_000, 3),
    ];
    store_recordings(&s, &recs).await;
    let rsid = room["sid"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Trim=false composes the room's own time, which here is only the moment between its create
    // and its completion: the layout unit tests cover it.
    let (status, c) = s
        .post(
            "/v1/Compositions",
            &[
                ("RoomSid", rsid),
                ("VideoLayout", r#"{"grid":{"video_sources":["*"]}}"#),
                ("AudioSources", "*"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let csid = c["sid"].as_str().unwrap();
    let done = settled(&s, csid).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["duration"], 6,
        "3 s of alice and 3 s of bob, the gap cut out: {done}"
    );
    let file = download(&s, csid, dir.path()).await;
    // 1.5 s in: alice; 4.5 s in: bob (who started 13 s into the call), not the black of the gap.
    for at in [1.5, 4.5] {
        let lit = brightness(&frame(&file, at), 0..64);
        assert!(lit > 35.0, "someone is shown {at} s in: {lit:.0}");
    }
}

#[tokio::test]
async fn show_oldest_shows_a_source_that_waited_for_a_cell_live() {
    let s = TestServer::start().await;
    let room = completed_room(&s, "comp-oldest").await;
    let media = media_folder(&s);
    // A one-cell grid. Alice for 3 s; bob from 1 s to 6 s, so he waits for her cell until 3 s.
    let t0 = s.now().millis() - 60_000;
    let bob = recording(&room, &media, 2, TrackKind::Video, t0 + 1000, 5);
    // Bob's picture is dark for its first 2 s and bright after: shown live from 3 s (2 s into
    // his media) it is bright; replayed from his start it would be dark.
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "nullsrc=s=320x240:r=15:d=5,geq=lum='if(lt(T,2),30,220)':cb=128:cr=128",
            "-c",
            "libvpx",
            "-f",
            "matroska",
            media.join(bob.file_name()).to_str().unwrap(),
        ],
    );
    let recs = [recording(&room, &media, 1, TrackKind::Video, t0, 3), bob];
    store_recordings(&s, &recs).await;
    let rsid = room["sid"].as_str().unwrap();
    let layout =
        r#"{"one":{"video_sources":["*"],"max_columns":1,"max_rows":1,"reuse":"show_oldest"}}"#;
    let (status, c) = s
        .post(
            "/v1/Compositions",
            &[("RoomSid", rsid), ("VideoLayout", layout)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let csid = c["sid"].as_str().unwrap();
    let done = settled(&s, csid).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["duration"], 6, "{done}");
    let dir = tempfile::tempdir().unwrap();
    let file = download(&s, csid, dir.path()).await;
    let lit = brightness(&frame(&file, 3.5), 0..64);
    assert!(lit > 150.0, "bob live 2.5 s into his media: {lit:.0}");
    let lit = brightness(&frame(&file, 5.5), 0..64);
    assert!(lit > 150.0, "bob live to his end: {lit:.0}");
}
