//! Writing recording rows (reading them back is shared: `crate::codec`; lists: `crate::lists`).

use sqlx::{Postgres, Transaction};
use vroom_domain::recording::Recording;

pub(super) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    r: &Recording,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO recordings (sid, account_sid, room_sid, participant_sid, track_sid, track_name, kind,
            codec, status, date_created, date_updated, size, duration, media_offset)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(r.sid.to_string())
    .bind(r.account_sid.to_string())
    .bind(r.room_sid.to_string())
    .bind(r.participant_sid.to_string())
    .bind(r.track_sid.to_string())
    .bind(&r.track_name)
    .bind(r.kind.as_str())
    .bind(r.codec.as_str())
    .bind(r.status.as_str())
    .bind(r.date_created.millis())
    .bind(r.date_updated.millis())
    .bind(i64::try_from(r.size).unwrap_or(i64::MAX))
    .bind(r.duration.map(i64::from))
    .bind(r.offset)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Only what changes after the start: status, size, duration.
pub(super) async fn update(
    tx: &mut Transaction<'_, Postgres>,
    r: &Recording,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE recordings SET status = $1, date_updated = $2, size = $3, duration = $4 WHERE sid = $5",
    )
    .bind(r.status.as_str())
    .bind(r.date_updated.millis())
    .bind(i64::try_from(r.size).unwrap_or(i64::MAX))
    .bind(r.duration.map(i64::from))
    .bind(r.sid.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
