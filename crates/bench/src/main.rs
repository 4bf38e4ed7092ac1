//! `vroom-bench`: how much CPU a media server spends per forwarded stream — vroom, or Janus's
//! VideoRoom on the same load.
//!
//! It starts the server given with `--server` (vroom: the binary from `--vroom`, a release build, on
//! a temporary database; janus: `--janus`, VideoRoom over its HTTP API on loopback), connects N
//! publishers and M subscribers to one room — each a str0m WebRTC client over real UDP on 127.0.0.1
//! (ICE, DTLS-SRTP, BUNDLE) — lets publishers send a synthetic Opus stream (50 frames/s) and a
//! synthetic VP8 stream (30 frames/s), waits until every receiver gets every stream, and then
//! measures, over a fixed window, the CPU time of the server process (from /proc) and the frames
//! receivers got. With `--clip-kbps` publishers send real VP8 and Opus (encoded by ffmpeg) instead;
//! with `--record` vroom records every published track, and the summary adds the tracks recorded
//! and the bytes its media store grew by per second; `--compose` then ends the room and times the
//! composition of its recordings (`scripts/bench-recording` runs both). The summary also says how
//! many UDP datagrams were dropped in the window at the server's sockets and at the clients'
//! (`server_udp_drops`, `clients_udp_drops`), the host's UDP buffer errors and the load average
//! ([`udp`]).
//!
//! vroom's room fills at most [`MOST_PENDING`] peers ahead of those that receive every stream, and
//! a peer whose connection fails before the measurement (one of hundreds of DTLS handshakes timing
//! out on a busy machine) is joined again under its identity, so a large room's run measures the
//! whole room; `rejoined` in the summary says how many were. A peer that stops during the
//! measurement still fails the run.
//!
//! ```text
//! cargo build --release && ./target/release/vroom-bench --publishers 2 --subscribers 4
//! ./target/release/vroom-bench --server janus --publishers 2 --subscribers 4
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde_json::json;
use tokio::task::JoinHandle;

use vroom_bench::peer::{self, Received, Synthetic};
use vroom_bench::{clip, cpu_time, janus, recording, udp, vroom};

/// The media server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Server {
    Vroom,
    Janus,
}

#[derive(Parser, Debug, Clone)]
#[command(about = "Measures a media server's CPU per forwarded stream (vroom or Janus)")]
struct Args {
    /// Which server to measure.
    #[arg(long, value_enum, default_value_t = Server::Vroom)]
    server: Server,
    /// The vroom binary to run (a release build).
    #[arg(long, default_value = "target/release/vroom")]
    vroom: String,
    /// The Janus binary to run.
    #[arg(long, default_value = "/usr/bin/janus")]
    janus: String,
    /// Participants that publish audio and video (and receive the others').
    #[arg(long, default_value_t = 2)]
    publishers: usize,
    /// Participants that only receive.
    #[arg(long, default_value_t = 2)]
    subscribers: usize,
    /// Length of the measured window, seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Bytes per synthetic VP8 frame (30 per second; 1500 bytes ≈ 360 kbit/s).
    #[arg(long, default_value_t = 1500)]
    video_bytes: usize,
    /// Bytes per synthetic Opus frame (50 per second).
    #[arg(long, default_value_t = 80)]
    audio_bytes: usize,
    /// Publishers send video in three simulcast layers (rids q, h, f of a quarter, half and all of
    /// --video-bytes), as twilio-video.js does with simulcast on; subscribers get one layer each.
    /// vroom only.
    #[arg(long)]
    simulcast: bool,
    /// Creates the room with RecordParticipantsOnConnect=true, so vroom records every published
    /// track into its media store; the summary adds the tracks recorded and the bytes written per
    /// second. vroom only.
    #[arg(long)]
    record: bool,
    /// Publishers send real media, looped: VP8 at about this many kbit/s (640×360, 30 frames/s,
    /// a keyframe a second) and Opus at 32 kbit/s, encoded by ffmpeg (--video-bytes and
    /// --audio-bytes no longer apply).
    #[arg(long)]
    clip_kbps: Option<u32>,
    /// After the measured window: ends the room, waits for its recordings and times their
    /// composition (POST /v1/Compositions: a grid of every video, mp4) until it is completed.
    /// Needs --record and --clip-kbps (a composition decodes what was recorded).
    #[arg(long)]
    compose: bool,
}

/// One participant of the room: its task, whether it receives every stream yet, and what it takes
/// to join it again.
struct Slot {
    identity: String,
    publish: bool,
    expected_streams: usize,
    /// 1 once this peer receives every stream it should (its own counter, so that a peer joined
    /// again counts once).
    ready: Arc<AtomicU64>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// The running peers, and how vroom's may be joined again while the room fills.
struct Room {
    slots: Vec<Slot>,
    /// vroom's signaling URL, for joining again a peer whose connection failed before the
    /// measurement; `None` (Janus): a failed peer fails the run.
    ws: Option<String>,
    /// Peers joined again so far.
    rejoined: u64,
}

/// How many times, in all, peers may be joined again before the measurement.
const MOST_REJOINS: u64 = 50;

/// How many joined peers may still be waiting for their media while the room fills: the next
/// join waits (up to [`FILL_WAIT`]) until fewer are, so a large room fills at the pace the server
/// brings peers up rather than with hundreds of DTLS handshakes at once.
const MOST_PENDING: usize = 16;
const FILL_WAIT: Duration = Duration::from_secs(10);

impl Room {
    fn new(ws: Option<String>) -> Self {
        Self {
            slots: Vec::new(),
            ws,
            rejoined: 0,
        }
    }

    fn spawn<S: peer::Side + 'static>(
        &mut self,
        identity: &str,
        publish: bool,
        peer: peer::Peer,
        side: S,
        synthetic: Synthetic,
        expected_streams: usize,
    ) {
        let ready = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(peer.run(side, synthetic, Arc::clone(&ready), expected_streams));
        self.slots.push(Slot {
            identity: identity.to_owned(),
            publish,
            expected_streams,
            ready,
            task,
        });
    }

    /// Peers that receive every stream they should.
    fn ready(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.ready.load(Ordering::Relaxed))
            .sum()
    }

    /// Joins again, under the same identity (vroom replaces the participant), every peer whose
    /// task ended while the room fills: on this shared machine one of hundreds of DTLS handshakes
    /// may time out, and the run measures the whole room or nothing. Fails when a peer stopped and
    /// cannot be joined again (Janus, or too many already).
    async fn rejoin_failed(
        &mut self,
        args: &Args,
        synthetic: &Synthetic,
        received: &Arc<Received>,
    ) -> anyhow::Result<()> {
        for i in 0..self.slots.len() {
            if !self.slots[i].task.is_finished() {
                continue;
            }
            let slot = &mut self.slots[i];
            let why = match (&mut slot.task).await {
                Ok(Ok(())) => "it ended".to_owned(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(e) => e.to_string(),
            };
            let Some(ws) = self.ws.clone() else {
                bail!("a peer stopped before the measurement: {why}");
            };
            if self.rejoined >= MOST_REJOINS {
                bail!(
                    "a peer stopped before the measurement ({} joined again already): {why}",
                    self.rejoined
                );
            }
            self.rejoined += 1;
            eprintln!(
                "{} stopped before the measurement ({why}); joining it again",
                slot.identity
            );
            let (identity, publish, expected) =
                (slot.identity.clone(), slot.publish, slot.expected_streams);
            let (peer, side) = vroom::join(
                &ws,
                &identity,
                publish,
                args.simulcast,
                Arc::clone(received),
            )
            .await?;
            let ready = Arc::new(AtomicU64::new(0));
            let task =
                tokio::spawn(peer.run(side, synthetic.clone(), Arc::clone(&ready), expected));
            self.slots[i] = Slot {
                identity,
                publish,
                expected_streams: expected,
                ready,
                task,
            };
        }
        Ok(())
    }
}

/// Joins N publishers and M subscribers to vroom: one peer connection each.
async fn join_vroom(
    ws: &str,
    args: &Args,
    synthetic: &Synthetic,
    received: &Arc<Received>,
) -> anyhow::Result<Room> {
    let mut room = Room::new(Some(ws.to_owned()));
    let (n, m) = (args.publishers, args.subscribers);
    for i in 0..n + m {
        let publish = i < n;
        let waiting = Instant::now();
        while room
            .slots
            .len()
            .saturating_sub(usize::try_from(room.ready()).unwrap_or(0))
            >= MOST_PENDING
            && waiting.elapsed() < FILL_WAIT
        {
            room.rejoin_failed(args, synthetic, received).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let identity = format!("p{i}");
        let (peer, side) =
            vroom::join(ws, &identity, publish, args.simulcast, Arc::clone(received)).await?;
        // Every participant receives both tracks of every other publisher.
        room.spawn(
            &identity,
            publish,
            peer,
            side,
            synthetic.clone(),
            2 * (n - usize::from(publish)),
        );
    }
    Ok(room)
}

/// Joins N publishers and M subscribers to Janus: a publisher publishes on one peer connection and
/// receives the other publishers on a second; a subscriber receives every publisher on one.
async fn join_janus(
    base: &str,
    args: &Args,
    synthetic: &Synthetic,
    received: &Arc<Received>,
) -> anyhow::Result<Room> {
    let mut room = Room::new(None);
    let (n, m) = (args.publishers, args.subscribers);
    let ip = janus::host_ip()?;
    janus::Handle::open(base).await?.create_room(n).await?;
    let mut feeds = Vec::new();
    for i in 0..n {
        let (peer, handle, feed) =
            janus::publish(base, ip, &format!("p{i}"), Arc::clone(received)).await?;
        let events = handle.events();
        room.spawn(&format!("p{i}"), true, peer, handle, synthetic.clone(), 0);
        // Subscribing needs the feed's media up.
        events
            .next(|e| e["janus"] == "webrtcup")
            .await
            .context("a publisher's media coming up")?;
        feeds.push(feed);
    }
    for i in 0..n + m {
        let others: Vec<_> = feeds
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, f)| f.clone())
            .collect();
        if others.is_empty() {
            continue;
        }
        let (peer, handle) = janus::subscribe(base, ip, &others, Arc::clone(received)).await?;
        room.spawn(
            &format!("s{i}"),
            false,
            peer,
            handle,
            synthetic.clone(),
            2 * others.len(),
        );
    }
    Ok(room)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.publishers == 0 {
        bail!("--publishers must be at least 1");
    }
    if (args.simulcast || args.record) && args.server == Server::Janus {
        bail!("--simulcast and --record are measured on vroom only");
    }
    if args.simulcast && args.clip_kbps.is_some() {
        bail!("--clip-kbps sends one layer: it cannot be cut into simulcast layers");
    }
    if args.compose && !(args.record && args.clip_kbps.is_some()) {
        bail!("--compose needs --record and --clip-kbps");
    }
    let dir = std::env::temp_dir().join(format!("vroom-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let clip = match args.clip_kbps {
        Some(kbps) => Some(Arc::new(clip::Clip::make(
            &std::env::temp_dir().join("vroom-bench-clips"),
            10,
            kbps,
        )?)),
        None => None,
    };
    let synthetic = Synthetic {
        video_bytes: args.video_bytes,
        audio_bytes: args.audio_bytes,
        simulcast: args.simulcast,
        clip,
    };
    let media = dir.join("media");
    let mut vroom_http = None;
    let received = Arc::new(Received::default());
    let (mut server, room) = match args.server {
        Server::Vroom => {
            let started = vroom::start(&args.vroom, &dir).await?;
            let sid = vroom::create_room(
                &started.http,
                args.publishers + args.subscribers,
                args.record,
            )
            .await?;
            vroom_http = Some((started.http.clone(), sid));
            let room = join_vroom(&started.ws, &args, &synthetic, &received).await?;
            (started.child, room)
        }
        Server::Janus => {
            // One RTP port per peer connection; a range per run so runs never share ports.
            let base = 20_000 + (std::process::id() % 20) as u16 * 2_000;
            let (server, url) = janus::start(&args.janus, &dir, (base, base + 1_999)).await?;
            (
                server,
                join_janus(&url, &args, &synthetic, &received).await?,
            )
        }
    };
    let pid = server.id().context("the server's pid")?;
    let (n, m) = (args.publishers, args.subscribers);
    let mut room = room;
    let peers = room.slots.len() as u64;
    let settle = Instant::now();
    // A webinar's hundreds of subscribers take longer to come up than a meeting's dozen.
    let settle_for = Duration::from_secs(60)
        + Duration::from_millis(100) * u32::try_from(peers).unwrap_or(u32::MAX);
    while room.ready() < peers {
        if settle.elapsed() > settle_for {
            bail!(
                "only {} of {peers} peers receive every stream after {settle_for:?}",
                room.ready()
            );
        }
        room.rejoin_failed(&args, &synthetic, &received).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rejoined = room.rejoined;
    let tasks: Vec<_> = room.slots.into_iter().map(|s| s.task).collect();
    // Let bandwidth estimation and jitter settle, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let me = std::process::id();
    let written0 = recording::folder_bytes(&media);
    let udp0 = udp::Snapshot::take(pid);
    let (cpu0, clients0, sent0, frames0, bytes0) = (
        cpu_time(pid)?,
        cpu_time(me)?,
        received.sent.load(Ordering::Relaxed),
        received.frames.load(Ordering::Relaxed),
        received.bytes.load(Ordering::Relaxed),
    );
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, clients1, sent1, frames1, bytes1) = (
        cpu_time(pid)?,
        cpu_time(me)?,
        received.sent.load(Ordering::Relaxed),
        received.frames.load(Ordering::Relaxed),
        received.bytes.load(Ordering::Relaxed),
    );
    let drops = udp0.drops_until(&udp::Snapshot::take(pid));
    let load = udp::load_average();
    let written = (recording::folder_bytes(&media) - written0) as f64 / wall;
    // A client that stopped (its connection closed, its WebRTC stack failed) would make the figures
    // describe a smaller room than the one asked for.
    for t in tasks {
        if t.is_finished() {
            match t.await {
                Ok(Err(e)) => bail!("a client stopped during the measurement: {e:#}"),
                _ => bail!("a client stopped during the measurement"),
            }
        }
        t.abort();
    }
    let mut recorded = json!({});
    if let (true, Some((http, room))) = (args.record, &vroom_http) {
        let tracks = recording::recordings(http, room).await?.len();
        recorded = json!({"recorded_tracks": tracks, "media_bytes_per_second": written});
        if args.compose {
            let c = recording::compose(http, room).await?;
            recorded["call_seconds"] = json!(c.call_seconds);
            recorded["compose_seconds"] = json!(c.compose_seconds);
            recorded["composition_seconds"] = json!(c.composition_seconds);
            recorded["compose_seconds_per_call_minute"] =
                json!(c.compose_seconds * 60.0 / c.call_seconds.max(1.0));
            recorded["composed_recordings"] = json!(c.recordings);
        }
        println!("recording: {recorded}");
    }
    server.kill().await.ok();
    let _ = std::fs::remove_dir_all(&dir);

    let streams = 2 * n * (n - 1 + m);
    let cpu = (cpu1 - cpu0).as_secs_f64() / wall;
    let per_stream_ms = cpu * 1000.0 / streams as f64;
    // The clients (str0m endpoints in this process) encrypt and decrypt the same traffic; vroom's CPU
    // relative to theirs is a figure that survives a noisy or differently sized machine.
    let clients = (clients1 - clients0).as_secs_f64() / wall;
    let per_frame_us = cpu * 1e6 / ((frames1 - frames0) as f64 / wall).max(1.0);
    let fps = (frames1 - frames0) as f64 / wall;
    let kbps = (bytes1 - bytes0) as f64 * 8.0 / 1000.0 / wall;
    // Each frame a publisher sends should reach every other participant.
    let expected = (sent1 - sent0) as f64 * (n - 1 + m) as f64;
    let delivered = if expected > 0.0 {
        (frames1 - frames0) as f64 / expected
    } else {
        0.0
    };
    println!(
        "| server | publishers | subscribers | forwarded streams | server CPU (% of a core) | CPU ms per second per stream | CPU µs per forwarded frame | server / clients CPU | frames received /s | delivered | payload received kbit/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {:?} | {n} | {m} | {streams} | {:.1} | {per_stream_ms:.2} | {per_frame_us:.1} | {:.2} | {fps:.0} | {:.1}% | {kbps:.0} |",
        args.server,
        cpu * 100.0,
        cpu / clients.max(f64::EPSILON),
        delivered * 100.0
    );
    let mut summary = json!({"server": format!("{:?}", args.server).to_lowercase(), "publishers": n, "subscribers": m, "streams": streams, "cpu_core_fraction": cpu, "cpu_ms_per_stream_second": per_stream_ms, "cpu_us_per_frame": per_frame_us, "clients_cpu_core_fraction": clients, "frames_per_second": fps, "delivered": delivered, "kbps": kbps, "record": args.record, "clip_kbps": args.clip_kbps, "server_udp_drops": drops.server, "clients_udp_drops": drops.clients, "host_rcvbuf_errors": drops.host_rcvbuf, "host_sndbuf_errors": drops.host_sndbuf, "load_average": load, "rejoined": rejoined});
    if let (Some(all), Some(extra)) = (summary.as_object_mut(), recorded.as_object()) {
        all.extend(extra.clone());
    }
    println!("{summary}");
    Ok(())
}
