//! The live-room state machine driven with explicit time: minutes and hours of room life, no sleeping.

use std::sync::atomic::{AtomicU64, Ordering};

use vroom_domain::Error;
use vroom_domain::event::EventKind;
use vroom_domain::live::{LiveConfig, LiveRoom, Notice, Presence, To, TrackOutcome, Write};
use vroom_domain::participant::{EndReason, ParticipantStatus};
use vroom_domain::room::{CreateRoom, Room, RoomStatus};
use vroom_domain::sid::{AccountSid, IdSource, RoomSid};
use vroom_domain::time::{Span, Timestamp};
use vroom_domain::track::{TrackInfo, TrackKind, TrackPriority};

struct Counter(AtomicU64);
impl IdSource for Counter {
    fn fresh(&self) -> [u8; 16] {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        let mut b = [0u8; 16];
        b[8..].copy_from_slice(&n.to_be_bytes());
        b
    }
}

const T0: Timestamp = Timestamp::from_secs(1_700_000_000);

fn ids() -> Counter {
    Counter(AtomicU64::new(0))
}

fn room_with(req: CreateRoom) -> Room {
    let (name, settings) = req.validate().unwrap();
    let sid = RoomSid::from_bytes([7; 16]);
    Room {
        sid,
        account_sid: AccountSid::from_bytes([1; 16]),
        unique_name: name.unwrap_or_else(|| sid.to_string()),
        status: RoomStatus::InProgress,
        ad_hoc: false,
        settings,
        date_created: T0,
        date_updated: T0,
        end_time: None,
        duration: None,
    }
}

fn live(req: CreateRoom) -> LiveRoom {
    LiveRoom::new(room_with(req), LiveConfig::default())
}

fn callback() -> CreateRoom {
    CreateRoom {
        status_callback: Some("http://127.0.0.1:9/cb".into()),
        ..Default::default()
    }
}

fn at(secs: i64) -> Timestamp {
    T0 + Span::from_secs(secs)
}

#[test]
fn join_and_leave_tell_the_others_with_increasing_revisions() {
    let ids = ids();
    let mut room = live(callback());
    let (alice, fx) = room.join(at(1), "alice".into(), &ids).unwrap();
    assert!(fx.notices.is_empty(), "nobody else to tell");
    assert_eq!(fx.events[0].kind, EventKind::ParticipantConnected);
    let (bob, fx) = room.join(at(2), "bob".into(), &ids).unwrap();
    let Notice::Participant(v) = &fx.notices[0].1 else {
        panic!("expected a participant notice")
    };
    assert_eq!(
        (fx.notices[0].0, v.sid, v.presence, v.revision),
        (To::Others(bob.sid), bob.sid, Presence::Connected, 1)
    );
    assert_eq!(room.roster(alice.sid).len(), 1);

    let (gone, fx) = room.leave(at(12), bob.sid, EndReason::Left).unwrap();
    assert_eq!(gone.status, ParticipantStatus::Disconnected);
    assert_eq!(gone.duration, Some(10));
    let Notice::Participant(v) = &fx.notices[0].1 else {
        panic!("expected a participant notice")
    };
    assert_eq!((v.presence, v.revision), (Presence::Disconnected, 2));
    assert_eq!(
        fx.notices.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
        [To::Others(bob.sid)],
        "a client that left is not told anything"
    );
    assert_eq!(
        fx.events[0].participant.as_ref().unwrap().duration,
        Some(10)
    );
    assert_eq!(
        room.leave(at(13), bob.sid, EndReason::Left).unwrap_err(),
        Error::ParticipantNotFound
    );
}

#[test]
fn duplicate_identity_displaces_the_older_participant() {
    let ids = ids();
    let mut room = live(CreateRoom {
        max_participants: Some(2),
        ..callback()
    });
    let (a1, _) = room.join(at(1), "alice".into(), &ids).unwrap();
    room.join(at(2), "bob".into(), &ids).unwrap();
    // The room is full, but the newcomer takes the older alice's place.
    let (a2, fx) = room.join(at(3), "alice".into(), &ids).unwrap();
    assert_ne!(a1.sid, a2.sid);
    assert!(fx.notices.contains(&(
        To::One(a1.sid),
        Notice::Removed(EndReason::DuplicateIdentity)
    )));
    let to_others: Vec<_> = fx
        .notices
        .iter()
        .filter_map(|(to, n)| match (to, n) {
            (To::Others(about), Notice::Participant(v)) => Some((*about, v.sid, v.presence)),
            _ => None,
        })
        .collect();
    assert_eq!(
        to_others,
        [
            (a1.sid, a1.sid, Presence::Disconnected),
            (a2.sid, a2.sid, Presence::Connected)
        ],
        "bob sees old alice leave and new alice join"
    );
    assert!(
        matches!(&fx.writes[0], Write::UpdateParticipant(p) if p.sid == a1.sid && p.end_reason == Some(EndReason::DuplicateIdentity))
    );
    assert!(matches!(&fx.writes[1], Write::InsertParticipant(p) if p.sid == a2.sid));
    let kinds: Vec<_> = fx.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ParticipantDisconnected,
            EventKind::ParticipantConnected
        ]
    );
    assert_eq!(
        room.join(at(4), "carol".into(), &ids).unwrap_err(),
        Error::RoomFull
    );
}

#[test]
fn max_participants_is_exact() {
    let ids = ids();
    let mut room = live(CreateRoom {
        max_participants: Some(50),
        ..Default::default()
    });
    let results: Vec<_> = (0..200)
        .map(|i| room.join(at(1), format!("p{i}"), &ids))
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 50);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| *e == Error::RoomFull)
    );
}

#[test]
fn unused_room_times_out() {
    let room_req = CreateRoom {
        unused_room_timeout: Some(3),
        ..callback()
    };
    let mut room = live(room_req);
    assert_eq!(room.poll_timeout(), Some(at(180)));
    assert!(room.handle_timeout(at(179)).is_empty());
    let fx = room.handle_timeout(at(180));
    assert_eq!(room.room().status, RoomStatus::Completed);
    assert_eq!(room.room().duration, Some(180));
    assert_eq!(fx.events.last().unwrap().kind, EventKind::RoomEnded);
    assert_eq!(fx.events.last().unwrap().room_duration, Some(180));
    assert_eq!(room.poll_timeout(), None);
}

#[test]
fn empty_room_times_out_after_last_leave_and_a_join_cancels_it() {
    let ids = ids();
    let mut room = live(CreateRoom {
        empty_room_timeout: Some(1),
        unused_room_timeout: Some(10),
        ..Default::default()
    });
    let (a, _) = room.join(at(30), "a".into(), &ids).unwrap();
    assert_eq!(
        room.poll_timeout(),
        Some(at(30 + 14_400)),
        "only the max duration timer remains"
    );
    room.leave(at(100), a.sid, EndReason::Left).unwrap();
    assert_eq!(room.poll_timeout(), Some(at(160)));
    let (b, _) = room.join(at(150), "b".into(), &ids).unwrap();
    assert!(
        room.handle_timeout(at(160)).is_empty(),
        "a join cancels the empty timer"
    );
    room.leave(at(200), b.sid, EndReason::Left).unwrap();
    let fx = room.handle_timeout(at(260));
    assert_eq!(room.room().status, RoomStatus::Completed);
    assert!(
        fx.writes
            .iter()
            .any(|w| matches!(w, Write::UpdateRoom(r) if r.end_time == Some(at(260))))
    );
}

#[test]
fn max_participant_duration_disconnects_with_its_reason() {
    let ids = ids();
    let mut room = live(CreateRoom {
        max_participant_duration: Some(600),
        ..Default::default()
    });
    let (a, _) = room.join(at(0), "a".into(), &ids).unwrap();
    let (b, _) = room.join(at(100), "b".into(), &ids).unwrap();
    assert_eq!(room.poll_timeout(), Some(at(600)));
    let fx = room.handle_timeout(at(600));
    assert!(
        fx.notices
            .contains(&(To::One(a.sid), Notice::Removed(EndReason::MaxDuration)))
    );
    assert!(room.view(a.sid).is_none() && room.view(b.sid).is_some());
    assert_eq!(room.poll_timeout(), Some(at(700)));
}

#[test]
fn a_dropped_connection_waits_for_the_reconnect_window() {
    let ids = ids();
    let mut room = live(CreateRoom::default());
    let (a, _) = room.join(at(0), "a".into(), &ids).unwrap();
    room.join(at(0), "b".into(), &ids).unwrap();
    let fx = room.detach(at(10), a.sid).unwrap();
    let Notice::Participant(v) = &fx.notices[0].1 else {
        panic!("expected a participant notice")
    };
    assert_eq!(
        (fx.notices[0].0, v.presence, v.revision),
        (To::Others(a.sid), Presence::Reconnecting, 2)
    );
    assert_eq!(room.poll_timeout(), Some(at(40)));
    // It comes back in time: connected again, with a higher revision.
    let fx = room.reattach(a.sid).unwrap();
    let Notice::Participant(v) = &fx.notices[0].1 else {
        panic!("expected a participant notice")
    };
    assert_eq!((v.presence, v.revision), (Presence::Connected, 3));
    // It drops again and does not come back.
    room.detach(at(50), a.sid).unwrap();
    let fx = room.handle_timeout(at(80));
    assert!(
        matches!(&fx.writes[0], Write::UpdateParticipant(p) if p.sid == a.sid && p.end_reason == Some(EndReason::ConnectionLost))
    );
    assert!(
        !fx.notices.iter().any(|(to, _)| *to == To::One(a.sid)),
        "a lost session cannot be told"
    );
}

#[test]
fn completing_tells_everyone_and_frees_nothing_twice() {
    let ids = ids();
    let mut room = live(callback());
    let (a, _) = room.join(at(0), "a".into(), &ids).unwrap();
    let (b, _) = room.join(at(0), "b".into(), &ids).unwrap();
    let fx = room.complete(at(60)).unwrap();
    assert_eq!(
        fx.notices,
        vec![
            (To::One(a.sid), Notice::Removed(EndReason::RoomEnded)),
            (To::One(b.sid), Notice::Removed(EndReason::RoomEnded))
        ]
    );
    let kinds: Vec<_> = fx.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ParticipantDisconnected,
            EventKind::ParticipantDisconnected,
            EventKind::RoomEnded
        ]
    );
    let seqs: Vec<_> = fx.events.iter().map(|e| e.sequence_number).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(room.complete(at(61)).unwrap_err(), Error::RoomStatusInvalid);
    assert_eq!(
        room.join(at(62), "c".into(), &ids).unwrap_err(),
        Error::RoomCompleted
    );
}

fn track(id: &str, kind: TrackKind, enabled: bool) -> TrackInfo {
    TrackInfo {
        client_id: id.into(),
        name: format!("{id}-name"),
        kind,
        enabled,
        priority: TrackPriority::Standard,
    }
}

#[test]
fn tracks_get_stable_sids_and_changes_bump_the_revision() {
    let ids = ids();
    let mut room = live(CreateRoom {
        audio_only: Some(true),
        ..callback()
    });
    let (a, _) = room.join(at(0), "a".into(), &ids).unwrap();
    room.join(at(0), "b".into(), &ids).unwrap();
    let (out, fx) = room
        .set_tracks(
            at(1),
            a.sid,
            vec![
                track("mic", TrackKind::Audio, true),
                track("cam", TrackKind::Video, true),
            ],
            &ids,
        )
        .unwrap();
    let TrackOutcome::Published(mic) = out[0].1 else {
        panic!("mic should publish")
    };
    assert_eq!(out[1].1, TrackOutcome::Failed(Error::TrackKindNotSupported));
    assert_eq!(fx.notices.len(), 1);
    assert_eq!(
        fx.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::TrackAdded]
    );
    assert_eq!(room.view(a.sid).unwrap().revision, 2);
    // Same list again: nothing changes.
    let (out, fx) = room
        .set_tracks(
            at(2),
            a.sid,
            vec![track("mic", TrackKind::Audio, true)],
            &ids,
        )
        .unwrap();
    assert_eq!(out[0].1, TrackOutcome::Published(mic));
    assert!(fx.is_empty());
    // Muting is a change; unpublishing too.
    let (_, fx) = room
        .set_tracks(
            at(3),
            a.sid,
            vec![track("mic", TrackKind::Audio, false)],
            &ids,
        )
        .unwrap();
    assert_eq!(fx.events[0].kind, EventKind::TrackDisabled);
    let (_, fx) = room.set_tracks(at(4), a.sid, vec![], &ids).unwrap();
    assert_eq!(fx.events[0].kind, EventKind::TrackRemoved);
    let Notice::Participant(v) = &fx.notices[0].1 else {
        panic!("expected a participant notice")
    };
    assert_eq!(
        (fx.notices[0].0, v.revision, v.tracks.len()),
        (To::Others(a.sid), 4, 0)
    );
}

#[test]
fn a_restored_room_closes_orphans_and_waits_empty() {
    let ids = ids();
    let mut before = live(callback());
    let (a, _) = before.join(at(0), "a".into(), &ids).unwrap();
    let (restored, fx) = LiveRoom::restore(
        before.room().clone(),
        LiveConfig::default(),
        true,
        7,
        at(100),
        vec![a.clone()],
    );
    assert!(matches!(&fx.writes[0], Write::UpdateParticipant(p)
        if p.sid == a.sid && p.end_time == Some(at(100)) && p.duration == Some(100) && p.end_reason == Some(EndReason::ServerStopped)));
    assert_eq!(
        (fx.events[0].kind, fx.events[0].sequence_number),
        (EventKind::ParticipantDisconnected, 7)
    );
    assert_eq!(
        restored.poll_timeout(),
        Some(at(100 + 300)),
        "the empty-room timeout starts at restart"
    );
}

#[test]
fn subscriptions_follow_tracks_rules_and_departures() {
    use vroom_domain::live::{MediaCommand, Subscription};
    use vroom_domain::rules::{RuleType, TrackRule};
    let ids = ids();
    let mut room = live(CreateRoom::default());
    let subs_of = |fx: &vroom_domain::live::Effects, who| -> Option<Vec<Subscription>> {
        fx.media.iter().find_map(|m| match m {
            MediaCommand::Subscriptions {
                participant,
                subscriptions,
            } if *participant == who => Some(subscriptions.clone()),
            _ => None,
        })
    };
    let (a, _) = room.join(at(0), "a".into(), &ids).unwrap();
    room.set_tracks(
        at(0),
        a.sid,
        vec![
            track("mic", TrackKind::Audio, true),
            track("cam", TrackKind::Video, true),
        ],
        &ids,
    )
    .unwrap();
    let (b, fx) = room.join(at(1), "b".into(), &ids).unwrap();
    let got = subs_of(&fx, b.sid).expect("b subscribes to a's tracks when it joins");
    assert_eq!(
        got.iter()
            .map(|s| s.publisher_track_id.as_str())
            .collect::<Vec<_>>(),
        ["mic", "cam"]
    );
    assert!(got.iter().all(|s| s.publisher == a.sid && s.since == at(1)));

    // b excludes video: only the microphone stays, with its original "since".
    let rules = vec![
        TrackRule {
            rule_type: RuleType::Include,
            all: Some(true),
            kind: None,
            publisher: None,
            track: None,
            priority: None,
        },
        TrackRule {
            rule_type: RuleType::Exclude,
            all: None,
            kind: Some(TrackKind::Video),
            publisher: None,
            track: None,
            priority: None,
        },
    ];
    let fx = room.set_subscribe_rules(at(5), b.sid, rules).unwrap();
    let got = subs_of(&fx, b.sid).unwrap();
    assert_eq!(
        (got.len(), got[0].publisher_track_id.as_str(), got[0].since),
        (1, "mic", at(1))
    );
    assert_eq!(room.subscribe_rules(b.sid).unwrap().1, at(5));
    assert_eq!(
        room.set_subscribe_rules(at(6), b.sid, vec![])
            .unwrap_err()
            .code(),
        53215
    );

    // a leaves: the media server hears a is gone and b receives nothing.
    let (_, fx) = room.leave(at(9), a.sid, EndReason::Left).unwrap();
    assert!(
        fx.media
            .contains(&MediaCommand::Gone { participant: a.sid })
    );
    assert_eq!(subs_of(&fx, b.sid), Some(vec![]));
}

#[test]
fn a_copy_taken_before_changes_keeps_the_state_it_had() {
    // The room task keeps such a copy to restore when a batch's write fails.
    let ids = ids();
    let mut room = live(CreateRoom::default());
    let (a, _) = room.join(at(0), "a".into(), &ids).unwrap();
    let before = room.clone();
    room.set_tracks(
        at(1),
        a.sid,
        vec![track("mic", TrackKind::Audio, true)],
        &ids,
    )
    .unwrap();
    room.detach(at(2), a.sid).unwrap();
    let (b, _) = room.join(at(3), "b".into(), &ids).unwrap();
    let then = before.view(a.sid).unwrap();
    assert_eq!((then.revision, then.tracks.len()), (1, 0));
    assert_eq!(then.presence, vroom_domain::live::Presence::Connected);
    assert!(before.view(b.sid).is_none());
    let now = room.view(a.sid).unwrap();
    assert_eq!((now.revision, now.tracks.len()), (3, 1));
    assert_eq!(room.subscriptions(b.sid).unwrap().len(), 1);
}

/// A member's view is one shared value while it stays the same (every notice and roster hands out
/// the same one, so the edge writes it once), and a new one as soon as it changes.
#[test]
fn a_members_view_is_shared_until_it_changes() {
    let ids = ids();
    let mut room = live(CreateRoom::default());
    let (alice, _) = room.join(at(1), "alice".into(), &ids).unwrap();
    let (bob, fx) = room.join(at(2), "bob".into(), &ids).unwrap();
    let Notice::Participant(announced) = &fx.notices[0].1 else {
        panic!("expected a participant notice")
    };
    let listed = room.roster(alice.sid).remove(0);
    assert!(std::sync::Arc::ptr_eq(announced, &listed));
    assert!(std::sync::Arc::ptr_eq(
        &listed,
        &room.roster(alice.sid).remove(0)
    ));

    let (_, fx) = room
        .set_tracks(
            at(3),
            bob.sid,
            vec![track("a", TrackKind::Audio, true)],
            &ids,
        )
        .unwrap();
    let now = room.roster(alice.sid).remove(0);
    assert!(
        !std::sync::Arc::ptr_eq(&listed, &now),
        "changed: a new view"
    );
    assert_eq!((now.revision, now.tracks.len()), (listed.revision + 1, 1));
    let Some(Notice::Participant(told)) = fx
        .notices
        .iter()
        .find(|(to, _)| *to == To::Others(bob.sid))
        .map(|(_, n)| n)
    else {
        panic!("alice is told of bob's track")
    };
    assert!(std::sync::Arc::ptr_eq(told, &now));
    room.detach(at(4), bob.sid).unwrap();
    let away = room.roster(alice.sid).remove(0);
    assert_eq!(away.presence, Presence::Reconnecting);
}

#[test]
fn an_emptied_room_gives_its_lists_back_and_fills_again() {
    let ids = ids();
    let mut room = live(CreateRoom::default());
    let joined: Vec<_> = (0..50)
        .map(|i| room.join(at(1), format!("p{i}"), &ids).unwrap().0)
        .collect();
    assert!(!room.shrink_if_empty(), "people are in");
    for p in &joined {
        room.leave(at(2), p.sid, EndReason::Left).unwrap();
    }
    assert!(room.shrink_if_empty(), "nobody is left");
    room.join(at(3), "alice".into(), &ids).unwrap();
    let (b, fx) = room.join(at(4), "bob".into(), &ids).unwrap();
    assert_eq!(fx.notices.len(), 1, "alice, and only her, hears of bob");
    assert_eq!(fx.notices[0].0, To::Others(b.sid));
    assert_eq!(room.roster(b.sid).len(), 1);
    assert!(!room.shrink_if_empty());
}

/// A change is told to the others in one entry, whatever the room's size: the room's task stages
/// one entry per change and delivers one list per session per batch.
#[test]
fn a_change_is_one_entry_for_all_the_others() {
    let ids = ids();
    let mut room = live(CreateRoom {
        max_participants: Some(500),
        large_room: Some(true),
        ..Default::default()
    });
    for i in 0..499 {
        room.join(at(0), format!("p{i}"), &ids).unwrap();
    }
    let (last, fx) = room.join(at(1), "last".into(), &ids).unwrap();
    assert_eq!(
        fx.notices.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
        [To::Others(last.sid)]
    );
    let (_, fx) = room.leave(at(2), last.sid, EndReason::Left).unwrap();
    assert_eq!(
        fx.notices.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
        [To::Others(last.sid)]
    );
}
