//! Compositions, composition hooks and media settings on SQLite: reads and job claims (their
//! changes are planned with every other in `changes.rs`; the statements are shared:
//! `crate::compositions`).

use sqlx::Row;
use vroom_domain::composition::{Composition, CompositionHook};
use vroom_domain::media_settings::{MediaSettings, SettingsKind};
use vroom_domain::page::{Page, PageRequest};
use vroom_domain::sid::{AccountSid, CompositionHookSid, CompositionSid, RoomSid};
use vroom_domain::time::Timestamp;

use super::{SqliteStore, db_err};
use crate::codec::corrupt;
use crate::compositions as c;
use crate::{CompositionFilter, CompositionHookFilter, StoreResult, lists};

pub(super) async fn composition(
    st: &SqliteStore,
    sid: CompositionSid,
) -> StoreResult<Option<Composition>> {
    let row = sqlx::query("SELECT * FROM compositions WHERE sid = ?")
        .bind(sid.to_string())
        .fetch_optional(&st.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(c::composition_from_row).transpose()
}

pub(super) async fn list(
    st: &SqliteStore,
    account: AccountSid,
    filter: &CompositionFilter,
    page: &PageRequest,
) -> StoreResult<Page<Composition>> {
    let plan = lists::compositions(account, filter, page);
    st.page(
        &plan,
        |r| c::composition_from_row(r),
        c::composition_from_row,
    )
    .await
}

pub(super) async fn claim(
    st: &SqliteStore,
    node: &str,
    now: Timestamp,
    until: Timestamp,
) -> StoreResult<Option<Composition>> {
    let sql = c::claim_composition("");
    let row = sqlx::query(&sql)
        .bind(node)
        .bind(until.millis())
        .bind(now.millis())
        .bind(now.millis())
        .fetch_optional(&st.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(c::composition_from_row).transpose()
}

pub(super) async fn hold(
    st: &SqliteStore,
    sid: CompositionSid,
    node: &str,
    until: Timestamp,
) -> StoreResult<bool> {
    let done = sqlx::query(c::HOLD_COMPOSITION)
        .bind(until.millis())
        .bind(sid.to_string())
        .bind(node)
        .execute(&st.pool)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn release(st: &SqliteStore, node: &str) -> StoreResult<()> {
    sqlx::query(c::RELEASE_COMPOSITIONS)
        .bind(node)
        .execute(&st.pool)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(super) async fn rooms_for_hooks(
    st: &SqliteStore,
    limit: u32,
) -> StoreResult<Vec<(CompositionHookSid, RoomSid)>> {
    let sql = c::ROOMS_FOR_HOOKS.to_owned();
    let rows = sqlx::query(&sql)
        .bind(i64::from(limit))
        .fetch_all(&st.pool)
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|row| {
            let hook: String = row.try_get("hook_sid").map_err(db_err)?;
            let room: String = row.try_get("room_sid").map_err(db_err)?;
            Ok((
                hook.parse().map_err(|_| corrupt("hook_sid", &hook))?,
                room.parse().map_err(|_| corrupt("room_sid", &room))?,
            ))
        })
        .collect()
}

pub(super) async fn hook(
    st: &SqliteStore,
    sid: CompositionHookSid,
) -> StoreResult<Option<CompositionHook>> {
    let row = sqlx::query("SELECT * FROM composition_hooks WHERE sid = ?")
        .bind(sid.to_string())
        .fetch_optional(&st.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(c::hook_from_row).transpose()
}

pub(super) async fn hooks(
    st: &SqliteStore,
    account: AccountSid,
    filter: &CompositionHookFilter,
    page: &PageRequest,
) -> StoreResult<Page<CompositionHook>> {
    let plan = lists::composition_hooks(account, filter, page);
    st.page(&plan, |r| c::hook_from_row(r), c::hook_from_row)
        .await
}

pub(super) async fn settings(
    st: &SqliteStore,
    account: AccountSid,
    kind: SettingsKind,
) -> StoreResult<Option<MediaSettings>> {
    let row = sqlx::query("SELECT * FROM media_settings WHERE account_sid = ? AND kind = ?")
        .bind(account.to_string())
        .bind(kind.as_str())
        .fetch_optional(&st.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(c::settings_from_row).transpose()
}
