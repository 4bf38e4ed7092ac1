//! Keyset-paged lists. Order is newest first: `date_created DESC`, then insertion order (SQLite's
//! `rowid`) descending for records created in the same millisecond. A cursor names a record by SID;
//! "after" reads the records that follow it in that order, "before" those that precede it.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use vroom_domain::page::{Direction, Page, PageRequest};
use vroom_domain::participant::Participant;
use vroom_domain::room::Room;
use vroom_domain::sid::{AccountSid, RoomSid};

use super::{db_err, rows};
use crate::{ParticipantFilter, RoomFilter, StoreError, StoreResult};

pub(super) async fn rooms(
    pool: &SqlitePool,
    account: AccountSid,
    filter: &RoomFilter,
    page: &PageRequest,
) -> StoreResult<Page<Room>> {
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM rooms WHERE account_sid = ");
    qb.push_bind(account.to_string());
    if let Some(status) = filter.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(name) = &filter.unique_name {
        qb.push(" AND unique_name = ").push_bind(name.clone());
    }
    if let Some(t) = filter.created_after {
        qb.push(" AND date_created >= ").push_bind(t.millis());
    }
    if let Some(t) = filter.created_before {
        qb.push(" AND date_created < ").push_bind(t.millis());
    }
    fetch_page(pool, qb, "rooms", page, rows::room_from_row).await
}

pub(super) async fn participants(
    pool: &SqlitePool,
    room: RoomSid,
    filter: &ParticipantFilter,
    page: &PageRequest,
) -> StoreResult<Page<Participant>> {
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM participants WHERE room_sid = ");
    qb.push_bind(room.to_string());
    if let Some(status) = filter.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(identity) = &filter.identity {
        qb.push(" AND identity = ").push_bind(identity.clone());
    }
    if let Some(t) = filter.created_after {
        qb.push(" AND date_created >= ").push_bind(t.millis());
    }
    if let Some(t) = filter.created_before {
        qb.push(" AND date_created < ").push_bind(t.millis());
    }
    fetch_page(pool, qb, "participants", page, rows::participant_from_row).await
}

/// Adds the cursor condition, order and limit to a filtered query, runs it and shapes the page.
/// `table` is one of our own table names, never caller input.
async fn fetch_page<T>(
    pool: &SqlitePool,
    mut qb: QueryBuilder<'_, Sqlite>,
    table: &'static str,
    page: &PageRequest,
    decode: fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let direction = page.cursor.as_ref().map(|c| c.direction);
    if let Some(cursor) = &page.cursor {
        let exists = sqlx::query(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE sid = ?)"
        ))
        .bind(&cursor.sid)
        .fetch_one(pool)
        .await
        .map_err(db_err)?
        .try_get::<i64, _>(0)
        .map_err(db_err)?;
        if exists == 0 {
            return Err(StoreError::UnknownCursor);
        }
        let op = if cursor.direction == Direction::After {
            "<"
        } else {
            ">"
        };
        qb.push(format!(
            " AND (date_created, rowid) {op} (SELECT date_created, rowid FROM {table} WHERE sid = "
        ));
        qb.push_bind(cursor.sid.clone());
        qb.push(")");
    }
    let order = if direction == Some(Direction::Before) {
        "ASC"
    } else {
        "DESC"
    };
    qb.push(format!(
        " ORDER BY date_created {order}, rowid {order} LIMIT "
    ));
    qb.push_bind(i64::from(page.size) + 1);
    let found = qb.build().fetch_all(pool).await.map_err(db_err)?;
    let more = found.len() > page.size as usize;
    let mut items = found
        .iter()
        .take(page.size as usize)
        .map(decode)
        .collect::<StoreResult<Vec<T>>>()?;
    let (has_next, has_previous) = match direction {
        None => (more, false),
        Some(Direction::After) => (more, true),
        Some(Direction::Before) => {
            items.reverse();
            (true, more)
        }
    };
    Ok(Page {
        items,
        has_next,
        has_previous,
    })
}
