//! Compositions, composition hooks and media settings on PostgreSQL (the statements are shared
//! and numbered here: `crate::compositions`).

use sqlx::postgres::PgArguments;
use sqlx::{Postgres, Row, Transaction};
use vroom_domain::composition::{Composition, CompositionHook};
use vroom_domain::media_settings::{MediaSettings, SettingsKind};
use vroom_domain::page::{Page, PageRequest};
use vroom_domain::sid::{AccountSid, CompositionHookSid, CompositionSid, RoomSid};
use vroom_domain::time::Timestamp;

use super::{PgStore, db_err, is_unique_violation, numbered};
use crate::codec::corrupt;
use crate::compositions::{self as c, Seq, Stmt, Val};
use crate::{CompositionFilter, CompositionHookFilter, StoreResult, lists};

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn bind<'q>(mut q: Query<'q>, args: &'q [Val]) -> Query<'q> {
    for a in args {
        q = match a {
            Val::Text(t) => q.bind(t.as_str()),
            Val::OptText(t) => q.bind(t.as_deref()),
            Val::Int(i) => q.bind(*i),
            Val::OptInt(i) => q.bind(*i),
            Val::Flag(b) => q.bind(*b),
        };
    }
    q
}

async fn run(tx: &mut Transaction<'_, Postgres>, s: &Stmt) -> Result<(), sqlx::Error> {
    bind(sqlx::query(&numbered(s.sql)), &s.args)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Applies one composition, hook or settings change; `Ok(false)` when `change` is none of these.
pub(super) async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    change: &crate::Change,
) -> StoreResult<bool> {
    let Some((stmt, unique)) = c::statement(change, Seq::Sequence) else {
        return Ok(false);
    };
    run(tx, &stmt).await.map_err(|e| {
        if is_unique_violation(&e) {
            unique.error()
        } else {
            db_err(e)
        }
    })?;
    Ok(true)
}

pub(super) async fn composition(
    st: &PgStore,
    sid: CompositionSid,
) -> StoreResult<Option<Composition>> {
    let row = sqlx::query("SELECT * FROM compositions WHERE sid = $1")
        .bind(sid.to_string())
        .fetch_optional(&st.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(c::composition_from_row).transpose()
}

pub(super) async fn list(
    st: &PgStore,
    account: AccountSid,
    filter: &CompositionFilter,
    page: &PageRequest,
) -> StoreResult<Page<Composition>> {
    let plan = lists::compositions(account, filter, page);
    st.page(&plan, c::composition_from_row).await
}

pub(super) async fn claim(
    st: &PgStore,
    node: &str,
    now: Timestamp,
    until: Timestamp,
) -> StoreResult<Option<Composition>> {
    // Nodes claiming at once skip each other's rows instead of waiting for them.
    let sql = numbered(&c::claim_composition("FOR UPDATE SKIP LOCKED"));
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
    st: &PgStore,
    sid: CompositionSid,
    node: &str,
    until: Timestamp,
) -> StoreResult<bool> {
    let done = sqlx::query(&numbered(c::HOLD_COMPOSITION))
        .bind(until.millis())
        .bind(sid.to_string())
        .bind(node)
        .execute(&st.pool)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn release(st: &PgStore, node: &str) -> StoreResult<()> {
    sqlx::query(&numbered(c::RELEASE_COMPOSITIONS))
        .bind(node)
        .execute(&st.pool)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(super) async fn rooms_for_hooks(
    st: &PgStore,
    limit: u32,
) -> StoreResult<Vec<(CompositionHookSid, RoomSid)>> {
    let sql = numbered(c::ROOMS_FOR_HOOKS);
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
    st: &PgStore,
    sid: CompositionHookSid,
) -> StoreResult<Option<CompositionHook>> {
    let row = sqlx::query("SELECT * FROM composition_hooks WHERE sid = $1")
        .bind(sid.to_string())
        .fetch_optional(&st.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(c::hook_from_row).transpose()
}

pub(super) async fn hooks(
    st: &PgStore,
    account: AccountSid,
    filter: &CompositionHookFilter,
    page: &PageRequest,
) -> StoreResult<Page<CompositionHook>> {
    let plan = lists::composition_hooks(account, filter, page);
    st.page(&plan, c::hook_from_row).await
}

pub(super) async fn settings(
    st: &PgStore,
    account: AccountSid,
    kind: SettingsKind,
) -> StoreResult<Option<MediaSettings>> {
    let row = sqlx::query("SELECT * FROM media_settings WHERE account_sid = $1 AND kind = $2")
        .bind(account.to_string())
        .bind(kind.as_str())
        .fetch_optional(&st.pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(c::settings_from_row).transpose()
}
