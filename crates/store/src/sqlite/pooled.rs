//! What goes through sqlx's pool rather than the writer thread: the in-memory database's writes,
//! and the transactions of the pool that read before they write (accounts, API keys).

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use super::changes::Check;
use super::db_err;
use super::rows::{Stmt, Val};
use crate::StoreResult;

/// Runs planned statements through sqlx's pool (an in-memory database).
pub(super) async fn apply(pool: &SqlitePool, planned: &[(Stmt, Check)]) -> StoreResult<()> {
    let mut tx = begin_immediate(pool).await?;
    for (stmt, check) in planned {
        let mut q = sqlx::query(stmt.sql);
        for a in &stmt.args {
            q = match a {
                Val::Text(t) => q.bind(t.as_str()),
                Val::Int(i) => q.bind(*i),
                Val::Null => q.bind(None::<i64>),
            };
        }
        if check.is_count() {
            let row = q.fetch_one(&mut *tx).await.map_err(db_err)?;
            check.count(row.try_get(0).map_err(db_err)?)?;
            continue;
        }
        match q.execute(&mut *tx).await {
            Ok(done) => check.rows(done.rows_affected())?,
            Err(e) if is_unique_violation(&e) => return Err(check.unique(db_err(e))),
            Err(e) => return Err(db_err(e)),
        }
    }
    tx.commit().await.map_err(db_err)
}

/// A transaction of the pool that holds the write lock from its start. Its statements read before
/// they write, and a deferred transaction (sqlx's `begin`) whose read snapshot another
/// connection's commit overtook cannot take the write lock afterwards: SQLite refuses it at once
/// with `SQLITE_BUSY_SNAPSHOT` ("database is locked"), whatever the busy timeout, which made
/// `vroom keys` beside a busy server fail more often than not. `BEGIN IMMEDIATE` waits for the
/// lock in the busy handler instead.
pub(super) async fn begin_immediate(
    pool: &SqlitePool,
) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Frees the unused pages of the page cache of every pooled connection that is idle now
/// (`Store::release_memory`); one in use keeps its cache.
pub(super) async fn release_memory(pool: &SqlitePool) {
    let mut held = Vec::new();
    while let Some(conn) = pool.try_acquire() {
        held.push(conn);
    }
    for conn in &mut held {
        if let Err(e) = sqlx::query(super::read::SHRINK).execute(&mut **conn).await {
            tracing::debug!(error = %e, "a pooled connection could not release its page cache");
        }
    }
}
