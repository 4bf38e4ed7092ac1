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
//! committed before it started, never waits for the writer, and cannot change anything. Writes go
//! to the writer thread (`write.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OpenFlags, ToSql};
use vroom_domain::page::Page;

use crate::codec::Columns;
use crate::lists::{Arg, Plan};
use crate::{StoreError, StoreResult};

/// Idle connections kept; more are opened when more threads read at once, and closed after.
const KEEP: usize = 8;
/// Distinct statements each connection keeps prepared (the lists have one per filter combination).
const STATEMENTS: usize = 64;

/// Frees the page cache's unused pages of the connection it runs on (`sqlite3_db_release_memory`).
pub(super) const SHRINK: &str = "PRAGMA shrink_memory";

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

/// A row with its statement's column names, read once per connection and statement: a lookup by
/// name through rusqlite asks SQLite for every column's name and compares them ignoring case, per
/// column read, per row (≈ 8 % of a REST fetch).
pub(super) struct Named<'a, 'r> {
    row: &'a rusqlite::Row<'r>,
    names: &'a [String],
}

impl<'a, 'r> Named<'a, 'r> {
    /// `row` of a statement whose columns are `names`.
    pub(super) fn new(row: &'a rusqlite::Row<'r>, names: &'a [String]) -> Self {
        Self { row, names }
    }

    fn at(&self, col: &str) -> StoreResult<usize> {
        self.names
            .iter()
            .position(|n| n == col)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {col}")))
    }
}

impl Columns for Named<'_, '_> {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.row.get(self.at(col)?).map_err(err)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.row.get(self.at(col)?).map_err(err)
    }
    fn str<'s>(&'s self, col: &str) -> StoreResult<&'s str> {
        let value = self.row.get_ref(self.at(col)?).map_err(err)?;
        value
            .as_str()
            .map_err(|_| StoreError::Corrupt(format!("{col} is not text")))
    }
    fn opt_str<'s>(&'s self, col: &str) -> StoreResult<Option<&'s str>> {
        let value = self.row.get_ref(self.at(col)?).map_err(err)?;
        value
            .as_str_or_null()
            .map_err(|_| StoreError::Corrupt(format!("{col} is not text")))
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.row.get(self.at(col)?).map_err(err)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.row.get(self.at(col)?).map_err(err)
    }
}

/// A decoder of rows read inline.
pub(super) type Decode<T> = fn(&Named<'_, '_>) -> StoreResult<T>;

/// One read-only connection and the column names of the statements it has run.
struct Reader {
    conn: Connection,
    names: HashMap<String, Arc<[String]>>,
}

/// The column names of `st` (prepared from `sql`), remembered per SQL text in `known`.
fn names_of(
    known: &mut HashMap<String, Arc<[String]>>,
    sql: &str,
    st: &rusqlite::Statement<'_>,
) -> Arc<[String]> {
    if let Some(n) = known.get(sql) {
        return Arc::clone(n);
    }
    let n: Arc<[String]> = st.column_names().into_iter().map(str::to_owned).collect();
    known.insert(sql.to_owned(), Arc::clone(&n));
    n
}

/// The pool of read-only connections.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
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

    fn connect(&self) -> StoreResult<Reader> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS);
        Ok(Reader {
            conn,
            names: HashMap::new(),
        })
    }

    fn put(&self, reader: Reader) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < KEEP {
            idle.push(reader);
        }
    }

    /// Drops what the idle connections keep in their page caches (`PRAGMA shrink_memory`) and
    /// closes all but one of them; a reader in use keeps its cache.
    pub(super) fn release_memory(&self) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.truncate(1);
        for r in idle.iter() {
            if let Err(e) = r.conn.execute_batch(SHRINK) {
                tracing::debug!(error = %e, "a reader could not release its page cache");
            }
        }
    }

    /// The idle connections kept now.
    #[cfg(test)]
    pub(super) fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Runs `f` on an idle connection (a new one when none is idle).
    fn with<T>(&self, f: impl FnOnce(&mut Reader) -> StoreResult<T>) -> StoreResult<T> {
        let reader = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut reader = match reader {
            Some(r) => r,
            None => self.connect()?,
        };
        let out = f(&mut reader);
        self.put(reader);
        out
    }

    /// The one row `sql` finds with `args`, decoded.
    pub(super) fn one<T>(
        &self,
        sql: &str,
        args: &[&dyn ToSql],
        decode: Decode<T>,
    ) -> StoreResult<Option<T>> {
        self.with(|r| {
            let mut st = r.conn.prepare_cached(sql).map_err(err)?;
            let names = names_of(&mut r.names, sql, &st);
            let mut rows = st.query(args).map_err(err)?;
            match rows.next().map_err(err)? {
                Some(row) => decode(&Named { row, names: &names }).map(Some),
                None => Ok(None),
            }
        })
    }

    /// A planned list page.
    pub(super) fn page<T>(&self, plan: &Plan, decode: Decode<T>) -> StoreResult<Page<T>> {
        self.with(|r| {
            if let Some((sql, args)) = &plan.cursor_check {
                let mut st = r.conn.prepare_cached(sql).map_err(err)?;
                let exists: i64 = st
                    .query_row(rusqlite::params_from_iter(args), |r| r.get(0))
                    .map_err(err)?;
                if exists == 0 {
                    return Err(StoreError::UnknownCursor);
                }
            }
            let mut st = r.conn.prepare_cached(&plan.sql).map_err(err)?;
            let names = names_of(&mut r.names, &plan.sql, &st);
            let mut rows = st
                .query(rusqlite::params_from_iter(plan.args.iter()))
                .map_err(err)?;
            let mut items = Vec::with_capacity(plan.size());
            let mut found = 0;
            while let Some(row) = rows.next().map_err(err)? {
                found += 1;
                if items.len() < plan.size() {
                    items.push(decode(&Named { row, names: &names })?);
                }
            }
            Ok(plan.page(items, found))
        })
    }
}
