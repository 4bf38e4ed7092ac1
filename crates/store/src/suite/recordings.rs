//! The recordings part of the conformance suite (called by [`super::run`]).
#![allow(clippy::missing_panics_doc)]

use vroom_domain::recording::{Recording, RecordingCodec, RecordingStatus};
use vroom_domain::sid::{ParticipantSid, RecordingSid, TrackSid};
use vroom_domain::time::{Span, Timestamp};
use vroom_domain::track::TrackKind;

use crate::suite::{account, after, first, room, sid_bytes};
use crate::{Change, RecordingFilter, Store, StoreError};

const T0: Timestamp = Timestamp::from_secs(1_810_000_000);

fn recording(room_n: u32, n: u32, kind: TrackKind, at: Timestamp) -> Recording {
    let r = room(room_n, None, T0, false);
    Recording::start(
        RecordingSid::from_bytes(sid_bytes(7, n)),
        account(),
        r.sid,
        ParticipantSid::from_bytes(sid_bytes(8, n % 2)),
        TrackSid::from_bytes(sid_bytes(9, n)),
        format!("track-{n}"),
        kind,
        if kind == TrackKind::Audio {
            RecordingCodec::Opus
        } else {
            RecordingCodec::Vp8
        },
        at,
    )
}

/// Runs the recording checks; the rooms it uses (numbers 900 and 901) must not exist yet.
pub async fn run(store: &dyn Store) {
    let r1 = room(900, None, T0, false);
    let r2 = room(901, None, T0, false);
    store
        .apply(
            &[
                Change::InsertRoom(r1.clone()),
                Change::InsertRoom(r2.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    let mut recs = Vec::new();
    for n in 0..4u32 {
        let kind = if n % 2 == 0 {
            TrackKind::Audio
        } else {
            TrackKind::Video
        };
        let at = T0 + Span::from_secs(i64::from(n));
        recs.push(recording(900 + n / 3, n, kind, at));
    }
    let inserts: Vec<Change> = recs.iter().cloned().map(Change::InsertRecording).collect();
    store.apply(&inserts, &[]).await.unwrap();

    let got = store.recording(recs[1].sid).await.unwrap().unwrap();
    assert_eq!(got, recs[1]);
    assert_eq!(got.status, RecordingStatus::Processing);
    assert!(
        store
            .recording(RecordingSid::from_bytes(sid_bytes(7, 99)))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.processing_recordings().await.unwrap().len(), 4);

    // Completing one changes status, size and duration only.
    let mut done = recs[0].clone();
    done.complete(T0 + Span::from_secs(20), 12_345, 9_600);
    store
        .apply(&[Change::UpdateRecording(done.clone())], &[])
        .await
        .unwrap();
    assert_eq!(store.recording(done.sid).await.unwrap().unwrap(), done);
    assert_eq!(store.processing_recordings().await.unwrap().len(), 3);

    // Lists: newest first, filtered, paged.
    let all = RecordingFilter::default();
    let page = store
        .list_recordings(account(), &all, &first(3))
        .await
        .unwrap();
    let sids: Vec<_> = page.items.iter().map(|r| r.sid).collect();
    assert_eq!(sids, [recs[3].sid, recs[2].sid, recs[1].sid]);
    assert!(page.has_next);
    let rest = store
        .list_recordings(account(), &all, &after(3, recs[1].sid.to_string()))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(!rest.has_next);
    let room_only = RecordingFilter {
        room: Some(r2.sid),
        ..RecordingFilter::default()
    };
    let page = store
        .list_recordings(account(), &room_only, &first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        1,
        "only recording 3 is in the second room"
    );
    let completed = RecordingFilter {
        status: Some(RecordingStatus::Completed),
        ..RecordingFilter::default()
    };
    let page = store
        .list_recordings(account(), &completed, &first(10))
        .await
        .unwrap();
    assert_eq!(page.items, [done.clone()]);
    let video = RecordingFilter {
        kind: Some(TrackKind::Video),
        ..RecordingFilter::default()
    };
    assert_eq!(
        store
            .list_recordings(account(), &video, &first(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let grouped = RecordingFilter {
        grouping_sids: vec![r1.sid.to_string(), recs[1].participant_sid.to_string()],
        ..RecordingFilter::default()
    };
    let page = store
        .list_recordings(account(), &grouped, &first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|r| r.sid).collect::<Vec<_>>(),
        [recs[1].sid],
        "room 900 and the odd participant"
    );
    let source = RecordingFilter {
        source_sid: Some(recs[2].track_sid.to_string()),
        created_after: Some(T0),
        created_before: Some(T0 + Span::from_secs(60)),
        ..RecordingFilter::default()
    };
    assert_eq!(
        store
            .list_recordings(account(), &source, &first(10))
            .await
            .unwrap()
            .items,
        [recs[2].clone()]
    );
    let unknown = store
        .list_recordings(
            account(),
            &all,
            &after(3, RecordingSid::from_bytes(sid_bytes(7, 77)).to_string()),
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::UnknownCursor)));
}
