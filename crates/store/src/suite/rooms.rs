//! Rooms: unique names, paging and filters, and the per-account cap.
#![allow(clippy::too_many_lines)]

use vroom_domain::room::{Room, RoomStatus};
use vroom_domain::sid::{AccountSid, RoomSid};
use vroom_domain::time::Span;

use crate::{Change, RoomFilter, Store, StoreError};

use super::{T0, account, after, before, first, room};

pub(super) async fn rooms_and_unique_names(store: &dyn Store) {
    let r1 = room(1, Some("standup"), T0, false);
    store
        .apply(&[Change::InsertRoom(r1.clone())], &[])
        .await
        .unwrap();
    assert_eq!(
        store.room(r1.sid).await.unwrap().as_ref(),
        Some(&r1),
        "a room reads back exactly"
    );
    assert_eq!(
        store
            .live_room_by_name(account(), "standup")
            .await
            .unwrap()
            .map(|r| r.sid),
        Some(r1.sid)
    );

    // Same name while in progress: refused, and nothing of the batch is written.
    let r2 = room(2, Some("standup"), T0 + Span::from_secs(1), false);
    let other = room(3, Some("other"), T0, false);
    let err = store
        .apply(
            &[
                Change::InsertRoom(other.clone()),
                Change::InsertRoom(r2.clone()),
            ],
            &[],
        )
        .await;
    assert!(
        matches!(err, Err(StoreError::UniqueNameTaken)),
        "duplicate in-progress name: {err:?}"
    );
    assert!(
        store.room(other.sid).await.unwrap().is_none(),
        "a failed batch writes nothing"
    );

    // Completed: the name is free again, and only the new room is found by name.
    let mut done = r1.clone();
    done.complete(T0 + Span::from_secs(90));
    store
        .apply(&[Change::UpdateRoom(done.clone())], &[])
        .await
        .unwrap();
    store
        .apply(&[Change::InsertRoom(r2.clone())], &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .live_room_by_name(account(), "standup")
            .await
            .unwrap()
            .map(|r| r.sid),
        Some(r2.sid)
    );
    let back = store.room(r1.sid).await.unwrap().unwrap();
    assert_eq!(
        (back.status, back.duration, back.end_time),
        (RoomStatus::Completed, Some(90), done.end_time)
    );
    let live: Vec<_> = store
        .in_progress_rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.sid)
        .collect();
    assert_eq!(live, vec![r2.sid]);
    // Clean up for the next checks.
    let mut r2_done = r2;
    r2_done.complete(T0 + Span::from_secs(100));
    store
        .apply(&[Change::UpdateRoom(r2_done)], &[])
        .await
        .unwrap();
}

pub(super) async fn room_paging_and_filters(store: &dyn Store) {
    // 7 rooms in progress, one second apart, plus the two completed rooms from before.
    let base = T0 + Span::from_secs(1000);
    let made: Vec<Room> = (10..17)
        .map(|n| room(n, None, base + Span::from_secs(i64::from(n)), false))
        .collect();
    let changes: Vec<Change> = made.iter().cloned().map(Change::InsertRoom).collect();
    store.apply(&changes, &[]).await.unwrap();
    let live = RoomFilter {
        status: Some(RoomStatus::InProgress),
        ..RoomFilter::default()
    };

    let p1 = store.list_rooms(account(), &live, &first(3)).await.unwrap();
    let sids =
        |p: &vroom_domain::page::Page<Room>| p.items.iter().map(|r| r.sid).collect::<Vec<_>>();
    assert_eq!(
        sids(&p1),
        vec![made[6].sid, made[5].sid, made[4].sid],
        "newest first"
    );
    assert!(p1.has_next && !p1.has_previous);

    // A room created while paging does not disturb the following pages.
    let late = room(30, None, base + Span::from_secs(500), false);
    store
        .apply(&[Change::InsertRoom(late.clone())], &[])
        .await
        .unwrap();
    let p2 = store
        .list_rooms(account(), &live, &after(3, made[4].sid.to_string()))
        .await
        .unwrap();
    assert_eq!(sids(&p2), vec![made[3].sid, made[2].sid, made[1].sid]);
    assert!(p2.has_next && p2.has_previous);
    let p3 = store
        .list_rooms(account(), &live, &after(3, made[1].sid.to_string()))
        .await
        .unwrap();
    assert_eq!(sids(&p3), vec![made[0].sid]);
    assert!(!p3.has_next && p3.has_previous);
    let back = store
        .list_rooms(account(), &live, &before(3, made[3].sid.to_string()))
        .await
        .unwrap();
    assert_eq!(
        sids(&back),
        vec![made[6].sid, made[5].sid, made[4].sid],
        "previous page in list order"
    );
    assert!(
        back.has_next && back.has_previous,
        "the late room lies before it"
    );

    let unknown = store
        .list_rooms(
            account(),
            &live,
            &after(3, RoomSid::from_bytes([9; 16]).to_string()),
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::UnknownCursor)));
    // Another account's room is as unknown a cursor as a SID that names nothing.
    for cursor in [
        after(3, made[4].sid.to_string()),
        before(3, made[4].sid.to_string()),
    ] {
        let theirs = store
            .list_rooms(AccountSid::from_bytes([0xbc; 16]), &live, &cursor)
            .await;
        assert!(
            matches!(theirs, Err(StoreError::UnknownCursor)),
            "{theirs:?}"
        );
    }

    let completed = RoomFilter {
        status: Some(RoomStatus::Completed),
        ..RoomFilter::default()
    };
    let done = store
        .list_rooms(account(), &completed, &first(50))
        .await
        .unwrap();
    assert_eq!(done.items.len(), 2);
    let by_name = RoomFilter {
        unique_name: Some("standup".into()),
        ..RoomFilter::default()
    };
    assert_eq!(
        store
            .list_rooms(account(), &by_name, &first(50))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let window = RoomFilter {
        created_after: Some(base + Span::from_secs(12)),
        created_before: Some(base + Span::from_secs(15)),
        ..RoomFilter::default()
    };
    let w = store
        .list_rooms(account(), &window, &first(50))
        .await
        .unwrap();
    assert_eq!(
        sids(&w),
        vec![made[4].sid, made[3].sid, made[2].sid],
        "after inclusive, before exclusive"
    );
    let other_account = store
        .list_rooms(
            AccountSid::from_bytes([1; 16]),
            &RoomFilter::default(),
            &first(50),
        )
        .await;
    assert!(
        other_account.unwrap().items.is_empty(),
        "another account sees nothing"
    );

    // Rooms created in the same millisecond come newest-inserted first, whatever their SIDs.
    let same = T0 + Span::from_secs(3000);
    let tied: Vec<Room> = [300, 200, 250]
        .iter()
        .map(|n| room(*n, None, same, false))
        .collect();
    for r in &tied {
        store
            .apply(&[Change::InsertRoom(r.clone())], &[])
            .await
            .unwrap();
    }
    let window = RoomFilter {
        created_after: Some(same),
        created_before: Some(same + Span::from_millis(1)),
        ..RoomFilter::default()
    };
    let p = store
        .list_rooms(account(), &window, &first(2))
        .await
        .unwrap();
    assert_eq!(sids(&p), vec![tied[2].sid, tied[1].sid]);
    let rest = store
        .list_rooms(account(), &window, &after(2, tied[1].sid.to_string()))
        .await
        .unwrap();
    assert_eq!(sids(&rest), vec![tied[0].sid]);
}

/// A capped batch counts the account's rooms in progress in the store: refused (and nothing of it
/// written) at the limit; completed rooms and other accounts' rooms do not count.
pub(super) async fn room_caps(store: &dyn Store) {
    let other = AccountSid::from_bytes([0xbc; 16]);
    let capped = |r: &Room, limit: usize| {
        vec![
            Change::RoomCap {
                account: r.account_sid,
                limit,
            },
            Change::InsertRoom(r.clone()),
        ]
    };
    let live = store
        .list_rooms(
            other,
            &RoomFilter {
                status: Some(RoomStatus::InProgress),
                ..RoomFilter::default()
            },
            &first(50),
        )
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(live, 0, "the suite's other parts use another account");
    let mut rooms = Vec::new();
    for n in 0..3 {
        let mut r = room(950 + n, Some(&format!("capped-{n}")), T0, false);
        r.account_sid = other;
        rooms.push(r);
    }
    store.apply(&capped(&rooms[0], 2), &[]).await.unwrap();
    store.apply(&capped(&rooms[1], 2), &[]).await.unwrap();
    let refused = store.apply(&capped(&rooms[2], 2), &[]).await;
    assert!(
        matches!(refused, Err(StoreError::TooManyRooms { limit: 2 })),
        "{refused:?}"
    );
    assert_eq!(
        store.room(rooms[2].sid).await.unwrap(),
        None,
        "nothing of a refused batch is written"
    );
    // Rooms of another account do not count.
    let mut third = room(953, Some("capped-third"), T0, false);
    third.account_sid = AccountSid::from_bytes([0xbd; 16]);
    store.apply(&capped(&third, 1), &[]).await.unwrap();
    // A completed room no longer counts.
    let mut done = rooms[0].clone();
    done.status = RoomStatus::Completed;
    done.end_time = Some(T0 + Span::from_secs(5));
    done.duration = Some(5);
    store.apply(&[Change::UpdateRoom(done)], &[]).await.unwrap();
    store.apply(&capped(&rooms[2], 2), &[]).await.unwrap();
}

/// Rooms named by their SID are in no name index (`crate::names`): found by name, listed by name,
/// and kept unique against explicit names all the same.
pub(super) async fn sid_named_rooms(store: &dyn Store) {
    let base = T0 + Span::from_secs(7000);
    let sid_named = room(80, None, base, false);
    let name = sid_named.sid.to_string();
    assert_eq!(
        sid_named.unique_name, name,
        "a room without a name is named by its SID"
    );
    store
        .apply(&[Change::InsertRoom(sid_named.clone())], &[])
        .await
        .unwrap();
    let found = store.live_room_by_name(account(), &name).await.unwrap();
    assert_eq!(
        found.map(|r| r.sid),
        Some(sid_named.sid),
        "found by its SID as name"
    );
    let other_account = AccountSid::from_bytes([9; 16]);
    assert!(
        store
            .live_room_by_name(other_account, &name)
            .await
            .unwrap()
            .is_none(),
        "another account's name lookup does not see it"
    );
    let by_name = RoomFilter {
        unique_name: Some(name.clone()),
        ..RoomFilter::default()
    };
    let listed = store
        .list_rooms(account(), &by_name, &first(50))
        .await
        .unwrap();
    assert_eq!(sids(&listed), vec![sid_named.sid]);

    // An explicit name equal to a live SID-named room's SID is taken.
    let mut explicit = room(81, None, base + Span::from_secs(1), false);
    explicit.unique_name.clone_from(&name);
    let err = store
        .apply(&[Change::InsertRoom(explicit.clone())], &[])
        .await;
    assert!(
        matches!(err, Err(StoreError::UniqueNameTaken)),
        "an explicit name clashing with a SID-named room: {err:?}"
    );
    // Once that room has ended the name is free; lookups find the live one, lists both, paged.
    let mut ended = sid_named.clone();
    ended.complete(base + Span::from_secs(2));
    store
        .apply(&[Change::UpdateRoom(ended)], &[])
        .await
        .unwrap();
    store
        .apply(&[Change::InsertRoom(explicit.clone())], &[])
        .await
        .unwrap();
    let found = store.live_room_by_name(account(), &name).await.unwrap();
    assert_eq!(found.map(|r| r.sid), Some(explicit.sid));
    let both = store
        .list_rooms(account(), &by_name, &first(50))
        .await
        .unwrap();
    assert_eq!(
        sids(&both),
        vec![explicit.sid, sid_named.sid],
        "newest first"
    );
    let p1 = store
        .list_rooms(account(), &by_name, &first(1))
        .await
        .unwrap();
    assert_eq!(sids(&p1), vec![explicit.sid]);
    assert!(p1.has_next);
    let p2 = store
        .list_rooms(account(), &by_name, &after(1, explicit.sid.to_string()))
        .await
        .unwrap();
    assert_eq!(sids(&p2), vec![sid_named.sid]);
    assert!(!p2.has_next && p2.has_previous);
    let back = store
        .list_rooms(account(), &by_name, &before(1, sid_named.sid.to_string()))
        .await
        .unwrap();
    assert_eq!(sids(&back), vec![explicit.sid]);
    let completed = RoomFilter {
        status: Some(RoomStatus::Completed),
        ..by_name.clone()
    };
    let listed = store
        .list_rooms(account(), &completed, &first(50))
        .await
        .unwrap();
    assert_eq!(sids(&listed), vec![sid_named.sid]);

    // The reverse: a SID-named room whose SID a live room already bears as its explicit name.
    let fresh = room(82, None, base + Span::from_secs(3), false);
    let mut squatter = room(83, None, base + Span::from_secs(3), false);
    squatter.unique_name = fresh.sid.to_string();
    store
        .apply(&[Change::InsertRoom(squatter.clone())], &[])
        .await
        .unwrap();
    let err = store.apply(&[Change::InsertRoom(fresh.clone())], &[]).await;
    assert!(
        matches!(err, Err(StoreError::UniqueNameTaken)),
        "a SID-named room whose SID is taken as a name: {err:?}"
    );
    assert!(store.room(fresh.sid).await.unwrap().is_none());

    // Clean up for the next checks: no room of these stays in progress.
    for mut r in [explicit, squatter] {
        r.complete(base + Span::from_secs(4));
        store.apply(&[Change::UpdateRoom(r)], &[]).await.unwrap();
    }
}

fn sids(page: &vroom_domain::page::Page<Room>) -> Vec<RoomSid> {
    page.items.iter().map(|r| r.sid).collect()
}
