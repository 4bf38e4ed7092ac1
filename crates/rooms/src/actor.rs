//! The room task: owns one `LiveRoom`, applies commands one at a time, persists their effects, then
//! tells the sessions. Because one task serialises everything that happens to a room, joins, leaves,
//! takeovers, limits and revisions need no locks and cannot race.
//!
//! A task runs while its node holds the room's lease (`vroom_store::Lease`): it renews the lease
//! every third of its term, and every batch it writes is fenced by it. When another node took the
//! room over (this node missed its renewals), the first failed renewal or fenced write ends the
//! task at once, without writing: its sessions are told they were removed, and the new owner
//! closes their records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use vroom_domain::live::{Effects, LiveRoom, Notice, TrackOutcome};
use vroom_domain::participant::{EndReason, Participant, ParticipantStatus};
use vroom_domain::room::Room;
use vroom_domain::rules::SubscribeRule;
use vroom_domain::sid::{IdSource, ParticipantSid, RoomSid};
use vroom_domain::time::{Span, Timestamp};
use vroom_domain::track::TrackInfo;
use vroom_store::{Change, Lease, Store, StoreError};

use crate::clock::Clock;
use crate::{HubError, JoinRequest, Joined, RoomSnapshot, SessionId, SessionLink};

type Reply<T> = oneshot::Sender<Result<T, HubError>>;

/// What a room task can be asked to do.
pub(crate) enum Command {
    Join {
        request: JoinRequest,
        reply: Reply<Joined>,
    },
    SetRules {
        participant: ParticipantSid,
        rules: Vec<SubscribeRule>,
        reply: Reply<(Vec<SubscribeRule>, vroom_domain::time::Timestamp)>,
    },
    Resume {
        participant: ParticipantSid,
        session: SessionLink,
        reply: Reply<Joined>,
    },
    Leave {
        participant: ParticipantSid,
        reason: EndReason,
        session: Option<SessionId>,
        reply: Reply<Participant>,
    },
    Detach {
        participant: ParticipantSid,
        session: SessionId,
    },
    SetTracks {
        participant: ParticipantSid,
        session: SessionId,
        tracks: Vec<TrackInfo>,
        reply: Reply<Vec<(String, TrackOutcome)>>,
    },
    Complete {
        reply: Reply<Room>,
    },
    SetRecordingRules {
        rules: Vec<vroom_domain::rules::RecordingRule>,
        reply: Reply<(
            Vec<vroom_domain::rules::RecordingRule>,
            vroom_domain::time::Timestamp,
        )>,
    },
    Inspect {
        reply: oneshot::Sender<RoomSnapshot>,
    },
}

/// A way to reach a room task.
#[derive(Clone)]
pub(crate) struct RoomHandle {
    tx: mpsc::UnboundedSender<Command>,
    /// The room's account, to count an account's rooms in progress.
    pub(crate) account: vroom_domain::sid::AccountSid,
}

impl RoomHandle {
    pub(crate) fn same(&self, other: &RoomHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// Sends a command and waits for its reply. A task that is gone (its room ended, or the server is
    /// stopping) answers `RoomGone`.
    pub(crate) async fn ask<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, HubError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| HubError::RoomGone)?;
        rx.await.map_err(|_| HubError::RoomGone)?
    }

    pub(crate) fn tell(&self, command: Command) {
        // A task that is gone has nothing left to do with the command.
        let _ = self.tx.send(command);
    }

    pub(crate) async fn inspect(&self) -> Result<RoomSnapshot, HubError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Inspect { reply })
            .map_err(|_| HubError::RoomGone)?;
        rx.await.map_err(|_| HubError::RoomGone)
    }
}

/// Everything a room task needs from the hub.
pub(crate) struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub outbox: Arc<Notify>,
    pub media: Arc<dyn crate::MediaHooks>,
    pub registry: Arc<Mutex<HashMap<RoomSid, RoomHandle>>>,
    pub shutdown: CancellationToken,
    pub cluster: crate::ClusterConfig,
}

struct RoomActor {
    live: LiveRoom,
    sessions: HashMap<ParticipantSid, SessionLink>,
    /// The memory of each participant's latest session, kept across reconnections until it leaves.
    memories: HashMap<ParticipantSid, crate::SessionMemory>,
    deps: Arc<Deps>,
    /// After a failed write of a timer's effects, when to try again (so a database outage does not
    /// spin).
    retry_at: Option<Timestamp>,
    /// This node's hold on the room; every write is fenced by it.
    lease: Lease,
    /// When to renew the lease next.
    renew_at: Timestamp,
    /// Another node took the room over: stop at once, writing nothing more.
    lost: bool,
}

/// Starts the task for `live` and returns its handle. The caller registers it.
pub(crate) fn spawn(
    live: LiveRoom,
    lease: Lease,
    deps: Arc<Deps>,
    tracker: &tokio_util::task::TaskTracker,
) -> RoomHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = RoomHandle {
        tx,
        account: live.room().account_sid,
    };
    let actor = RoomActor {
        live,
        sessions: HashMap::new(),
        memories: HashMap::new(),
        renew_at: deps.clock.now() + deps.cluster.renew_every(),
        deps,
        retry_at: None,
        lease,
        lost: false,
    };
    let me = handle.clone();
    tracker.spawn(actor.run(rx, me));
    handle
}

/// Logs and counts a stored change: joins, departures (with their reason) and room ends.
pub(crate) fn record(change: &Change) {
    match change {
        Change::InsertParticipant(p) => {
            tracing::info!(room = %p.room_sid, participant = %p.sid, "participant connected");
            metrics::counter!("vroom_participant_joins_total").increment(1);
        }
        Change::UpdateParticipant(p) if p.status == ParticipantStatus::Disconnected => {
            let reason = p.end_reason.map_or("unknown", EndReason::as_str);
            tracing::info!(room = %p.room_sid, participant = %p.sid, reason, duration_s = p.duration, "participant disconnected");
            metrics::counter!("vroom_participant_leaves_total", "reason" => reason).increment(1);
        }
        Change::InsertRecording(r) => {
            tracing::info!(room = %r.room_sid, recording = %r.sid, track = %r.track_sid, "recording started");
            metrics::counter!("vroom_recordings_started_total").increment(1);
        }
        Change::UpdateRoom(r) if !r.is_in_progress() => {
            tracing::info!(room = %r.sid, status = r.status.as_str(), duration_s = r.duration, "room ended");
            metrics::counter!("vroom_rooms_ended_total", "status" => r.status.as_str())
                .increment(1);
        }
        _ => {}
    }
}

/// Keeps `vroom_participants_connected` in step with the participants this process connected (those
/// a previous run left connected are closed at the start without having been counted).
fn count_connected(change: &Change) {
    match change {
        Change::InsertParticipant(_) => {
            metrics::gauge!("vroom_participants_connected").increment(1.0);
        }
        Change::UpdateParticipant(p) if p.status == ParticipantStatus::Disconnected => {
            metrics::gauge!("vroom_participants_connected").decrement(1.0);
        }
        _ => {}
    }
}

impl RoomActor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>, me: RoomHandle) {
        let sid = self.live.room().sid;
        loop {
            let deadline = match (self.live.poll_timeout(), self.retry_at) {
                (Some(d), Some(r)) => Some(d.max(r)),
                (d, _) => d,
            };
            let wake = deadline.map_or(self.renew_at, |d| d.min(self.renew_at));
            tokio::select! {
                command = rx.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                () = self.deps.clock.sleep_until(wake) => {
                    let now = self.deps.clock.now();
                    if now >= self.renew_at {
                        self.renew(now).await;
                    }
                    if !self.lost && deadline.is_some_and(|d| now >= d) {
                        self.on_timer().await;
                    }
                }
                () = self.deps.shutdown.cancelled() => {
                    if !self.lost {
                        self.stop().await;
                    }
                    break;
                }
            }
            if self.lost || !self.live.room().is_in_progress() {
                break;
            }
        }
        if self.lost {
            self.abandon();
        } else if let Err(e) = self.deps.store.release_lease(&self.lease).await {
            // It lapses by itself; until then no other node takes the room (it has ended, or
            // this node is stopping and the next start takes its rooms back).
            tracing::warn!(room = %sid, error = %e, "could not release the room's lease");
        }
        let mut registry = self
            .deps
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if registry.get(&sid).is_some_and(|h| h.same(&me)) {
            registry.remove(&sid);
        }
        drop(registry);
        // Commands that raced with the end of the room get `RoomGone` when `rx` drops.
        tracing::debug!(room = %sid, "room task finished");
    }

    /// Persists `effects` (restoring `before` if that fails), then delivers the notices.
    async fn commit(&mut self, before: LiveRoom, effects: Effects) -> Result<(), HubError> {
        if !effects.writes.is_empty() || !effects.events.is_empty() {
            let changes: Vec<Change> = std::iter::once(Change::Fence(self.lease.clone()))
                .chain(effects.writes.into_iter().map(Change::from))
                .collect();
            if let Err(e) = self.deps.store.apply(&changes, &effects.events).await {
                self.live = before;
                if matches!(e, StoreError::LeaseLost) {
                    tracing::warn!(room = %self.live.room().sid, "another node took the room over; leaving it");
                    self.lost = true;
                } else {
                    tracing::error!(room = %self.live.room().sid, error = %e, "could not store a room change");
                }
                return Err(e.into());
            }
            for change in &changes {
                if let Change::UpdateParticipant(p) = change {
                    self.memories.remove(&p.sid);
                }
                record(change);
                count_connected(change);
            }
            if !effects.events.is_empty() {
                self.deps.outbox.notify_one();
            }
        }
        if !effects.media.is_empty() {
            self.deps.media.apply(self.live.room().sid, effects.media);
        }
        for (to, notice) in effects.notices {
            let removed = matches!(notice, Notice::Removed(_));
            if let Some(link) = self.sessions.get(&to) {
                // A session that went away has nobody left to tell.
                let _ = link.tx.send(notice);
            }
            if removed {
                self.sessions.remove(&to);
            }
        }
        Ok(())
    }

    fn joined(&self, participant: Participant) -> Joined {
        let roster = self.live.roster(participant.sid);
        Joined {
            room: self.live.room().clone(),
            participant,
            roster,
            published: Vec::new(),
            memory: None,
            recording: self.live.recording_state(),
        }
    }

    async fn handle(&mut self, command: Command) {
        let now = self.deps.clock.now();
        match command {
            Command::Join { request, reply } => {
                let JoinRequest {
                    identity,
                    tracks,
                    rules,
                    session,
                } = request;
                let before = self.live.clone();
                let result = match self.live.join(now, identity, self.deps.ids.as_ref()) {
                    Err(e) => Err(e.into()),
                    Ok((participant, mut effects)) => {
                        // The first tracks are published in the same step, so the others see the
                        // newcomer once, with its tracks.
                        let published = match self.live.set_tracks(
                            now,
                            participant.sid,
                            tracks,
                            self.deps.ids.as_ref(),
                        ) {
                            Ok((outcomes, more)) => {
                                effects.extend(more);
                                effects.coalesce_notices();
                                outcomes
                            }
                            Err(_) => Vec::new(),
                        };
                        // Rules the client asked for (invalid ones leave the default: everything).
                        if let Some(rules) = rules
                            && let Ok(more) =
                                self.live.set_subscribe_rules(now, participant.sid, rules)
                        {
                            effects.extend(more);
                        }
                        // Register first so the session also gets notices produced by this very step
                        // (none are addressed to it today, but the order is the safe one).
                        self.memories
                            .insert(participant.sid, std::sync::Arc::clone(&session.memory));
                        self.sessions.insert(participant.sid, session);
                        match self.commit(before, effects).await {
                            Ok(()) => Ok(Joined {
                                published,
                                ..self.joined(participant)
                            }),
                            Err(e) => {
                                self.sessions.remove(&participant.sid);
                                self.memories.remove(&participant.sid);
                                Err(e)
                            }
                        }
                    }
                };
                let _ = reply.send(result);
            }
            Command::Resume {
                participant,
                session,
                reply,
            } => {
                let before = self.live.clone();
                let result = match self.live.reattach(participant) {
                    Err(e) => Err(e.into()),
                    Ok(effects) => match self.commit(before, effects).await {
                        Err(e) => Err(e),
                        Ok(()) => {
                            // The participant keeps the memory of its first session across reconnections.
                            let memory = std::sync::Arc::clone(
                                self.memories
                                    .entry(participant)
                                    .or_insert_with(|| std::sync::Arc::clone(&session.memory)),
                            );
                            let memory = Some(memory);
                            self.sessions.insert(participant, session);
                            self.deps
                                .store
                                .participant(participant)
                                .await
                                .map_err(HubError::from)
                                .and_then(|p| {
                                    p.ok_or(HubError::Domain(
                                        vroom_domain::Error::ParticipantNotFound,
                                    ))
                                })
                                .map(|p| Joined {
                                    memory,
                                    ..self.joined(p)
                                })
                        }
                    },
                };
                let _ = reply.send(result);
            }
            Command::Leave {
                participant,
                reason,
                session,
                reply,
            } => {
                let result = if session.is_some_and(|s| !self.is_current(participant, s)) {
                    Err(HubError::Domain(vroom_domain::Error::ParticipantNotFound))
                } else {
                    let before = self.live.clone();
                    match self.live.leave(now, participant, reason) {
                        Err(e) => Err(e.into()),
                        Ok((record, effects)) => {
                            self.commit(before, effects).await.map(|()| record)
                        }
                    }
                };
                if result.is_ok() && reason == EndReason::Left {
                    self.sessions.remove(&participant);
                }
                let _ = reply.send(result);
            }
            Command::Detach {
                participant,
                session,
            } => {
                if self.is_current(participant, session) {
                    self.sessions.remove(&participant);
                    let before = self.live.clone();
                    if let Ok(effects) = self.live.detach(now, participant) {
                        let _ = self.commit(before, effects).await;
                    }
                }
            }
            Command::SetTracks {
                participant,
                session,
                tracks,
                reply,
            } => {
                let result = if self.is_current(participant, session) {
                    let before = self.live.clone();
                    match self
                        .live
                        .set_tracks(now, participant, tracks, self.deps.ids.as_ref())
                    {
                        Err(e) => Err(e.into()),
                        Ok((outcomes, effects)) => {
                            self.commit(before, effects).await.map(|()| outcomes)
                        }
                    }
                } else {
                    Err(HubError::Domain(vroom_domain::Error::ParticipantNotFound))
                };
                let _ = reply.send(result);
            }
            Command::Complete { reply } => {
                let before = self.live.clone();
                let result = match self.live.complete(now) {
                    Err(e) => Err(e.into()),
                    Ok(effects) => self
                        .commit(before, effects)
                        .await
                        .map(|()| self.live.room().clone()),
                };
                let _ = reply.send(result);
            }
            Command::SetRules {
                participant,
                rules,
                reply,
            } => {
                let before = self.live.clone();
                let result = match self.live.set_subscribe_rules(now, participant, rules) {
                    Err(e) => Err(e.into()),
                    Ok(effects) => self.commit(before, effects).await.and_then(|()| {
                        self.live
                            .subscribe_rules(participant)
                            .ok_or(HubError::Domain(vroom_domain::Error::ParticipantNotFound))
                    }),
                };
                let _ = reply.send(result);
            }
            Command::SetRecordingRules { rules, reply } => {
                let before = self.live.clone();
                let result = match self
                    .live
                    .set_recording_rules(now, rules, self.deps.ids.as_ref())
                {
                    Err(e) => Err(e.into()),
                    Ok(effects) => self.commit(before, effects).await.map(|()| {
                        (
                            self.live.recording_rules().to_vec(),
                            self.live.recording_rules_updated(),
                        )
                    }),
                };
                let _ = reply.send(result);
            }
            Command::Inspect { reply } => {
                let sids: Vec<ParticipantSid> = self.live.participant_sids().collect();
                let participants = sids.iter().filter_map(|p| self.live.view(*p)).collect();
                let subscriptions = sids
                    .iter()
                    .filter_map(|p| Some((*p, self.live.subscriptions(*p)?)))
                    .collect();
                let rules = sids
                    .iter()
                    .filter_map(|p| Some((*p, self.live.subscribe_rules(*p)?)))
                    .collect();
                let _ = reply.send(RoomSnapshot {
                    room: self.live.room().clone(),
                    participants,
                    subscriptions,
                    rules,
                });
            }
        }
    }

    fn is_current(&self, participant: ParticipantSid, session: SessionId) -> bool {
        self.sessions
            .get(&participant)
            .is_some_and(|l| l.id == session)
    }

    async fn on_timer(&mut self) {
        let now = self.deps.clock.now();
        let before = self.live.clone();
        let effects = self.live.handle_timeout(now);
        self.retry_at = match self.commit(before, effects).await {
            Ok(()) => None,
            Err(_) => Some(now + Span::from_secs(1)),
        };
    }

    /// Renews the lease; a renewal refused means another node took the room over.
    async fn renew(&mut self, now: Timestamp) {
        let cluster = &self.deps.cluster;
        match self
            .deps
            .store
            .renew_lease(&self.lease, now + cluster.lease)
            .await
        {
            Ok(true) => self.renew_at = now + cluster.renew_every(),
            Ok(false) => {
                tracing::warn!(room = %self.live.room().sid, "another node took the room over; leaving it");
                self.lost = true;
            }
            Err(e) => {
                tracing::error!(room = %self.live.room().sid, error = %e, "could not renew the room's lease");
                self.renew_at = now + Span::from_secs(1);
            }
        }
    }

    /// The room is another node's now: its sessions here end (their clients reconnect and find
    /// the room where it is run); their records are the new owner's to close.
    fn abandon(&mut self) {
        for (_, link) in self.sessions.drain() {
            let _ = link.tx.send(Notice::Removed(EndReason::ServerStopped));
        }
        self.memories.clear();
    }

    /// The server is stopping: everyone still here leaves now, so their records get a true end time.
    /// The room itself stays in progress and comes back at the next start.
    async fn stop(&mut self) {
        let now = self.deps.clock.now();
        let sids: Vec<ParticipantSid> = self.live.participant_sids().collect();
        for sid in sids {
            let before = self.live.clone();
            if let Ok((_, effects)) = self.live.leave(now, sid, EndReason::ServerStopped) {
                let _ = self.commit(before, effects).await;
            }
        }
    }
}
