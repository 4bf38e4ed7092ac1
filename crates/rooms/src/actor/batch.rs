//! Group commit in the room task: commands staged one after the other on the live state, their
//! records and events stored in one write, then every caller answered and every notice delivered.
//!
//! Staging a command applies it to `LiveRoom` at once (so the next command sees its result, as if
//! it had been committed) but keeps everything it would tell anyone: its reply, its notices and
//! its media commands. A notice for one session names it by participant and session id, and the
//! link is looked up when the notice is sent (cloning every member's channel handle per change was
//! a tenth of a large room's CPU). A participant's change for the others is staged once, with its
//! place in the room's count of such changes; each session is told those staged while it was
//! registered (a newcomer from its join on, a session the batch unregistered — a takeover, a kick —
//! up to then: its link is still in the batch's undo list), except its own participant's. At the
//! end of the batch the sessions told exactly the batch's changes (nearly all of a large room's)
//! get one shared list (`Notice::Participants`, written once for all of them by the edge), one
//! send each, instead of one notice per session per change. `flush` writes the batch, then
//! releases all of that in staging order; when the write fails it restores the live state and the
//! session registrations from before the batch, and every staged command fails with the write's
//! error. Commands the domain refused are answered after the write too, so the order of answers is
//! the order of commands.

use std::sync::Arc;

use vroom_domain::live::{Effects, LiveRoom, MediaCommand, Notice, To};
use vroom_domain::participant::EndReason;
use vroom_domain::rules::{RecordingRule, SubscribeRule};
use vroom_domain::sid::ParticipantSid;
use vroom_domain::time::Timestamp;
use vroom_domain::track::TrackInfo;
use vroom_store::{Change, StoreError};

use super::told::Staged;
use super::{Registered, Reply, RoomActor, count_connected, record};
use crate::{HubError, JoinRequest, Joined, SessionId, SessionLink, SessionMemory};

/// Commands in one batch at most: bounds the latency one batch adds to the first of its commands.
pub(super) const MOST: usize = 256;

/// What a staged command does once its batch is written: `Ok` when it committed, the error when
/// the write failed.
pub(super) type Finish = Box<dyn FnOnce(Result<(), &HubError>) + Send>;

/// A session registration changed while staging, with what it was before (to undo on failure)
/// and, for a session, the room's count of `Others` notices at the change (the session it
/// replaced was told those staged up to there).
pub(super) enum Undo {
    Session(ParticipantSid, Option<Registered>, u64),
    Memory(ParticipantSid, Option<SessionMemory>),
}

/// Commands applied to the live state and not yet written.
pub(super) struct Batch {
    /// The live state before the first of them.
    before: LiveRoom,
    changes: Vec<Change>,
    events: Vec<vroom_domain::event::StatusEvent>,
    media: Vec<MediaCommand>,
    /// Notices with the sessions they go to.
    sends: Vec<Staged>,
    finish: Vec<Finish>,
    undo: Vec<Undo>,
}

impl Batch {
    pub(super) fn new(before: LiveRoom) -> Self {
        Self {
            before,
            changes: Vec::new(),
            events: Vec::new(),
            media: Vec::new(),
            sends: Vec::new(),
            finish: Vec::new(),
            undo: Vec::new(),
        }
    }

    /// Commands staged.
    pub(super) fn len(&self) -> usize {
        self.finish.len()
    }
}

/// Answers `reply` with `value` once the batch committed, with the batch's error if it did not.
fn answer<T: Send + 'static>(reply: Reply<T>, value: T) -> Finish {
    Box::new(move |committed| {
        let _ = reply.send(committed.map(|()| value).map_err(again));
    })
}

/// Answers `reply` with a refusal, after the batch whatever became of it.
fn refuse<T: Send + 'static>(reply: Reply<T>, error: HubError) -> Finish {
    Box::new(move |_| {
        let _ = reply.send(Err(error));
    })
}

/// The error of a failed batch, for one more of its commands.
fn again(e: &HubError) -> HubError {
    match e {
        HubError::Domain(d) => HubError::Domain(d.clone()),
        HubError::Store(StoreError::LeaseLost) => HubError::Store(StoreError::LeaseLost),
        HubError::Store(s) => HubError::Store(StoreError::Database(s.to_string().into())),
        HubError::RoomGone => HubError::RoomGone,
        HubError::Stopping => HubError::Stopping,
        HubError::Elsewhere { node, address } => HubError::Elsewhere {
            node: node.clone(),
            address: address.clone(),
        },
    }
}

impl RoomActor {
    /// Adds one applied command's effects to `batch`, with what to do once it is written.
    pub(super) fn push(&mut self, batch: &mut Batch, effects: Effects, finish: Finish) {
        batch
            .changes
            .extend(effects.writes.into_iter().map(Change::from));
        batch.events.extend(effects.events);
        batch.media.extend(effects.media);
        batch.sends.reserve(effects.notices.len());
        for (to, notice) in effects.notices {
            match (to, notice) {
                (To::Others(except), Notice::Participant(view)) => {
                    self.told += 1;
                    batch.sends.push(Staged::Others {
                        except,
                        seq: self.told,
                        view,
                    });
                }
                // Not made by the domain today: told to each session registered now.
                (To::Others(except), notice) => {
                    for (sid, registered) in &self.sessions {
                        if *sid != except {
                            let one = Staged::One(*sid, registered.link.id, notice.clone());
                            batch.sends.push(one);
                        }
                    }
                }
                (To::One(to), notice) => {
                    let removed = matches!(notice, Notice::Removed(_));
                    if let Some(registered) = self.sessions.get(&to) {
                        batch
                            .sends
                            .push(Staged::One(to, registered.link.id, notice));
                    }
                    if removed {
                        self.set_session(batch, to, None);
                    }
                }
            }
        }
        batch.finish.push(finish);
    }

    /// Registers `link` for `sid` (or unregisters it): a session registered now is told the
    /// changes staged from now on.
    fn set_session(&mut self, batch: &mut Batch, sid: ParticipantSid, link: Option<SessionLink>) {
        let was = match link {
            Some(link) => {
                let since = self.told;
                self.sessions.insert(sid, Registered { link, since })
            }
            None => self.sessions.remove(&sid),
        };
        batch.undo.push(Undo::Session(sid, was, self.told));
    }

    fn set_memory(&mut self, batch: &mut Batch, sid: ParticipantSid, memory: SessionMemory) {
        let was = self.memories.insert(sid, memory);
        batch.undo.push(Undo::Memory(sid, was));
    }

    pub(super) fn stage_join(
        &mut self,
        batch: &mut Batch,
        now: Timestamp,
        request: JoinRequest,
        reply: Reply<Joined>,
    ) {
        let JoinRequest {
            identity,
            tracks,
            rules,
            session,
        } = request;
        let (participant, mut effects) = match self.live.join(now, identity, self.deps.ids.as_ref())
        {
            Ok(joined) => joined,
            Err(e) => return self.push(batch, Effects::default(), refuse(reply, e.into())),
        };
        // The first tracks are published in the same step, so the others see the newcomer once,
        // with its tracks.
        let published =
            match self
                .live
                .set_tracks(now, participant.sid, tracks, self.deps.ids.as_ref())
            {
                Ok((outcomes, more)) => {
                    // Without first tracks there is nothing to merge (and a room of hundreds would
                    // hash as many notices for nothing).
                    let merge = !more.notices.is_empty();
                    effects.extend(more);
                    if merge {
                        effects.coalesce_notices();
                    }
                    outcomes
                }
                Err(_) => Vec::new(),
            };
        // Rules the client asked for (invalid ones leave the default: everything).
        if let Some(rules) = rules
            && let Ok(more) = self.live.set_subscribe_rules(now, participant.sid, rules)
        {
            effects.extend(more);
        }
        let sid = participant.sid;
        let joined = Joined {
            published,
            ..self.joined(participant)
        };
        self.set_memory(batch, sid, Arc::clone(&session.memory));
        self.push(batch, effects, answer(reply, joined));
        // Registered after this step's notices: its roster shows what they tell.
        self.set_session(batch, sid, Some(session));
    }

    pub(super) fn stage_leave(
        &mut self,
        batch: &mut Batch,
        now: Timestamp,
        participant: ParticipantSid,
        reason: EndReason,
        session: Option<SessionId>,
        reply: Reply<vroom_domain::participant::Participant>,
    ) {
        if session.is_some_and(|s| !self.is_current(participant, s)) {
            let refused = HubError::Domain(vroom_domain::Error::ParticipantNotFound);
            return self.push(batch, Effects::default(), refuse(reply, refused));
        }
        match self.live.leave(now, participant, reason) {
            Err(e) => self.push(batch, Effects::default(), refuse(reply, e.into())),
            Ok((record, effects)) => {
                self.push(batch, effects, answer(reply, record));
                if reason == EndReason::Left {
                    self.set_session(batch, participant, None);
                }
            }
        }
    }

    pub(super) fn stage_detach(
        &mut self,
        batch: &mut Batch,
        now: Timestamp,
        participant: ParticipantSid,
        session: SessionId,
    ) {
        if !self.is_current(participant, session) {
            return;
        }
        // The session is gone whatever the write does: no undo.
        self.sessions.remove(&participant);
        if let Ok(effects) = self.live.detach(now, participant) {
            self.push(batch, effects, Box::new(|_| {}));
        }
    }

    pub(super) fn stage_tracks(
        &mut self,
        batch: &mut Batch,
        now: Timestamp,
        participant: ParticipantSid,
        session: SessionId,
        tracks: Vec<TrackInfo>,
        reply: Reply<Vec<(String, vroom_domain::live::TrackOutcome)>>,
    ) {
        if !self.is_current(participant, session) {
            let refused = HubError::Domain(vroom_domain::Error::ParticipantNotFound);
            return self.push(batch, Effects::default(), refuse(reply, refused));
        }
        match self
            .live
            .set_tracks(now, participant, tracks, self.deps.ids.as_ref())
        {
            Err(e) => self.push(batch, Effects::default(), refuse(reply, e.into())),
            Ok((outcomes, effects)) => self.push(batch, effects, answer(reply, outcomes)),
        }
    }

    pub(super) fn stage_rules(
        &mut self,
        batch: &mut Batch,
        now: Timestamp,
        participant: ParticipantSid,
        rules: Vec<SubscribeRule>,
        reply: Reply<(Vec<SubscribeRule>, Timestamp)>,
    ) {
        match self.live.set_subscribe_rules(now, participant, rules) {
            Err(e) => self.push(batch, Effects::default(), refuse(reply, e.into())),
            Ok(effects) => match self.live.subscribe_rules(participant) {
                Some(rules) => self.push(batch, effects, answer(reply, rules)),
                None => {
                    let gone = HubError::Domain(vroom_domain::Error::ParticipantNotFound);
                    self.push(batch, effects, refuse(reply, gone));
                }
            },
        }
    }

    pub(super) fn stage_recording_rules(
        &mut self,
        batch: &mut Batch,
        now: Timestamp,
        rules: Vec<RecordingRule>,
        reply: Reply<(Vec<RecordingRule>, Timestamp)>,
    ) {
        match self
            .live
            .set_recording_rules(now, rules, self.deps.ids.as_ref())
        {
            Err(e) => self.push(batch, Effects::default(), refuse(reply, e.into())),
            Ok(effects) => {
                let now_in_force = (
                    self.live.recording_rules().to_vec(),
                    self.live.recording_rules_updated(),
                );
                self.push(batch, effects, answer(reply, now_in_force));
            }
        }
    }

    pub(super) fn stage_complete(
        &mut self,
        batch: &mut Batch,
        now: Timestamp,
        reply: Reply<vroom_domain::room::Room>,
    ) {
        match self.live.complete(now) {
            Err(e) => self.push(batch, Effects::default(), refuse(reply, e.into())),
            Ok(effects) => {
                let room = self.live.room().clone();
                self.push(batch, effects, answer(reply, room));
            }
        }
    }

    /// Writes the batch (fenced by the lease), then tells everyone, in staging order. When the
    /// write fails, the room is as it was before the batch and every command fails.
    pub(super) async fn flush(&mut self, batch: Batch) -> Result<(), HubError> {
        let Batch {
            before,
            changes,
            events,
            media,
            sends,
            finish,
            undo,
        } = batch;
        if !changes.is_empty() || !events.is_empty() {
            let fenced: Vec<Change> = std::iter::once(Change::Fence(self.lease.clone()))
                .chain(changes)
                .collect();
            if let Err(e) = self.deps.store.apply(&fenced, &events).await {
                self.live = before;
                for u in undo.into_iter().rev() {
                    match u {
                        Undo::Session(sid, Some(registered), _) => {
                            self.sessions.insert(sid, registered);
                        }
                        Undo::Session(sid, None, _) => {
                            self.sessions.remove(&sid);
                        }
                        Undo::Memory(sid, Some(memory)) => {
                            self.memories.insert(sid, memory);
                        }
                        Undo::Memory(sid, None) => {
                            self.memories.remove(&sid);
                        }
                    }
                }
                if matches!(e, StoreError::LeaseLost) {
                    tracing::warn!(room = %self.live.room().sid, "another node took the room over; leaving it");
                    self.lost = true;
                } else {
                    tracing::error!(room = %self.live.room().sid, error = %e, commands = finish.len(), "could not store a room change");
                }
                let e = HubError::from(e);
                for f in finish {
                    f(Err(&e));
                }
                return Err(e);
            }
            for change in &fenced {
                if let Change::UpdateParticipant(p) = change {
                    self.memories.remove(&p.sid);
                }
                record(change);
                count_connected(change);
            }
            if !events.is_empty() {
                self.deps.outbox.notify_one();
            }
            metrics::histogram!("vroom_room_batch_commands").record(finish.len() as f64);
        }
        if !media.is_empty() {
            self.deps.media.apply(self.live.room().sid, media);
        }
        self.told_after_commit(sends, undo);
        for f in finish {
            f(Ok(()));
        }
        if self.live.shrink_if_empty() {
            // Emptied after a wave: the maps give back what they grew to (a no-op once done).
            self.sessions.shrink_to_fit();
            self.memories.shrink_to_fit();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
