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
pub struct MeteredStore(pub Arc<dyn Store>);

async fn timed<T>(op: &'static str, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let started = Instant::now();
    let result = call.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!("vroom_store_seconds", "op" => op, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}

#[async_trait]
impl Store for MeteredStore {
    async fn apply(&self, changes: &[Change], events: &[StatusEvent]) -> StoreResult<()> {
        timed("apply", self.0.apply(changes, events)).await
    }
    async fn room(&self, sid: RoomSid) -> StoreResult<Option<Room>> {
        timed("room", self.0.room(sid)).await
    }
    async fn live_room_by_name(
        &self,
        account: AccountSid,
        name: &str,
    ) -> StoreResult<Option<Room>> {
        timed("live_room_by_name", self.0.live_room_by_name(account, name)).await
    }
    async fn list_rooms(
        &self,
        account: AccountSid,
        filter: &RoomFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Room>> {
        timed("list_rooms", self.0.list_rooms(account, filter, page)).await
    }
    async fn in_progress_rooms(&self) -> StoreResult<Vec<Room>> {
        timed("in_progress_rooms", self.0.in_progress_rooms()).await
    }
    async fn orphaned_rooms(&self, now: Timestamp) -> StoreResult<Vec<Room>> {
        timed("orphaned_rooms", self.0.orphaned_rooms(now)).await
    }
    async fn room_ever_joined(&self, room: RoomSid) -> StoreResult<bool> {
        timed("room_ever_joined", self.0.room_ever_joined(room)).await
    }
    async fn next_event_sequence(&self, room: RoomSid) -> StoreResult<u64> {
        timed("next_event_sequence", self.0.next_event_sequence(room)).await
    }
    async fn participant(&self, sid: ParticipantSid) -> StoreResult<Option<Participant>> {
        timed("participant", self.0.participant(sid)).await
    }
    async fn connected_participant(
        &self,
        room: RoomSid,
        identity: &str,
    ) -> StoreResult<Option<Participant>> {
        timed(
            "connected_participant",
            self.0.connected_participant(room, identity),
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
            self.0.list_participants(room, filter, page),
        )
        .await
    }
    async fn connected_participants(&self) -> StoreResult<Vec<Participant>> {
        timed("connected_participants", self.0.connected_participants()).await
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
            self.0.claim_webhooks(claimant, now, until, limit),
        )
        .await
    }
    async fn next_webhook_due(&self) -> StoreResult<Option<Timestamp>> {
        timed("next_webhook_due", self.0.next_webhook_due()).await
    }
    async fn webhook_backlog(&self) -> StoreResult<WebhookBacklog> {
        timed("webhook_backlog", self.0.webhook_backlog()).await
    }
    async fn webhook_delivered(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        timed("webhook_delivered", self.0.webhook_delivered(id, now)).await
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
            self.0.webhook_failed(id, error, retry_at, now),
        )
        .await
    }
    async fn recording(&self, sid: RecordingSid) -> StoreResult<Option<Recording>> {
        timed("recording", self.0.recording(sid)).await
    }
    async fn list_recordings(
        &self,
        account: AccountSid,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Recording>> {
        timed(
            "list_recordings",
            self.0.list_recordings(account, filter, page),
        )
        .await
    }
    async fn processing_recordings(&self) -> StoreResult<Vec<Recording>> {
        timed("processing_recordings", self.0.processing_recordings()).await
    }
    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        timed("accounts", self.0.accounts()).await
    }
    async fn account(&self, sid: AccountSid) -> StoreResult<Option<Account>> {
        timed("account", self.0.account(sid)).await
    }
    async fn save_account(&self, account: &Account) -> StoreResult<()> {
        timed("save_account", self.0.save_account(account)).await
    }
    async fn api_key(&self, sid: ApiKeySid) -> StoreResult<Option<ApiKey>> {
        timed("api_key", self.0.api_key(sid)).await
    }
    async fn api_keys(&self, account: AccountSid) -> StoreResult<Vec<ApiKey>> {
        timed("api_keys", self.0.api_keys(account)).await
    }
    async fn save_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        timed("save_api_key", self.0.save_api_key(key)).await
    }
    async fn credentials_version(&self) -> StoreResult<i64> {
        timed("credentials_version", self.0.credentials_version()).await
    }
    async fn acquire_lease(
        &self,
        room: RoomSid,
        node: &str,
        address: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Acquired> {
        timed(
            "acquire_lease",
            self.0.acquire_lease(room, node, address, now, until),
        )
        .await
    }
    async fn renew_lease(&self, lease: &Lease, until: Timestamp) -> StoreResult<bool> {
        timed("renew_lease", self.0.renew_lease(lease, until)).await
    }
    async fn renew_leases(&self, leases: &[Lease], until: Timestamp) -> StoreResult<Vec<bool>> {
        timed("renew_leases", self.0.renew_leases(leases, until)).await
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        timed("release_lease", self.0.release_lease(lease)).await
    }
    async fn shared_secret(&self, name: &str, fresh: &str) -> StoreResult<String> {
        timed("shared_secret", self.0.shared_secret(name, fresh)).await
    }
    async fn composition(&self, sid: CompositionSid) -> StoreResult<Option<Composition>> {
        timed("composition", self.0.composition(sid)).await
    }
    async fn list_compositions(
        &self,
        account: AccountSid,
        filter: &CompositionFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Composition>> {
        timed(
            "list_compositions",
            self.0.list_compositions(account, filter, page),
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
            self.0.claim_composition(node, now, until),
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
            self.0.hold_composition(sid, node, until),
        )
        .await
    }
    async fn release_compositions(&self, node: &str) -> StoreResult<()> {
        timed("release_compositions", self.0.release_compositions(node)).await
    }
    async fn rooms_for_hooks(&self, limit: u32) -> StoreResult<Vec<(CompositionHookSid, RoomSid)>> {
        timed("rooms_for_hooks", self.0.rooms_for_hooks(limit)).await
    }
    async fn composition_hook(
        &self,
        sid: CompositionHookSid,
    ) -> StoreResult<Option<CompositionHook>> {
        timed("composition_hook", self.0.composition_hook(sid)).await
    }
    async fn list_composition_hooks(
        &self,
        account: AccountSid,
        filter: &CompositionHookFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<CompositionHook>> {
        timed(
            "list_composition_hooks",
            self.0.list_composition_hooks(account, filter, page),
        )
        .await
    }
    async fn media_settings(
        &self,
        account: AccountSid,
        kind: SettingsKind,
    ) -> StoreResult<Option<MediaSettings>> {
        timed("media_settings", self.0.media_settings(account, kind)).await
    }
}
