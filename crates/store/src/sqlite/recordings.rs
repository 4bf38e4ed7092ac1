//! Writing recording rows (reading them back is shared: `crate::codec`; lists: `crate::lists`).

use vroom_domain::recording::Recording;

use super::rows::{Stmt, Val};

pub(super) fn insert(r: &Recording) -> Stmt {
    Stmt {
        sql: "INSERT INTO recordings (sid, account_sid, room_sid, participant_sid, track_sid, track_name, kind,
            codec, status, date_created, date_updated, size, duration, media_offset, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM recordings))",
        args: vec![
            Val::from(r.sid.to_string()),
            Val::from(r.account_sid.to_string()),
            Val::from(r.room_sid.to_string()),
            Val::from(r.participant_sid.to_string()),
            Val::from(r.track_sid.to_string()),
            Val::from(r.track_name.as_str()),
            Val::from(r.kind.as_str()),
            Val::from(r.codec.as_str()),
            Val::from(r.status.as_str()),
            Val::from(r.date_created.millis()),
            Val::from(r.date_updated.millis()),
            Val::from(i64::try_from(r.size).unwrap_or(i64::MAX)),
            Val::from(r.duration.map(i64::from)),
            Val::from(r.offset),
        ],
    }
}

/// Only what changes after the start: status, size, duration.
pub(super) fn update(r: &Recording) -> Stmt {
    Stmt {
        sql: "UPDATE recordings SET status = ?, date_updated = ?, size = ?, duration = ? WHERE sid = ?",
        args: vec![
            Val::from(r.status.as_str()),
            Val::from(r.date_updated.millis()),
            Val::from(i64::try_from(r.size).unwrap_or(i64::MAX)),
            Val::from(r.duration.map(i64::from)),
            Val::from(r.sid.to_string()),
        ],
    }
}
