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
//! This server's own commits need no read at all: its writer reads the header under the write lock
//! when a transaction begins and again after it commits, with the version as the transaction left
//! it; when `iChange` (raised by SQLite at each commit, in `sqlite3WalFrames`, and nowhere else)
//! moved by exactly one, the only commit between was that one, so the version it read holds for
//! the header now ([`Commits::committed`]). Without this, every batch of creates
//! made the next requests read the version again (7 % of a create).
//!
//! The `-shm` file lives as long as some connection has the database open: SQLite's last
//! connection to close deletes it, and a new one makes a new file, which the handle kept here would
//! not see. So [`Commits`] keeps its own read-only connection open for as long as it lives: while
//! that connection holds its shared lock, no other connection can be the last one.

use std::collections::HashMap;
use std::fs::File;
use std::hash::Hash;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

/// One copy of the WAL index header (`WalIndexHdr`, 48 bytes).
const HEADER: usize = 48;
/// The WAL index header's bytes.
pub(super) type Header = [u8; HEADER];
/// `iVersion` of the WAL index format this reads (`WALINDEX_MAX_VERSION`).
const FORMAT: u32 = 3_007_000;

/// The WAL index of one database, and the last value seen with its header.
pub(super) struct Commits {
    shm: File,
    /// Keeps the `-shm` file in place (see the module's doc).
    _anchor: Mutex<Connection>,
    /// The credentials version, under the header it was read after (or committed at).
    credentials: Memo<()>,
    /// How many times a value was read from the database (what the tests watch).
    #[cfg(test)]
    pub(super) reads: std::sync::atomic::AtomicU64,
}

/// Values read per key (a room's version, say), each trusted while the WAL index's header stands
/// as it stood before the value was read: the map is emptied whenever the header has moved.
pub(super) struct Memo<K> {
    seen: Mutex<Option<Kept<K>>>,
}

/// A header, and the values read after it.
type Kept<K> = ([u8; HEADER], HashMap<K, i64>);

/// Keys a [`Memo`] holds at most between two commits (a key beyond is read every time).
const MEMO_KEYS: usize = 4096;

impl<K> Default for Memo<K> {
    fn default() -> Self {
        Self {
            seen: Mutex::new(None),
        }
    }
}

impl<K> std::fmt::Debug for Memo<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
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
            credentials: Memo::default(),
            #[cfg(test)]
            reads: std::sync::atomic::AtomicU64::new(0),
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

    /// The header as the writer sees it once its transaction holds the write lock (no commit can
    /// move it until that transaction ends).
    pub(super) fn before_commit(&self) -> Option<[u8; HEADER]> {
        self.header()
    }

    /// This process's writer committed the transaction it began at `before`, in which the
    /// credentials version read `value`. When the header now counts exactly one transaction more
    /// than `before`, that transaction was this one (any other commit, by anyone, counts one
    /// more; a restart of the WAL or a checkpoint rewrites the header without counting, and changes
    /// no row), so `value` is the version at this header.
    pub(super) fn committed(&self, before: Option<[u8; HEADER]>, value: i64) {
        let (Some(before), Some(now)) = (before, self.header()) else {
            return;
        };
        if changes(&now) != changes(&before).wrapping_add(1) {
            return;
        }
        *self
            .credentials
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((now, HashMap::from([((), value)])));
    }

    /// The credentials version: `read()`, or the value it gave last when nothing has been
    /// committed since (or the value this process's writer committed). `read` must read from the
    /// database (a transaction that starts when it is called).
    pub(super) fn cached(
        &self,
        read: impl FnOnce() -> crate::StoreResult<i64>,
    ) -> crate::StoreResult<i64> {
        self.cached_for(&self.credentials, (), || read().map(Some))?
            .ok_or_else(|| crate::StoreError::Corrupt("no credentials version".into()))
    }

    /// `read()`, or the value it gave last for `key` of `memo` when nothing has been committed
    /// since. A `None` (nothing stored under the key) is not kept. `read` must read from the
    /// database (a transaction that starts when it is called).
    ///
    /// Why that holds: the header is read before `read` runs, so the value read reflects every
    /// commit the header counts, and it is kept only under that header. Later, equal header bytes
    /// mean no commit since (each one raises `iChange` and rewrites the checksum), so the database
    /// still holds what `read` saw; the first call that finds another header starts an empty map
    /// under it, so a value never outlives the header it was read after.
    pub(super) fn cached_for<K: Hash + Eq>(
        &self,
        memo: &Memo<K>,
        key: K,
        read: impl FnOnce() -> crate::StoreResult<Option<i64>>,
    ) -> crate::StoreResult<Option<i64>> {
        let lock = || {
            memo.seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let header = self.header();
        if let Some(h) = header
            && let Some((at, values)) = &*lock()
            && *at == h
            && let Some(&value) = values.get(&key)
        {
            return Ok(Some(value));
        }
        #[cfg(test)]
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let value = read()?;
        if let (Some(h), Some(v)) = (header, value) {
            let mut seen = lock();
            match &mut *seen {
                Some((at, values)) if *at == h => {
                    if values.len() < MEMO_KEYS {
                        values.insert(key, v);
                    }
                }
                // Another header (newer, or older if a concurrent caller read it later): values
                // kept under it are dropped, which only costs reads.
                _ => *seen = Some((h, HashMap::from([(key, v)]))),
            }
        }
        Ok(value)
    }
}

/// `iChange`, the header's count of transactions (after `iVersion` and `unused`).
fn changes(header: &[u8; HEADER]) -> u32 {
    u32::from_ne_bytes([header[8], header[9], header[10], header[11]])
}
