//! The statements of one `apply` (a batch of changes and their events) and what their outcomes
//! mean, for both ways a batch is run: on the writer's connection (`write.rs`) or through sqlx.

use vroom_domain::event::StatusEvent;

use super::rows::{self, Stmt, Val};
use super::{SQL_FENCE, SQL_NEW_LEASE, SQL_ROOMS_IN_PROGRESS, recordings, write};
use crate::{Change, Lease, StoreError, StoreResult};

/// What a planned statement's outcome means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// Nothing beyond success.
    Done,
    /// A lease fence: exactly one row, or the lease was lost.
    Fence,
    /// A room cap: the statement is a count (run as a query), which must stay under the limit.
    Cap(usize),
    /// A room insert: a unique violation is a taken name.
    Room,
    /// A name check before a live room's insert (`names::NAME_TAKEN`, run as a query): a count of
    /// one is a taken name.
    NameFree,
    /// A participant insert: a unique violation is a taken identity.
    Participant,
    /// A composition, hook or settings change: a unique violation means what it says.
    Composition(crate::compositions::Unique),
}

impl Check {
    /// Whether the statement is a query whose one value `count` judges.
    pub(super) fn is_count(self) -> bool {
        matches!(self, Self::Cap(_) | Self::NameFree)
    }

    pub(super) fn rows(self, n: u64) -> StoreResult<()> {
        if self == Self::Fence && n != 1 {
            Err(StoreError::LeaseLost)
        } else {
            Ok(())
        }
    }

    /// The outcome of a counting statement (`Cap`): rows counted `n`.
    pub(super) fn count(self, n: i64) -> StoreResult<()> {
        match self {
            Self::Cap(limit) if usize::try_from(n).map_or(true, |n| n >= limit) => {
                Err(StoreError::TooManyRooms { limit })
            }
            Self::NameFree if n != 0 => Err(StoreError::UniqueNameTaken),
            _ => Ok(()),
        }
    }

    pub(super) fn unique(self, other: StoreError) -> StoreError {
        match self {
            Self::Room => StoreError::UniqueNameTaken,
            Self::Participant => StoreError::IdentityTaken,
            Self::Composition(u) => u.error(),
            Self::Done | Self::Fence | Self::Cap(_) | Self::NameFree => other,
        }
    }
}

/// A lease's room, node and token, as its statements take them.
pub(super) fn lease_args(lease: &Lease) -> (String, String, i64) {
    (lease.room.to_string(), lease.node.clone(), lease.token)
}

/// The statements of one `apply`, in order.
pub(super) fn plan(changes: &[Change], events: &[StatusEvent]) -> Vec<(Stmt, Check)> {
    let mut planned = Vec::with_capacity(changes.len() + events.len() + 1);
    for change in changes {
        if let Change::InsertRoom(room) = change
            && let Some(args) = crate::names::name_check(room)
        {
            let stmt = Stmt {
                sql: crate::names::NAME_TAKEN,
                args: args.into_iter().map(Val::from).collect(),
            };
            planned.push((stmt, Check::NameFree));
        }
        planned.push(match change {
            Change::Fence(lease) => (
                Stmt {
                    sql: SQL_FENCE,
                    args: vec![
                        Val::from(lease.room.to_string()),
                        Val::from(lease.node.as_str()),
                        Val::from(lease.token),
                    ],
                },
                Check::Fence,
            ),
            Change::NewLease { lease, address } => (
                Stmt {
                    sql: SQL_NEW_LEASE,
                    args: vec![
                        Val::from(lease.room.to_string()),
                        Val::from(lease.node.as_str()),
                        Val::from(address.as_str()),
                        Val::from(lease.token),
                    ],
                },
                Check::Done,
            ),
            // SQLite has one writer: capped batches are counted and written one after another.
            Change::RoomCap { account, limit } => (
                Stmt {
                    sql: SQL_ROOMS_IN_PROGRESS,
                    args: vec![Val::from(account.to_string())],
                },
                Check::Cap(*limit),
            ),
            Change::InsertRoom(room) => (rows::insert_room(room), Check::Room),
            Change::UpdateRoom(room) => (rows::update_room(room), Check::Done),
            Change::InsertParticipant(p) => (rows::insert_participant(p), Check::Participant),
            Change::UpdateParticipant(p) => (rows::update_participant(p), Check::Done),
            Change::AnonymizeParticipant { sid, at } => (
                Stmt {
                    sql: crate::ANONYMIZE_PARTICIPANT,
                    args: vec![Val::from(at.millis()), Val::from(sid.to_string())],
                },
                Check::Done,
            ),
            Change::InsertRecording(r) => (recordings::insert(r), Check::Done),
            Change::UpdateRecording(r) => (recordings::update(r), Check::Done),
            other => composition_change(other),
        });
    }
    planned.extend(events.iter().map(|e| (rows::insert_event(e), Check::Done)));
    planned
}

/// A composition, hook or settings change (`crate::compositions`), in this backend's values.
fn composition_change(change: &Change) -> (Stmt, Check) {
    use crate::compositions::{Seq, Val as V, statement};
    let Some((stmt, unique)) = statement(change, Seq::Computed) else {
        unreachable!("every other change is planned by `plan`")
    };
    let args = stmt
        .args
        .into_iter()
        .map(|v| match v {
            V::Text(t) => Val::from(t),
            V::OptText(t) => Val::from(t),
            V::Int(i) => Val::from(i),
            V::OptInt(i) => Val::from(i),
            V::Flag(b) => Val::from(b),
        })
        .collect();
    (
        Stmt {
            sql: stmt.sql,
            args,
        },
        Check::Composition(unique),
    )
}

/// Runs planned statements on the writer's connection, inside its transaction.
pub(super) fn apply_on(tx: &write::Tx<'_>, planned: &[(Stmt, Check)]) -> StoreResult<()> {
    for (stmt, check) in planned {
        if check.is_count() {
            check.count(write::count(tx, stmt).map_err(write::err)?)?;
            continue;
        }
        match write::run(tx, stmt) {
            Ok(n) => check.rows(n as u64)?,
            Err(e) if write::is_unique_violation(&e) => {
                return Err(check.unique(StoreError::Database(Box::new(e))));
            }
            Err(e) => return Err(StoreError::Database(Box::new(e))),
        }
    }
    Ok(())
}
