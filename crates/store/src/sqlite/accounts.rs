//! Accounts and their API keys, and the versions REST checks what it keeps against (credentials,
//! rooms). The point reads (`account`, `api_key`, the versions) run on every authenticated request,
//! so a file database answers them inline like the other REST-facing reads.

use sqlx::Row;
use vroom_domain::sid::{AccountSid, ApiKeySid, RoomSid};

use super::pooled::begin_immediate;
use super::{SqliteStore, db_err};
use crate::codec::{Columns, account_from_row, api_key_from_row};
use crate::{Account, ApiKey, StoreError, StoreResult};

pub(super) async fn all(store: &SqliteStore) -> StoreResult<Vec<Account>> {
    let found = sqlx::query("SELECT * FROM accounts ORDER BY date_created, sid")
        .fetch_all(&store.pool)
        .await
        .map_err(db_err)?;
    found.iter().map(account_from_row).collect()
}

pub(super) async fn one(store: &SqliteStore, sid: AccountSid) -> StoreResult<Option<Account>> {
    const SQL: &str = "SELECT * FROM accounts WHERE sid = ?";
    if let Some(r) = &store.readers {
        return r.one(SQL, &[&sid.to_string()], |row| account_from_row(row));
    }
    let row = sqlx::query(SQL)
        .bind(sid.to_string())
        .fetch_optional(&store.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(account_from_row).transpose()
}

pub(super) async fn save(store: &SqliteStore, a: &Account) -> StoreResult<()> {
    let mut tx = begin_immediate(&store.pool).await?;
    if a.main {
        sqlx::query("UPDATE accounts SET main = 0 WHERE main = 1 AND sid <> ?")
            .bind(a.sid.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    sqlx::query(
        "INSERT INTO accounts (sid, auth_token, friendly_name, date_created, main) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token,
           friendly_name = excluded.friendly_name, main = excluded.main",
    )
    .bind(a.sid.to_string())
    .bind(&a.auth_token)
    .bind(&a.friendly_name)
    .bind(a.date_created.millis())
    .bind(i64::from(a.main))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

pub(super) async fn key(store: &SqliteStore, sid: ApiKeySid) -> StoreResult<Option<ApiKey>> {
    const SQL: &str = "SELECT * FROM api_keys WHERE sid = ?";
    if let Some(r) = &store.readers {
        return r.one(SQL, &[&sid.to_string()], |row| api_key_from_row(row));
    }
    let row = sqlx::query(SQL)
        .bind(sid.to_string())
        .fetch_optional(&store.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(api_key_from_row).transpose()
}

pub(super) async fn keys(store: &SqliteStore, account: AccountSid) -> StoreResult<Vec<ApiKey>> {
    let found =
        sqlx::query("SELECT * FROM api_keys WHERE account_sid = ? ORDER BY date_created, sid")
            .bind(account.to_string())
            .fetch_all(&store.pool)
            .await
            .map_err(db_err)?;
    found.iter().map(api_key_from_row).collect()
}

pub(super) async fn save_key(store: &SqliteStore, k: &ApiKey) -> StoreResult<()> {
    let mut tx = begin_immediate(&store.pool).await?;
    let known: i64 = sqlx::query("SELECT COUNT(*) FROM accounts WHERE sid = ?")
        .bind(k.account_sid.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    if known == 0 {
        return Err(StoreError::UnknownAccount);
    }
    sqlx::query(
        "INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created, date_revoked)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (sid) DO UPDATE SET account_sid = excluded.account_sid,
           secret = excluded.secret, friendly_name = excluded.friendly_name,
           date_revoked = excluded.date_revoked",
    )
    .bind(k.sid.to_string())
    .bind(k.account_sid.to_string())
    .bind(&k.secret)
    .bind(&k.friendly_name)
    .bind(k.date_created.millis())
    .bind(k.date_revoked.map(|t| t.millis()))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// Reads the credentials version.
pub(super) const VERSION: &str = "SELECT n FROM credential_changes WHERE id = 1";

/// The credentials version: read from the table only when something was committed since it was
/// last read (`commits.rs`), by this process or any other.
pub(super) async fn version(store: &SqliteStore) -> StoreResult<i64> {
    const SQL: &str = VERSION;
    if let Some(r) = &store.readers {
        let read = || {
            r.one(SQL, &[], |row| row.int("n"))?
                .ok_or_else(|| StoreError::Corrupt("no credential_changes row".into()))
        };
        return match &store.commits {
            Some(c) => c.cached(read),
            None => read(),
        };
    }
    sqlx::query(SQL)
        .fetch_one(&store.pool)
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)
}

/// A room's version (`room_changes`, raised by triggers): read from the table only when something
/// was committed since it was last read for that room (`commits.rs`), by this process or any other.
pub(super) async fn room_version(store: &SqliteStore, room: RoomSid) -> StoreResult<Option<i64>> {
    const SQL: &str = "SELECT n FROM room_changes WHERE room_sid = ?";
    if let Some(r) = &store.readers {
        let read = || r.one(SQL, &[&room.to_string()], |row| row.int("n"));
        return match &store.commits {
            Some(c) => c.cached_for(&store.room_versions, room, read),
            None => read(),
        };
    }
    sqlx::query(SQL)
        .bind(room.to_string())
        .fetch_optional(&store.pool)
        .await
        .map_err(db_err)?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(db_err)
}
