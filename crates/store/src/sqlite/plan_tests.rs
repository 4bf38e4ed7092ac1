//! The query plans of name lookups on SQLite, and `seq` as the rowid (`crate::names`).

use vroom_domain::time::Timestamp;

use super::SqliteStore;
use crate::Store;

/// Name lookups and lists by name search the name indexes whether or not the name could be a SID,
/// and a new row's `seq` is its rowid (migrations `20261204000001` and `…02`).
#[tokio::test]
async fn names_are_searched_by_index_and_seq_is_the_rowid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vroom.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    let room = crate::suite::room(1, None, Timestamp::from_secs(1_800_000_000), false);
    store
        .apply(&[crate::Change::InsertRoom(room.clone())], &[])
        .await
        .unwrap();
    let by_hand = rusqlite::Connection::open(&path).unwrap();
    let (rowid, seq): (i64, i64) = by_hand
        .query_row("SELECT rowid, seq FROM rooms", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(seq, rowid);
    let plan = |sql: &str| -> String {
        let mut stmt = by_hand
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let n = stmt.parameter_count();
        let args = vec!["x".to_owned(); n];
        stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("; ")
    };
    for name in ["standup", room.sid.to_string().as_str()] {
        let filter = crate::RoomFilter {
            unique_name: Some(name.to_owned()),
            ..crate::RoomFilter::default()
        };
        let list = crate::lists::rooms(room.account_sid, &filter, &crate::suite::first(50));
        for (sql, index) in [
            (list.sql.as_str(), "rooms_by_name"),
            (crate::names::LIVE_BY_NAME, "rooms_live_unique_name"),
            (crate::names::NAME_TAKEN, "rooms_live_unique_name"),
        ] {
            let used = plan(sql);
            assert!(
                used.contains(&format!(
                    "USING INDEX {index} (account_sid=? AND unique_name=?)"
                )),
                "{name}: {sql}: {used}"
            );
        }
    }
}
