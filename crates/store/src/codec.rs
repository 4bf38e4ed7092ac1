//! Reading domain records out of rows, whichever backend and driver read them, and the text forms
//! of the values stored as text (codecs, recording rules). Each backend implements [`Columns`] for
//! its row type; the decoders here are shared, so a record reads back the same from every backend.

use std::str::FromStr;

use serde_json::{Value, json};
use vroom_domain::event::{
    CompositionFacts, EventKind, ParticipantFacts, RecordingFacts, StatusEvent, TrackFacts,
};
use vroom_domain::participant::{EndReason, Participant, ParticipantStatus};
use vroom_domain::recording::{Recording, RecordingCodec, RecordingStatus};
use vroom_domain::room::{CallbackMethod, Room, RoomSettings, RoomStatus, RoomType, VideoCodec};
use vroom_domain::rules::{RecordingRule, RuleType};
use vroom_domain::time::Timestamp;
use vroom_domain::track::TrackKind;

use crate::{Account, ApiKey, PendingWebhook, StoreError, StoreResult};

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: '{value}'"))
}

/// Reading a row's columns by name.
pub(crate) trait Columns {
    /// A text column.
    fn text(&self, col: &str) -> StoreResult<String>;
    /// A nullable text column.
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    /// A text column borrowed from the row: for the columns parsed into something else (SIDs,
    /// statuses), so no `String` is made per column (a page of 50 read about 300 of them).
    fn str<'s>(&'s self, col: &str) -> StoreResult<&'s str>;
    /// A nullable text column borrowed from the row.
    fn opt_str<'s>(&'s self, col: &str) -> StoreResult<Option<&'s str>>;
    /// An integer column (SQLite `INTEGER`, PostgreSQL `BIGINT`).
    fn int(&self, col: &str) -> StoreResult<i64>;
    /// A nullable integer column.
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    /// A boolean column (SQLite: an integer, 0 or 1; PostgreSQL: `BOOLEAN`).
    fn flag(&self, col: &str) -> StoreResult<bool> {
        Ok(self.int(col)? != 0)
    }
}

fn sid<T: FromStr>(row: &impl Columns, col: &str) -> StoreResult<T> {
    let s = row.str(col)?;
    s.parse().map_err(|_| corrupt(col, s))
}

fn opt_sid<T: FromStr>(row: &impl Columns, col: &str) -> StoreResult<Option<T>> {
    row.opt_str(col)?
        .map(|s| s.parse().map_err(|_| corrupt(col, s)))
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

/// A room's video codecs as stored: comma-separated names.
pub(crate) fn codecs_to_text(codecs: &[VideoCodec]) -> String {
    codecs
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A room's recording rules as stored: a JSON array.
pub(crate) fn rules_to_json(rules: &[RecordingRule]) -> String {
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

pub(crate) fn room_from_row(row: &impl Columns) -> StoreResult<Room> {
    let text = |c: &str| row.text(c);
    let status = row.str("status")?;
    let room_type = row.str("room_type")?;
    let method = row.str("status_callback_method")?;
    let codecs = row.str("video_codecs")?;
    let settings = RoomSettings {
        room_type: RoomType::parse(room_type).map_err(|_| corrupt("room_type", room_type))?,
        max_participants: uint(row, "max_participants")?,
        max_participant_duration: uint(row, "max_participant_duration")?,
        max_concurrent_published_tracks: uint(row, "max_concurrent_published_tracks")?,
        record_participants_on_connect: row.flag("record_participants_on_connect")?,
        transcribe_participants_on_connect: row.flag("transcribe_participants_on_connect")?,
        transcriptions_configuration: row.opt_text("transcriptions_configuration")?,
        video_codecs: codecs
            .split(',')
            .filter(|c| !c.is_empty())
            .map(|c| VideoCodec::parse(c).ok_or_else(|| corrupt("video_codecs", codecs)))
            .collect::<StoreResult<_>>()?,
        media_region: text("media_region")?,
        audio_only: row.flag("audio_only")?,
        empty_room_timeout: uint(row, "empty_room_timeout")?,
        unused_room_timeout: uint(row, "unused_room_timeout")?,
        large_room: row.flag("large_room")?,
        enable_turn: row.flag("enable_turn")?,
        status_callback: row.opt_text("status_callback")?,
        status_callback_method: CallbackMethod::parse(method)
            .map_err(|_| corrupt("status_callback_method", method))?,
        recording_rules: rules_from_json(row.str("recording_rules")?)?,
    };
    Ok(Room {
        sid: sid(row, "sid")?,
        account_sid: sid(row, "account_sid")?,
        unique_name: text("unique_name")?,
        status: RoomStatus::parse(status).ok_or_else(|| corrupt("status", status))?,
        ad_hoc: row.flag("ad_hoc")?,
        settings,
        date_created: ts(row, "date_created")?,
        date_updated: ts(row, "date_updated")?,
        end_time: opt_ts(row, "end_time")?,
        duration: row.opt_int("duration")?,
    })
}

pub(crate) fn participant_from_row(row: &impl Columns) -> StoreResult<Participant> {
    let status = row.str("status")?;
    let reason = row.opt_str("end_reason")?;
    Ok(Participant {
        sid: sid(row, "sid")?,
        room_sid: sid(row, "room_sid")?,
        account_sid: sid(row, "account_sid")?,
        identity: row.text("identity")?,
        status: ParticipantStatus::parse(status)
            .ok_or_else(|| corrupt("participant status", status))?,
        date_created: ts(row, "date_created")?,
        date_updated: ts(row, "date_updated")?,
        start_time: ts(row, "start_time")?,
        end_time: opt_ts(row, "end_time")?,
        duration: row.opt_int("duration")?,
        end_reason: reason
            .map(|r| EndReason::parse(r).ok_or_else(|| corrupt("end_reason", r)))
            .transpose()?,
    })
}

fn parsed<T: std::str::FromStr>(row: &impl Columns, col: &str) -> StoreResult<T> {
    let s = row.text(col)?;
    s.parse().map_err(|_| corrupt(col, &s))
}

pub(crate) fn recording_from_row(row: &impl Columns) -> StoreResult<Recording> {
    let kind = row.text("kind")?;
    let codec = row.text("codec")?;
    let status = row.text("status")?;
    let size = row.int("size")?;
    let duration = row.opt_int("duration")?;
    Ok(Recording {
        sid: parsed(row, "sid")?,
        account_sid: parsed(row, "account_sid")?,
        room_sid: parsed(row, "room_sid")?,
        participant_sid: parsed(row, "participant_sid")?,
        track_sid: parsed(row, "track_sid")?,
        track_name: row.text("track_name")?,
        kind: TrackKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        codec: RecordingCodec::parse(&codec).ok_or_else(|| corrupt("codec", &codec))?,
        status: RecordingStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        date_created: Timestamp::from_millis(row.int("date_created")?),
        date_updated: Timestamp::from_millis(row.int("date_updated")?),
        size: u64::try_from(size).map_err(|_| corrupt("size", &size.to_string()))?,
        duration: duration
            .map(|d| u32::try_from(d).map_err(|_| corrupt("duration", &d.to_string())))
            .transpose()?,
        offset: row.int("media_offset")?,
    })
}

/// The `extra` column of an outbox row: the recording or composition facts of its event, as JSON
/// (`None` for room events).
pub(crate) fn event_extra(e: &StatusEvent) -> Option<String> {
    if let Some(r) = &e.recording {
        return Some(
            json!({ "recording": {
                "sid": r.sid.to_string(),
                "participant_sid": r.participant_sid.to_string(),
                "participant_identity": r.participant_identity,
                "track_sid": r.track_sid.to_string(),
                "track_name": r.track_name,
                "kind": r.kind.as_str(),
                "codec": r.codec.as_str(),
                "offset": r.offset,
                "duration": r.duration,
                "size": r.size,
                "failure": r.failure,
            }})
            .to_string(),
        );
    }
    let c = e.composition.as_ref()?;
    Some(
        json!({ "composition": {
            "sid": c.sid.to_string(),
            "hook": c.hook.map(|h| h.to_string()),
            "percentage_done": c.percentage_done,
            "seconds_remaining": c.seconds_remaining,
            "duration": c.duration,
            "size": c.size,
            "error": c.error,
        }})
        .to_string(),
    )
}

/// Reads [`event_extra`]'s JSON back: (recording facts, composition facts).
fn extra_from_text(
    text: Option<&str>,
) -> StoreResult<(Option<RecordingFacts>, Option<CompositionFacts>)> {
    let Some(text) = text else {
        return Ok((None, None));
    };
    let bad = || corrupt("extra", text);
    let v: Value = serde_json::from_str(text).map_err(|_| bad())?;
    let str_of = |o: &Value, k: &str| o[k].as_str().map(str::to_owned).ok_or_else(bad);
    let parse = |o: &Value, k: &str| -> StoreResult<String> { str_of(o, k) };
    if let Some(r) = v.get("recording") {
        let kind = parse(r, "kind")?;
        let codec = parse(r, "codec")?;
        let facts = RecordingFacts {
            sid: parse(r, "sid")?.parse().map_err(|_| bad())?,
            participant_sid: parse(r, "participant_sid")?.parse().map_err(|_| bad())?,
            participant_identity: parse(r, "participant_identity")?,
            track_sid: parse(r, "track_sid")?.parse().map_err(|_| bad())?,
            track_name: parse(r, "track_name")?,
            kind: TrackKind::parse(&kind).ok_or_else(bad)?,
            codec: RecordingCodec::parse(&codec).ok_or_else(bad)?,
            offset: r["offset"].as_i64().ok_or_else(bad)?,
            duration: r["duration"]
                .as_u64()
                .map(|d| u32::try_from(d).map_err(|_| bad()))
                .transpose()?,
            size: r["size"].as_u64().ok_or_else(bad)?,
            failure: r["failure"].as_str().map(str::to_owned),
        };
        return Ok((Some(facts), None));
    }
    if let Some(c) = v.get("composition") {
        let facts = CompositionFacts {
            sid: parse(c, "sid")?.parse().map_err(|_| bad())?,
            hook: c["hook"]
                .as_str()
                .map(|h| h.parse().map_err(|_| bad()))
                .transpose()?,
            percentage_done: u8::try_from(c["percentage_done"].as_u64().ok_or_else(bad)?)
                .map_err(|_| bad())?,
            seconds_remaining: c["seconds_remaining"].as_u64(),
            duration: u32::try_from(c["duration"].as_u64().ok_or_else(bad)?).map_err(|_| bad())?,
            size: c["size"].as_u64().ok_or_else(bad)?,
            error: c["error"].as_str().map(str::to_owned),
        };
        return Ok((None, Some(facts)));
    }
    Err(bad())
}

pub(crate) fn webhook_from_row(row: &impl Columns) -> StoreResult<PendingWebhook> {
    let text = |c: &str| row.text(c);
    let kind = text("kind")?;
    let method = text("method")?;
    let room_status = text("room_status")?;
    let room_type = text("room_type")?;
    let participant = match opt_sid(row, "participant_sid")? {
        None => None,
        Some(psid) => {
            let status = row.opt_text("participant_status")?.unwrap_or_default();
            Some(ParticipantFacts {
                sid: psid,
                identity: row.opt_text("participant_identity")?.unwrap_or_default(),
                status: ParticipantStatus::parse(&status)
                    .ok_or_else(|| corrupt("participant_status", &status))?,
                duration: row.opt_int("participant_duration")?,
            })
        }
    };
    let track = match opt_sid(row, "track_sid")? {
        None => None,
        Some(tsid) => {
            let kind = row.opt_text("track_kind")?.unwrap_or_default();
            Some(TrackFacts {
                sid: tsid,
                kind: TrackKind::parse(&kind).ok_or_else(|| corrupt("track_kind", &kind))?,
                name: row.opt_text("track_name")?.unwrap_or_default(),
            })
        }
    };
    let (recording, composition) = extra_from_text(row.opt_text("extra")?.as_deref())?;
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
        room_duration: row.opt_int("room_duration")?,
        participant,
        track,
        recording,
        composition,
        timestamp: ts(row, "event_time")?,
        sequence_number: u64::try_from(row.int("sequence_number")?).unwrap_or(0),
    };
    Ok(PendingWebhook {
        id: row.int("id")?,
        event,
        attempts: uint(row, "attempts")?,
    })
}

pub(crate) fn account_from_row(row: &impl Columns) -> StoreResult<Account> {
    Ok(Account {
        sid: sid(row, "sid")?,
        auth_token: row.text("auth_token")?,
        friendly_name: row.text("friendly_name")?,
        date_created: ts(row, "date_created")?,
        main: row.flag("main")?,
    })
}

pub(crate) fn api_key_from_row(row: &impl Columns) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        sid: sid(row, "sid")?,
        account_sid: sid(row, "account_sid")?,
        secret: row.text("secret")?,
        friendly_name: row.text("friendly_name")?,
        date_created: ts(row, "date_created")?,
        date_revoked: opt_ts(row, "date_revoked")?,
    })
}
