use super::*;

/// An account of this file's tests, `n` its SID's every byte.
fn account(n: u8) -> Account {
    Account {
        sid: AccountSid::from_bytes([n; 16]),
        auth_token: format!("token-{n:x}"),
        friendly_name: String::new(),
        date_created: Timestamp::from_secs(1_800_000_000),
        main: false,
    }
}

/// An active API key of `account`, `n` its SID's every byte.
fn api_key(n: u8, account: AccountSid) -> ApiKey {
    ApiKey {
        sid: ApiKeySid::from_bytes([n; 16]),
        account_sid: account,
        secret: format!("secret-{n:x}"),
        friendly_name: String::new(),
        date_created: Timestamp::from_secs(1_800_000_000),
        date_revoked: None,
    }
}

#[tokio::test]
async fn suite_on_a_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("vroom.db"))
        .await
        .unwrap();
    crate::suite::run(&store).await;
}

/// Every connection that writes (the writer thread's, and sqlx's pool) syncs each commit to disk.
#[tokio::test]
async fn commits_are_synced_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("vroom.db"))
        .await
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = store.pool.acquire().await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(level, 2, "synchronous=FULL");
        held.push(conn);
    }
    let writer = store.writer.as_ref().expect("a file database has a writer");
    let level: i64 = writer
        .write(|c| {
            c.query_row("PRAGMA synchronous", [], |r| r.get(0))
                .map_err(write::err)
        })
        .await
        .unwrap();
    assert_eq!(level, 2, "the writer's connection: synchronous=FULL");
}

/// A database from before accounts and keys: its one row of credentials becomes the main
/// account and that account's key.
#[tokio::test]
async fn stored_credentials_become_the_main_account_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("migrations");
    std::fs::create_dir(&first).unwrap();
    let initial = "20261123000001_initial.sql";
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations/sqlite")
            .join(initial),
        first.join(initial),
    )
    .unwrap();
    let path = dir.path().join("vroom.db");
    {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = options.connect().await.unwrap();
        sqlx::migrate::Migrator::new(first.as_path())
            .await
            .unwrap()
            .run(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO credentials (id, account_sid, auth_token, api_key_sid, api_key_secret) VALUES (1, ?, 'tok', ?, 'sec')")
            .bind("AC".to_owned() + &"ac".repeat(16))
            .bind("SK".to_owned() + &"5e".repeat(16))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let store = SqliteStore::open_file(&path).await.unwrap();
    let account = AccountSid::from_bytes([0xac; 16]);
    let accounts = store.accounts().await.unwrap();
    assert_eq!(
        accounts
            .iter()
            .map(|a| (a.sid, a.auth_token.as_str(), a.main))
            .collect::<Vec<_>>(),
        vec![(account, "tok", true)]
    );
    let keys = store.api_keys(account).await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.sid, k.secret.as_str(), k.active()))
            .collect::<Vec<_>>(),
        vec![(ApiKeySid::from_bytes([0x5e; 16]), "sec", true)]
    );
}

/// A database from before `room_changes` and `room_leases` were keyed by `room_sid` alone
/// (20261203000004): its counters and leases come through the rebuild unchanged, both tables are
/// then WITHOUT ROWID, and the triggers made again still raise a room's counter and note a lease
/// taken from a node.
#[tokio::test]
async fn room_counters_and_leases_survive_their_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("migrations");
    std::fs::create_dir(&before).unwrap();
    let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&all).unwrap() {
        let name = entry.unwrap().file_name();
        if name.to_str().unwrap() < "20261203000004" {
            std::fs::copy(all.join(&name), before.join(&name)).unwrap();
        }
    }
    let path = dir.path().join("vroom.db");
    let at = Timestamp::from_secs(1_800_000_000);
    let room = crate::suite::room(1, Some("rebuilt"), at, false);
    let lease = |node: &str| Lease {
        room: room.sid,
        node: node.to_owned(),
        token: 1,
    };
    {
        // The older schema: every migration before this one.
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(before.as_path())
            .await
            .unwrap()
            .run(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let by_hand = rusqlite::Connection::open(&path).unwrap();
    by_hand
        .execute_batch(&format!(
            "INSERT INTO rooms (sid, account_sid, unique_name, status, ad_hoc, room_type, max_participants,
                max_participant_duration, max_concurrent_published_tracks, record_participants_on_connect,
                transcribe_participants_on_connect, video_codecs, media_region, audio_only,
                empty_room_timeout, unused_room_timeout, large_room, enable_turn, status_callback_method,
                recording_rules, date_created, date_updated, seq)
             VALUES ('{sid}', '{account}', 'rebuilt', 'in-progress', 0, 'group', 50, 14400, 170, 0, 0,
                '[]', 'us1', 0, 5, 5, 0, 0, 'POST', '[]', 0, 0, 1);
             UPDATE room_changes SET n = 41 WHERE room_sid = '{sid}';
             INSERT INTO room_leases (room_sid, node_id, address, token, expires_at)
                VALUES ('{sid}', 'node-a', 'http://a', 7, 1);",
            sid = room.sid,
            account = room.account_sid,
        ))
        .unwrap();
    drop(by_hand);

    let store = SqliteStore::open_file(&path).await.unwrap();
    let by_hand = rusqlite::Connection::open(&path).unwrap();
    for table in ["room_changes", "room_leases"] {
        let sql: String = by_hand
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.ends_with("WITHOUT ROWID"), "{table}: {sql}");
    }
    assert_eq!(store.room_version(room.sid).await.unwrap(), Some(41));
    let kept: (String, String, i64, i64) = by_hand
        .query_row(
            "SELECT node_id, address, token, expires_at FROM room_leases WHERE room_sid = ?",
            [room.sid.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        kept,
        ("node-a".into(), "http://a".into(), 7, 1),
        "the lease as it was"
    );
    // The triggers: a room updated raises its counter; a lease taken from a node whose own
    // lease lapsed (node-a has none) bumps the token and is noted for node-a.
    let mut done = room.clone();
    done.complete(at + vroom_domain::time::Span::from_secs(5));
    store.apply(&[Change::UpdateRoom(done)], &[]).await.unwrap();
    assert_eq!(store.room_version(room.sid).await.unwrap(), Some(42));
    let taken = store
        .acquire_lease(room.sid, "node-b", "http://b", at)
        .await
        .unwrap();
    assert!(
        matches!(&taken, Acquired::Ours(l) if l.token == 8 && l.node == "node-b"),
        "{taken:?}"
    );
    let lost = store.renew_node_lease("node-a", at).await.unwrap();
    assert_eq!(
        lost,
        vec![Lease {
            token: 7,
            ..lease("node-a")
        }]
    );
    // A room created now gets its counter from the trigger.
    let fresh = crate::suite::room(2, None, at, false);
    store
        .apply(&[Change::InsertRoom(fresh.clone())], &[])
        .await
        .unwrap();
    assert_eq!(store.room_version(fresh.sid).await.unwrap(), Some(0));
}

#[tokio::test]
async fn suite_in_memory() {
    let store = SqliteStore::open_url("sqlite::memory:").await.unwrap();
    crate::suite::run(&store).await;
}

/// The credentials version of a file database is answered from the WAL index's header while
/// nothing is committed, and read again after any commit: this store's own, another store's on
/// the same file, or a change made by hand on a plain connection (as `sqlite3` would).
#[tokio::test]
async fn credentials_version_follows_every_commit_whoever_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vroom.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    assert!(
        store.commits.is_some(),
        "a file database's version is checked against its WAL index"
    );
    let v0 = store.credentials_version().await.unwrap();
    assert_eq!(store.credentials_version().await.unwrap(), v0);
    let account = account(0xe1);
    store.save_account(&account).await.unwrap();
    let v1 = store.credentials_version().await.unwrap();
    assert_ne!(v1, v0, "this store's own write");
    // Commits that touch no credential move the header but not the version.
    store.shared_secret("unrelated", "x").await.unwrap();
    assert_eq!(store.credentials_version().await.unwrap(), v1);

    let other = SqliteStore::open_file(&path).await.unwrap();
    let key = api_key(0xe2, account.sid);
    other.save_api_key(&key).await.unwrap();
    let v2 = store.credentials_version().await.unwrap();
    assert_ne!(v2, v1, "another store's write");

    let by_hand = rusqlite::Connection::open(&path).unwrap();
    for (n, sql) in [
        "UPDATE api_keys SET secret = 'rotated'",
        "DELETE FROM api_keys",
        "UPDATE accounts SET auth_token = 'rotated' WHERE main = 0",
    ]
    .into_iter()
    .enumerate()
    {
        let before = store.credentials_version().await.unwrap();
        assert_eq!(store.credentials_version().await.unwrap(), before);
        by_hand.execute(sql, []).unwrap();
        assert_ne!(
            store.credentials_version().await.unwrap(),
            before,
            "change {n} by hand: {sql}"
        );
    }
}

/// What this store's writer commits needs no read of the credentials version afterwards, and a
/// credential changed in one of its transactions is still seen by the next request; a commit by
/// anyone else is read again.
#[tokio::test]
async fn the_writers_own_commits_keep_the_version_without_reading_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vroom.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    let commits = Arc::clone(store.commits.as_ref().expect("a WAL index"));
    let reads = || commits.reads.load(std::sync::atomic::Ordering::Relaxed);
    let w = Arc::clone(store.writer.as_ref().expect("a file database has a writer"));
    store.save_account(&account(0xe3)).await.unwrap();
    let v0 = store.credentials_version().await.unwrap();
    let r0 = reads();
    for i in 0..3_i64 {
        w.write(move |c| {
            c.execute_batch("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
                .and_then(|()| c.execute("INSERT INTO t VALUES (?)", [i]))
                .map(drop)
                .map_err(write::err)
        })
        .await
        .unwrap();
        assert_eq!(store.credentials_version().await.unwrap(), v0);
    }
    assert_eq!(reads(), r0, "the writer's commits were not read again");

    // A credential changed in the writer's own transaction: the version it committed.
    w.write(|c| {
        c.execute("UPDATE accounts SET auth_token = 'rotated-in-writer'", [])
            .map(drop)
            .map_err(write::err)
    })
    .await
    .unwrap();
    let v1 = store.credentials_version().await.unwrap();
    assert_ne!(v1, v0, "a credential changed through the writer");
    let by_hand = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = by_hand
        .query_row("SELECT n FROM credential_changes WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v1, n);

    // Another process's commit right after the writer's: read again.
    let r1 = reads();
    w.write(|c| {
        c.execute("INSERT INTO t VALUES (9)", [])
            .map(drop)
            .map_err(write::err)
    })
    .await
    .unwrap();
    by_hand
        .execute("UPDATE accounts SET auth_token = 'rotated-by-hand'", [])
        .unwrap();
    let v2 = store.credentials_version().await.unwrap();
    assert_ne!(v2, v1, "the change by hand");
    assert_eq!(reads(), r1 + 1);
}

/// A room's version of a file database is answered from memory while nothing is committed, and
/// read again after any commit that touched the room, whoever made it: this store, another store
/// on the same file, or a change by hand (as `sqlite3` would make it).
#[tokio::test]
async fn room_versions_follow_every_commit_whoever_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vroom.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    let at = Timestamp::from_secs(1_800_000_000);
    let room = crate::suite::room(1, Some("versioned"), at, false);
    store
        .apply(&[Change::InsertRoom(room.clone())], &[])
        .await
        .unwrap();
    let version = || async { store.room_version(room.sid).await.unwrap().unwrap() };
    let v0 = version().await;
    assert_eq!(version().await, v0);
    let p = Participant::connect(
        ParticipantSid::from_bytes([0xe5; 16]),
        room.sid,
        room.account_sid,
        "by-store".into(),
        at,
    );
    let other = SqliteStore::open_file(&path).await.unwrap();
    other
        .apply(&[Change::InsertParticipant(p.clone())], &[])
        .await
        .unwrap();
    let v1 = version().await;
    assert_ne!(v1, v0, "another store's write");
    // A commit that touches nothing of the room moves the header, not the version.
    store.shared_secret("unrelated", "x").await.unwrap();
    assert_eq!(version().await, v1);

    let by_hand = rusqlite::Connection::open(&path).unwrap();
    for (n, sql) in [
        "UPDATE participants SET identity = 'renamed'",
        "UPDATE rooms SET status = 'completed'",
        "DELETE FROM participants",
    ]
    .into_iter()
    .enumerate()
    {
        let before = version().await;
        assert_eq!(version().await, before);
        by_hand.execute(sql, []).unwrap();
        assert!(version().await > before, "change {n} by hand: {sql}");
    }
}

/// The header is read only when it is one this code knows; a database without a WAL index (or
/// whose index is not there) falls back to reading every time.
#[test]
fn no_wal_index_no_shortcut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=DELETE; CREATE TABLE t (x INTEGER);")
        .unwrap();
    assert!(commits::Commits::open(&path).is_none());
}

/// Keeps `w` busy for 300 ms, from a moment before it returns, so that the writes asked for
/// meanwhile queue and make one batch.
async fn hold_writer(w: &Arc<write::Writer>) -> tokio::task::JoinHandle<StoreResult<()>> {
    let held = Arc::clone(w);
    let hold = tokio::spawn(async move {
        held.write(|_| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        })
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    hold
}

/// Jobs queued together are committed together; one that fails is undone alone (its own earlier
/// writes included) and only its caller hears of it, whether it fails on the first run of the
/// batch (without savepoints) or not.
#[tokio::test]
async fn a_failing_job_of_a_batch_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("vroom.db"))
        .await
        .unwrap();
    let w = Arc::clone(store.writer.as_ref().expect("a file database has a writer"));
    w.write(|c| {
        c.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .map_err(write::err)
    })
    .await
    .unwrap();
    let hold = hold_writer(&w).await;
    let jobs: Vec<_> = (0..8_i64)
        .map(|i| {
            let w = Arc::clone(&w);
            tokio::spawn(async move {
                w.write(move |c| {
                    c.execute("INSERT INTO t VALUES (?)", [i * 10])
                        .map_err(write::err)?;
                    if i == 3 {
                        // Job 0's row: a constraint error after a write of its own.
                        c.execute("INSERT INTO t VALUES (0)", [])
                            .map_err(write::err)?;
                    }
                    Ok(i)
                })
                .await
            })
        })
        .collect();
    hold.await.unwrap().unwrap();
    let mut outcomes = Vec::new();
    for job in jobs {
        outcomes.push(job.await.unwrap().ok());
    }
    assert_eq!(
        outcomes,
        vec![
            Some(0),
            Some(1),
            Some(2),
            None,
            Some(4),
            Some(5),
            Some(6),
            Some(7)
        ]
    );
    let rows: Vec<i64> = w
        .write(|c| {
            let mut st = c
                .prepare("SELECT x FROM t ORDER BY x")
                .map_err(write::err)?;
            st.query_map([], |r| r.get(0))
                .map_err(write::err)?
                .collect::<Result<Vec<i64>, _>>()
                .map_err(write::err)
        })
        .await
        .unwrap();
    assert_eq!(rows, vec![0, 10, 20, 40, 50, 60, 70]);
}

/// A batch of `apply`s runs its inserts and updates as `OR ROLLBACK` (no statement journal):
/// one that fails on a constraint rolls the whole first run back, and the batch's second run,
/// a savepoint per job, fails it alone; the others are committed with their leases and events.
#[tokio::test]
async fn a_room_refused_in_a_batch_of_creates_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open_file(&dir.path().join("vroom.db"))
            .await
            .unwrap(),
    );
    let at = Timestamp::from_secs(1_800_000_000);
    store
        .renew_node_lease("local", at + vroom_domain::time::Span::from_secs(60))
        .await
        .unwrap();
    let w = Arc::clone(store.writer.as_ref().expect("a file database has a writer"));
    let hold = hold_writer(&w).await;
    let names = ["a", "b", "a", "c"];
    let rooms: Vec<Room> = names
        .iter()
        .enumerate()
        .map(|(i, name)| crate::suite::room(u32::try_from(i).unwrap() + 1, Some(name), at, true))
        .collect();
    let creates: Vec<_> = rooms
        .iter()
        .map(|room| {
            let store = Arc::clone(&store);
            let room = room.clone();
            tokio::spawn(async move {
                let lease = Lease {
                    room: room.sid,
                    node: "local".into(),
                    token: 1,
                };
                let events: Vec<_> = vroom_domain::event::StatusEvent::for_room(
                    &room,
                    vroom_domain::event::EventKind::RoomCreated,
                    at,
                    0,
                )
                .into_iter()
                .collect();
                store
                    .apply(
                        &[
                            Change::NewLease {
                                lease,
                                address: String::new(),
                            },
                            Change::InsertRoom(room),
                        ],
                        &events,
                    )
                    .await
            })
        })
        .collect();
    hold.await.unwrap().unwrap();
    let mut outcomes = Vec::new();
    for create in creates {
        outcomes.push(match create.await.unwrap() {
            Ok(()) => "ok",
            Err(StoreError::UniqueNameTaken) => "taken",
            Err(e) => panic!("{e}"),
        });
    }
    assert_eq!(outcomes, ["ok", "ok", "taken", "ok"]);
    for (room, outcome) in rooms.iter().zip(&outcomes) {
        let stored = store.room(room.sid).await.unwrap();
        assert_eq!(stored.is_some(), *outcome == "ok", "{}", room.unique_name);
        // The refused room's lease went with it: another node acquires its SID as new.
        let acquired = store
            .acquire_lease(room.sid, "other", "", at)
            .await
            .unwrap();
        assert_eq!(
            matches!(acquired, Acquired::Ours(_)),
            *outcome != "ok",
            "{acquired:?}"
        );
    }
    assert_eq!(store.webhook_backlog().await.unwrap().pending, 3);
}

#[test]
fn statements_of_a_whole_transaction_roll_it_back_on_failure() {
    assert_eq!(
        write::rollback_form("INSERT INTO rooms (sid) VALUES (?)"),
        "INSERT OR ROLLBACK INTO rooms (sid) VALUES (?)"
    );
    assert_eq!(
        write::rollback_form("\n  UPDATE rooms SET status = ? WHERE sid = ?"),
        "UPDATE OR ROLLBACK rooms SET status = ? WHERE sid = ?"
    );
    for kept in [
        "INSERT OR IGNORE INTO t VALUES (1)",
        "DELETE FROM t",
        "SELECT 1",
    ] {
        assert_eq!(write::rollback_form(kept), kept);
    }
}

/// The pool's transactions that read before they write take the write lock first: a deferred one
/// whose read snapshot is overtaken by another connection's commit cannot be upgraded, and SQLite
/// refuses it at once ("database is locked") whatever the busy timeout. Keys saved by a second
/// store (`vroom keys` beside a running server) while the server's writer commits all go through.
#[tokio::test]
async fn keys_saved_beside_a_busy_writer_all_go_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vroom.db");
    let server = SqliteStore::open_file(&path).await.unwrap();
    let account = account(0xe4);
    server.save_account(&account).await.unwrap();
    let w = Arc::clone(
        server
            .writer
            .as_ref()
            .expect("a file database has a writer"),
    );
    w.write(|c| {
        c.execute_batch("CREATE TABLE busy (x INTEGER)")
            .map_err(write::err)
    })
    .await
    .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut n = 0_i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                w.write(move |c| {
                    c.execute("INSERT INTO busy VALUES (?)", [n])
                        .map(drop)
                        .map_err(write::err)
                })
                .await
                .unwrap();
                n += 1;
            }
            n
        })
    };
    let beside = SqliteStore::open_file(&path).await.unwrap();
    let mut failed = Vec::new();
    for i in 0..200_u8 {
        if let Err(e) = beside.save_api_key(&api_key(i, account.sid)).await {
            failed.push(e.to_string());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let commits = writing.await.unwrap();
    assert!(commits > 0);
    assert!(
        failed.is_empty(),
        "{} of 200 failed: {:?}",
        failed.len(),
        failed.first()
    );
}

/// Bytes of page cache `conn` holds (`SQLITE_DBSTATUS_CACHE_USED`).
fn cache_used(conn: &rusqlite::Connection) -> i32 {
    let (mut now, mut high) = (0, 0);
    // SAFETY: the handle is `conn`'s and valid while `conn` lives; sqlite3_db_status only reads
    // the connection's counters and writes the two integers it is given.
    #[allow(unsafe_code)]
    let rc = unsafe {
        rusqlite::ffi::sqlite3_db_status(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
            &mut now,
            &mut high,
            0,
        )
    };
    assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
    now
}

/// After a wave of writes the writer's page cache holds the pages they touched (up to 32 MiB);
/// `release_memory` frees them, keeps one idle reader, and the store works as before.
#[tokio::test]
async fn release_memory_empties_the_page_caches_and_keeps_the_store_working() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("vroom.db"))
        .await
        .unwrap();
    let at = Timestamp::from_secs(1_800_000_000);
    let room = crate::suite::room(1, Some("released"), at, false);
    let mut changes = vec![Change::InsertRoom(room.clone())];
    for i in 0..3000u16 {
        let mut sid = [0xa9; 16];
        sid[..2].copy_from_slice(&i.to_be_bytes());
        changes.push(Change::InsertParticipant(Participant::connect(
            ParticipantSid::from_bytes(sid),
            room.sid,
            room.account_sid,
            format!("participant-{i}"),
            at,
        )));
    }
    store.apply(&changes, &[]).await.unwrap();
    let writer = store.writer.as_ref().expect("a file database has a writer");
    let writers_cache = || async { writer.write(|c| Ok(cache_used(c))).await.unwrap() };
    let grown = writers_cache().await;
    assert!(
        grown > 256 * 1024,
        "the writes filled the writer's cache: {grown} bytes"
    );

    store.release_memory().await;
    let left = writers_cache().await;
    assert!(
        left < grown / 4,
        "the writer's cache: {grown} bytes, then {left}"
    );
    let readers = store.readers.as_ref().expect("a file database has readers");
    assert_eq!(readers.idle(), 1, "one idle reader kept");

    let mut first = [0xa9; 16];
    first[..2].copy_from_slice(&0u16.to_be_bytes());
    let p = store
        .participant(ParticipantSid::from_bytes(first))
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(p.identity, "participant-0");
    let page = store
        .list_participants(
            room.sid,
            &ParticipantFilter::default(),
            &PageRequest {
                size: 50,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 50);
    store
        .apply(
            &[Change::InsertParticipant(Participant::connect(
                ParticipantSid::from_bytes([0xaa; 16]),
                room.sid,
                room.account_sid,
                "after".into(),
                at,
            ))],
            &[],
        )
        .await
        .unwrap();
}
