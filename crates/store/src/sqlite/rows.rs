//! Mapping between domain records and SQLite rows.

use std::str::FromStr;

use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use vroom_domain::event::{EventKind, ParticipantFacts, StatusEvent, TrackFacts};
use vroom_domain::participant::{EndReason, Participant, ParticipantStatus};
use vroom_domain::room::{CallbackMethod, Room, RoomSettings, RoomStatus, RoomType, VideoCodec};
use vroom_domain::rules::{RecordingRule, RuleType};
use vroom_domain::time::Timestamp;
use vroom_domain::track::TrackKind;

use super::db_err;
use crate::{Account, ApiKey, PendingWebhook, StoreError, StoreResult};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: '{value}'"))
}

fn get<'r, T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> StoreResult<T> {
    row.try_get(col).map_err(db_err)
}

/// Reading a row's columns by name, whichever driver read it: sqlx (the writer's pool, an
/// in-memory database) or rusqlite (the inline readers, `read.rs`).
pub(super) trait Columns {
    /// A text column.
    fn text(&self, col: &str) -> StoreResult<String>;
    /// A nullable text column.
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    /// An integer column.
    fn int(&self, col: &str) -> StoreResult<i64>;
    /// A nullable integer column.
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
}

impl Columns for SqliteRow {
    fn text(&self, col: &str) -> StoreResult<String> {
        get(self, col)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        get(self, col)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        get(self, col)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        get(self, col)
    }
}

fn sid<T: FromStr>(row: &impl Columns, col: &str) -> StoreResult<T> {
    let s = row.text(col)?;
    s.parse().map_err(|_| corrupt(col, &s))
}

fn opt_sid<T: FromStr>(row: &SqliteRow, col: &str) -> StoreResult<Option<T>> {
    let s: Option<String> = get(row, col)?;
    s.map(|s| s.parse().map_err(|_| corrupt(col, &s)))
        .transpose()
}

fn ts(row: &impl Columns, col: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_millis(row.int(col)?))
}

fn opt_ts(row: &impl Columns, col: &str) -> StoreResult<Option<Timestamp>> {
    Ok(row.opt_int(col)?.map(Timestamp::from_millis))
}

fn uint(row: &impl Columns, col: &str) -> StoreResult<u32> {
    let v = row.int(col)?;
    u32::try_from(v).map_err(|_| corrupt(col, &v.to_string()))
}

fn flag(row: &impl Columns, col: &str) -> StoreResult<bool> {
    Ok(row.int(col)? != 0)
}

fn codecs_to_text(codecs: &[VideoCodec]) -> String {
    codecs
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn rules_to_json(rules: &[RecordingRule]) -> String {
    let list: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "type": r.rule_type.as_str(),
                "all": r.all,
                "kind": r.kind.map(TrackKind::as_str),
                "publisher": r.publisher,
                "track": r.track,
            })
        })
        .collect();
    Value::Array(list).to_string()
}

fn rules_from_json(text: &str) -> StoreResult<Vec<RecordingRule>> {
    let bad = || corrupt("recording_rules", text);
    let v: Value = serde_json::from_str(text).map_err(|_| bad())?;
    let list = v.as_array().ok_or_else(bad)?;
    list.iter()
        .map(|r| {
            let rule_type = match r.get("type").and_then(Value::as_str) {
                Some("include") => RuleType::Include,
                Some("exclude") => RuleType::Exclude,
                _ => return Err(bad()),
            };
            let text_field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            Ok(RecordingRule {
                rule_type,
                all: r.get("all").and_then(Value::as_bool),
                kind: r
                    .get("kind")
                    .and_then(Value::as_str)
                    .and_then(TrackKind::parse),
                publisher: text_field("publisher"),
                track: text_field("track"),
                priority: None,
            })
        })
        .collect()
}

pub(super) async fn insert_room(
    tx: &mut Transaction<'_, Sqlite>,
    r: &Room,
) -> Result<(), sqlx::Error> {
    let s = &r.settings;
    sqlx::query(
        "INSERT INTO rooms (sid, account_sid, unique_name, status, ad_hoc, room_type, max_participants,
            max_participant_duration, max_concurrent_published_tracks, record_participants_on_connect,
            transcribe_participants_on_connect, transcriptions_configuration, video_codecs, media_region,
            audio_only, empty_room_timeout, unused_room_timeout, large_room, enable_turn, status_callback,
            status_callback_method, recording_rules, date_created, date_updated, end_time, duration)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(r.sid.to_string())
    .bind(r.account_sid.to_string())
    .bind(&r.unique_name)
    .bind(r.status.as_str())
    .bind(r.ad_hoc)
    .bind(s.room_type.as_str())
    .bind(i64::from(s.max_participants))
    .bind(i64::from(s.max_participant_duration))
    .bind(i64::from(s.max_concurrent_published_tracks))
    .bind(s.record_participants_on_connect)
    .bind(s.transcribe_participants_on_connect)
    .bind(&s.transcriptions_configuration)
    .bind(codecs_to_text(&s.video_codecs))
    .bind(&s.media_region)
    .bind(s.audio_only)
    .bind(i64::from(s.empty_room_timeout))
    .bind(i64::from(s.unused_room_timeout))
    .bind(s.large_room)
    .bind(s.enable_turn)
    .bind(&s.status_callback)
    .bind(s.status_callback_method.as_str())
    .bind(rules_to_json(&s.recording_rules))
    .bind(r.date_created.millis())
    .bind(r.date_updated.millis())
    .bind(r.end_time.map(Timestamp::millis))
    .bind(r.duration)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Only the fields that change after creation: status and timing.
pub(super) async fn update_room(
    tx: &mut Transaction<'_, Sqlite>,
    r: &Room,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET status = ?, date_updated = ?, end_time = ?, duration = ? WHERE sid = ?",
    )
    .bind(r.status.as_str())
    .bind(r.date_updated.millis())
    .bind(r.end_time.map(Timestamp::millis))
    .bind(r.duration)
    .bind(r.sid.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) fn room_from_row(row: &impl Columns) -> StoreResult<Room> {
    let text = |c: &str| row.text(c);
    let status = text("status")?;
    let room_type = text("room_type")?;
    let method = text("status_callback_method")?;
    let codecs = text("video_codecs")?;
    let settings = RoomSettings {
        room_type: RoomType::parse(&room_type).map_err(|_| corrupt("room_type", &room_type))?,
        max_participants: uint(row, "max_participants")?,
        max_participant_duration: uint(row, "max_participant_duration")?,
        max_concurrent_published_tracks: uint(row, "max_concurrent_published_tracks")?,
        record_participants_on_connect: flag(row, "record_participants_on_connect")?,
        transcribe_participants_on_connect: flag(row, "transcribe_participants_on_connect")?,
        transcriptions_configuration: row.opt_text("transcriptions_configuration")?,
        video_codecs: codecs
            .split(',')
            .filter(|c| !c.is_empty())
            .map(|c| VideoCodec::parse(c).ok_or_else(|| corrupt("video_codecs", &codecs)))
            .collect::<StoreResult<_>>()?,
        media_region: text("media_region")?,
        audio_only: flag(row, "audio_only")?,
        empty_room_timeout: uint(row, "empty_room_timeout")?,
        unused_room_timeout: uint(row, "unused_room_timeout")?,
        large_room: flag(row, "large_room")?,
        enable_turn: flag(row, "enable_turn")?,
        status_callback: row.opt_text("status_callback")?,
        status_callback_method: CallbackMethod::parse(&method)
            .map_err(|_| corrupt("status_callback_method", &method))?,
        recording_rules: rules_from_json(&text("recording_rules")?)?,
    };
    Ok(Room {
        sid: sid(row, "sid")?,
        account_sid: sid(row, "account_sid")?,
        unique_name: text("unique_name")?,
        status: RoomStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        ad_hoc: flag(row, "ad_hoc")?,
        settings,
        date_created: ts(row, "date_created")?,
        date_updated: ts(row, "date_updated")?,
        end_time: opt_ts(row, "end_time")?,
        duration: row.opt_int("duration")?,
    })
}

pub(super) async fn insert_participant(
    tx: &mut Transaction<'_, Sqlite>,
    p: &Participant,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO participants (sid, room_sid, account_sid, identity, status, date_created, date_updated,
            start_time, end_time, duration, end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(p.sid.to_string())
    .bind(p.room_sid.to_string())
    .bind(p.account_sid.to_string())
    .bind(&p.identity)
    .bind(p.status.as_str())
    .bind(p.date_created.millis())
    .bind(p.date_updated.millis())
    .bind(p.start_time.millis())
    .bind(p.end_time.map(Timestamp::millis))
    .bind(p.duration)
    .bind(p.end_reason.map(EndReason::as_str))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn update_participant(
    tx: &mut Transaction<'_, Sqlite>,
    p: &Participant,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE participants SET identity = ?, status = ?, date_updated = ?, end_time = ?, duration = ?, end_reason = ? WHERE sid = ?",
    )
    .bind(&p.identity)
    .bind(p.status.as_str())
    .bind(p.date_updated.millis())
    .bind(p.end_time.map(Timestamp::millis))
    .bind(p.duration)
    .bind(p.end_reason.map(EndReason::as_str))
    .bind(p.sid.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) fn participant_from_row(row: &impl Columns) -> StoreResult<Participant> {
    let status = row.text("status")?;
    let reason = row.opt_text("end_reason")?;
    Ok(Participant {
        sid: sid(row, "sid")?,
        room_sid: sid(row, "room_sid")?,
        account_sid: sid(row, "account_sid")?,
        identity: row.text("identity")?,
        status: ParticipantStatus::parse(&status)
            .ok_or_else(|| corrupt("participant status", &status))?,
        date_created: ts(row, "date_created")?,
        date_updated: ts(row, "date_updated")?,
        start_time: ts(row, "start_time")?,
        end_time: opt_ts(row, "end_time")?,
        duration: row.opt_int("duration")?,
        end_reason: reason
            .map(|r| EndReason::parse(&r).ok_or_else(|| corrupt("end_reason", &r)))
            .transpose()?,
    })
}

pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Sqlite>,
    e: &StatusEvent,
) -> Result<(), sqlx::Error> {
    let p = e.participant.as_ref();
    let t = e.track.as_ref();
    sqlx::query(
        "INSERT INTO webhook_outbox (room_sid, sequence_number, kind, url, method, account_sid, room_name,
            room_status, room_type, room_duration, participant_sid, participant_identity, participant_status,
            participant_duration, track_sid, track_kind, track_name, event_time, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.room_sid.to_string())
    .bind(i64::try_from(e.sequence_number).unwrap_or(i64::MAX))
    .bind(e.kind.as_str())
    .bind(&e.url)
    .bind(e.method.as_str())
    .bind(e.account_sid.to_string())
    .bind(&e.room_name)
    .bind(e.room_status.as_str())
    .bind(e.room_type.as_str())
    .bind(e.room_duration)
    .bind(p.map(|p| p.sid.to_string()))
    .bind(p.map(|p| p.identity.clone()))
    .bind(p.map(|p| p.status.as_str()))
    .bind(p.and_then(|p| p.duration))
    .bind(t.map(|t| t.sid.to_string()))
    .bind(t.map(|t| t.kind.as_str()))
    .bind(t.map(|t| t.name.clone()))
    .bind(e.timestamp.millis())
    .bind(e.timestamp.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) fn webhook_from_row(row: &SqliteRow) -> StoreResult<PendingWebhook> {
    let text = |c: &str| get::<String>(row, c);
    let kind = text("kind")?;
    let method = text("method")?;
    let room_status = text("room_status")?;
    let room_type = text("room_type")?;
    let participant = match opt_sid(row, "participant_sid")? {
        None => None,
        Some(psid) => {
            let status: String =
                get::<Option<String>>(row, "participant_status")?.unwrap_or_default();
            Some(ParticipantFacts {
                sid: psid,
                identity: get::<Option<String>>(row, "participant_identity")?.unwrap_or_default(),
                status: ParticipantStatus::parse(&status)
                    .ok_or_else(|| corrupt("participant_status", &status))?,
                duration: get(row, "participant_duration")?,
            })
        }
    };
    let track = match opt_sid(row, "track_sid")? {
        None => None,
        Some(tsid) => {
            let kind: String = get::<Option<String>>(row, "track_kind")?.unwrap_or_default();
            Some(TrackFacts {
                sid: tsid,
                kind: TrackKind::parse(&kind).ok_or_else(|| corrupt("track_kind", &kind))?,
                name: get::<Option<String>>(row, "track_name")?.unwrap_or_default(),
            })
        }
    };
    let event = StatusEvent {
        kind: EventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        url: text("url")?,
        method: CallbackMethod::parse(&method).map_err(|_| corrupt("method", &method))?,
        account_sid: sid(row, "account_sid")?,
        room_sid: sid(row, "room_sid")?,
        room_name: text("room_name")?,
        room_status: RoomStatus::parse(&room_status)
            .ok_or_else(|| corrupt("room_status", &room_status))?,
        room_type: RoomType::parse(&room_type).map_err(|_| corrupt("room_type", &room_type))?,
        room_duration: get(row, "room_duration")?,
        participant,
        track,
        timestamp: ts(row, "event_time")?,
        sequence_number: u64::try_from(get::<i64>(row, "sequence_number")?).unwrap_or(0),
    };
    Ok(PendingWebhook {
        id: get(row, "id")?,
        event,
        attempts: uint(row, "attempts")?,
    })
}

pub(super) fn account_from_row(row: &impl Columns) -> StoreResult<Account> {
    Ok(Account {
        sid: sid(row, "sid")?,
        auth_token: row.text("auth_token")?,
        friendly_name: row.text("friendly_name")?,
        date_created: ts(row, "date_created")?,
        main: flag(row, "main")?,
    })
}

pub(super) fn api_key_from_row(row: &impl Columns) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        sid: sid(row, "sid")?,
        account_sid: sid(row, "account_sid")?,
        secret: row.text("secret")?,
        friendly_name: row.text("friendly_name")?,
        date_created: ts(row, "date_created")?,
        date_revoked: opt_ts(row, "date_revoked")?,
    })
}
