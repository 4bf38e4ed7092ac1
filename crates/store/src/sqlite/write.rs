//! The write path of a file database: one thread owns the one connection that writes, and commits
//! the writes queued while it was busy in one transaction (group commit).
//!
//! Why: with `synchronous=FULL` every commit waits for the disk, and SQLite has one writer at a
//! time. One transaction per change made every room task and every REST create queue for a sync
//! of its own, through sqlx's connection threads (two thread hand-offs per statement), and
//! concurrent writers on several connections waited for each other in SQLite's busy handler,
//! which sleeps in steps of milliseconds. Here a caller hands its job to the thread and waits;
//! the thread takes every job queued (up to [`MOST`]), runs them in one transaction, commits
//! once, and only then answers every caller. So a change is still on disk before anyone is told,
//! and one sync serves all the changes that arrived during the previous one; while changes come
//! quickly, a small batch waits a moment ([`LINGER`]) for more before it commits. A job that fails
//! is rolled back alone and only its caller hears of it: the batch is first run without savepoints
//! (jobs rarely fail, and a savepoint per job copied every page it touched into the
//! sub-journal); when one fails, the whole transaction is rolled back and the batch run again
//! with a savepoint per job.
//!
//! Checkpoints (copying the WAL back into the database file, with its syncs) run on this thread
//! after a batch's callers were answered, at most every [`CHECKPOINT_EVERY`], not inside a commit
//! as SQLite's automatic checkpoint does, so no caller waits for the checkpoint of its own
//! commit. They run between two batches, with no write in between, so a checkpoint copies the
//! whole WAL (unless a reader still needs an older part) and the next batch starts the WAL again
//! from its beginning: on a thread of their own beside the writer, checkpoints never caught up
//! and the WAL grew without end (360 MB after 15 s of creates).
//!
//! Every write of the hot paths comes here (`apply`, the room leases, the outbox's claims and
//! outcomes), so they never wait for each other in the busy handler; rare writes (accounts, keys,
//! shared secrets, migrations) stay on sqlx's pool and take the write lock in turn.

use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::oneshot;

use super::commits::{Commits, Header};
use super::rows::{Stmt, Val};
use crate::{StoreError, StoreResult};

/// Jobs in one transaction at most.
const MOST: usize = 512;

/// How long a small batch waits for more jobs when jobs are arriving quickly (a batch began less
/// than [`BUSY`] before this one). A commit costs about the same for one change as for several
/// (its WAL frames are the index and table pages the changes share, and one `fsync`), and at
/// 1,000 joins/s into many rooms nearly every batch was one job: one commit per change, the
/// writer thread a fifth of the server's CPU (BENCHMARKS.md, joins). Waiting a millisecond merges
/// the changes of that millisecond; at low rates (a batch more than `BUSY` after the last) a
/// change is committed at once, as before.
const LINGER: Duration = Duration::from_millis(1);
/// See [`LINGER`].
const BUSY: Duration = Duration::from_millis(5);
/// A batch this big commits without waiting: it already shares its commit (and under a queue,
/// as REST creates make, the writer never idles).
const LINGER_BELOW: usize = 8;

/// The least time between two checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

pub(super) fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// The same failure, for one more caller.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::UniqueNameTaken => StoreError::UniqueNameTaken,
        StoreError::IdentityTaken => StoreError::IdentityTaken,
        StoreError::HookNameTaken => StoreError::HookNameTaken,
        StoreError::AlreadyComposed => StoreError::AlreadyComposed,
        StoreError::UnknownAccount => StoreError::UnknownAccount,
        StoreError::UnknownCursor => StoreError::UnknownCursor,
        StoreError::LeaseLost => StoreError::LeaseLost,
        StoreError::TooManyRooms { limit } => StoreError::TooManyRooms { limit: *limit },
        StoreError::Config(s) => StoreError::Config(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Database(d) => StoreError::Database(d.to_string().into()),
    }
}

/// Whether `e` is a UNIQUE or PRIMARY KEY constraint failing.
pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Text(s) => ValueRef::Text(s.as_bytes()),
            Self::Int(i) => ValueRef::Integer(*i),
            Self::Null => ValueRef::Null,
        }))
    }
}

/// The writer's connection inside a batch's transaction, and how a failing job is undone there.
pub(super) struct Tx<'a> {
    conn: &'a Connection,
    /// Whether a failed job rolls the whole transaction back ([`commit_all`], or a batch of one
    /// job), rather than to the job's own savepoint.
    whole: bool,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// Runs `stmt` in the writer's transaction `tx`; the number of rows it changed.
///
/// In a transaction that a failed job rolls back whole (`tx.whole`), an `INSERT` or `UPDATE`
/// runs as `INSERT OR ROLLBACK` / `UPDATE OR ROLLBACK`: SQLite then needs no statement journal
/// to undo the statement alone. With the triggers that keep `room_changes`, every insert or
/// update of a room or participant would otherwise copy each page it touched, already dirty in
/// the transaction, into that journal first (a dozen pages per created room, written to a
/// temporary file once past 64 KiB: a third of the writer's time under creates; BENCHMARKS.md,
/// create). Under a savepoint per job the statements stay as written, so a failing job is
/// undone alone.
pub(super) fn run(tx: &Tx<'_>, stmt: &Stmt) -> rusqlite::Result<usize> {
    let sql = if tx.whole {
        rollback_form(stmt.sql)
    } else {
        stmt.sql
    };
    tx.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(stmt.args.iter()))
}

thread_local! {
    /// `sql` → its `OR ROLLBACK` form, made once per statement (there are a few dozen).
    static ROLLBACK_FORMS: std::cell::RefCell<std::collections::HashMap<(usize, usize), &'static str>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// `sql` in the form a failure rolls the whole transaction back: `INSERT INTO` and `UPDATE`
/// with `OR ROLLBACK`; any other statement (one with its own conflict clause, a `DELETE`, a
/// query) as it is.
pub(super) fn rollback_form(sql: &'static str) -> &'static str {
    let key = (sql.as_ptr() as usize, sql.len());
    ROLLBACK_FORMS.with_borrow_mut(|forms| {
        *forms.entry(key).or_insert_with(|| {
            let body = sql.trim_start();
            let form = if let Some(rest) = body.strip_prefix("INSERT INTO ") {
                format!("INSERT OR ROLLBACK INTO {rest}")
            } else if let Some(rest) = body.strip_prefix("UPDATE ") {
                format!("UPDATE OR ROLLBACK {rest}")
            } else {
                return sql;
            };
            Box::leak(form.into_boxed_str())
        })
    })
}

/// Runs the counting statement `stmt` on the writer's connection; the count.
pub(super) fn count(conn: &Connection, stmt: &Stmt) -> rusqlite::Result<i64> {
    conn.prepare_cached(stmt.sql)?
        .query_row(rusqlite::params_from_iter(stmt.args.iter()), |row| {
            row.get(0)
        })
}

/// Work for the writer thread: `run` inside the batch's transaction, `finish` after its commit
/// (or failure).
trait Job: Send {
    fn run(&mut self, tx: &Tx<'_>) -> StoreResult<()>;
    fn finish(self: Box<Self>, outcome: StoreResult<()>);
}

struct Task<T, F> {
    work: F,
    out: Option<T>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Task<T, F>
where
    T: Send,
    F: Fn(&Tx<'_>) -> StoreResult<T> + Send,
{
    fn run(&mut self, tx: &Tx<'_>) -> StoreResult<()> {
        // Run again when its batch is (the last run's output is the one kept).
        self.out = Some((self.work)(tx)?);
        Ok(())
    }

    fn finish(self: Box<Self>, outcome: StoreResult<()>) {
        let Self { out, reply, .. } = *self;
        let result =
            outcome.and_then(|()| out.ok_or_else(|| StoreError::Corrupt("job did not run".into())));
        // A caller that stopped waiting has nobody to tell.
        let _ = reply.send(result);
    }
}

/// The handle of the writer thread; the thread ends when the last handle is dropped.
#[derive(Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Opens the writing connection to the (migrated) database at `path` and starts its thread;
    /// it tells `commits` of the transactions it commits.
    pub(super) fn start(path: &Path, commits: Option<Arc<Commits>>) -> StoreResult<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        // Per connection: every commit reaches the disk before it returns; foreign keys checked.
        // Checkpoints run between batches (`serve`), not inside a commit.
        // A page cache of 32 MiB rather than 2: the create profile showed the writer reading
        // index pages back from the file (BENCHMARKS.md, create). Statement journals (still
        // needed by a statement that may fail alone: under a savepoint, or one checking a
        // foreign key) in memory: past 64 KiB SQLite wrote them to a temporary file, two
        // `pwrite`s per page.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;
             PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;",
        )
        .map_err(err)?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("vroom-sqlite-writer".into())
            .spawn(move || {
                let writing = Writing {
                    conn,
                    commits: commits.as_deref(),
                };
                serve(&writing, &rx);
            })
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next transaction; returns its result once that transaction committed.
    /// `work` may run more than once (its batch is run again when another job of it failed);
    /// only the run in the transaction that commits counts.
    pub(super) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> StoreResult<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let task = Task {
            work,
            out: None,
            reply,
        };
        self.jobs
            .send(Box::new(task))
            .map_err(|_| StoreError::Database("the database writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Database("the database writer has stopped".into()))?
    }
}

/// The writer thread's connection, and where it reports what it committed.
struct Writing<'a> {
    conn: Connection,
    commits: Option<&'a Commits>,
}

impl Writing<'_> {
    /// `BEGIN IMMEDIATE`, and the WAL index header as it stands once the write lock is held.
    fn begin(&self) -> StoreResult<Option<Header>> {
        exec(&self.conn, "BEGIN IMMEDIATE")?;
        Ok(self.commits.and_then(Commits::before_commit))
    }

    /// `COMMIT` of the transaction [`Writing::begin`] began at `before`; tells `commits` the
    /// credentials version it committed.
    fn commit(&self, before: Option<Header>) -> StoreResult<()> {
        // Without it the next request reads the version again: nothing is lost but that read.
        let version = match self.commits {
            Some(_) if before.is_some() => credentials_version(&self.conn).ok(),
            _ => None,
        };
        exec(&self.conn, "COMMIT")?;
        if let (Some(commits), Some(version)) = (self.commits, version) {
            commits.committed(before, version);
        }
        Ok(())
    }
}

/// The credentials version as this connection's transaction sees it.
fn credentials_version(conn: &Connection) -> StoreResult<i64> {
    conn.prepare_cached(super::accounts::VERSION)
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(err)
}

fn serve(writing: &Writing<'_>, rx: &mpsc::Receiver<Box<dyn Job>>) {
    let conn = &writing.conn;
    let mut checkpointed = Instant::now();
    let mut last_batch: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        let arrived = Instant::now();
        let mut jobs = vec![first];
        while jobs.len() < MOST {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if jobs.len() < LINGER_BELOW && last_batch.is_some_and(|t| arrived - t < BUSY) {
            linger(rx, &mut jobs, arrived + LINGER);
        }
        last_batch = Some(arrived);
        commit(writing, jobs);
        // The batch's callers have their answers: now the checkpoint, if one is due.
        if checkpointed.elapsed() >= CHECKPOINT_EVERY {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "could not checkpoint the database");
            }
            checkpointed = Instant::now();
        }
    }
}

/// Waits until `until` for more jobs to join a small batch, or until it has [`LINGER_BELOW`].
fn linger(rx: &mpsc::Receiver<Box<dyn Job>>, jobs: &mut Vec<Box<dyn Job>>, until: Instant) {
    while jobs.len() < LINGER_BELOW {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match rx.recv_timeout(left) {
            Ok(job) => jobs.push(job),
            Err(_) => return,
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(err)
}

/// Runs `jobs` in one transaction without savepoints, commits, then tells each job its outcome;
/// `false`, with nothing written and nobody told, when a job failed.
fn commit_all(writing: &Writing<'_>, jobs: &mut Vec<Box<dyn Job>>) -> bool {
    let conn = &writing.conn;
    let before = match writing.begin() {
        Ok(before) => before,
        Err(e) => {
            for job in jobs.drain(..) {
                job.finish(Err(copy(&e)));
            }
            return true;
        }
    };
    for job in jobs.iter_mut() {
        // A failed statement may have rolled the transaction back already (`run`).
        if job.run(&Tx { conn, whole: true }).is_err() {
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            return false;
        }
    }
    let committed = writing.commit(before);
    if let Err(e) = &committed {
        if !conn.is_autocommit() {
            let _ = exec(conn, "ROLLBACK");
        }
        tracing::error!(error = %e, jobs = jobs.len(), "could not commit a batch of writes");
    }
    for job in jobs.drain(..) {
        job.finish(committed.as_ref().copied().map_err(copy));
    }
    true
}

/// Runs `jobs` in one transaction, commits, then tells each job its outcome: first all together
/// ([`commit_all`]), and when one of several failed, again with each in a savepoint of its own.
fn commit(writing: &Writing<'_>, mut jobs: Vec<Box<dyn Job>>) {
    if jobs.len() > 1 && commit_all(writing, &mut jobs) {
        return;
    }
    let conn = &writing.conn;
    let before = match writing.begin() {
        Ok(before) => before,
        Err(e) => {
            for job in jobs {
                job.finish(Err(copy(&e)));
            }
            return;
        }
    };
    let alone = jobs.len() == 1;
    let mut outcomes: Vec<StoreResult<()>> = Vec::with_capacity(jobs.len());
    let mut broken = None;
    for job in &mut jobs {
        if alone {
            outcomes.push(job.run(&Tx { conn, whole: true }));
            break;
        }
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            broken = Some(e);
            break;
        }
        let outcome = job.run(&Tx { conn, whole: false });
        let undone = if outcome.is_err() {
            exec(conn, "ROLLBACK TO job")
        } else {
            Ok(())
        };
        if let Err(e) = undone.and_then(|()| exec(conn, "RELEASE job")) {
            broken = Some(e);
            break;
        }
        outcomes.push(outcome);
    }
    let committed = match broken {
        Some(e) => Err(e),
        None if alone && outcomes.iter().any(Result::is_err) => {
            // The one job failed: nothing of it may stay (a failed statement may have rolled
            // the transaction back already).
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            let mut outcomes = outcomes.into_iter();
            for job in jobs {
                job.finish(outcomes.next().unwrap_or(Ok(())));
            }
            return;
        }
        None => writing.commit(before),
    };
    if let Err(e) = committed {
        if !conn.is_autocommit() {
            let _ = exec(conn, "ROLLBACK");
        }
        tracing::error!(error = %e, jobs = jobs.len(), "could not commit a batch of writes");
        for job in jobs {
            job.finish(Err(copy(&e)));
        }
        return;
    }
    let mut outcomes = outcomes.into_iter();
    for job in jobs {
        // Every job ran (the loop stops early only when broken, handled above).
        job.finish(outcomes.next().unwrap_or(Ok(())));
    }
}
