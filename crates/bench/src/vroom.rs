//! The vroom driver: starts the vroom binary and joins peers the way twilio-video.js does (one
//! WebSocket and one peer connection per participant; the server's renegotiations add the tracks a
//! participant receives).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpOffer};
use tokio::process::Child;
use tokio::time::Interval;
use vroom_testkit::{SignalClient, connect_body, track};

use crate::peer::{Peer, Received, Side};

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const KEY: &str = "SK00000000000000000000000000000001";
const SECRET: &str = "bench-secret-0123456789abcdef0123";

/// A started vroom: its process and where it listens.
pub struct Started {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, for REST.
    pub http: String,
    /// The signaling WebSocket URL.
    pub ws: String,
}

/// Starts `binary` on a temporary SQLite database in `dir`, which is its data folder too
/// (recordings go to `dir/media`).
pub async fn start(binary: &str, dir: &Path) -> anyhow::Result<Started> {
    let port = crate::free_port()?;
    let server = tokio::process::Command::new(binary)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            &dir.display().to_string(),
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
        .with_context(|| format!("cannot start {binary} (build it with cargo build --release)"))?;
    crate::wait_for_port(port).await?;
    Ok(Started {
        child: server,
        http: format!("http://127.0.0.1:{port}"),
        ws: format!("ws://127.0.0.1:{port}/signaling"),
    })
}

/// Creates the bench's group room, "bench", over REST for `participants` (recording every track
/// published in it when `record`); returns its SID. An ad-hoc room (made by the first join) holds
/// 50, so a larger one is a `LargeRoom` (up to 1,000), as an app server would make a webinar's
/// room.
pub async fn create_room(http: &str, participants: usize, record: bool) -> anyhow::Result<String> {
    let large = participants > 50;
    let max = participants.max(1).to_string();
    let mut form = vec![
        ("UniqueName", "bench"),
        ("Type", "group"),
        ("MaxParticipants", max.as_str()),
    ];
    if large {
        form.push(("LargeRoom", "true"));
    }
    if record {
        form.push(("RecordParticipantsOnConnect", "true"));
    }
    let room = rest(http, reqwest::Method::POST, "/v1/Rooms", &form)
        .await
        .context("creating the bench room")?;
    Ok(room["sid"].as_str().context("a room SID")?.to_owned())
}

/// A REST call to the bench's vroom (its account's credentials): the JSON of a 2xx answer.
///
/// # Errors
/// When the call fails or answers anything else.
pub async fn rest(
    http: &str,
    method: reqwest::Method,
    path: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let reply = reqwest::Client::new()
        .request(method, format!("{http}{path}"))
        .basic_auth(ACCOUNT, Some("bench-token"))
        .form(form)
        .send()
        .await?;
    let status = reply.status();
    let text = reply.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
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

/// A participant's signaling connection while media flows.
pub struct Signaling {
    signal: SignalClient,
    pc: String,
    /// vroom closes a signaling connection silent for three heartbeat periods, as Twilio does.
    heartbeat: Interval,
}

/// What [`Signaling`] waits for.
pub enum Due {
    Heartbeat,
    Frame(Value),
}

/// Joins room "bench" as `identity`, publishing an audio and a video track if `publish`.
pub async fn join(
    ws: &str,
    identity: &str,
    publish: bool,
    simulcast: bool,
    received: Arc<Received>,
) -> anyhow::Result<(Peer, Signaling)> {
    join_with(
        ws,
        &token(identity)?,
        "bench",
        identity,
        publish,
        simulcast,
        received,
    )
    .await
}

/// Joins `room` with `token` (whose identity is `identity`), publishing an audio and a video
/// track if `publish`.
///
/// # Errors
/// When the WebSocket or the negotiation fails.
pub async fn join_with(
    ws: &str,
    token: &str,
    room: &str,
    identity: &str,
    publish: bool,
    simulcast: bool,
    received: Arc<Received>,
) -> anyhow::Result<(Peer, Signaling)> {
    let mut peer = Peer::bind([127, 0, 0, 1].into(), received).await?;
    let (offer, pending) = peer.offer(identity, publish, simulcast)?;
    let tracks = if publish {
        vec![
            track(&format!("{identity}-mic"), "audio", "mic"),
            track(&format!("{identity}-cam"), "video", "cam"),
        ]
    } else {
        Vec::new()
    };
    let pc = format!("pc-{identity}");
    let mut body = connect_body(token, Some(room), &tracks);
    body["peer_connections"] = json!([{"id": pc, "description": {"type": "offer", "revision": 1, "sdp": offer.to_sdp_string()}}]);
    let mut signal = SignalClient::open(ws).await?;
    signal.hello(body).await;
    let connected = signal.next_of("connected").await.context("connected")?;
    let answer = connected["peer_connections"][0]["description"]["sdp"]
        .as_str()
        .context("an answer")?;
    peer.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(answer)?)?;
    signal.session = connected["session"].as_str().map(str::to_owned);
    let heartbeat = tokio::time::interval(Duration::from_secs(1));
    Ok((
        peer,
        Signaling {
            signal,
            pc,
            heartbeat,
        },
    ))
}

impl Side for Signaling {
    type Event = Due;

    async fn next(&mut self) -> anyhow::Result<Due> {
        tokio::select! {
            _ = self.heartbeat.tick() => Ok(Due::Heartbeat),
            frame = self.signal.next_raw(Duration::from_secs(3600)) => match frame {
                Some(f) => Ok(Due::Frame(f)),
                None => bail!("the signaling connection closed"),
            },
        }
    }

    /// Sends heartbeats and answers server offers (renegotiations adding the tracks this client
    /// receives).
    async fn handle(&mut self, event: Due, rtc: &mut Rtc) -> anyhow::Result<()> {
        let frame = match event {
            Due::Heartbeat => {
                self.signal.send(&json!({"type": "heartbeat"})).await;
                return Ok(());
            }
            Due::Frame(frame) => frame,
        };
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
                let answer = rtc.sdp_api().accept_offer(offer)?;
                let session = self.signal.session.clone();
                self.signal
                    .msg(json!({"session": session, "type": "update", "version": 2, "peer_connections": [{
                        "id": self.pc, "description": {"type": "answer", "revision": d["revision"], "sdp": answer.to_sdp_string()}}]}))
                    .await;
            }
        }
        Ok(())
    }
}
