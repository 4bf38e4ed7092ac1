//! Totals of what the media server carried, for metrics: str0m reports cumulative counters per RTP
//! stream about once a second ([`STATS_INTERVAL`]); this keeps the last report of each stream and adds
//! the difference to running totals, so totals only grow even as peer connections come and go.
//!
//! A stream whose connection closed is forgotten once it has been silent for [`FORGET_AFTER`]; what it
//! carried after its last report (under a second) is not counted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::media::{Mid, Rid};
use str0m::stats::{MediaEgressStats, MediaIngressStats};
use vroom_domain::sid::ParticipantSid;

/// How often each peer connection reports its streams.
pub(crate) const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// A stream without a report for this long no longer counts as carried.
const FORGET_AFTER: Duration = Duration::from_secs(5);

/// What the media server carried since it started (totals), and what it carries now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Peer connections open now.
    pub peer_connections: u64,
    /// Of those, the ones whose ICE and DTLS are up.
    pub connected_peer_connections: u64,
    /// ICE-over-TCP connections open now (clients whose media comes over TCP; set by the driver).
    pub tcp_connections: u64,
    /// RTP streams received from publishers now (one per simulcast layer).
    pub streams_in: u64,
    /// RTP streams sent to subscribers now.
    pub streams_out: u64,
    /// Totals since the start, received from publishers.
    pub received: Totals,
    /// Totals since the start, sent to subscribers.
    pub sent: Totals,
}

/// Counters of one direction, since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// RTP bytes, retransmissions included.
    pub bytes: u64,
    /// RTP packets, retransmissions included.
    pub packets: u64,
    /// Packets lost on the way. Sent: as the subscribers' receiver reports count them. Received:
    /// estimated from the loss fraction of each report period of the publisher's streams.
    pub packets_lost: u64,
    /// NACKs: sent to publishers (received direction), received from subscribers (sent direction).
    pub nacks: u64,
    /// Keyframe requests (PLI and FIR), likewise.
    pub keyframe_requests: u64,
}

impl Totals {
    fn add(&mut self, o: &Self) {
        self.bytes += o.bytes;
        self.packets += o.packets;
        self.packets_lost += o.packets_lost;
        self.nacks += o.nacks;
        self.keyframe_requests += o.keyframe_requests;
    }
}

impl MediaStats {
    /// Adds another worker's figures.
    pub fn add(&mut self, o: &Self) {
        self.peer_connections += o.peer_connections;
        self.connected_peer_connections += o.connected_peer_connections;
        self.tcp_connections += o.tcp_connections;
        self.streams_in += o.streams_in;
        self.streams_out += o.streams_out;
        self.received.add(&o.received);
        self.sent.add(&o.sent);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    In,
    Out,
}

/// One stream: its peer connection, m-line, layer and direction.
type StreamKey = (ParticipantSid, String, Mid, Option<Rid>, Direction);

#[derive(Debug, Clone, Copy)]
struct Last {
    bytes: u64,
    packets: u64,
    lost: u64,
    nacks: u64,
    keyframe_requests: u64,
    seen: Instant,
}

/// The running totals and the last report of each stream.
#[derive(Debug, Default)]
pub(crate) struct StatsBook {
    streams: HashMap<StreamKey, Last>,
    received: Totals,
    sent: Totals,
}

/// What a cumulative counter grew by. Never negative: a receiver's count of lost packets may go
/// down (late packets arrive), and the totals must not.
fn delta(now: u64, before: u64) -> u64 {
    now.saturating_sub(before)
}

impl StatsBook {
    /// A publisher's stream, as the connection receiving it reports it.
    pub(crate) fn ingress(
        &mut self,
        participant: ParticipantSid,
        pc: &str,
        s: &MediaIngressStats,
        now: Instant,
    ) {
        let key = (participant, pc.to_owned(), s.mid, s.rid, Direction::In);
        let before = self.streams.get(&key).copied();
        let packets = delta(s.packets, before.map_or(0, |b| b.packets));
        // Lost ≈ received × f / (1 − f) for the period's loss fraction f.
        let lost = match s.loss {
            Some(f) if f > 0.0 && f < 1.0 => {
                let f = f64::from(f);
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss,
                    reason = "an estimate of a packet count, rounded, small and positive"
                )]
                let estimate = (packets as f64 * f / (1.0 - f)).round() as u64;
                estimate
            }
            _ => 0,
        };
        let last = Last {
            bytes: s.bytes,
            packets: s.packets,
            lost: before.map_or(0, |b| b.lost) + lost,
            nacks: s.nacks,
            keyframe_requests: s.plis + s.firs,
            seen: now,
        };
        add(&mut self.received, before, &last);
        self.streams.insert(key, last);
    }

    /// A stream sent to a subscriber, as the connection sending it reports it.
    pub(crate) fn egress(
        &mut self,
        participant: ParticipantSid,
        pc: &str,
        s: &MediaEgressStats,
        now: Instant,
    ) {
        let key = (participant, pc.to_owned(), s.mid, s.rid, Direction::Out);
        let before = self.streams.get(&key).copied();
        let last = Last {
            bytes: s.bytes,
            packets: s.packets,
            // Reports are cumulative; without a new one the last count stands.
            lost: s
                .remote
                .as_ref()
                .map_or(before.map_or(0, |b| b.lost), |r| r.packets_lost),
            nacks: s.nacks,
            keyframe_requests: s.plis + s.firs,
            seen: now,
        };
        add(&mut self.sent, before, &last);
        self.streams.insert(key, last);
    }

    /// Streams in and out reported within [`FORGET_AFTER`] (older ones are dropped), and the
    /// totals received and sent.
    pub(crate) fn snapshot(&mut self, now: Instant) -> (u64, u64, Totals, Totals) {
        self.streams
            .retain(|_, last| now.saturating_duration_since(last.seen) < FORGET_AFTER);
        let count = |d: Direction| {
            self.streams
                .keys()
                .filter(|k| k.4 == d)
                .count()
                .try_into()
                .unwrap_or(u64::MAX)
        };
        (
            count(Direction::In),
            count(Direction::Out),
            self.received,
            self.sent,
        )
    }
}

fn add(totals: &mut Totals, before: Option<Last>, now: &Last) {
    let b = before.unwrap_or(Last {
        bytes: 0,
        packets: 0,
        lost: 0,
        nacks: 0,
        keyframe_requests: 0,
        seen: now.seen,
    });
    totals.bytes += delta(now.bytes, b.bytes);
    totals.packets += delta(now.packets, b.packets);
    totals.packets_lost += delta(now.lost, b.lost);
    totals.nacks += delta(now.nacks, b.nacks);
    totals.keyframe_requests += delta(now.keyframe_requests, b.keyframe_requests);
}
