//! The conformance suite every `Store` implementation must pass. Each backend's tests call [`run`]
//! on a fresh, empty store.
//!
//! Panics on the first broken expectation (it is test code).
#![allow(clippy::missing_panics_doc, clippy::too_many_lines)]

use vroom_domain::event::{EventKind, ParticipantFacts, StatusEvent};
use vroom_domain::page::{Cursor, Direction, PageRequest};
use vroom_domain::participant::{EndReason, Participant, ParticipantStatus};
use vroom_domain::room::{CreateRoom, Room, RoomStatus};
use vroom_domain::sid::{AccountSid, ApiKeySid, ParticipantSid, RoomSid};
use vroom_domain::time::{Span, Timestamp};

use crate::{
    Account, Acquired, ApiKey, Change, Lease, ParticipantFilter, RoomFilter, Store, StoreError,
};

const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

pub(crate) fn sid_bytes(tag: u8, n: u32) -> [u8; 16] {
    let mut b = [tag; 16];
    b[12..].copy_from_slice(&n.to_be_bytes());
    b
}

pub(crate) fn account() -> AccountSid {
    AccountSid::from_bytes([0xac; 16])
}

pub(crate) fn room(n: u32, name: Option<&str>, created: Timestamp, callback: bool) -> Room {
    let req = CreateRoom {
        unique_name: name.map(str::to_owned),
        status_callback: callback.then(|| "https://example.com/cb?x=1".to_owned()),
        ..CreateRoom::default()
    };
    let (name, settings) = req.validate().expect("valid room request");
    let sid = RoomSid::from_bytes(sid_bytes(1, n));
    Room {
        sid,
        account_sid: account(),
        unique_name: name.unwrap_or_else(|| sid.to_string()),
        status: RoomStatus::InProgress,
        ad_hoc: false,
        settings,
        date_created: created,
        date_updated: created,
        end_time: None,
        duration: None,
    }
}

fn participant(room: &Room, n: u32, identity: &str, at: Timestamp) -> Participant {
    Participant::connect(
        ParticipantSid::from_bytes(sid_bytes(2, n)),
        room.sid,
        room.account_sid,
        identity.to_owned(),
        at,
    )
}

pub(crate) fn first(size: u32) -> PageRequest {
    PageRequest { size, cursor: None }
}

pub(crate) fn after(size: u32, sid: String) -> PageRequest {
    PageRequest {
        size,
        cursor: Some(Cursor {
            direction: Direction::After,
            sid,
        }),
    }
}

fn before(size: u32, sid: String) -> PageRequest {
    PageRequest {
        size,
        cursor: Some(Cursor {
            direction: Direction::Before,
            sid,
        }),
    }
}

/// Runs every check against `store`, which must be empty.
pub async fn run(store: &dyn Store) {
    rooms_and_unique_names(store).await;
    room_paging_and_filters(store).await;
    participants_history(store).await;
    outbox_order_and_retries(store).await;
    outbox_recording_and_composition_facts(store).await;
    accounts_and_keys(store).await;
    leases_and_fencing(store).await;
    outbox_claims(store).await;
    shared_secrets(store).await;
    room_caps(store).await;
    crate::suite_recordings::run(store).await;
    crate::suite_compositions::run(store).await;
}

async fn rooms_and_unique_names(store: &dyn Store) {
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

async fn room_paging_and_filters(store: &dyn Store) {
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

async fn participants_history(store: &dyn Store) {
    let r = room(40, Some("history"), T0 + Span::from_secs(5000), true);
    store
        .apply(&[Change::InsertRoom(r.clone())], &[])
        .await
        .unwrap();
    assert!(!store.room_ever_joined(r.sid).await.unwrap());
    let t = |s| r.date_created + Span::from_secs(s);
    let alice = participant(&r, 1, "alice", t(1));
    let bob = participant(&r, 2, "bob", t(2));
    store
        .apply(
            &[
                Change::InsertParticipant(alice.clone()),
                Change::InsertParticipant(bob.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    assert!(store.room_ever_joined(r.sid).await.unwrap());

    // A second connected "alice" is refused unless the first is disconnected in the same batch.
    let alice2 = participant(&r, 3, "alice", t(3));
    let err = store
        .apply(&[Change::InsertParticipant(alice2.clone())], &[])
        .await;
    assert!(matches!(err, Err(StoreError::IdentityTaken)), "{err:?}");
    let mut old = alice.clone();
    old.disconnect(t(3), EndReason::DuplicateIdentity);
    store
        .apply(
            &[
                Change::UpdateParticipant(old.clone()),
                Change::InsertParticipant(alice2.clone()),
            ],
            &[],
        )
        .await
        .unwrap();

    assert_eq!(
        store.participant(alice.sid).await.unwrap(),
        Some(old.clone()),
        "history is kept exactly"
    );
    assert_eq!(
        store
            .connected_participant(r.sid, "alice")
            .await
            .unwrap()
            .map(|p| p.sid),
        Some(alice2.sid)
    );
    let connected = ParticipantFilter {
        status: Some(ParticipantStatus::Connected),
        ..ParticipantFilter::default()
    };
    let page = store
        .list_participants(r.sid, &connected, &first(50))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|p| p.sid).collect::<Vec<_>>(),
        vec![alice2.sid, bob.sid]
    );
    let alices = ParticipantFilter {
        identity: Some("alice".into()),
        ..ParticipantFilter::default()
    };
    assert_eq!(
        store
            .list_participants(r.sid, &alices, &first(50))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let p1 = store
        .list_participants(r.sid, &ParticipantFilter::default(), &first(2))
        .await
        .unwrap();
    assert!(p1.has_next);
    let last = p1.items.last().unwrap().sid.to_string();
    // Another room's participant is an unknown cursor.
    let elsewhere = store
        .list_participants(
            RoomSid::from_bytes(sid_bytes(1, 10)),
            &ParticipantFilter::default(),
            &after(2, last.clone()),
        )
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::UnknownCursor)),
        "{elsewhere:?}"
    );
    let p2 = store
        .list_participants(r.sid, &ParticipantFilter::default(), &after(2, last))
        .await
        .unwrap();
    assert_eq!(
        p2.items.iter().map(|p| p.sid).collect::<Vec<_>>(),
        vec![alice.sid]
    );

    let all_connected: Vec<_> = store
        .connected_participants()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.sid)
        .collect();
    assert!(
        all_connected.contains(&bob.sid)
            && all_connected.contains(&alice2.sid)
            && !all_connected.contains(&alice.sid)
    );
}

fn event(r: &Room, kind: EventKind, seq: u64, at: Timestamp) -> StatusEvent {
    let mut e = StatusEvent::for_room(r, kind, at, seq).expect("room has a callback");
    if kind == EventKind::ParticipantConnected {
        e.participant = Some(ParticipantFacts {
            sid: ParticipantSid::from_bytes(sid_bytes(5, 1)),
            identity: "zoë".into(),
            status: ParticipantStatus::Connected,
            duration: None,
        });
    }
    e
}

async fn outbox_order_and_retries(store: &dyn Store) {
    let a = room(50, Some("hooks-a"), T0 + Span::from_secs(9000), true);
    let b = room(51, Some("hooks-b"), T0 + Span::from_secs(9000), true);
    let at = a.date_created;
    let a0 = event(&a, EventKind::RoomCreated, 0, at);
    let a1 = event(
        &a,
        EventKind::ParticipantConnected,
        1,
        at + Span::from_secs(1),
    );
    let b0 = event(&b, EventKind::RoomCreated, 0, at);
    let before = store.webhook_backlog().await.unwrap();
    store
        .apply(&[Change::InsertRoom(a.clone())], std::slice::from_ref(&a0))
        .await
        .unwrap();
    store
        .apply(&[Change::InsertRoom(b.clone())], std::slice::from_ref(&b0))
        .await
        .unwrap();
    store.apply(&[], std::slice::from_ref(&a1)).await.unwrap();
    assert_eq!(store.next_event_sequence(a.sid).await.unwrap(), 2);
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(at));
    let backlog = store.webhook_backlog().await.unwrap();
    assert_eq!(backlog.pending, before.pending + 3);
    assert!(backlog.oldest.is_some_and(|t| t <= at), "{backlog:?}");

    let later = at + Span::from_secs(60);
    let due = store
        .claim_webhooks("node", later, later + Span::from_secs(30), 100)
        .await
        .unwrap();
    let events: Vec<_> = due.iter().map(|d| d.event.clone()).collect();
    assert_eq!(
        events,
        vec![a0.clone(), b0.clone()],
        "one event per room, the oldest, read back exactly"
    );

    // a0 fails and is retried later: a1 must wait behind it.
    store
        .webhook_failed(
            due[0].id,
            "connection refused",
            Some(later + Span::from_secs(10)),
            later,
        )
        .await
        .unwrap();
    store.webhook_delivered(due[1].id, later).await.unwrap();
    assert!(
        store
            .claim_webhooks("node", later, later + Span::from_secs(30), 100)
            .await
            .unwrap()
            .is_empty(),
        "a room's events stay in order"
    );
    let retry = store
        .claim_webhooks(
            "node",
            later + Span::from_secs(10),
            later + Span::from_secs(40),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        (retry.len(), retry[0].attempts, &retry[0].event),
        (1, 1, &a0)
    );
    store
        .webhook_failed(retry[0].id, "gave up", None, later)
        .await
        .unwrap();
    let next = store
        .claim_webhooks(
            "node",
            later + Span::from_secs(10),
            later + Span::from_secs(40),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|d| d.event.clone()).collect::<Vec<_>>(),
        vec![a1]
    );
    assert_eq!(
        store.webhook_backlog().await.unwrap().pending,
        before.pending + 1,
        "delivered and given-up events are no longer pending"
    );
    store.webhook_delivered(next[0].id, later).await.unwrap();
    assert_eq!(store.next_webhook_due().await.unwrap(), None);
    assert_eq!(store.webhook_backlog().await.unwrap(), before);
}

/// Recording and composition events keep their facts (the outbox's `extra`) exactly.
async fn outbox_recording_and_composition_facts(store: &dyn Store) {
    use vroom_domain::event::{CompositionFacts, RecordingFacts};
    use vroom_domain::recording::RecordingCodec;
    use vroom_domain::sid::{CompositionHookSid, CompositionSid, RecordingSid, TrackSid};
    use vroom_domain::track::TrackKind;
    let r = room(52, Some("hooks-c"), T0 + Span::from_secs(9100), true);
    let at = r.date_created;
    let mut started = event(&r, EventKind::RecordingStarted, 0, at);
    started.recording = Some(RecordingFacts {
        sid: RecordingSid::from_bytes(sid_bytes(52, 1)),
        participant_sid: ParticipantSid::from_bytes(sid_bytes(52, 2)),
        participant_identity: "zoë".into(),
        track_sid: TrackSid::from_bytes(sid_bytes(52, 3)),
        track_name: "camera".into(),
        kind: TrackKind::Video,
        codec: RecordingCodec::Vp8,
        offset: 1_800_000_000_123,
        duration: Some(12),
        size: 4096,
        failure: Some("no media".into()),
    });
    let mut progress = event(&r, EventKind::CompositionProgress, 1, at);
    progress.composition = Some(CompositionFacts {
        sid: CompositionSid::from_bytes(sid_bytes(52, 4)),
        hook: Some(CompositionHookSid::from_bytes(sid_bytes(52, 5))),
        percentage_done: 40,
        seconds_remaining: Some(3),
        duration: 0,
        size: 0,
        error: None,
    });
    store
        .apply(
            &[Change::InsertRoom(r.clone())],
            &[started.clone(), progress.clone()],
        )
        .await
        .unwrap();
    let later = at + Span::from_secs(60);
    let claim = |now: Timestamp| store.claim_webhooks("facts", now, now + Span::from_secs(30), 100);
    let first: Vec<_> = claim(later).await.unwrap();
    let mine = first.iter().find(|d| d.event.room_sid == r.sid).unwrap();
    assert_eq!(mine.event, started, "recording facts read back exactly");
    store.webhook_delivered(mine.id, later).await.unwrap();
    for other in first.iter().filter(|d| d.event.room_sid != r.sid) {
        store.webhook_delivered(other.id, later).await.unwrap();
    }
    let second = claim(later).await.unwrap();
    let mine = second.iter().find(|d| d.event.room_sid == r.sid).unwrap();
    assert_eq!(mine.event, progress, "composition facts read back exactly");
    for d in &second {
        store.webhook_delivered(d.id, later).await.unwrap();
    }
}

async fn accounts_and_keys(store: &dyn Store) {
    assert!(store.accounts().await.unwrap().is_empty());
    let acct = |n: u8, at: Timestamp, main: bool| Account {
        sid: AccountSid::from_bytes([n; 16]),
        auth_token: format!("token-{n}"),
        friendly_name: format!("account {n}"),
        date_created: at,
        main,
    };
    let mut a = acct(0xa1, T0, true);
    let b = acct(0xb1, T0 + Span::from_secs(1), false);
    store.save_account(&b).await.unwrap();
    store.save_account(&a).await.unwrap();
    assert_eq!(store.accounts().await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(store.account(b.sid).await.unwrap(), Some(b.clone()));
    assert_eq!(
        store
            .account(AccountSid::from_bytes([0xc1; 16]))
            .await
            .unwrap(),
        None
    );
    // A new token and name replace the old ones; the creation time stays.
    a.auth_token = "rotated".into();
    a.friendly_name = "renamed".into();
    store
        .save_account(&Account {
            date_created: T0 + Span::from_secs(99),
            ..a.clone()
        })
        .await
        .unwrap();
    assert_eq!(store.account(a.sid).await.unwrap(), Some(a.clone()));
    // At most one main account: making B main unmarks A.
    let b_main = Account {
        main: true,
        ..b.clone()
    };
    store.save_account(&b_main).await.unwrap();
    let all = store.accounts().await.unwrap();
    assert_eq!(
        all.iter().map(|x| (x.sid, x.main)).collect::<Vec<_>>(),
        vec![(a.sid, false), (b.sid, true)]
    );

    let key = |n: u8, account: AccountSid, at: Timestamp| ApiKey {
        sid: ApiKeySid::from_bytes([n; 16]),
        account_sid: account,
        secret: format!("secret-{n}"),
        friendly_name: format!("key {n}"),
        date_created: at,
        date_revoked: None,
    };
    let k2 = key(0x52, a.sid, T0 + Span::from_secs(2));
    let k1 = key(0x51, a.sid, T0 + Span::from_secs(1));
    let kb = key(0x5b, b.sid, T0);
    for k in [&k2, &k1, &kb] {
        store.save_api_key(k).await.unwrap();
    }
    assert_eq!(
        store.api_keys(a.sid).await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert_eq!(store.api_keys(b.sid).await.unwrap(), vec![kb.clone()]);
    assert_eq!(store.api_key(kb.sid).await.unwrap(), Some(kb.clone()));
    assert_eq!(
        store
            .api_key(ApiKeySid::from_bytes([0x50; 16]))
            .await
            .unwrap(),
        None
    );
    // Revoking keeps the key (listed, fetched), marked.
    let revoked = ApiKey {
        date_revoked: Some(T0 + Span::from_secs(5)),
        ..k1.clone()
    };
    store.save_api_key(&revoked).await.unwrap();
    let fetched = store.api_key(k1.sid).await.unwrap().unwrap();
    assert_eq!(fetched, revoked);
    assert!(!fetched.active());
    assert_eq!(
        store.api_keys(a.sid).await.unwrap(),
        vec![revoked, k2.clone()]
    );
    // A key of an account that is not stored is refused, and nothing is written.
    let orphan = key(0x5f, AccountSid::from_bytes([0xf0; 16]), T0);
    assert!(matches!(
        store.save_api_key(&orphan).await,
        Err(StoreError::UnknownAccount)
    ));
    assert_eq!(store.api_key(orphan.sid).await.unwrap(), None);
}

async fn leases_and_fencing(store: &dyn Store) {
    let r = room(60, Some("leased"), T0 + Span::from_secs(12_000), false);
    store
        .apply(&[Change::InsertRoom(r.clone())], &[])
        .await
        .unwrap();
    let t = |s| T0 + Span::from_secs(s);
    let sid = r.sid;
    let acquire = |node: &'static str, now: i64, until: i64| async move {
        let address = format!("http://{node}");
        store
            .acquire_lease(sid, node, &address, t(now), t(until))
            .await
    };
    let Acquired::Ours(a) = acquire("a", 0, 10).await.unwrap() else {
        panic!("a room nobody holds is ours")
    };
    assert_eq!((a.room, a.node.as_str()), (r.sid, "a"));
    match acquire("b", 5, 15).await.unwrap() {
        Acquired::Held(h) => assert_eq!(
            (h.node.as_str(), h.address.as_str(), h.expires_at),
            ("a", "http://a", t(10)),
            "another node is told who holds it, where, and until when"
        ),
        other => panic!("a lease in force is refused to others: {other:?}"),
    }
    assert!(store.renew_lease(&a, t(20)).await.unwrap());
    assert_eq!(
        acquire("a", 6, 20).await.unwrap(),
        Acquired::Ours(a.clone()),
        "the holder acquiring again keeps its token"
    );
    assert!(
        matches!(acquire("b", 15, 25).await.unwrap(), Acquired::Held(_)),
        "a renewed lease holds past its first end"
    );

    // The holder's fenced writes go through.
    let mut p = participant(&r, 60, "fenced", t(1));
    store
        .apply(
            &[
                Change::Fence(a.clone()),
                Change::InsertParticipant(p.clone()),
            ],
            &[],
        )
        .await
        .unwrap();

    // Expired: another node takes the room over with a larger token, and the old holder can
    // neither write nor renew.
    let Acquired::Ours(b) = acquire("b", 20, 30).await.unwrap() else {
        panic!("an expired lease can be taken over")
    };
    assert!(b.token > a.token, "{b:?} after {a:?}");
    p.disconnect(t(21), EndReason::Kicked);
    let stale = store
        .apply(
            &[
                Change::Fence(a.clone()),
                Change::UpdateParticipant(p.clone()),
            ],
            &[],
        )
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)), "{stale:?}");
    assert_eq!(
        store.participant(p.sid).await.unwrap().map(|p| p.status),
        Some(ParticipantStatus::Connected),
        "nothing of a fenced-out batch is written"
    );
    assert!(!store.renew_lease(&a, t(40)).await.unwrap());
    store
        .apply(
            &[
                Change::Fence(b.clone()),
                Change::UpdateParticipant(p.clone()),
            ],
            &[],
        )
        .await
        .unwrap();

    // Released: any node may acquire it at once, with a larger token; the releaser is fenced out.
    store.release_lease(&b).await.unwrap();
    assert!(matches!(
        store.apply(&[Change::Fence(b.clone())], &[]).await,
        Err(StoreError::LeaseLost)
    ));
    assert!(!store.renew_lease(&b, t(40)).await.unwrap());
    let Acquired::Ours(c) = acquire("a", 22, 32).await.unwrap() else {
        panic!("a released lease is free")
    };
    assert!(c.token > b.token);
    store.release_lease(&c).await.unwrap();

    // A new room's lease written with its insert: held at once, by that node, until the given
    // end; the batch's fenced writes go through, and a second new lease of the room fails whole.
    let fresh = room(61, Some("born-leased"), T0 + Span::from_secs(12_001), false);
    let lease = Lease {
        room: fresh.sid,
        node: "a".into(),
        token: 1,
    };
    store
        .apply(
            &[
                Change::NewLease {
                    lease: lease.clone(),
                    address: "http://a".into(),
                    until: t(10),
                },
                Change::InsertRoom(fresh.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    match store
        .acquire_lease(fresh.sid, "b", "http://b", t(5), t(15))
        .await
        .unwrap()
    {
        Acquired::Held(h) => assert_eq!(
            (h.node.as_str(), h.address.as_str(), h.expires_at),
            ("a", "http://a", t(10))
        ),
        other => panic!("a new room's lease is its node's: {other:?}"),
    }
    store
        .apply(&[Change::Fence(lease.clone())], &[])
        .await
        .unwrap();
    assert!(store.renew_lease(&lease, t(20)).await.unwrap());
    let again = room(62, Some("born-twice"), T0 + Span::from_secs(12_002), false);
    let twice = store
        .apply(
            &[
                Change::NewLease {
                    lease: lease.clone(),
                    address: "http://b".into(),
                    until: t(30),
                },
                Change::InsertRoom(again.clone()),
            ],
            &[],
        )
        .await;
    assert!(twice.is_err(), "a stored lease is never overwritten as new");
    assert_eq!(
        store.room(again.sid).await.unwrap(),
        None,
        "nothing of it is written"
    );
    store.release_lease(&lease).await.unwrap();
}

async fn outbox_claims(store: &dyn Store) {
    let a = room(70, Some("claims-a"), T0 + Span::from_secs(15_000), true);
    let b = room(71, Some("claims-b"), T0 + Span::from_secs(15_000), true);
    let at = a.date_created;
    let a0 = event(&a, EventKind::RoomCreated, 0, at);
    let a1 = event(&a, EventKind::RoomEnded, 1, at + Span::from_secs(1));
    let b0 = event(&b, EventKind::RoomCreated, 0, at);
    let before = store.webhook_backlog().await.unwrap();
    store
        .apply(
            &[Change::InsertRoom(a.clone()), Change::InsertRoom(b.clone())],
            &[a0.clone(), b0.clone(), a1.clone()],
        )
        .await
        .unwrap();
    let now = at + Span::from_secs(5);
    let until = now + Span::from_secs(30);
    let events = |w: Vec<crate::PendingWebhook>| w.into_iter().map(|w| w.event).collect::<Vec<_>>();

    let one = store.claim_webhooks("n1", now, until, 100).await.unwrap();
    let ids: Vec<i64> = one.iter().map(|w| w.id).collect();
    assert_eq!(events(one), vec![a0.clone(), b0.clone()]);
    assert!(
        store
            .claim_webhooks("n2", now, until, 100)
            .await
            .unwrap()
            .is_empty(),
        "what one node claimed, another does not get while the claim lasts"
    );
    assert_eq!(
        events(store.claim_webhooks("n1", now, until, 100).await.unwrap()),
        vec![a0.clone(), b0.clone()],
        "a node's own claims are its own"
    );
    store.webhook_delivered(ids[1], now).await.unwrap();
    assert!(
        store
            .claim_webhooks("n2", now, until, 100)
            .await
            .unwrap()
            .is_empty(),
        "a room's later events wait behind its claimed one"
    );

    // n1 died: its claim lapses and n2 sends the event, then the next one.
    let later = until + Span::from_millis(1);
    let two = store
        .claim_webhooks("n2", later, later + Span::from_secs(30), 100)
        .await
        .unwrap();
    assert_eq!(
        two.iter()
            .map(|w| (&w.event, w.attempts))
            .collect::<Vec<_>>(),
        vec![(&a0, 0)]
    );
    store.webhook_delivered(two[0].id, later).await.unwrap();
    let three = store
        .claim_webhooks("n2", later, later + Span::from_secs(30), 100)
        .await
        .unwrap();
    assert_eq!(events(three.clone()), vec![a1]);
    // A failed attempt ends the claim: the retry may go from any node.
    store
        .webhook_failed(three[0].id, "503", Some(later), later)
        .await
        .unwrap();
    let retry = store
        .claim_webhooks("n3", later, later + Span::from_secs(30), 100)
        .await
        .unwrap();
    assert_eq!(
        retry.iter().map(|w| w.attempts).collect::<Vec<_>>(),
        vec![1]
    );
    store.webhook_delivered(retry[0].id, later).await.unwrap();
    assert_eq!(store.webhook_backlog().await.unwrap(), before);
}

async fn shared_secrets(store: &dyn Store) {
    assert_eq!(
        store.shared_secret("resume", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.shared_secret("resume", "second").await.unwrap(),
        "first",
        "the first value stored is everyone's"
    );
    assert_eq!(store.shared_secret("other", "x").await.unwrap(), "x");
}

/// A capped batch counts the account's rooms in progress in the store: refused (and nothing of it
/// written) at the limit; completed rooms and other accounts' rooms do not count.
async fn room_caps(store: &dyn Store) {
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
