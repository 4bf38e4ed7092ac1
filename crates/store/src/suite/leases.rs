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
    // Renewed together, each as `renew_lease` would: the holder's, not the stale one.
    assert_eq!(
        store
            .renew_leases(&[b.clone(), a.clone()], t(35))
            .await
            .unwrap(),
        vec![true, false]
    );
    assert!(store.renew_leases(&[], t(35)).await.unwrap().is_empty());
    match acquire("a", 31, 41).await.unwrap() {
        Acquired::Held(h) => assert_eq!(
            (h.node.as_str(), h.expires_at),
            ("b", t(35)),
            "the renewed lease holds past its first end, with its new one"
        ),
        other => panic!("a lease renewed with the others holds: {other:?}"),
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

/// The rooms to take over are those in progress whose lease expired or was released, or that
/// never had one; rooms held, and rooms that ended, are not among them.
pub(super) async fn orphaned_rooms(store: &dyn Store) {
    let t = |s| T0 + Span::from_secs(s);
    let leased = |n: u32, until: i64| {
        let r = room(n, None, T0 + Span::from_secs(12_000 + i64::from(n)), false);
        let lease = Lease {
            room: r.sid,
            node: "a".into(),
            token: 1,
        };
        (r, lease, t(until))
    };
    let held = leased(63, 100);
    let expired = leased(64, 40);
    let released = leased(65, 100);
    let ended = leased(66, 40);
    for (r, lease, until) in [&held, &expired, &released, &ended] {
        store
            .apply(
                &[
                    Change::NewLease {
                        lease: lease.clone(),
                        address: "http://a".into(),
                        until: *until,
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
        "expired, released and never leased, oldest first"
    );
    assert_eq!(
        orphaned_at(t(30)).await,
        vec![released.0.sid, never.sid],
        "a lease in force until its end"
    );
    assert!(store.renew_lease(&expired.1, t(200)).await.unwrap());
    assert_eq!(
        orphaned_at(t(150)).await,
        vec![held.0.sid, released.0.sid, never.sid],
        "renewed, a lease holds again; the other one ran out"
    );
    for (_, lease, _) in [&held, &expired] {
        store.release_lease(lease).await.unwrap();
    }
}
