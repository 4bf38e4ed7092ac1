//! A SIGKILL while vroom records real media. Two publishers — vroom-bench's str0m client, over
//! real UDP, ICE and DTLS-SRTP — send Opus and VP8 that ffmpeg encoded (a tone, a test pattern, a
//! keyframe a second) into a room with `RecordParticipantsOnConnect=true`. Once every recording's
//! file holds a few seconds of media, the vroom process is killed with SIGKILL and started again on
//! the same data folder and database. From its first answer on, every recording is completed
//! (none stays processing: each had media) and at least as long as its file was at the kill (the
//! cluster open in memory is all that may be lost), and its `/Media` download is what ffprobe
//! reads as Opus- or VP8-in-Matroska of that duration, and what ffmpeg decodes without an error.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use serde_json::Value;
use vroom_bench::clip::Clip;
use vroom_bench::peer::{Received, Synthetic};
use vroom_store::StoredCredentials;
use vroom_store::postgres::scratch::ScratchDatabase;

use crate::common::{free_port, spawn_vroom_with, test_credentials, token_for};

/// Media every file must hold before the kill.
const BEFORE_KILL_MS: u64 = 4000;

/// A REST client of the process under test.
pub(crate) struct Rest {
    pub base: String,
    pub user: String,
    pub pass: String,
    pub http: reqwest::Client,
}

impl Rest {
    /// The API key of `creds` against the vroom on `port`.
    pub fn on(port: u16, creds: &StoredCredentials) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            user: creds.api_key_sid.to_string(),
            pass: creds.api_key_secret.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// Creates a room with `params` and returns its SID.
    pub async fn create_room(&self, params: &[(&str, &str)]) -> String {
        let created = self
            .call(
                self.http
                    .post(format!("{}/v1/Rooms", self.base))
                    .form(params),
            )
            .await;
        assert_eq!(created.status(), 201);
        let room: Value = created.json().await.unwrap();
        room["sid"].as_str().unwrap().to_owned()
    }

    pub async fn call(&self, req: reqwest::RequestBuilder) -> reqwest::Response {
        req.basic_auth(&self.user, Some(&self.pass))
            .send()
            .await
            .expect("vroom answers")
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .call(self.http.get(format!("{}{path}", self.base)))
            .await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn recordings(&self, room: &str) -> Vec<Value> {
        let list = self.get(&format!("/v1/Rooms/{room}/Recordings")).await;
        list["recordings"].as_array().cloned().unwrap_or_default()
    }
}

/// (format, codec, duration in seconds) of a media file, as ffprobe reads it.
pub(crate) fn probe(path: &Path) -> (String, String, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs (scripts/setup-test-deps installs ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["format"]["format_name"].as_str().unwrap_or("").to_owned(),
        v["streams"][0]["codec_name"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        v["format"]["duration"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap(),
    )
}

/// What ffmpeg says decoding the whole of `path` (nothing when it decodes cleanly).
pub(crate) fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let mut errors = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        errors.push_str(&format!(" (exit {})", out.status));
    }
    errors
}

/// Milliseconds of media in the whole clusters of `file` now: what a crash at this moment keeps
/// (read from a copy, which `recover_recording` may cut).
pub(crate) fn media_ms(file: &Path, scratch: &Path) -> u64 {
    if std::fs::copy(file, scratch).is_err() {
        return 0;
    }
    vroom_sfu::recover_recording(scratch)
        .ok()
        .flatten()
        .map_or(0, |(_, ms)| ms)
}

async fn kill_while_recording(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let media = data.join("media");
    let clip =
        Arc::new(Clip::make(&dir.path().join("clip"), 4, 400).expect("ffmpeg encodes a clip"));
    let creds = test_credentials();
    let port = free_port();
    let args = ["--data-dir", data.to_str().unwrap()];
    let mut vroom = spawn_vroom_with(port, db, &creds, &args).await;
    let rest = Rest::on(port, &creds);
    let room = rest
        .create_room(&[
            ("UniqueName", "kill-rec"),
            ("RecordParticipantsOnConnect", "true"),
        ])
        .await;

    let ws = format!("ws://127.0.0.1:{port}/signaling");
    let synthetic = Synthetic {
        video_bytes: 0,
        audio_bytes: 0,
        simulcast: false,
        clip: Some(Arc::clone(&clip)),
    };
    let mut peers = tokio::task::JoinSet::new();
    // From before the first publisher starts: alice publishes while bob is still joining, which
    // on a loaded machine takes seconds, and her media counts.
    let started = Instant::now();
    for identity in ["alice", "bob"] {
        let (peer, side) = vroom_bench::vroom::join_with(
            &ws,
            &token_for(&creds, identity),
            "kill-rec",
            identity,
            true,
            false,
            Arc::new(Received::default()),
        )
        .await
        .expect("a publisher joins");
        peers.spawn(peer.run(side, synthetic.clone(), Arc::new(AtomicU64::new(0)), 2));
    }

    // Two tracks each, recorded from their first media on.
    let recordings = loop {
        let recs = rest.recordings(&room).await;
        if recs.len() == 4 {
            break recs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "four recordings start: {recs:?}"
        );
        assert!(peers.try_join_next().is_none(), "a publisher stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let files: Vec<(String, std::path::PathBuf)> = recordings
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "processing", "{r}");
            let sid = r["sid"].as_str().unwrap().to_owned();
            let ext = if r["type"] == "audio" { "mka" } else { "mkv" };
            let path = media.join(format!("{sid}.{ext}"));
            (sid, path)
        })
        .collect();
    let scratch = dir.path().join("scratch");
    let written: HashMap<String, u64> = loop {
        let now: HashMap<String, u64> = files
            .iter()
            .map(|(sid, path)| (sid.clone(), media_ms(path, &scratch)))
            .collect();
        if now.values().all(|&ms| ms >= BEFORE_KILL_MS) {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the files grow: {now:?}"
        );
        assert!(peers.try_join_next().is_none(), "a publisher stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    vroom.kill().await.unwrap();
    let recorded_for = started.elapsed();
    peers.abort_all();
    println!("media in the files at the SIGKILL (ms): {written:?}");

    // The restart settles them before it serves.
    let mut vroom = spawn_vroom_with(port, db, &creds, &args).await;
    let after = rest.recordings(&room).await;
    assert_eq!(after.len(), 4, "{after:?}");
    let fetched = tempfile::tempdir().unwrap();
    for r in &after {
        let sid = r["sid"].as_str().unwrap();
        assert_eq!(
            r["status"], "completed",
            "a recording with media is completed after the crash: {r}"
        );
        let duration = r["duration"].as_u64().unwrap();
        let before = written[sid];
        // Rounded to whole seconds, as Twilio does.
        assert!(
            duration * 1000 + 500 >= before,
            "{sid}: {duration} s, but {before} ms were on disk at the kill"
        );
        assert!(
            Duration::from_secs(duration) <= recorded_for + Duration::from_secs(1),
            "{sid}: {duration} s out of {recorded_for:?} of publishing"
        );
        let resp = rest
            .call(
                rest.http
                    .get(format!("{}/v1/Recordings/{sid}/Media", rest.base)),
            )
            .await;
        assert_eq!(resp.status(), 200, "the Media redirect is followed");
        let path = fetched.path().join(sid);
        std::fs::write(&path, resp.bytes().await.unwrap()).unwrap();
        let (format, codec, seconds) = probe(&path);
        let (kind, codec_expected) = if r["type"] == "audio" {
            ("audio", "opus")
        } else {
            ("video", "vp8")
        };
        assert_eq!(r["type"], kind);
        assert!(format.contains("matroska"), "{sid}: {format}");
        assert_eq!(codec, codec_expected, "{sid}");
        assert_eq!(
            r["codec"].as_str().map(str::to_lowercase).as_deref(),
            Some(codec_expected),
            "{r}"
        );
        assert!(
            seconds * 1000.0 >= before as f64 - 50.0,
            "{sid}: ffprobe reads {seconds} s, but {before} ms were on disk at the kill"
        );
        assert!(
            (seconds - duration as f64).abs() <= 0.55,
            "{sid}: ffprobe reads {seconds} s, REST says {duration} s"
        );
        let errors = decode_errors(&path);
        assert!(errors.is_empty(), "{sid} ({kind}) decodes: {errors}");
    }
    vroom.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkill_while_recording_real_media_leaves_completed_playable_recordings() {
    let dir = tempfile::tempdir().unwrap();
    kill_while_recording(&format!("sqlite://{}/vroom.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkill_while_recording_real_media_on_postgres() {
    let Some(db) = ScratchDatabase::create("recording crash").await else {
        return;
    };
    kill_while_recording(db.url()).await;
    db.drop_now().await;
}
