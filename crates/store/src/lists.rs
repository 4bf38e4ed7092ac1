//! Keyset-paged lists, for every backend. Order is newest first: `date_created DESC`, then the
//! insertion sequence (`seq`, a column of every backend's tables) descending for records created in
//! the same millisecond. A cursor names a record by SID;
//! "after" reads the records that follow it in that order, "before" those that precede it.
//!
//! A list is planned once ([`Plan`]: the SQL, with `?` placeholders, and its arguments) and run by
//! the backend: SQLite's inline readers (`sqlite/read.rs`) or sqlx's pool (an in-memory database);
//! PostgreSQL numbers the placeholders (`postgres::numbered`).

use vroom_domain::page::{Direction, Page, PageRequest};
use vroom_domain::sid::{AccountSid, RoomSid};

use crate::names;
use crate::{
    CompositionFilter, CompositionHookFilter, ParticipantFilter, RecordingFilter, RoomFilter,
};

/// One bound argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// A planned list query.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// `SELECT EXISTS (…)` for the cursor's record, with its SID and the list's scope (account or
    /// room): the cursor must name a record of the list, so another account's SIDs are as unknown
    /// as SIDs that name nothing.
    pub cursor_check: Option<(String, [String; 2])>,
    /// The page query (one row more than the page, to know whether another follows).
    pub sql: String,
    /// Its arguments, in order.
    pub args: Vec<Arg>,
    direction: Option<Direction>,
    size: usize,
}

impl Plan {
    fn new(base: &str, key: Arg) -> Self {
        Self {
            cursor_check: None,
            sql: base.to_owned(),
            args: vec![key],
            direction: None,
            size: 0,
        }
    }

    fn and(&mut self, condition: &str, arg: Arg) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
        self.sql.push_str(" ?");
        self.args.push(arg);
    }

    /// `AND (a = ? OR b = ?)` with the same value; `a` and `b` are our own column names.
    fn and_either(&mut self, a: &'static str, b: &'static str, arg: Arg) {
        self.sql.push_str(&format!(" AND ({a} = ? OR {b} = ?)"));
        self.args.push(arg.clone());
        self.args.push(arg);
    }

    /// Adds the cursor condition, order and limit. `table` and `scope` (the column that scopes the
    /// list, with its value) are our own names, never caller input.
    fn finish(
        mut self,
        table: &'static str,
        (scope, value): (&'static str, String),
        page: &PageRequest,
    ) -> Self {
        self.direction = page.cursor.as_ref().map(|c| c.direction);
        if let Some(cursor) = &page.cursor {
            self.cursor_check = Some((
                format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE sid = ? AND {scope} = ?)"),
                [cursor.sid.clone(), value],
            ));
            let op = if cursor.direction == Direction::After {
                "<"
            } else {
                ">"
            };
            self.sql.push_str(&format!(
                " AND (date_created, seq) {op} (SELECT date_created, seq FROM {table} WHERE sid = ?)"
            ));
            self.args.push(Arg::Text(cursor.sid.clone()));
        }
        let order = if self.direction == Some(Direction::Before) {
            "ASC"
        } else {
            "DESC"
        };
        self.sql.push_str(&format!(
            " ORDER BY date_created {order}, seq {order} LIMIT ?"
        ));
        self.args.push(Arg::Int(i64::from(page.size) + 1));
        self.size = page.size as usize;
        self
    }

    /// How many rows to decode: the page, without the extra row.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Shapes the decoded rows (at most one more than the page) into the page.
    pub fn page<T>(&self, mut items: Vec<T>, found: usize) -> Page<T> {
        let more = found > self.size;
        items.truncate(self.size);
        let (has_next, has_previous) = match self.direction {
            None => (more, false),
            Some(Direction::After) => (more, true),
            Some(Direction::Before) => {
                items.reverse();
                (true, more)
            }
        };
        Page {
            items,
            has_next,
            has_previous,
        }
    }
}

pub(crate) fn rooms(account: AccountSid, filter: &RoomFilter, page: &PageRequest) -> Plan {
    let key = Arg::Text(account.to_string());
    let mut p = match filter.unique_name.as_deref() {
        Some(name) if names::sid_shaped(name) => {
            let mut p = Plan::new(names::LIST_SID_SHAPED, key.clone());
            let name = Arg::Text(name.to_owned());
            p.args.extend([name.clone(), name.clone(), key, name]);
            p
        }
        named => {
            let mut p = Plan::new("SELECT * FROM rooms WHERE account_sid = ?", key);
            if let Some(name) = named {
                p.and("unique_name =", Arg::Text(name.to_owned()));
                p.sql.push_str(names::NOT_SID_NAMED);
            }
            p
        }
    };
    if let Some(status) = filter.status {
        p.and("status =", Arg::Text(status.as_str().to_owned()));
    }
    if let Some(t) = filter.created_after {
        p.and("date_created >=", Arg::Int(t.millis()));
    }
    if let Some(t) = filter.created_before {
        p.and("date_created <", Arg::Int(t.millis()));
    }
    p.finish("rooms", ("account_sid", account.to_string()), page)
}

pub(crate) fn participants(room: RoomSid, filter: &ParticipantFilter, page: &PageRequest) -> Plan {
    let mut p = Plan::new(
        "SELECT * FROM participants WHERE room_sid = ?",
        Arg::Text(room.to_string()),
    );
    if let Some(status) = filter.status {
        p.and("status =", Arg::Text(status.as_str().to_owned()));
    }
    if let Some(identity) = &filter.identity {
        p.and("identity =", Arg::Text(identity.clone()));
    }
    if let Some(t) = filter.created_after {
        p.and("date_created >=", Arg::Int(t.millis()));
    }
    if let Some(t) = filter.created_before {
        p.and("date_created <", Arg::Int(t.millis()));
    }
    p.finish("participants", ("room_sid", room.to_string()), page)
}

pub(crate) fn recordings(
    account: AccountSid,
    filter: &RecordingFilter,
    page: &PageRequest,
) -> Plan {
    let mut p = Plan::new(
        "SELECT * FROM recordings WHERE account_sid = ?",
        Arg::Text(account.to_string()),
    );
    if let Some(room) = filter.room {
        p.and("room_sid =", Arg::Text(room.to_string()));
    }
    if let Some(status) = filter.status {
        p.and("status =", Arg::Text(status.as_str().to_owned()));
    }
    if let Some(source) = &filter.source_sid {
        p.and("track_sid =", Arg::Text(source.clone()));
    }
    for g in &filter.grouping_sids {
        p.and_either("room_sid", "participant_sid", Arg::Text(g.clone()));
    }
    if let Some(kind) = filter.kind {
        p.and("kind =", Arg::Text(kind.as_str().to_owned()));
    }
    if let Some(t) = filter.created_after {
        p.and("date_created >=", Arg::Int(t.millis()));
    }
    if let Some(t) = filter.created_before {
        p.and("date_created <", Arg::Int(t.millis()));
    }
    p.finish("recordings", ("account_sid", account.to_string()), page)
}

pub(crate) fn compositions(
    account: AccountSid,
    filter: &CompositionFilter,
    page: &PageRequest,
) -> Plan {
    let mut p = Plan::new(
        "SELECT * FROM compositions WHERE account_sid = ?",
        Arg::Text(account.to_string()),
    );
    if let Some(room) = filter.room {
        p.and("room_sid =", Arg::Text(room.to_string()));
    }
    if let Some(status) = filter.status {
        p.and("status =", Arg::Text(status.as_str().to_owned()));
    }
    if let Some(t) = filter.created_after {
        p.and("date_created >=", Arg::Int(t.millis()));
    }
    if let Some(t) = filter.created_before {
        p.and("date_created <", Arg::Int(t.millis()));
    }
    p.finish("compositions", ("account_sid", account.to_string()), page)
}

pub(crate) fn composition_hooks(
    account: AccountSid,
    filter: &CompositionHookFilter,
    page: &PageRequest,
) -> Plan {
    let mut p = Plan::new(
        "SELECT * FROM composition_hooks WHERE account_sid = ?",
        Arg::Text(account.to_string()),
    );
    if let Some(enabled) = filter.enabled {
        // `enabled` is 0/1 on SQLite and a boolean on PostgreSQL: compared through a CASE both read.
        p.and(
            "(CASE WHEN enabled THEN 1 ELSE 0 END) =",
            Arg::Int(i64::from(enabled)),
        );
    }
    if let Some(name) = &filter.friendly_name {
        p.and("friendly_name =", Arg::Text(name.clone()));
    }
    if let Some(t) = filter.created_after {
        p.and("date_created >=", Arg::Int(t.millis()));
    }
    if let Some(t) = filter.created_before {
        p.and("date_created <", Arg::Int(t.millis()));
    }
    p.finish(
        "composition_hooks",
        ("account_sid", account.to_string()),
        page,
    )
}
