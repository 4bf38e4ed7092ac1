//! The embedded SQLite backend.
//!
//! One file, WAL journal (readers never wait for the writer), `synchronous=FULL` (every commit
//! reaches the disk before it returns: a change vroom acknowledged, with a 201 or 202 or a
//! signaling answer, survives a power loss or an OS crash, not only a process crash), foreign
//! keys on, and a busy timeout so concurrent writers queue instead of failing.

mod accounts;
mod changes;
mod commits;
mod compositions;
mod pooled;
mod read;
mod recordings;
mod rows;
mod write;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row};
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
use changes::{apply_on, lease_args, plan};

// The cluster statements (`crate::cluster`), as SQLite takes them.
const SQL_ACQUIRE: &str = cluster::ACQUIRE_LEASE;
const SQL_HOLDER: &str = cluster::LEASE_HOLDER;
const SQL_RENEW_NODE: &str = cluster::RENEW_NODE_LEASE;
const SQL_LEASES_LOST: &str = cluster::LEASES_LOST;
const SQL_RELEASE: &str = cluster::RELEASE_LEASE;
const SQL_FENCE: &str = cluster::FENCE;
const SQL_NEW_LEASE: &str = cluster::NEW_LEASE;
const SQL_ROOMS_IN_PROGRESS: &str = cluster::ROOMS_IN_PROGRESS;
const SQL_OFFER_SECRET: &str = cluster::OFFER_SECRET;
const SQL_SECRET: &str = cluster::SECRET;
static CLAIM: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| cluster::claim_webhooks(""));
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Writes, and every read of an in-memory database.
    pool: SqlitePool,
    /// The REST-facing reads of a file database, inline (see `read.rs`).
    readers: Option<Arc<read::Readers>>,
    /// The writes of the hot paths to a file database, group-committed (see `write.rs`).
    writer: Option<Arc<write::Writer>>,
    /// Whether a file database changed since a value was read (see `commits.rs`).
    commits: Option<Arc<commits::Commits>>,
    /// Rooms' versions read since the last commit.
    room_versions: Arc<commits::Memo<RoomSid>>,
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and runs migrations.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub async fn open_file(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::open_with(options, 8).await
    }

    /// Opens the database named by an `sqlite:` URL.
    ///
    /// # Errors
    /// When the URL is malformed or the database cannot be opened or migrated.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL '{url}': {e}")))?
            .create_if_missing(true);
        // Every connection to ":memory:" is a separate database: keep exactly one.
        let max = if url.contains(":memory:") || url.contains("mode=memory") {
            1
        } else {
            8
        };
        Self::open_with(options, max).await
    }

    async fn open_with(options: SqliteConnectOptions, max_connections: u32) -> StoreResult<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // Switch to WAL and migrate on one connection before the pool opens others: changing the
        // journal mode needs the database to itself, and SQLite refuses it at once (no busy wait)
        // while another connection holds a lock. An in-memory database exists only within its one
        // connection, so it is set up through the pool itself.
        if max_connections > 1 {
            let mut first = options.clone().connect().await.map_err(db_err)?;
            MIGRATIONS
                .run(&mut first)
                .await
                .map_err(|e| StoreError::Database(Box::new(e)))?;
            first.close().await.map_err(db_err)?;
        }
        // No `ping` before handing a connection out: a connection to a local file does not go
        // stale, and the round trip to its thread cost as much as the query it preceded.
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(max_connections)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        MIGRATIONS
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        let (readers, writer, commits) = if max_connections > 1 {
            let path = options.get_filename();
            let readers = Arc::new(read::Readers::open(path)?);
            let commits = commits::Commits::open(path).map(Arc::new);
            let writer = Arc::new(write::Writer::start(path, commits.clone())?);
            (Some(readers), Some(writer), commits)
        } else {
            (None, None, None)
        };
        Ok(Self {
            pool,
            readers,
            writer,
            commits,
            room_versions: Arc::default(),
        })
    }

    /// Runs a planned list on whichever connections serve reads.
    async fn page<T>(
        &self,
        plan: &lists::Plan,
        inline: read::Decode<T>,
        pooled: fn(&sqlx::sqlite::SqliteRow) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        if let Some(r) = &self.readers {
            return r.page(plan, inline);
        }
        if let Some((sql, [sid, scope])) = &plan.cursor_check {
            let exists: i64 = sqlx::query(sql)
                .bind(sid)
                .bind(scope)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?
                .try_get(0)
                .map_err(db_err)?;
            if exists == 0 {
                return Err(StoreError::UnknownCursor);
            }
        }
        let mut q = sqlx::query(&plan.sql);
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
            .map(pooled)
            .collect::<StoreResult<Vec<T>>>()?;
        Ok(plan.page(items, found.len()))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn apply(&self, changes: &[Change], events: &[StatusEvent]) -> StoreResult<()> {
        let planned = plan(changes, events);
        match &self.writer {
            Some(w) => w.write(move |conn| apply_on(conn, &planned)).await,
            None => pooled::apply(&self.pool, &planned).await,
        }
    }

    async fn room(&self, sid: RoomSid) -> StoreResult<Option<Room>> {
        const SQL: &str = "SELECT * FROM rooms WHERE sid = ?";
        if let Some(r) = &self.readers {
            return r.one(SQL, &[&sid.to_string()], |row| room_from_row(row));
        }
        let row = sqlx::query(SQL)
            .bind(sid.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(room_from_row).transpose()
    }

    async fn live_room_by_name(
        &self,
        account: AccountSid,
        name: &str,
    ) -> StoreResult<Option<Room>> {
        let args = crate::names::live_by_name_args(&account.to_string(), name);
        if let Some(r) = &self.readers {
            let args: Vec<&dyn rusqlite::ToSql> =
                args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
            return r.one(crate::names::LIVE_BY_NAME, &args, |row| room_from_row(row));
        }
        let mut query = sqlx::query(crate::names::LIVE_BY_NAME);
        for a in args {
            query = query.bind(a);
        }
        let row = query.fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(room_from_row).transpose()
    }

    async fn list_rooms(
        &self,
        account: AccountSid,
        filter: &RoomFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Room>> {
        let plan = lists::rooms(account, filter, page);
        self.page(&plan, |r| room_from_row(r), room_from_row).await
    }

    async fn in_progress_rooms(&self) -> StoreResult<Vec<Room>> {
        let found =
            sqlx::query("SELECT * FROM rooms WHERE status = 'in-progress' ORDER BY date_created")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        found.iter().map(room_from_row).collect()
    }

    async fn orphaned_rooms(&self, now: Timestamp) -> StoreResult<Vec<Room>> {
        let found = sqlx::query(cluster::ORPHANED_ROOMS)
            .bind(now.millis())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        found.iter().map(room_from_row).collect()
    }

    async fn room_ever_joined(&self, room: RoomSid) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM participants WHERE room_sid = ?)")
            .bind(room.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(row.try_get::<i64, _>(0).map_err(db_err)? != 0)
    }

    async fn next_event_sequence(&self, room: RoomSid) -> StoreResult<u64> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(sequence_number) + 1, 0) FROM webhook_outbox WHERE room_sid = ?",
        )
        .bind(room.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let n: i64 = row.try_get(0).map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn participant(&self, sid: ParticipantSid) -> StoreResult<Option<Participant>> {
        const SQL: &str = "SELECT * FROM participants WHERE sid = ?";
        if let Some(r) = &self.readers {
            return r.one(SQL, &[&sid.to_string()], |row| participant_from_row(row));
        }
        let row = sqlx::query(SQL)
            .bind(sid.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(participant_from_row).transpose()
    }

    async fn connected_participant(
        &self,
        room: RoomSid,
        identity: &str,
    ) -> StoreResult<Option<Participant>> {
        const SQL: &str = "SELECT * FROM participants WHERE room_sid = ? AND identity = ? AND status = 'connected'";
        if let Some(r) = &self.readers {
            return r.one(SQL, &[&room.to_string(), &identity], |row| {
                participant_from_row(row)
            });
        }
        let row = sqlx::query(SQL)
            .bind(room.to_string())
            .bind(identity)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(participant_from_row).transpose()
    }

    async fn list_participants(
        &self,
        room: RoomSid,
        filter: &ParticipantFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Participant>> {
        let plan = lists::participants(room, filter, page);
        self.page(&plan, |r| participant_from_row(r), participant_from_row)
            .await
    }

    async fn connected_participants(&self) -> StoreResult<Vec<Participant>> {
        let found = sqlx::query(
            "SELECT * FROM participants WHERE status = 'connected' ORDER BY date_created",
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
        if let Some(w) = &self.writer {
            let claimant = claimant.to_owned();
            let (until, now) = (until.millis(), now.millis());
            let mut claimed = w
                .write(move |c| {
                    let mut st = c.prepare_cached(&CLAIM).map_err(write::err)?;
                    let names: Vec<String> =
                        st.column_names().into_iter().map(str::to_owned).collect();
                    let mut rows = st
                        .query(rusqlite::params![
                            claimant,
                            until,
                            now,
                            now,
                            claimant,
                            i64::from(limit)
                        ])
                        .map_err(write::err)?;
                    let mut claimed = Vec::new();
                    while let Some(row) = rows.next().map_err(write::err)? {
                        claimed.push(webhook_from_row(&read::Named::new(row, &names))?);
                    }
                    Ok(claimed)
                })
                .await?;
            claimed.sort_by_key(|w| w.id);
            return Ok(claimed);
        }
        let found = sqlx::query(&CLAIM)
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
        const SQL: &str = "UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, finished_at = ?, last_error = NULL,
               claimed_by = NULL, claimed_until = 0 WHERE id = ?";
        if let Some(w) = &self.writer {
            let now = now.millis();
            return w
                .write(move |c| {
                    c.prepare_cached(SQL)
                        .and_then(|mut st| st.execute(rusqlite::params![now, id]))
                        .map(drop)
                        .map_err(write::err)
                })
                .await;
        }
        sqlx::query(SQL)
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
        const SQL: &str = "UPDATE webhook_outbox SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, finished_at = ?,
               claimed_by = NULL, claimed_until = 0 WHERE id = ?";
        if let Some(w) = &self.writer {
            let error = error.to_owned();
            return w
                .write(move |c| {
                    c.prepare_cached(SQL)
                        .and_then(|mut st| {
                            st.execute(rusqlite::params![state, next, error, finished, id])
                        })
                        .map(drop)
                        .map_err(write::err)
                })
                .await;
        }
        sqlx::query(SQL)
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
        const SQL: &str = "SELECT * FROM recordings WHERE sid = ?";
        if let Some(r) = &self.readers {
            return r.one(SQL, &[&sid.to_string()], |row| recording_from_row(row));
        }
        let row = sqlx::query(SQL)
            .bind(sid.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(recording_from_row).transpose()
    }

    async fn list_recordings(
        &self,
        account: AccountSid,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Recording>> {
        let plan = lists::recordings(account, filter, page);
        self.page(&plan, |r| recording_from_row(r), recording_from_row)
            .await
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
        if let Some(w) = &self.writer {
            let (node, address) = (node.to_owned(), address.to_owned());
            let now = now.millis();
            return w
                .write(move |c| {
                    use rusqlite::OptionalExtension;
                    let room_s = room.to_string();
                    let token: Option<i64> = c
                        .prepare_cached(SQL_ACQUIRE)
                        .and_then(|mut st| {
                            st.query_row(rusqlite::params![room_s, node, address, now], |r| {
                                r.get(0)
                            })
                            .optional()
                        })
                        .map_err(write::err)?;
                    if let Some(token) = token {
                        return Ok(Acquired::Ours(Lease {
                            room,
                            node: node.clone(),
                            token,
                        }));
                    }
                    c.prepare_cached(SQL_HOLDER)
                        .and_then(|mut st| {
                            st.query_row(rusqlite::params![room_s], |r| {
                                Ok(LeaseHolder {
                                    node: r.get(0)?,
                                    address: r.get(1)?,
                                    expires_at: Timestamp::from_millis(r.get(2)?),
                                })
                            })
                        })
                        .map(Acquired::Held)
                        .map_err(write::err)
                })
                .await;
        }
        let token: Option<i64> = sqlx::query_scalar(SQL_ACQUIRE)
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
        let row = sqlx::query(SQL_HOLDER)
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
        let lost: Vec<(String, i64)> = if let Some(w) = &self.writer {
            let node = node.to_owned();
            let until = until.millis();
            w.write(move |c| {
                c.prepare_cached(SQL_RENEW_NODE)
                    .and_then(|mut st| st.execute(rusqlite::params![node, until]))
                    .map_err(write::err)?;
                let mut st = c.prepare_cached(SQL_LEASES_LOST).map_err(write::err)?;
                let rows = st
                    .query_map(rusqlite::params![node], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(write::err)?;
                rows.collect::<Result<_, _>>().map_err(write::err)
            })
            .await?
        } else {
            sqlx::query(SQL_RENEW_NODE)
                .bind(node)
                .bind(until.millis())
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
            sqlx::query_as(SQL_LEASES_LOST)
                .bind(node)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
        };
        crate::lost_leases(node, lost)
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        if let Some(w) = &self.writer {
            let args = lease_args(lease);
            return w
                .write(move |c| {
                    c.prepare_cached(SQL_RELEASE)
                        .and_then(|mut st| st.execute(rusqlite::params![args.0, args.1, args.2]))
                        .map(drop)
                        .map_err(write::err)
                })
                .await;
        }
        sqlx::query(SQL_RELEASE)
            .bind(lease.room.to_string())
            .bind(&lease.node)
            .bind(lease.token)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn shared_secret(&self, name: &str, fresh: &str) -> StoreResult<String> {
        sqlx::query(SQL_OFFER_SECRET)
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        sqlx::query_scalar(SQL_SECRET)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn release_memory(&self) {
        // An in-memory database's pages are the database: only a file's caches are given back.
        let Some(writer) = &self.writer else { return };
        let shrunk = writer
            .write(|conn| conn.execute_batch(read::SHRINK).map_err(write::err))
            .await;
        if let Err(e) = shrunk {
            tracing::debug!(error = %e, "the writer could not release its page cache");
        }
        if let Some(readers) = &self.readers {
            readers.release_memory();
        }
        pooled::release_memory(&self.pool).await;
    }
}

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tests;
