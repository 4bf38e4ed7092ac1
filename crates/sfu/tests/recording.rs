//! Recording through the media core: a str0m publisher's audio and (simulcast) video, on the
//! simulated network, become Matroska files that ffprobe reads as Opus and VP8 of the length sent;
//! a file cut short mid-write (a crash) is made final by `recover_recording` and plays too; a
//! recorded track without media for 30 s (simulated) warns its publisher, if it asked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use str0m::media::MediaKind;
use vroom_domain::recording::{RecordTrack, RecordingCodec};
use vroom_domain::sid::{RecordingSid, TrackSid};
use vroom_domain::track::TrackKind;
use vroom_sfu::{MediaOptions, MediaState, RecordIo, Signal};

/// ffprobe's view of a file: (format, codec, duration in seconds, width).
fn probe(path: &Path) -> (String, String, f64, Option<u64>) {
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
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stream = &v["streams"][0];
    (
        v["format"]["format_name"].as_str().unwrap_or("").to_owned(),
        stream["codec_name"].as_str().unwrap_or("").to_owned(),
        v["format"]["duration"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap(),
        stream["width"].as_u64(),
    )
}

/// The file the writer would have made of `records` (all of them, or only the appends before
/// the close with the last one cut in half, as a crash would leave it).
fn assemble(records: &[RecordIo], crash: bool) -> (Vec<u8>, u64, u64) {
    let mut file = Vec::new();
    let mut appends: Vec<&Vec<u8>> = Vec::new();
    let mut media = (0, 0);
    for r in records {
        match r {
            RecordIo::Open { .. } => {}
            RecordIo::Append { bytes, .. } => appends.push(bytes),
            RecordIo::Close {
                bytes,
                patch,
                media_ms,
                frames,
                ..
            } => {
                media = (*media_ms, *frames);
                if crash {
                    break;
                }
                for a in appends.drain(..) {
                    file.extend_from_slice(a);
                }
                file.extend_from_slice(bytes);
                if let Some((at, b)) = patch {
                    let at = usize::try_from(*at).unwrap();
                    file[at..at + b.len()].copy_from_slice(b);
                }
            }
        }
    }
    if crash {
        let last = appends.pop().expect("several appends");
        for a in appends {
            file.extend_from_slice(a);
        }
        file.extend_from_slice(&last[..last.len() / 2]);
    }
    (file, media.0, media.1)
}

/// Audio packet `n` of a 20 ms Opus stream.
fn send_opus(net: &mut Net, mid: str0m::media::Mid, n: u64) {
    let now = net.now;
    let writer = net.clients[0].rtc.writer(mid).expect("a writer");
    let pt = writer.payload_params().next().unwrap().pt();
    let time = str0m::media::MediaTime::from_90khz(n * 1800);
    writer.write(pt, now, time, vec![0xfc; 40]).unwrap();
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_published_microphone_is_recorded_as_opus_in_matroska() {
    let mut net = Net::new(1);
    let mic = net.connect(0, &[(MediaKind::Audio, "alice-mic")])[0];
    net.run(Duration::from_millis(500));
    let recording = RecordingSid::from_bytes([0x71; 16]);
    let now = net.now;
    net.core.start_recording(
        now,
        &RecordTrack {
            recording,
            publisher: net.clients[0].sid,
            publisher_track_id: "alice-mic".into(),
            track: TrackSid::from_bytes([0x61; 16]),
            kind: TrackKind::Audio,
            codec: RecordingCodec::Opus,
            file_name: format!("{recording}.mka"),
        },
    );
    // Four seconds of 20 ms packets.
    for n in 0..200 {
        send_opus(&mut net, mic, n);
        net.run(Duration::from_millis(20));
    }
    net.core.stop_recording(recording);
    net.run(Duration::from_millis(20));
    assert!(
        matches!(net.records.first(), Some(RecordIo::Open { file_name, .. }) if file_name.ends_with(".mka"))
    );
    let dir = tempfile::tempdir().unwrap();
    let (file, media_ms, frames) = assemble(&net.records, false);
    assert!(frames >= 190, "{frames} frames");
    assert!((3900..=4100).contains(&media_ms), "{media_ms} ms");
    let (format, codec, duration, _) = probe(&write(dir.path(), "a.mka", &file));
    assert!(format.contains("matroska"), "{format}");
    assert_eq!(codec, "opus");
    assert!(
        (duration - media_ms as f64 / 1000.0).abs() < 0.1,
        "{duration} s vs {media_ms} ms"
    );

    // Cut mid-write: recovery keeps the whole clusters and writes their duration.
    let (cut, _, _) = assemble(&net.records, true);
    let path = write(dir.path(), "cut.mka", &cut);
    let (size, recovered_ms) = vroom_sfu::recover_recording(&path)
        .unwrap()
        .expect("media survived");
    assert_eq!(size, std::fs::metadata(&path).unwrap().len());
    assert!(
        recovered_ms > 1000 && recovered_ms <= media_ms,
        "{recovered_ms} of {media_ms} ms"
    );
    let (_, codec, duration, _) = probe(&path);
    assert_eq!(codec, "opus");
    assert!((duration - recovered_ms as f64 / 1000.0).abs() < 0.1);
    // Recovering again changes nothing; garbage recovers to nothing.
    assert_eq!(
        vroom_sfu::recover_recording(&path).unwrap(),
        Some((size, recovered_ms))
    );
    let junk = write(dir.path(), "junk.mka", b"not a recording");
    assert_eq!(vroom_sfu::recover_recording(&junk).unwrap(), None);
}

#[test]
fn simulcast_video_is_recorded_as_vp8_from_the_best_layer() {
    let mut net = Net::new(1);
    let cam = net.connect_simulcast(0, "alice-cam");
    net.run(Duration::from_millis(500));
    let recording = RecordingSid::from_bytes([0x72; 16]);
    let now = net.now;
    net.core.start_recording(
        now,
        &RecordTrack {
            recording,
            publisher: net.clients[0].sid,
            publisher_track_id: "alice-cam".into(),
            track: TrackSid::from_bytes([0x62; 16]),
            kind: TrackKind::Video,
            codec: RecordingCodec::Vp8,
            file_name: format!("{recording}.mkv"),
        },
    );
    // Three seconds at 30 frames a second, a keyframe every half second.
    for n in 0..90 {
        net.send_video_layers(0, cam, n, n % 15 == 0);
        net.run(Duration::from_millis(33));
    }
    net.core.stop_recording(recording);
    net.run(Duration::from_millis(20));
    let (file, media_ms, frames) = assemble(&net.records, false);
    // The recording starts on the first keyframe of the top layer after the layers settled.
    assert!(frames >= 40, "{frames} frames");
    let dir = tempfile::tempdir().unwrap();
    let (format, codec, duration, width) = probe(&write(dir.path(), "v.mkv", &file));
    assert!(format.contains("matroska"), "{format}");
    assert_eq!(codec, "vp8");
    assert_eq!(width, Some(1280), "the top layer is recorded");
    assert!(
        (duration - media_ms as f64 / 1000.0).abs() < 0.1,
        "{duration} s vs {media_ms} ms"
    );
    assert!((1900..=2600).contains(&media_ms), "{media_ms} ms");
}

/// The media warnings each client was told so far, in order: (client, track, state).
fn warnings(net: &mut Net) -> Vec<(usize, TrackSid, MediaState)> {
    let mut told = Vec::new();
    net.signals.retain(|(p, s)| match s {
        Signal::Warnings(list) => {
            let c = net.clients.iter().position(|c| c.sid == *p).unwrap();
            told.extend(list.iter().map(|(t, m)| (c, *t, *m)));
            false
        }
        _ => true,
    });
    told
}

/// Records client `c`'s microphone `id` as recording `n` of track `n`.
fn record_mic(net: &mut Net, c: usize, id: &str, n: u8) -> (RecordingSid, TrackSid) {
    let recording = RecordingSid::from_bytes([n; 16]);
    let track = TrackSid::from_bytes([n; 16]);
    let now = net.now;
    net.core.start_recording(
        now,
        &RecordTrack {
            recording,
            publisher: net.clients[c].sid,
            publisher_track_id: id.into(),
            track,
            kind: TrackKind::Audio,
            codec: RecordingCodec::Opus,
            file_name: format!("{recording}.mka"),
        },
    );
    (recording, track)
}

#[test]
fn a_recorded_track_without_media_for_30_s_warns_its_publisher_if_it_asked() {
    let mut net = Net::new(2);
    // Alice's client asked for media warnings (`media_warnings: ["recordings"]`), bob's did not.
    let asked = MediaOptions {
        recording_warnings: true,
        ..MediaOptions::default()
    };
    let alice = net.clients[0].sid;
    net.core.set_options(alice, asked);
    let mics = [
        net.connect(0, &[(MediaKind::Audio, "alice-mic")])[0],
        net.connect(1, &[(MediaKind::Audio, "bob-mic")])[0],
    ];
    net.run(Duration::from_millis(500));
    let (a_rec, a_mic) = record_mic(&mut net, 0, "alice-mic", 0x51);
    record_mic(&mut net, 1, "bob-mic", 0x52);
    let mut n = 0;
    let mut talk = |net: &mut Net, secs: u64| {
        for _ in 0..secs * 50 {
            for (c, mic) in mics.iter().enumerate() {
                net.send_audio(c, *mic, n);
            }
            n += 1;
            net.run(Duration::from_millis(20));
        }
    };
    talk(&mut net, 2);
    assert_eq!(warnings(&mut net), [], "media flows: nothing to say");

    // Both microphones stop sending; only alice hears of it, 30 s after the last packet (checked
    // every 250 ms).
    net.run(Duration::from_millis(29_800));
    assert_eq!(
        warnings(&mut net),
        [],
        "29.8 s without media is not yet lost"
    );
    net.run(Duration::from_millis(400));
    assert_eq!(
        warnings(&mut net),
        [(0, a_mic, MediaState::NoMedia)],
        "30 s without media: alice (who asked) is warned, bob is not"
    );
    net.run(Duration::from_secs(5));
    assert_eq!(warnings(&mut net), [], "told once");
    assert_eq!(
        net.core.state(alice).warnings,
        [(a_mic, MediaState::NoMedia)]
    );

    // Media again: the warning clears at the next check.
    talk(&mut net, 1);
    assert_eq!(warnings(&mut net), [(0, a_mic, MediaState::Ok)], "cleared");
    assert_eq!(
        net.core.state(alice).warnings,
        [(a_mic, MediaState::Ok)],
        "a resuming session is told the last state again"
    );
    assert_eq!(net.core.state(net.clients[1].sid).warnings, []);

    // Lost again, then the recording stops (the rules no longer select it): the warning no
    // longer holds and is cleared.
    net.run(Duration::from_millis(30_300));
    assert_eq!(warnings(&mut net), [(0, a_mic, MediaState::NoMedia)]);
    net.core.stop_recording(a_rec);
    net.run(Duration::from_millis(20));
    assert_eq!(warnings(&mut net), [(0, a_mic, MediaState::Ok)]);
    net.run(Duration::from_secs(31));
    assert_eq!(
        warnings(&mut net),
        [],
        "bob's silent recording never warns anyone"
    );
}
