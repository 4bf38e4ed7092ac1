//! The live path: joins at a rate into N rooms, idle participants heartbeating, kicks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use crate::http::{Conn, Target, form};
use crate::signal::{Client, unique};
use crate::{Progress, Recorder, RunOptions, Summary, due, server};

/// `join`.
#[derive(Debug, Clone, Args)]
pub struct JoinArgs {
    /// Joins per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Length of the window in which joins start, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Rooms the joins go to, round robin (created before the window).
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// How long each participant stays, ms (heartbeating), before it leaves.
    #[arg(long, default_value_t = 1000)]
    pub hold_ms: u64,
    /// Make the rooms `LargeRoom` group rooms (up to 1,000 participants each).
    #[arg(long)]
    pub large_room: bool,
}

/// `idle`.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Participants connected at once.
    #[arg(long, default_value_t = 1000)]
    pub participants: usize,
    /// Participants per room.
    #[arg(long, default_value_t = 50)]
    pub per_room: usize,
    /// Joins per second while connecting them.
    #[arg(long, default_value_t = 500.0)]
    pub connect_rate: f64,
    /// How long they stay connected once all are in, seconds.
    #[arg(long, default_value_t = 15.0)]
    pub hold_seconds: f64,
    /// Times they all connect and leave (the server's RSS is read after each).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Wait after they left before reading the RSS, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub settle_seconds: f64,
    /// Participants that connect and leave once before the start figure is read (not counted in
    /// the summary): the server's code that joins and departures run is paged in from the binary
    /// on first use (about 1.6 MB of file-backed RSS that stays), and the rounds should measure
    /// what the participants leave behind, not that. The RSS before it is reported too
    /// (`rss_cold_kib`); 0 reads the start cold.
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
}

/// `kick`.
#[derive(Debug, Clone, Args)]
pub struct KickArgs {
    /// Kicks in flight at once (each in its own room).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Length of the window, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
}

/// Creates `count` rooms for `per_room` participants each; returns their unique names and SIDs.
async fn create_rooms(
    target: &Target,
    count: usize,
    per_room: usize,
    large: bool,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut conn = Conn::open(target).await?;
    let large = large || per_room > 50;
    let max = per_room.clamp(1, if large { 1000 } else { 50 }).to_string();
    let mut rooms = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let name = format!("load-{}", unique());
        let mut pairs = vec![
            ("UniqueName", name.as_str()),
            ("MaxParticipants", max.as_str()),
        ];
        if large {
            pairs.push(("LargeRoom", "true"));
        }
        let sid = crate::rest::create_room(&mut conn, &pairs).await?;
        rooms.push((name, sid));
    }
    Ok(rooms)
}

/// Joins at a rate into N rooms; each participant holds, then leaves. With a baseline, the same
/// joins go to it after the target in each round (its rooms made by the joins themselves: the
/// bare signaling keeps rooms in memory), and the summary is the target's median round by CPU
/// per join + leave, with the baseline's median and the ratio of the two.
pub(crate) async fn join(
    target: &Target,
    a: &JoinArgs,
    opts: &RunOptions,
) -> anyhow::Result<Summary> {
    let Some(base) = &opts.baseline else {
        return join_round(target, a, opts.server_pid, true, opts.progress).await;
    };
    let bare = Target {
        base: base.trim_end_matches('/').to_owned(),
        ..target.clone()
    };
    let mut rounds = Vec::new();
    for _ in 0..opts.rounds.max(1) {
        let t = join_round(target, a, opts.server_pid, true, opts.progress).await?;
        let b = join_round(&bare, a, opts.baseline_pid, false, opts.progress).await?;
        rounds.push((t, b));
    }
    let cpu = |s: &Summary| {
        s.extra
            .get(CPU_PER_JOIN)
            .and_then(serde_json::Value::as_f64)
    };
    let median = |side: fn(&(Summary, Summary)) -> &Summary| {
        let mut by: Vec<&Summary> = rounds.iter().map(side).collect();
        by.sort_by(|x, y| {
            cpu(x)
                .unwrap_or(f64::NAN)
                .total_cmp(&cpu(y).unwrap_or(f64::NAN))
        });
        by[by.len() / 2].clone()
    };
    let mut s = median(|r| &r.0);
    let b = median(|r| &r.1);
    s.errors = rounds.iter().map(|(t, b)| t.errors + b.errors).sum();
    s.error_kinds.clear();
    for (t, b) in &rounds {
        for (k, n) in t.error_kinds.iter().chain(&b.error_kinds) {
            *s.error_kinds.entry(k.clone()).or_default() += n;
        }
    }
    let ratio = |t: Option<f64>, b: Option<f64>| match (t, b) {
        (Some(t), Some(b)) if b > 0.0 => json!((t / b * 1000.0).round() / 1000.0),
        _ => serde_json::Value::Null,
    };
    let mut baseline = json!({"url": bare.base, "ok": b.ok, "errors": b.errors,
        "latency": b.latency.map(|q| q.to_json())});
    for k in [
        CPU_PER_JOIN,
        "frames_per_join_leave",
        "bytes_per_join_leave",
    ] {
        if let Some(v) = b.extra.get(k) {
            baseline[k] = v.clone();
        }
    }
    s.extra.insert("baseline".into(), baseline);
    s.extra
        .insert("cpu_ratio_of_medians".into(), ratio(cpu(&s), cpu(&b)));
    s.extra.insert(
        "rounds".into(),
        json!(rounds.iter().map(|(t, b)| json!({
            "target_cpu_ms": cpu(t), "baseline_cpu_ms": cpu(b), "ratio": ratio(cpu(t), cpu(b)),
            "target_errors": t.errors, "baseline_errors": b.errors,
        })).collect::<Vec<_>>()),
    );
    Ok(s)
}

/// The summary's name for the server's CPU per join + leave, ms.
const CPU_PER_JOIN: &str = "server_cpu_ms_per_join_leave";

/// One round of [`join`] against `target`, whose pid is `pid`. `create`: the rooms are made
/// over REST first (vroom's); otherwise the joins name fresh rooms (the bare signaling's).
async fn join_round(
    target: &Target,
    a: &JoinArgs,
    pid: Option<u32>,
    create: bool,
    progress: bool,
) -> anyhow::Result<Summary> {
    let rooms = if create {
        create_rooms(target, a.rooms, 1000, a.large_room).await?
    } else {
        (0..a.rooms.max(1))
            .map(|_| (format!("load-{}", unique()), String::new()))
            .collect()
    };
    let rooms = Arc::new(rooms);
    let url = Arc::new(target.signaling_url());
    let rec = Arc::new(Recorder::default());
    let received = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let label = if create { "join" } else { "baseline join" };
    let _progress = Progress::start(progress, label.into(), Arc::clone(&rec));
    let cpu = || pid.and_then(|p| server::cpu(p).ok());
    let cpu0 = cpu();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.seconds);
    let hold = Duration::from_millis(a.hold_ms);
    let mut tasks = Vec::new();
    for k in 0u64.. {
        if due(start, k, a.rate).await >= end {
            break;
        }
        let (name, _) = &rooms[(k as usize) % rooms.len()];
        let token = target.token(&format!("j{k}"), name)?;
        let (rec, url, name) = (Arc::clone(&rec), Arc::clone(&url), name.clone());
        let received = Arc::clone(&received);
        tasks.push(tokio::spawn(async move {
            match Client::join(&url, &token, &name).await {
                Ok((mut c, took)) => {
                    rec.ok(took);
                    if let Err(e) = c.idle(hold).await {
                        rec.error(format!("while held: {e}"));
                    }
                    received.0.fetch_add(c.received.0, Ordering::Relaxed);
                    received.1.fetch_add(c.received.1, Ordering::Relaxed);
                    if let Err(e) = c.leave().await {
                        rec.error(format!("leave: {e}"));
                    }
                }
                Err(e) => rec.error(format!("join: {e}")),
            }
        }));
    }
    let started = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.context("a participant task panicked")?;
    }
    let mut s = Summary::from_recorder("join", &target.base, started, &rec);
    s.extra.insert("rate".into(), json!(a.rate));
    s.extra.insert("rooms".into(), json!(a.rooms));
    s.extra.insert("hold_ms".into(), json!(a.hold_ms));
    s.extra.insert("large_room".into(), json!(a.large_room));
    if let (Some(c0), Some(c1)) = (cpu0, cpu()) {
        let per = (c1 - c0).as_secs_f64() * 1000.0 / s.ok.max(1) as f64;
        s.extra
            .insert(CPU_PER_JOIN.into(), json!((per * 1000.0).round() / 1000.0));
    }
    // What the participants were sent while joined (welcome, connected, the others' updates),
    // per join: the same shapes and count from vroom and the baseline.
    let per = |n: &AtomicU64| {
        (n.load(Ordering::Relaxed) as f64 / s.ok.max(1) as f64 * 10.0).round() / 10.0
    };
    s.extra
        .insert("frames_per_join_leave".into(), json!(per(&received.0)));
    s.extra
        .insert("bytes_per_join_leave".into(), json!(per(&received.1)));
    Ok(s)
}

/// Idle participants: connect them all, hold, leave; the server's RSS around each round.
pub(crate) async fn idle(
    target: &Target,
    a: &IdleArgs,
    opts: &RunOptions,
) -> anyhow::Result<Summary> {
    let per_room = a.per_room.max(1);
    let rooms =
        Arc::new(create_rooms(target, a.participants.div_ceil(per_room), per_room, false).await?);
    let url = Arc::new(target.signaling_url());
    let rec = Arc::new(Recorder::default());
    let rss = |_: ()| opts.server_pid.and_then(|p| server::rss_kib(p).ok());
    let anon = || opts.server_pid.and_then(|p| server::rss_anon_kib(p).ok());
    let rss_cold = rss(());
    let anon_cold = anon();
    if a.warmup > 0 {
        let warm = Wave {
            participants: a.warmup.min(a.participants),
            hold: Duration::from_secs(1),
            ..Wave::of(a, "warmup")
        };
        let unseen = Arc::new(Recorder::default());
        warm.run(target, &rooms, &url, &unseen).await?;
        if unseen.errors() > 0 {
            anyhow::bail!("the warm-up failed: {} errors", unseen.errors());
        }
        tokio::time::sleep(Duration::from_secs_f64(a.settle_seconds)).await;
    }
    let _progress = Progress::start(opts.progress, "idle".into(), Arc::clone(&rec));
    let rss_start = rss(());
    let anon_start = anon();
    let mut rounds = Vec::new();
    let t0 = Instant::now();
    for round in 0..a.rounds.max(1) {
        let before = rss(());
        let tag = round.to_string();
        let wave = Wave::of(a, &tag);
        let (n, held) = wave
            .run_then(target, &rooms, &url, &rec, || rss(()))
            .await?;
        tokio::time::sleep(Duration::from_secs_f64(a.settle_seconds)).await;
        let after = rss(());
        let anon_after = anon();
        let per = match (before, held) {
            (Some(b), Some(h)) if n > 0 => Some(h.saturating_sub(b) as f64 / n as f64),
            _ => None,
        };
        if opts.progress {
            eprintln!(
                "[idle round {}] {n} connected; server RSS KiB before {before:?}, connected {held:?}, after {after:?}; KiB each {per:?}",
                round + 1
            );
        }
        rounds.push(
            json!({"connected": n, "rss_before_kib": before, "rss_connected_kib": held,
            "rss_after_kib": after, "rss_anon_after_kib": anon_after,
            "kib_per_participant": per.map(|p| (p * 10.0).round() / 10.0)}),
        );
    }
    let mut s = Summary::from_recorder("idle", &target.base, t0.elapsed().as_secs_f64(), &rec);
    s.extra.insert("participants".into(), json!(a.participants));
    s.extra.insert("warmup".into(), json!(a.warmup));
    s.extra.insert("rss_cold_kib".into(), json!(rss_cold));
    s.extra.insert("rss_start_kib".into(), json!(rss_start));
    s.extra.insert("rss_anon_cold_kib".into(), json!(anon_cold));
    s.extra
        .insert("rss_anon_start_kib".into(), json!(anon_start));
    s.extra.insert("rounds".into(), json!(rounds));
    Ok(s)
}

/// One wave of idle participants: they connect at a rate, heartbeat while held, then leave.
struct Wave<'a> {
    participants: usize,
    per_room: usize,
    connect_rate: f64,
    hold: Duration,
    /// Part of every identity, so no wave takes over another's.
    tag: &'a str,
}

impl<'a> Wave<'a> {
    fn of(a: &IdleArgs, tag: &'a str) -> Self {
        Self {
            participants: a.participants,
            per_room: a.per_room.max(1),
            connect_rate: a.connect_rate,
            hold: Duration::from_secs_f64(a.hold_seconds),
            tag,
        }
    }

    async fn run(
        &self,
        target: &Target,
        rooms: &Arc<Vec<(String, String)>>,
        url: &Arc<String>,
        rec: &Arc<Recorder>,
    ) -> anyhow::Result<u64> {
        Ok(self.run_then(target, rooms, url, rec, || None).await?.0)
    }

    /// Runs the wave; how many connected, and what `held` read while they all were.
    async fn run_then(
        &self,
        target: &Target,
        rooms: &Arc<Vec<(String, String)>>,
        url: &Arc<String>,
        rec: &Arc<Recorder>,
        held: impl FnOnce() -> Option<u64>,
    ) -> anyhow::Result<(u64, Option<u64>)> {
        let connected = Arc::new(AtomicU64::new(0));
        let (leave_tx, leave_rx) = tokio::sync::watch::channel(false);
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(self.participants);
        for k in 0..self.participants {
            due(start, k as u64, self.connect_rate).await;
            let (name, _) = &rooms[k / self.per_room];
            let token = target.token(&format!("idle-{}-{k}", self.tag), name)?;
            let (rec, url, name, connected) = (
                Arc::clone(rec),
                Arc::clone(url),
                name.clone(),
                Arc::clone(&connected),
            );
            let mut leave = leave_rx.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = match Client::join(&url, &token, &name).await {
                    Ok((c, took)) => {
                        rec.ok(took);
                        c
                    }
                    Err(e) => return rec.error(format!("join: {e}")),
                };
                connected.fetch_add(1, Ordering::Relaxed);
                // Heartbeat in slices until told to leave.
                while !*leave.borrow() {
                    tokio::select! {
                        r = c.idle(c.heartbeat) => if let Err(e) = r {
                            return rec.error(format!("while idle: {e}"));
                        },
                        _ = leave.changed() => {}
                    }
                }
                if let Err(e) = c.leave().await {
                    rec.error(format!("leave: {e}"));
                }
            }));
        }
        // Everyone who will connect is in (or failed): hold.
        let errors_before = rec.errors();
        let until = Instant::now() + Duration::from_secs(30);
        while connected.load(Ordering::Relaxed) + rec.errors() - errors_before
            < self.participants as u64
            && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(self.hold).await;
        let held = held();
        let n = connected.load(Ordering::Relaxed);
        let _ = leave_tx.send(true);
        for t in tasks {
            t.await.context("a participant task panicked")?;
        }
        Ok((n, held))
    }
}

/// Kicks: a participant joins, the REST kick is sent, and the time until its socket learns its
/// session ended is recorded.
pub(crate) async fn kick(
    target: &Target,
    a: &KickArgs,
    opts: &RunOptions,
) -> anyhow::Result<Summary> {
    let rooms = create_rooms(target, a.concurrency, 50, false).await?;
    let url = Arc::new(target.signaling_url());
    let rec = Arc::new(Recorder::default());
    let _progress = Progress::start(opts.progress, "kick".into(), Arc::clone(&rec));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::new();
    for (w, (name, sid)) in rooms.into_iter().enumerate() {
        let (rec, url, target) = (Arc::clone(&rec), Arc::clone(&url), target.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(mut conn) = Conn::open(&target).await else {
                return rec.error("REST connection");
            };
            let kick = form(&[("Status", "disconnected")]);
            for n in 0u64.. {
                // At least one each, however long the set-up took (a busy machine can outlast a
                // short window).
                if n > 0 && Instant::now() >= end {
                    break;
                }
                let Ok(token) = target.token(&format!("kick-{w}-{n}"), &name) else {
                    return rec.error("token");
                };
                let mut c = match Client::join(&url, &token, &name).await {
                    Ok((c, _)) => c,
                    Err(e) => {
                        rec.error(format!("join: {e}"));
                        continue;
                    }
                };
                let path = format!("/v1/Rooms/{sid}/Participants/{}", c.participant_sid);
                let sent = Instant::now();
                let (rest, ended) = tokio::join!(
                    conn.expect(Method::POST, &path, Some(&kick), StatusCode::ACCEPTED),
                    async { c.ended().await.map(|()| sent.elapsed()) }
                );
                match (rest, ended) {
                    (Ok(_), Ok(took)) => rec.ok(took),
                    (Err(e), _) => rec.error(format!("kick: {e}")),
                    (_, Err(e)) => rec.error(format!("kicked client: {e}")),
                }
            }
        }));
    }
    for t in tasks {
        t.await.context("a kick worker panicked")?;
    }
    let mut s = Summary::from_recorder("kick", &target.base, a.seconds, &rec);
    s.extra.insert("concurrency".into(), json!(a.concurrency));
    Ok(s)
}
