//! Real media for publishers: a VP8 or H.264 video and an Opus audio stream encoded by ffmpeg (a
//! test pattern and a tone), read back frame by frame so a publisher can send them over RTP as a
//! browser would. Synthetic payloads are enough to measure forwarding; recording and composing
//! need media a decoder accepts.
//!
//! ffmpeg writes VP8 as IVF (a 32-byte header, then each frame behind a 12-byte header), H.264 as
//! an Annex B stream (NAL units behind start codes, cut into access units here), and the audio as
//! Ogg Opus (pages of segments; the first two packets are headers), the simplest containers to
//! take apart.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail, ensure};

/// Frames to send: `video` at 30 per second (with whether each is a keyframe), `audio` at 50 per
/// second (20 ms packets). A publisher sends them in a loop; the clip starts with a keyframe, so a
/// loop restarts cleanly.
#[derive(Debug, Clone)]
pub struct Clip {
    pub video: Vec<(Vec<u8>, bool)>,
    pub audio: Vec<Vec<u8>>,
}

impl Clip {
    /// Like [`Clip::make`], with the video in H.264 instead: constrained baseline (what WebRTC's
    /// `profile-level-id=42e01f` offers), libx264 tuned for zero latency as a browser's encoder
    /// is (no B-frames, several slices per picture), a keyframe every half second (a recording
    /// starts at one, and this client does not answer keyframe requests). Each frame is an
    /// Annex B access unit (its SPS and PPS before each IDR), what str0m's packetizer takes.
    ///
    /// # Errors
    /// When ffmpeg is missing or fails, or its output cannot be read.
    pub fn make_h264(dir: &Path, seconds: u32, video_kbps: u32) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let video = dir.join(format!("clip-{seconds}s-{video_kbps}k.h264"));
        if !video.is_file() {
            ffmpeg(
                &format!(
                    "-f lavfi -i testsrc2=size=640x360:rate=30 -t {seconds} -c:v libx264 \
                     -profile:v baseline -tune zerolatency -preset veryfast -pix_fmt yuv420p \
                     -b:v {video_kbps}k -maxrate {video_kbps}k -bufsize {video_kbps}k -g 15 \
                     -x264-params repeat-headers=1 -f h264"
                ),
                &video,
            )?;
        }
        let vp8 = Self::make(dir, seconds, video_kbps.min(400))?;
        let clip = Self {
            video: access_units(&std::fs::read(&video)?),
            audio: vp8.audio,
        };
        ensure!(
            clip.video.first().is_some_and(|f| f.1),
            "the H.264 clip does not start with an IDR"
        );
        Ok(clip)
    }

    /// Encodes `seconds` of 640×360 test pattern at about `video_kbps` (a keyframe every second)
    /// and of a 440 Hz tone (Opus, 32 kbit/s, 20 ms frames) with ffmpeg into `dir`, and reads them.
    /// A clip already made there with the same parameters is reused.
    ///
    /// # Errors
    /// When ffmpeg is missing or fails, or its output cannot be read.
    pub fn make(dir: &Path, seconds: u32, video_kbps: u32) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let video = dir.join(format!("clip-{seconds}s-{video_kbps}k.ivf"));
        let audio = dir.join(format!("clip-{seconds}s.ogg"));
        if !video.is_file() {
            ffmpeg(
                &format!(
                    "-f lavfi -i testsrc2=size=640x360:rate=30 -t {seconds} -c:v libvpx \
                     -b:v {video_kbps}k -minrate {video_kbps}k -maxrate {video_kbps}k -g 30 \
                     -deadline realtime -cpu-used 8 -f ivf"
                ),
                &video,
            )?;
        }
        if !audio.is_file() {
            ffmpeg(
                &format!(
                    "-f lavfi -i sine=frequency=440:sample_rate=48000 -t {seconds} -c:a libopus \
                     -b:a 32k -frame_duration 20 -f ogg"
                ),
                &audio,
            )?;
        }
        let clip = Self {
            video: ivf_frames(&std::fs::read(&video)?)?,
            audio: ogg_packets(&std::fs::read(&audio)?)?,
        };
        ensure!(
            clip.video.first().is_some_and(|f| f.1) && !clip.audio.is_empty(),
            "the clip has no keyframe first, or no audio"
        );
        Ok(clip)
    }
}

/// Runs ffmpeg with `args` (split at whitespace) writing `out` (through a temporary name, so a
/// failed run leaves nothing to reuse).
fn ffmpeg(args: &str, out: &Path) -> anyhow::Result<()> {
    let part = out.with_extension(format!("part{}", std::process::id()));
    let result = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(&part)
        .output()
        .context("running ffmpeg (scripts/setup-test-deps installs it)")?;
    if !result.status.success() {
        bail!("ffmpeg failed: {}", String::from_utf8_lossy(&result.stderr));
    }
    std::fs::rename(&part, out)?;
    Ok(())
}

/// The frames of an IVF file and whether each is a keyframe (bit 0 of a VP8 frame tag is 0).
fn ivf_frames(bytes: &[u8]) -> anyhow::Result<Vec<(Vec<u8>, bool)>> {
    ensure!(bytes.starts_with(b"DKIF") && bytes.len() >= 32, "not IVF");
    let header = usize::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    let mut at = header;
    let mut frames = Vec::new();
    while at + 12 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at..at + 4].try_into()?) as usize;
        let frame = bytes
            .get(at + 12..at + 12 + size)
            .context("an IVF frame cut short")?;
        frames.push((frame.to_vec(), frame.first().is_some_and(|b| b & 1 == 0)));
        at += 12 + size;
    }
    Ok(frames)
}

/// The access units of an Annex B H.264 stream, each with its start codes, and whether each holds
/// an IDR slice. A unit ends with its last slice: the next NAL unit that is not a slice of the same
/// picture (an SEI, SPS, PPS, delimiter, or a slice whose `first_mb_in_slice` is 0) starts another.
fn access_units(bytes: &[u8]) -> Vec<(Vec<u8>, bool)> {
    // Where each NAL unit starts (after its 00 00 01).
    let starts: Vec<usize> = (0..bytes.len().saturating_sub(2))
        .filter(|&i| bytes[i..i + 3] == [0, 0, 1])
        .map(|i| i + 3)
        .collect();
    let mut units: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut unit = Vec::new();
    let mut idr = false;
    let mut has_slice = false;
    for (k, &at) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(bytes.len(), |&n| n - 3);
        let nal = &bytes[at..end];
        let Some(&header) = nal.first() else {
            continue;
        };
        let kind = header & 0x1f;
        let slice = kind == 1 || kind == 5;
        let first_slice = slice && nal.get(1).is_some_and(|b| b & 0x80 != 0);
        if has_slice && (!slice || first_slice) {
            units.push((std::mem::take(&mut unit), idr));
            idr = false;
            has_slice = false;
        }
        unit.extend_from_slice(&[0, 0, 0, 1]);
        // A four-byte start code leaves its leading zero at the end of the NAL unit before.
        let nal = nal.strip_suffix(&[0]).unwrap_or(nal);
        unit.extend_from_slice(nal);
        idr |= kind == 5;
        has_slice |= slice;
    }
    if has_slice {
        units.push((unit, idr));
    }
    units
}

/// The Opus packets of an Ogg file, without its two header packets (OpusHead, OpusTags).
fn ogg_packets(bytes: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut packets = Vec::new();
    let mut packet = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let page = &bytes[at..];
        ensure!(
            page.starts_with(b"OggS") && page.len() >= 27,
            "not an Ogg page"
        );
        let segments = usize::from(page[26]);
        let table = page
            .get(27..27 + segments)
            .context("an Ogg page cut short")?;
        let mut body = 27 + segments;
        for &len in table {
            let len = usize::from(len);
            packet.extend_from_slice(
                page.get(body..body + len)
                    .context("an Ogg segment cut short")?,
            );
            body += len;
            // A segment shorter than 255 bytes ends its packet.
            if len < 255 {
                packets.push(std::mem::take(&mut packet));
            }
        }
        at += body;
    }
    ensure!(
        packets.first().is_some_and(|p| p.starts_with(b"OpusHead")),
        "not Ogg Opus"
    );
    Ok(packets.split_off(2.min(packets.len())))
}
