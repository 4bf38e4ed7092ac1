//! `vroom-load`: drives a running vroom (any URL, given credentials) the way app servers and
//! twilio-video.js do, and measures it.
//!
//! # Layout
//! - [`stats`]: the lock-free latency histogram, error counts, the summary and its JSON line;
//! - [`http`]: the target and its credentials, keep-alive HTTP/1.1 connections, access tokens;
//! - [`signal`]: a lean signaling client (join, heartbeat like twilio-video.js, leave);
//! - `rest`: REST fetch, list, create and get (any paths) at a fixed concurrency or rate;
//! - `live`: joins at a rate into N rooms, idle participants, kicks;
//! - `callbacks`: a status-callback receiver and the event → callback latency;
//! - `cross`: a kick, completion or identity takeover issued on one node of a cluster, timed until
//!   the socket on the room's node learns of it;
//! - `server`: what `/proc` says about the server process (RSS, CPU), when given its pid;
//! - `vroom-bare` (src/bin): the bare axum baseline that answers byte-identical bodies;
//! - `vroom-seed` (src/bin): writes a large history (rooms, departed participants) into a database,
//!   through vroom's store, and prints the list paths to measure over it.
//!
//! Every scenario returns a [`Summary`]; `main` prints live progress on stderr, the summary, and
//! its JSON as the last line of stdout.

pub mod bare;
pub mod callbacks;
pub mod cross;
pub mod http;
pub mod live;
pub mod rest;
pub mod seed;
mod server;
pub mod signal;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

pub use http::Target;
pub use stats::{Recorder, Summary};

/// How a REST scenario paces its requests.
#[derive(Debug, Clone, Args)]
pub struct Pace {
    /// Connections, each with one request in flight (like `wrk -c`).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Requests per second over all connections; without it each connection sends as fast as
    /// answers come. With it, latency counts from when a request was due (no coordinated omission).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Length of the measured window, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Unmeasured warm-up before the window, seconds.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
}

/// What to drive.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// GET one participant by SID (`/v1/Rooms/{RoomSid}/Participants/{ParticipantSid}`).
    Fetch(Pace),
    /// GET a page of a room's participants (the room gets `--participants` who joined and left).
    List {
        #[command(flatten)]
        pace: Pace,
        /// `PageSize`.
        #[arg(long, default_value_t = 50)]
        page_size: u32,
        /// Participants in the room's history.
        #[arg(long, default_value_t = 50)]
        participants: u32,
    },
    /// POST `/v1/Rooms` (a group room, no unique name).
    Create(Pace),
    /// GET the given paths, each worker taking them in turn (list pages of a history written by
    /// `vroom-seed`, which prints such paths: every filter, a PageToken deep down).
    Get {
        #[command(flatten)]
        pace: Pace,
        /// A path and query to GET (`/v1/Rooms?PageSize=50`); repeat for several.
        #[arg(long = "path", required = true)]
        paths: Vec<String>,
    },
    /// Joins at a rate into N rooms: `connect` sent → `connected` received, then hold and leave.
    Join(live::JoinArgs),
    /// Idle participants that heartbeat like twilio-video.js; server memory per participant.
    Idle(live::IdleArgs),
    /// REST kick (`Status=disconnected`) → the kicked client's socket receives its end.
    Kick(live::KickArgs),
    /// Room and participant events → the status callback reaching a receiver this tool runs.
    Callbacks(callbacks::CallbackArgs),
    /// A kick, completion or identity takeover issued on another node (`--via`) than the one
    /// running the room → the participant's socket learns of it.
    Cross(cross::CrossArgs),
}

impl Scenario {
    /// The scenario's name, as in the summary.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fetch(_) => "fetch",
            Self::List { .. } => "list",
            Self::Create(_) => "create",
            Self::Get { .. } => "get",
            Self::Join(_) => "join",
            Self::Idle(_) => "idle",
            Self::Kick(_) => "kick",
            Self::Callbacks(_) => "callbacks",
            Self::Cross(_) => "cross",
        }
    }
}

/// What the run is told besides the scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Print progress to stderr every second.
    pub progress: bool,
    /// The server's process id, for its RSS and CPU time (same machine only).
    pub server_pid: Option<u32>,
    /// REST scenarios and `join`: a second URL (the bare baseline) driven with the same requests
    /// or joins, after the target, in each of `rounds`.
    pub baseline: Option<String>,
    /// The baseline's process id, for its CPU per join + leave (`join`).
    pub baseline_pid: Option<u32>,
    /// Rounds of target then baseline.
    pub rounds: usize,
}

/// Runs `scenario` against `target`. For REST scenarios and `join` with a baseline, the summary is
/// the target's median round, with the baseline's figures and the ratio in `extra`.
///
/// # Errors
/// When the scenario cannot be set up (the server is unreachable, the credentials are refused).
pub async fn run(
    target: &Target,
    scenario: &Scenario,
    opts: &RunOptions,
) -> anyhow::Result<Summary> {
    match scenario {
        Scenario::Fetch(pace)
        | Scenario::Create(pace)
        | Scenario::List { pace, .. }
        | Scenario::Get { pace, .. } => rest::run(target, scenario, pace, opts).await,
        Scenario::Join(a) => live::join(target, a, opts).await,
        Scenario::Idle(a) => live::idle(target, a, opts).await,
        Scenario::Kick(a) => live::kick(target, a, opts).await,
        Scenario::Callbacks(a) => callbacks::run(target, a, opts).await,
        Scenario::Cross(a) => cross::run(target, a, opts).await,
    }
}

/// Prints a progress line for `rec` every second until dropped.
pub(crate) struct Progress(Option<tokio::task::JoinHandle<()>>);

impl Progress {
    pub(crate) fn start(on: bool, label: String, rec: Arc<Recorder>) -> Self {
        if !on {
            return Self(None);
        }
        Self(Some(tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut last = 0;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = rec.latency.count();
                let q = rec.latency.quantiles();
                eprintln!(
                    "[{label} {:>4.0}s] ok {n} (+{}/s) errors {} p50 {} p99 {}",
                    start.elapsed().as_secs_f64(),
                    n - last,
                    rec.errors(),
                    q.map_or("-".into(), |q| format!("{:.2}ms", q.p50 as f64 / 1000.0)),
                    q.map_or("-".into(), |q| format!("{:.2}ms", q.p99 as f64 / 1000.0)),
                );
                last = n;
            }
        })))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// Sleeps until the `k`-th of `rate` per second after `start` is due.
pub(crate) async fn due(start: tokio::time::Instant, k: u64, rate: f64) -> tokio::time::Instant {
    let at = start + Duration::from_secs_f64(k as f64 / rate);
    tokio::time::sleep_until(at).await;
    at
}
