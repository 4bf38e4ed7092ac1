//! Writing domain records into SQLite rows (reading them back is shared: `crate::codec`): each
//! write is a [`Stmt`], its SQL and its arguments, run by the writer thread (`write.rs`) on a file
//! database or through sqlx's pool on an in-memory one.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite};
use vroom_domain::event::StatusEvent;
use vroom_domain::participant::{EndReason, Participant};
use vroom_domain::room::Room;
use vroom_domain::time::Timestamp;

use super::db_err;
use crate::StoreResult;
use crate::codec::{Columns, codecs_to_text, rules_to_json};

/// One argument of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Val {
    Text(String),
    Int(i64),
    Null,
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Self {
        Self::Int(i64::from(b))
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// A statement ready to run: its SQL and its arguments, in order.
#[derive(Debug, Clone)]
pub(super) struct Stmt {
    pub(super) sql: &'static str,
    pub(super) args: Vec<Val>,
}

macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$(Val::from($v)),*] };
}

fn get<'r, T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> StoreResult<T> {
    row.try_get(col).map_err(db_err)
}

impl Columns for SqliteRow {
    fn text(&self, col: &str) -> StoreResult<String> {
        get(self, col)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        get(self, col)
    }
    fn str<'s>(&'s self, col: &str) -> StoreResult<&'s str> {
        get(self, col)
    }
    fn opt_str<'s>(&'s self, col: &str) -> StoreResult<Option<&'s str>> {
        get(self, col)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        get(self, col)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        get(self, col)
    }
}

pub(super) fn insert_room(r: &Room) -> Stmt {
    let s = &r.settings;
    Stmt {
        sql: "INSERT INTO rooms (sid, account_sid, unique_name, status, ad_hoc, room_type, max_participants,
            max_participant_duration, max_concurrent_published_tracks, record_participants_on_connect,
            transcribe_participants_on_connect, transcriptions_configuration, video_codecs, media_region,
            audio_only, empty_room_timeout, unused_room_timeout, large_room, enable_turn, status_callback,
            status_callback_method, recording_rules, date_created, date_updated, end_time, duration, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
            (SELECT COALESCE(MAX(rowid), 0) + 1 FROM rooms))",
        args: args![
            r.sid.to_string(),
            r.account_sid.to_string(),
            r.unique_name.as_str(),
            r.status.as_str(),
            r.ad_hoc,
            s.room_type.as_str(),
            i64::from(s.max_participants),
            i64::from(s.max_participant_duration),
            i64::from(s.max_concurrent_published_tracks),
            s.record_participants_on_connect,
            s.transcribe_participants_on_connect,
            s.transcriptions_configuration.clone(),
            codecs_to_text(&s.video_codecs),
            s.media_region.clone(),
            s.audio_only,
            i64::from(s.empty_room_timeout),
            i64::from(s.unused_room_timeout),
            s.large_room,
            s.enable_turn,
            s.status_callback.clone(),
            s.status_callback_method.as_str(),
            rules_to_json(&s.recording_rules),
            r.date_created.millis(),
            r.date_updated.millis(),
            r.end_time.map(Timestamp::millis),
            r.duration,
        ],
    }
}

/// Only the fields that change after creation: status, timing and the recording rules.
pub(super) fn update_room(r: &Room) -> Stmt {
    Stmt {
        sql: "UPDATE rooms SET status = ?, date_updated = ?, end_time = ?, duration = ?, recording_rules = ? WHERE sid = ?",
        args: args![
            r.status.as_str(),
            r.date_updated.millis(),
            r.end_time.map(Timestamp::millis),
            r.duration,
            rules_to_json(&r.settings.recording_rules),
            r.sid.to_string(),
        ],
    }
}

pub(super) fn insert_participant(p: &Participant) -> Stmt {
    Stmt {
        sql: "INSERT INTO participants (sid, room_sid, account_sid, identity, status, date_created, date_updated,
            start_time, end_time, duration, end_reason, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(rowid), 0) + 1 FROM participants))",
        args: args![
            p.sid.to_string(),
            p.room_sid.to_string(),
            p.account_sid.to_string(),
            p.identity.as_str(),
            p.status.as_str(),
            p.date_created.millis(),
            p.date_updated.millis(),
            p.start_time.millis(),
            p.end_time.map(Timestamp::millis),
            p.duration,
            p.end_reason.map(EndReason::as_str),
        ],
    }
}

pub(super) fn update_participant(p: &Participant) -> Stmt {
    Stmt {
        sql: "UPDATE participants SET identity = ?, status = ?, date_updated = ?, end_time = ?, duration = ?, end_reason = ? WHERE sid = ?",
        args: args![
            p.identity.as_str(),
            p.status.as_str(),
            p.date_updated.millis(),
            p.end_time.map(Timestamp::millis),
            p.duration,
            p.end_reason.map(EndReason::as_str),
            p.sid.to_string(),
        ],
    }
}

pub(super) fn insert_event(e: &StatusEvent) -> Stmt {
    let p = e.participant.as_ref();
    let t = e.track.as_ref();
    Stmt {
        sql: "INSERT INTO webhook_outbox (room_sid, sequence_number, kind, url, method, account_sid, room_name,
            room_status, room_type, room_duration, participant_sid, participant_identity, participant_status,
            participant_duration, track_sid, track_kind, track_name, event_time, next_attempt_at, extra)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        args: args![
            e.room_sid.to_string(),
            i64::try_from(e.sequence_number).unwrap_or(i64::MAX),
            e.kind.as_str(),
            e.url.as_str(),
            e.method.as_str(),
            e.account_sid.to_string(),
            e.room_name.as_str(),
            e.room_status.as_str(),
            e.room_type.as_str(),
            e.room_duration,
            p.map(|p| p.sid.to_string()),
            p.map(|p| p.identity.clone()),
            p.map(|p| p.status.as_str()),
            p.and_then(|p| p.duration),
            t.map(|t| t.sid.to_string()),
            t.map(|t| t.kind.as_str()),
            t.map(|t| t.name.clone()),
            e.timestamp.millis(),
            e.timestamp.millis(),
            crate::codec::event_extra(e),
        ],
    }
}
