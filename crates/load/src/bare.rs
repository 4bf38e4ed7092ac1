//! `vroom-bare`'s signaling at `/signaling`: the floor vroom's CPU per join + leave is compared
//! with. It speaks what `vroom-load`'s client speaks (TCMP `hello` carrying `connect`, heartbeats,
//! `disconnect` + `bye`, the close) and answers with frames of the shapes, sizes and count vroom
//! sends (`welcome`, `connected` listing the room's members, an `update` to every other member
//! per join and per leave), over the same stack: axum's WebSocket (tungstenite) with vroom's
//! settings (1 MiB frames at most, a 1 KiB read buffer, no write buffer), TCP_NODELAY, the same
//! Tokio runtime.
//!
//! What it leaves out is what a protocol-compatible server could choose not to do: rooms and
//! members live in memory only (no durable write before anyone is told, no room task, no SFU,
//! no logs or metrics); the token's HS256 signature is checked against one API key secret and
//! its identity read, nothing more (no account, key lookup or identity rules); frames are read
//! into borrowed structs, never a `serde_json::Value`; each participant's JSON is written once
//! per change and shared by every message that lists it. What stays is what no server of this
//! protocol on this stack avoids: the TCP connection and its upgrade, reading and writing the
//! frames, one channel send and wake-up per member told of a change, and the close.
//!
//! Deliveries follow vroom's rule (crates/rooms/src/actor/told.rs) so the two send as many
//! messages: a room tells its members of its participants' changes at once unless it delivered
//! less than 20 µs per member ago (at most 20 ms), in which case the changes staged meanwhile go
//! together at the next delivery; a member's task gathers the lists queued behind the first into
//! one `update` of at most 64 participants. In a small room that is one `update` per change; in a
//! LargeRoom of hundreds taking a thousand joins a second, one per delivery.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The heartbeat timeout offered in `welcome` (vroom's default), ms.
const HEARTBEAT_MS: u64 = 5000;
/// Largest accepted frame or message (vroom's `max_frame_bytes`).
const MAX_FRAME_BYTES: usize = 1 << 20;
/// The WebSocket read buffer (vroom's `READ_BUFFER_BYTES`).
const READ_BUFFER_BYTES: usize = 1024;
/// Participant changes in one `update` at most (vroom's `MOST_PARTICIPANTS_PER_UPDATE`).
const MOST_PER_UPDATE: usize = 64;
/// The time between two deliveries of a room, per member, and at most (vroom's pace).
const PACE_PER_MEMBER: Duration = Duration::from_micros(20);
const MOST_PACE: Duration = Duration::from_millis(20);
/// How long a client told its session ended gets to close (vroom's `GOODBYE_GRACE`).
const GOODBYE_GRACE: Duration = Duration::from_secs(5);
/// How long a new connection may take to say `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);

/// The signaling floor: its rooms, by name, and the secret tokens are checked with.
pub struct Floor {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    key: Option<jsonwebtoken::DecodingKey>,
    validation: jsonwebtoken::Validation,
    /// Numbers room, participant and session SIDs (hex after a per-process prefix).
    next: AtomicU64,
    prefix: u64,
}

impl Floor {
    /// A floor that accepts tokens signed with `api_key_secret` (HS256), or any token's grants
    /// unchecked when it is `None`.
    #[must_use]
    pub fn new(api_key_secret: Option<&str>) -> Arc<Self> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        let prefix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Arc::new(Self {
            rooms: Mutex::default(),
            key: api_key_secret.map(|s| jsonwebtoken::DecodingKey::from_secret(s.as_bytes())),
            validation,
            next: AtomicU64::new(0),
            prefix,
        })
    }

    /// The `/signaling` route.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/signaling", get(upgrade))
            .with_state(Arc::clone(self))
    }

    /// A SID of 34 characters, as Twilio's: two letters, 32 hex digits.
    fn sid(&self, kind: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{kind}{:016x}{n:016x}", self.prefix)
    }

    /// The room `name`, made when first joined. Rooms stay (a run makes a few hundred).
    fn room(&self, name: &str) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = rooms.get(name) {
            return Arc::clone(r);
        }
        let room = Arc::new(Room {
            sid: self.sid("RM"),
            name: name.to_owned(),
            state: Mutex::default(),
        });
        rooms.insert(name.to_owned(), Arc::clone(&room));
        room
    }

    /// The identity a `connect`'s token grants.
    fn identity(&self, token: &str) -> Option<String> {
        let data = match &self.key {
            Some(key) => jsonwebtoken::decode::<Claims>(token, key, &self.validation),
            None => jsonwebtoken::dangerous::insecure_decode::<Claims>(token),
        };
        Some(data.ok()?.claims.grants.identity).filter(|i| !i.is_empty())
    }
}

#[derive(Deserialize)]
struct Claims {
    grants: Grants,
}

#[derive(Deserialize)]
struct Grants {
    identity: String,
}

/// One room: its members and the changes not delivered to them yet.
struct Room {
    sid: String,
    name: String,
    state: Mutex<RoomState>,
}

#[derive(Default)]
struct RoomState {
    members: Vec<Member>,
    /// Changes staged so far (each member is told those after its registration).
    staged: u64,
    pending: Vec<Change>,
    /// When the last delivery was, and whether one is due (a timer waits for it).
    last: Option<Instant>,
    due: bool,
}

struct Member {
    /// The member's participant SID.
    sid: Arc<str>,
    /// Its participant JSON, as `connected` lists it to later joiners.
    view: Arc<str>,
    tx: mpsc::UnboundedSender<Arc<Told>>,
    /// The room's count of staged changes when it registered.
    since: u64,
}

struct Change {
    /// Whose change: that member is not told.
    of: Arc<str>,
    seq: u64,
    view: Arc<str>,
}

/// A list of participant changes delivered to a member, shared by the members told the same.
struct Told {
    views: Vec<Arc<str>>,
    /// Its `update` in its envelope, written by the first member to send it.
    wire: OnceLock<String>,
}

impl Told {
    fn new(views: Vec<Arc<str>>) -> Arc<Self> {
        Arc::new(Self {
            views,
            wire: OnceLock::new(),
        })
    }
}

fn pace(members: usize) -> Duration {
    PACE_PER_MEMBER
        .saturating_mul(u32::try_from(members).unwrap_or(u32::MAX))
        .min(MOST_PACE)
}

impl Room {
    fn lock(&self) -> std::sync::MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a member and stages its change for the others; returns the others' JSONs, for
    /// its `connected`.
    fn join(self: &Arc<Self>, member: Member) -> Vec<Arc<str>> {
        let mut s = self.lock();
        let roster: Vec<Arc<str>> = s.members.iter().map(|m| Arc::clone(&m.view)).collect();
        let (of, view) = (Arc::clone(&member.sid), Arc::clone(&member.view));
        let since = s.staged;
        s.members.push(Member { since, ..member });
        self.stage(&mut s, of, view);
        roster
    }

    /// Unregisters `sid` and tells the others it is gone (`view`, its last state).
    fn leave(self: &Arc<Self>, sid: &Arc<str>, view: Arc<str>) {
        let mut s = self.lock();
        if let Some(i) = s.members.iter().position(|m| m.sid == *sid) {
            s.members.swap_remove(i);
            self.stage(&mut s, Arc::clone(sid), view);
        }
    }

    fn stage(self: &Arc<Self>, s: &mut RoomState, of: Arc<str>, view: Arc<str>) {
        let seq = s.staged;
        s.staged += 1;
        s.pending.push(Change { of, seq, view });
        if s.due {
            return;
        }
        let now = Instant::now();
        match s.last.map(|l| l + pace(s.members.len())) {
            Some(next) if now < next => {
                s.due = true;
                let room = Arc::clone(self);
                tokio::spawn(async move {
                    tokio::time::sleep_until(next).await;
                    let mut s = room.lock();
                    s.due = false;
                    Self::deliver(&mut s);
                });
            }
            _ => Self::deliver(s),
        }
    }

    /// Tells every member the pending changes meant for it: one shared list to those told all
    /// of them, a list of its own to the rest (whose own change is among them, or who registered
    /// meanwhile). Lists of more than [`MOST_PER_UPDATE`] go as several.
    fn deliver(s: &mut RoomState) {
        s.last = Some(Instant::now());
        let pending = std::mem::take(&mut s.pending);
        let Some(first) = pending.first().map(|c| c.seq) else {
            return;
        };
        let all: Vec<Vec<Arc<str>>> = pending
            .chunks(MOST_PER_UPDATE)
            .map(|c| c.iter().map(|c| Arc::clone(&c.view)).collect())
            .collect();
        let shared: Vec<Arc<Told>> = all.into_iter().map(Told::new).collect();
        for m in &s.members {
            let apart = m.since > first || pending.iter().any(|c| c.of == m.sid);
            if !apart {
                for t in &shared {
                    let _ = m.tx.send(Arc::clone(t));
                }
                continue;
            }
            let own: Vec<Arc<str>> = pending
                .iter()
                .filter(|c| c.seq >= m.since && c.of != m.sid)
                .map(|c| Arc::clone(&c.view))
                .collect();
            for chunk in own.chunks(MOST_PER_UPDATE) {
                let _ = m.tx.send(Told::new(chunk.to_vec()));
            }
        }
    }
}

async fn upgrade(State(floor): State<Arc<Floor>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| Session::new(socket, floor).run())
}

/// A TCMP frame, only what is read of it.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    version: Option<u64>,
    #[serde(borrow)]
    body: Option<Body<'a>>,
}

/// An RSP message, only what is read of it (`connect`: the room's name and the token).
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    name: Option<&'a str>,
    #[serde(borrow)]
    token: Option<&'a str>,
}

/// This session's participant in its room.
struct Joined {
    room: Arc<Room>,
    sid: Arc<str>,
    identity: String,
}

enum Phase {
    AwaitHello,
    Live(Joined),
    Ending(Instant),
}

struct Session {
    floor: Arc<Floor>,
    ws: WebSocket,
    tx: mpsc::UnboundedSender<Arc<Told>>,
    rx: mpsc::UnboundedReceiver<Arc<Told>>,
    phase: Phase,
    opened: Instant,
    last_in: Instant,
    last_out: Instant,
}

/// How a frame's handling ends.
enum Flow {
    Continue,
    Close(u16, &'static str),
}

impl Session {
    fn new(ws: WebSocket, floor: Arc<Floor>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        Self {
            floor,
            ws,
            tx,
            rx,
            phase: Phase::AwaitHello,
            opened: now,
            last_in: now,
            last_out: now,
        }
    }

    fn deadline(&self) -> Instant {
        let beat = Duration::from_millis(HEARTBEAT_MS);
        match self.phase {
            Phase::AwaitHello => self.opened + HELLO_TIMEOUT,
            Phase::Ending(until) => until,
            Phase::Live(_) => (self.last_out + beat).min(self.last_in + beat * 3),
        }
    }

    async fn send(&mut self, text: String) {
        self.last_out = Instant::now();
        let _ = self.ws.send(Message::Text(text.into())).await;
    }

    async fn run(mut self) {
        let close = loop {
            let deadline = self.deadline();
            let flow = tokio::select! {
                frame = self.ws.recv() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        self.last_in = Instant::now();
                        self.on_text(text.as_str()).await
                    }
                    Some(Ok(Message::Binary(_))) => Flow::Close(1002, "protocol error"),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        self.last_in = Instant::now();
                        Flow::Continue
                    }
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                },
                Some(first) = self.rx.recv() => self.on_told(first).await,
                () = tokio::time::sleep_until(deadline) => self.on_deadline().await,
            };
            if let Flow::Close(code, reason) = flow {
                break Some((code, reason));
            }
        };
        // A connection lost without a goodbye leaves at once (vroom keeps it reconnecting).
        self.leave();
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = self.ws.send(Message::Close(Some(frame))).await;
        }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(text) else {
            return self.bad("frames must be JSON objects").await;
        };
        match frame.kind {
            "heartbeat" => Flow::Continue,
            "bye" => {
                self.leave();
                Flow::Continue
            }
            "hello" if frame.version == Some(2) => {
                self.send(format!(
                    r#"{{"type":"welcome","negotiatedTimeout":{HEARTBEAT_MS}}}"#
                ))
                .await;
                match (&self.phase, frame.body) {
                    (Phase::AwaitHello, Some(b)) if b.kind == "connect" => {
                        self.on_connect(b.name, b.token).await
                    }
                    _ => Flow::Continue,
                }
            }
            "msg" => match frame.body {
                Some(b) if b.kind == "disconnect" => {
                    self.leave();
                    Flow::Continue
                }
                _ => Flow::Continue,
            },
            _ => self.bad("unknown frame type").await,
        }
    }

    async fn bad(&mut self, reason: &str) -> Flow {
        if matches!(self.phase, Phase::AwaitHello) {
            self.send(serde_json::json!({"type": "bad", "reason": reason}).to_string())
                .await;
            return Flow::Close(1002, "protocol error");
        }
        Flow::Continue
    }

    async fn on_connect(&mut self, name: Option<&str>, token: Option<&str>) -> Flow {
        let identity = token.and_then(|t| self.floor.identity(t));
        let (Some(name), Some(identity)) = (name, identity) else {
            self.send(error_msg(20101, "Invalid Access Token")).await;
            self.phase = Phase::Ending(Instant::now() + GOODBYE_GRACE);
            return Flow::Continue;
        };
        let room = self.floor.room(name);
        let sid: Arc<str> = self.floor.sid("PA").into();
        let view: Arc<str> = participant_json(&sid, &identity, 1, "connected").into();
        let roster = room.join(Member {
            sid: Arc::clone(&sid),
            view,
            tx: self.tx.clone(),
            since: 0,
        });
        // vroom's session key is the SID, a dot and 24 characters of its signature.
        let session = format!(
            "{sid}.{:024x}",
            self.floor.next.fetch_add(1, Ordering::Relaxed)
        );
        let text = connected(&room, &sid, &identity, &session, &roster);
        self.phase = Phase::Live(Joined {
            room,
            sid,
            identity,
        });
        self.send(text).await;
        Flow::Continue
    }

    /// Leaves the room, if in one: the others are told it disconnected.
    fn leave(&mut self) {
        if let Phase::Live(j) = &self.phase {
            let view = participant_json(&j.sid, &j.identity, 2, "disconnected");
            j.room.leave(&j.sid, view.into());
        }
        if !matches!(self.phase, Phase::Ending(_)) {
            self.phase = Phase::Ending(Instant::now() + GOODBYE_GRACE);
        }
    }

    /// Writes the lists queued from `first` on into one `update` (the first alone as shared).
    async fn on_told(&mut self, first: Arc<Told>) -> Flow {
        if !matches!(self.phase, Phase::Live(_)) {
            return Flow::Continue;
        }
        let mut count = first.views.len();
        let mut more = Vec::new();
        while count < MOST_PER_UPDATE {
            match self.rx.try_recv() {
                Ok(next) if count + next.views.len() <= MOST_PER_UPDATE => {
                    count += next.views.len();
                    more.push(next);
                }
                Ok(next) => {
                    // Too many for this one: it goes next, first in its own `update`.
                    let text = update(first.views.iter().chain(more.iter().flat_map(|t| &t.views)));
                    self.send(text).await;
                    return Box::pin(self.on_told(next)).await;
                }
                Err(_) => break,
            }
        }
        let text = if more.is_empty() {
            first
                .wire
                .get_or_init(|| update(first.views.iter()))
                .clone()
        } else {
            update(first.views.iter().chain(more.iter().flat_map(|t| &t.views)))
        };
        self.send(text).await;
        Flow::Continue
    }

    async fn on_deadline(&mut self) -> Flow {
        let now = Instant::now();
        let beat = Duration::from_millis(HEARTBEAT_MS);
        match self.phase {
            Phase::AwaitHello => Flow::Close(1002, "no hello"),
            Phase::Ending(_) => Flow::Close(1000, "session ended"),
            Phase::Live(_) if now >= self.last_in + beat * 3 => {
                Flow::Close(4001, "heartbeat timeout")
            }
            Phase::Live(_) => {
                if now >= self.last_out + beat {
                    self.send(r#"{"type":"heartbeat"}"#.to_owned()).await;
                }
                Flow::Continue
            }
        }
    }
}

/// A participant's state as vroom lists it (`RemoteParticipant`; no tracks: nobody publishes).
#[derive(Serialize)]
struct ParticipantState<'a> {
    sid: &'a str,
    identity: &'a str,
    revision: u64,
    state: &'a str,
    tracks: [(); 0],
}

fn participant_json(sid: &str, identity: &str, revision: u64, state: &str) -> String {
    let view = ParticipantState {
        sid,
        identity,
        revision,
        state,
        tracks: [],
    };
    serde_json::to_string(&view).unwrap_or_default()
}

/// `views` as a JSON list, appended to `out`.
fn write_list<'a>(out: &mut String, views: impl Iterator<Item = &'a Arc<str>>) {
    out.push('[');
    for (i, v) in views.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(v);
    }
    out.push(']');
}

/// An `update` listing `views`, in its envelope.
fn update<'a>(views: impl Iterator<Item = &'a Arc<str>>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"type":"msg","body":{"type":"update","version":2,"participants":"#);
    write_list(&mut out, views);
    out.push_str("}}");
    out
}

/// `connected` as vroom writes it (its fields and values from a release vroom's frames, a room
/// made over REST with its defaults), without `participants`, which come last.
#[derive(Serialize)]
struct ConnectedHead<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u64,
    session: &'a str,
    sid: &'a str,
    name: &'a str,
    participant: Ack<'a>,
    peer_connections: [(); 0],
    published: Revised,
    subscribed: Revised,
    recording: Recording,
    media_signaling: Empty,
    options: Options,
}

#[derive(Serialize)]
struct Ack<'a> {
    sid: &'a str,
    identity: &'a str,
}

#[derive(Serialize)]
struct Revised {
    revision: u64,
    tracks: [(); 0],
}

#[derive(Serialize)]
struct Recording {
    revision: u64,
    is_recording: bool,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct Options {
    session_timeout: u64,
    signaling_region: &'static str,
    media_region: &'static str,
}

/// `connected` in its envelope, written into a string of its final size.
fn connected(room: &Room, sid: &str, identity: &str, session: &str, roster: &[Arc<str>]) -> String {
    let head = ConnectedHead {
        kind: "connected",
        version: 2,
        session,
        sid: &room.sid,
        name: &room.name,
        participant: Ack { sid, identity },
        peer_connections: [],
        published: Revised {
            revision: 1,
            tracks: [],
        },
        subscribed: Revised {
            revision: 1,
            tracks: [],
        },
        recording: Recording {
            revision: 1,
            is_recording: false,
        },
        media_signaling: Empty {},
        options: Options {
            session_timeout: 30,
            signaling_region: "vroom",
            media_region: "us1",
        },
    };
    let head = serde_json::to_string(&head).unwrap_or_else(|_| "{}".to_owned());
    let size: usize = roster.iter().map(|v| v.len() + 1).sum();
    let mut out = String::with_capacity(head.len() + size + 64);
    out.push_str(r#"{"type":"msg","body":"#);
    out.push_str(&head[..head.len() - 1]);
    out.push_str(r#","participants":"#);
    write_list(&mut out, roster.iter());
    out.push_str("}}");
    out
}

fn error_msg(code: u32, message: &str) -> String {
    serde_json::json!({"type": "msg", "body": {"type": "error", "code": code, "message": message}})
        .to_string()
}
