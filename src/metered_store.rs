//! The store with a latency histogram around every call (`vroom_store_seconds{op,outcome}`), so
//! the store crate needs no metrics of its own.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use vroom_domain::composition::{Composition, CompositionHook};
use vroom_domain::event::StatusEvent;
use vroom_domain::media_settings::{MediaSettings, SettingsKind};
use vroom_domain::page::{Page, PageRequest};
use vroom_domain::participant::Participant;
use vroom_domain::recording::Recording;
use vroom_domain::room::Room;
use vroom_domain::sid::{
    AccountSid, ApiKeySid, CompositionHookSid, CompositionSid, ParticipantSid, RecordingSid,
    RoomSid,
};
use vroom_domain::time::Timestamp;
use vroom_store::{
    Account, Acquired, ApiKey, Change, CompositionFilter, CompositionHookFilter, Lease,
    ParticipantFilter, PendingWebhook, RecordingFilter, RoomFilter, Store, StoreResult,
    WebhookBacklog,
};

/// Times every call of the store it wraps.
pub struct MeteredStore {
    store: Arc<dyn Store>,
    /// The successful calls of the versions every REST request reads, and of `apply` (every
    /// write: each create, each room task's batch), found once: finding a histogram by its labels
    /// (hashing them, the registry's lock) cost as much as reading a version that stands still.
    credentials_version: metrics::Histogram,
    room_version: metrics::Histogram,
    apply: metrics::Histogram,
}

impl MeteredStore {
    /// `store`, timed into the recorder installed now (none: nothing is recorded).
    pub fn new(store: Arc<dyn Store>) -> Self {
        let ok = |op: &'static str| metrics::histogram!("vroom_store_seconds", "op" => op, "outcome" => "ok");
        Self {
            store,
            credentials_version: ok("credentials_version"),
            room_version: ok("room_version"),
            apply: ok("apply"),
        }
    }
}

async fn timed<T>(op: &'static str, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    timed_into(None, op, call).await
}

/// [`timed`], the successes going to `ok` when it was found before.
async fn timed_into<T>(
    ok: Option<&metrics::Histogram>,
    op: &'static str,
    call: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    let started = Instant::now();
    let result = call.await;
    let seconds = started.elapsed().as_secs_f64();
    match (&result, ok) {
        (Ok(_), Some(ok)) => ok.record(seconds),
        (Ok(_), None) => {
            metrics::histogram!("vroom_store_seconds", "op" => op, "outcome" => "ok")
                .record(seconds);
        }
        (Err(_), _) => {
            metrics::histogram!("vroom_store_seconds", "op" => op, "outcome" => "error")
                .record(seconds);
        }
    }
    result
}

#[async_trait]
impl Store for MeteredStore {
    async fn apply(&self, changes: &[Change], events: &[StatusEvent]) -> StoreResult<()> {
        timed_into(
            Some(&self.apply),
            "apply",
            self.store.apply(changes, events),
        )
        .await
    }
    async fn room(&self, sid: RoomSid) -> StoreResult<Option<Room>> {
        timed("room", self.store.room(sid)).await
    }
    async fn live_room_by_name(
        &self,
        account: AccountSid,
        name: &str,
    ) -> StoreResult<Option<Room>> {
        timed(
            "live_room_by_name",
            self.store.live_room_by_name(account, name),
        )
        .await
    }
    async fn list_rooms(
        &self,
        account: AccountSid,
        filter: &RoomFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Room>> {
        timed("list_rooms", self.store.list_rooms(account, filter, page)).await
    }
    async fn in_progress_rooms(&self) -> StoreResult<Vec<Room>> {
        timed("in_progress_rooms", self.store.in_progress_rooms()).await
    }
    async fn orphaned_rooms(&self, now: Timestamp) -> StoreResult<Vec<Room>> {
        timed("orphaned_rooms", self.store.orphaned_rooms(now)).await
    }
    async fn room_ever_joined(&self, room: RoomSid) -> StoreResult<bool> {
        timed("room_ever_joined", self.store.room_ever_joined(room)).await
    }
    async fn next_event_sequence(&self, room: RoomSid) -> StoreResult<u64> {
        timed("next_event_sequence", self.store.next_event_sequence(room)).await
    }
    async fn participant(&self, sid: ParticipantSid) -> StoreResult<Option<Participant>> {
        timed("participant", self.store.participant(sid)).await
    }
    async fn connected_participant(
        &self,
        room: RoomSid,
        identity: &str,
    ) -> StoreResult<Option<Participant>> {
        timed(
            "connected_participant",
            self.store.connected_participant(room, identity),
        )
        .await
    }
    async fn list_participants(
        &self,
        room: RoomSid,
        filter: &ParticipantFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Participant>> {
        timed(
            "list_participants",
            self.store.list_participants(room, filter, page),
        )
        .await
    }
    async fn connected_participants(&self) -> StoreResult<Vec<Participant>> {
        timed(
            "connected_participants",
            self.store.connected_participants(),
        )
        .await
    }
    async fn claim_webhooks(
        &self,
        claimant: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PendingWebhook>> {
        timed(
            "claim_webhooks",
            self.store.claim_webhooks(claimant, now, until, limit),
        )
        .await
    }
    async fn next_webhook_due(&self) -> StoreResult<Option<Timestamp>> {
        timed("next_webhook_due", self.store.next_webhook_due()).await
    }
    async fn webhook_backlog(&self) -> StoreResult<WebhookBacklog> {
        timed("webhook_backlog", self.store.webhook_backlog()).await
    }
    async fn webhook_delivered(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        timed("webhook_delivered", self.store.webhook_delivered(id, now)).await
    }
    async fn webhook_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<()> {
        timed(
            "webhook_failed",
            self.store.webhook_failed(id, error, retry_at, now),
        )
        .await
    }
    async fn recording(&self, sid: RecordingSid) -> StoreResult<Option<Recording>> {
        timed("recording", self.store.recording(sid)).await
    }
    async fn list_recordings(
        &self,
        account: AccountSid,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Recording>> {
        timed(
            "list_recordings",
            self.store.list_recordings(account, filter, page),
        )
        .await
    }
    async fn processing_recordings(&self) -> StoreResult<Vec<Recording>> {
        timed("processing_recordings", self.store.processing_recordings()).await
    }
    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        timed("accounts", self.store.accounts()).await
    }
    async fn account(&self, sid: AccountSid) -> StoreResult<Option<Account>> {
        timed("account", self.store.account(sid)).await
    }
    async fn save_account(&self, account: &Account) -> StoreResult<()> {
        timed("save_account", self.store.save_account(account)).await
    }
    async fn api_key(&self, sid: ApiKeySid) -> StoreResult<Option<ApiKey>> {
        timed("api_key", self.store.api_key(sid)).await
    }
    async fn api_keys(&self, account: AccountSid) -> StoreResult<Vec<ApiKey>> {
        timed("api_keys", self.store.api_keys(account)).await
    }
    async fn save_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        timed("save_api_key", self.store.save_api_key(key)).await
    }
    async fn credentials_version(&self) -> StoreResult<i64> {
        timed_into(
            Some(&self.credentials_version),
            "credentials_version",
            self.store.credentials_version(),
        )
        .await
    }
    async fn room_version(&self, room: RoomSid) -> StoreResult<Option<i64>> {
        timed_into(
            Some(&self.room_version),
            "room_version",
            self.store.room_version(room),
        )
        .await
    }
    async fn acquire_lease(
        &self,
        room: RoomSid,
        node: &str,
        address: &str,
        now: Timestamp,
    ) -> StoreResult<Acquired> {
        timed(
            "acquire_lease",
            self.store.acquire_lease(room, node, address, now),
        )
        .await
    }
    async fn renew_node_lease(&self, node: &str, until: Timestamp) -> StoreResult<Vec<Lease>> {
        timed("renew_node_lease", self.store.renew_node_lease(node, until)).await
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        timed("release_lease", self.store.release_lease(lease)).await
    }
    async fn shared_secret(&self, name: &str, fresh: &str) -> StoreResult<String> {
        timed("shared_secret", self.store.shared_secret(name, fresh)).await
    }
    async fn release_memory(&self) {
        self.store.release_memory().await;
    }
    async fn composition(&self, sid: CompositionSid) -> StoreResult<Option<Composition>> {
        timed("composition", self.store.composition(sid)).await
    }
    async fn list_compositions(
        &self,
        account: AccountSid,
        filter: &CompositionFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Composition>> {
        timed(
            "list_compositions",
            self.store.list_compositions(account, filter, page),
        )
        .await
    }
    async fn claim_composition(
        &self,
        node: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Option<Composition>> {
        timed(
            "claim_composition",
            self.store.claim_composition(node, now, until),
        )
        .await
    }
    async fn hold_composition(
        &self,
        sid: CompositionSid,
        node: &str,
        until: Timestamp,
    ) -> StoreResult<bool> {
        timed(
            "hold_composition",
            self.store.hold_composition(sid, node, until),
        )
        .await
    }
    async fn release_compositions(&self, node: &str) -> StoreResult<()> {
        timed(
            "release_compositions",
            self.store.release_compositions(node),
        )
        .await
    }
    async fn rooms_for_hooks(&self, limit: u32) -> StoreResult<Vec<(CompositionHookSid, RoomSid)>> {
        timed("rooms_for_hooks", self.store.rooms_for_hooks(limit)).await
    }
    async fn composition_hook(
        &self,
        sid: CompositionHookSid,
    ) -> StoreResult<Option<CompositionHook>> {
        timed("composition_hook", self.store.composition_hook(sid)).await
    }
    async fn list_composition_hooks(
        &self,
        account: AccountSid,
        filter: &CompositionHookFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<CompositionHook>> {
        timed(
            "list_composition_hooks",
            self.store.list_composition_hooks(account, filter, page),
        )
        .await
    }
    async fn media_settings(
        &self,
        account: AccountSid,
        kind: SettingsKind,
    ) -> StoreResult<Option<MediaSettings>> {
        timed("media_settings", self.store.media_settings(account, kind)).await
    }
}
