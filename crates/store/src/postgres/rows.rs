//! Writing domain records into PostgreSQL rows (reading them back is shared: `crate::codec`).

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use vroom_domain::event::StatusEvent;
use vroom_domain::participant::{EndReason, Participant};
use vroom_domain::room::Room;
use vroom_domain::time::Timestamp;

use super::db_err;
use crate::StoreResult;
use crate::codec::{Columns, codecs_to_text, rules_to_json};

fn get<'r, T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>>(
    row: &'r PgRow,
    col: &str,
) -> StoreResult<T> {
    row.try_get(col).map_err(db_err)
}

impl Columns for PgRow {
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
    fn flag(&self, col: &str) -> StoreResult<bool> {
        get(self, col)
    }
}

pub(super) async fn insert_room(
    tx: &mut Transaction<'_, Postgres>,
    r: &Room,
) -> Result<(), sqlx::Error> {
    let s = &r.settings;
    sqlx::query(
        "INSERT INTO rooms (sid, account_sid, unique_name, status, ad_hoc, room_type, max_participants,
            max_participant_duration, max_concurrent_published_tracks, record_participants_on_connect,
            transcribe_participants_on_connect, transcriptions_configuration, video_codecs, media_region,
            audio_only, empty_room_timeout, unused_room_timeout, large_room, enable_turn, status_callback,
            status_callback_method, recording_rules, date_created, date_updated, end_time, duration)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
            $20, $21, $22, $23, $24, $25, $26)",
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
    tx: &mut Transaction<'_, Postgres>,
    r: &Room,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET status = $1, date_updated = $2, end_time = $3, duration = $4, recording_rules = $5 WHERE sid = $6",
    )
    .bind(r.status.as_str())
    .bind(r.date_updated.millis())
    .bind(r.end_time.map(Timestamp::millis))
    .bind(r.duration)
    .bind(rules_to_json(&r.settings.recording_rules))
    .bind(r.sid.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn insert_participant(
    tx: &mut Transaction<'_, Postgres>,
    p: &Participant,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO participants (sid, room_sid, account_sid, identity, status, date_created, date_updated,
            start_time, end_time, duration, end_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    tx: &mut Transaction<'_, Postgres>,
    p: &Participant,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE participants SET identity = $1, status = $2, date_updated = $3, end_time = $4, duration = $5,
            end_reason = $6 WHERE sid = $7",
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

pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Postgres>,
    e: &StatusEvent,
) -> Result<(), sqlx::Error> {
    let p = e.participant.as_ref();
    let t = e.track.as_ref();
    sqlx::query(
        "INSERT INTO webhook_outbox (room_sid, sequence_number, kind, url, method, account_sid, room_name,
            room_status, room_type, room_duration, participant_sid, participant_identity, participant_status,
            participant_duration, track_sid, track_kind, track_name, event_time, next_attempt_at, extra)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
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
    .bind(crate::codec::event_extra(e))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
