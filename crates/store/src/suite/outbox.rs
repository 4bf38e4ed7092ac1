//! The status-callback outbox: order, retries, recording and composition facts, claims.
#![allow(clippy::too_many_lines)]

use vroom_domain::event::{EventKind, ParticipantFacts, StatusEvent};
use vroom_domain::participant::ParticipantStatus;
use vroom_domain::room::Room;
use vroom_domain::sid::ParticipantSid;
use vroom_domain::time::{Span, Timestamp};

use crate::{Change, Store};

use super::{T0, room, sid_bytes};

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

pub(super) async fn outbox_order_and_retries(store: &dyn Store) {
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
pub(super) async fn outbox_recording_and_composition_facts(store: &dyn Store) {
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

pub(super) async fn outbox_claims(store: &dyn Store) {
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
