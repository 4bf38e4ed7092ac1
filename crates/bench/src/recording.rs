//! What the bench measures of recording and composing on vroom: the bytes its media store grows
//! by, how many tracks it records, and how long the composition of the recorded call takes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::Value;

use crate::vroom::rest;

/// The bytes of every file in `dir` (0 when it does not exist yet).
#[must_use]
pub fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

/// The recordings of `room`.
///
/// # Errors
/// When the REST call fails.
pub async fn recordings(http: &str, room: &str) -> anyhow::Result<Vec<Value>> {
    let list = rest(
        http,
        Method::GET,
        &format!("/v1/Rooms/{room}/Recordings?PageSize=1000"),
        &[],
    )
    .await?;
    Ok(list["recordings"].as_array().cloned().unwrap_or_default())
}

/// A composed call.
#[derive(Debug, Clone, Copy)]
pub struct Composed {
    /// The room's duration (from its first participant to its end), seconds.
    pub call_seconds: f64,
    /// From the composition's POST to its `completed` status, seconds.
    pub compose_seconds: f64,
    /// The composition's own duration, seconds.
    pub composition_seconds: f64,
    /// Recordings composed.
    pub recordings: usize,
}

/// Polls `check` every 100 ms for up to `limit`.
async fn until<F, Fut>(limit: Duration, what: &str, mut check: F) -> anyhow::Result<Value>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<Value>>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() > limit {
            bail!("{what}: not after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ends `room`, waits until every recording of it is completed, then composes them the way an
/// app would (`POST /v1/Compositions`: a grid of every video, every audio mixed, mp4) and times it
/// until `completed`.
///
/// # Errors
/// When a recording or the composition fails, or does not finish within 10 minutes.
pub async fn compose(http: &str, room: &str) -> anyhow::Result<Composed> {
    rest(
        http,
        Method::POST,
        &format!("/v1/Rooms/{room}"),
        &[("Status", "completed")],
    )
    .await?;
    let recs = until(Duration::from_secs(60), "recordings completed", || async {
        let recs = recordings(http, room).await?;
        if let Some(failed) = recs.iter().find(|r| r["status"] == "failed") {
            bail!("a recording failed: {failed}");
        }
        Ok(
            (!recs.is_empty() && recs.iter().all(|r| r["status"] == "completed"))
                .then(|| Value::from(recs.len())),
        )
    })
    .await?;
    let ended = rest(http, Method::GET, &format!("/v1/Rooms/{room}"), &[]).await?;
    let call_seconds = ended["duration"].as_f64().context("the room's duration")?;
    let started = Instant::now();
    let c = rest(
        http,
        Method::POST,
        "/v1/Compositions",
        &[
            ("RoomSid", room),
            ("VideoLayout", r#"{"grid":{"video_sources":["*"]}}"#),
            ("AudioSources", "*"),
            ("Format", "mp4"),
        ],
    )
    .await?;
    let sid = c["sid"].as_str().context("a composition SID")?.to_owned();
    let done = until(Duration::from_secs(600), "the composition", || async {
        let c = rest(http, Method::GET, &format!("/v1/Compositions/{sid}"), &[]).await?;
        match c["status"].as_str() {
            Some("completed") => Ok(Some(c)),
            Some("failed") => bail!("the composition failed: {c}"),
            _ => Ok(None),
        }
    })
    .await?;
    Ok(Composed {
        call_seconds,
        compose_seconds: started.elapsed().as_secs_f64(),
        composition_seconds: done["duration"].as_f64().unwrap_or_default(),
        recordings: recs.as_u64().unwrap_or_default() as usize,
    })
}
