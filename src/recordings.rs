//! Recordings between the media server and the store: a finished recording's record is completed
//! (or failed) when the media server reports its file done, and at start every recording a stop or
//! crash left `processing` is settled from what its file holds. Either way the room's status
//! callback is told (`recording-completed` or `recording-failed`), in the same write.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use vroom_domain::event::{EventKind, RecordingFacts, StatusEvent};
use vroom_domain::recording::{Recording, RecordingStatus};
use vroom_rooms::clock::Clock;
use vroom_sfu::{RecordingDone, RecordingOutcome};
use vroom_store::{Change, Store, StoreResult};

/// Settles one recording from its outcome.
fn settle(rec: &mut Recording, outcome: &RecordingOutcome, clock: &dyn Clock) {
    match outcome {
        RecordingOutcome::Completed { size, media_ms } => {
            rec.complete(clock.now(), *size, *media_ms)
        }
        RecordingOutcome::Failed(_) => rec.fail(clock.now()),
    }
}

/// Completes or fails the records of recordings as the media server finishes them, until the
/// media server stops.
pub async fn follow(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut finished: mpsc::UnboundedReceiver<RecordingDone>,
) {
    while let Some(done) = finished.recv().await {
        if let Err(e) = finish(store.as_ref(), clock.as_ref(), &done).await {
            // The record stays processing; the next start settles it from the file.
            tracing::warn!(error = %e, recording = %done.recording, "cannot record a finished recording");
        }
    }
}

async fn finish(store: &dyn Store, clock: &dyn Clock, done: &RecordingDone) -> StoreResult<()> {
    let Some(mut rec) = store.recording(done.recording).await? else {
        return Ok(());
    };
    if let RecordingOutcome::Failed(why) = &done.outcome {
        tracing::info!(recording = %rec.sid, why, "a recording failed");
    }
    settle(&mut rec, &done.outcome, clock);
    let events = settled_event(store, &rec, &done.outcome, clock).await?;
    store.apply(&[Change::UpdateRecording(rec)], &events).await
}

/// The `recording-completed` or `recording-failed` event of `rec`, just settled, for its room's
/// status callback (none when the room has none).
async fn settled_event(
    store: &dyn Store,
    rec: &Recording,
    outcome: &RecordingOutcome,
    clock: &dyn Clock,
) -> StoreResult<Vec<StatusEvent>> {
    let Some(room) = store.room(rec.room_sid).await? else {
        return Ok(Vec::new());
    };
    if room.settings.status_callback.is_none() {
        return Ok(Vec::new());
    }
    let identity = store
        .participant(rec.participant_sid)
        .await?
        .map(|p| p.identity)
        .unwrap_or_default();
    let (kind, failure) = match (rec.status, outcome) {
        (RecordingStatus::Completed, _) => (EventKind::RecordingCompleted, None),
        (_, RecordingOutcome::Failed(why)) => (EventKind::RecordingFailed, Some(why.clone())),
        _ => (EventKind::RecordingFailed, None),
    };
    let seq = store.next_event_sequence(room.sid).await?;
    let facts = RecordingFacts::of(rec, &identity, failure);
    Ok(
        StatusEvent::for_recording(&room, kind, facts, clock.now(), seq)
            .into_iter()
            .collect(),
    )
}

/// Settles the recordings left `processing` by a stop or crash: a file with media is made final
/// (cut to its last whole cluster, its duration written) and the recording completed; without
/// one it failed.
///
/// # Errors
/// When the store cannot be read or written.
pub async fn recover(store: &dyn Store, clock: &dyn Clock, media_dir: &Path) -> StoreResult<()> {
    for mut rec in store.processing_recordings().await? {
        let path = media_dir.join(rec.file_name());
        let outcome = match tokio::task::spawn_blocking({
            let path = path.clone();
            move || vroom_sfu::recover_recording(&path)
        })
        .await
        {
            Ok(Ok(Some((size, media_ms)))) => RecordingOutcome::Completed { size, media_ms },
            Ok(Ok(None)) => RecordingOutcome::Failed("no media".into()),
            Ok(Err(e)) => RecordingOutcome::Failed(e.to_string()),
            Err(e) => RecordingOutcome::Failed(e.to_string()),
        };
        tracing::info!(recording = %rec.sid, ?outcome, "a recording left unfinished by the last run is settled");
        settle(&mut rec, &outcome, clock);
        let events = settled_event(store, &rec, &outcome, clock).await?;
        store
            .apply(&[Change::UpdateRecording(rec)], &events)
            .await?;
    }
    Ok(())
}
