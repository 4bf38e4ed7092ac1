//! A minimal Matroska writer for one track of Opus audio, or VP8 or H.264 video, and the recovery
//! of a file whose writer stopped before finishing it.
//!
//! Layout, chosen so a file is playable at every moment it is on disk:
//! EBML header, a Segment of unknown size, Info (timestamps in milliseconds, and an 11-byte Void
//! where the Duration goes once known), Tracks (one entry), then Clusters, each written whole with
//! its size once it closes (at most a few seconds of media), so a crash loses at most the cluster
//! being filled and never leaves a half element behind a whole one. Finishing overwrites the Void
//! with the Duration; [`recover`] does the same for a file left unfinished, after cutting off a
//! partly written last cluster.
//!
//! Sans-IO: the writer returns bytes to append and the patch to apply; callers own the file.

use std::io::{Read, Seek, SeekFrom};

/// Which track the file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MkvTrack {
    /// Opus, 48 kHz stereo as WebRTC sends it.
    Opus,
    /// VP8 of this size (from the first keyframe).
    Vp8 { width: u32, height: u32 },
    /// H.264 in AVCC samples, of the size its first SPS gives; `avcc` is the `avcC` record of the
    /// first SPS and PPS (later ones stay in the samples, where decoders take them up).
    H264 {
        width: u32,
        height: u32,
        avcc: Vec<u8>,
    },
}

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TRACKS: u32 = 0x1654_AE6B;
const CLUSTER: u32 = 0x1F43_B675;
const TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const VOID: u32 = 0xEC;
const DURATION: u32 = 0x4489;

/// The size of the Void kept for the Duration: ID (1) + size (1) + 9 bytes, as large as the Duration
/// element (ID 2 + size 1 + an 8-byte float).
const DURATION_SLOT: usize = 11;

/// A cluster closes once it holds this much media and a keyframe (or any audio frame) comes.
const CLUSTER_MS: u64 = 1000;
/// ... and in any case at this length (video between keyframes).
const CLUSTER_MAX_MS: u64 = 5000;

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count();
    b[skip..].to_vec()
}

/// An EBML variable-size integer in 8 bytes (any size fits, and it can be computed late).
fn size8(n: u64) -> [u8; 8] {
    let mut b = n.to_be_bytes();
    b[0] = 0x01;
    b
}

fn element(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    out.extend_from_slice(&id_bytes(id));
    let len = body.len() as u64;
    if len < 0x7f {
        // One-byte size.
        #[allow(clippy::cast_possible_truncation)]
        out.push(0x80 | len as u8);
    } else {
        out.extend_from_slice(&size8(len));
    }
    out.extend_from_slice(body);
}

fn uint(out: &mut Vec<u8>, id: u32, v: u64) {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count().min(7);
    element(out, id, &b[skip..]);
}

fn float(out: &mut Vec<u8>, id: u32, v: f64) {
    element(out, id, &v.to_be_bytes());
}

fn text(out: &mut Vec<u8>, id: u32, v: &str) {
    element(out, id, v.as_bytes());
}

/// The Duration element that replaces the Void slot.
fn duration_element(ms: u64) -> [u8; DURATION_SLOT] {
    let mut out = Vec::with_capacity(DURATION_SLOT);
    // Milliseconds are far below 2^52: exact as a float.
    #[allow(clippy::cast_precision_loss)]
    float(&mut out, DURATION, ms as f64);
    let mut slot = [0u8; DURATION_SLOT];
    slot.copy_from_slice(&out);
    slot
}

/// The EBML header, Segment start, Info and Tracks; returns the bytes and where the Duration slot is.
fn header(track: &MkvTrack) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut ebml = Vec::new();
    uint(&mut ebml, 0x4286, 1); // EBMLVersion
    uint(&mut ebml, 0x42F7, 1); // EBMLReadVersion
    uint(&mut ebml, 0x42F2, 4); // EBMLMaxIDLength
    uint(&mut ebml, 0x42F3, 8); // EBMLMaxSizeLength
    text(&mut ebml, 0x4282, "matroska"); // DocType
    uint(&mut ebml, 0x4287, 4); // DocTypeVersion
    uint(&mut ebml, 0x4285, 2); // DocTypeReadVersion
    element(&mut out, EBML, &ebml);
    out.extend_from_slice(&id_bytes(SEGMENT));
    // Unknown size: the segment grows as clusters are appended.
    out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    let mut info = Vec::new();
    uint(&mut info, 0x2A_D7B1, 1_000_000); // TimestampScale: 1 ms
    text(&mut info, 0x4D80, "vroom"); // MuxingApp
    text(&mut info, 0x5741, "vroom"); // WritingApp
    let slot_in_info = info.len();
    element(&mut info, VOID, &[0u8; DURATION_SLOT - 2]);
    let info_start = out.len();
    element(&mut out, INFO, &info);
    // Info's ID (4 bytes) and one-byte size come before its body.
    let slot = (info_start + 4 + 1 + slot_in_info) as u64;
    let mut entry = Vec::new();
    uint(&mut entry, 0xD7, 1); // TrackNumber
    uint(&mut entry, 0x73C5, 1); // TrackUID
    match track {
        MkvTrack::Opus => {
            uint(&mut entry, 0x83, 2); // TrackType: audio
            text(&mut entry, 0x86, "A_OPUS");
            // OpusHead (RFC 7845 5.1): version 1, 2 channels, 312 samples pre-skip, 48 kHz.
            let mut head = b"OpusHead".to_vec();
            head.extend_from_slice(&[1, 2]);
            head.extend_from_slice(&312u16.to_le_bytes());
            head.extend_from_slice(&48_000u32.to_le_bytes());
            head.extend_from_slice(&[0, 0, 0]);
            element(&mut entry, 0x63A2, &head); // CodecPrivate
            uint(&mut entry, 0x56AA, 6_500_000); // CodecDelay (ns): the pre-skip
            uint(&mut entry, 0x56BB, 80_000_000); // SeekPreRoll (ns)
            let mut audio = Vec::new();
            float(&mut audio, 0xB5, 48_000.0); // SamplingFrequency
            uint(&mut audio, 0x9F, 2); // Channels
            element(&mut entry, 0xE1, &audio);
        }
        MkvTrack::Vp8 { width, height } => {
            uint(&mut entry, 0x83, 1); // TrackType: video
            text(&mut entry, 0x86, "V_VP8");
            video_size(&mut entry, *width, *height);
        }
        MkvTrack::H264 {
            width,
            height,
            avcc,
        } => {
            uint(&mut entry, 0x83, 1); // TrackType: video
            text(&mut entry, 0x86, "V_MPEG4/ISO/AVC");
            element(&mut entry, 0x63A2, avcc); // CodecPrivate
            video_size(&mut entry, *width, *height);
        }
    }
    let mut tracks = Vec::new();
    element(&mut tracks, 0xAE, &entry);
    element(&mut out, TRACKS, &tracks);
    (out, slot)
}

/// The Video element of a track entry.
fn video_size(entry: &mut Vec<u8>, width: u32, height: u32) {
    let mut video = Vec::new();
    uint(&mut video, 0xB0, u64::from(width)); // PixelWidth
    uint(&mut video, 0xBA, u64::from(height)); // PixelHeight
    element(entry, 0xE0, &video);
}

/// Writes one track's frames as Matroska.
#[derive(Debug)]
pub(crate) struct MkvWriter {
    /// Bytes handed out so far (the header included).
    written: u64,
    /// Where the Duration slot is, once the header is out.
    slot: Option<u64>,
    cluster: Vec<u8>,
    cluster_ts: Option<u64>,
    last_ts: Option<u64>,
    /// The typical time between frames, for the duration of the last one.
    frame_ms: u64,
    frames: u64,
}

/// What finishing a file asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finish {
    /// Write these bytes at this offset (the Duration over the Void), if anything was written.
    pub patch: Option<(u64, [u8; DURATION_SLOT])>,
    /// Milliseconds of media.
    pub media_ms: u64,
    /// Frames written.
    pub frames: u64,
}

impl MkvWriter {
    pub fn new() -> Self {
        Self {
            written: 0,
            slot: None,
            cluster: Vec::new(),
            cluster_ts: None,
            last_ts: None,
            frame_ms: 20,
            frames: 0,
        }
    }

    /// Adds a frame at `ts` ms from the start of the track (not before the previous frame); appends
    /// to `out` what must be written now (the header with the first frame, then whole clusters).
    pub fn frame(
        &mut self,
        track: &MkvTrack,
        ts: u64,
        keyframe: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) {
        if self.slot.is_none() {
            let (h, slot) = header(track);
            self.slot = Some(self.written + slot);
            self.push(out, &h);
        }
        let ts = self.last_ts.map_or(ts, |l| ts.max(l));
        if let Some(l) = self.last_ts
            && ts > l
        {
            self.frame_ms = (ts - l).min(100);
        }
        let audio = *track == MkvTrack::Opus;
        if let Some(start) = self.cluster_ts {
            let length = ts - start;
            if (length >= CLUSTER_MS && (audio || keyframe)) || length >= CLUSTER_MAX_MS {
                self.close_cluster(out);
            }
        }
        let start = *self.cluster_ts.get_or_insert(ts);
        // At most CLUSTER_MAX_MS after the cluster's start: fits an i16.
        let rel = i16::try_from(ts - start).unwrap_or(i16::MAX);
        let mut block = Vec::with_capacity(data.len() + 4);
        block.push(0x81); // track 1
        block.extend_from_slice(&rel.to_be_bytes());
        block.push(if keyframe || audio { 0x80 } else { 0x00 });
        block.extend_from_slice(data);
        element(&mut self.cluster, SIMPLE_BLOCK, &block);
        self.last_ts = Some(ts);
        self.frames += 1;
    }

    fn push(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
    }

    fn close_cluster(&mut self, out: &mut Vec<u8>) {
        let Some(start) = self.cluster_ts.take() else {
            return;
        };
        let mut body = Vec::new();
        uint(&mut body, TIMESTAMP, start);
        body.append(&mut self.cluster);
        let mut whole = id_bytes(CLUSTER);
        whole.extend_from_slice(&size8(body.len() as u64));
        whole.extend_from_slice(&body);
        self.push(out, &whole);
    }

    /// Writes the open cluster; the Duration patch follows.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Finish {
        self.close_cluster(out);
        let media_ms = self.last_ts.map_or(0, |t| t + self.frame_ms);
        Finish {
            patch: self.slot.map(|s| (s, duration_element(media_ms))),
            media_ms,
            frames: self.frames,
        }
    }
}

/// What [`recover`] found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// The length of the file up to its last whole cluster (cut it there).
    pub valid_len: u64,
    /// The Duration patch (when the file has a Void slot and no Duration yet).
    pub patch: Option<(u64, [u8; DURATION_SLOT])>,
    /// Milliseconds of media in whole clusters.
    pub media_ms: u64,
    /// Frames in whole clusters.
    pub frames: u64,
}

fn read_vint(r: &mut impl Read, keep_marker: bool) -> std::io::Result<(u64, usize)> {
    let mut first = [0u8; 1];
    r.read_exact(&mut first)?;
    let len = first[0].leading_zeros() as usize + 1;
    if len > 8 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "bad EBML number",
        ));
    }
    let mut v = if keep_marker {
        u64::from(first[0])
    } else {
        u64::from(first[0]) & (0xFF_u64 >> len)
    };
    let mut rest = [0u8; 7];
    r.read_exact(&mut rest[..len - 1])?;
    for b in &rest[..len - 1] {
        v = (v << 8) | u64::from(*b);
    }
    Ok((v, len))
}

/// Reads an element header: (id, size or `None` when unknown, header length).
fn read_header(r: &mut impl Read) -> std::io::Result<(u32, Option<u64>, u64)> {
    let (id, a) = read_vint(r, true)?;
    let (size, b) = read_vint(r, false)?;
    let unknown = size == (1u64 << (7 * b)) - 1;
    let id = u32::try_from(id)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad EBML id"))?;
    Ok((id, (!unknown).then_some(size), (a + b) as u64))
}

/// Scans a file this writer produced (possibly cut short by a crash): the whole clusters, the media
/// they hold, and the Duration patch still to apply.
///
/// # Errors
/// When the file cannot be read or is not one of ours.
pub(crate) fn recover(file: &mut (impl Read + Seek)) -> std::io::Result<Recovered> {
    let len = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let (id, size, h) = read_header(file)?;
    if id != EBML {
        return Err(bad("not a Matroska file"));
    }
    let mut at = h + size.ok_or_else(|| bad("EBML header of unknown size"))?;
    file.seek(SeekFrom::Start(at))?;
    let (id, _, h) = read_header(file)?;
    if id != SEGMENT {
        return Err(bad("no segment"));
    }
    at += h;
    let mut found = Recovered {
        valid_len: at,
        patch: None,
        media_ms: 0,
        frames: 0,
    };
    let mut frame_ms = 20;
    let mut last_ts: Option<u64> = None;
    while at < len {
        file.seek(SeekFrom::Start(at))?;
        let Ok((id, Some(size), h)) = read_header(file) else {
            break;
        };
        let end = at + h + size;
        if end > len {
            break;
        }
        match id {
            INFO => {
                let mut body = vec![0u8; usize::try_from(size).map_err(|_| bad("size"))?];
                file.read_exact(&mut body)?;
                let mut cur = std::io::Cursor::new(&body[..]);
                while (cur.position() as usize) < body.len() {
                    let start = cur.position();
                    let Ok((cid, Some(csize), ch)) = read_header(&mut cur) else {
                        break;
                    };
                    if cid == VOID && ch + csize == DURATION_SLOT as u64 {
                        found.patch = Some((at + h + start, [0u8; DURATION_SLOT]));
                    }
                    cur.set_position(start + ch + csize);
                }
            }
            CLUSTER => {
                let mut body = vec![0u8; usize::try_from(size).map_err(|_| bad("size"))?];
                file.read_exact(&mut body)?;
                let mut cur = std::io::Cursor::new(&body[..]);
                let mut cluster_ts = 0u64;
                while (cur.position() as usize) < body.len() {
                    let start = cur.position();
                    let Ok((cid, Some(csize), ch)) = read_header(&mut cur) else {
                        break;
                    };
                    let data_at = usize::try_from(start + ch).map_err(|_| bad("size"))?;
                    let data_end = usize::try_from(start + ch + csize).map_err(|_| bad("size"))?;
                    let data = body.get(data_at..data_end).ok_or_else(|| bad("block"))?;
                    if cid == TIMESTAMP {
                        cluster_ts = data.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
                    } else if cid == SIMPLE_BLOCK && data.len() >= 4 {
                        let rel = i16::from_be_bytes([data[1], data[2]]);
                        let ts = cluster_ts.saturating_add_signed(i64::from(rel));
                        if let Some(l) = last_ts
                            && ts > l
                        {
                            frame_ms = (ts - l).min(100);
                        }
                        last_ts = Some(ts);
                        found.frames += 1;
                    }
                    cur.set_position(start + ch + csize);
                }
            }
            _ => {}
        }
        at = end;
        found.valid_len = at;
    }
    found.media_ms = last_ts.map_or(0, |t| t + frame_ms);
    if let Some((offset, _)) = found.patch {
        found.patch = Some((offset, duration_element(found.media_ms)));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(frames: &[(u64, bool)], track: MkvTrack) -> (Vec<u8>, Finish) {
        let mut w = MkvWriter::new();
        let mut file = Vec::new();
        for (ts, key) in frames {
            w.frame(&track, *ts, *key, &[0xAB; 50], &mut file);
        }
        let fin = w.finish(&mut file);
        if let Some((at, patch)) = fin.patch {
            let at = usize::try_from(at).unwrap();
            file[at..at + DURATION_SLOT].copy_from_slice(&patch);
        }
        (file, fin)
    }

    #[test]
    fn a_finished_file_reads_back_whole() {
        let frames: Vec<(u64, bool)> = (0..500).map(|i| (i * 20, false)).collect();
        let (file, fin) = write(&frames, MkvTrack::Opus);
        assert_eq!(fin.media_ms, 10_000);
        assert_eq!(fin.frames, 500);
        let r = recover(&mut std::io::Cursor::new(&file)).unwrap();
        assert_eq!(r.valid_len, file.len() as u64);
        assert_eq!(r.frames, 500);
        assert_eq!(r.media_ms, 10_000);
        assert_eq!(r.patch, None, "the duration is in place");
    }

    #[test]
    fn a_file_cut_mid_cluster_recovers_to_its_last_whole_cluster() {
        let frames: Vec<(u64, bool)> = (0..300).map(|i| (i * 33, i % 90 == 0)).collect();
        let track = MkvTrack::Vp8 {
            width: 640,
            height: 480,
        };
        let mut w = MkvWriter::new();
        let mut file = Vec::new();
        for (ts, key) in &frames {
            w.frame(&track, *ts, *key, &[0x11; 900], &mut file);
        }
        // A crash: no finish, and the last write only half done.
        let whole = file.len();
        let mut tail = Vec::new();
        w.finish(&mut tail);
        file.extend_from_slice(&tail[..tail.len() / 2]);
        let r = recover(&mut std::io::Cursor::new(&file)).unwrap();
        assert_eq!(r.valid_len, whole as u64);
        assert!(r.frames > 0 && r.frames < 300);
        assert!(r.patch.is_some(), "the duration is still to be written");
        // Clusters close on the keyframes at 0, 2970 and 5940 ms (after 1 s), or after 5 s.
        assert_eq!(r.media_ms % 33, 0);
    }

    #[test]
    fn not_ours_is_an_error() {
        assert!(recover(&mut std::io::Cursor::new(b"hello world".to_vec())).is_err());
        assert!(recover(&mut std::io::Cursor::new(Vec::new())).is_err());
    }
}
