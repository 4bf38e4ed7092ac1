//! `vroom-bench`: how much CPU vroom's media server spends per forwarded stream.
//!
//! It starts the vroom binary given with `--vroom` (a release build) on a temporary database, connects
//! N publishers and M subscribers to one room — each a str0m WebRTC client speaking the signaling
//! twilio-video.js speaks, over a real WebSocket and real UDP on 127.0.0.1 — lets publishers send a
//! synthetic Opus stream (50 frames/s) and a synthetic VP8 stream (30 frames/s), waits until every
//! subscriber receives every stream, and then measures, over a fixed window, the CPU time of the vroom
//! process (from /proc) and the frames subscribers received.
//!
//! ```text
//! cargo build --release && cargo run --release -p vroom-bench -- --publishers 2 --subscribers 4
//! ```

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use vroom_testkit::{SignalClient, connect_body, track};

#[derive(Parser, Debug, Clone)]
#[command(about = "Measures vroom's media server CPU per forwarded stream")]
struct Args {
    /// The vroom binary to run (a release build).
    #[arg(long, default_value = "target/release/vroom")]
    vroom: String,
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
    #[arg(long)]
    simulcast: bool,
}

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const KEY: &str = "SK00000000000000000000000000000001";
const SECRET: &str = "bench-secret-0123456789abcdef0123";

/// What the subscribers received, across all of them.
#[derive(Default)]
struct Received {
    frames: AtomicU64,
    bytes: AtomicU64,
    /// Frames publishers handed to their WebRTC stack, so delivery can be checked against them.
    sent: AtomicU64,
}

fn token(identity: &str) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = json!({
        "jti": format!("{KEY}-{now}"), "iss": KEY, "sub": ACCOUNT, "nbf": now, "exp": now + 3600,
        "grants": {"identity": identity, "video": {"room": "bench"}},
    });
    let header = jsonwebtoken::Header {
        cty: Some("twilio-fpa;v=1".into()),
        typ: Some("JWT".into()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
    };
    Ok(jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )?)
}

/// CPU time (user + system) of a process so far, from /proc (clock ticks of 10 ms).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).context("utime")?.parse::<u64>()?
        + fields.get(12).context("stime")?.parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

struct Client {
    signal: SignalClient,
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    pc: String,
    media: Option<(Mid, Mid)>,
    received: Arc<Received>,
    /// Distinct m-lines media arrived on.
    streams_seen: std::collections::HashSet<Mid>,
}

impl Client {
    async fn join(
        ws: &str,
        identity: &str,
        publish: bool,
        simulcast: bool,
        received: Arc<Received>,
    ) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp")?);
        let mut change = rtc.sdp_api();
        let tracks = if publish {
            let a = change.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some("-".into()),
                Some(format!("{identity}-mic")),
                None,
            );
            let layers = simulcast.then(|| {
                let mut s = str0m::media::Simulcast::new();
                for rid in LAYERS {
                    s.add_send_layer(str0m::media::SimulcastLayer::new(rid));
                }
                s
            });
            let v = change.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some("-".into()),
                Some(format!("{identity}-cam")),
                layers,
            );
            vec![
                (a, track(&format!("{identity}-mic"), "audio", "mic")),
                (v, track(&format!("{identity}-cam"), "video", "cam")),
            ]
        } else {
            change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
            change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
            Vec::new()
        };
        let (offer, pending) = change.apply().context("an offer")?;
        let pc = format!("pc-{identity}");
        let mut body = connect_body(
            &token(identity)?,
            Some("bench"),
            &tracks.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        );
        body["peer_connections"] = json!([{"id": pc, "description": {"type": "offer", "revision": 1, "sdp": offer.to_sdp_string()}}]);
        let mut signal = SignalClient::open(ws).await?;
        signal.hello(body).await;
        let connected = signal.next_of("connected").await.context("connected")?;
        let answer = connected["peer_connections"][0]["description"]["sdp"]
            .as_str()
            .context("an answer")?;
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(answer)?)?;
        signal.session = connected["session"].as_str().map(str::to_owned);
        let media = publish.then(|| (tracks[0].0, tracks[1].0));
        Ok(Self {
            signal,
            rtc,
            socket,
            local,
            pc,
            media,
            received,
            streams_seen: Default::default(),
        })
    }

    /// Answers server offers (renegotiations adding the tracks this client receives).
    async fn on_signal(&mut self, frame: &Value) -> anyhow::Result<()> {
        if frame["type"] != "msg" {
            return Ok(());
        }
        for pc in frame["body"]["peer_connections"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let d = &pc["description"];
            if d["type"] == "offer" {
                let offer = SdpOffer::from_sdp_string(d["sdp"].as_str().unwrap_or_default())?;
                let answer = self.rtc.sdp_api().accept_offer(offer)?;
                let session = self.signal.session.clone();
                self.signal
                    .msg(json!({"session": session, "type": "update", "version": 2, "peer_connections": [{
                        "id": self.pc, "description": {"type": "answer", "revision": d["revision"], "sdp": answer.to_sdp_string()}}]}))
                    .await;
            }
        }
        Ok(())
    }

    /// Polls str0m until it wants a timeout; returns when.
    async fn drain(&mut self) -> anyhow::Result<Instant> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    self.socket.send_to(&t.contents, t.destination).await?;
                }
                Output::Event(Event::MediaData(d)) => {
                    self.streams_seen.insert(d.mid);
                    self.received.frames.fetch_add(1, Ordering::Relaxed);
                    self.received
                        .bytes
                        .fetch_add(d.data.len() as u64, Ordering::Relaxed);
                }
                Output::Event(_) => {}
            }
        }
    }

    async fn run(
        mut self,
        args: Args,
        ready: Arc<AtomicU64>,
        expected_streams: usize,
    ) -> anyhow::Result<()> {
        let mut buf = vec![0u8; 2000];
        let start = Instant::now();
        let mut next_audio = start;
        let mut next_video = start;
        let (mut n_audio, mut n_video) = (0u64, 0u64);
        let mut counted = false;
        // vroom closes a signaling connection silent for three heartbeat periods, as Twilio does.
        let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
        let payload_video = vec![0x10u8; args.video_bytes];
        let payload_audio = vec![0xfcu8; args.audio_bytes];
        loop {
            let timeout = self.drain().await?;
            if !counted && self.streams_seen.len() >= expected_streams {
                counted = true;
                ready.fetch_add(1, Ordering::Relaxed);
            }
            let mut deadline = timeout;
            if self.media.is_some() {
                deadline = deadline.min(next_audio).min(next_video);
            }
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let (n, source) = r?;
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: self.local, contents });
                        self.rtc.handle_input(input)?;
                    }
                }
                _ = heartbeat.tick() => {
                    self.signal.send(&json!({"type": "heartbeat"})).await;
                }
                frame = self.signal.next_raw(Duration::from_secs(3600)) => {
                    match frame {
                        Some(f) => self.on_signal(&f).await?,
                        None => bail!("the signaling connection closed"),
                    }
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    if let Some((audio, video)) = self.media {
                        if now >= next_audio {
                            n_audio += 1;
                            next_audio += Duration::from_millis(20);
                            write(&mut self.rtc, audio, now, MediaTime::new(n_audio * 960, Frequency::FORTY_EIGHT_KHZ), &payload_audio, &self.received.sent)?;
                        } else if now >= next_video {
                            n_video += 1;
                            next_video += Duration::from_millis(33);
                            let time = MediaTime::from_90khz(n_video * 3000);
                            if args.simulcast {
                                write_layers(&mut self.rtc, video, now, time, &payload_video, &self.received.sent)?;
                            } else {
                                write(&mut self.rtc, video, now, time, &payload_video, &self.received.sent)?;
                            }
                        }
                    }
                    self.rtc.handle_input(Input::Timeout(Instant::now()))?;
                }
            }
        }
    }
}

/// Writes one frame on `mid` (in layer `rid`, if given) with its first negotiated payload type;
/// false before negotiation.
fn write_frame(
    rtc: &mut Rtc,
    mid: Mid,
    rid: Option<&str>,
    now: Instant,
    time: MediaTime,
    data: &[u8],
) -> anyhow::Result<bool> {
    let Some(writer) = rtc.writer(mid) else {
        return Ok(false);
    };
    let Some(pt) = writer
        .payload_params()
        .next()
        .map(str0m::format::PayloadParams::pt)
    else {
        return Ok(false);
    };
    let writer = match rid {
        Some(rid) => writer.rid(rid.into()),
        None => writer,
    };
    writer.write(pt, now, time, data.to_vec())?;
    Ok(true)
}

/// Writes one frame on `mid`, counted as sent.
fn write(
    rtc: &mut Rtc,
    mid: Mid,
    now: Instant,
    time: MediaTime,
    data: &[u8],
    sent: &AtomicU64,
) -> anyhow::Result<()> {
    if write_frame(rtc, mid, None, now, time, data)? {
        sent.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// The rids of the simulcast layers, lowest first, and the share of `--video-bytes` each carries.
const LAYERS: [&str; 3] = ["q", "h", "f"];
const LAYER_DIVISORS: [usize; 3] = [4, 2, 1];

/// Writes one frame in each simulcast layer on `mid` (counted once: a subscriber gets one layer).
fn write_layers(
    rtc: &mut Rtc,
    mid: Mid,
    now: Instant,
    time: MediaTime,
    data: &[u8],
    sent: &AtomicU64,
) -> anyhow::Result<()> {
    let mut wrote = false;
    for (rid, divisor) in LAYERS.iter().zip(LAYER_DIVISORS) {
        let frame = &data[..(data.len() / divisor).max(1)];
        wrote |= write_frame(rtc, mid, Some(rid), now, time, frame)?;
    }
    if wrote {
        sent.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("vroom did not start listening on {port}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.publishers == 0 {
        bail!("--publishers must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("vroom-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = tokio::process::Command::new(&args.vroom)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &format!("sqlite://{}/bench.db", dir.display()),
        ])
        .env("VROOM_ACCOUNT_SID", ACCOUNT)
        .env("VROOM_AUTH_TOKEN", "bench-token")
        .env("VROOM_API_KEY_SID", KEY)
        .env("VROOM_API_KEY_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (build it with cargo build --release)",
                args.vroom
            )
        })?;
    let pid = server.id().context("vroom's pid")?;
    wait_for_port(port).await?;
    let ws = format!("ws://127.0.0.1:{port}/signaling");

    let received = Arc::new(Received::default());
    let ready = Arc::new(AtomicU64::new(0));
    let (n, m) = (args.publishers, args.subscribers);
    let mut tasks = Vec::new();
    for i in 0..n + m {
        let publish = i < n;
        let client = Client::join(
            &ws,
            &format!("p{i}"),
            publish,
            args.simulcast,
            Arc::clone(&received),
        )
        .await?;
        // Every participant receives both tracks of every other publisher.
        let expected = 2 * (n - usize::from(publish));
        tasks.push(tokio::spawn(client.run(
            args.clone(),
            Arc::clone(&ready),
            expected,
        )));
    }
    let participants = (n + m) as u64;
    let settle = Instant::now();
    while ready.load(Ordering::Relaxed) < participants {
        if settle.elapsed() > Duration::from_secs(60) {
            bail!(
                "only {} of {participants} participants receive every stream after 60 s",
                ready.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let bandwidth estimation and jitter settle, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let me = std::process::id();
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
        "| publishers | subscribers | forwarded streams | vroom CPU (% of a core) | CPU ms per second per stream | CPU µs per forwarded frame | vroom / clients CPU | frames received /s | delivered | payload received kbit/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {m} | {streams} | {:.1} | {per_stream_ms:.2} | {per_frame_us:.1} | {:.2} | {fps:.0} | {:.1}% | {kbps:.0} |",
        cpu * 100.0,
        cpu / clients.max(f64::EPSILON),
        delivered * 100.0
    );
    println!(
        "{}",
        json!({"publishers": n, "subscribers": m, "streams": streams, "cpu_core_fraction": cpu, "cpu_ms_per_stream_second": per_stream_ms, "cpu_us_per_frame": per_frame_us, "clients_cpu_core_fraction": clients, "frames_per_second": fps, "delivered": delivered, "kbps": kbps})
    );
    Ok(())
}
