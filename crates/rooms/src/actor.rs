//! The room task: owns one `LiveRoom`, applies commands one at a time, persists their effects, then
//! tells the sessions. Because one task serialises everything that happens to a room, joins, leaves,
//! takeovers, limits and revisions need no locks and cannot race.
//!
//! Group commit (`batch`): the task takes every command already queued (up to [`batch::MOST`]),
//! applies them one after the other to the live state, stores all their records and events in one
//! write, and only then answers the callers and delivers the notices, in command order. Nobody is
//! told anything before the write that contains it committed; if it fails, the state before the
//! batch comes back and every command of the batch fails. One commit then serves a burst of joins
//! into one room instead of one commit each.
//!
//! A task runs while its node holds the room's lease (`vroom_store::Lease`), which follows the
//! node's own lease: the hub renews that every third of the term, in one write whatever the number
//! of rooms (`Hub::renew_leases`), and every batch a task writes is fenced by its lease. When
//! another node took the room over (this node missed its renewals), the next renewal (which
//! returns the leases taken; the hub tells the task, `Command::LeaseLost`) or fenced write ends
//! the task at once, without writing: its sessions are told they were removed, and the new owner
//! closes their records.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use vroom_domain::live::{LiveRoom, Notice, TrackOutcome};
use vroom_domain::participant::{EndReason, Participant, ParticipantStatus};
use vroom_domain::room::Room;
use vroom_domain::rules::SubscribeRule;
use vroom_domain::sid::{IdSource, ParticipantSid};
use vroom_domain::time::{Span, Timestamp};
use vroom_domain::track::TrackInfo;
use vroom_store::{Change, Lease, Store};

use crate::clock::Clock;

mod batch;
mod told;

use crate::{HubError, JoinRequest, Joined, RoomSnapshot, SessionId, SessionLink};
use batch::Batch;

type Reply<T> = oneshot::Sender<Result<T, HubError>>;

/// What a room task can be asked to do.
///
/// Every room's channel allocates room for 32 commands at its start, so a large variant's payload
/// is boxed: the size of the largest is paid by every room in progress, most of them idle.
pub(crate) enum Command {
    Join {
        request: Box<JoinRequest>,
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
    /// Another node took the room's lease with this token over (the hub's renewal said so).
    LeaseLost {
        token: i64,
    },
}

/// A way to reach a room task.
#[derive(Clone)]
pub(crate) struct RoomHandle {
    tx: mpsc::UnboundedSender<Command>,
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
    pub registry: crate::registry::Registry,
    pub shutdown: CancellationToken,
    /// The node is stopping: it runs the rooms it has until `shutdown`, but takes no new ones.
    pub draining: CancellationToken,
    pub cluster: crate::ClusterConfig,
}

/// A session registered with its room, and when: it is told the `Others` notices staged after
/// `since` (the room's count of them when it registered), not those before, which its roster or
/// its previous state already shows.
pub(crate) struct Registered {
    link: SessionLink,
    since: u64,
}

struct RoomActor {
    live: LiveRoom,
    sessions: HashMap<ParticipantSid, Registered>,
    /// `Others` notices staged so far (`To::Others`): their sequence, to tell each session only
    /// those staged while it was registered.
    told: u64,
    /// Committed notices not delivered yet (a busy room delivers at a pace).
    pending: told::Pending,
    /// The memory of each participant's latest session, kept across reconnections until it leaves.
    memories: HashMap<ParticipantSid, crate::SessionMemory>,
    deps: Arc<Deps>,
    /// After a failed write of a timer's effects, when to try again (so a database outage does not
    /// spin).
    retry_at: Option<Timestamp>,
    /// This node's hold on the room; every write is fenced by it (the hub renews it).
    lease: Lease,
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
    let handle = RoomHandle { tx };
    let actor = RoomActor {
        live,
        sessions: HashMap::new(),
        told: 0,
        pending: told::Pending::default(),
        memories: HashMap::new(),
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
            let clock = Arc::clone(&self.deps.clock);
            let timer = async move {
                match deadline {
                    Some(d) => clock.sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let due = self.delivery_due();
            let delivery = async move {
                match due {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            // What a room does when woken is boxed, for that moment only: inline, its futures
            // (a batch, the store's write) made every room's task about 4 KiB larger for its
            // whole life, idle or not, and a node keeps every room in progress.
            tokio::select! {
                command = rx.recv() => match command {
                    Some(command) => Box::pin(self.serve(command, &mut rx)).await,
                    None => break,
                },
                () = timer => {
                    let now = self.deps.clock.now();
                    if deadline.is_some_and(|d| now >= d) {
                        Box::pin(self.on_timer()).await;
                    }
                }
                () = delivery => self.deliver(),
                () = self.deps.shutdown.cancelled() => {
                    if !self.lost {
                        Box::pin(self.stop()).await;
                    }
                    break;
                }
            }
            if self.lost || !self.live.room().is_in_progress() {
                break;
            }
        }
        // What committed is told before the task ends.
        self.deliver();
        if self.lost {
            self.abandon();
        } else if let Err(e) = self.deps.store.release_lease(&self.lease).await {
            // It lapses by itself; until then no other node takes the room (it has ended, or
            // this node is stopping and the next start takes its rooms back).
            tracing::warn!(room = %sid, error = %e, "could not release the room's lease");
        }
        self.deps.registry.finished(self.live.room(), &me);
        // Commands that raced with the end of the room get `RoomGone` when `rx` drops.
        tracing::debug!(room = %sid, "room task finished");
    }

    /// Serves `first` and every command queued behind it, in batches of one commit each.
    async fn serve(&mut self, first: Command, rx: &mut mpsc::UnboundedReceiver<Command>) {
        let mut batch = Batch::new(self.live.clone());
        let mut next = Some(first);
        while let Some(command) = next.take() {
            let now = self.deps.clock.now();
            match command {
                Command::Join { request, reply } => {
                    self.stage_join(&mut batch, now, *request, reply)
                }
                Command::Leave {
                    participant,
                    reason,
                    session,
                    reply,
                } => self.stage_leave(&mut batch, now, participant, reason, session, reply),
                Command::Detach {
                    participant,
                    session,
                } => self.stage_detach(&mut batch, now, participant, session),
                Command::SetTracks {
                    participant,
                    session,
                    tracks,
                    reply,
                } => self.stage_tracks(&mut batch, now, participant, session, tracks, reply),
                Command::SetRules {
                    participant,
                    rules,
                    reply,
                } => self.stage_rules(&mut batch, now, participant, rules, reply),
                Command::SetRecordingRules { rules, reply } => {
                    self.stage_recording_rules(&mut batch, now, rules, reply);
                }
                Command::Complete { reply } => {
                    self.stage_complete(&mut batch, now, reply);
                    // Nothing after the end of the room: later commands get `RoomGone`.
                    let _ = self.flush(batch).await;
                    return;
                }
                // These read what is committed: the batch so far goes first.
                Command::Resume {
                    participant,
                    session,
                    reply,
                } => {
                    let _ = self.flush(batch).await;
                    let result = self.resume(participant, session).await;
                    let _ = reply.send(result);
                    batch = Batch::new(self.live.clone());
                }
                Command::Inspect { reply } => {
                    let _ = self.flush(batch).await;
                    let _ = reply.send(self.snapshot());
                    batch = Batch::new(self.live.clone());
                }
                Command::LeaseLost { token } => {
                    if token == self.lease.token {
                        tracing::warn!(room = %self.live.room().sid, "another node took the room over; leaving it");
                        self.lost = true;
                    }
                }
            }
            if self.lost || !self.live.room().is_in_progress() {
                break;
            }
            if batch.len() >= batch::MOST {
                let _ = self.flush(batch).await;
                batch = Batch::new(self.live.clone());
            }
            next = rx.try_recv().ok();
        }
        let _ = self.flush(batch).await;
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

    /// A participant's new session takes over (`sync`), on the committed state.
    async fn resume(
        &mut self,
        participant: ParticipantSid,
        session: SessionLink,
    ) -> Result<Joined, HubError> {
        let mut batch = Batch::new(self.live.clone());
        let effects = self.live.reattach(participant)?;
        self.push(&mut batch, effects, Box::new(|_| {}));
        self.flush(batch).await?;
        // The participant keeps the memory of its first session across reconnections.
        let memory = Some(Arc::clone(
            self.memories
                .entry(participant)
                .or_insert_with(|| Arc::clone(&session.memory)),
        ));
        // The session it replaces is told what it was due first.
        self.deliver();
        let since = self.told;
        self.sessions.insert(
            participant,
            Registered {
                link: session,
                since,
            },
        );
        let p = self
            .deps
            .store
            .participant(participant)
            .await?
            .ok_or(HubError::Domain(vroom_domain::Error::ParticipantNotFound))?;
        Ok(Joined {
            memory,
            ..self.joined(p)
        })
    }

    fn snapshot(&self) -> RoomSnapshot {
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
        RoomSnapshot {
            room: self.live.room().clone(),
            participants,
            subscriptions,
            rules,
        }
    }

    fn is_current(&self, participant: ParticipantSid, session: SessionId) -> bool {
        self.sessions
            .get(&participant)
            .is_some_and(|r| r.link.id == session)
    }

    async fn on_timer(&mut self) {
        let now = self.deps.clock.now();
        let mut batch = Batch::new(self.live.clone());
        let effects = self.live.handle_timeout(now);
        self.push(&mut batch, effects, Box::new(|_| {}));
        self.retry_at = match self.flush(batch).await {
            Ok(()) => None,
            Err(_) => Some(now + Span::from_secs(1)),
        };
    }

    /// The room is another node's now: its sessions here end (their clients reconnect and find
    /// the room where it is run); their records are the new owner's to close.
    fn abandon(&mut self) {
        for (_, registered) in self.sessions.drain() {
            let _ = registered
                .link
                .tx
                .send(Notice::Removed(EndReason::ServerStopped));
        }
        self.memories.clear();
    }

    /// The server is stopping: everyone still here leaves now, in one commit, so their records
    /// get a true end time. The room itself stays in progress and comes back at the next start.
    async fn stop(&mut self) {
        let now = self.deps.clock.now();
        let sids: Vec<ParticipantSid> = self.live.participant_sids().collect();
        let mut batch = Batch::new(self.live.clone());
        for sid in sids {
            if let Ok((_, effects)) = self.live.leave(now, sid, EndReason::ServerStopped) {
                self.push(&mut batch, effects, Box::new(|_| {}));
            }
        }
        let _ = self.flush(batch).await;
    }
}

#[cfg(test)]
mod tests {
    /// Every room's channel reserves room for 32 commands when the room starts, idle or not.
    #[test]
    fn a_command_stays_small() {
        assert!(
            std::mem::size_of::<super::Command>() <= 64,
            "{} bytes",
            std::mem::size_of::<super::Command>()
        );
    }
}
