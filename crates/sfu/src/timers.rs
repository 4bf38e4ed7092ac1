//! When the core serves each peer connection: str0m's timeouts rounded up to a 4 ms grid, and the
//! peers due kept in a min-heap, so one wake-up of a media worker serves every peer due by then and
//! only those (not every peer of the worker, and not one wake-up per peer's exact timeout).
//!
//! A subscriber a packet was just written to is marked due (on the grid) rather than drained at
//! once (`rtp.rs`), so one serving drains it once for every packet forwarded to it meanwhile.
//! Serving a peer gives it timeout rounds while it stays due, up to [`MAX_ROUNDS`]: str0m sends one
//! queued RTP packet per round (its pacers wait for a timeout after each packet), and a paced peer
//! (bandwidth estimation on) releases a burst of packets at the same instant. An unpaced peer's
//! last round, the one that only looks for more to send, waits for the next grid slot.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use str0m::{Input, Output, PacerReason, Reason};

use crate::core::{CoreOutput, SfuCore};

/// Peer timeouts are rounded up to multiples of this, counted from the first time the core saw.
pub(crate) const GRID: Duration = Duration::from_millis(4);

/// Most timeout rounds one peer gets per wake-up while it stays due. A peer still due after them
/// is served again at the next wake-up.
pub(crate) const MAX_ROUNDS: usize = 64;

/// Past this, a timeout is not rounded (str0m's "never" is a hundred years away).
const FAR: Duration = Duration::from_secs(24 * 3600);

/// The peers due for a timeout, by grid time. Each peer keeps the time it is due at (its `due`); a
/// heap entry is current while that time is the peer's, so a peer whose due time moves earlier is
/// pushed again and its older entry is skipped when it comes up.
#[derive(Default)]
pub(crate) struct Timers {
    /// The first time seen: grid times are this plus multiples of [`GRID`].
    epoch: Option<Instant>,
    /// (due time, peer index).
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Timers {
    /// The first grid time at or after `t`.
    pub fn grid(&mut self, t: Instant) -> Instant {
        let epoch = *self.epoch.get_or_insert(t);
        let step = GRID.as_nanos();
        if t >= epoch {
            let since = t - epoch;
            if since > FAR {
                return t;
            }
            let n = since.as_nanos().div_ceil(step) * step;
            epoch + Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
        } else {
            let before = epoch - t;
            if before > FAR {
                return t;
            }
            let n = before.as_nanos() / step * step;
            epoch - Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
        }
    }

    /// Peer `i`, now due at `*due`, is to be served at `t` at the latest (on the grid).
    pub fn schedule(&mut self, due: &mut Option<Instant>, i: usize, t: Instant) {
        let g = self.grid(t);
        if due.is_none_or(|d| g < d) {
            *due = Some(g);
            self.heap.push(Reverse((g, i)));
        }
    }

    /// Peer `i`, now due at `*due`, is next to be served at `t` (on the grid), earlier or later.
    pub fn reschedule(&mut self, due: &mut Option<Instant>, i: usize, t: Instant) {
        let g = self.grid(t);
        if *due != Some(g) {
            *due = Some(g);
            self.heap.push(Reverse((g, i)));
        }
    }

    /// Takes the peers due at `now` into `out`, each once. `claim(i, t)`: whether peer `i` is due
    /// at `t` (then it clears the peer's due time).
    pub fn take_due(
        &mut self,
        now: Instant,
        mut claim: impl FnMut(usize, Instant) -> bool,
        out: &mut Vec<usize>,
    ) {
        while let Some(&Reverse((t, i))) = self.heap.peek() {
            if t > now {
                break;
            }
            self.heap.pop();
            if claim(i, t) {
                out.push(i);
            }
        }
    }

    /// Drops entries at the top that are no longer current, so [`Self::next`] is a real due time.
    pub fn prune(&mut self, current: impl Fn(usize) -> Option<Instant>) {
        while let Some(&Reverse((t, i))) = self.heap.peek() {
            if current(i) == Some(t) {
                return;
            }
            self.heap.pop();
        }
    }

    /// The heap again from each peer's due time: after peers were removed (indices moved), or
    /// when stale entries pile up.
    pub fn rebuild(&mut self, dues: impl Iterator<Item = Option<Instant>>) {
        self.heap.clear();
        self.heap.extend(
            dues.enumerate()
                .filter_map(|(i, d)| d.map(|d| Reverse((d, i)))),
        );
    }

    /// When the next peer is due (after `prune`).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Entries held, current or not.
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

impl SfuCore {
    /// Time passed: the periodic adaptation if it is due, and every peer connection that is due
    /// gets its timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_tick.is_none_or(|t| t <= now) {
            self.next_tick = Some(now + crate::adapt::TICK);
            self.tick(now);
            self.check_recording_media(now);
        }
        let mut due = std::mem::take(&mut self.taken);
        let peers = &mut self.peers;
        self.timers
            .take_due(now, |i, t| claim(peers, i, t), &mut due);
        for &i in &due {
            self.serve(i, now);
        }
        due.clear();
        self.taken = due;
        self.propagate(now);
        self.tidy_timers();
    }

    /// When `handle_timeout` is next needed: the first peer due, or the adaptation tick (`None`
    /// while no peer connection is alive).
    #[must_use]
    pub fn next_timeout(&self) -> Option<Instant> {
        let peers = self.timers.next()?;
        Some(self.next_tick.map_or(peers, |t| t.min(peers)))
    }

    /// Peer `i` is to be served by the next wake-up (on the grid): a packet was written to it.
    pub(crate) fn mark_due(&mut self, i: usize, now: Instant) {
        let peer = &mut self.peers[i];
        self.timers.schedule(&mut peer.due, i, now);
    }

    /// The peer list changed (indices moved): due times are taken again from the peers.
    pub(crate) fn reindex_timers(&mut self) {
        self.timers.rebuild(self.peers.iter().map(|p| p.due));
    }

    /// Drops stale entries, and compacts the heap when they pile up.
    fn tidy_timers(&mut self) {
        if self.timers.len() > 4 * self.peers.len() + 1024 {
            self.reindex_timers();
        }
        let peers = &self.peers;
        self.timers.prune(|i| peers.get(i).and_then(|p| p.due));
    }

    /// Timeout rounds for peer `i` while it stays due at `now`, up to [`MAX_ROUNDS`].
    fn serve(&mut self, i: usize, now: Instant) {
        let written = std::mem::take(&mut self.peers[i].written);
        let mut next = None;
        for round in 0..MAX_ROUNDS {
            if !self.peers[i].rtc.is_alive() {
                return;
            }
            if let Err(e) = self.peers[i].rtc.handle_input(Input::Timeout(now)) {
                tracing::debug!(error = %e, "peer connection failed on timeout");
                self.peers[i].rtc.disconnect();
            }
            self.drain(i, now);
            let peer = &self.peers[i];
            if peer.timeout > now {
                break;
            }
            // Unpaced, once every packet written has had its round, what str0m still wants at
            // once is only its pacer's gate (a round to look for more to send after a packet).
            // That round is left to the next grid slot, where it is also the first round of the
            // packets written by then: one round per packet instead of one more per batch.
            if !peer.paced
                && round + 1 >= written
                && peer.rtc.last_timeout_reason() == Reason::Pacer(PacerReason::Handle)
            {
                next = Some(now + GRID);
                break;
            }
        }
        // Each round scheduled the peer at its timeout then; what counts is the last one.
        let peer = &mut self.peers[i];
        if peer.rtc.is_alive() {
            self.timers
                .reschedule(&mut peer.due, i, next.unwrap_or(peer.timeout));
        } else {
            peer.due = None;
        }
    }

    /// Drains peer `i` until it wants a timeout, and schedules that; events become propagation
    /// work.
    pub(crate) fn drain(&mut self, i: usize, now: Instant) {
        loop {
            let output = match self.peers[i].rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(error = %e, "peer connection failed");
                    self.peers[i].rtc.disconnect();
                    self.peers[i].timeout = now + Duration::from_secs(3600);
                    return;
                }
            };
            match output {
                Output::Timeout(t) => {
                    let peer = &mut self.peers[i];
                    peer.timeout = t;
                    if peer.rtc.is_alive() {
                        self.timers.schedule(&mut peer.due, i, t);
                    }
                    return;
                }
                Output::Transmit(t) => {
                    self.out.push_back(CoreOutput::Transmit {
                        proto: t.proto,
                        destination: t.destination,
                        data: t.contents.to_vec(),
                    });
                }
                Output::Event(e) => self.on_event(i, e, now),
            }
        }
    }
}

/// Whether peer `i` is due at `t`; if so it is no longer (it is being served).
fn claim(peers: &mut [crate::peer::Peer], i: usize, t: Instant) -> bool {
    match peers.get_mut(i) {
        Some(p) if p.due == Some(t) => {
            p.due = None;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::claim`] on bare due times.
    fn claim(dues: &mut [Option<Instant>], i: usize, t: Instant) -> bool {
        if dues[i] == Some(t) {
            dues[i] = None;
            true
        } else {
            false
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn timeouts_round_up_to_the_grid_from_the_first_time_seen() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        assert_eq!(timers.grid(t0), t0, "the first time is on the grid");
        assert_eq!(timers.grid(t0 + ms(4)), t0 + ms(4));
        assert_eq!(timers.grid(t0 + Duration::from_micros(1)), t0 + ms(4));
        assert_eq!(timers.grid(t0 + Duration::from_micros(4001)), t0 + ms(8));
        assert_eq!(timers.grid(t0 + ms(7)), t0 + ms(8));
        // Before the first time seen: still rounded up, never down.
        let early = t0.checked_sub(ms(5)).unwrap();
        assert_eq!(timers.grid(early), t0 - ms(4));
        assert_eq!(timers.grid(t0 - ms(8)), t0 - ms(8));
        // str0m's "never" is left as it is.
        let never = t0 + Duration::from_secs(100 * 365 * 24 * 3600);
        assert_eq!(timers.grid(never), never);
    }

    #[test]
    fn only_peers_due_are_taken_each_once_at_their_earliest_time() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let mut dues: Vec<Option<Instant>> = vec![None; 4];
        timers.grid(t0);
        timers.schedule(&mut dues[0], 0, t0 + ms(1)); // due at 4
        timers.schedule(&mut dues[1], 1, t0 + ms(9)); // due at 12
        timers.schedule(&mut dues[2], 2, t0 + ms(30)); // due at 32 …
        timers.schedule(&mut dues[2], 2, t0 + ms(2)); // … then at 4: moved earlier
        timers.schedule(&mut dues[3], 3, t0 + ms(20)); // due at 20 …
        timers.schedule(&mut dues[3], 3, t0 + ms(25)); // … a later time does not move it
        assert_eq!(
            dues,
            [
                Some(t0 + ms(4)),
                Some(t0 + ms(12)),
                Some(t0 + ms(4)),
                Some(t0 + ms(20))
            ]
        );
        assert_eq!(timers.next(), Some(t0 + ms(4)));

        let mut out = Vec::new();
        timers.take_due(t0 + ms(3), |i, t| claim(&mut dues, i, t), &mut out);
        assert!(out.is_empty(), "nobody is due before the first grid time");
        timers.take_due(t0 + ms(5), |i, t| claim(&mut dues, i, t), &mut out);
        out.sort_unstable();
        assert_eq!(out, [0, 2], "the peers due by then, and only those");
        assert_eq!(dues[0], None, "taken peers are no longer due");
        // Peer 2's older entry (at 32) is stale: pruning leaves peer 1 at the top.
        timers.prune(|i| dues[i]);
        assert_eq!(timers.next(), Some(t0 + ms(12)));

        // Served, peer 0 is due again later; and twice at the same time, it is taken once.
        timers.reschedule(&mut dues[0], 0, t0 + ms(13));
        timers.schedule(&mut dues[0], 0, t0 + ms(6));
        timers.reschedule(&mut dues[0], 0, t0 + ms(13));
        out.clear();
        timers.take_due(t0 + ms(40), |i, t| claim(&mut dues, i, t), &mut out);
        assert_eq!(
            out,
            [1, 0, 3],
            "in time order, each once, stale entries skipped"
        );
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn a_rebuild_follows_the_peers_indices() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let mut dues = vec![None, None, None];
        timers.grid(t0);
        for (i, d) in dues.iter_mut().enumerate() {
            timers.schedule(d, i, t0 + ms(4 * (u64::try_from(i).unwrap() + 1)));
        }
        // Peer 0 goes: the others move down one index.
        dues.remove(0);
        timers.rebuild(dues.iter().copied());
        let mut out = Vec::new();
        timers.take_due(t0 + ms(8), |i, t| claim(&mut dues, i, t), &mut out);
        assert_eq!(out, [0]);
        assert_eq!(timers.next(), Some(t0 + ms(12)));
    }
}
