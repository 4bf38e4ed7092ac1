//! vroom's storage: one narrow [`Store`] trait and its implementations.
//!
//! # Layout
//! - this file: the trait, the filter and change types, and `StoreError`;
//! - [`sqlite`]: the embedded SQLite backend (WAL), migrations embedded from `migrations/sqlite`;
//! - [`postgres`]: the PostgreSQL backend, migrations embedded from `migrations/postgres` (the same
//!   files, table for table, in PostgreSQL's types);
//! - `codec` (private): reading records out of either backend's rows; `lists` (private): the
//!   keyset-paged list queries both backends run;
//! - [`open`]: picks a backend from a database URL;
//! - [`private`]: keeps the database folder and files to their owner (they hold the secrets);
//! - `suite` (built for tests only): the conformance suite every backend must pass (run by each
//!   backend's tests), one file per part (rooms, participants, outbox, accounts, leases,
//!   recordings, and compositions with hooks and media settings); `compositions` (private): their
//!   statements, stored JSON and rows.
//!
//! # Contracts
//! - Writes come as one batch of [`Change`]s plus the status-callback events they cause, applied in
//!   one transaction: either all of it is stored or none of it.
//! - Rooms and participants are never deleted. A participant goes from `connected` to `disconnected`.
//! - Lists are keyset-paged, newest first (`date_created`, then insertion order, both descending), so
//!   a page stays correct while records are added. Insertion order is a `seq` column every backend
//!   keeps, never a backend's own row id.
//! - A database failure is an `Err`, never an empty result.

mod cluster;
mod codec;
mod compositions;
mod lists;
mod names;
pub mod open;
pub mod postgres;
pub mod private;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod suite;

use async_trait::async_trait;
use vroom_domain::composition::{Composition, CompositionHook, CompositionStatus};
use vroom_domain::event::StatusEvent;
use vroom_domain::live::Write;
use vroom_domain::media_settings::{MediaSettings, SettingsKind};
use vroom_domain::page::{Page, PageRequest};
use vroom_domain::participant::{Participant, ParticipantStatus};
use vroom_domain::recording::{Recording, RecordingStatus};
use vroom_domain::room::{Room, RoomStatus};
use vroom_domain::sid::{
    AccountSid, ApiKeySid, CompositionHookSid, CompositionSid, ParticipantSid, RecordingSid,
    RoomSid,
};
use vroom_domain::time::Timestamp;
use vroom_domain::track::TrackKind;

pub use open::open;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An in-progress room of the account already has this unique name.
    #[error("an in-progress room already has this unique name")]
    UniqueNameTaken,
    /// A connected participant with this identity is already in the room.
    #[error("a connected participant with this identity is already in the room")]
    IdentityTaken,
    /// Another composition hook of the account has this friendly name.
    #[error("a composition hook of the account already has this friendly name")]
    HookNameTaken,
    /// The composition hook already made a composition of this room.
    #[error("the composition hook already composed this room")]
    AlreadyComposed,
    /// An API key names an account that is not stored.
    #[error("no such account")]
    UnknownAccount,
    /// A paging cursor names no record.
    #[error("the page token names no record")]
    UnknownCursor,
    /// A batch fenced by a room lease ([`Change::Fence`]) came from a node that no longer holds it:
    /// another node took the room over. Nothing is written.
    #[error("another node took over the room")]
    LeaseLost,
    /// A batch capped by [`Change::RoomCap`] would give the account more rooms in progress than
    /// its limit. Nothing is written.
    #[error("the account already has {limit} rooms in progress")]
    TooManyRooms {
        /// The limit.
        limit: usize,
    },
    /// The database URL cannot be used.
    #[error("{0}")]
    Config(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// `Change::AnonymizeParticipant`'s statement, for both backends (`?`: `date_updated`, the SID).
pub(crate) const ANONYMIZE_PARTICIPANT: &str = "UPDATE participants SET identity = sid, date_updated = ? \
     WHERE sid = ? AND status = 'disconnected' AND identity <> sid";

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// One record change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not a change but a condition: the whole batch is written only while `lease` still holds
    /// (no other node took the room over since it was acquired), else it fails with `LeaseLost`.
    Fence(Lease),
    /// A new room's lease, written in the batch that inserts the room: the room is the node's
    /// from its first moment, in one commit rather than an `acquire_lease` and then the insert.
    /// Only for a room SID just drawn (nobody can hold it); a lease of the room already stored
    /// fails the batch. Its token is `lease.token` (1 for a new room). It holds while its node's
    /// lease does ([`Store::renew_node_lease`]).
    NewLease {
        /// The lease taken.
        lease: Lease,
        /// Where its node serves (as `acquire_lease` records it).
        address: String,
    },
    /// Not a change but a condition: the batch is written only while `account` has fewer than
    /// `limit` rooms in progress, counted in the store (so across every node) when the condition
    /// is met, else it fails with `TooManyRooms`. Put it before the batch's `InsertRoom`. Batches
    /// capped for one account are serialised (PostgreSQL: an advisory lock per account held to the
    /// commit; SQLite: its single writer), so concurrent creates on any nodes never overshoot.
    RoomCap {
        /// The account whose rooms are counted.
        account: AccountSid,
        /// Rooms in progress it may have, this batch's included.
        limit: usize,
    },
    /// A new room.
    InsertRoom(Room),
    /// A room whose record changed.
    UpdateRoom(Room),
    /// A participant that connected.
    InsertParticipant(Participant),
    /// A participant whose record changed.
    UpdateParticipant(Participant),
    /// A disconnected participant's identity replaced by its SID, for good (REST `Anonymize`).
    /// Only these two columns are written, so nothing else of the record goes back stale; a
    /// participant still connected, or anonymized already, is left as it is.
    AnonymizeParticipant {
        /// The participant.
        sid: ParticipantSid,
        /// Its `date_updated` from now on.
        at: Timestamp,
    },
    /// A recording that started.
    InsertRecording(Recording),
    /// A recording whose status, size or duration changed.
    UpdateRecording(Recording),
    /// A composition that was requested (enqueued).
    InsertComposition(Composition),
    /// A composition whose status, figures, attempts or error changed.
    UpdateComposition(Composition),
    /// A new composition hook (`HookNameTaken` if its name is another's of the account).
    InsertCompositionHook(CompositionHook),
    /// A composition hook whose name, flag or spec changed.
    UpdateCompositionHook(CompositionHook),
    /// A composition hook removed.
    DeleteCompositionHook(CompositionHookSid),
    /// An account's recording or composition settings, stored or replaced.
    SaveMediaSettings(MediaSettings),
}

impl From<Write> for Change {
    fn from(w: Write) -> Self {
        match w {
            Write::InsertParticipant(p) => Self::InsertParticipant(p),
            Write::UpdateParticipant(p) => Self::UpdateParticipant(p),
            Write::UpdateRoom(r) => Self::UpdateRoom(r),
            Write::InsertRecording(r) => Self::InsertRecording(r),
        }
    }
}

/// Filters of the rooms list. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomFilter {
    /// Only rooms with this status.
    pub status: Option<RoomStatus>,
    /// Only rooms with this unique name.
    pub unique_name: Option<String>,
    /// Created at or after.
    pub created_after: Option<Timestamp>,
    /// Created strictly before.
    pub created_before: Option<Timestamp>,
}

/// Filters of a room's participants list. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParticipantFilter {
    /// Only participants with this status.
    pub status: Option<ParticipantStatus>,
    /// Only participants with this identity.
    pub identity: Option<String>,
    /// Created at or after.
    pub created_after: Option<Timestamp>,
    /// Created strictly before.
    pub created_before: Option<Timestamp>,
}

/// Filters of the recordings lists. `None` (or empty) means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    /// Only recordings of this room (`/v1/Rooms/{RoomSid}/Recordings`).
    pub room: Option<RoomSid>,
    /// Only recordings with this status.
    pub status: Option<RecordingStatus>,
    /// Only recordings of this track (`SourceSid`).
    pub source_sid: Option<String>,
    /// Only recordings grouped under every one of these SIDs (their room or participant).
    pub grouping_sids: Vec<String>,
    /// Only audio or only video.
    pub kind: Option<TrackKind>,
    /// Created at or after.
    pub created_after: Option<Timestamp>,
    /// Created strictly before.
    pub created_before: Option<Timestamp>,
}

/// Filters of the compositions list. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompositionFilter {
    /// Only compositions of this room (`RoomSid`).
    pub room: Option<RoomSid>,
    /// Only compositions with this status.
    pub status: Option<CompositionStatus>,
    /// Created at or after.
    pub created_after: Option<Timestamp>,
    /// Created strictly before.
    pub created_before: Option<Timestamp>,
}

/// Filters of the composition hooks list. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompositionHookFilter {
    /// Only enabled (or only disabled) hooks.
    pub enabled: Option<bool>,
    /// Only the hook with this friendly name.
    pub friendly_name: Option<String>,
    /// Created at or after.
    pub created_after: Option<Timestamp>,
    /// Created strictly before.
    pub created_before: Option<Timestamp>,
}

/// A status-callback event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingWebhook {
    /// Outbox row id (increasing in the order events were stored).
    pub id: i64,
    /// The event.
    pub event: StatusEvent,
    /// Delivery attempts made so far.
    pub attempts: u32,
}

/// The pending part of the outbox, at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookBacklog {
    /// Events not yet delivered nor given up.
    pub pending: u64,
    /// When the oldest of them happened (its `Timestamp` in the event), if any is pending.
    pub oldest: Option<Timestamp>,
}

/// An account and one of its API keys: what an operator is shown and what the operator commands
/// use. Not stored as such: the store keeps [`Account`]s and [`ApiKey`]s.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    /// `AC…`
    pub account_sid: AccountSid,
    /// The account's auth token (HTTP Basic password, webhook signing key).
    pub auth_token: String,
    /// `SK…`
    pub api_key_sid: ApiKeySid,
    /// The API key's secret (HTTP Basic password, access-token signing key).
    pub api_key_secret: String,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("account_sid", &self.account_sid)
            .field("api_key_sid", &self.api_key_sid)
            .finish_non_exhaustive()
    }
}

/// An account (a tenant): its rooms, participants and keys are its own.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// `AC…`
    pub sid: AccountSid,
    /// The auth token (HTTP Basic password with the account SID; signs its status callbacks).
    pub auth_token: String,
    /// A name for people (may be empty).
    pub friendly_name: String,
    /// When it was created.
    pub date_created: Timestamp,
    /// Whether this is the server's own account, the one `vroom credentials`, `vroom token` and the
    /// operator commands use unless told otherwise and whose credentials read `/metrics`. At most
    /// one account is.
    pub main: bool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("sid", &self.sid)
            .field("friendly_name", &self.friendly_name)
            .field("date_created", &self.date_created)
            .field("main", &self.main)
            .finish_non_exhaustive()
    }
}

/// An API key of an account: HTTP Basic with its SID and secret acts for the account, and access
/// tokens it signs join the account's rooms, until it is revoked.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `SK…`
    pub sid: ApiKeySid,
    /// The account it acts for.
    pub account_sid: AccountSid,
    /// The secret (HTTP Basic password; signs access tokens).
    pub secret: String,
    /// A name for people (may be empty).
    pub friendly_name: String,
    /// When it was created.
    pub date_created: Timestamp,
    /// When it was revoked; a revoked key is refused everywhere.
    pub date_revoked: Option<Timestamp>,
}

impl ApiKey {
    /// Whether the key may still be used.
    #[must_use]
    pub const fn active(&self) -> bool {
        self.date_revoked.is_none()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("sid", &self.sid)
            .field("account_sid", &self.account_sid)
            .field("friendly_name", &self.friendly_name)
            .field("date_created", &self.date_created)
            .field("date_revoked", &self.date_revoked)
            .finish_non_exhaustive()
    }
}

/// A node's hold on a room in progress: while it holds, only that node runs the room. It holds
/// while its node's own lease does ([`Store::renew_node_lease`]) and until it is given up or
/// taken over (a takeover needs the node's lease expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The room.
    pub room: RoomSid,
    /// The node holding it.
    pub node: String,
    /// The fencing token: larger every time the room changes hands.
    pub token: i64,
}

/// The other node holding a room's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// Its node id.
    pub node: String,
    /// Where it serves (as it announced when acquiring).
    pub address: String,
    /// When its lease ends unless its node renews its own (the epoch when it was given up).
    pub expires_at: Timestamp,
}

/// What an attempt to acquire a room's lease came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease is ours (new, taken over from a node whose lease expired, or already ours).
    Ours(Lease),
    /// Another node holds it.
    Held(LeaseHolder),
}

/// The leases `node` lost, from the rows of [`cluster::LEASES_LOST`] (room SID, token).
pub(crate) fn lost_leases(node: &str, rows: Vec<(String, i64)>) -> StoreResult<Vec<Lease>> {
    rows.into_iter()
        .map(|(room, token)| {
            let room = room
                .parse()
                .map_err(|_| codec::corrupt("room_sid of a lost lease", &room))?;
            Ok(Lease {
                room,
                node: node.to_owned(),
                token,
            })
        })
        .collect()
}

/// Everything vroom keeps. Implementations must be safe to share between tasks.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies `changes` and stores `events` in the outbox, in one transaction.
    ///
    /// # Errors
    /// `UniqueNameTaken` / `IdentityTaken` when a uniqueness rule would break (nothing is written).
    async fn apply(&self, changes: &[Change], events: &[StatusEvent]) -> StoreResult<()>;

    /// A room by SID, whatever its status.
    async fn room(&self, sid: RoomSid) -> StoreResult<Option<Room>>;

    /// The in-progress room of `account` with this unique name.
    async fn live_room_by_name(&self, account: AccountSid, name: &str)
    -> StoreResult<Option<Room>>;

    /// One page of an account's rooms.
    ///
    /// # Errors
    /// `UnknownCursor` when the page cursor names no room.
    async fn list_rooms(
        &self,
        account: AccountSid,
        filter: &RoomFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Room>>;

    /// Every in-progress room (to bring them back to life at start).
    async fn in_progress_rooms(&self) -> StoreResult<Vec<Room>>;

    /// The rooms in progress that no node looks after by `now`: their lease expired or was given
    /// up, or they never had one. A node asks every lease term, so the question must cost in
    /// proportion to the rooms in progress, never to the history, and must not bring back the
    /// rooms that are held (all of them, on a healthy cluster).
    async fn orphaned_rooms(&self, now: Timestamp) -> StoreResult<Vec<Room>>;

    /// Whether anyone ever joined the room.
    async fn room_ever_joined(&self, room: RoomSid) -> StoreResult<bool>;

    /// The sequence number the room's next status-callback event should carry.
    async fn next_event_sequence(&self, room: RoomSid) -> StoreResult<u64>;

    /// A participant by SID.
    async fn participant(&self, sid: ParticipantSid) -> StoreResult<Option<Participant>>;

    /// The connected participant of `room` with this identity.
    async fn connected_participant(
        &self,
        room: RoomSid,
        identity: &str,
    ) -> StoreResult<Option<Participant>>;

    /// One page of a room's participants.
    ///
    /// # Errors
    /// `UnknownCursor` when the page cursor names no participant.
    async fn list_participants(
        &self,
        room: RoomSid,
        filter: &ParticipantFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Participant>>;

    /// Every participant stored as connected (at start, these were left by a stop or crash).
    async fn connected_participants(&self) -> StoreResult<Vec<Participant>>;

    /// Claims pending status-callback events due at `now` for `claimant` until `until`: for each
    /// room only its oldest pending event (so a room's events go out in order), and only if no
    /// other claimant's claim on it lasts past `now` (so one node sends it). At most `limit`, in
    /// the order they were stored.
    async fn claim_webhooks(
        &self,
        claimant: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PendingWebhook>>;

    /// When the next pending event becomes due (or its claim lapses), if any is pending.
    async fn next_webhook_due(&self) -> StoreResult<Option<Timestamp>>;

    /// How many events are pending and when the oldest of them happened (for metrics).
    async fn webhook_backlog(&self) -> StoreResult<WebhookBacklog>;

    /// Marks an event delivered (and no longer claimed).
    async fn webhook_delivered(&self, id: i64, now: Timestamp) -> StoreResult<()>;

    /// Records a failed attempt; retry at `retry_at`, or give up when `None`. The claim ends.
    async fn webhook_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<()>;

    /// A recording by SID.
    async fn recording(&self, sid: RecordingSid) -> StoreResult<Option<Recording>>;

    /// One page of an account's recordings.
    ///
    /// # Errors
    /// `UnknownCursor` when the page cursor names no recording.
    async fn list_recordings(
        &self,
        account: AccountSid,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Recording>>;

    /// Every recording still `processing` (at start, these were left by a stop or crash).
    async fn processing_recordings(&self) -> StoreResult<Vec<Recording>>;

    /// A composition by SID.
    async fn composition(&self, sid: CompositionSid) -> StoreResult<Option<Composition>>;

    /// One page of an account's compositions.
    ///
    /// # Errors
    /// `UnknownCursor` when the page cursor names no composition.
    async fn list_compositions(
        &self,
        account: AccountSid,
        filter: &CompositionFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Composition>>;

    /// Claims the oldest composition job that is ready (`enqueued`, or `processing` by a run whose
    /// claim lapsed; its room ended and none of the room's recordings still processing) for
    /// `node` until `until`, counting one more attempt. `None` when no job is ready.
    async fn claim_composition(
        &self,
        node: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Option<Composition>>;

    /// Extends `node`'s claim on a job to `until`; `false` when the claim is no longer its own.
    async fn hold_composition(
        &self,
        sid: CompositionSid,
        node: &str,
        until: Timestamp,
    ) -> StoreResult<bool>;

    /// Ends every claim `node` holds on unfinished jobs (at its start: runs of its last life died
    /// with it), so they are claimed again at once.
    async fn release_compositions(&self, node: &str) -> StoreResult<()>;

    /// Rooms an enabled composition hook should compose and has not yet (ended after the hook was
    /// created, with recordings), oldest end first, at most `limit`: (hook, room) pairs.
    async fn rooms_for_hooks(&self, limit: u32) -> StoreResult<Vec<(CompositionHookSid, RoomSid)>>;

    /// A composition hook by SID.
    async fn composition_hook(
        &self,
        sid: CompositionHookSid,
    ) -> StoreResult<Option<CompositionHook>>;

    /// One page of an account's composition hooks.
    ///
    /// # Errors
    /// `UnknownCursor` when the page cursor names no hook.
    async fn list_composition_hooks(
        &self,
        account: AccountSid,
        filter: &CompositionHookFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<CompositionHook>>;

    /// An account's recording or composition settings, if it ever set them.
    async fn media_settings(
        &self,
        account: AccountSid,
        kind: SettingsKind,
    ) -> StoreResult<Option<MediaSettings>>;

    /// Every account, oldest first (then by SID).
    async fn accounts(&self) -> StoreResult<Vec<Account>>;

    /// An account by SID.
    async fn account(&self, sid: AccountSid) -> StoreResult<Option<Account>>;

    /// Stores an account, new or changed (auth token, name, `main`). Storing one with `main` set
    /// clears it on every other account, in the same transaction.
    async fn save_account(&self, account: &Account) -> StoreResult<()>;

    /// An API key by SID, revoked or not.
    async fn api_key(&self, sid: ApiKeySid) -> StoreResult<Option<ApiKey>>;

    /// An account's API keys, revoked ones included, oldest first (then by SID).
    async fn api_keys(&self, account: AccountSid) -> StoreResult<Vec<ApiKey>>;

    /// Stores an API key, new or changed (account, secret, name, revocation).
    ///
    /// # Errors
    /// `UnknownAccount` when its account is not stored (nothing is written).
    async fn save_api_key(&self, key: &ApiKey) -> StoreResult<()>;

    /// A number that changes whenever any account or API key is stored, changed or deleted, by
    /// any process (a trigger raises it in the changing transaction): what a cache of verified
    /// credentials is checked against before it is trusted.
    async fn credentials_version(&self) -> StoreResult<i64>;

    /// A number that changes whenever `room` or any of its participants is stored, changed or
    /// deleted, by any process (a trigger raises it in the changing transaction), and never
    /// returns to a value it had; `None` when no such room was ever stored. What a cache of a
    /// room's participant reads is checked against: read it *before* the records it guards, so a
    /// change committed between the two reads shows as a new number the next time.
    async fn room_version(&self, room: RoomSid) -> StoreResult<Option<i64>>;

    /// Acquires the lease of `room` for `node` (serving at `address`): a new lease, a lease given
    /// up or whose node's lease expired by `now` (a new fencing token), or `node`'s own (same
    /// token). It holds while `node`'s lease does: take that first ([`Store::renew_node_lease`]).
    async fn acquire_lease(
        &self,
        room: RoomSid,
        node: &str,
        address: &str,
        now: Timestamp,
    ) -> StoreResult<Acquired>;

    /// Takes or extends `node`'s own lease to `until`, which every one of its rooms' leases
    /// follows: one write per term whatever the number of rooms. Returns the leases other nodes
    /// took from `node` since it last asked (they can only once its lease had expired), each
    /// once, so it stops those rooms.
    async fn renew_node_lease(&self, node: &str, until: Timestamp) -> StoreResult<Vec<Lease>>;

    /// Gives `lease` up (the room ended, or the node stops): any node may acquire it at once, with
    /// a new token.
    async fn release_lease(&self, lease: &Lease) -> StoreResult<()>;

    /// The value of the cluster-wide secret `name`: the stored one, or `fresh`, stored, when there is
    /// none yet. Every node gets the same value, whichever asked first.
    async fn shared_secret(&self, name: &str, fresh: &str) -> StoreResult<String>;

    /// Gives back memory the store keeps only to be faster (page caches it can read again), at a
    /// quiet moment such as the end of a wave of departures; best effort, never an error. The
    /// default keeps everything.
    async fn release_memory(&self) {}
}
