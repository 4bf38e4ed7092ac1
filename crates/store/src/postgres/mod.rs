//! The PostgreSQL backend: what several vroom nodes share.
//!
//! A pool of connections (sqlx), migrations embedded from `migrations/postgres` and run at open
//! (sqlx takes an advisory lock, so nodes starting together migrate once). The tables are the
//! SQLite backend's, column for column, in PostgreSQL's types (`BIGINT` integers and times,
//! `BOOLEAN` flags); the rows are read back by the same decoders (`crate::codec`) and lists run the
//! same planned queries (`crate::lists`) with numbered placeholders. Commits are durable with the
//! server's default `synchronous_commit = on`.
//!
//! [`scratch`] makes throw-away databases for tests.

mod accounts;
mod compositions;
mod recordings;
mod rows;
pub mod scratch;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
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

use crate::codec::{participant_from_row, recording_from_row, room_from_row, webhook_from_row};
use crate::{
    Account, Acquired, ApiKey, Change, CompositionFilter, CompositionHookFilter, Lease,
    LeaseHolder, ParticipantFilter, PendingWebhook, RecordingFilter, RoomFilter, Store, StoreError,
    StoreResult, WebhookBacklog,
};
use crate::{cluster, lists};

/// The statements shared with SQLite (`crate::cluster`, `crate::names`,
/// `crate::ANONYMIZE_PARTICIPANT`), with their placeholders numbered once.
struct Numbered {
    acquire: String,
    holder: String,
    renew_node: String,
    leases_lost: String,
    release: String,
    fence: String,
    new_lease: String,
    rooms_in_progress: String,
    orphaned_rooms: String,
    claim: String,
    offer_secret: String,
    secret: String,
    live_by_name: String,
    name_taken: String,
    anonymize: String,
}

static NUMBERED: std::sync::LazyLock<Numbered> = std::sync::LazyLock::new(|| Numbered {
    acquire: numbered(cluster::ACQUIRE_LEASE),
    holder: numbered(cluster::LEASE_HOLDER),
    renew_node: numbered(cluster::RENEW_NODE_LEASE),
    leases_lost: numbered(cluster::LEASES_LOST),
    release: numbered(cluster::RELEASE_LEASE),
    fence: numbered(cluster::FENCE),
    new_lease: numbered(cluster::NEW_LEASE),
    rooms_in_progress: numbered(cluster::ROOMS_IN_PROGRESS),
    orphaned_rooms: numbered(cluster::ORPHANED_ROOMS),
    // Nodes claiming at once skip each other's rows instead of waiting for them.
    claim: numbered(&cluster::claim_webhooks("FOR UPDATE SKIP LOCKED")),
    offer_secret: numbered(cluster::OFFER_SECRET),
    secret: numbered(cluster::SECRET),
    live_by_name: numbered(crate::names::LIVE_BY_NAME),
    name_taken: numbered(crate::names::NAME_TAKEN),
    anonymize: numbered(crate::ANONYMIZE_PARTICIPANT),
});
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The transaction-scoped advisory lock serialising an account's capped batches
/// ([`Change::RoomCap`]) across nodes. Its first key keeps vroom's locks apart from any other
/// advisory locks of the database ("vroo"); the second is the account SID hashed. Two accounts
/// whose hashes collide only wait for each other. Argument: account.
const ACCOUNT_LOCK: &str = "SELECT pg_advisory_xact_lock(1987211119, hashtext($1))";

/// Connections each node keeps open at most.
const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// `sql` with its `?` placeholders numbered `$1`, `$2`, … (PostgreSQL's syntax). Our SQL has no
/// `?` inside literals.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names and runs the migrations.
    ///
    /// # Errors
    /// When the URL is malformed, or the server cannot be reached or the database migrated.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Config(format!(
                    "cannot connect to PostgreSQL at {}: {e}",
                    redacted(url)
                ))
            })?;
        MIGRATIONS
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        Ok(Self { pool })
    }

    /// The connection pool (for tests that look at what is stored).
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn page<T>(
        &self,
        plan: &lists::Plan,
        decode: fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        if let Some((sql, [sid, scope])) = &plan.cursor_check {
            let exists: bool = sqlx::query_scalar(&numbered(sql))
                .bind(sid)
                .bind(scope)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
            if !exists {
                return Err(StoreError::UnknownCursor);
            }
        }
        let sql = numbered(&plan.sql);
        let mut q = sqlx::query(&sql);
        for a in &plan.args {
            q = match a {
                lists::Arg::Text(t) => q.bind(t.clone()),
                lists::Arg::Int(i) => q.bind(*i),
            };
        }
        let found = q.fetch_all(&self.pool).await.map_err(db_err)?;
        let items = found
            .iter()
            .take(plan.size())
            .map(decode)
            .collect::<StoreResult<Vec<T>>>()?;
        Ok(plan.page(items, found.len()))
    }

    async fn one<T>(
        &self,
        sql: &str,
        args: &[&str],
        decode: fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        let row = q.fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(decode).transpose()
    }

    async fn apply_change(tx: &mut Transaction<'_, Postgres>, change: &Change) -> StoreResult<()> {
        match change {
            Change::Fence(lease) => {
                let done = sqlx::query(&NUMBERED.fence)
                    .bind(lease.room.to_string())
                    .bind(&lease.node)
                    .bind(lease.token)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::LeaseLost)
                }
            }
            Change::NewLease { lease, address } => {
                sqlx::query(&NUMBERED.new_lease)
                    .bind(lease.room.to_string())
                    .bind(&lease.node)
                    .bind(address)
                    .bind(lease.token)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }
            Change::RoomCap { account, limit } => {
                let account = account.to_string();
                // Held to the commit: another node's capped batch for the account waits here, and
                // its count then sees this batch's room.
                sqlx::query(ACCOUNT_LOCK)
                    .bind(&account)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                let counted: i64 = sqlx::query_scalar(&NUMBERED.rooms_in_progress)
                    .bind(&account)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db_err)?;
                if usize::try_from(counted).map_or(true, |n| n >= *limit) {
                    Err(StoreError::TooManyRooms { limit: *limit })
                } else {
                    Ok(())
                }
            }
            Change::InsertRoom(room) => {
                if let Some(args) = crate::names::name_check(room) {
                    let mut q = sqlx::query_scalar::<_, bool>(&NUMBERED.name_taken);
                    for a in args {
                        q = q.bind(a);
                    }
                    if q.fetch_one(&mut **tx).await.map_err(db_err)? {
                        return Err(StoreError::UniqueNameTaken);
                    }
                }
                rows::insert_room(tx, room).await.map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::UniqueNameTaken
                    } else {
                        db_err(e)
                    }
                })
            }
            Change::UpdateRoom(room) => rows::update_room(tx, room).await.map_err(db_err),
            Change::InsertParticipant(p) => rows::insert_participant(tx, p).await.map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::IdentityTaken
                } else {
                    db_err(e)
                }
            }),
            Change::UpdateParticipant(p) => rows::update_participant(tx, p).await.map_err(db_err),
            Change::AnonymizeParticipant { sid, at } => sqlx::query(&NUMBERED.anonymize)
                .bind(at.millis())
                .bind(sid.to_string())
                .execute(&mut **tx)
                .await
                .map(|_| ())
                .map_err(db_err),
            Change::InsertRecording(r) => recordings::insert(tx, r).await.map_err(db_err),
            Change::UpdateRecording(r) => recordings::update(tx, r).await.map_err(db_err),
            other => compositions::apply(tx, other).await.map(|_| ()),
        }
    }
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the configured URL".to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split(':').next().unwrap_or("");
    format!("{scheme}://{user}@{host}")
}

#[async_trait]
impl Store for PgStore {
    async fn apply(&self, changes: &[Change], events: &[StatusEvent]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if changes.iter().any(|c| matches!(c, Change::RoomCap { .. })) {
            // The cap's count must see what committed while it waited for its lock, whatever
            // the server's default isolation: each statement its own snapshot.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        for change in changes {
            Self::apply_change(&mut tx, change).await?;
        }
        for event in events {
            rows::insert_event(&mut tx, event).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn room(&self, sid: RoomSid) -> StoreResult<Option<Room>> {
        self.one(
            "SELECT * FROM rooms WHERE sid = $1",
            &[&sid.to_string()],
            room_from_row,
        )
        .await
    }

    async fn live_room_by_name(
        &self,
        account: AccountSid,
        name: &str,
    ) -> StoreResult<Option<Room>> {
        let args = crate::names::live_by_name_args(&account.to_string(), name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.one(&NUMBERED.live_by_name, &args, room_from_row).await
    }

    async fn list_rooms(
        &self,
        account: AccountSid,
        filter: &RoomFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Room>> {
        self.page(&lists::rooms(account, filter, page), room_from_row)
            .await
    }

    async fn in_progress_rooms(&self) -> StoreResult<Vec<Room>> {
        let found = sqlx::query(
            "SELECT * FROM rooms WHERE status = 'in-progress' ORDER BY date_created, seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(room_from_row).collect()
    }

    async fn orphaned_rooms(&self, now: Timestamp) -> StoreResult<Vec<Room>> {
        let found = sqlx::query(&NUMBERED.orphaned_rooms)
            .bind(now.millis())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        found.iter().map(room_from_row).collect()
    }

    async fn room_ever_joined(&self, room: RoomSid) -> StoreResult<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM participants WHERE room_sid = $1)")
            .bind(room.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn next_event_sequence(&self, room: RoomSid) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(sequence_number) + 1, 0) FROM webhook_outbox WHERE room_sid = $1",
        )
        .bind(room.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn participant(&self, sid: ParticipantSid) -> StoreResult<Option<Participant>> {
        self.one(
            "SELECT * FROM participants WHERE sid = $1",
            &[&sid.to_string()],
            participant_from_row,
        )
        .await
    }

    async fn connected_participant(
        &self,
        room: RoomSid,
        identity: &str,
    ) -> StoreResult<Option<Participant>> {
        self.one(
            "SELECT * FROM participants WHERE room_sid = $1 AND identity = $2 AND status = 'connected'",
            &[&room.to_string(), identity],
            participant_from_row,
        )
        .await
    }

    async fn list_participants(
        &self,
        room: RoomSid,
        filter: &ParticipantFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Participant>> {
        self.page(
            &lists::participants(room, filter, page),
            participant_from_row,
        )
        .await
    }

    async fn connected_participants(&self) -> StoreResult<Vec<Participant>> {
        let found = sqlx::query(
            "SELECT * FROM participants WHERE status = 'connected' ORDER BY date_created, seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(participant_from_row).collect()
    }

    async fn claim_webhooks(
        &self,
        claimant: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PendingWebhook>> {
        let found = sqlx::query(&NUMBERED.claim)
            .bind(claimant)
            .bind(until.millis())
            .bind(now.millis())
            .bind(now.millis())
            .bind(claimant)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut claimed = found
            .iter()
            .map(webhook_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|w| w.id);
        Ok(claimed)
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<Timestamp>> {
        let t: Option<i64> = sqlx::query_scalar(cluster::NEXT_WEBHOOK_DUE)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(t.map(Timestamp::from_millis))
    }

    async fn webhook_backlog(&self) -> StoreResult<WebhookBacklog> {
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(event_time) FROM webhook_outbox WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let pending: i64 = row.try_get(0).map_err(db_err)?;
        let oldest: Option<i64> = row.try_get(1).map_err(db_err)?;
        Ok(WebhookBacklog {
            pending: u64::try_from(pending).unwrap_or_default(),
            oldest: oldest.map(Timestamp::from_millis),
        })
    }

    async fn webhook_delivered(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, finished_at = $1, last_error = NULL,
               claimed_by = NULL, claimed_until = 0 WHERE id = $2",
        )
        .bind(now.millis())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn webhook_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let (state, next, finished) = match retry_at {
            Some(t) => ("pending", t.millis(), None),
            None => ("failed", now.millis(), Some(now.millis())),
        };
        sqlx::query(
            "UPDATE webhook_outbox SET state = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3, finished_at = $4,
               claimed_by = NULL, claimed_until = 0 WHERE id = $5",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(finished)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn recording(&self, sid: RecordingSid) -> StoreResult<Option<Recording>> {
        self.one(
            "SELECT * FROM recordings WHERE sid = $1",
            &[&sid.to_string()],
            recording_from_row,
        )
        .await
    }

    async fn list_recordings(
        &self,
        account: AccountSid,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Recording>> {
        let plan = lists::recordings(account, filter, page);
        self.page(&plan, recording_from_row).await
    }

    async fn processing_recordings(&self) -> StoreResult<Vec<Recording>> {
        let found = sqlx::query(
            "SELECT * FROM recordings WHERE status = 'processing' ORDER BY date_created, seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(recording_from_row).collect()
    }

    async fn composition(&self, sid: CompositionSid) -> StoreResult<Option<Composition>> {
        compositions::composition(self, sid).await
    }

    async fn list_compositions(
        &self,
        account: AccountSid,
        filter: &CompositionFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Composition>> {
        compositions::list(self, account, filter, page).await
    }

    async fn claim_composition(
        &self,
        node: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Option<Composition>> {
        compositions::claim(self, node, now, until).await
    }

    async fn hold_composition(
        &self,
        sid: CompositionSid,
        node: &str,
        until: Timestamp,
    ) -> StoreResult<bool> {
        compositions::hold(self, sid, node, until).await
    }

    async fn release_compositions(&self, node: &str) -> StoreResult<()> {
        compositions::release(self, node).await
    }

    async fn rooms_for_hooks(&self, limit: u32) -> StoreResult<Vec<(CompositionHookSid, RoomSid)>> {
        compositions::rooms_for_hooks(self, limit).await
    }

    async fn composition_hook(
        &self,
        sid: CompositionHookSid,
    ) -> StoreResult<Option<CompositionHook>> {
        compositions::hook(self, sid).await
    }

    async fn list_composition_hooks(
        &self,
        account: AccountSid,
        filter: &CompositionHookFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<CompositionHook>> {
        compositions::hooks(self, account, filter, page).await
    }

    async fn media_settings(
        &self,
        account: AccountSid,
        kind: SettingsKind,
    ) -> StoreResult<Option<MediaSettings>> {
        compositions::settings(self, account, kind).await
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        accounts::all(self).await
    }

    async fn account(&self, sid: AccountSid) -> StoreResult<Option<Account>> {
        accounts::one(self, sid).await
    }

    async fn save_account(&self, account: &Account) -> StoreResult<()> {
        accounts::save(self, account).await
    }

    async fn api_key(&self, sid: ApiKeySid) -> StoreResult<Option<ApiKey>> {
        accounts::key(self, sid).await
    }

    async fn api_keys(&self, account: AccountSid) -> StoreResult<Vec<ApiKey>> {
        accounts::keys(self, account).await
    }

    async fn save_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        accounts::save_key(self, key).await
    }

    async fn credentials_version(&self) -> StoreResult<i64> {
        accounts::version(self).await
    }

    async fn room_version(&self, room: RoomSid) -> StoreResult<Option<i64>> {
        accounts::room_version(self, room).await
    }

    async fn acquire_lease(
        &self,
        room: RoomSid,
        node: &str,
        address: &str,
        now: Timestamp,
    ) -> StoreResult<Acquired> {
        let token: Option<i64> = sqlx::query_scalar(&NUMBERED.acquire)
            .bind(room.to_string())
            .bind(node)
            .bind(address)
            .bind(now.millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        if let Some(token) = token {
            return Ok(Acquired::Ours(Lease {
                room,
                node: node.to_owned(),
                token,
            }));
        }
        let row = sqlx::query(&NUMBERED.holder)
            .bind(room.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(Acquired::Held(LeaseHolder {
            node: row.try_get("node_id").map_err(db_err)?,
            address: row.try_get("address").map_err(db_err)?,
            expires_at: Timestamp::from_millis(row.try_get("expires_at").map_err(db_err)?),
        }))
    }

    async fn renew_node_lease(&self, node: &str, until: Timestamp) -> StoreResult<Vec<Lease>> {
        sqlx::query(&NUMBERED.renew_node)
            .bind(node)
            .bind(until.millis())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        let lost: Vec<(String, i64)> = sqlx::query_as(&NUMBERED.leases_lost)
            .bind(node)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        crate::lost_leases(node, lost)
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        sqlx::query(&NUMBERED.release)
            .bind(lease.room.to_string())
            .bind(&lease.node)
            .bind(lease.token)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn shared_secret(&self, name: &str, fresh: &str) -> StoreResult<String> {
        sqlx::query(&NUMBERED.offer_secret)
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        sqlx::query_scalar(&NUMBERED.secret)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }
}

#[cfg(test)]
mod tests;
