//! What the room's sessions are told once a batch committed: the notices it staged, kept until
//! they are delivered, and their delivery — at once in a quiet room, paced in a busy one.
//!
//! A participant's change for the others is staged once ([`Staged::Others`]), numbered in the
//! room's count of such changes; each session is told those numbered after its registration and
//! up to its unregistration, except its own participant's. At delivery the sessions told exactly
//! every pending change (nearly all of a large room's) get one shared list
//! (`Notice::Participants`, which the edge writes once for all of them), one send each; the rest
//! (the participants that changed, those told something of their own, sessions registered or
//! unregistered meanwhile) get a list of their own, in staging order.
//!
//! Pacing: a delivery costs a send and a wake-up per session, and in a room of hundreds each one
//! is then a message to every client. So a room delivers its participants' changes at most once
//! per [`pace`] (20 µs per session, at most 20 ms: ~14 ms in a room of 700, nothing to speak of in
//! a small one), gathering what commits meanwhile into the next delivery. A delivery that is due
//! is never held back, and notices for one session (a removal, the recording state) go at once
//! with everything pending before them, so a kick or a room's end is not delayed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use vroom_domain::live::{Notice, ParticipantView, Told};
use vroom_domain::sid::ParticipantSid;

use super::batch::Undo;
use super::{Registered, RoomActor};
use crate::SessionId;

/// Participant changes told in one notice at most (the signaling session writes a notice as one
/// `update`, and gathers queued ones up to as many: a message of this many stays tens of KiB).
const MOST_TOLD: usize = 64;

/// The time between two deliveries, per session registered.
const PACE_PER_SESSION: Duration = Duration::from_micros(20);

/// The time between two deliveries at most, however large the room.
const MOST_PACE: Duration = Duration::from_millis(20);

/// How long after a delivery the next may be, in a room of `sessions`: a room's deliveries then
/// cost at most about 50,000 messages a second, whatever its size.
fn pace(sessions: usize) -> Duration {
    PACE_PER_SESSION
        .saturating_mul(u32::try_from(sessions).unwrap_or(u32::MAX))
        .min(MOST_PACE)
}

/// A notice staged, with who it goes to.
pub(super) enum Staged {
    /// To one session: participant, session id.
    One(ParticipantSid, SessionId, Notice),
    /// A participant's change, to every session registered before it was staged (`seq`, in the
    /// room's count of them) and still registered then, except the participant's own.
    Others {
        except: ParticipantSid,
        seq: u64,
        view: Arc<ParticipantView>,
    },
}

/// Committed notices not delivered yet, and when the last delivery was.
#[derive(Default)]
pub(super) struct Pending {
    sends: Vec<Staged>,
    /// Sessions unregistered since the last delivery, with the count of `Others` notices at their
    /// unregistration (they are told those staged up to there).
    gone: Vec<(ParticipantSid, Registered, u64)>,
    /// Participants whose session was registered or unregistered since the last delivery.
    touched: HashSet<ParticipantSid>,
    /// When the next delivery is due, if something waits.
    due: Option<Instant>,
    /// When the last delivery was.
    pub(super) last: Option<Instant>,
}

impl RoomActor {
    /// Takes a committed batch's notices and registration changes: delivered now, or at the next
    /// delivery when the room delivered a moment ago.
    pub(super) fn told_after_commit(&mut self, sends: Vec<Staged>, undo: Vec<Undo>) {
        let urgent = sends.iter().any(|s| matches!(s, Staged::One(..)));
        let pending = &mut self.pending;
        pending.sends.extend(sends);
        for u in undo {
            if let Undo::Session(sid, was, at) = u {
                pending.touched.insert(sid);
                if let Some(registered) = was {
                    pending.gone.push((sid, registered, at));
                }
            }
        }
        if pending.sends.is_empty() {
            // Nothing to tell anyone, the sessions gone included.
            pending.gone.clear();
            pending.touched.clear();
            return;
        }
        let now = Instant::now();
        let next = pending.last.map(|last| last + pace(self.sessions.len()));
        match next {
            Some(next) if !urgent && now < next => pending.due = Some(next),
            _ => self.deliver(),
        }
    }

    /// When the pending notices are due, if any wait.
    pub(super) fn delivery_due(&self) -> Option<Instant> {
        self.pending.due
    }

    /// Delivers every pending notice now.
    pub(super) fn deliver(&mut self) {
        let Pending {
            sends,
            gone,
            touched,
            ..
        } = std::mem::take(&mut self.pending);
        self.pending.last = Some(Instant::now());
        if sends.is_empty() {
            return;
        }
        let mut views = Vec::new();
        let mut apart = touched;
        for send in &sends {
            match send {
                Staged::Others { except, view, .. } => {
                    views.push(Arc::clone(view));
                    apart.insert(*except);
                }
                Staged::One(to, ..) => {
                    apart.insert(*to);
                }
            }
        }
        if !views.is_empty() {
            let shared: Vec<Notice> = views
                .chunks(MOST_TOLD)
                .map(|chunk| Notice::Participants(Arc::new(Told::new(chunk.to_vec()))))
                .collect();
            for (sid, registered) in &self.sessions {
                if !apart.contains(sid) {
                    for notice in &shared {
                        let _ = registered.link.tx.send(notice.clone());
                    }
                }
            }
        }
        for sid in &apart {
            if let Some(registered) = self.sessions.get(sid) {
                tell_alone(&sends, *sid, registered, u64::MAX);
            }
        }
        // Unregistered meanwhile: told what was staged before that. (A session that went away
        // without a goodbye, detached meanwhile, has nobody left to tell.)
        for (sid, registered, until) in &gone {
            tell_alone(&sends, *sid, registered, *until);
        }
    }
}

/// Tells one session, registered from `registered.since` to `until` (in the room's count of
/// `Others` notices), what was staged for it.
fn tell_alone(sends: &[Staged], sid: ParticipantSid, registered: &Registered, until: u64) {
    let tx = &registered.link.tx;
    let mut run: Vec<Arc<ParticipantView>> = Vec::new();
    let told = |run: &mut Vec<Arc<ParticipantView>>| {
        if !run.is_empty() {
            let _ = tx.send(Notice::Participants(Arc::new(Told::new(std::mem::take(
                run,
            )))));
        }
    };
    for send in sends {
        match send {
            Staged::Others { except, seq, view }
                if *except != sid && registered.since < *seq && *seq <= until =>
            {
                run.push(Arc::clone(view));
                if run.len() == MOST_TOLD {
                    told(&mut run);
                }
            }
            Staged::One(to, session, notice) if *to == sid && *session == registered.link.id => {
                told(&mut run);
                let _ = tx.send(notice.clone());
            }
            _ => {}
        }
    }
    told(&mut run);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_large_room_delivers_at_most_about_fifty_thousand_messages_a_second() {
        assert_eq!(super::pace(0), Duration::ZERO);
        assert_eq!(super::pace(5), Duration::from_micros(100));
        assert_eq!(super::pace(700), Duration::from_millis(14));
        assert_eq!(super::pace(1000), Duration::from_millis(20));
        assert_eq!(super::pace(100_000), Duration::from_millis(20));
    }
}
