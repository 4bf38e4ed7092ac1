//! The live room: who is connected right now, their revisions and tracks, and the room's timers.
//!
//! A sans-IO state machine. Every method takes the current time and returns [`Effects`]: the records
//! to write, the status-callback events to store with them, and the notices to send to connected
//! sessions. The caller persists the writes and events in one transaction and only then delivers the
//! notices, so nothing a client or a webhook sees is ahead of the database. Timers are not run here:
//! `poll_timeout` says when the next one is due and `handle_timeout` fires whatever is due, so tests
//! can drive hours of room life by passing timestamps.

mod media;
mod notice;
mod record;

pub use media::{MediaCommand, Subscription};
pub use notice::{Notice, To, Told};
pub use record::initial_recording_rules;

use std::sync::{Arc, OnceLock};

use crate::error::Error;
use crate::event::{EventKind, ParticipantFacts, StatusEvent, TrackFacts};
use crate::participant::{EndReason, Participant};
use crate::room::Room;
use crate::rules::{SubscribeRule, subscribe_all};
use crate::sid::{IdSource, ParticipantSid, TrackSid};
use crate::time::{Span, Timestamp};
use crate::track::{PublishedTrack, TrackInfo, TrackKind};

/// Knobs of the live room that come from the server's configuration rather than the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// How long a participant whose signaling connection dropped stays in the room, waiting for the
    /// client to reconnect, before it is disconnected.
    pub reconnect_window: Span,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            reconnect_window: Span::from_secs(30),
        }
    }
}

/// How a participant appears to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Connected with a live signaling connection.
    Connected,
    /// Its signaling connection dropped; waiting for it to come back.
    Reconnecting,
    /// Gone.
    Disconnected,
}

/// One participant's state as sent to the other participants' clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantView {
    /// `PA…`
    pub sid: ParticipantSid,
    /// Identity.
    pub identity: String,
    /// Strictly increasing with every change of this participant.
    pub revision: u64,
    /// Presence.
    pub presence: Presence,
    /// Published tracks (empty once disconnected).
    pub tracks: Vec<PublishedTrack>,
    /// The view as the edge writes it for clients, kept by the first session that sends it: one
    /// view goes to every other member of the room, and each then sends the same bytes without
    /// writing them again. Opaque here; empty until written.
    pub wire: Rendered,
}

/// A form of a value written once and kept with it ([`ParticipantView::wire`]). Not part of the
/// value: two views of the same state are equal whether or not either was written yet.
#[derive(Debug, Clone, Default)]
pub struct Rendered(OnceLock<Box<str>>);

impl Rendered {
    /// The kept form, written by `write` the first time.
    pub fn get_or_init(&self, write: impl FnOnce() -> Box<str>) -> &str {
        self.0.get_or_init(write)
    }
}

impl PartialEq for Rendered {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Rendered {}

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A participant that just connected.
    InsertParticipant(Participant),
    /// A participant whose record changed (disconnected).
    UpdateParticipant(Participant),
    /// The room record changed (completed).
    UpdateRoom(Room),
    /// A recording that just started.
    InsertRecording(crate::recording::Recording),
}

/// What one step of the state machine asks its driver to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Records to write, in one transaction with `events`.
    pub writes: Vec<Write>,
    /// Status-callback events to store.
    pub events: Vec<StatusEvent>,
    /// Notices for sessions, in order, to deliver after the writes committed.
    pub notices: Vec<(To, Notice)>,
    /// Instructions for the media server (which tracks each participant receives, who left).
    pub media: Vec<MediaCommand>,
}

impl Effects {
    /// True when nothing needs doing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.events.is_empty()
            && self.notices.is_empty()
            && self.media.is_empty()
    }

    /// Appends the effects of a later step.
    pub fn extend(&mut self, other: Effects) {
        self.writes.extend(other.writes);
        self.events.extend(other.events);
        self.notices.extend(other.notices);
        self.media.extend(other.media);
    }

    /// Keeps only the latest state of each participant per recipient, for effects of several steps
    /// taken at once (a join and its first tracks): a client needs the newest revision only.
    pub fn coalesce_notices(&mut self) {
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<(To, Notice)> = Vec::with_capacity(self.notices.len());
        for (to, notice) in self.notices.drain(..).rev() {
            if let Notice::Participant(v) = &notice
                && !seen.insert((to, v.sid))
            {
                continue;
            }
            kept.push((to, notice));
        }
        kept.reverse();
        self.notices = kept;
    }
}

/// The outcome of publishing one track the client listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackOutcome {
    /// Published under this SID.
    Published(TrackSid),
    /// Refused.
    Failed(Error),
}

#[derive(Debug, Clone)]
struct Member {
    record: Participant,
    revision: u64,
    tracks: Vec<PublishedTrack>,
    /// When the signaling connection dropped, if it did and has not come back.
    detached_since: Option<Timestamp>,
    /// Which tracks of the others it wants, and when that was last set.
    rules: Vec<SubscribeRule>,
    rules_updated: Timestamp,
    /// The tracks it receives now, as the rules select them.
    subscriptions: Vec<Subscription>,
    /// How the others see it now, made when first asked for and shared by every notice and
    /// roster until it changes (`LiveRoom::member_mut` clears it).
    shown: OnceLock<Arc<ParticipantView>>,
}

impl Member {
    fn view(&self) -> Arc<ParticipantView> {
        Arc::clone(self.shown.get_or_init(|| Arc::new(self.fresh_view())))
    }

    fn fresh_view(&self) -> ParticipantView {
        ParticipantView {
            sid: self.record.sid,
            identity: self.record.identity.clone(),
            revision: self.revision,
            presence: if self.detached_since.is_some() {
                Presence::Reconnecting
            } else {
                Presence::Connected
            },
            tracks: self.tracks.clone(),
            wire: Rendered::default(),
        }
    }

    /// The last state the others receive: disconnected, with the tracks it published then, as
    /// Twilio sends it (twilio-video.js leaves a departed `RemoteParticipant.tracks` as they were
    /// and raises no `trackUnpublished`; an empty list would unpublish them all first).
    fn departure_view(&self) -> Arc<ParticipantView> {
        Arc::new(ParticipantView {
            presence: Presence::Disconnected,
            revision: self.revision + 1,
            ..self.fresh_view()
        })
    }
}

/// A room in progress, with everyone connected to it.
#[derive(Debug, Clone)]
pub struct LiveRoom {
    room: Room,
    config: LiveConfig,
    /// Shared, so that the copy a room task keeps of the state before a batch (to restore if the
    /// batch's write fails) costs a pointer per member; a member is copied when it changes.
    members: Vec<Arc<Member>>,
    /// The tracks the members publish, counted.
    published: usize,
    /// Whether any member receives a track (after the last `resubscribe`).
    subscribed: bool,
    /// Whether anyone ever joined (decides between the unused and the empty timeout).
    ever_joined: bool,
    /// When the room last became empty (if it is empty and someone once joined).
    empty_since: Option<Timestamp>,
    next_sequence: u64,
    /// The recording rules in force and when they were set.
    recording_rules: Vec<crate::rules::RecordingRule>,
    recording_rules_updated: Timestamp,
    /// The recordings in progress, one per recorded track.
    recordings: Vec<record::Active>,
    /// Counts changes of the recording state told to clients.
    recording_revision: u64,
}

impl LiveRoom {
    /// Once nobody is left, gives back the room its lists grew to while people were in (an empty
    /// room stays in progress until its timeout, so the memory would otherwise stay with it);
    /// true if the room is empty.
    pub fn shrink_if_empty(&mut self) -> bool {
        if !self.members.is_empty() {
            return false;
        }
        self.members.shrink_to_fit();
        self.recordings.shrink_to_fit();
        true
    }

    /// A room that was just created (its room-created event used sequence number 0).
    #[must_use]
    pub fn new(room: Room, config: LiveConfig) -> Self {
        Self {
            recording_rules: initial_recording_rules(&room),
            recording_rules_updated: room.date_created,
            room,
            config,
            members: Vec::new(),
            published: 0,
            subscribed: false,
            ever_joined: false,
            empty_since: None,
            next_sequence: 1,
            recordings: Vec::new(),
            recording_revision: 1,
        }
    }

    /// A room brought back after a restart, with nobody connected. `orphans` are the participants
    /// the store still shows connected (the server stopped under them): they are disconnected at `now`
    /// with their callback events. If anyone had joined before, the empty-room timeout starts at `now`.
    #[must_use]
    pub fn restore(
        room: Room,
        config: LiveConfig,
        ever_joined: bool,
        next_sequence: u64,
        now: Timestamp,
        orphans: Vec<Participant>,
    ) -> (Self, Effects) {
        let mut live = Self {
            recording_rules: initial_recording_rules(&room),
            recording_rules_updated: room.date_updated,
            room,
            config,
            members: Vec::new(),
            published: 0,
            subscribed: false,
            ever_joined,
            empty_since: ever_joined.then_some(now),
            next_sequence,
            recordings: Vec::new(),
            recording_revision: 1,
        };
        let mut effects = Effects::default();
        for mut p in orphans {
            p.disconnect(now, EndReason::ServerStopped);
            effects.events.extend(live.participant_event(
                EventKind::ParticipantDisconnected,
                &p,
                now,
            ));
            effects.writes.push(Write::UpdateParticipant(p));
        }
        (live, effects)
    }

    /// The room record.
    #[must_use]
    pub fn room(&self) -> &Room {
        &self.room
    }

    /// Number of participants counted against `MaxParticipants` (reconnecting ones included).
    #[must_use]
    pub fn participant_count(&self) -> usize {
        self.members.len()
    }

    /// The live state of one participant, if connected.
    #[must_use]
    pub fn view(&self, sid: ParticipantSid) -> Option<Arc<ParticipantView>> {
        self.member(sid).map(|m| m.view())
    }

    /// Everyone connected except `except`.
    #[must_use]
    pub fn roster(&self, except: ParticipantSid) -> Vec<Arc<ParticipantView>> {
        self.members
            .iter()
            .filter(|m| m.record.sid != except)
            .map(|m| m.view())
            .collect()
    }

    /// Every connected participant's SID.
    pub fn participant_sids(&self) -> impl Iterator<Item = ParticipantSid> + '_ {
        self.members.iter().map(|m| m.record.sid)
    }

    fn member(&self, sid: ParticipantSid) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.record.sid == sid)
            .map(|m| &**m)
    }

    /// Member `index`, to change: copied first if a saved state still shares it.
    /// The member at `index`, to change: its view is made again when next asked for.
    fn member_mut(&mut self, index: usize) -> &mut Member {
        let member = Arc::make_mut(&mut self.members[index]);
        member.shown = OnceLock::new();
        member
    }

    fn member_index(&self, sid: ParticipantSid) -> Result<usize, Error> {
        self.members
            .iter()
            .position(|m| m.record.sid == sid)
            .ok_or(Error::ParticipantNotFound)
    }

    fn event(&mut self, kind: EventKind, at: Timestamp) -> Option<StatusEvent> {
        let ev = StatusEvent::for_room(&self.room, kind, at, self.next_sequence)?;
        self.next_sequence += 1;
        Some(ev)
    }

    fn participant_event(
        &mut self,
        kind: EventKind,
        p: &Participant,
        at: Timestamp,
    ) -> Option<StatusEvent> {
        let mut ev = self.event(kind, at)?;
        ev.participant = Some(ParticipantFacts {
            sid: p.sid,
            identity: p.identity.clone(),
            status: p.status,
            duration: if kind == EventKind::ParticipantDisconnected {
                p.duration
            } else {
                None
            },
        });
        Some(ev)
    }

    fn track_event(
        &mut self,
        kind: EventKind,
        p: &Participant,
        t: &PublishedTrack,
        at: Timestamp,
    ) -> Option<StatusEvent> {
        let mut ev = self.participant_event(kind, p, at)?;
        ev.track = Some(TrackFacts {
            sid: t.sid,
            kind: t.info.kind,
            name: t.info.name.clone(),
        });
        Some(ev)
    }

    /// Tells every other attached member of `view`, in one entry (none when there is nobody).
    fn tell_others(&self, effects: &mut Effects, view: &Arc<ParticipantView>) {
        if self
            .members
            .iter()
            .any(|m| m.record.sid != view.sid && m.detached_since.is_none())
        {
            effects
                .notices
                .push((To::Others(view.sid), Notice::Participant(Arc::clone(view))));
        }
    }

    /// Connects a new participant with `identity`. An existing participant with the same identity is
    /// disconnected first (it is told `DuplicateIdentity`), which also frees its place.
    ///
    /// # Errors
    /// `RoomCompleted` if the room ended; `RoomFull` at `MaxParticipants`.
    pub fn join(
        &mut self,
        now: Timestamp,
        identity: String,
        ids: &dyn IdSource,
    ) -> Result<(Participant, Effects), Error> {
        if !self.room.is_in_progress() {
            return Err(Error::RoomCompleted);
        }
        let displaced = self
            .members
            .iter()
            .position(|m| m.record.identity == identity);
        let count_after = self.members.len() - usize::from(displaced.is_some());
        if count_after >= self.room.settings.max_participants as usize {
            return Err(Error::RoomFull);
        }
        let mut effects = Effects::default();
        if let Some(i) = displaced {
            effects.extend(self.remove_member(now, i, EndReason::DuplicateIdentity));
        }
        let participant = Participant::connect(
            ParticipantSid::generate(ids),
            self.room.sid,
            self.room.account_sid,
            identity,
            now,
        );
        let member = Member {
            record: participant.clone(),
            revision: 1,
            tracks: Vec::new(),
            detached_since: None,
            rules: subscribe_all(),
            rules_updated: now,
            subscriptions: Vec::new(),
            shown: OnceLock::new(),
        };
        let view = member.view();
        self.members.push(Arc::new(member));
        self.ever_joined = true;
        self.empty_since = None;
        effects
            .writes
            .push(Write::InsertParticipant(participant.clone()));
        effects.events.extend(self.participant_event(
            EventKind::ParticipantConnected,
            &participant,
            now,
        ));
        self.tell_others(&mut effects, &view);
        self.resubscribe(now, &mut effects);
        Ok((participant, effects))
    }

    /// Replaces the tracks a participant publishes with `tracks` (the client's full list). New tracks
    /// get SIDs, missing ones are unpublished, enabled/priority changes are recorded. Returns the
    /// outcome for every listed track, in the client's order.
    ///
    /// # Errors
    /// `ParticipantNotFound` if the participant is not connected.
    pub fn set_tracks(
        &mut self,
        now: Timestamp,
        sid: ParticipantSid,
        tracks: Vec<TrackInfo>,
        ids: &dyn IdSource,
    ) -> Result<(Vec<(String, TrackOutcome)>, Effects), Error> {
        let index = self.member_index(sid)?;
        let audio_only = self.room.settings.audio_only;
        let cap = self.room.settings.max_concurrent_published_tracks as usize;
        let others_tracks: usize = self
            .members
            .iter()
            .filter(|m| m.record.sid != sid)
            .map(|m| m.tracks.len())
            .sum();
        let old = std::mem::take(&mut self.member_mut(index).tracks);
        // Names stay unique among a participant's tracks, whatever their kind (Twilio refuses the
        // newcomer with 53304): the names of the published tracks the client still lists count
        // wherever they stand in its list.
        let staying: Vec<String> = old
            .iter()
            .filter(|t| tracks.iter().any(|i| i.client_id == t.info.client_id))
            .map(|t| t.info.name.clone())
            .collect();
        let mut kept = Vec::new();
        let mut outcomes = Vec::new();
        let mut added = Vec::new();
        let mut toggled = Vec::new();
        for info in tracks {
            if outcomes.iter().any(|(id, _)| *id == info.client_id) {
                continue;
            }
            if let Some(prev) = old.iter().find(|t| t.info.client_id == info.client_id) {
                let mut t = prev.clone();
                if t.info.enabled != info.enabled {
                    toggled.push(t.sid);
                    t.date_updated = now;
                }
                t.info.enabled = info.enabled;
                t.info.priority = info.priority;
                outcomes.push((info.client_id.clone(), TrackOutcome::Published(t.sid)));
                kept.push(t);
                continue;
            }
            let refusal = if audio_only && info.kind == TrackKind::Video {
                Some(Error::TrackKindNotSupported)
            } else if info.name.chars().count() > 128 {
                Some(Error::TrackNameTooLong)
            } else if staying.contains(&info.name) || kept.iter().any(|k| k.info.name == info.name)
            {
                Some(Error::TrackNameDuplicated)
            } else if cap > 0 && others_tracks + kept.len() >= cap {
                Some(Error::TooManyTracks)
            } else {
                None
            };
            if let Some(e) = refusal {
                outcomes.push((info.client_id.clone(), TrackOutcome::Failed(e)));
                continue;
            }
            let t = PublishedTrack {
                sid: TrackSid::generate(ids),
                info,
                date_created: now,
                date_updated: now,
            };
            outcomes.push((t.info.client_id.clone(), TrackOutcome::Published(t.sid)));
            added.push(t.sid);
            kept.push(t);
        }
        let removed: Vec<PublishedTrack> = old
            .iter()
            .filter(|t| !kept.iter().any(|k| k.sid == t.sid))
            .cloned()
            .collect();
        let key = |t: &PublishedTrack| (t.sid, t.info.enabled, t.info.priority);
        let changed = !old.iter().map(key).eq(kept.iter().map(key));
        self.published = self.published - old.len() + kept.len();
        self.member_mut(index).tracks = kept;
        let mut effects = Effects::default();
        if changed {
            self.member_mut(index).revision += 1;
            let record = self.members[index].record.clone();
            let current = self.members[index].tracks.clone();
            for t in &removed {
                effects
                    .events
                    .extend(self.track_event(EventKind::TrackRemoved, &record, t, now));
            }
            for t in current.iter().filter(|t| added.contains(&t.sid)) {
                effects
                    .events
                    .extend(self.track_event(EventKind::TrackAdded, &record, t, now));
            }
            for t in current.iter().filter(|t| toggled.contains(&t.sid)) {
                let kind = if t.info.enabled {
                    EventKind::TrackEnabled
                } else {
                    EventKind::TrackDisabled
                };
                effects
                    .events
                    .extend(self.track_event(kind, &record, t, now));
            }
            let view = self.members[index].view();
            self.tell_others(&mut effects, &view);
            self.resubscribe(now, &mut effects);
            self.rerecord(now, Some(ids), &mut effects);
        }
        Ok((outcomes, effects))
    }

    /// Removes a participant for `reason` (its client left, was kicked, its connection was lost…).
    ///
    /// # Errors
    /// `ParticipantNotFound` if it is not connected.
    pub fn leave(
        &mut self,
        now: Timestamp,
        sid: ParticipantSid,
        reason: EndReason,
    ) -> Result<(Participant, Effects), Error> {
        let index = self.member_index(sid)?;
        let effects = self.remove_member(now, index, reason);
        let record = effects
            .writes
            .iter()
            .find_map(|w| match w {
                Write::UpdateParticipant(p) if p.sid == sid => Some(p.clone()),
                _ => None,
            })
            .ok_or(Error::ParticipantNotFound)?;
        Ok((record, effects))
    }

    fn remove_member(&mut self, now: Timestamp, index: usize, reason: EndReason) -> Effects {
        let member = self.members.remove(index);
        self.published -= member.tracks.len();
        let mut effects = Effects::default();
        let mut record = member.record.clone();
        record.disconnect(now, reason);
        effects
            .writes
            .push(Write::UpdateParticipant(record.clone()));
        for t in &member.tracks {
            effects.events.extend(self.track_event(
                EventKind::TrackRemoved,
                &member.record,
                t,
                now,
            ));
        }
        effects.events.extend(self.participant_event(
            EventKind::ParticipantDisconnected,
            &record,
            now,
        ));
        if !matches!(reason, EndReason::Left | EndReason::ConnectionLost)
            && member.detached_since.is_none()
        {
            effects
                .notices
                .push((To::One(record.sid), Notice::Removed(reason)));
        }
        self.tell_others(&mut effects, &member.departure_view());
        effects.media.push(MediaCommand::Gone {
            participant: record.sid,
        });
        self.resubscribe(now, &mut effects);
        self.rerecord(now, None, &mut effects);
        if self.members.is_empty() {
            self.empty_since = Some(now);
        }
        effects
    }

    /// The participant's signaling connection dropped without a goodbye: it stays in the room as
    /// reconnecting for the reconnect window.
    ///
    /// # Errors
    /// `ParticipantNotFound` if it is not connected.
    pub fn detach(&mut self, now: Timestamp, sid: ParticipantSid) -> Result<Effects, Error> {
        let index = self.member_index(sid)?;
        let mut effects = Effects::default();
        if self.members[index].detached_since.is_none() {
            self.member_mut(index).detached_since = Some(now);
            self.member_mut(index).revision += 1;
            let view = self.members[index].view();
            self.tell_others(&mut effects, &view);
        }
        Ok(effects)
    }

    /// The participant's client reconnected (signaling `sync`).
    ///
    /// # Errors
    /// `ParticipantNotFound` if it is no longer in the room.
    pub fn reattach(&mut self, sid: ParticipantSid) -> Result<Effects, Error> {
        let index = self.member_index(sid)?;
        let mut effects = Effects::default();
        if self.members[index].detached_since.is_some() {
            self.member_mut(index).detached_since = None;
            self.member_mut(index).revision += 1;
            let view = self.members[index].view();
            self.tell_others(&mut effects, &view);
        }
        Ok(effects)
    }

    /// Ends the room: everyone is disconnected and told the room completed.
    ///
    /// # Errors
    /// `RoomStatusInvalid` if the room is not in progress.
    pub fn complete(&mut self, now: Timestamp) -> Result<Effects, Error> {
        if !self.room.is_in_progress() {
            return Err(Error::RoomStatusInvalid);
        }
        let mut effects = Effects::default();
        while !self.members.is_empty() {
            effects.extend(self.remove_member(now, 0, EndReason::RoomEnded));
        }
        // Departures are not announced to others when everyone leaves at once: each client is told
        // the room completed instead.
        effects
            .notices
            .retain(|(_, n)| matches!(n, Notice::Removed(_)));
        self.room.complete(now);
        effects.writes.push(Write::UpdateRoom(self.room.clone()));
        effects.events.extend(self.event(EventKind::RoomEnded, now));
        Ok(effects)
    }

    /// When the next timer is due, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if !self.room.is_in_progress() {
            return None;
        }
        let room_deadline = if !self.ever_joined {
            Some(self.room.date_created + self.room.unused_timeout())
        } else {
            self.empty_since.map(|t| t + self.room.empty_timeout())
        };
        let member_deadlines = self.members.iter().flat_map(|m| {
            let max = m.record.start_time
                + Span::from_secs(i64::from(self.room.settings.max_participant_duration));
            let lost = m.detached_since.map(|t| t + self.config.reconnect_window);
            [Some(max), lost].into_iter().flatten()
        });
        room_deadline.into_iter().chain(member_deadlines).min()
    }

    /// Fires every timer due at `now`: participants past their maximum duration or their reconnect
    /// window leave, and a room unused or empty for its timeout completes.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Effects {
        let mut effects = Effects::default();
        if !self.room.is_in_progress() {
            return effects;
        }
        let max = Span::from_secs(i64::from(self.room.settings.max_participant_duration));
        let window = self.config.reconnect_window;
        while let Some((index, reason)) = self.members.iter().enumerate().find_map(|(i, m)| {
            if m.detached_since.is_some_and(|t| t + window <= now) {
                Some((i, EndReason::ConnectionLost))
            } else if m.record.start_time + max <= now {
                Some((i, EndReason::MaxDuration))
            } else {
                None
            }
        }) {
            effects.extend(self.remove_member(now, index, reason));
        }
        let due = if !self.ever_joined {
            self.room.date_created + self.room.unused_timeout() <= now
        } else {
            self.empty_since
                .is_some_and(|t| t + self.room.empty_timeout() <= now)
        };
        if due
            && self.members.is_empty()
            && let Ok(done) = self.complete(now)
        {
            effects.extend(done);
        }
        effects
    }
}
