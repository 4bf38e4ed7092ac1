//! Forwarding one published track to one subscriber at the RTP level: which of the publisher's
//! layers (simulcast streams) goes out, and the rewriting that makes what the subscriber receives one
//! continuous stream (its own SSRC, contiguous sequence numbers, continuous timestamps and VP8
//! picture ids) whatever layer it comes from.
//!
//! A switch of layer (or the very first packet of video) only happens on a keyframe of the layer
//! switched to, so the subscriber's decoder never sees a frame that refers to one it did not get.
//! While a switch waits for its keyframe, the current layer keeps flowing and the forwarder asks for
//! a keyframe of the wanted layer (the caller throttles those requests).
//!
//! Sans-IO: packets, the wanted layer and arrival times come in; verdicts come out.

use std::time::Instant;

use str0m::rtp::{Vp8Descriptor, Vp8Patch};

/// What the forwarder needs of an incoming packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InPacket {
    /// Which of the track's layers it belongs to (0 is the lowest).
    pub layer: usize,
    /// Extended sequence number within its layer's stream.
    pub seq: u64,
    /// RTP timestamp.
    pub ts: u32,
    /// Clock rate of its codec (Hz).
    pub clock_rate: u32,
    /// Whether it starts a keyframe (video).
    pub keyframe: bool,
    /// Its VP8 payload descriptor, for VP8.
    pub vp8: Option<Vp8Descriptor>,
    /// When it arrived.
    pub arrival: Instant,
}

/// How to send a forwarded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rewrite {
    /// Sequence number towards the subscriber (extended).
    pub seq: u64,
    /// RTP timestamp towards the subscriber.
    pub ts: u32,
    /// The VP8 descriptor rewrite, when picture ids need continuing.
    pub vp8: Option<Vp8Patch>,
}

/// The decision for one incoming packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    /// Send it, rewritten so.
    pub forward: Option<Rewrite>,
    /// Ask the publisher for a keyframe of this layer (a switch or a start waits for one).
    pub want_keyframe: Option<usize>,
}

/// The offsets applied to the layer currently forwarded, from the packet that started it on.
#[derive(Debug, Clone, Copy)]
struct Epoch {
    layer: usize,
    first_seq: u64,
    seq_offset: i64,
    ts_offset: u32,
    picture_offset: u16,
    tl0_offset: u8,
    key_idx_offset: u8,
}

/// The last packet sent (the highest sequence number so far).
#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u64,
    ts: u32,
    at: Instant,
    picture_id: Option<u16>,
    tl0: Option<u8>,
    key_idx: Option<u8>,
}

/// One track towards one subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Forwarder {
    video: bool,
    epoch: Option<Epoch>,
    sent: Option<Sent>,
}

const PICTURE_ID_MASK: u16 = 0x7fff;

impl Forwarder {
    pub fn new(video: bool) -> Self {
        Self {
            video,
            epoch: None,
            sent: None,
        }
    }

    /// The layer being forwarded, if any.
    pub fn current_layer(&self) -> Option<usize> {
        self.epoch.map(|e| e.layer)
    }

    /// Forget the layer being forwarded: the next packet sent starts on a keyframe again (used when
    /// the subscriber's connection is new, so nothing it was sent before reached it). Continuity of
    /// the numbering is kept.
    pub fn restart(&mut self) {
        self.epoch = None;
    }

    /// Decides what happens to `p`, given the layer the subscriber should get.
    pub fn on_packet(&mut self, p: &InPacket, wanted: usize) -> Verdict {
        let current = self.epoch.map(|e| e.layer);
        let mut verdict = Verdict::default();
        if current != Some(wanted) && self.video {
            verdict.want_keyframe = Some(wanted);
        }
        if p.layer == wanted && current != Some(wanted) && (!self.video || p.keyframe) {
            self.start_epoch(p);
            verdict.want_keyframe = None;
            verdict.forward = Some(self.rewrite(p));
            return verdict;
        }
        match self.epoch {
            // An older packet of this layer from before the epoch began (reordered or repaired): its
            // frame was never started towards the subscriber.
            Some(e) if e.layer == p.layer && p.seq < e.first_seq => verdict,
            Some(e) if e.layer == p.layer => {
                verdict.forward = Some(self.rewrite(p));
                verdict
            }
            _ => verdict,
        }
    }

    fn start_epoch(&mut self, p: &InPacket) {
        let vp8 = p.vp8.as_ref();
        let (seq_offset, ts_offset, picture_offset, tl0_offset, key_idx_offset) = match self.sent {
            None => (0, 0, 0, 0, 0),
            Some(s) => {
                let next_seq = s.seq + 1;
                let elapsed = p.arrival.saturating_duration_since(s.at);
                let ticks = (elapsed.as_secs_f64() * f64::from(p.clock_rate)).round();
                // At least one tick on: the subscriber must see time move forward.
                let step = if ticks >= 1.0 && ticks < f64::from(u32::MAX / 2) {
                    // Rounded and range-checked above.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let t = ticks as u32;
                    t
                } else {
                    1
                };
                let ts = s.ts.wrapping_add(step);
                let picture = match (s.picture_id, vp8.and_then(Vp8Descriptor::picture_id)) {
                    (Some(last), Some(now)) => {
                        last.wrapping_add(1).wrapping_sub(now) & PICTURE_ID_MASK
                    }
                    _ => 0,
                };
                let tl0 = match (s.tl0, vp8.and_then(Vp8Descriptor::tl0_pic_idx)) {
                    (Some(last), Some(now)) => last.wrapping_add(1).wrapping_sub(now),
                    _ => 0,
                };
                let key_idx = match (s.key_idx, vp8.and_then(Vp8Descriptor::key_idx)) {
                    (Some(last), Some(now)) => last.wrapping_add(1).wrapping_sub(now) & 0x1f,
                    _ => 0,
                };
                // Sequence numbers are 48-bit extended values; the difference fits an i64.
                #[allow(clippy::cast_possible_wrap)]
                let offset = next_seq as i64 - p.seq as i64;
                (offset, ts.wrapping_sub(p.ts), picture, tl0, key_idx)
            }
        };
        self.epoch = Some(Epoch {
            layer: p.layer,
            first_seq: p.seq,
            seq_offset,
            ts_offset,
            picture_offset,
            tl0_offset,
            key_idx_offset,
        });
    }

    fn rewrite(&mut self, p: &InPacket) -> Rewrite {
        let Some(e) = self.epoch else {
            // Callers only rewrite within an epoch.
            return Rewrite {
                seq: p.seq,
                ts: p.ts,
                vp8: None,
            };
        };
        #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
        let seq = (p.seq as i64 + e.seq_offset).max(0) as u64;
        let ts = p.ts.wrapping_add(e.ts_offset);
        let mut picture_id = None;
        let mut tl0 = None;
        let mut key_idx = None;
        let mut patch = None;
        if let Some(d) = &p.vp8 {
            picture_id = d
                .picture_id()
                .map(|v| v.wrapping_add(e.picture_offset) & PICTURE_ID_MASK);
            tl0 = d.tl0_pic_idx().map(|v| v.wrapping_add(e.tl0_offset));
            key_idx = d.key_idx().map(|v| v.wrapping_add(e.key_idx_offset) & 0x1f);
            let rewritten = e.picture_offset != 0 || e.tl0_offset != 0 || e.key_idx_offset != 0;
            if rewritten {
                let mut builder = d.patch();
                if let Some(v) = picture_id {
                    builder = builder.picture_id(v);
                }
                if let Some(v) = tl0 {
                    builder = builder.tl0_pic_idx(v);
                }
                if let Some(v) = key_idx {
                    builder = builder.key_idx(v);
                }
                // A 7-bit picture id cannot take every value: such a stream goes out unpatched.
                patch = builder.build().ok();
            }
        }
        if self.sent.is_none_or(|s| seq > s.seq) {
            self.sent = Some(Sent {
                seq,
                ts,
                at: p.arrival,
                picture_id,
                tl0,
                key_idx,
            });
        }
        Rewrite {
            seq,
            ts,
            vp8: patch,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn video(layer: usize, seq: u64, ts: u32, keyframe: bool, at: Instant) -> InPacket {
        InPacket {
            layer,
            seq,
            ts,
            clock_rate: 90_000,
            keyframe,
            vp8: None,
            arrival: at,
        }
    }

    #[test]
    fn video_starts_on_a_keyframe_of_the_wanted_layer() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(true);
        let v = f.on_packet(&video(0, 100, 1000, false, t0), 0);
        assert_eq!(v.forward, None, "no keyframe yet");
        assert_eq!(v.want_keyframe, Some(0));
        let v = f.on_packet(&video(0, 101, 4000, true, t0), 0);
        assert_eq!(
            v.forward.map(|r| (r.seq, r.ts)),
            Some((101, 4000)),
            "the first stream goes out unchanged"
        );
        assert_eq!(v.want_keyframe, None);
        let v = f.on_packet(&video(0, 102, 7000, false, t0), 0);
        assert_eq!(v.forward.map(|r| r.seq), Some(102));
        assert_eq!(
            f.on_packet(&video(1, 5000, 1, true, t0), 0).forward,
            None,
            "another layer is not sent"
        );
    }

    #[test]
    fn a_switch_waits_for_a_keyframe_and_keeps_numbering_continuous() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(true);
        f.on_packet(&video(0, 10, 90_000, true, t0), 0);
        f.on_packet(&video(0, 11, 93_000, false, t0), 0);
        // The high layer is wanted now: layer 0 keeps flowing until layer 2 has a keyframe.
        let v = f.on_packet(&video(2, 7000, 500, false, t0), 2);
        assert_eq!((v.forward, v.want_keyframe), (None, Some(2)));
        let v = f.on_packet(&video(0, 12, 96_000, false, t0), 2);
        assert_eq!(v.forward.map(|r| r.seq), Some(12));
        assert_eq!(v.want_keyframe, Some(2));
        let later = t0 + Duration::from_millis(33);
        let v = f.on_packet(&video(2, 7001, 3500, true, later), 2);
        let r = v.forward.expect("switched on the keyframe");
        assert_eq!(r.seq, 13, "sequence numbers go on from the last sent");
        assert_eq!(
            r.ts,
            96_000 + 2970,
            "timestamps move on by the time elapsed"
        );
        assert_eq!(f.current_layer(), Some(2));
        assert_eq!(
            f.on_packet(&video(0, 13, 99_000, false, later), 2).forward,
            None
        );
        let r = f.on_packet(&video(2, 7002, 6500, false, later), 2).forward;
        assert_eq!(r.map(|r| (r.seq, r.ts)), Some((14, 96_000 + 2970 + 3000)));
        // A packet of layer 2 from before the switch (reordered) is not sent.
        assert_eq!(
            f.on_packet(&video(2, 6999, 0, false, later), 2).forward,
            None
        );
    }

    #[test]
    fn audio_starts_at_once_and_repeated_packets_keep_their_numbers() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(false);
        let p = InPacket {
            clock_rate: 48_000,
            ..video(0, 40, 960, false, t0)
        };
        assert_eq!(f.on_packet(&p, 0).forward.map(|r| r.seq), Some(40));
        let late = InPacket { seq: 39, ..p };
        assert_eq!(
            f.on_packet(&late, 0).forward,
            None,
            "before the start: not sent"
        );
        assert_eq!(f.on_packet(&p, 0).forward.map(|r| r.seq), Some(40));
    }

    #[test]
    fn a_restart_waits_for_a_new_keyframe_and_continues_the_numbers() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(true);
        f.on_packet(&video(0, 500, 0, true, t0), 0);
        f.restart();
        assert_eq!(
            f.on_packet(&video(0, 501, 3000, false, t0), 0).forward,
            None
        );
        let r = f
            .on_packet(&video(0, 900, 9000, true, t0), 0)
            .forward
            .unwrap();
        assert_eq!(r.seq, 501);
    }
}
