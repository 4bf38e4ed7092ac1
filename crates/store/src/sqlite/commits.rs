//! "Has anyone committed anything since?" for a file database, without running a statement: the
//! header of its WAL index, read from `<db>-shm` with one `pread`.
//!
//! Why: REST checks the credentials version on every request (`accounts::version`), and as a
//! statement that read cost as much as the participant read it guarded (a read transaction, its
//! locks, a B-tree seek: 9.7 % of a fetch). Every process that writes the database in WAL mode —
//! this server's writer, another vroom, `vroom keys`, an operator's `sqlite3` — publishes each
//! commit in the WAL index's header before its commit returns (SQLite's `walIndexWriteHdr`: the
//! header holds `iChange`, a counter raised by every transaction, the last frame, the salts and a
//! checksum). So while the header's bytes stand still nothing has been committed, by anyone, and
//! the version read last still holds; when they move, the version is read again.
//!
//! The header's format (<https://www.sqlite.org/walformat.html>, "The WAL-Index Header") has been
//! the same since SQLite 3.7.0; it is written twice, the second copy first, and readers take it only
//! when both copies agree. Here a header is trusted only when both copies agree, it says it is
//! initialised, and its version is the one known: otherwise every call reads the version, as
//! before. Bytes compared, never interpreted, so a torn read can only cause an extra read.
//!
//! The `-shm` file lives as long as some connection has the database open: SQLite's last
//! connection to close deletes it, and a new one makes a new file, which the handle kept here would
//! not see. So [`Commits`] keeps its own read-only connection open for as long as it lives: while
//! that connection holds its shared lock, no other connection can be the last one.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

/// One copy of the WAL index header (`WalIndexHdr`, 48 bytes).
const HEADER: usize = 48;
/// `iVersion` of the WAL index format this reads (`WALINDEX_MAX_VERSION`).
const FORMAT: u32 = 3_007_000;

/// The WAL index of one database, and the last value seen with its header.
pub(super) struct Commits {
    shm: File,
    /// Keeps the `-shm` file in place (see the module's doc).
    _anchor: Mutex<Connection>,
    /// The header as it stood when `value` was read (the value read after the header was).
    seen: Mutex<Option<([u8; HEADER], i64)>>,
}

impl std::fmt::Debug for Commits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commits").finish_non_exhaustive()
    }
}

impl Commits {
    /// The WAL index of the database at `db` (in WAL mode, open elsewhere in this process); `None`
    /// when it has none to read (the callers then read every time).
    pub(super) fn open(db: &Path) -> Option<Self> {
        let anchor = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        // A read opens the WAL and takes the shared lock that the connection then keeps.
        anchor
            .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })
            .ok()?;
        let mut shm = db.as_os_str().to_owned();
        shm.push("-shm");
        let commits = Self {
            shm: File::open(shm).ok()?,
            _anchor: Mutex::new(anchor),
            seen: Mutex::new(None),
        };
        commits.header().map(|_| commits)
    }

    /// The header as it stands, when both copies agree and it is one this reads.
    fn header(&self) -> Option<[u8; HEADER]> {
        let mut both = [0u8; 2 * HEADER];
        self.shm.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(HEADER);
        let version = u32::from_ne_bytes([first[0], first[1], first[2], first[3]]);
        // `isInit`, after `iVersion`, `unused` and `iChange`.
        let initialised = first[12] == 1;
        (first == second && initialised && version == FORMAT).then(|| {
            let mut h = [0u8; HEADER];
            h.copy_from_slice(first);
            h
        })
    }

    /// `read()`, or the value it gave last when nothing has been committed since. `read` must
    /// read from the database (a transaction that starts when it is called).
    ///
    /// Why that holds: the header is read before `read` runs, so the value read reflects every
    /// commit the header counts. Later, equal header bytes mean no commit since (each one raises
    /// `iChange` and rewrites the checksum), so the database still holds what `read` saw.
    pub(super) fn cached(
        &self,
        read: impl FnOnce() -> crate::StoreResult<i64>,
    ) -> crate::StoreResult<i64> {
        let header = self.header();
        if let Some(h) = header {
            let seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, value)) = *seen
                && at == h
            {
                return Ok(value);
            }
        }
        let value = read()?;
        if let Some(h) = header {
            *self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((h, value));
        }
        Ok(value)
    }
}
