use super::*;

/// A group room in progress, named by its SID, made at `at`: what a REST create stores.
fn room_in_progress(
    sid: RoomSid,
    account_sid: AccountSid,
    settings: &vroom_domain::room::RoomSettings,
    at: Timestamp,
) -> Room {
    Room {
        sid,
        account_sid,
        unique_name: sid.to_string(),
        status: vroom_domain::room::RoomStatus::InProgress,
        ad_hoc: false,
        settings: settings.clone(),
        date_created: at,
        date_updated: at,
        end_time: None,
        duration: None,
    }
}

#[test]
fn placeholders_are_numbered() {
    assert_eq!(
        numbered("a = ? AND (b, c) < (SELECT b, c FROM t WHERE d = ?) LIMIT ?"),
        "a = $1 AND (b, c) < (SELECT b, c FROM t WHERE d = $2) LIMIT $3"
    );
}

#[test]
fn passwords_stay_out_of_messages() {
    assert_eq!(
        redacted("postgres://vroom:hunter2@db:5432/vroom"),
        "postgres://vroom@db:5432/vroom"
    );
    assert_eq!(redacted("postgres://db/vroom"), "postgres://db/vroom");
}

/// Nodes racing for one room: exactly one gets it. Nodes claiming the same outbox at once:
/// every event is claimed by exactly one of them.
#[tokio::test]
async fn racing_nodes_get_a_room_and_an_event_once() {
    use std::collections::HashSet;
    use std::sync::Arc;

    use vroom_domain::event::EventKind;
    use vroom_domain::room::CreateRoom;
    use vroom_domain::time::Span;

    let Some(db) = scratch::ScratchDatabase::create("racing nodes").await else {
        return;
    };
    let store = Arc::new(PgStore::open_url(db.url()).await.unwrap());
    let t0 = Timestamp::from_secs(1_800_000_000);
    let room = RoomSid::from_bytes([7; 16]);
    let racers: Vec<_> = (0..8)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let node = format!("n{n}");
                store
                    .renew_node_lease(&node, t0 + Span::from_secs(10))
                    .await
                    .unwrap();
                store.acquire_lease(room, &node, "", t0).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        if matches!(r.await.unwrap(), Acquired::Ours(_)) {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "one node holds a room");

    // 40 rooms with one pending event each, claimed by 4 nodes at once.
    let (_, settings) = CreateRoom {
        status_callback: Some("https://example.com/cb".into()),
        ..CreateRoom::default()
    }
    .validate()
    .unwrap();
    for n in 0..40u8 {
        let sid = RoomSid::from_bytes([n; 16]);
        let r = room_in_progress(sid, AccountSid::from_bytes([0xac; 16]), &settings, t0);
        let e = StatusEvent::for_room(&r, EventKind::RoomCreated, t0, 0).unwrap();
        store.apply(&[Change::InsertRoom(r)], &[e]).await.unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                // Like a dispatcher: claim a few, deliver them, claim again.
                let mut got = Vec::new();
                for _ in 0..40 {
                    let claimed = store
                        .claim_webhooks(&format!("c{n}"), t0, t0 + Span::from_secs(30), 4)
                        .await
                        .unwrap();
                    for w in &claimed {
                        store.webhook_delivered(w.id, t0).await.unwrap();
                    }
                    got.extend(claimed.into_iter().map(|w| w.id));
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "an event claimed by two nodes: {all:?}"
    );
    assert_eq!(all.len(), 40, "every event claimed");
    store.pool.close().await;
    db.drop_now().await;
}

/// Two nodes (two pools) creating 24 rooms of one account at once under a cap of 5: five are
/// stored, every other create is refused, whichever node asked.
#[tokio::test]
async fn capped_creates_racing_on_two_nodes_never_overshoot() {
    use std::sync::Arc;

    use vroom_domain::room::CreateRoom;

    let Some(db) = scratch::ScratchDatabase::create("racing caps").await else {
        return;
    };
    let nodes = [
        Arc::new(PgStore::open_url(db.url()).await.unwrap()),
        Arc::new(PgStore::open_url(db.url()).await.unwrap()),
    ];
    let account = AccountSid::from_bytes([0xad; 16]);
    let t0 = Timestamp::from_secs(1_800_000_000);
    let (_, settings) = CreateRoom::default().validate().unwrap();
    let racers: Vec<_> = (0..24u8)
        .map(|n| {
            let store = Arc::clone(&nodes[usize::from(n % 2)]);
            let sid = RoomSid::from_bytes([n + 1; 16]);
            let room = room_in_progress(sid, account, &settings, t0);
            tokio::spawn(async move {
                store
                    .apply(
                        &[
                            Change::RoomCap { account, limit: 5 },
                            Change::InsertRoom(room),
                        ],
                        &[],
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::TooManyRooms { limit: 5 }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(created, 5);
    let stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM rooms WHERE account_sid = $1 AND status = 'in-progress'",
    )
    .bind(account.to_string())
    .fetch_one(&nodes[0].pool)
    .await
    .unwrap();
    assert_eq!(stored, 5);
    for n in nodes {
        n.pool.close().await;
    }
    db.drop_now().await;
}

#[tokio::test]
async fn suite_on_postgres() {
    let Some(db) = scratch::ScratchDatabase::create("store suite").await else {
        return;
    };
    let store = PgStore::open_url(db.url()).await.unwrap();
    crate::suite::run(&store).await;
    store.pool.close().await;
    db.drop_now().await;
}
