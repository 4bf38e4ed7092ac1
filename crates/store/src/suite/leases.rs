//! Room leases and fencing.
#![allow(clippy::too_many_lines)]

use vroom_domain::participant::{EndReason, ParticipantStatus};
use vroom_domain::time::Span;

use crate::{Acquired, Change, Lease, Store, StoreError};

use super::{T0, participant, room};

pub(super) async fn leases_and_fencing(store: &dyn Store) {
    let r = room(60, Some("leased"), T0 + Span::from_secs(12_000), false);
    store
        .apply(&[Change::InsertRoom(r.clone())], &[])
        .await
        .unwrap();
    let t = |s| T0 + Span::from_secs(s);
    let sid = r.sid;
    let acquire = |node: &'static str, now: i64| async move {
        let address = format!("http://{node}");
        store.acquire_lease(sid, node, &address, t(now)).await
    };
    let renew = |node: &'static str, until: i64| async move {
        store.renew_node_lease(node, t(until)).await.unwrap()
    };
    assert!(
        renew("a", 10).await.is_empty(),
        "a new node has lost nothing"
    );
    let Acquired::Ours(a) = acquire("a", 0).await.unwrap() else {
        panic!("a room nobody holds is ours")
    };
    assert_eq!((a.room, a.node.as_str()), (r.sid, "a"));
    assert!(renew("b", 15).await.is_empty());
    match acquire("b", 5).await.unwrap() {
        Acquired::Held(h) => assert_eq!(
            (h.node.as_str(), h.address.as_str(), h.expires_at),
            ("a", "http://a", t(10)),
            "another node is told who holds it, where, and until when its node's lease runs"
        ),
        other => panic!("a lease in force is refused to others: {other:?}"),
    }
    assert!(renew("a", 20).await.is_empty());
    assert_eq!(
        acquire("a", 6).await.unwrap(),
        Acquired::Ours(a.clone()),
        "the holder acquiring again keeps its token"
    );
    assert!(
        matches!(acquire("b", 15).await.unwrap(), Acquired::Held(_)),
        "a renewed node lease holds its rooms past their first end"
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

    // Its node's lease expired: another node takes the room over with a larger token, and the
    // old holder cannot write.
    assert!(renew("b", 30).await.is_empty());
    let Acquired::Ours(b) = acquire("b", 20).await.unwrap() else {
        panic!("a room whose node's lease expired can be taken over")
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
    // The old holder learns which lease it lost at its next renewal, once; renewing its own
    // lease does not bring the room back.
    assert_eq!(renew("a", 40).await, vec![a.clone()]);
    assert!(renew("a", 40).await.is_empty(), "a loss is told once");
    assert!(renew("b", 35).await.is_empty());
    match acquire("a", 31).await.unwrap() {
        Acquired::Held(h) => assert_eq!(
            (h.node.as_str(), h.expires_at),
            ("b", t(35)),
            "the taker holds it while its own node lease does"
        ),
        other => panic!("a room taken over stays with its taker: {other:?}"),
    }
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

    // Released: any node may acquire it at once, with a larger token; the releaser is fenced
    // out, and a lease given up is not a loss.
    store.release_lease(&b).await.unwrap();
    assert!(matches!(
        store.apply(&[Change::Fence(b.clone())], &[]).await,
        Err(StoreError::LeaseLost)
    ));
    let Acquired::Ours(c) = acquire("a", 22).await.unwrap() else {
        panic!("a released lease is free")
    };
    assert!(c.token > b.token);
    assert!(
        renew("b", 50).await.is_empty(),
        "{b:?} was given up, not lost"
    );
    store.release_lease(&c).await.unwrap();

    // A new room's lease written with its insert: held at once, by that node, while its node's
    // lease runs; the batch's fenced writes go through, and a second new lease of the room fails
    // whole.
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
                },
                Change::InsertRoom(fresh.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    match store
        .acquire_lease(fresh.sid, "b", "http://b", t(5))
        .await
        .unwrap()
    {
        Acquired::Held(h) => assert_eq!(
            (h.node.as_str(), h.address.as_str(), h.expires_at),
            ("a", "http://a", t(40))
        ),
        other => panic!("a new room's lease is its node's: {other:?}"),
    }
    store
        .apply(&[Change::Fence(lease.clone())], &[])
        .await
        .unwrap();
    let again = room(62, Some("born-twice"), T0 + Span::from_secs(12_002), false);
    let twice = store
        .apply(
            &[
                Change::NewLease {
                    lease: lease.clone(),
                    address: "http://b".into(),
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

/// The rooms to take over are those in progress whose node's lease expired, whose lease was
/// released, or that never had one; rooms held, and rooms that ended, are not among them.
pub(super) async fn orphaned_rooms(store: &dyn Store) {
    let t = |s| T0 + Span::from_secs(s);
    let leased = |n: u32, node: &str| {
        let r = room(n, None, T0 + Span::from_secs(12_000 + i64::from(n)), false);
        let lease = Lease {
            room: r.sid,
            node: node.into(),
            token: 1,
        };
        (r, lease)
    };
    // Node c's lease runs to 100, node d's to 40.
    store.renew_node_lease("c", t(100)).await.unwrap();
    store.renew_node_lease("d", t(40)).await.unwrap();
    let held = leased(63, "c");
    let expired = leased(64, "d");
    let released = leased(65, "c");
    let ended = leased(66, "d");
    for (r, lease) in [&held, &expired, &released, &ended] {
        store
            .apply(
                &[
                    Change::NewLease {
                        lease: lease.clone(),
                        address: format!("http://{}", lease.node),
                    },
                    Change::InsertRoom(r.clone()),
                ],
                &[],
            )
            .await
            .unwrap();
    }
    store.release_lease(&released.1).await.unwrap();
    let mut done = ended.0.clone();
    done.complete(t(45));
    store.apply(&[Change::UpdateRoom(done)], &[]).await.unwrap();
    let never = room(67, None, t(12_067), false);
    store
        .apply(&[Change::InsertRoom(never.clone())], &[])
        .await
        .unwrap();

    let ours = [
        held.0.sid,
        expired.0.sid,
        released.0.sid,
        ended.0.sid,
        never.sid,
    ];
    let orphaned_at = |now| async move {
        let found = store.orphaned_rooms(now).await.unwrap();
        found
            .into_iter()
            .filter(|r| ours.contains(&r.sid))
            .map(|r| r.sid)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        orphaned_at(t(50)).await,
        vec![expired.0.sid, released.0.sid, never.sid],
        "its node's lease expired, released and never leased, oldest first"
    );
    assert_eq!(
        orphaned_at(t(30)).await,
        vec![released.0.sid, never.sid],
        "a lease holds while its node's does"
    );
    assert!(
        store
            .renew_node_lease("d", t(200))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        orphaned_at(t(150)).await,
        vec![held.0.sid, released.0.sid, never.sid],
        "renewed, a node's lease holds its rooms again; the other node's ran out"
    );
    for (_, lease) in [&held, &expired] {
        store.release_lease(lease).await.unwrap();
    }
}
