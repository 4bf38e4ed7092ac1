//! Accounts and their API keys, and the versions REST checks what it keeps against (the SQLite
//! backend's `accounts.rs`, in PostgreSQL's dialect).

use vroom_domain::sid::{AccountSid, ApiKeySid, RoomSid};

use super::{PgStore, db_err};
use crate::codec::{account_from_row, api_key_from_row};
use crate::{Account, ApiKey, StoreError, StoreResult};

pub(super) async fn all(store: &PgStore) -> StoreResult<Vec<Account>> {
    let found = sqlx::query("SELECT * FROM accounts ORDER BY date_created, sid")
        .fetch_all(&store.pool)
        .await
        .map_err(db_err)?;
    found.iter().map(account_from_row).collect()
}

pub(super) async fn one(store: &PgStore, sid: AccountSid) -> StoreResult<Option<Account>> {
    store
        .one(
            "SELECT * FROM accounts WHERE sid = $1",
            &[&sid.to_string()],
            account_from_row,
        )
        .await
}

pub(super) async fn save(store: &PgStore, a: &Account) -> StoreResult<()> {
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    if a.main {
        sqlx::query("UPDATE accounts SET main = FALSE WHERE main AND sid <> $1")
            .bind(a.sid.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    sqlx::query(
        "INSERT INTO accounts (sid, auth_token, friendly_name, date_created, main) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token,
           friendly_name = excluded.friendly_name, main = excluded.main",
    )
    .bind(a.sid.to_string())
    .bind(&a.auth_token)
    .bind(&a.friendly_name)
    .bind(a.date_created.millis())
    .bind(a.main)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

pub(super) async fn key(store: &PgStore, sid: ApiKeySid) -> StoreResult<Option<ApiKey>> {
    store
        .one(
            "SELECT * FROM api_keys WHERE sid = $1",
            &[&sid.to_string()],
            api_key_from_row,
        )
        .await
}

pub(super) async fn keys(store: &PgStore, account: AccountSid) -> StoreResult<Vec<ApiKey>> {
    let found =
        sqlx::query("SELECT * FROM api_keys WHERE account_sid = $1 ORDER BY date_created, sid")
            .bind(account.to_string())
            .fetch_all(&store.pool)
            .await
            .map_err(db_err)?;
    found.iter().map(api_key_from_row).collect()
}

pub(super) async fn save_key(store: &PgStore, k: &ApiKey) -> StoreResult<()> {
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE sid = $1)")
        .bind(k.account_sid.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if !known {
        return Err(StoreError::UnknownAccount);
    }
    sqlx::query(
        "INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created, date_revoked)
         VALUES ($1, $2, $3, $4, $5, $6)
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

pub(super) async fn version(store: &PgStore) -> StoreResult<i64> {
    use sqlx::Row;
    sqlx::query("SELECT n FROM credential_changes WHERE id = 1")
        .fetch_one(&store.pool)
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)
}

/// A room's version (`room_changes`, raised by triggers), read per call: another node's commit
/// reaches this one only through the database.
pub(super) async fn room_version(store: &PgStore, room: RoomSid) -> StoreResult<Option<i64>> {
    use sqlx::Row;
    sqlx::query("SELECT n FROM room_changes WHERE room_sid = $1")
        .bind(room.to_string())
        .fetch_optional(&store.pool)
        .await
        .map_err(db_err)?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(db_err)
}
