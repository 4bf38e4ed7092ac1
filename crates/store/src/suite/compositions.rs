//! The compositions part of the conformance suite (called by [`super::run`]): records,
//! lists, the job queue's claims, composition hooks and media settings.
#![allow(clippy::missing_panics_doc)]

use vroom_domain::composition::{
    Composition, CompositionFormat, CompositionHook, CompositionSpec, CompositionStatus, Resolution,
};
use vroom_domain::layout::{Region, Reuse, VideoLayout};
use vroom_domain::media_settings::{MediaSettings, SettingsKind};
use vroom_domain::recording::{Recording, RecordingCodec};
use vroom_domain::room::CallbackMethod;
use vroom_domain::sid::{
    CompositionHookSid, CompositionSid, ParticipantSid, RecordingSid, TrackSid,
};
use vroom_domain::time::{Span, Timestamp};
use vroom_domain::track::TrackKind;

use crate::suite::{account, after, first, room, sid_bytes};
use crate::{Change, CompositionFilter, CompositionHookFilter, Store, StoreError};

const T0: Timestamp = Timestamp::from_secs(1_820_000_000);

fn spec() -> CompositionSpec {
    let mut grid = Region::grid("grid", vec!["*".into(), "cam-*".into()]);
    (grid.reuse, grid.max_columns, grid.z_pos) = (Reuse::ShowNewest, 3, -2);
    grid.cells_excluded = vec![1, 4];
    let mut pip = Region::grid("pip", vec![]);
    (pip.x_pos, pip.y_pos, pip.width, pip.height) = (10, 20, 160, 120);
    CompositionSpec {
        video_layout: VideoLayout {
            regions: vec![grid, pip],
        },
        audio_sources: vec!["alice".into()],
        audio_sources_excluded: vec!["bob*".into()],
        resolution: Resolution {
            width: 1280,
            height: 720,
        },
        format: CompositionFormat::Webm,
        trim: false,
        status_callback: Some("https://example.com/cb".into()),
        status_callback_method: CallbackMethod::Get,
    }
}

fn composition(n: u32, room_n: u32, at: Timestamp) -> Composition {
    Composition::enqueue(
        CompositionSid::from_bytes(sid_bytes(11, n)),
        account(),
        room(room_n, None, T0, false).sid,
        if n == 0 {
            spec()
        } else {
            CompositionSpec {
                audio_sources: vec!["*".into()],
                ..CompositionSpec::default()
            }
        },
        at,
    )
}

/// Runs the composition checks; the rooms it uses (numbers 910 to 912) must not exist yet.
pub async fn run(store: &dyn Store) {
    compositions_and_their_jobs(store).await;
    hooks(store).await;
    settings(store).await;
}

async fn compositions_and_their_jobs(store: &dyn Store) {
    let (mut ended, mut recording_room) = (room(910, None, T0, false), room(911, None, T0, false));
    let live = room(912, None, T0, false);
    ended.complete(T0 + Span::from_secs(30));
    recording_room.complete(T0 + Span::from_secs(30));
    let busy = Recording::start(
        RecordingSid::from_bytes(sid_bytes(12, 1)),
        account(),
        recording_room.sid,
        ParticipantSid::from_bytes(sid_bytes(8, 1)),
        TrackSid::from_bytes(sid_bytes(9, 50)),
        "mic".into(),
        TrackKind::Audio,
        RecordingCodec::Opus,
        T0,
    );
    store
        .apply(
            &[
                Change::InsertRoom(ended.clone()),
                Change::InsertRoom(recording_room.clone()),
                Change::InsertRoom(live.clone()),
                Change::InsertRecording(busy.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    // Oldest first: 0 and 1 in the ended room, 2 in the room still recording, 3 in the live one.
    let cs: Vec<Composition> = [(0, 910), (1, 910), (2, 911), (3, 912)]
        .into_iter()
        .map(|(n, r)| composition(n, r, T0 + Span::from_secs(40 + i64::from(n))))
        .collect();
    let inserts: Vec<Change> = cs.iter().cloned().map(Change::InsertComposition).collect();
    store.apply(&inserts, &[]).await.unwrap();
    assert_eq!(
        store.composition(cs[0].sid).await.unwrap().unwrap(),
        cs[0],
        "the spec reads back whole"
    );
    assert!(
        store
            .composition(CompositionSid::from_bytes(sid_bytes(11, 99)))
            .await
            .unwrap()
            .is_none()
    );

    // Lists: newest first, by room, by status, paged.
    let all = store
        .list_compositions(account(), &CompositionFilter::default(), &first(2))
        .await
        .unwrap();
    assert_eq!(
        all.items.iter().map(|c| c.sid).collect::<Vec<_>>(),
        [cs[3].sid, cs[2].sid]
    );
    assert!(all.has_next);
    let rest = store
        .list_compositions(
            account(),
            &CompositionFilter::default(),
            &after(2, cs[2].sid.to_string()),
        )
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|c| c.sid).collect::<Vec<_>>(),
        [cs[1].sid, cs[0].sid]
    );
    let in_room = CompositionFilter {
        room: Some(ended.sid),
        created_after: Some(T0),
        created_before: Some(T0 + Span::from_secs(41)),
        ..CompositionFilter::default()
    };
    assert_eq!(
        store
            .list_compositions(account(), &in_room, &first(10))
            .await
            .unwrap()
            .items,
        [cs[0].clone()]
    );
    let unknown = store
        .list_compositions(
            account(),
            &CompositionFilter::default(),
            &after(2, CompositionSid::from_bytes(sid_bytes(11, 98)).to_string()),
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::UnknownCursor)));

    // Claims: only jobs whose room ended and has no recording processing, oldest first, one
    // claimant at a time until the claim lapses or is released.
    let now = T0 + Span::from_secs(60);
    let until = now + Span::from_secs(30);
    let a = store
        .claim_composition("node-a", now, until)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.sid, a.attempts), (cs[0].sid, 1));
    let b = store
        .claim_composition("node-b", now, until)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.sid, cs[1].sid);
    assert!(
        store
            .claim_composition("node-b", now, until)
            .await
            .unwrap()
            .is_none(),
        "2 records, 3 is live"
    );
    assert!(
        store
            .hold_composition(a.sid, "node-a", until + Span::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        !store
            .hold_composition(a.sid, "node-b", until)
            .await
            .unwrap(),
        "not node-b's claim"
    );
    let mut started = a.clone();
    started.start();
    store
        .apply(&[Change::UpdateComposition(started.clone())], &[])
        .await
        .unwrap();
    // node-b's claim lapses: node-a takes that job over, a second attempt.
    let later = until + Span::from_secs(1);
    let again = store
        .claim_composition("node-a", later, later + Span::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.sid, again.attempts), (cs[1].sid, 2));
    // node-a restarts: its claims end, the processing job is claimed again at once.
    store.release_compositions("node-a").await.unwrap();
    let retried = store
        .claim_composition("node-c", later, later + Span::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (retried.sid, retried.status, retried.attempts),
        (cs[0].sid, CompositionStatus::Processing, 2)
    );
    // The recording completes: job 2 becomes ready. A finished job is never claimed again.
    let mut done_rec = busy;
    done_rec.complete(later, 1000, 9000);
    let mut finished = retried;
    finished.complete(later, 123_456, 29_500);
    let mut failed = again;
    failed.fail(later, "ffmpeg exited with 1");
    store
        .apply(
            &[
                Change::UpdateRecording(done_rec),
                Change::UpdateComposition(finished.clone()),
                Change::UpdateComposition(failed.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        store.composition(finished.sid).await.unwrap().unwrap(),
        finished
    );
    assert_eq!(
        store.composition(failed.sid).await.unwrap().unwrap(),
        failed
    );
    store.release_compositions("node-c").await.unwrap();
    let third = store
        .claim_composition("node-c", later, later + Span::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.sid, cs[2].sid);
    assert!(
        store
            .claim_composition("node-c", later, later + Span::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    let completed = CompositionFilter {
        status: Some(CompositionStatus::Completed),
        ..CompositionFilter::default()
    };
    assert_eq!(
        store
            .list_compositions(account(), &completed, &first(10))
            .await
            .unwrap()
            .items,
        [finished]
    );
}

async fn hooks(store: &dyn Store) {
    let hook = |n: u32, name: &str, enabled: bool| CompositionHook {
        sid: CompositionHookSid::from_bytes(sid_bytes(13, n)),
        account_sid: account(),
        friendly_name: name.to_owned(),
        enabled,
        spec: spec(),
        date_created: T0 + Span::from_secs(i64::from(n)),
        date_updated: None,
    };
    let (h1, h2) = (hook(1, "record all", true), hook(2, "audio", false));
    store
        .apply(
            &[
                Change::InsertCompositionHook(h1.clone()),
                Change::InsertCompositionHook(h2.clone()),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store.composition_hook(h1.sid).await.unwrap().unwrap(), h1);
    // The enabled hook should compose the ended room with recordings (911), not the one without.
    let recorded = room(911, None, T0, false).sid;
    assert_eq!(
        store.rooms_for_hooks(10).await.unwrap(),
        [(h1.sid, recorded)]
    );
    let mut made = composition(5, 911, T0 + Span::from_secs(100));
    made.hook = Some(h1.sid);
    store
        .apply(&[Change::InsertComposition(made.clone())], &[])
        .await
        .unwrap();
    assert_eq!(store.composition(made.sid).await.unwrap().unwrap(), made);
    assert!(store.rooms_for_hooks(10).await.unwrap().is_empty());
    let mut twice = composition(6, 911, T0 + Span::from_secs(101));
    twice.hook = Some(h1.sid);
    let again = store.apply(&[Change::InsertComposition(twice)], &[]).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyComposed)),
        "{again:?}"
    );
    let dup = store
        .apply(
            &[Change::InsertCompositionHook(hook(3, "audio", true))],
            &[],
        )
        .await;
    assert!(matches!(dup, Err(StoreError::HookNameTaken)), "{dup:?}");
    let enabled = CompositionHookFilter {
        enabled: Some(true),
        ..CompositionHookFilter::default()
    };
    assert_eq!(
        store
            .list_composition_hooks(account(), &enabled, &first(10))
            .await
            .unwrap()
            .items,
        std::slice::from_ref(&h1)
    );
    let mut changed = h2.clone();
    (changed.enabled, changed.friendly_name, changed.date_updated) =
        (true, "audio only".into(), Some(T0 + Span::from_secs(9)));
    store
        .apply(&[Change::UpdateCompositionHook(changed.clone())], &[])
        .await
        .unwrap();
    let by_name = CompositionHookFilter {
        friendly_name: Some("audio only".into()),
        ..CompositionHookFilter::default()
    };
    assert_eq!(
        store
            .list_composition_hooks(account(), &by_name, &first(10))
            .await
            .unwrap()
            .items,
        [changed.clone()]
    );
    let both = store
        .list_composition_hooks(account(), &enabled, &first(1))
        .await
        .unwrap();
    assert_eq!((both.items.len(), both.has_next), (1, true));
    store
        .apply(&[Change::DeleteCompositionHook(h1.sid)], &[])
        .await
        .unwrap();
    assert!(store.composition_hook(h1.sid).await.unwrap().is_none());
    assert_eq!(
        store
            .list_composition_hooks(account(), &enabled, &first(10))
            .await
            .unwrap()
            .items,
        [changed]
    );
}

async fn settings(store: &dyn Store) {
    assert!(
        store
            .media_settings(account(), SettingsKind::Recording)
            .await
            .unwrap()
            .is_none()
    );
    let mut s = MediaSettings::unset(SettingsKind::Recording, account());
    s.friendly_name = "archive".into();
    s.aws_s3_url = Some("https://bucket.s3.amazonaws.com/recordings".into());
    s.aws_storage_enabled = true;
    store
        .apply(&[Change::SaveMediaSettings(s.clone())], &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .media_settings(account(), SettingsKind::Recording)
            .await
            .unwrap()
            .unwrap(),
        s
    );
    assert!(
        store
            .media_settings(account(), SettingsKind::Composition)
            .await
            .unwrap()
            .is_none()
    );
    s.aws_storage_enabled = false;
    s.encryption_key_sid = Some(format!("CR{}", "a".repeat(32)));
    s.encryption_enabled = true;
    store
        .apply(&[Change::SaveMediaSettings(s.clone())], &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .media_settings(account(), SettingsKind::Recording)
            .await
            .unwrap()
            .unwrap(),
        s,
        "replaced"
    );
}
