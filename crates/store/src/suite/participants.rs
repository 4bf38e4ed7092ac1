//! Participants' history.
#![allow(clippy::too_many_lines)]

use vroom_domain::participant::{EndReason, ParticipantStatus};
use vroom_domain::sid::RoomSid;
use vroom_domain::time::Span;

use crate::{Change, ParticipantFilter, Store, StoreError};

use super::{T0, after, first, participant, room, sid_bytes};

pub(super) async fn participants_history(store: &dyn Store) {
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

/// A room's version moves with every change to the room or to one of its participants, stands
/// still while nothing of the room changes (another room's changes included), and is `None` for a
/// room never stored: what REST's cache of participant reads relies on.
pub(super) async fn room_versions(store: &dyn Store) {
    let r = room(45, Some("versions"), T0 + Span::from_secs(6000), false);
    let other = room(
        46,
        Some("versions-other"),
        T0 + Span::from_secs(6000),
        false,
    );
    assert_eq!(store.room_version(r.sid).await.unwrap(), None, "not stored");
    store
        .apply(
            &[
                Change::InsertRoom(r.clone()),
                Change::InsertRoom(other.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    let version = || async { store.room_version(r.sid).await.unwrap().expect("stored") };
    let mut seen = vec![version().await];
    assert_eq!(version().await, seen[0], "no change");
    let mut step = async |what: &str, changes: &[Change], moves: bool| {
        store.apply(changes, &[]).await.unwrap();
        let v = version().await;
        if moves {
            assert!(!seen.contains(&v), "{what}: {v} was seen before ({seen:?})");
            seen.push(v);
        } else {
            assert_eq!(Some(&v), seen.last(), "{what}");
        }
    };
    let t = |s| r.date_created + Span::from_secs(s);
    let mut p = participant(&r, 70, "versioned", t(1));
    step("a join", &[Change::InsertParticipant(p.clone())], true).await;
    let q = participant(&other, 71, "elsewhere", t(1));
    step(
        "another room's join",
        &[Change::InsertParticipant(q.clone())],
        false,
    )
    .await;
    let mut o = other.clone();
    o.complete(t(2));
    step("another room's end", &[Change::UpdateRoom(o)], false).await;
    p.disconnect(t(3), EndReason::Left);
    step("a departure", &[Change::UpdateParticipant(p.clone())], true).await;
    let anonymize = Change::AnonymizeParticipant {
        sid: p.sid,
        at: t(4),
    };
    step("an anonymization", std::slice::from_ref(&anonymize), true).await;
    let back = store.participant(p.sid).await.unwrap().expect("stored");
    p.identity = p.sid.to_string();
    p.date_updated = t(4);
    assert_eq!(back, p, "only the identity and date_updated change");
    step("an anonymization again", &[anonymize], false).await;
    let live = participant(&r, 72, "still-here", t(4));
    step("a join", &[Change::InsertParticipant(live.clone())], true).await;
    let not_yet = Change::AnonymizeParticipant {
        sid: live.sid,
        at: t(5),
    };
    step("a connected participant's anonymization", &[not_yet], false).await;
    assert_eq!(
        store.participant(live.sid).await.unwrap().as_ref(),
        Some(&live),
        "a connected participant keeps its identity"
    );
    let mut ended = r.clone();
    ended.complete(t(4));
    step("the room's end", &[Change::UpdateRoom(ended)], true).await;
    assert!(
        store.room_version(other.sid).await.unwrap().is_some(),
        "every stored room has one"
    );
}
