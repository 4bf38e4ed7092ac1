//! RTP-level forwarding in the core: reading a publisher's packets (which track and layer, whether
//! they start a keyframe), handing them to the forwarder of every subscriber of the track, writing
//! what the forwarders let through, and asking publishers for keyframes of the right stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::format::{Codec, PayloadParams, detect_h264_keyframe};
use str0m::media::{KeyframeRequestKind, Mid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, StreamPaused, Vp8Descriptor};
use vroom_domain::recording::RecordingCodec;
use vroom_domain::sid::ParticipantSid;
use vroom_domain::track::TrackKind;

use crate::core::SfuCore;
use crate::forward::InPacket;
use crate::peer::{OutState, Peer};

/// Keyframes are asked of one stream at most this often (a request the publisher did not act on is
/// repeated while subscribers still wait).
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

/// A publisher's packet on its way to the subscribers of its track.
pub(crate) struct Forwarded {
    /// The publisher's peer connection (an index valid while the packet propagates).
    from: usize,
    publisher: ParticipantSid,
    /// The client's id of the track.
    track: String,
    /// The publisher's m-line carrying it.
    mid: Mid,
    packet: InPacket,
    /// The layer subscribers get when nothing limits them.
    wanted: usize,
    /// The layers being sent now (bit mask).
    active: u8,
    /// How many layers the track has (simulcast: more than one).
    layers: usize,
    video: bool,
    marker: bool,
    params: PayloadParams,
    ext: ExtensionValues,
    payload: Arc<[u8]>,
}

/// Reads a packet the client of `peer` sent: its track, layer and keyframe flag, noting the layer as
/// sent. `None` for packets of no published track (or of a codec we do not know).
pub(crate) fn ingress(
    peer: &mut Peer,
    from: usize,
    packet: RtpPacket,
    now: Instant,
) -> Option<Forwarded> {
    let ssrc = packet.header.ssrc;
    let (mid, rid) = {
        let mut api = peer.rtc.direct_api();
        let stream = api.stream_rx(&ssrc)?;
        (stream.mid(), stream.rid())
    };
    let params = *peer
        .rtc
        .codec_config()
        .find(|p| p.pt() == packet.header.payload_type)?;
    let incoming = peer.incoming.get_mut(&mid)?;
    let layer = incoming.layer_of(ssrc, rid.as_deref());
    incoming.layers[layer].last_packet = Some(now);
    incoming.layers[layer].bytes += u64::try_from(packet.payload.len()).unwrap_or(0);
    let wanted = incoming.best_layer(now);
    let active = incoming.active_mask(now);
    let payload = packet.payload;
    let (keyframe, vp8) = match params.spec().codec {
        Codec::Vp8 => {
            let descriptor = Vp8Descriptor::parse(&payload).ok();
            let keyframe = descriptor.is_some_and(|d| d.starts_keyframe(&payload));
            if keyframe && let Some((_, height)) = vp8_keyframe_size(&payload) {
                incoming.layers[layer].height = Some(height);
            }
            (keyframe, descriptor)
        }
        Codec::H264 => (detect_h264_keyframe(&payload), None),
        _ => (false, None),
    };
    let header = packet.header;
    let ext = ExtensionValues {
        audio_level: header.ext_vals.audio_level,
        voice_activity: header.ext_vals.voice_activity,
        video_orientation: header.ext_vals.video_orientation,
        ..ExtensionValues::default()
    };
    Some(Forwarded {
        from,
        publisher: peer.participant,
        track: incoming.track_id.clone(),
        mid,
        packet: InPacket {
            layer,
            seq: *packet.seq_no,
            ts: header.timestamp,
            clock_rate: params.spec().clock_rate.get(),
            keyframe,
            vp8,
            arrival: packet.timestamp,
        },
        wanted,
        active,
        layers: incoming.layers.len(),
        video: incoming.video,
        marker: header.marker,
        params,
        ext,
        payload,
    })
}

/// The width and height a VP8 keyframe's first packet announces (RFC 6386 9.1), after the RTP
/// payload descriptor (RFC 7741 4.2).
fn vp8_keyframe_size(payload: &[u8]) -> Option<(u32, u32)> {
    let first = *payload.first()?;
    let mut at = 1;
    if first & 0x80 != 0 {
        let ext = *payload.get(1)?;
        at = 2;
        if ext & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            at += if payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1;
        }
        if ext & 0x30 != 0 {
            at += 1;
        }
    }
    let frame = payload.get(at..at + 10)?;
    if frame[0] & 0x01 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    Some((width, height))
}

/// The layer to forward to a subscriber allowed up to `cap`: the highest sent layer not above it,
/// else the lowest sent layer, else `fallback`.
fn pick_layer(active: u8, cap: Option<usize>, fallback: usize) -> usize {
    let Some(cap) = cap else {
        return fallback;
    };
    (0..8)
        .rev()
        .find(|l| *l <= cap && active & (1 << l) != 0)
        .or_else(|| (0..8).find(|l| active & (1 << l) != 0))
        .unwrap_or(fallback)
}

/// A stream of the client stopped (or started again): a paused layer no longer counts as sent.
pub(crate) fn paused(peer: &mut Peer, paused: &StreamPaused) {
    if !paused.paused {
        return;
    }
    if let Some(incoming) = peer.incoming.get_mut(&paused.mid)
        && let Some(layer) = incoming
            .layers
            .iter_mut()
            .find(|l| l.ssrc == Some(paused.ssrc))
    {
        layer.last_packet = None;
    }
}

impl SfuCore {
    /// Recomputes who receives each published track.
    fn rebuild_routes(&mut self) {
        let mut routes: HashMap<ParticipantSid, HashMap<String, Vec<(usize, usize)>>> =
            HashMap::new();
        for (j, peer) in self.peers.iter().enumerate() {
            for (k, t) in peer.outgoing.iter().enumerate() {
                if t.state == OutState::Open && t.mid.is_some() && t.sub.kind != TrackKind::Data {
                    routes
                        .entry(t.sub.publisher)
                        .or_default()
                        .entry(t.sub.publisher_track_id.clone())
                        .or_default()
                        .push((j, k));
                }
            }
        }
        self.routes = routes;
        self.routes_stale = false;
    }

    /// Hands a publisher's packet to every subscriber of its track.
    pub(crate) fn forward_rtp(&mut self, f: &Forwarded, now: Instant) {
        if !f.video
            && let Some(level) = f.ext.audio_level
            && let Some(room) = self.peers.get(f.from).map(|p| p.room)
        {
            self.speakers
                .entry(room)
                .or_default()
                .level(f.publisher, level, now);
        }
        self.record_rtp(f, now);
        if self.routes_stale {
            self.rebuild_routes();
        }
        let Some(targets) = self
            .routes
            .get_mut(&f.publisher)
            .and_then(|m| m.get_mut(f.track.as_str()))
            .map(std::mem::take)
        else {
            return;
        };
        let mut want_keyframe = None;
        for &(j, k) in &targets {
            let peer = &mut self.peers[j];
            // Media written before the connection is up would be lost, and the forwarder would
            // think the keyframe it needs was sent.
            if !peer.rtc.is_connected() {
                continue;
            }
            let t = &mut peer.outgoing[k];
            if t.adapt.off {
                continue;
            }
            let wanted = pick_layer(f.active, t.adapt.cap, f.wanted);
            let verdict = t.fwd.on_packet(&f.packet, wanted);
            if verdict.want_keyframe.is_some() {
                want_keyframe = verdict.want_keyframe;
            }
            let (Some(rewrite), Some(mid)) = (verdict.forward, t.mid) else {
                continue;
            };
            let in_pt = f.params.pt();
            let pt = match t.pts.iter().find(|(p, _)| *p == in_pt) {
                Some((_, out)) => *out,
                None => {
                    let out = peer
                        .rtc
                        .codec_config()
                        .match_params(f.params)
                        .map(PayloadParams::pt);
                    t.pts.push((in_pt, out));
                    out
                }
            };
            let Some(pt) = pt else {
                continue;
            };
            let mut write = RtpWrite::new(
                pt,
                rewrite.seq.into(),
                rewrite.ts,
                f.packet.arrival,
                Arc::clone(&f.payload),
            )
            .marker(f.marker)
            .ext_vals(f.ext.clone())
            .nackable(f.video);
            if let Some(patch) = rewrite.vp8 {
                write = write.vp8_patch(patch);
            }
            if let Some(tx) = peer.rtc.direct_api().stream_tx_by_mid(mid, None) {
                tx.write_rtp(write);
                peer.written += 1;
            }
            // Not drained now: marked due, so the next wake-up drains it once for every packet
            // forwarded to it meanwhile. That is safe because `write_rtp` only queues the packet
            // in str0m (its pacer releases it on a later timeout round), and `poll_output` is what
            // sends it: draining right after the write sent nothing anyway, since str0m's pacers
            // wait for a timeout after each packet they send.
            self.mark_due(j, now);
        }
        if let Some(routes) = self
            .routes
            .get_mut(&f.publisher)
            .and_then(|m| m.get_mut(f.track.as_str()))
        {
            *routes = targets;
        }
        if let Some(layer) = want_keyframe {
            self.request_layer_keyframe(f.from, f.mid, layer, KeyframeRequestKind::Pli, now);
        }
    }

    /// Hands a publisher's packet to the recording of its track, if it is recorded.
    fn record_rtp(&mut self, f: &Forwarded, now: Instant) {
        let Some(rec) = self
            .recorders
            .get_mut(&f.publisher)
            .and_then(|m| m.get_mut(f.track.as_str()))
        else {
            return;
        };
        if !f.payload.is_empty() {
            rec.last_media = now;
        }
        let codec = match f.params.spec().codec {
            Codec::Opus => RecordingCodec::Opus,
            Codec::Vp8 => RecordingCodec::Vp8,
            Codec::H264 => RecordingCodec::H264,
            _ => return,
        };
        if codec != rec.codec {
            // One codec per file, the one the Recording names (the room's first): another one
            // (a client of a VP8 and H264 room that chose the other) is not written, and the
            // recording fails if nothing else came.
            return;
        }
        let recorded = rec.on_packet(&f.packet, f.wanted, f.layers, f.marker, &f.payload);
        let recording = rec.recording;
        if !recorded.bytes.is_empty() {
            self.out
                .push_back(crate::core::CoreOutput::Record(crate::RecordIo::Append {
                    recording,
                    bytes: recorded.bytes,
                }));
        }
        if let Some(layer) = recorded.want_keyframe {
            self.request_layer_keyframe(f.from, f.mid, layer, KeyframeRequestKind::Pli, now);
        }
    }

    /// Asks the publisher of `track` for a keyframe of `layer` (or of the layer subscribers get).
    pub(crate) fn ask_keyframe(
        &mut self,
        publisher: ParticipantSid,
        track: &str,
        layer: Option<usize>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let found: Vec<(usize, Mid, usize)> = self
            .peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.participant == publisher)
            .flat_map(|(i, p)| {
                p.incoming
                    .iter()
                    .filter(|(_, t)| t.track_id == track)
                    .map(move |(mid, t)| (i, *mid, layer.unwrap_or_else(|| t.best_layer(now))))
            })
            .collect();
        for (i, mid, layer) in found {
            self.request_layer_keyframe(i, mid, layer, kind, now);
        }
    }

    /// Asks peer `i`'s client for a keyframe on the stream of `layer` of its m-line `mid`.
    fn request_layer_keyframe(
        &mut self,
        i: usize,
        mid: Mid,
        layer: usize,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(i) else {
            return;
        };
        let Some(l) = peer
            .incoming
            .get_mut(&mid)
            .and_then(|t| t.layers.get_mut(layer))
        else {
            return;
        };
        if l.keyframe_asked
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_INTERVAL)
        {
            return;
        }
        let mut api = peer.rtc.direct_api();
        let ssrc = match (l.ssrc, &l.rid) {
            (Some(ssrc), _) => Some(ssrc),
            (None, Some(rid)) => api
                .stream_rx_by_mid(mid, Some(rid.as_str().into()))
                .map(|s| s.ssrc()),
            (None, None) => api.stream_rx_by_mid(mid, None).map(|s| s.ssrc()),
        };
        if let Some(stream) = ssrc.and_then(|s| api.stream_rx(&s)) {
            stream.request_keyframe(kind);
            l.keyframe_asked = Some(now);
        }
        self.drain(i, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vp8_keyframe_tells_its_size() {
        // Descriptor X|S, I with a 15-bit picture id; then a keyframe header of 640x360.
        let mut p = vec![0x90, 0x80, 0x81, 0x23];
        p.extend_from_slice(&[0x50, 0x2b, 0x00, 0x9d, 0x01, 0x2a]);
        p.extend_from_slice(&640u16.to_le_bytes());
        p.extend_from_slice(&360u16.to_le_bytes());
        assert_eq!(vp8_keyframe_size(&p), Some((640, 360)));
        p[4] |= 0x01; // an interframe
        assert_eq!(vp8_keyframe_size(&p), None);
        assert_eq!(vp8_keyframe_size(&[0x10]), None);
    }

    #[test]
    fn the_layer_under_a_cap_is_the_highest_sent_not_above_it() {
        assert_eq!(pick_layer(0b111, None, 2), 2);
        assert_eq!(pick_layer(0b111, Some(1), 2), 1);
        assert_eq!(pick_layer(0b101, Some(1), 2), 0);
        assert_eq!(pick_layer(0b100, Some(0), 2), 2, "only the top is sent");
        assert_eq!(pick_layer(0, Some(0), 0), 0);
    }
}
