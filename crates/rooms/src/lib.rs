//! vroom's live rooms: the [`Hub`] that creates rooms and finds the task of a room in progress, and
//! the room tasks themselves.
//!
//! # Layout
//! - this file: `Hub`, the service the REST API and signaling call;
//! - `registry`: the rooms in progress here; a room's task starts at the first thing that happens
//!   to it (until then it is dormant, its next timer in one queue the hub rings);
//! - `actor`: one task per room in progress that something happened to, owning its `LiveRoom`;
//! - `leases`: the node's lease renewal, the orphan watch, recovery at start, and a room's task
//!   brought back under a fresh lease;
//! - [`clock`]: `Clock`, with the system clock and a manual one for tests.
//!
//! # Contracts
//! - Every change to a room in progress goes through its task, one at a time.
//! - A change is stored (with its status-callback events) before anyone is told about it.
//! - Sessions receive [`Notice`]s on the channel they registered; a `Removed` notice is the last one.
//! - History (rooms, participants) is read from the store; live state (tracks, presence) from the task.
//! - Several nodes may share one database: a room in progress is run (with a task, or dormant) by
//!   exactly one of them, the one holding its lease (`Store::acquire_lease`; [`ClusterConfig`]). A node takes a room
//!   only when nobody holds it — at its start, when asked for a room with no task, or when the
//!   holder's node lease expired (it died) — and then closes the participants the last holder left
//!   connected. A room's lease follows its node's own lease (`Store::renew_node_lease`), renewed
//!   once per term whatever the number of rooms. Asked for a room another node runs, the hub answers [`HubError::Elsewhere`].

mod actor;
pub mod clock;
mod leases;
mod registry;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vroom_domain::event::{EventKind, StatusEvent};
use vroom_domain::live::{
    LiveConfig, LiveRoom, Notice, ParticipantView, Subscription, TrackOutcome,
};
use vroom_domain::participant::{EndReason, Participant};
use vroom_domain::room::{CreateRoom, Room, ad_hoc_settings};
use vroom_domain::rules::SubscribeRule;
use vroom_domain::sid::{AccountSid, IdSource, ParticipantSid, RoomSid};
use vroom_domain::time::Timestamp;
use vroom_domain::track::TrackInfo;
use vroom_store::{Change, Lease, ParticipantFilter, Store, StoreError};

use crate::actor::{Command, Deps, RoomHandle};
use crate::clock::Clock;

/// Identifies one signaling connection, so a stale connection cannot act for a participant whose
/// client has since reconnected on another.
pub type SessionId = u64;

/// State a signaling session keeps across reconnections of the same participant (revision counters,
/// later media state). The hub stores it without looking inside and hands it to the session that
/// resumes the participant.
pub type SessionMemory = Arc<dyn std::any::Any + Send + Sync>;

/// How a room task reaches a session.
#[derive(Clone)]
pub struct SessionLink {
    /// The session.
    pub id: SessionId,
    /// Where its notices go.
    pub tx: mpsc::UnboundedSender<Notice>,
    /// The session's memory, kept while the participant is in the room.
    pub memory: SessionMemory,
}

impl std::fmt::Debug for SessionLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLink")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a participant gets when it joins or resumes.
#[derive(Clone)]
pub struct Joined {
    /// The room.
    pub room: Room,
    /// The participant's record.
    pub participant: Participant,
    /// Everyone else in the room.
    pub roster: Vec<Arc<ParticipantView>>,
    /// The outcome of each track the participant listed when joining, in its order.
    pub published: Vec<(String, TrackOutcome)>,
    /// On resume: the participant's session memory (the one its first session registered).
    pub memory: Option<SessionMemory>,
    /// The room's recording state: (revision, whether any track is recorded).
    pub recording: (u64, bool),
}

/// The live state of a room in progress.
#[derive(Debug, Clone)]
pub struct RoomSnapshot {
    /// The room.
    pub room: Room,
    /// Everyone connected.
    pub participants: Vec<Arc<ParticipantView>>,
    /// What each participant receives.
    pub subscriptions: HashMap<ParticipantSid, Vec<Subscription>>,
    /// Each participant's subscribe rules and when they were set.
    pub rules: HashMap<ParticipantSid, (Vec<SubscribeRule>, Timestamp)>,
}

/// A participant about to join.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Who (from the access token).
    pub identity: String,
    /// The tracks its client publishes from the start.
    pub tracks: Vec<TrackInfo>,
    /// The subscribe rules its client asked for (default: everything).
    pub rules: Option<Vec<SubscribeRule>>,
    /// How the room reaches its session.
    pub session: SessionLink,
}

/// Why a hub operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A domain rule said no.
    #[error(transparent)]
    Domain(#[from] vroom_domain::Error),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The room's task is gone (the room just ended, or the server is stopping).
    #[error("the room is no longer in progress")]
    RoomGone,
    /// This node is stopping: it takes no new room (neither a new one nor one without a task
    /// here); another node will.
    #[error("this node is stopping")]
    Stopping,
    /// Another node runs the room (holds its lease).
    #[error("the room is run by node {node} ({address})")]
    Elsewhere {
        /// That node's id.
        node: String,
        /// Where it serves.
        address: String,
    },
}

/// This node among the nodes sharing the database.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The node's id, unique among the nodes sharing the database and the same across its
    /// restarts (so a restarted node takes its own rooms back at once).
    pub node: String,
    /// Where the node serves, for the other nodes.
    pub address: String,
    /// How long the node's lease, which all its rooms' leases follow, lasts unless renewed
    /// (renewed every third of it): how long the rooms of a node that died wait before another
    /// node takes them over.
    pub lease: vroom_domain::time::Span,
}

impl ClusterConfig {
    /// A node alone with its database (SQLite): id `local`, 10 s leases.
    #[must_use]
    pub fn single() -> Self {
        Self {
            node: "local".to_owned(),
            address: String::new(),
            lease: vroom_domain::time::Span::from_secs(10),
        }
    }

    /// How often the node renews its lease.
    #[must_use]
    pub fn renew_every(&self) -> vroom_domain::time::Span {
        vroom_domain::time::Span::from_millis((self.lease.millis() / 3).max(1))
    }
}

/// Where the rooms tell the media server what changed: which tracks each participant now receives,
/// and who left. Implemented by the media server; `NoMedia` when there is none.
pub trait MediaHooks: Send + Sync + 'static {
    /// Carries out `commands` for `room`, in order. Must not block.
    fn apply(&self, room: RoomSid, commands: Vec<vroom_domain::live::MediaCommand>);
}

/// No media server: commands are dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMedia;

impl MediaHooks for NoMedia {
    fn apply(&self, _room: RoomSid, _commands: Vec<vroom_domain::live::MediaCommand>) {}
}

/// What the hub is built from.
pub struct HubDeps {
    /// Where records live.
    pub store: Arc<dyn Store>,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Where SIDs come from.
    pub ids: Arc<dyn IdSource>,
    /// Live-room knobs.
    pub config: LiveConfig,
    /// Signalled whenever status-callback events were stored.
    pub outbox: Arc<Notify>,
    /// Status callback of ad-hoc rooms (Twilio's console setting), if any.
    pub ad_hoc_callback: Option<(String, vroom_domain::room::CallbackMethod)>,
    /// The media server.
    pub media: Arc<dyn MediaHooks>,
    /// Rooms in progress one account may have (REST and ad-hoc alike); none: unlimited.
    pub max_rooms_per_account: Option<usize>,
    /// This node among those sharing the database.
    pub cluster: ClusterConfig,
}

/// The rooms service: creates rooms, finds the task of a room in progress, and routes requests to it.
/// Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    deps: Arc<Deps>,
    config: LiveConfig,
    ad_hoc_callback: Option<(String, vroom_domain::room::CallbackMethod)>,
    tracker: TaskTracker,
    next_session: Arc<AtomicU64>,
    /// Rooms in progress one account may have, counted in the store (so across the cluster).
    max_rooms_per_account: Option<usize>,
    /// Taken while bringing a room's task back, so one room is never revived twice at once.
    reviving: Arc<tokio::sync::Mutex<()>>,
}

impl Hub {
    /// Starts the hub: participants left connected by a previous run are disconnected (with their
    /// callback events) and every room still in progress gets its task back.
    ///
    /// # Errors
    /// When the store cannot be read or written.
    pub async fn start(deps: HubDeps) -> Result<Self, HubError> {
        let shared = Arc::new(Deps {
            store: deps.store,
            clock: deps.clock,
            ids: deps.ids,
            outbox: deps.outbox,
            media: deps.media,
            registry: registry::Registry::default(),
            shutdown: CancellationToken::new(),
            draining: CancellationToken::new(),
            cluster: deps.cluster,
        });
        let hub = Self {
            deps: shared,
            config: deps.config,
            ad_hoc_callback: deps.ad_hoc_callback,
            tracker: TaskTracker::new(),
            next_session: Arc::new(AtomicU64::new(1)),
            max_rooms_per_account: deps.max_rooms_per_account,
            reviving: Arc::new(tokio::sync::Mutex::new(())),
        };
        // The node's own lease first: every room lease it takes from here on follows it. What it
        // lost in an earlier run (the losses noted since) no task of this run holds.
        let until = hub.deps.clock.now() + hub.deps.cluster.lease;
        hub.deps
            .store
            .renew_node_lease(&hub.deps.cluster.node, until)
            .await?;
        hub.recover().await?;
        hub.tracker.spawn(hub.clone().watch_orphans());
        hub.tracker.spawn(hub.clone().renew_leases());
        hub.tracker.spawn(hub.clone().ring_alarms());
        Ok(hub)
    }

    /// The task of an in-progress room, started if needed (when no node runs it: this one takes it
    /// over, closing the participants the last one left connected); `None` if the room is not in
    /// progress.
    ///
    /// # Errors
    /// `Elsewhere` when another node runs the room.
    async fn task(&self, room: &Room) -> Result<Option<RoomHandle>, HubError> {
        if !room.is_in_progress() {
            return Ok(None);
        }
        if let Some(h) = self.registered(room.sid) {
            return Ok(Some(h));
        }
        let _one_at_a_time = self.reviving.lock().await;
        if let Some(h) = self.registered(room.sid) {
            return Ok(Some(h));
        }
        let lease = match self.acquire(room).await? {
            Ok(lease) => lease,
            Err(holder) => {
                return Err(HubError::Elsewhere {
                    node: holder.node,
                    address: holder.address,
                });
            }
        };
        if self.deps.draining.is_cancelled() {
            // Nobody runs the room, and this node is stopping: leave it to the next node asked.
            let _ = self.deps.store.release_lease(&lease).await;
            return Err(HubError::Stopping);
        }
        // Read again under the lease: the room may have ended on the node that held it.
        let Some(room) = self.deps.store.room(room.sid).await? else {
            return Ok(None);
        };
        if !room.is_in_progress() {
            let _ = self.deps.store.release_lease(&lease).await;
            return Ok(None);
        }
        let connected = ParticipantFilter {
            status: Some(vroom_domain::participant::ParticipantStatus::Connected),
            ..ParticipantFilter::default()
        };
        let left = self
            .deps
            .store
            .list_participants(
                room.sid,
                &connected,
                &vroom_domain::page::PageRequest {
                    size: 100_000,
                    cursor: None,
                },
            )
            .await?
            .items;
        if !left.is_empty() {
            tracing::info!(room = %room.sid, count = left.len(), "taking the room over; closing the participants its last node left connected");
        }
        let sid = room.sid;
        self.revive(room, left, lease).await?;
        // Its timer may have come due and ended it already: then it is no longer in progress.
        Ok(self.registered(sid))
    }

    /// The clock the hub runs on.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.deps.clock
    }

    /// Where the hub's SIDs come from (also for records made beside it, such as compositions).
    #[must_use]
    pub fn ids(&self) -> &dyn IdSource {
        self.deps.ids.as_ref()
    }

    /// The store the hub writes to.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.deps.store
    }

    /// Live-room configuration (reconnect window…).
    #[must_use]
    pub fn config(&self) -> LiveConfig {
        self.config
    }

    /// A fresh session id.
    #[must_use]
    pub fn new_session_id(&self) -> SessionId {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Creates a room through the REST API.
    ///
    /// # Errors
    /// A domain error for invalid settings, `RoomExists` when an in-progress room has the name.
    pub async fn create_room(
        &self,
        account: AccountSid,
        request: CreateRoom,
    ) -> Result<Room, HubError> {
        let (name, settings) = request.validate()?;
        self.insert_room(account, name, settings, false)
            .await
            .map_err(|e| match e {
                HubError::Store(StoreError::UniqueNameTaken) => {
                    HubError::Domain(vroom_domain::Error::RoomExists)
                }
                other => other,
            })
    }

    async fn insert_room(
        &self,
        account: AccountSid,
        name: Option<String>,
        settings: vroom_domain::room::RoomSettings,
        ad_hoc: bool,
    ) -> Result<Room, HubError> {
        if self.deps.draining.is_cancelled() {
            return Err(HubError::Stopping);
        }
        let now = self.deps.clock.now();
        let sid = RoomSid::generate(self.deps.ids.as_ref());
        let cluster = &self.deps.cluster;
        // The lease is written with the room, so the room is this node's from its first moment;
        // the SID is fresh, so nobody holds it, and one commit serves both.
        let lease = Lease {
            room: sid,
            node: cluster.node.clone(),
            token: 1,
        };
        let room = Room::started(sid, account, name, settings, ad_hoc, now);
        let events: Vec<StatusEvent> = StatusEvent::for_room(&room, EventKind::RoomCreated, now, 0)
            .into_iter()
            .collect();
        let mut changes = vec![Change::NewLease {
            lease: lease.clone(),
            address: cluster.address.clone(),
        }];
        if let Some(limit) = self.max_rooms_per_account {
            // Counted in the store, among every node's rooms, in the insert's own transaction.
            changes.push(Change::RoomCap { account, limit });
        }
        changes.push(Change::InsertRoom(room.clone()));
        let stored = self.deps.store.apply(&changes, &events).await;
        if let Err(e) = stored {
            // Nothing of the batch was written, the lease neither.
            return Err(match e {
                StoreError::TooManyRooms { limit } => {
                    vroom_domain::Error::TooManyRooms { limit }.into()
                }
                other => other.into(),
            });
        }
        if !events.is_empty() {
            self.deps.outbox.notify_one();
        }
        tracing::info!(room = %room.sid, ad_hoc, "room created");
        metrics::counter!("vroom_rooms_created_total", "ad_hoc" => if ad_hoc { "true" } else { "false" })
            .increment(1);
        self.register(LiveRoom::new(room.clone(), self.config), lease);
        Ok(room)
    }

    /// Ends a room (REST `Status=completed`).
    ///
    /// # Errors
    /// `RoomStatusInvalid` if it is not in progress.
    pub async fn complete_room(&self, room: &Room) -> Result<Room, HubError> {
        let Some(task) = self.task(room).await? else {
            return Err(vroom_domain::Error::RoomStatusInvalid.into());
        };
        match task.ask(|reply| Command::Complete { reply }).await {
            Err(HubError::RoomGone) => Err(vroom_domain::Error::RoomStatusInvalid.into()),
            other => other,
        }
    }

    /// Removes a participant from its room (REST `Status=disconnected`).
    ///
    /// # Errors
    /// `ParticipantNotFound` if it is not connected.
    pub async fn kick(
        &self,
        room: &Room,
        participant: ParticipantSid,
    ) -> Result<Participant, HubError> {
        let Some(task) = self.task(room).await? else {
            return Err(vroom_domain::Error::ParticipantNotFound.into());
        };
        let result = task
            .ask(|reply| Command::Leave {
                participant,
                reason: EndReason::Kicked,
                session: None,
                reply,
            })
            .await;
        match result {
            Err(HubError::RoomGone) => Err(vroom_domain::Error::ParticipantNotFound.into()),
            other => other,
        }
    }

    /// Connects `identity` to the in-progress room named `room_name` of `account`, creating the room
    /// (type group, defaults) if there is none. With no name, a new room named by its SID is made. A
    /// name that is a room SID (`RM` + 32 hex digits) names that very room, as in Twilio: it is
    /// joined if in progress, never created.
    ///
    /// # Errors
    /// Domain errors: invalid name, `RoomFull`, `RoomNotFound` (an unknown SID, or another
    /// account's), `RoomCompleted` (the SID of a room that has ended), …
    pub async fn join(
        &self,
        account: AccountSid,
        room_name: Option<&str>,
        request: JoinRequest,
    ) -> Result<Joined, HubError> {
        let identity = request.identity.as_str();
        if let Some(name) = room_name {
            vroom_domain::names::validate_room_name(name)?;
        }
        vroom_domain::names::validate_identity(identity)?;
        if let Some(sid) = room_name.and_then(|n| n.parse::<RoomSid>().ok()) {
            return self.join_by_sid(account, sid, request).await;
        }
        // The room of that name this node runs, found without the store; if it ended meanwhile,
        // the loop below looks again in the store.
        if let Some(task) = room_name
            .and_then(|name| self.here_by_name(account, name))
            .and_then(|sid| self.registered(sid))
            && let Some(joined) = Self::join_task(&task, &request).await
        {
            return joined;
        }
        // A room can end between finding it and joining it; then look again (a new one is created).
        for _ in 0..4 {
            let room = match room_name {
                Some(name) => match self.deps.store.live_room_by_name(account, name).await? {
                    Some(room) => room,
                    None => match self
                        .insert_room(
                            account,
                            Some(name.to_owned()),
                            ad_hoc_settings(self.ad_hoc_callback.clone()),
                            true,
                        )
                        .await
                    {
                        Ok(room) => room,
                        // Someone else created it a moment ago: join theirs.
                        Err(HubError::Store(StoreError::UniqueNameTaken)) => continue,
                        Err(e) => return Err(e),
                    },
                },
                None => {
                    self.insert_room(
                        account,
                        None,
                        ad_hoc_settings(self.ad_hoc_callback.clone()),
                        true,
                    )
                    .await?
                }
            };
            let Some(task) = self.task(&room).await? else {
                continue;
            };
            if let Some(joined) = Self::join_task(&task, &request).await {
                return joined;
            }
        }
        Err(vroom_domain::Error::RoomCreateFailed.into())
    }

    /// Asks the room task to admit `request`; `None` when the room ended first, so that a join by
    /// name looks again (and makes a new room) instead of failing.
    async fn join_task(
        task: &RoomHandle,
        request: &JoinRequest,
    ) -> Option<Result<Joined, HubError>> {
        let request = request.clone();
        match task
            .ask(|reply| Command::Join {
                request: Box::new(request),
                reply,
            })
            .await
        {
            Err(HubError::RoomGone | HubError::Domain(vroom_domain::Error::RoomCompleted)) => None,
            other => Some(other),
        }
    }

    /// Joins the room with SID `sid`. Unlike a name, a SID never creates a room, and a room that
    /// ends meanwhile is reported completed rather than replaced.
    async fn join_by_sid(
        &self,
        account: AccountSid,
        sid: RoomSid,
        request: JoinRequest,
    ) -> Result<Joined, HubError> {
        let room = match self.deps.store.room(sid).await? {
            Some(room) if room.account_sid == account => room,
            _ => return Err(vroom_domain::Error::RoomNotFound.into()),
        };
        let Some(task) = self.task(&room).await? else {
            return Err(vroom_domain::Error::RoomCompleted.into());
        };
        match task
            .ask(|reply| Command::Join {
                request: Box::new(request),
                reply,
            })
            .await
        {
            Err(HubError::RoomGone) => Err(vroom_domain::Error::RoomCompleted.into()),
            other => other,
        }
    }

    async fn task_of(&self, room: RoomSid) -> Result<RoomHandle, HubError> {
        self.registered(room).ok_or(HubError::RoomGone)
    }

    /// A client that lost its connection came back (`sync`) on a new session.
    ///
    /// # Errors
    /// `ParticipantNotFound` if it was disconnected meanwhile; `Elsewhere` when another node runs
    /// the room.
    pub async fn resume(
        &self,
        room: RoomSid,
        participant: ParticipantSid,
        session: SessionLink,
    ) -> Result<Joined, HubError> {
        let task = match self.registered(room) {
            Some(task) => task,
            // Not run here: `Elsewhere` if another node runs it (signaling relays the session
            // there); if nobody does, this node takes it over, which closes the participant.
            None => {
                let found = match self.deps.store.room(room).await? {
                    Some(record) => self.task(&record).await?,
                    None => None,
                };
                found.ok_or(vroom_domain::Error::ParticipantNotFound)?
            }
        };
        task.ask(|reply| Command::Resume {
            participant,
            session,
            reply,
        })
        .await
        .map_err(|e| match e {
            HubError::RoomGone => vroom_domain::Error::ParticipantNotFound.into(),
            other => other,
        })
    }

    /// The participant's client said goodbye.
    ///
    /// # Errors
    /// `ParticipantNotFound` if it had already been removed.
    pub async fn leave(
        &self,
        room: RoomSid,
        participant: ParticipantSid,
        session: SessionId,
    ) -> Result<Participant, HubError> {
        let task = self.task_of(room).await?;
        task.ask(|reply| Command::Leave {
            participant,
            reason: EndReason::Left,
            session: Some(session),
            reply,
        })
        .await
    }

    /// The participant's signaling connection dropped without a goodbye.
    pub async fn detach(&self, room: RoomSid, participant: ParticipantSid, session: SessionId) {
        if let Ok(task) = self.task_of(room).await {
            task.tell(Command::Detach {
                participant,
                session,
            });
        }
    }

    /// The participant's client published this list of tracks.
    ///
    /// # Errors
    /// `ParticipantNotFound` if it is no longer in the room.
    pub async fn set_tracks(
        &self,
        room: RoomSid,
        participant: ParticipantSid,
        session: SessionId,
        tracks: Vec<TrackInfo>,
    ) -> Result<Vec<(String, TrackOutcome)>, HubError> {
        let task = self.task_of(room).await?;
        task.ask(|reply| Command::SetTracks {
            participant,
            session,
            tracks,
            reply,
        })
        .await
    }

    /// Replaces a connected participant's subscribe rules (REST `SubscribeRules`); returns the rules
    /// in force and when they were set.
    ///
    /// # Errors
    /// `SubscribeRulesInvalid` (the old rules stay), `ParticipantNotFound`.
    pub async fn set_subscribe_rules(
        &self,
        room: &Room,
        participant: ParticipantSid,
        rules: Vec<SubscribeRule>,
    ) -> Result<(Vec<SubscribeRule>, Timestamp), HubError> {
        let Some(task) = self.task(room).await? else {
            return Err(vroom_domain::Error::ParticipantNotFound.into());
        };
        task.ask(|reply| Command::SetRules {
            participant,
            rules,
            reply,
        })
        .await
        .map_err(|e| match e {
            HubError::RoomGone => vroom_domain::Error::ParticipantNotFound.into(),
            other => other,
        })
    }

    /// Replaces a room's recording rules (REST `RecordingRules`): recordings start and stop to
    /// match. Returns the rules in force and when they were set.
    ///
    /// # Errors
    /// `RecordingRulesInvalid` (the old rules stay), `RoomCompleted` when the room is not in
    /// progress.
    pub async fn set_recording_rules(
        &self,
        room: &Room,
        rules: Vec<vroom_domain::rules::RecordingRule>,
    ) -> Result<(Vec<vroom_domain::rules::RecordingRule>, Timestamp), HubError> {
        let Some(task) = self.task(room).await? else {
            return Err(vroom_domain::Error::RoomCompleted.into());
        };
        task.ask(|reply| Command::SetRecordingRules { rules, reply })
            .await
            .map_err(|e| match e {
                HubError::RoomGone => vroom_domain::Error::RoomCompleted.into(),
                other => other,
            })
    }

    /// The live state of a room in progress, `None` if it is not.
    ///
    /// # Errors
    /// When the store fails while bringing the room's task back.
    pub async fn snapshot(&self, room: &Room) -> Result<Option<RoomSnapshot>, HubError> {
        let Some(task) = self.task(room).await? else {
            return Ok(None);
        };
        match task.inspect().await {
            Ok(s) => Ok(Some(s)),
            Err(_) => Ok(None),
        }
    }

    /// The node begins to stop: from now on it creates no room and takes over none (`Stopping`;
    /// its orphan watch ends), while the rooms it runs carry on until [`Hub::shutdown`].
    pub fn drain(&self) {
        self.deps.draining.cancel();
    }

    /// Stops every room task: connected participants leave now (their records get an end time), and
    /// rooms stay in progress, their leases released for the other nodes (or the next start).
    /// Waits for the tasks to finish.
    pub async fn shutdown(&self) {
        self.deps.draining.cancel();
        self.deps.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
