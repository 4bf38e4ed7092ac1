//! Recording a published track: its RTP packets (one layer of it, chosen and switched like a
//! subscriber's by a [`Forwarder`]) become frames — Opus packets as they are, VP8 frames and H.264
//! access units reassembled from their packets in sequence order (H.264 depacketised into AVCC
//! samples by [`crate::h264`]) — and the frames become Matroska ([`MkvWriter`]), never decoded.
//! Loss and reordering are absorbed: packets wait in sequence order until their frame is whole; a
//! frame that cannot be completed is dropped, and video then waits for (and asks for) the next
//! keyframe, so the file never holds a frame whose reference is missing.
//!
//! Sans-IO: packets and times in, bytes to append out (the driver's writer owns the files).

use std::collections::BTreeMap;
use std::time::Instant;

use vroom_domain::recording::RecordingCodec;
use vroom_domain::sid::{RecordingSid, TrackSid};

use crate::forward::{Forwarder, InPacket};
use crate::h264;
use crate::mkv::{Finish, MkvTrack, MkvWriter};

/// Packets a video frame may wait for a missing one before it is given up.
const REORDER_WINDOW: u64 = 120;
/// A jump of the sequence this large is a new stream (renegotiation), not loss.
const SEQUENCE_RESET: u64 = 3000;
/// Simulcast layers do not all start at once: a recording of a simulcast track starts this long
/// after its first packet, on a keyframe of the best layer then sent (the file's frame size is its
/// first keyframe's).
const SIMULCAST_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);
/// Media time and arrival time may drift apart this much before the timeline is re-anchored on
/// arrival (a new stream's timestamps, a pause).
const MAX_DRIFT_MS: i64 = 2000;

/// The video codecs frames are reassembled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VideoFormat {
    Vp8,
    H264,
}

/// One frame ready for the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// RTP timestamp (continuous, from the forwarder).
    pub ts: u32,
    pub keyframe: bool,
    /// VP8: the frame; H.264: the access unit in AVCC samples.
    pub data: Vec<u8>,
    /// H.264: the last SPS and PPS the access unit carried.
    pub sps: Option<Vec<u8>>,
    pub pps: Option<Vec<u8>>,
    pub arrival: Instant,
}

#[derive(Debug, Clone)]
struct Packet {
    ts: u32,
    marker: bool,
    /// Starts a frame (VP8: S=1, partition 0; H.264: see [`h264::starts_access_unit`]).
    start: bool,
    /// VP8: the payload after its descriptor; H.264: the whole payload.
    data: Vec<u8>,
    arrival: Instant,
}

/// The VP8 payload descriptor (RFC 7741 4.2): (starts a frame, its length).
fn vp8_descriptor(payload: &[u8]) -> Option<(bool, usize)> {
    let first = *payload.first()?;
    let start = first & 0x10 != 0 && first & 0x07 == 0;
    let mut at = 1;
    if first & 0x80 != 0 {
        let ext = *payload.get(1)?;
        at = 2;
        if ext & 0x80 != 0 {
            at += if payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1;
        }
        if ext & 0x30 != 0 {
            at += 1;
        }
    }
    (at <= payload.len()).then_some((start, at))
}

/// The size a VP8 keyframe announces (RFC 6386 9.1), from the frame's first bytes.
fn vp8_size(frame: &[u8]) -> Option<(u32, u32)> {
    let f = frame.get(..10)?;
    if f[0] & 0x01 != 0 || f[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    Some((
        u32::from(u16::from_le_bytes([f[6], f[7]]) & 0x3fff),
        u32::from(u16::from_le_bytes([f[8], f[9]]) & 0x3fff),
    ))
}

/// Reassembles video frames from packets that may be lost or out of order. A frame is the run of
/// packets of one timestamp from a start to a marker, with no sequence number missing.
#[derive(Debug)]
pub(crate) struct FrameAssembler {
    format: VideoFormat,
    pending: BTreeMap<u64, Packet>,
    /// The sequence number the next frame starts at, once one was emitted.
    next: Option<u64>,
    /// Something was lost: only a keyframe may come next.
    need_keyframe: bool,
    /// Frames dropped because of loss.
    pub dropped: u64,
}

impl FrameAssembler {
    pub fn new(format: VideoFormat) -> Self {
        Self {
            format,
            pending: BTreeMap::new(),
            next: None,
            need_keyframe: false,
            dropped: 0,
        }
    }

    /// Takes one packet; returns the frames it completed, in order. `lost` becomes true when a
    /// frame had to be given up (ask the publisher for a keyframe).
    pub fn push(
        &mut self,
        seq: u64,
        ts: u32,
        marker: bool,
        payload: &[u8],
        arrival: Instant,
        lost: &mut bool,
    ) -> Vec<Frame> {
        let (start, skip) = match self.format {
            VideoFormat::Vp8 => {
                let Some(d) = vp8_descriptor(payload) else {
                    return Vec::new();
                };
                d
            }
            VideoFormat::H264 => {
                if payload.is_empty() {
                    // Padding.
                    return Vec::new();
                }
                (h264::starts_access_unit(payload), 0)
            }
        };
        if let Some(next) = self.next {
            if seq < next {
                // Late, for a frame already written or given up.
                return Vec::new();
            }
            if seq - next > SEQUENCE_RESET {
                self.pending.clear();
                self.next = None;
                self.need_keyframe = true;
            }
        }
        self.pending.insert(
            seq,
            Packet {
                ts,
                marker,
                start,
                data: payload[skip..].to_vec(),
                arrival,
            },
        );
        let mut frames = Vec::new();
        while let Some(f) = self.take_frame(lost) {
            frames.push(f);
        }
        frames
    }

    /// The frame at the head of the buffer, if it is whole; gives up on the head when the window is
    /// exceeded.
    fn take_frame(&mut self, lost: &mut bool) -> Option<Frame> {
        loop {
            let (first, head_start, ts, head_arrival) = {
                let (&first, head) = self.pending.first_key_value()?;
                // After a whole H.264 access unit the next packet starts one by its place, whatever
                // its first NAL unit is.
                let placed = self.format == VideoFormat::H264 && self.next == Some(first);
                (first, head.start || placed, head.ts, head.arrival)
            };
            let newest = *self.pending.last_key_value()?.0;
            let overflow = newest - first > REORDER_WINDOW;
            let contiguous = self.next.is_none_or(|n| n == first);
            if !head_start {
                if overflow || self.next == Some(first) {
                    // Its frame's start was lost.
                    self.give_up_head(lost);
                    continue;
                }
                return None;
            }
            if !contiguous && !overflow {
                // Something before it may still arrive.
                return None;
            }
            if !contiguous {
                self.mark_lost(lost);
            }
            let mut end = None;
            for (expect, (&s, p)) in (first..).zip(self.pending.range(first..)) {
                // A VP8 frame has one start; an H.264 access unit may have several packets that
                // could start one (an SPS, a PPS, then the slice), so only its timestamp bounds it.
                let restart = self.format == VideoFormat::Vp8 && s != first && p.start;
                if s != expect || p.ts != ts || restart {
                    break;
                }
                if p.marker {
                    end = Some(s);
                    break;
                }
            }
            let Some(end) = end else {
                if overflow {
                    self.give_up_head(lost);
                    continue;
                }
                return None;
            };
            let mut parts = Vec::new();
            let mut arrival = head_arrival;
            for s in first..=end {
                if let Some(p) = self.pending.remove(&s) {
                    parts.push(p.data);
                    arrival = arrival.max(p.arrival);
                }
            }
            self.next = Some(end + 1);
            let (data, keyframe, sps, pps) = match self.format {
                VideoFormat::Vp8 => {
                    let data = parts.concat();
                    let keyframe = data.first().is_some_and(|b| b & 0x01 == 0);
                    (data, keyframe, None, None)
                }
                VideoFormat::H264 => match h264::depacketize(parts.iter().map(Vec::as_slice)) {
                    Ok(au) => (au.avcc, au.idr, au.sps, au.pps),
                    Err(_) => {
                        // Whole in sequence but not in content: as good as lost.
                        self.mark_lost(lost);
                        self.dropped += 1;
                        continue;
                    }
                },
            };
            if self.need_keyframe && !keyframe {
                self.dropped += 1;
                continue;
            }
            self.need_keyframe = false;
            return Some(Frame {
                ts,
                keyframe,
                data,
                sps,
                pps,
                arrival,
            });
        }
    }

    fn mark_lost(&mut self, lost: &mut bool) {
        self.need_keyframe = true;
        *lost = true;
    }

    /// Drops the head packet and everything up to the next frame start.
    fn give_up_head(&mut self, lost: &mut bool) {
        self.mark_lost(lost);
        self.dropped += 1;
        if let Some((first, head)) = self.pending.pop_first() {
            // The next frame's start: a packet of the head's own frame cannot be one.
            let next_start = self
                .pending
                .iter()
                .find(|(_, p)| p.start && p.ts != head.ts)
                .map(|(s, _)| *s);
            match next_start {
                Some(s) => {
                    self.pending.retain(|k, _| *k >= s);
                    self.next = Some(s);
                }
                None => {
                    self.pending.clear();
                    self.next = Some(first + 1);
                }
            }
        }
    }
}

/// Maps RTP timestamps to milliseconds from the recording's start, re-anchoring on arrival times
/// when they disagree (a new stream after renegotiation, a long pause).
#[derive(Debug, Default)]
struct Timeline {
    /// (extended RTP timestamp, ms) of the last frame, and when it arrived.
    last: Option<(u64, u64, Instant)>,
}

impl Timeline {
    fn map(&mut self, ts: u32, clock_rate: u32, arrival: Instant) -> Option<u64> {
        let rate = u64::from(clock_rate.max(1));
        let Some((last_ext, last_ms, last_at)) = self.last else {
            self.last = Some((u64::from(ts), 0, arrival));
            return Some(0);
        };
        // The nearest extension of `ts` around the last one (RTP timestamps wrap).
        #[allow(clippy::cast_possible_truncation)]
        let delta = i64::from(ts.wrapping_sub(last_ext as u32) as i32);
        let media = delta * 1000 / i64::try_from(rate).unwrap_or(1);
        let wall = i64::try_from(arrival.saturating_duration_since(last_at).as_millis())
            .unwrap_or(i64::MAX);
        let (ext, ms) = if (media - wall).abs() > MAX_DRIFT_MS {
            // Re-anchor: this frame is as far after the last as its arrival is.
            (
                u64::from(ts),
                last_ms + u64::try_from(wall.max(1)).unwrap_or(1),
            )
        } else if media < 0 {
            return None;
        } else {
            (
                last_ext.saturating_add_signed(delta),
                last_ms + u64::try_from(media).unwrap_or(0),
            )
        };
        self.last = Some((ext, ms, arrival));
        Some(ms)
    }
}

/// One recording of one track.
#[derive(Debug)]
pub(crate) struct TrackRecorder {
    pub recording: RecordingSid,
    /// The track recorded.
    pub track: TrackSid,
    /// What the recording says it holds: packets of another codec are not written.
    pub codec: RecordingCodec,
    /// When its last packet with a payload came (the recording's start before any): what media
    /// warnings watch.
    pub last_media: Instant,
    fwd: Forwarder,
    /// Video: the frames being reassembled.
    frames: Option<FrameAssembler>,
    timeline: Timeline,
    writer: MkvWriter,
    /// The file's track, once its first keyframe (and for H.264 its SPS and PPS) came.
    mkv: Option<MkvTrack>,
    /// H.264: the last SPS and PPS seen, for the first keyframe if it came without them.
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    /// The last audio timestamp written (audio packets that come late are dropped).
    last_ms: Option<u64>,
    /// When the first packet came.
    first_seen: Option<Instant>,
}

/// What one packet asks of the core.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Bytes to append to the file.
    pub bytes: Vec<u8>,
    /// Ask the publisher for a keyframe of this layer.
    pub want_keyframe: Option<usize>,
}

impl TrackRecorder {
    pub fn new(
        recording: RecordingSid,
        track: TrackSid,
        codec: RecordingCodec,
        now: Instant,
    ) -> Self {
        let format = match codec {
            RecordingCodec::Opus => None,
            RecordingCodec::Vp8 => Some(VideoFormat::Vp8),
            RecordingCodec::H264 => Some(VideoFormat::H264),
        };
        Self {
            recording,
            track,
            codec,
            last_media: now,
            fwd: Forwarder::new(format.is_some()),
            frames: format.map(FrameAssembler::new),
            timeline: Timeline::default(),
            writer: MkvWriter::new(),
            mkv: None,
            sps: None,
            pps: None,
            last_ms: None,
            first_seen: None,
        }
    }

    /// A packet of the track (of `layers` layers); `wanted` is the layer to record (the best one
    /// sent).
    pub fn on_packet(
        &mut self,
        p: &InPacket,
        wanted: usize,
        layers: usize,
        marker: bool,
        payload: &[u8],
    ) -> Recorded {
        let mut out = Recorded::default();
        let first = *self.first_seen.get_or_insert(p.arrival);
        if layers > 1
            && self.fwd.current_layer().is_none()
            && p.arrival.saturating_duration_since(first) < SIMULCAST_SETTLE
        {
            return out;
        }
        let verdict = self.fwd.on_packet(p, wanted);
        out.want_keyframe = verdict.want_keyframe;
        let Some(rewrite) = verdict.forward else {
            return out;
        };
        let Some(assembler) = &mut self.frames else {
            if payload.is_empty() {
                return out;
            }
            let Some(ms) = self.timeline.map(rewrite.ts, p.clock_rate, p.arrival) else {
                return out;
            };
            if self.last_ms.is_some_and(|l| ms < l) {
                return out;
            }
            self.last_ms = Some(ms);
            self.writer
                .frame(&MkvTrack::Opus, ms, true, payload, &mut out.bytes);
            return out;
        };
        let mut lost = false;
        let frames = assembler.push(
            rewrite.seq,
            rewrite.ts,
            marker,
            payload,
            p.arrival,
            &mut lost,
        );
        if lost {
            out.want_keyframe = Some(p.layer);
        }
        for f in frames {
            if self.mkv.is_none() {
                self.mkv = self.first_track(&f);
                if self.mkv.is_none() {
                    // Nothing before the first keyframe the file's header can be made of.
                    if f.keyframe {
                        out.want_keyframe = Some(p.layer);
                    }
                    continue;
                }
            }
            let Some(ms) = self.timeline.map(f.ts, p.clock_rate, f.arrival) else {
                continue;
            };
            if let Some(track) = &self.mkv {
                self.writer
                    .frame(track, ms, f.keyframe, &f.data, &mut out.bytes);
            }
        }
        out
    }

    /// The file's track, if `f` can be its first frame: a VP8 keyframe announcing its size, or an
    /// H.264 IDR access unit with an SPS and a PPS (its own, or the last ones before it).
    fn first_track(&mut self, f: &Frame) -> Option<MkvTrack> {
        if f.sps.is_some() {
            self.sps.clone_from(&f.sps);
        }
        if f.pps.is_some() {
            self.pps.clone_from(&f.pps);
        }
        if !f.keyframe {
            return None;
        }
        if self.codec != RecordingCodec::H264 {
            let (width, height) = vp8_size(&f.data)?;
            return Some(MkvTrack::Vp8 { width, height });
        }
        let (sps, pps) = (self.sps.as_deref()?, self.pps.as_deref()?);
        let (width, height) = h264::sps_size(sps)?;
        Some(MkvTrack::H264 {
            width,
            height,
            avcc: h264::avcc_record(sps, pps)?,
        })
    }

    /// The end of the recording: the last bytes and the finishing patch.
    pub fn finish(&mut self) -> (Vec<u8>, Finish) {
        let mut bytes = Vec::new();
        let fin = self.writer.finish(&mut bytes);
        (bytes, fin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet of a VP8 frame: descriptor (S on the first packet), then the frame's bytes.
    fn packet(first: bool, body: &[u8]) -> Vec<u8> {
        let mut p = vec![if first { 0x10 } else { 0x00 }];
        p.extend_from_slice(body);
        p
    }

    /// Frame `n` in `parts` packets: (seq, ts, marker, payload).
    fn frame_packets(n: u32, key: bool, parts: u64, seq0: u64) -> Vec<(u64, u32, bool, Vec<u8>)> {
        (0..parts)
            .map(|i| {
                let mut body = vec![u8::try_from(n % 250).unwrap(); 10];
                if i == 0 {
                    body[0] = if key { 0x00 } else { 0x01 };
                }
                (seq0 + i, n * 3000, i == parts - 1, packet(i == 0, &body))
            })
            .collect()
    }

    fn feed(a: &mut FrameAssembler, packets: &[(u64, u32, bool, Vec<u8>)]) -> (Vec<Frame>, bool) {
        let now = Instant::now();
        let mut lost = false;
        let mut frames = Vec::new();
        for (seq, ts, marker, p) in packets {
            frames.extend(a.push(*seq, *ts, *marker, p, now, &mut lost));
        }
        (frames, lost)
    }

    #[test]
    fn frames_are_reassembled_in_order_despite_reordering() {
        let mut packets = Vec::new();
        for n in 0..10u32 {
            packets.extend(frame_packets(n, n == 0, 3, u64::from(n) * 3));
        }
        // Swap neighbours across frame borders.
        for i in (0..packets.len() - 1).step_by(4) {
            packets.swap(i, i + 1);
        }
        let mut a = FrameAssembler::new(VideoFormat::Vp8);
        let (frames, lost) = feed(&mut a, &packets);
        assert!(!lost);
        assert_eq!(frames.len(), 10);
        for (n, f) in frames.iter().enumerate() {
            assert_eq!(f.ts, u32::try_from(n).unwrap() * 3000);
            assert_eq!(f.data.len(), 30, "three packets of ten bytes");
        }
        assert!(frames[0].keyframe && !frames[1].keyframe);
    }

    #[test]
    fn a_lost_packet_drops_frames_until_the_next_keyframe() {
        let mut packets = Vec::new();
        for n in 0..40u32 {
            packets.extend(frame_packets(n, n == 0 || n == 30, 4, u64::from(n) * 4));
        }
        // Lose the second packet of frame 5.
        packets.retain(|(seq, ..)| *seq != 21);
        let mut a = FrameAssembler::new(VideoFormat::Vp8);
        let (frames, lost) = feed(&mut a, &packets);
        assert!(lost, "the loss asks for a keyframe");
        let got: Vec<u32> = frames.iter().map(|f| f.ts / 3000).collect();
        let want: Vec<u32> = (0..5).chain(30..40).collect();
        assert_eq!(got, want, "frames 5..30 depend on the lost one");
        assert!(frames[5].keyframe);
    }

    #[test]
    fn a_new_stream_after_renegotiation_restarts_on_its_keyframe() {
        let mut packets = frame_packets(0, true, 2, 100);
        packets.extend(frame_packets(1, false, 2, 102));
        // A new stream: far away sequence numbers, starting with a delta frame, then a keyframe.
        packets.extend(frame_packets(2, false, 2, 50_000));
        packets.extend(frame_packets(3, true, 2, 50_002));
        let mut a = FrameAssembler::new(VideoFormat::Vp8);
        let (frames, _) = feed(&mut a, &packets);
        let got: Vec<u32> = frames.iter().map(|f| f.ts / 3000).collect();
        assert_eq!(got, [0, 1, 3]);
    }

    /// H.264 access unit `n` as packets from `seq0`: a keyframe is a STAP-A (SPS, PPS) and an IDR
    /// slice in three FU-A fragments; a delta frame is a slice in three.
    fn h264_packets(n: u32, key: bool, seq0: u64) -> Vec<(u64, u32, bool, Vec<u8>)> {
        let mut payloads = Vec::new();
        if key {
            let mut stap = vec![0x78];
            for nal in [&[0x67, 0x42, 0xc0, 0x1e, 0xd9][..], &[0x68, 0xcb, 0x83]] {
                stap.extend_from_slice(&u16::try_from(nal.len()).unwrap().to_be_bytes());
                stap.extend_from_slice(nal);
            }
            payloads.push(stap);
        }
        let kind = if key { 5 } else { 1 };
        let parts = 3;
        for i in 0..parts {
            let mut fu = kind;
            if i == 0 {
                fu |= 0x80;
            }
            if i == parts - 1 {
                fu |= 0x40;
            }
            // The slice header starts with first_mb_in_slice 0 (the bit 1).
            let mut p = vec![0x7c, fu, if i == 0 { 0x88 } else { 0x11 }];
            p.extend(std::iter::repeat_n(u8::try_from(n % 250).unwrap(), 20));
            payloads.push(p);
        }
        let last = payloads.len() - 1;
        payloads
            .into_iter()
            .enumerate()
            .map(|(i, p)| (seq0 + i as u64, n * 3000, i == last, p))
            .collect()
    }

    fn h264_stream(frames: u32, keys: &[u32]) -> Vec<(u64, u32, bool, Vec<u8>)> {
        let mut packets = Vec::new();
        for n in 0..frames {
            let seq0 = packets.len() as u64 + 10;
            packets.extend(h264_packets(n, keys.contains(&n), seq0));
        }
        packets
    }

    #[test]
    fn h264_access_units_are_reassembled_into_avcc_despite_reordering() {
        let mut packets = h264_stream(10, &[0]);
        for i in (0..packets.len() - 1).step_by(3) {
            packets.swap(i, i + 1);
        }
        let mut a = FrameAssembler::new(VideoFormat::H264);
        let (frames, lost) = feed(&mut a, &packets);
        assert!(!lost);
        assert_eq!(frames.len(), 10);
        let key = &frames[0];
        assert!(key.keyframe && !frames[1].keyframe);
        // SPS (5 bytes), PPS (3), then the IDR slice: its header byte and three fragments' bodies.
        assert_eq!(&key.data[..4], &[0, 0, 0, 5]);
        assert_eq!(&key.data[9..13], &[0, 0, 0, 3]);
        assert_eq!(&key.data[16..20], &[0, 0, 0, 1 + 3 * 21]);
        assert_eq!(
            key.data[20], 0x65,
            "F and NRI of the indicator, type of the FU header"
        );
        assert_eq!(
            (
                key.sps.as_ref().unwrap().len(),
                key.pps.as_ref().unwrap().len()
            ),
            (5, 3)
        );
        for (n, f) in frames.iter().enumerate() {
            assert_eq!(f.ts, u32::try_from(n).unwrap() * 3000);
        }
    }

    #[test]
    fn a_lost_h264_fragment_drops_its_frame_until_the_next_idr() {
        let mut packets = h264_stream(80, &[0, 60]);
        // Lose the middle fragment of frame 5 (the keyframe is four packets, a delta frame three).
        packets.retain(|(seq, ..)| *seq != 10 + 4 + 4 * 3 + 1);
        let mut a = FrameAssembler::new(VideoFormat::H264);
        let (frames, lost) = feed(&mut a, &packets);
        assert!(lost, "the loss asks for a keyframe");
        let got: Vec<u32> = frames.iter().map(|f| f.ts / 3000).collect();
        let want: Vec<u32> = (0..5).chain(60..80).collect();
        assert_eq!(got, want, "frames 5..60 depend on the lost one");
        assert!(frames[5].keyframe);
    }

    #[test]
    fn an_h264_access_unit_without_its_fragment_end_is_dropped_not_glued_to_the_next() {
        // Frame 1's end fragment is lost, and with it its marker; frame 2 is an IDR.
        let mut packets = h264_stream(60, &[0, 2]);
        packets.retain(|(seq, ..)| *seq != 10 + 4 + 2);
        let mut a = FrameAssembler::new(VideoFormat::H264);
        let (frames, lost) = feed(&mut a, &packets);
        assert!(lost);
        let got: Vec<u32> = frames.iter().map(|f| f.ts / 3000).collect();
        let want: Vec<u32> = [0].into_iter().chain(2..60).collect();
        assert_eq!(got, want, "frame 1 dropped, the IDR of frame 2 resumes");
        assert!(frames[1].keyframe);
        // The IDR's own packets are whole: the STAP-A and three fragments.
        assert_eq!(frames[1].data.len(), 9 + 7 + 4 + 1 + 3 * 21);
    }

    #[test]
    fn the_timeline_follows_rtp_and_reanchors_on_jumps() {
        let t0 = Instant::now();
        let ms = std::time::Duration::from_millis;
        let mut t = Timeline::default();
        assert_eq!(t.map(1000, 48_000, t0), Some(0));
        assert_eq!(t.map(1000 + 960, 48_000, t0 + ms(20)), Some(20));
        // Wrap-around of the 32-bit timestamp.
        let mut w = Timeline::default();
        assert_eq!(w.map(u32::MAX - 479, 48_000, t0), Some(0));
        assert_eq!(w.map(480, 48_000, t0 + ms(20)), Some(20));
        // A new stream's random timestamps, 40 ms later by the clock.
        assert_eq!(t.map(5_000_000, 48_000, t0 + ms(60)), Some(60));
        assert_eq!(t.map(5_000_960, 48_000, t0 + ms(80)), Some(80));
        // Late audio (before the last) is refused.
        assert_eq!(t.map(5_000_000, 48_000, t0 + ms(85)), None);
    }
}
