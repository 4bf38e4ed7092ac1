//! The read path of a file database: a few read-only rusqlite connections, used inline on the
//! calling thread, with cached prepared statements.
//!
//! Why not sqlx for reads: sqlx runs each SQLite connection on a thread of its own, so every query
//! is two thread hand-offs (the worker wakes the connection's thread, which wakes the worker) plus a
//! `ping` when the connection goes back to its pool. Under REST load those wakeups were about half
//! of vroom's CPU and SQLite's own work about 3 %. A point read, or a page of 51 rows, from SQLite's
//! page cache takes tens of microseconds, less than one hand-off, so it runs where the caller is.
//! The cost of that choice: a read that has to wait for the disk holds its Tokio worker meanwhile.
//!
//! The connections are read-only and the database is in WAL mode: a reader sees every transaction
//! committed before it started, never waits for the writer, and cannot change anything. Writes stay
//! on sqlx's pool (one transaction per `apply`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OpenFlags, ToSql};
use vroom_domain::page::Page;

use super::lists::{Arg, Plan};
use super::rows::Columns;
use crate::{StoreError, StoreResult};

/// Idle connections kept; more are opened when more threads read at once, and closed after.
const KEEP: usize = 8;
/// Distinct statements each connection keeps prepared (the lists have one per filter combination).
const STATEMENTS: usize = 64;

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

impl ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Self::Text(s) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(s.as_bytes())),
            Self::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
        })
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.get(col).map_err(err)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col).map_err(err)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.get(col).map_err(err)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col).map_err(err)
    }
}

/// The pool of read-only connections.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").field("path", &self.path).finish()
    }
}

impl Readers {
    /// Readers of the database file at `path` (which exists and is migrated).
    pub(super) fn open(path: &Path) -> StoreResult<Self> {
        let readers = Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        };
        let first = readers.connect()?;
        readers.put(first);
        Ok(readers)
    }

    fn connect(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS);
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < KEEP {
            idle.push(conn);
        }
    }

    /// Runs `f` on an idle connection (a new one when none is idle).
    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match conn {
            Some(c) => c,
            None => self.connect()?,
        };
        let out = f(&conn);
        self.put(conn);
        out
    }

    /// The one row `sql` finds with `args`, decoded.
    pub(super) fn one<T>(
        &self,
        sql: &str,
        args: &[&dyn ToSql],
        decode: fn(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.with(|c| {
            let mut st = c.prepare_cached(sql).map_err(err)?;
            let mut rows = st.query(args).map_err(err)?;
            rows.next().map_err(err)?.map(decode).transpose()
        })
    }

    /// A planned list page.
    pub(super) fn page<T>(
        &self,
        plan: &Plan,
        decode: fn(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        self.with(|c| {
            if let Some((sql, sid)) = &plan.cursor_check {
                let mut st = c.prepare_cached(sql).map_err(err)?;
                let exists: i64 = st.query_row([sid], |r| r.get(0)).map_err(err)?;
                if exists == 0 {
                    return Err(StoreError::UnknownCursor);
                }
            }
            let mut st = c.prepare_cached(&plan.sql).map_err(err)?;
            let mut rows = st
                .query(rusqlite::params_from_iter(plan.args.iter()))
                .map_err(err)?;
            let mut items = Vec::with_capacity(plan.size());
            let mut found = 0;
            while let Some(row) = rows.next().map_err(err)? {
                found += 1;
                if items.len() < plan.size() {
                    items.push(decode(row)?);
                }
            }
            Ok(plan.page(items, found))
        })
    }
}
