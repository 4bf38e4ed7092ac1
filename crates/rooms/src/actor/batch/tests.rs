//! One batch of joins, departures and a kick, staged on a room task built by hand (so the batch is
//! exactly these commands), then delivered: who is told what.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use vroom_domain::event::{EventKind, StatusEvent};
use vroom_domain::live::{LiveConfig, LiveRoom, Notice, Presence, Told};
use vroom_domain::participant::EndReason;
use vroom_domain::room::{CreateRoom, Room};
use vroom_domain::sid::{AccountSid, ParticipantSid, RandomIds, RoomSid};
use vroom_domain::time::Timestamp;
use vroom_store::sqlite::SqliteStore;
use vroom_store::{Change, Lease, Store};

use super::super::{Deps, RoomActor};
use super::Batch;
use crate::clock::ManualClock;
use crate::{ClusterConfig, JoinRequest, Joined, NoMedia, SessionLink};

const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

async fn actor() -> RoomActor {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_url("sqlite::memory:").await.unwrap());
    let cluster = ClusterConfig::single();
    store
        .renew_node_lease(&cluster.node, T0 + cluster.lease)
        .await
        .unwrap();
    let (name, settings) = CreateRoom {
        max_participants: Some(100),
        large_room: Some(true),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let sid = RoomSid::from_bytes([7; 16]);
    let room = Room::started(
        sid,
        AccountSid::from_bytes([0xac; 16]),
        name,
        settings,
        false,
        T0,
    );
    let lease = Lease {
        room: sid,
        node: cluster.node.clone(),
        token: 1,
    };
    let events: Vec<StatusEvent> = StatusEvent::for_room(&room, EventKind::RoomCreated, T0, 0)
        .into_iter()
        .collect();
    let changes = [
        Change::NewLease {
            lease: lease.clone(),
            address: cluster.address.clone(),
        },
        Change::InsertRoom(room.clone()),
    ];
    store.apply(&changes, &events).await.unwrap();
    RoomActor {
        live: LiveRoom::new(room, LiveConfig::default()),
        sessions: HashMap::new(),
        told: 0,
        pending: super::super::told::Pending::default(),
        memories: HashMap::new(),
        deps: Arc::new(Deps {
            store,
            clock: Arc::new(ManualClock::new(T0)),
            ids: Arc::new(RandomIds),
            outbox: Arc::new(Notify::new()),
            media: Arc::new(NoMedia),
            registry: crate::registry::Registry::default(),
            shutdown: CancellationToken::new(),
            draining: CancellationToken::new(),
            cluster,
        }),
        retry_at: None,
        lease,
        lost: false,
    }
}

struct Member {
    sid: ParticipantSid,
    rx: mpsc::UnboundedReceiver<Notice>,
}

/// Stages the join of `identity` into `batch`; its answer comes once the batch is written.
fn stage_join(
    actor: &mut RoomActor,
    batch: &mut Batch,
    identity: &str,
    session: u64,
) -> (oneshot::Receiver<Result<Joined, crate::HubError>>, Member) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (reply, joined) = oneshot::channel();
    let request = JoinRequest {
        identity: identity.to_owned(),
        tracks: Vec::new(),
        rules: None,
        session: SessionLink {
            id: session,
            tx,
            memory: Arc::new(()),
        },
    };
    actor.stage_join(batch, T0, request, reply);
    let sid = actor.live.participant_sids().last().unwrap();
    (joined, Member { sid, rx })
}

/// Joins `identity` in a batch of its own.
async fn join(actor: &mut RoomActor, identity: &str, session: u64) -> Member {
    let mut batch = Batch::new(actor.live.clone());
    let (joined, member) = stage_join(actor, &mut batch, identity, session);
    actor.flush(batch).await.unwrap();
    // Whether or not the room's pace held it back.
    actor.deliver();
    joined.await.unwrap().unwrap();
    member
}

/// Everything queued for `member`: each participant list as (sid, presence) pairs, other notices
/// as they are.
fn told(member: &mut Member) -> Vec<Result<Vec<(ParticipantSid, Presence)>, Notice>> {
    let mut all = Vec::new();
    while let Ok(notice) = member.rx.try_recv() {
        all.push(match notice {
            Notice::Participants(told) => {
                Ok(told.views.iter().map(|v| (v.sid, v.presence)).collect())
            }
            other => Err(other),
        });
    }
    all
}

fn shared(member: &mut Member) -> Arc<Told> {
    match member.rx.try_recv() {
        Ok(Notice::Participants(told)) => told,
        other => panic!("expected one list, got {other:?}"),
    }
}

#[tokio::test]
async fn one_batch_tells_each_session_what_it_would_have_been_told_alone() {
    let mut actor = actor().await;
    let mut alice = join(&mut actor, "alice", 1).await;
    let mut frank = join(&mut actor, "frank", 2).await;
    let mut bob = join(&mut actor, "bob", 3).await;
    let mut carol = join(&mut actor, "carol", 4).await;
    // Empty the queues of these joins.
    for m in [&mut alice, &mut frank, &mut bob, &mut carol] {
        told(m);
    }

    // One batch: dave joins, bob leaves, carol is kicked, eve joins.
    let mut batch = Batch::new(actor.live.clone());
    let (_, mut dave) = stage_join(&mut actor, &mut batch, "dave", 5);
    let (left, _) = oneshot::channel();
    actor.stage_leave(&mut batch, T0, bob.sid, EndReason::Left, Some(3), left);
    let (kicked, _) = oneshot::channel();
    actor.stage_leave(&mut batch, T0, carol.sid, EndReason::Kicked, None, kicked);
    let (_, mut eve) = stage_join(&mut actor, &mut batch, "eve", 6);
    actor.flush(batch).await.unwrap();
    // A kick is told at once, and everything before it with it.
    assert!(actor.delivery_due().is_none());

    use Presence::{Connected, Disconnected};
    let all = vec![
        (dave.sid, Connected),
        (bob.sid, Disconnected),
        (carol.sid, Disconnected),
        (eve.sid, Connected),
    ];
    // Alice and frank, here before the batch and unchanged by it, get the batch's changes as one
    // list, the same one.
    let (a, f) = (shared(&mut alice), shared(&mut frank));
    assert!(Arc::ptr_eq(&a, &f), "one list for both");
    let listed: Vec<_> = a.views.iter().map(|v| (v.sid, v.presence)).collect();
    assert_eq!(listed, all);
    assert!(told(&mut alice).is_empty() && told(&mut frank).is_empty());
    // Bob left: told what came before its departure.
    assert_eq!(told(&mut bob), [Ok(vec![(dave.sid, Connected)])]);
    // Carol: what came before the kick, then the kick.
    assert_eq!(
        told(&mut carol),
        [
            Ok(vec![(dave.sid, Connected), (bob.sid, Disconnected)]),
            Err(Notice::Removed(EndReason::Kicked))
        ]
    );
    // Dave: what came after its join (its roster showed the rest), not its own join.
    assert_eq!(told(&mut dave), [Ok(all[1..].to_vec())]);
    // Eve joined last: its roster shows it all.
    assert!(told(&mut eve).is_empty());
}

#[tokio::test]
async fn a_failed_write_tells_nobody_and_the_sessions_come_back() {
    let mut actor = actor().await;
    let mut alice = join(&mut actor, "alice", 1).await;
    let mut bob = join(&mut actor, "bob", 2).await;
    told(&mut alice);
    // A batch fenced by a lease that is not the room's fails as a whole.
    let kept = actor.lease.clone();
    actor.lease.token = 99;
    let mut batch = Batch::new(actor.live.clone());
    let (joined, mut carol) = stage_join(&mut actor, &mut batch, "carol", 3);
    let (left, _) = oneshot::channel();
    actor.stage_leave(&mut batch, T0, bob.sid, EndReason::Left, Some(2), left);
    assert!(actor.flush(batch).await.is_err());
    assert!(joined.await.unwrap().is_err());
    assert!(
        told(&mut alice).is_empty() && told(&mut bob).is_empty() && told(&mut carol).is_empty()
    );
    // Bob's session is registered again, from where it was: the next change reaches it, once.
    actor.lost = false;
    actor.lease = kept;
    let mut dave = join(&mut actor, "dave", 4).await;
    assert_eq!(told(&mut bob), [Ok(vec![(dave.sid, Presence::Connected)])]);
    assert_eq!(
        told(&mut alice),
        [Ok(vec![(dave.sid, Presence::Connected)])]
    );
    assert!(told(&mut carol).is_empty() && told(&mut dave).is_empty());
}

/// Right after a delivery, a busy room gathers what commits until its pace allows the next one:
/// the changes of two batches reach the sessions as one list; a kick goes at once, with them.
#[tokio::test]
async fn a_busy_room_gathers_its_changes_until_the_next_delivery() {
    let mut actor = actor().await;
    let mut alice = join(&mut actor, "alice", 1).await;
    let mut bob = join(&mut actor, "bob", 2).await;
    let mut erin = join(&mut actor, "erin", 5).await;
    for m in [&mut alice, &mut bob, &mut erin] {
        told(m);
    }
    // As if the room had delivered just now and its pace were a minute long.
    let later = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    actor.pending.last = Some(later);
    let mut carol = join_held(&mut actor, "carol", 3).await;
    let mut dave = join_held(&mut actor, "dave", 4).await;
    assert!(actor.delivery_due().is_some_and(|due| due > later));
    assert!(told(&mut alice).is_empty() && told(&mut bob).is_empty());
    // Erin is kicked: everything pending goes now, the kick with it.
    let mut batch = Batch::new(actor.live.clone());
    let (kicked, _) = oneshot::channel();
    actor.stage_leave(&mut batch, T0, erin.sid, EndReason::Kicked, None, kicked);
    actor.flush(batch).await.unwrap();
    assert!(actor.delivery_due().is_none());
    use Presence::{Connected, Disconnected};
    let all = vec![
        (carol.sid, Connected),
        (dave.sid, Connected),
        (erin.sid, Disconnected),
    ];
    let (a, b) = (shared(&mut alice), shared(&mut bob));
    assert!(Arc::ptr_eq(&a, &b), "one list for both");
    assert_eq!(
        a.views
            .iter()
            .map(|v| (v.sid, v.presence))
            .collect::<Vec<_>>(),
        all
    );
    assert_eq!(told(&mut carol), [Ok(all[1..].to_vec())]);
    assert_eq!(told(&mut dave), [Ok(all[2..].to_vec())]);
    assert_eq!(
        told(&mut erin),
        [
            Ok(all[..2].to_vec()),
            Err(Notice::Removed(EndReason::Kicked))
        ]
    );
}

/// Joins `identity` in a batch of its own, leaving its delivery to the room's pace.
async fn join_held(actor: &mut RoomActor, identity: &str, session: u64) -> Member {
    let mut batch = Batch::new(actor.live.clone());
    let (joined, member) = stage_join(actor, &mut batch, identity, session);
    actor.flush(batch).await.unwrap();
    joined.await.unwrap().unwrap();
    member
}
