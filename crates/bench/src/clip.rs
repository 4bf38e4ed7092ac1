//! Real media for publishers: a VP8 video and an Opus audio stream encoded by ffmpeg (a test
//! pattern and a tone), read back frame by frame so a publisher can send them over RTP as a
//! browser would. Synthetic payloads are enough to measure forwarding; recording and composing
//! need media a decoder accepts.
//!
//! ffmpeg writes the video as IVF (a 32-byte header, then each frame behind a 12-byte header)
//! and the audio as Ogg Opus (pages of segments; the first two packets are headers), the two
//! simplest containers to take apart.

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
