//! The hub and its room tasks over a real SQLite store, with a manual clock.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};
use vroom_domain::Error;
use vroom_domain::live::{LiveConfig, Notice, Presence};
use vroom_domain::participant::{EndReason, ParticipantStatus};
use vroom_domain::room::{CreateRoom, RoomStatus};
use vroom_domain::sid::{AccountSid, RandomIds};
use vroom_domain::time::{Span, Timestamp};
use vroom_rooms::clock::ManualClock;
use vroom_rooms::{Hub, HubDeps, HubError, SessionLink};
use vroom_store::Store;
use vroom_store::sqlite::SqliteStore;

const ACCOUNT: AccountSid = AccountSid::from_bytes([0xac; 16]);

async fn hub_on(store: Arc<dyn Store>, clock: &ManualClock) -> Hub {
    Hub::start(HubDeps {
        store,
        clock: Arc::new(clock.clone()),
        ids: Arc::new(RandomIds),
        config: LiveConfig::default(),
        outbox: Arc::new(Notify::new()),
        ad_hoc_callback: None,
        media: Arc::new(vroom_rooms::NoMedia),
        max_rooms_per_account: None,
        cluster: vroom_rooms::ClusterConfig::single(),
    })
    .await
    .unwrap()
}

/// A hub started on an in-memory store and a manual clock, with both.
async fn fresh_hub() -> (Arc<dyn Store>, ManualClock, Hub) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_url("sqlite::memory:").await.unwrap());
    let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
    let hub = hub_on(Arc::clone(&store), &clock).await;
    (store, clock, hub)
}

fn session(hub: &Hub) -> (SessionLink, mpsc::UnboundedReceiver<Notice>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        SessionLink {
            id: hub.new_session_id(),
            tx,
            memory: Arc::new(()),
        },
        rx,
    )
}

fn req(identity: &str, session: SessionLink) -> vroom_rooms::JoinRequest {
    vroom_rooms::JoinRequest {
        identity: identity.to_owned(),
        tracks: Vec::new(),
        rules: None,
        session,
    }
}

fn domain(e: HubError) -> Error {
    match e {
        HubError::Domain(d) => d,
        other => panic!("expected a domain error, got {other:?}"),
    }
}

#[tokio::test]
async fn joins_create_rooms_and_takeovers_and_kicks_reach_sessions() {
    let (store, _clock, hub) = fresh_hub().await;

    let (s1, mut rx1) = session(&hub);
    let a1 = hub
        .join(ACCOUNT, Some("standup"), req("alice", s1))
        .await
        .unwrap();
    assert!(a1.room.ad_hoc && a1.room.unique_name == "standup" && a1.roster.is_empty());
    let (s2, mut rx2) = session(&hub);
    let bob = hub
        .join(ACCOUNT, Some("standup"), req("bob", s2))
        .await
        .unwrap();
    assert_eq!(
        bob.room.sid, a1.room.sid,
        "the second join finds the same room"
    );
    assert_eq!(bob.roster.len(), 1);
    let Some(Notice::Participants(told)) = rx1.recv().await else {
        panic!("alice should hear of bob")
    };
    let [v] = told.views.as_slice() else {
        panic!("one change: {told:?}")
    };
    assert_eq!(
        (v.identity.as_str(), v.presence),
        ("bob", Presence::Connected)
    );

    // A second alice: the first is told, bob sees the swap.
    let (s3, _rx3) = session(&hub);
    let a2 = hub
        .join(ACCOUNT, Some("standup"), req("alice", s3))
        .await
        .unwrap();
    assert_eq!(
        rx1.recv().await,
        Some(Notice::Removed(EndReason::DuplicateIdentity))
    );
    let old = store
        .participant(a1.participant.sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, ParticipantStatus::Disconnected);
    // One step, so one list: old alice leaves, then new alice joins.
    let Some(Notice::Participants(told)) = rx2.recv().await else {
        panic!("bob should see the swap")
    };
    let [gone, new] = told.views.as_slice() else {
        panic!("two changes: {told:?}")
    };
    assert_eq!(
        (gone.sid, gone.presence),
        (a1.participant.sid, Presence::Disconnected)
    );
    assert_eq!(new.sid, a2.participant.sid);

    // Kick bob through the hub (as REST does).
    let kicked = hub.kick(&bob.room, bob.participant.sid).await.unwrap();
    assert_eq!(
        (kicked.status, kicked.end_reason),
        (ParticipantStatus::Disconnected, Some(EndReason::Kicked))
    );
    assert_eq!(rx2.recv().await, Some(Notice::Removed(EndReason::Kicked)));
    assert_eq!(
        domain(hub.kick(&bob.room, bob.participant.sid).await.unwrap_err()),
        Error::ParticipantNotFound
    );

    // Complete: the name is free again and a new join makes a new room.
    let done = hub.complete_room(&bob.room).await.unwrap();
    assert_eq!(done.status, RoomStatus::Completed);
    assert_eq!(
        domain(hub.complete_room(&done).await.unwrap_err()),
        Error::RoomStatusInvalid
    );
    let (s4, _rx4) = session(&hub);
    let again = hub
        .join(ACCOUNT, Some("standup"), req("carol", s4))
        .await
        .unwrap();
    assert_ne!(again.room.sid, done.sid);
    hub.shutdown().await;
}

#[tokio::test]
async fn two_hundred_concurrent_joins_fill_exactly_fifty_places() {
    let (_store, _clock, hub) = fresh_hub().await;
    let room = hub
        .create_room(
            ACCOUNT,
            CreateRoom {
                unique_name: Some("big".into()),
                max_participants: Some(50),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut joins = Vec::new();
    for i in 0..200 {
        let hub = hub.clone();
        let (link, rx) = session(&hub);
        joins.push(tokio::spawn(async move {
            (
                hub.join(ACCOUNT, Some("big"), req(&format!("p{i}"), link))
                    .await,
                rx,
            )
        }));
    }
    let mut ok = 0;
    let mut full = 0;
    let mut keep = Vec::new();
    for j in joins {
        let (result, rx) = j.await.unwrap();
        match result {
            Ok(_) => ok += 1,
            Err(HubError::Domain(Error::RoomFull)) => full += 1,
            Err(e) => panic!("unexpected join error {e:?}"),
        }
        keep.push(rx);
    }
    assert_eq!((ok, full), (50, 150));
    let snapshot = hub.snapshot(&room).await.unwrap().unwrap();
    assert_eq!(snapshot.participants.len(), 50);
    hub.shutdown().await;
}

#[tokio::test]
async fn timers_run_on_the_injected_clock_and_a_restart_closes_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_file(&path).await.unwrap());
    let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
    let hub = hub_on(Arc::clone(&store), &clock).await;
    let unused = hub
        .create_room(
            ACCOUNT,
            CreateRoom {
                unused_room_timeout: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (link, _rx) = session(&hub);
    // A room made through REST outlives its participants (an ad-hoc one ends with its last).
    hub.create_room(
        ACCOUNT,
        CreateRoom {
            unique_name: Some("kept".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let joined = hub
        .join(ACCOUNT, Some("kept"), req("dave", link))
        .await
        .unwrap();

    clock.advance(Span::from_secs(119));
    tokio::task::yield_now().await;
    assert_eq!(
        store.room(unused.sid).await.unwrap().unwrap().status,
        RoomStatus::InProgress
    );
    clock.advance(Span::from_secs(1));
    let mut status = RoomStatus::InProgress;
    for _ in 0..100 {
        status = store.room(unused.sid).await.unwrap().unwrap().status;
        if status == RoomStatus::Completed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        status,
        RoomStatus::Completed,
        "the unused room ends two minutes after creation"
    );

    // Simulate a crash: drop the hub without shutting it down, then start another on the same file.
    drop(hub);
    clock.advance(Span::from_secs(30));
    let store2: Arc<dyn Store> = Arc::new(SqliteStore::open_file(&path).await.unwrap());
    let hub2 = hub_on(Arc::clone(&store2), &clock).await;
    let p = store2
        .participant(joined.participant.sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.status, ParticipantStatus::Disconnected);
    assert_eq!(p.end_reason, Some(EndReason::ServerStopped));
    assert_eq!(p.end_time, Some(clock_now(&clock)));
    let kept = store2
        .live_room_by_name(ACCOUNT, "kept")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.status,
        RoomStatus::InProgress,
        "rooms survive a restart"
    );
    assert_eq!(
        (hub2.live_rooms(), hub2.room_tasks()),
        (1, 0),
        "and wait without a task until something happens to them"
    );
    hub2.shutdown().await;
}

/// Another node takes a room over (it saw this node's lease lapse, on its clock): this node's
/// next renewal learns it, and the room's task ends at once, telling its sessions, without
/// waiting for a write of the room to be refused; the node's other rooms carry on.
#[tokio::test]
async fn a_room_taken_by_another_node_ends_its_task_at_the_next_renewal() {
    let (store, clock, hub) = fresh_hub().await;
    let (s1, mut taken_rx) = session(&hub);
    let taken = hub
        .join(ACCOUNT, Some("taken"), req("erin", s1))
        .await
        .unwrap();
    let (s2, mut kept_rx) = session(&hub);
    hub.join(ACCOUNT, Some("kept"), req("frank", s2))
        .await
        .unwrap();

    // Node b, its clock a minute ahead, finds this node's lease lapsed and takes one room.
    let later = clock_now(&clock) + Span::from_secs(60);
    store
        .renew_node_lease("b", later + Span::from_secs(10))
        .await
        .unwrap();
    let acquired = store
        .acquire_lease(taken.room.sid, "b", "http://b", later)
        .await
        .unwrap();
    assert!(
        matches!(acquired, vroom_store::Acquired::Ours(_)),
        "{acquired:?}"
    );

    // The next renewal (a third of the 10 s lease later) tells the room's task.
    clock.advance(Span::from_secs(4));
    let told = tokio::time::timeout(std::time::Duration::from_secs(5), taken_rx.recv())
        .await
        .expect("the session is told within the renewal");
    assert_eq!(told, Some(Notice::Removed(EndReason::ServerStopped)));
    assert!(
        kept_rx.try_recv().is_err(),
        "the room this node still holds carries on"
    );
    hub.shutdown().await;
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    use vroom_rooms::clock::Clock;
    clock.now()
}

/// Waits (on the real clock, a little at a time) until `done` holds, up to 5 s.
async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

/// A room created by REST has no task until something happens to it; it counts among the rooms
/// in progress all the same, and its unused-room timeout still ends it, with its callbacks.
#[tokio::test]
async fn a_created_room_waits_without_a_task_and_still_times_out_with_its_callback() {
    let (store, clock, hub) = fresh_hub().await;
    let room = hub
        .create_room(
            ACCOUNT,
            CreateRoom {
                unused_room_timeout: Some(3),
                status_callback: Some("http://127.0.0.1:9/cb".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hub.live_rooms(), 1, "the room is in progress here");
    assert_eq!(hub.room_tasks(), 0, "and nothing happened to it yet");

    clock.advance(Span::from_secs(179));
    tokio::task::yield_now().await;
    assert_eq!(
        store.room(room.sid).await.unwrap().unwrap().status,
        RoomStatus::InProgress
    );
    clock.advance(Span::from_secs(1));
    assert!(
        eventually(
            async || store.room(room.sid).await.unwrap().unwrap().status == RoomStatus::Completed
        )
        .await,
        "the unused room ends three minutes after creation"
    );
    assert!(
        eventually(async || hub.live_rooms() == 0 && hub.room_tasks() == 0).await,
        "{} rooms, {} tasks",
        hub.live_rooms(),
        hub.room_tasks()
    );
    let now = clock_now(&clock);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let claimed = store
            .claim_webhooks("node", now, now + Span::from_secs(30), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "{claimed:?}");
        kinds.push(claimed[0].event.kind);
        store.webhook_delivered(claimed[0].id, now).await.unwrap();
    }
    assert_eq!(
        kinds,
        [
            vroom_domain::event::EventKind::RoomCreated,
            vroom_domain::event::EventKind::RoomEnded
        ]
    );
    hub.shutdown().await;
}

/// A room created, then joined: the join starts its task and is served as in any room; the
/// REST read of its live state works before and after.
#[tokio::test]
async fn a_created_room_then_joined_starts_its_task() {
    let (_store, _clock, hub) = fresh_hub().await;
    let room = hub
        .create_room(
            ACCOUNT,
            CreateRoom {
                unique_name: Some("later".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let quiet = hub
        .create_room(ACCOUNT, CreateRoom::default())
        .await
        .unwrap();
    assert_eq!((hub.live_rooms(), hub.room_tasks()), (2, 0));
    let (link, mut rx) = session(&hub);
    let joined = hub
        .join(ACCOUNT, Some("later"), req("gina", link))
        .await
        .unwrap();
    assert_eq!(joined.room.sid, room.sid);
    assert_eq!((hub.live_rooms(), hub.room_tasks()), (2, 1));
    let snapshot = hub.snapshot(&room).await.unwrap().unwrap();
    assert_eq!(snapshot.participants.len(), 1);
    let kicked = hub.kick(&room, joined.participant.sid).await.unwrap();
    assert_eq!(kicked.status, ParticipantStatus::Disconnected);
    assert_eq!(
        rx.recv().await,
        Some(Notice::Removed(EndReason::Kicked)),
        "the session is told"
    );
    // The other room is still dormant, and its live state is read all the same.
    assert_eq!(hub.room_tasks(), 1);
    let snapshot = hub.snapshot(&quiet).await.unwrap().unwrap();
    assert!(snapshot.participants.is_empty());
    assert_eq!((hub.live_rooms(), hub.room_tasks()), (2, 2));
    hub.shutdown().await;
}

/// Stopping gives up the leases of the rooms still waiting without a task, as their tasks would
/// have: another node takes them at once instead of waiting for this node's lease to lapse.
#[tokio::test]
async fn stopping_gives_up_the_leases_of_rooms_without_a_task() {
    let (store, clock, hub) = fresh_hub().await;
    let mut rooms = Vec::new();
    for _ in 0..3 {
        rooms.push(
            hub.create_room(ACCOUNT, CreateRoom::default())
                .await
                .unwrap(),
        );
    }
    assert_eq!(hub.room_tasks(), 0);
    hub.shutdown().await;
    let now = clock_now(&clock);
    store
        .renew_node_lease("b", now + Span::from_secs(10))
        .await
        .unwrap();
    for room in rooms {
        let acquired = store
            .acquire_lease(room.sid, "b", "http://b", now)
            .await
            .unwrap();
        assert!(
            matches!(acquired, vroom_store::Acquired::Ours(_)),
            "{acquired:?}"
        );
    }
}

/// `identity` joined to the room `name` of `account` on a session of its own.
async fn join(
    hub: &Hub,
    account: AccountSid,
    name: &str,
    identity: &str,
) -> (vroom_rooms::Joined, mpsc::UnboundedReceiver<Notice>) {
    let (link, rx) = session(hub);
    let joined = hub
        .join(account, Some(name), req(identity, link))
        .await
        .unwrap();
    (joined, rx)
}

#[tokio::test]
async fn a_join_by_name_finds_its_own_accounts_room_and_never_an_ended_one() {
    let (store, _clock, hub) = fresh_hub().await;
    let other = AccountSid::from_bytes([0xbc; 16]);
    let (ours, _rx1) = join(&hub, ACCOUNT, "daily", "alice").await;
    let (theirs, _rx2) = join(&hub, other, "daily", "alice").await;
    assert_ne!(theirs.room.sid, ours.room.sid, "a name is per account");
    assert_eq!(theirs.room.account_sid, other);
    let (again, _rx3) = join(&hub, ACCOUNT, "daily", "bob").await;
    assert_eq!(again.room.sid, ours.room.sid);

    // Ended, then joined at once by name: a new room, the one the store knows as live.
    hub.complete_room(&ours.room).await.unwrap();
    let (next, _rx4) = join(&hub, ACCOUNT, "daily", "carol").await;
    assert_ne!(next.room.sid, ours.room.sid);
    let live = store.live_room_by_name(ACCOUNT, "daily").await.unwrap();
    assert_eq!(live.map(|r| r.sid), Some(next.room.sid));
    // The ended room's task finishing later does not forget the new room's name.
    assert!(eventually(async || hub.room_tasks() == 2).await);
    let (last, _rx5) = join(&hub, ACCOUNT, "daily", "dave").await;
    assert_eq!(last.room.sid, next.room.sid);

    hub.shutdown().await;
}
