//! Answers to reads of a room's participants (a page of them, or one), kept in memory and given
//! again while the room has not changed: each is kept with the room's version
//! (`Store::room_version`, raised by a trigger in every transaction that changes the room or one of
//! its participants, whoever commits it) read *before* the records it was rendered from, and is
//! given again only while that version is the room's version still.
//!
//! Why: a page of 50 spent three quarters of its time reading 51 rows and writing their JSON, for
//! the same bytes as last time; what is left per request is the credential check and the version,
//! which on SQLite is a `pread` of the WAL index's header while nothing is committed
//! (`vroom-store`'s `sqlite/commits.rs`) and on PostgreSQL a point query.
//!
//! Why it is never stale: the version is read before the records, so a change committed between
//! the two reads leaves an answer kept under the older version, which the next read, finding the
//! newer one, does not give. Versions only go up, so an older version never comes back. The key is
//! the caller's account and the request's path and query as written, and an answer is kept only
//! for a room named by its SID (a room's unique name can come to name another room) and only when
//! it was a 200; everything else in the body (the public URL) is fixed for the server's life.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::Uri;
use axum::response::Response;
use vroom_domain::sid::{AccountSid, RoomSid};

use crate::ApiState;
use crate::error::ApiResult;

/// Answers kept at most.
const MAX_ENTRIES: usize = 1024;
/// Bytes of answers kept at most.
const MAX_BYTES: usize = 8 << 20;
/// A larger answer (a page of hundreds) is not kept.
const MAX_BODY: usize = 256 << 10;

/// One answer, and what it was read for.
struct Entry {
    account: AccountSid,
    room: RoomSid,
    version: i64,
    body: Bytes,
}

#[derive(Default)]
struct Entries {
    by_path: HashMap<String, Entry>,
    bytes: usize,
}

/// The answers kept, by path and query.
#[derive(Default)]
pub(crate) struct RoomReads {
    entries: Mutex<Entries>,
}

impl std::fmt::Debug for RoomReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomReads").finish_non_exhaustive()
    }
}

impl RoomReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The answer kept for `path` when it was read for `account` and `room` at `version`.
    pub(crate) fn get(
        &self,
        account: AccountSid,
        room: RoomSid,
        version: i64,
        path: &str,
    ) -> Option<Bytes> {
        let entries = self.lock();
        let e = entries.by_path.get(path)?;
        (e.account == account && e.room == room && e.version == version).then(|| e.body.clone())
    }

    /// Keeps `body`, the answer for `path` read for `account` after `room`'s version was read as
    /// `version`, in place of what was kept for `path`; others make room when the bounds are met.
    pub(crate) fn put(
        &self,
        account: AccountSid,
        room: RoomSid,
        version: i64,
        path: &str,
        body: Bytes,
    ) {
        if body.len() > MAX_BODY {
            return;
        }
        let mut entries = self.lock();
        if let Some(old) = entries.by_path.remove(path) {
            entries.bytes -= old.body.len();
        }
        while entries.by_path.len() >= MAX_ENTRIES || entries.bytes + body.len() > MAX_BYTES {
            // Whichever comes first: a bound on memory, not a policy (an answer given up is only
            // read and rendered again).
            let Some(key) = entries.by_path.keys().next().cloned() else {
                break;
            };
            if let Some(old) = entries.by_path.remove(&key) {
                entries.bytes -= old.body.len();
            }
        }
        entries.bytes += body.len();
        entries.by_path.insert(
            path.to_owned(),
            Entry {
                account,
                room,
                version,
                body,
            },
        );
    }
}

/// The answer to a read of `room`'s participants for `account`: the one kept for `uri` when the
/// room has not changed since it was rendered, else `render`'s, kept for the next time. `render`
/// must read the store only once awaited (an `async` block), so after the version is read.
///
/// # Errors
/// The version's read error, or `render`'s (an error is never kept).
pub(crate) async fn room_read(
    st: &ApiState,
    account: AccountSid,
    room: RoomSid,
    uri: &Uri,
    render: impl Future<Output = ApiResult<Vec<u8>>>,
) -> ApiResult<Response> {
    let version = st.store.room_version(room).await?;
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path(), |p| p.as_str());
    if let Some(v) = version
        && let Some(body) = st.reads.get(account, room, v, path)
    {
        return Ok(crate::json_body(body));
    }
    let body = Bytes::from(render.await?);
    if let Some(v) = version {
        st.reads.put(account, room, v, path, body.clone());
    }
    Ok(crate::json_body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_given_only_for_its_account_room_and_version() {
        let reads = RoomReads::default();
        let (a, b) = (
            AccountSid::from_bytes([1; 16]),
            AccountSid::from_bytes([2; 16]),
        );
        let (r, s) = (RoomSid::from_bytes([3; 16]), RoomSid::from_bytes([4; 16]));
        reads.put(a, r, 7, "/p", Bytes::from_static(b"seven"));
        assert_eq!(reads.get(a, r, 7, "/p").as_deref(), Some(&b"seven"[..]));
        assert_eq!(reads.get(a, r, 8, "/p"), None, "the room changed");
        assert_eq!(reads.get(b, r, 7, "/p"), None, "another account");
        assert_eq!(reads.get(a, s, 7, "/p"), None, "another room");
        assert_eq!(reads.get(a, r, 7, "/q"), None, "another path");
        reads.put(a, r, 8, "/p", Bytes::from_static(b"eight"));
        assert_eq!(reads.get(a, r, 7, "/p"), None, "replaced");
        assert_eq!(reads.get(a, r, 8, "/p").as_deref(), Some(&b"eight"[..]));
    }

    #[test]
    fn what_is_kept_stays_within_its_bounds() {
        let reads = RoomReads::default();
        let (a, r) = (
            AccountSid::from_bytes([1; 16]),
            RoomSid::from_bytes([3; 16]),
        );
        let body = Bytes::from(vec![b'x'; 100 << 10]);
        for i in 0..2 * MAX_ENTRIES {
            reads.put(a, r, 1, &format!("/p{i}"), body.clone());
            let e = reads.lock();
            assert!(e.by_path.len() <= MAX_ENTRIES && e.bytes <= MAX_BYTES);
            assert_eq!(
                e.bytes,
                e.by_path.values().map(|e| e.body.len()).sum::<usize>()
            );
        }
        reads.put(a, r, 1, "/big", Bytes::from(vec![b'x'; MAX_BODY + 1]));
        assert_eq!(reads.get(a, r, 1, "/big"), None, "too large to keep");
    }
}
