//! The composer: the worker that runs composition jobs with ffmpeg.
//!
//! Jobs are the compositions themselves, in the store. The composer claims the oldest ready one
//! (its room ended, none of the room's recordings still processing; `Store::claim_composition`),
//! marks it `processing`, plans it (`vroom_domain::layout::plan`, over the room's completed
//! recordings with their lengths read by ffprobe), runs ffmpeg into a `.part` file of the media
//! store, and renames it into place before the composition is `completed` with its size,
//! duration and bit rate (or `failed`, with why). While ffmpeg runs, the claim is held and the
//! progress stored every few seconds.
//!
//! Status callbacks: a composition with a `StatusCallback` is told `composition-enqueued` (REST, or
//! here for a hook's), `composition-started`, `composition-progress` at every tenth of the work,
//! then `composition-available` or `composition-failed`, each event stored in the write that
//! changes the composition.
//!
//! Restarts: a node releases its claims when it starts, so a job its last life left
//! `processing` is claimed again at once and started over; one that was started
//! [`MAX_ATTEMPTS`](vroom_domain::composition::MAX_ATTEMPTS) times without finishing is failed
//! instead. A node that died for good leaves its claims to lapse, and other nodes take them.

pub mod ffmpeg;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vroom_domain::composition::Composition;
use vroom_domain::event::{CompositionFacts, EventKind, StatusEvent};
use vroom_domain::layout::{Source, plan};
use vroom_domain::page::PageRequest;
use vroom_domain::recording::{Recording, RecordingStatus};
use vroom_domain::sid::{CompositionSid, RandomIds};
use vroom_domain::time::Span;
use vroom_rooms::clock::Clock;
use vroom_store::{Change, RecordingFilter, Store, StoreError, StoreResult};

/// How long a claim lasts unless held again (held every [`HOLD_EVERY`] while ffmpeg runs).
const CLAIM: Span = Span::from_secs(60);
const HOLD_EVERY: Span = Span::from_secs(5);
/// How often progress is stored.
const PROGRESS_EVERY: Span = Span::from_secs(2);
/// How often the store is asked for ready jobs when nobody says one was added (a room ending or
/// a recording completing makes a waiting job ready).
const POLL: Duration = Duration::from_secs(1);

/// Where the composer finds its tools and files.
#[derive(Debug, Clone)]
pub struct ComposerConfig {
    /// The media store (recordings in, compositions out).
    pub media_dir: PathBuf,
    /// The ffmpeg program.
    pub ffmpeg: PathBuf,
    /// The ffprobe program.
    pub ffprobe: PathBuf,
}

impl ComposerConfig {
    /// Debian's ffmpeg and ffprobe from `PATH`, on `media_dir`.
    #[must_use]
    pub fn new(media_dir: PathBuf) -> Self {
        Self {
            media_dir,
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
        }
    }
}

/// The worker of one node.
pub struct Composer {
    /// The node's id: whose claims these are.
    pub node: String,
    /// Jobs and recordings.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Tools and files.
    pub config: ComposerConfig,
    /// Notified when a composition is requested.
    pub wake: Arc<Notify>,
}

impl Composer {
    /// Runs jobs until `stop`. A job cut short by the stop is left `processing` under this
    /// node's claim; the next start releases it and starts it over.
    pub async fn run(self, stop: CancellationToken) {
        if let Err(e) = self.store.release_compositions(&self.node).await {
            tracing::warn!(error = %e, "cannot release the composition jobs of the last run");
        }
        loop {
            if let Err(e) = self.hooks().await {
                tracing::warn!(error = %e, "composition hooks cannot be read or their compositions stored");
            }
            let worked = tokio::select! {
                () = stop.cancelled() => return,
                r = self.next() => r,
            };
            match worked {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "composition jobs cannot be read or written"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Enqueues a composition for every room an enabled hook should compose and has not (at
    /// most one per room and hook, whichever node gets there first).
    async fn hooks(&self) -> StoreResult<()> {
        for (hook_sid, room) in self.store.rooms_for_hooks(20).await? {
            let Some(hook) = self.store.composition_hook(hook_sid).await? else {
                continue;
            };
            let mut c = Composition::enqueue(
                CompositionSid::generate(&RandomIds),
                hook.account_sid,
                room,
                hook.spec.clone(),
                self.clock.now(),
            );
            c.hook = Some(hook.sid);
            let enqueued = self
                .event(&c, EventKind::CompositionEnqueued, CompositionFacts::of(&c))
                .await?;
            match self
                .store
                .apply(&[Change::InsertComposition(c.clone())], &enqueued)
                .await
            {
                Ok(()) => {
                    tracing::info!(composition = %c.sid, hook = %hook.sid, %room, "a composition hook composes an ended room");
                }
                Err(StoreError::AlreadyComposed) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Claims and runs one job; `false` when none is ready.
    async fn next(&self) -> StoreResult<bool> {
        let now = self.clock.now();
        let Some(mut job) = self
            .store
            .claim_composition(&self.node, now, now + CLAIM)
            .await?
        else {
            return Ok(false);
        };
        if job.out_of_attempts() {
            let why = format!(
                "started {} times without finishing",
                job.attempts.saturating_sub(1)
            );
            tracing::warn!(composition = %job.sid, why, "a composition is failed");
            job.fail(now, why);
            let failed = self
                .event(
                    &job,
                    EventKind::CompositionFailed,
                    CompositionFacts::of(&job),
                )
                .await?;
            self.store
                .apply(&[Change::UpdateComposition(job)], &failed)
                .await?;
            return Ok(true);
        }
        job.start();
        let started = self
            .event(
                &job,
                EventKind::CompositionStarted,
                CompositionFacts::of(&job),
            )
            .await?;
        self.store
            .apply(&[Change::UpdateComposition(job.clone())], &started)
            .await?;
        tracing::info!(composition = %job.sid, room = %job.room_sid, attempt = job.attempts, "composing");
        let outcome = self.compose(&mut job).await;
        let now = self.clock.now();
        let kind = match outcome {
            Ok((size, media_ms)) => {
                job.complete(now, size, media_ms);
                tracing::info!(composition = %job.sid, size, media_ms, "a composition is completed");
                EventKind::CompositionAvailable
            }
            Err(why) => {
                tracing::warn!(composition = %job.sid, why, "a composition failed");
                job.fail(now, why);
                EventKind::CompositionFailed
            }
        };
        let finished = self.event(&job, kind, CompositionFacts::of(&job)).await?;
        self.store
            .apply(&[Change::UpdateComposition(job)], &finished)
            .await?;
        Ok(true)
    }

    /// The status-callback event `kind` of `job` (none without a callback or a stored room).
    async fn event(
        &self,
        job: &Composition,
        kind: EventKind,
        facts: CompositionFacts,
    ) -> StoreResult<Vec<StatusEvent>> {
        if job.spec.status_callback.is_none() {
            return Ok(Vec::new());
        }
        let Some(room) = self.store.room(job.room_sid).await? else {
            return Ok(Vec::new());
        };
        let seq = self.store.next_event_sequence(room.sid).await?;
        Ok(
            StatusEvent::for_composition(&room, job, kind, facts, self.clock.now(), seq)
                .into_iter()
                .collect(),
        )
    }

    /// Composes `job` into the media store: `(size, media milliseconds)` of the file.
    async fn compose(&self, job: &mut Composition) -> Result<(u64, u64), String> {
        let store_err = |e: vroom_store::StoreError| e.to_string();
        let room = self
            .store
            .room(job.room_sid)
            .await
            .map_err(store_err)?
            .ok_or("the room is not stored")?;
        let recordings = completed_recordings(self.store.as_ref(), job)
            .await
            .map_err(store_err)?;
        let dir = &self.config.media_dir;
        let mut sources = Vec::new();
        let mut files = Vec::new();
        for r in recordings {
            let file = dir.join(r.file_name());
            let Ok(ms) = ffmpeg::duration_ms(&self.config.ffprobe, &file).await else {
                tracing::warn!(recording = %r.sid, "a recording's file cannot be read; it is left out");
                continue;
            };
            sources.push(Source {
                recording: r.sid,
                track_sid: r.track_sid,
                participant_sid: r.participant_sid,
                track_name: r.track_name.clone(),
                kind: r.kind,
                start_ms: r.offset,
                end_ms: r.offset + i64::try_from(ms).unwrap_or(i64::MAX),
            });
            files.push(file);
        }
        let room_span = (
            room.date_created.millis(),
            room.end_time.unwrap_or(room.date_updated).millis(),
        );
        let Some(plan) = plan(&job.spec, &sources, room_span) else {
            return Err(
                "no completed recording of the room matches the composition's sources".into(),
            );
        };
        if plan.duration_ms <= 0 {
            return Err("the selected recordings hold no media".into());
        }
        let out = dir.join(job.file_name());
        let part = dir.join(format!("{}.part", job.file_name()));
        let args = ffmpeg::arguments(&plan, &files, job.spec.resolution, job.spec.format, &part);
        let total = u64::try_from(plan.duration_ms).unwrap_or(1).max(1);
        let started = self.clock.now();
        let mut last_store = started;
        let mut last_hold = last_store;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let running = ffmpeg::run(&self.config.ffmpeg, &args, tx);
        tokio::pin!(running);
        let ran = loop {
            let done_ms = tokio::select! {
                r = &mut running => break r,
                Some(ms) = rx.recv() => ms,
            };
            let now = self.clock.now();
            let pct = u8::try_from((done_ms.min(total) * 99 / total).min(99)).unwrap_or(99);
            if now - last_hold >= HOLD_EVERY {
                last_hold = now;
                if let Ok(false) = self
                    .store
                    .hold_composition(job.sid, &self.node, now + CLAIM)
                    .await
                {
                    tracing::warn!(composition = %job.sid, "another node took this composition over");
                }
            }
            // `composition-progress` at every tenth of the work, with the time left at the pace
            // so far.
            let tenth = pct / 10 > job.progress / 10 && pct < 100;
            if pct > job.progress && (tenth || now - last_store >= PROGRESS_EVERY) {
                last_store = now;
                job.progress = pct;
                let mut events = Vec::new();
                if tenth {
                    let spent = (now - started).millis().max(0);
                    let left = u64::try_from(spent).unwrap_or(0) * u64::from(100 - pct)
                        / u64::from(pct.max(1))
                        / 1000;
                    let mut facts = CompositionFacts::of(job);
                    facts.percentage_done = pct / 10 * 10;
                    facts.seconds_remaining = Some(left);
                    events = self
                        .event(job, EventKind::CompositionProgress, facts)
                        .await
                        .unwrap_or_default();
                }
                let _ = self
                    .store
                    .apply(&[Change::UpdateComposition(job.clone())], &events)
                    .await;
            }
        };
        if let Err(e) = ran {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        tokio::fs::rename(&part, &out)
            .await
            .map_err(|e| format!("cannot move the composed file into place: {e}"))?;
        let size = tokio::fs::metadata(&out)
            .await
            .map_err(|e| format!("cannot read the composed file: {e}"))?
            .len();
        let media_ms = ffmpeg::duration_ms(&self.config.ffprobe, &out)
            .await
            .unwrap_or(total);
        Ok((size, media_ms))
    }
}

/// Every completed recording of the job's room.
async fn completed_recordings(store: &dyn Store, job: &Composition) -> StoreResult<Vec<Recording>> {
    let filter = RecordingFilter {
        room: Some(job.room_sid),
        status: Some(RecordingStatus::Completed),
        ..RecordingFilter::default()
    };
    let mut all = Vec::new();
    let mut request = PageRequest {
        size: 1000,
        cursor: None,
    };
    loop {
        let page = store
            .list_recordings(job.account_sid, &filter, &request)
            .await?;
        let last = page.items.last().map(|r| r.sid.to_string());
        all.extend(page.items);
        match (page.has_next, last) {
            (true, Some(sid)) => {
                request.cursor = Some(vroom_domain::page::Cursor {
                    direction: vroom_domain::page::Direction::After,
                    sid,
                });
            }
            _ => break,
        }
    }
    Ok(all)
}

/// Removes `.part` files a stop or crash left in the media store (their jobs start over).
pub fn remove_leftovers(media_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(media_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if name.to_string_lossy().starts_with("CJ") && name.to_string_lossy().ends_with(".part") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
