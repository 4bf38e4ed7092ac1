//! H.264 recorded. A publisher — vroom-bench's str0m client, over real UDP, ICE and DTLS-SRTP —
//! sends H.264 that libx264 encoded (constrained baseline, several slices per picture, so FU-A
//! fragments and STAP-A parameter sets on the wire) and Opus into a `VideoCodecs=H264` room that
//! records on connect. After about 6 s the room is completed: the video Recording is `completed`,
//! `H264` in `mkv`, of the size and (whole-second) duration of its file, and its `/Media` download
//! is what ffprobe reads as H.264 in Matroska lasting as long as the track was recorded (±1 s),
//! and what ffmpeg decodes without an error.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use vroom_bench::clip::Clip;
use vroom_bench::peer::{Received, Synthetic};

use crate::common::{free_port, spawn_vroom_with, test_credentials, token_for};
use crate::recording_crash::{Rest, decode_errors, media_ms, probe};

/// How long the room records.
const RECORD_FOR: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread")]
async fn an_h264_track_is_recorded_as_h264_in_matroska_that_plays() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let clip = Arc::new(
        Clip::make_h264(&dir.path().join("clip"), 4, 500).expect("ffmpeg encodes an H.264 clip"),
    );
    let creds = test_credentials();
    let port = free_port();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let args = ["--data-dir", data.to_str().unwrap()];
    let mut vroom = spawn_vroom_with(port, &db, &creds, &args).await;
    let rest = Rest::on(port, &creds);
    let room = rest
        .create_room(&[
            ("UniqueName", "h264-rec"),
            ("VideoCodecs", "H264"),
            ("RecordParticipantsOnConnect", "true"),
        ])
        .await;

    let synthetic = Synthetic {
        video_bytes: 0,
        audio_bytes: 0,
        simulcast: false,
        clip: Some(Arc::clone(&clip)),
    };
    let (peer, side) = vroom_bench::vroom::join_with(
        &format!("ws://127.0.0.1:{port}/signaling"),
        &token_for(&creds, "alice"),
        "h264-rec",
        "alice",
        true,
        false,
        Arc::new(Received::default()),
    )
    .await
    .expect("a publisher joins");
    let publisher = tokio::spawn(peer.run(side, synthetic, Arc::new(AtomicU64::new(0)), 0));

    let started = Instant::now();
    let video = loop {
        let recs = rest.recordings(&room).await;
        if let Some(v) = recs.iter().find(|r| r["type"] == "video") {
            break v.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a video recording starts: {recs:?}"
        );
        assert!(!publisher.is_finished(), "the publisher stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let recording_started = Instant::now();
    let sid = video["sid"].as_str().unwrap().to_owned();
    assert_eq!(video["status"], "processing", "{video}");
    assert_eq!(video["codec"], "H264", "{video}");
    assert_eq!(video["container_format"], "mkv", "{video}");
    // Media reaches the file (a failed depacketisation would leave it without frames).
    let file = data.join("media").join(format!("{sid}.mkv"));
    let scratch = dir.path().join("scratch");
    loop {
        if media_ms(&file, &scratch) >= 1000 {
            break;
        }
        assert!(
            recording_started.elapsed() < Duration::from_secs(20),
            "H.264 frames reach {}",
            file.display()
        );
        assert!(!publisher.is_finished(), "the publisher stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(RECORD_FOR.saturating_sub(recording_started.elapsed())).await;
    let ended = rest
        .call(
            rest.http
                .post(format!("{}/v1/Rooms/{room}", rest.base))
                .form(&[("Status", "completed")]),
        )
        .await;
    assert_eq!(ended.status(), 202, "the room is completed");
    let recorded_for = recording_started.elapsed();
    publisher.abort();

    let done = loop {
        let r = rest.get(&format!("/v1/Recordings/{sid}")).await;
        if r["status"] != "processing" {
            break r;
        }
        assert!(
            recording_started.elapsed() < Duration::from_secs(40),
            "the recording finishes: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["codec"], "H264", "{done}");
    assert_eq!(done["container_format"], "mkv", "{done}");
    let duration = done["duration"].as_u64().unwrap();
    let size = done["size"].as_u64().unwrap();

    let resp = rest
        .call(
            rest.http
                .get(format!("{}/v1/Recordings/{sid}/Media", rest.base)),
        )
        .await;
    assert_eq!(resp.status(), 200, "the Media redirect is followed");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size, "REST's size is the file's");
    let path = dir.path().join(format!("{sid}.mkv"));
    std::fs::write(&path, &bytes).unwrap();
    let (format, codec, seconds) = probe(&path);
    println!(
        "H.264 recording: {size} bytes, ffprobe {seconds} s, REST {duration} s, recorded for \
         {recorded_for:?}"
    );
    assert!(format.contains("matroska"), "{format}");
    assert_eq!(codec, "h264");
    assert!(
        (seconds - recorded_for.as_secs_f64()).abs() <= 1.0,
        "ffprobe reads {seconds} s of a track recorded for {recorded_for:?}"
    );
    assert!(
        (seconds - duration as f64).abs() <= 0.55,
        "ffprobe reads {seconds} s, REST says {duration} s"
    );
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "the H.264 file decodes: {errors}");
    vroom.kill().await.unwrap();
}
