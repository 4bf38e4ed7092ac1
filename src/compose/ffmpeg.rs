//! ffmpeg as the composer uses it: the command that decodes a plan's recordings, lays their video
//! out on a black canvas and mixes their audio into one file, run with its progress read as it
//! goes; and ffprobe, for the length of a file.
//!
//! Each video placement (a source in one cell for one segment of the grid) is an input of its
//! own, its recording read from where the placement begins (`-ss`, decoded from the keyframe
//! before and cut there) for as long as it lasts (`-t`): so a source shown in several segments,
//! or one that waited for a cell, is shown live in each, and ffmpeg decodes only what is shown,
//! with no frames queued for a later use of the same decoded stream (`split` would hold every
//! frame between two uses in memory). It is shifted to where it starts on the composed timeline,
//! scaled to fit its cell (aspect kept, centred) and drawn over the canvas between its `from`
//! and `to`; before its first frame and after its last the cell stays black.
//!
//! The graph grows with the placements: one input, decoder and overlay each, and every composed
//! frame passes every overlay (those not showing pass it on). A grid re-laid out at every join
//! and leave has about (joins + leaves) × (sources shown) placements, a few hundred for a
//! 10-person hour with 30 comings and goings. ffmpeg 5.1 ran 200 placements (320×240 VP8 cuts
//! into 60 s of 640×480) in 20 s at a load of 12–14, peaking at 431 MB resident: memory grows by
//! about 2 MB per placement, as every input's demuxer and decoder is open from the start. It is
//! not bounded here; a composition too big for the machine fails as ffmpeg fails.
//!
//! Each audio recording is delayed to its start, resampled against its timestamps (gaps become
//! silence) and the lot mixed without normalisation, so a voice is as loud alone as with others.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use vroom_domain::composition::{CompositionFormat, Resolution};
use vroom_domain::layout::Plan;

/// Frames per second of composed video.
const FPS: u32 = 25;

/// The arguments (after `ffmpeg`) composing `plan` from `files` (one per source of the plan, by
/// index; only those the plan uses are read) into `out`.
#[must_use]
pub fn arguments(
    plan: &Plan,
    files: &[PathBuf],
    res: Resolution,
    format: CompositionFormat,
    out: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        .map(str::to_owned)
        .to_vec();
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    // Inputs: one per video placement, then each audio source once.
    let mut inputs: Vec<Vec<String>> = Vec::new();
    let mut graph = String::new();
    let total = secs(plan.duration_ms);
    if plan.has_video {
        let _ = write!(
            graph,
            "color=c=black:s={}x{}:r={FPS}:d={total}[base0];",
            res.width, res.height
        );
        for (n, p) in plan.video.iter().enumerate() {
            let i = inputs.len();
            let mut input = Vec::new();
            if p.media_ms > 0 {
                input.extend(["-ss".into(), secs(p.media_ms)]);
            }
            input.extend([
                "-t".into(),
                secs(p.to_ms - p.from_ms),
                "-i".into(),
                files[p.source].to_string_lossy().into_owned(),
            ]);
            inputs.push(input);
            let (x, y, w, h) = p.cell;
            // The input's timestamps start at 0 where it was cut (ffmpeg takes the file's start
            // and the `-ss` off), so its frames land at `from` plus their own distance from the
            // cut, gaps in the recording kept.
            let _ = write!(
                graph,
                "[{i}:v]setpts=PTS+{from}/TB,fps={FPS},\
                 scale=w={w}:h={h}:force_original_aspect_ratio=decrease:force_divisible_by=2[v{n}];\
                 [base{n}][v{n}]overlay=x='{x}+({w}-overlay_w)/2':y='{y}+({h}-overlay_h)/2':\
                 eof_action=pass:enable='between(t,{from},{to})'[base{next}];",
                from = secs(p.from_ms),
                to = secs(p.to_ms),
                next = n + 1,
            );
        }
        let _ = write!(graph, "[base{}]format=yuv420p[vout];", plan.video.len());
    }
    let mut mixed = Vec::new();
    for (n, a) in plan.audio.iter().enumerate() {
        let i = inputs.len();
        inputs.push(vec![
            "-i".into(),
            files[a.source].to_string_lossy().into_owned(),
        ]);
        let _ = write!(
            graph,
            "[{i}:a]aresample=48000:async=1000:first_pts=0,asetpts=PTS-STARTPTS,\
             adelay={}:all=1[a{n}];",
            a.from_ms.max(0)
        );
        mixed.push(format!("[a{n}]"));
    }
    if !mixed.is_empty() {
        let _ = write!(
            graph,
            "{}amix=inputs={}:duration=longest:dropout_transition=0:normalize=0[aout];",
            mixed.concat(),
            mixed.len()
        );
    }
    args.extend(inputs.into_iter().flatten());
    args.push("-filter_complex".into());
    args.push(graph.trim_end_matches(';').to_owned());
    if plan.has_video {
        args.extend(["-map".into(), "[vout]".into()]);
        match format {
            CompositionFormat::Mp4 => args.extend(
                ["-c:v", "libx264", "-preset", "veryfast", "-crf", "26"].map(str::to_owned),
            ),
            CompositionFormat::Webm => args.extend(
                [
                    "-c:v",
                    "libvpx",
                    "-deadline",
                    "realtime",
                    "-cpu-used",
                    "8",
                    "-b:v",
                    "1M",
                ]
                .map(str::to_owned),
            ),
        }
    }
    if !mixed.is_empty() {
        args.extend(["-map".into(), "[aout]".into()]);
        match format {
            CompositionFormat::Mp4 => {
                args.extend(["-c:a", "aac", "-b:a", "96k"].map(str::to_owned));
            }
            CompositionFormat::Webm => {
                args.extend(["-c:a", "libopus", "-b:a", "64k"].map(str::to_owned));
            }
        }
    }
    args.extend(["-t".into(), total]);
    match format {
        CompositionFormat::Mp4 => {
            args.extend(["-movflags", "+faststart", "-f", "mp4"].map(str::to_owned))
        }
        CompositionFormat::Webm => args.extend(["-f", "webm"].map(str::to_owned)),
    }
    args.extend(["-progress".into(), "pipe:1".into(), "-nostats".into()]);
    args.push(out.to_string_lossy().into_owned());
    args
}

/// Runs ffmpeg with `args`, sending on `progress` the milliseconds of output written so far as
/// ffmpeg reports them.
///
/// # Errors
/// When ffmpeg cannot be started or fails (with what it printed).
pub async fn run(
    program: &Path,
    args: &[String],
    progress: tokio::sync::mpsc::UnboundedSender<u64>,
) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let stderr = child.stderr.take();
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        if let Some(mut e) = stderr {
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut text).await;
        }
        text
    });
    if let Some(out) = child.stdout.take() {
        let mut lines = BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(us) = line.strip_prefix("out_time_us=")
                && let Ok(us) = us.trim().parse::<u64>()
            {
                let _ = progress.send(us / 1000);
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("ffmpeg did not finish: {e}"))?;
    let printed = errors.await.unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        let tail: String = printed
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .join(" / ");
        Err(format!("ffmpeg failed ({status}): {tail}"))
    }
}

/// The length of a media file in milliseconds, as ffprobe reads it.
///
/// # Errors
/// When ffprobe cannot be run or reads no duration.
pub async fn duration_ms(ffprobe: &Path, file: &Path) -> Result<u64, String> {
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot start {}: {e}", ffprobe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("ffprobe read no duration of {}", file.display()))?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((secs * 1000.0).round().max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vroom_domain::layout::{AudioPart, Placement};

    #[test]
    fn a_grid_of_two_with_their_audio() {
        let plan = Plan {
            start_ms: 0,
            duration_ms: 10_500,
            video: vec![
                Placement {
                    source: 1,
                    cell: (0, 0, 640, 480),
                    z: 0,
                    from_ms: 0,
                    to_ms: 1_000,
                    media_ms: 0,
                },
                Placement {
                    source: 1,
                    cell: (0, 0, 320, 480),
                    z: 0,
                    from_ms: 1_000,
                    to_ms: 10_000,
                    media_ms: 1_000,
                },
                Placement {
                    source: 3,
                    cell: (320, 0, 320, 480),
                    z: 0,
                    from_ms: 1_000,
                    to_ms: 10_500,
                    media_ms: 0,
                },
            ],
            audio: vec![
                AudioPart {
                    source: 0,
                    from_ms: 0,
                },
                AudioPart {
                    source: 2,
                    from_ms: 1_000,
                },
            ],
            has_video: true,
        };
        let files: Vec<PathBuf> = (0..4)
            .map(|i| PathBuf::from(format!("/m/{i}.mk")))
            .collect();
        let args = arguments(
            &plan,
            &files,
            Resolution::DEFAULT,
            CompositionFormat::Mp4,
            Path::new("/m/out.part"),
        );
        let joined = args.join(" ");
        // Alice alone, then Alice again from 1 s into her media, then Bob; then the audio.
        assert!(
            joined.contains(
                "-t 1.000 -i /m/1.mk -ss 1.000 -t 9.000 -i /m/1.mk -t 9.500 -i /m/3.mk \
                 -i /m/0.mk -i /m/2.mk -filter_complex"
            ),
            "{joined}"
        );
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(
            graph.starts_with("color=c=black:s=640x480:r=25:d=10.500[base0];"),
            "{graph}"
        );
        assert!(graph.contains("[1:v]setpts=PTS+1.000/TB"), "{graph}");
        assert!(graph.contains("[2:v]setpts=PTS+1.000/TB"), "{graph}");
        assert!(
            graph.contains("overlay=x='320+(320-overlay_w)/2'"),
            "{graph}"
        );
        assert!(
            graph.contains("enable='between(t,1.000,10.500)'[base3]"),
            "{graph}"
        );
        assert!(graph.contains("[4:a]aresample=48000:async=1000:first_pts=0,asetpts=PTS-STARTPTS,adelay=1000:all=1[a1]"), "{graph}");
        assert!(
            graph.ends_with(
                "[a0][a1]amix=inputs=2:duration=longest:dropout_transition=0:normalize=0[aout]"
            ),
            "{graph}"
        );
        assert!(
            args.join(" ")
                .contains("-t 10.500 -movflags +faststart -f mp4")
        );
        let audio_only = Plan {
            video: vec![],
            has_video: false,
            ..plan
        };
        let args = arguments(
            &audio_only,
            &files,
            Resolution::DEFAULT,
            CompositionFormat::Webm,
            Path::new("/m/o"),
        );
        assert!(!args.iter().any(|a| a == "[vout]"));
        assert!(args.join(" ").contains("-c:a libopus"));
    }
}
