//! Compositions, composition hooks and media settings, for every backend: the statements (with
//! `?` placeholders, which the PostgreSQL backend numbers) and their arguments, the JSON a spec is
//! stored as, and reading the records back out of rows.
//!
//! A composition row is also its job: a worker claims it (`claimed_by`, `claimed_until`,
//! `attempts` + 1) only once its room has ended and none of the room's recordings is still
//! processing, holds it while it runs, and every node releases its own claims when it starts.

use serde_json::{Value, json};
use vroom_domain::composition::{
    Composition, CompositionFormat, CompositionHook, CompositionSpec, CompositionStatus, Resolution,
};
use vroom_domain::layout::{Region, Reuse, VideoLayout};
use vroom_domain::media_settings::{MediaSettings, SettingsKind};
use vroom_domain::room::CallbackMethod;
use vroom_domain::time::Timestamp;

use crate::StoreResult;
use crate::codec::{Columns, corrupt};

/// One bound value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Flag(bool),
}

/// A statement and its arguments, in order.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub sql: &'static str,
    pub args: Vec<Val>,
}

fn int(v: impl TryInto<i64>) -> Val {
    Val::Int(v.try_into().unwrap_or(i64::MAX))
}

/// How a backend fills `seq` on insert: SQLite computes it in the statement (its single writer
/// makes that safe); PostgreSQL's column is a sequence, left out of the insert.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seq {
    Computed,
    Sequence,
}

fn with_seq(table: &str, columns: &str, marks: &str, seq: Seq) -> String {
    match seq {
        Seq::Computed => format!(
            "INSERT INTO {table} ({columns}, seq) VALUES ({marks}, (SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}))"
        ),
        Seq::Sequence => format!("INSERT INTO {table} ({columns}) VALUES ({marks})"),
    }
}

const COMPOSITION_COLUMNS: &str = "sid, account_sid, room_sid, spec, status, date_created, date_completed,
    date_deleted, size, duration, bitrate, progress, attempts, error, hook_sid, claimed_by, claimed_until";
const COMPOSITION_MARKS: &str = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0";
const HOOK_COLUMNS: &str =
    "sid, account_sid, friendly_name, enabled, spec, date_created, date_updated";
const HOOK_MARKS: &str = "?, ?, ?, ?, ?, ?, ?";

type Lazy = std::sync::LazyLock<String>;
static INSERT_COMPOSITION: [Lazy; 2] = [
    Lazy::new(|| {
        with_seq(
            "compositions",
            COMPOSITION_COLUMNS,
            COMPOSITION_MARKS,
            Seq::Computed,
        )
    }),
    Lazy::new(|| {
        with_seq(
            "compositions",
            COMPOSITION_COLUMNS,
            COMPOSITION_MARKS,
            Seq::Sequence,
        )
    }),
];
static INSERT_HOOK: [Lazy; 2] = [
    Lazy::new(|| with_seq("composition_hooks", HOOK_COLUMNS, HOOK_MARKS, Seq::Computed)),
    Lazy::new(|| with_seq("composition_hooks", HOOK_COLUMNS, HOOK_MARKS, Seq::Sequence)),
];

fn pick(statements: &'static [Lazy; 2], seq: Seq) -> &'static str {
    statements[match seq {
        Seq::Computed => 0,
        Seq::Sequence => 1,
    }]
    .as_str()
}

/// The statement of a composition, hook or settings change, and whether a unique violation of
/// it means the hook already composed the room (else: a hook's name is taken). `None` for every
/// other change.
pub(crate) fn statement(change: &crate::Change, seq: Seq) -> Option<(Stmt, Unique)> {
    use crate::Change as C;
    Some(match change {
        C::InsertComposition(x) => (insert_composition(x, seq), Unique::AlreadyComposed),
        C::UpdateComposition(x) => (update_composition(x), Unique::HookName),
        C::InsertCompositionHook(h) => (insert_hook(h, seq), Unique::HookName),
        C::UpdateCompositionHook(h) => (update_hook(h), Unique::HookName),
        C::DeleteCompositionHook(sid) => (delete_hook(&sid.to_string()), Unique::HookName),
        C::SaveMediaSettings(s) => (save_settings(s), Unique::HookName),
        _ => return None,
    })
}

/// What a unique violation of a statement means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unique {
    /// `StoreError::AlreadyComposed`.
    AlreadyComposed,
    /// `StoreError::HookNameTaken`.
    HookName,
}

impl Unique {
    pub(crate) fn error(self) -> crate::StoreError {
        match self {
            Self::AlreadyComposed => crate::StoreError::AlreadyComposed,
            Self::HookName => crate::StoreError::HookNameTaken,
        }
    }
}

pub(crate) fn insert_composition(c: &Composition, seq: Seq) -> Stmt {
    let sql = pick(&INSERT_COMPOSITION, seq);
    let mut args = vec![
        Val::Text(c.sid.to_string()),
        Val::Text(c.account_sid.to_string()),
        Val::Text(c.room_sid.to_string()),
        Val::Text(spec_to_json(&c.spec)),
    ];
    args.extend(progress_args(c));
    args.push(Val::OptText(c.hook.map(|h| h.to_string())));
    Stmt { sql, args }
}

/// What changes after the request: status, dates, figures, attempts, error (never the claim).
pub(crate) fn update_composition(c: &Composition) -> Stmt {
    let mut args = progress_args(c);
    args.drain(1..2); // date_created does not change
    args.push(Val::Text(c.sid.to_string()));
    Stmt {
        sql: "UPDATE compositions SET status = ?, date_completed = ?, date_deleted = ?, size = ?,
                duration = ?, bitrate = ?, progress = ?, attempts = ?, error = ? WHERE sid = ?",
        args,
    }
}

fn progress_args(c: &Composition) -> Vec<Val> {
    vec![
        Val::Text(c.status.as_str().to_owned()),
        Val::Int(c.date_created.millis()),
        Val::OptInt(c.date_completed.map(Timestamp::millis)),
        Val::OptInt(c.date_deleted.map(Timestamp::millis)),
        int(c.size),
        int(c.duration),
        int(c.bitrate),
        int(c.progress),
        int(c.attempts),
        Val::OptText(c.error.clone()),
    ]
}

/// Claims the oldest job that is ready (room ended, no recording of it processing) and not
/// claimed by anyone past `now`: `claimed_by`, `claimed_until`, one more attempt. Arguments:
/// node, until, now, now. `lock` is PostgreSQL's `FOR UPDATE SKIP LOCKED` (SQLite has one writer).
pub(crate) fn claim_composition(lock: &str) -> String {
    format!(
        "UPDATE compositions SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1
          WHERE claimed_until <= ? AND sid = (
            SELECT c.sid FROM compositions c
             WHERE c.status IN ('enqueued', 'processing') AND c.claimed_until <= ?
               AND EXISTS (SELECT 1 FROM rooms r WHERE r.sid = c.room_sid AND r.status <> 'in-progress')
               AND NOT EXISTS (SELECT 1 FROM recordings x WHERE x.room_sid = c.room_sid AND x.status = 'processing')
             ORDER BY c.date_created, c.seq LIMIT 1 {lock})
          RETURNING *"
    )
}

/// The (hook, room) pairs an enabled hook of the room's account should compose and has not: the
/// room ended after the hook was created and has recordings, and no composition of the hook names
/// it. Argument: the limit.
pub(crate) const ROOMS_FOR_HOOKS: &str = "SELECT h.sid AS hook_sid, r.sid AS room_sid
    FROM composition_hooks h JOIN rooms r ON r.account_sid = h.account_sid
   WHERE h.enabled AND r.status <> 'in-progress' AND r.end_time >= h.date_created
     AND EXISTS (SELECT 1 FROM recordings x WHERE x.room_sid = r.sid)
     AND NOT EXISTS (SELECT 1 FROM compositions c WHERE c.room_sid = r.sid AND c.hook_sid = h.sid)
   ORDER BY r.end_time LIMIT ?";

/// Arguments: until, sid, node.
pub(crate) const HOLD_COMPOSITION: &str =
    "UPDATE compositions SET claimed_until = ? WHERE sid = ? AND claimed_by = ?";

/// Arguments: node.
pub(crate) const RELEASE_COMPOSITIONS: &str = "UPDATE compositions SET claimed_until = 0
    WHERE claimed_by = ? AND status IN ('enqueued', 'processing')";

pub(crate) fn insert_hook(h: &CompositionHook, seq: Seq) -> Stmt {
    let sql = pick(&INSERT_HOOK, seq);
    Stmt {
        sql,
        args: vec![
            Val::Text(h.sid.to_string()),
            Val::Text(h.account_sid.to_string()),
            Val::Text(h.friendly_name.clone()),
            Val::Flag(h.enabled),
            Val::Text(spec_to_json(&h.spec)),
            Val::Int(h.date_created.millis()),
            Val::OptInt(h.date_updated.map(Timestamp::millis)),
        ],
    }
}

pub(crate) fn update_hook(h: &CompositionHook) -> Stmt {
    Stmt {
        sql:
            "UPDATE composition_hooks SET friendly_name = ?, enabled = ?, spec = ?, date_updated = ?
               WHERE sid = ?",
        args: vec![
            Val::Text(h.friendly_name.clone()),
            Val::Flag(h.enabled),
            Val::Text(spec_to_json(&h.spec)),
            Val::OptInt(h.date_updated.map(Timestamp::millis)),
            Val::Text(h.sid.to_string()),
        ],
    }
}

pub(crate) fn delete_hook(sid: &str) -> Stmt {
    Stmt {
        sql: "DELETE FROM composition_hooks WHERE sid = ?",
        args: vec![Val::Text(sid.to_owned())],
    }
}

/// Insert or replace (both backends take `ON CONFLICT … DO UPDATE`).
pub(crate) fn save_settings(s: &MediaSettings) -> Stmt {
    Stmt {
        sql: "INSERT INTO media_settings (account_sid, kind, friendly_name, aws_credentials_sid, aws_s3_url,
                aws_storage_enabled, encryption_key_sid, encryption_enabled)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (account_sid, kind) DO UPDATE SET friendly_name = excluded.friendly_name,
                aws_credentials_sid = excluded.aws_credentials_sid, aws_s3_url = excluded.aws_s3_url,
                aws_storage_enabled = excluded.aws_storage_enabled,
                encryption_key_sid = excluded.encryption_key_sid,
                encryption_enabled = excluded.encryption_enabled",
        args: vec![
            Val::Text(s.account_sid.to_string()),
            Val::Text(s.kind.as_str().to_owned()),
            Val::Text(s.friendly_name.clone()),
            Val::OptText(s.aws_credentials_sid.clone()),
            Val::OptText(s.aws_s3_url.clone()),
            Val::Flag(s.aws_storage_enabled),
            Val::OptText(s.encryption_key_sid.clone()),
            Val::Flag(s.encryption_enabled),
        ],
    }
}

/// A spec as stored.
pub(crate) fn spec_to_json(s: &CompositionSpec) -> String {
    let regions: Vec<Value> = s
        .video_layout
        .regions
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "video_sources": r.video_sources,
                "video_sources_excluded": r.video_sources_excluded,
                "reuse": r.reuse.as_str(),
                "x_pos": r.x_pos, "y_pos": r.y_pos, "z_pos": r.z_pos,
                "width": r.width, "height": r.height,
                "max_columns": r.max_columns, "max_rows": r.max_rows,
                "cells_excluded": r.cells_excluded,
            })
        })
        .collect();
    json!({
        "regions": regions,
        "audio_sources": s.audio_sources,
        "audio_sources_excluded": s.audio_sources_excluded,
        "resolution": s.resolution.to_string(),
        "format": s.format.as_str(),
        "trim": s.trim,
        "status_callback": s.status_callback,
        "status_callback_method": s.status_callback_method.as_str(),
    })
    .to_string()
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn num<T: TryFrom<i64>>(v: &Value) -> Option<T> {
    T::try_from(v.as_i64()?).ok()
}

fn region_from_json(v: &Value) -> Option<Region> {
    Some(Region {
        name: v["name"].as_str()?.to_owned(),
        video_sources: strings(&v["video_sources"])?,
        video_sources_excluded: strings(&v["video_sources_excluded"])?,
        reuse: Reuse::parse(v["reuse"].as_str()?)?,
        x_pos: num(&v["x_pos"])?,
        y_pos: num(&v["y_pos"])?,
        z_pos: num(&v["z_pos"])?,
        width: num(&v["width"])?,
        height: num(&v["height"])?,
        max_columns: num(&v["max_columns"])?,
        max_rows: num(&v["max_rows"])?,
        cells_excluded: v["cells_excluded"]
            .as_array()?
            .iter()
            .map(num)
            .collect::<Option<Vec<u32>>>()?,
    })
}

pub(crate) fn spec_from_json(text: &str) -> StoreResult<CompositionSpec> {
    let bad = || corrupt("spec", text);
    let v: Value = serde_json::from_str(text).map_err(|_| bad())?;
    let regions = v["regions"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(region_from_json)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok(CompositionSpec {
        video_layout: VideoLayout { regions },
        audio_sources: strings(&v["audio_sources"]).ok_or_else(bad)?,
        audio_sources_excluded: strings(&v["audio_sources_excluded"]).ok_or_else(bad)?,
        resolution: Resolution::parse(v["resolution"].as_str().ok_or_else(bad)?)
            .map_err(|_| bad())?,
        format: CompositionFormat::parse(v["format"].as_str().ok_or_else(bad)?).ok_or_else(bad)?,
        trim: v["trim"].as_bool().ok_or_else(bad)?,
        status_callback: v["status_callback"].as_str().map(str::to_owned),
        status_callback_method: CallbackMethod::parse(
            v["status_callback_method"].as_str().ok_or_else(bad)?,
        )
        .map_err(|_| bad())?,
    })
}

fn parsed<T: std::str::FromStr>(row: &impl Columns, col: &str) -> StoreResult<T> {
    let s = row.text(col)?;
    s.parse().map_err(|_| corrupt(col, &s))
}

fn unsigned<T: TryFrom<i64>>(row: &impl Columns, col: &str) -> StoreResult<T> {
    let v = row.int(col)?;
    T::try_from(v).map_err(|_| corrupt(col, &v.to_string()))
}

pub(crate) fn composition_from_row(row: &impl Columns) -> StoreResult<Composition> {
    let status = row.text("status")?;
    Ok(Composition {
        sid: parsed(row, "sid")?,
        account_sid: parsed(row, "account_sid")?,
        room_sid: parsed(row, "room_sid")?,
        spec: spec_from_json(&row.text("spec")?)?,
        status: CompositionStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        date_created: Timestamp::from_millis(row.int("date_created")?),
        date_completed: row.opt_int("date_completed")?.map(Timestamp::from_millis),
        date_deleted: row.opt_int("date_deleted")?.map(Timestamp::from_millis),
        size: unsigned(row, "size")?,
        duration: unsigned(row, "duration")?,
        bitrate: unsigned(row, "bitrate")?,
        progress: unsigned(row, "progress")?,
        attempts: unsigned(row, "attempts")?,
        error: row.opt_text("error")?,
        hook: row
            .opt_text("hook_sid")?
            .map(|h| h.parse().map_err(|_| corrupt("hook_sid", &h)))
            .transpose()?,
    })
}

pub(crate) fn hook_from_row(row: &impl Columns) -> StoreResult<CompositionHook> {
    Ok(CompositionHook {
        sid: parsed(row, "sid")?,
        account_sid: parsed(row, "account_sid")?,
        friendly_name: row.text("friendly_name")?,
        enabled: row.flag("enabled")?,
        spec: spec_from_json(&row.text("spec")?)?,
        date_created: Timestamp::from_millis(row.int("date_created")?),
        date_updated: row.opt_int("date_updated")?.map(Timestamp::from_millis),
    })
}

pub(crate) fn settings_from_row(row: &impl Columns) -> StoreResult<MediaSettings> {
    let kind = row.text("kind")?;
    Ok(MediaSettings {
        kind: SettingsKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        account_sid: parsed(row, "account_sid")?,
        friendly_name: row.text("friendly_name")?,
        aws_credentials_sid: row.opt_text("aws_credentials_sid")?,
        aws_s3_url: row.opt_text("aws_s3_url")?,
        aws_storage_enabled: row.flag("aws_storage_enabled")?,
        encryption_key_sid: row.opt_text("encryption_key_sid")?,
        encryption_enabled: row.flag("encryption_enabled")?,
    })
}
