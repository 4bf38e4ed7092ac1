//! One signaling connection: reads TCMP frames, speaks RSP to the client, and acts on the rooms hub.
//!
//! Phases: waiting for `hello` → (after `ice`) waiting for `connect` → live in a room → ending (the
//! client was told its session is over and gets a moment to say goodbye). A live connection that
//! drops without a goodbye leaves its participant "reconnecting" in the room, so the client can come
//! back with `sync` on a new connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::mpsc;
use vroom_domain::live::{Notice, Told};
use vroom_domain::participant::{EndReason, Participant};
use vroom_domain::room::Room;
use vroom_domain::time::{Span, Timestamp};
use vroom_rooms::{HubError, SessionId};
use vroom_sfu::Signal;

use crate::Signaling;

mod budget;
mod ice;
mod join;
mod media;
mod relay;
mod told;

use crate::rsp::{
    self, ClientMessage, Disconnected, ErrorMessage, Iced, LocalTrack, Published, PublishedEntry,
    ServerUpdate,
};
use crate::tcmp::{self, Inbound};
pub use budget::Rate;

/// How long a client that was told its session ended gets to send its goodbye.
const GOODBYE_GRACE: Span = Span::from_secs(5);
/// Participant changes gathered into one `update` at most (a message of this many stays tens of KiB).
const MOST_PARTICIPANTS_PER_UPDATE: usize = 64;
/// How long a new connection may take to send `hello` (twilio-video.js gives up after 15 s too).
const HELLO_TIMEOUT: Span = Span::from_secs(15);
/// Close code for a connection given up after missed heartbeats (any code but 1000 makes the client
/// try to resume).
const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4001;
/// Close code when the server stops while a connection is in no room yet (a connecting
/// twilio-video.js then fails with 53000, like a live one told so by `CODE_SERVER_STOPPING`).
const CLOSE_SERVER_STOPPING: u16 = 1012;
/// The Twilio error a live session ends with when the server stops: 53000, SignalingConnectionError,
/// the one twilio-video.js itself reports when it cannot reach the server while connecting.
const CODE_SERVER_STOPPING: u32 = 53000;
/// Close code for protocol violations before the handshake.
const CLOSE_PROTOCOL: u16 = 1002;
/// A frame or message larger than the server accepts (RFC 6455 "message too big").
const CLOSE_TOO_BIG: u16 = 1009;
/// A client over its message or update rate (RFC 6455 "policy violation").
const CLOSE_POLICY: u16 = 1008;

/// Whether a receive error is a frame or message over the size limit (the connection is still
/// good for a close frame), rather than a broken connection.
fn too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Revision counters of one participant's signaling, shared by all its connections (kept by the room
/// task as the session memory), so they only ever increase across reconnections.
#[derive(Debug)]
struct Counters {
    published: AtomicU64,
    subscribed: AtomicU64,
    warnings: AtomicU64,
}

impl Counters {
    fn new() -> Self {
        Self {
            published: AtomicU64::new(0),
            subscribed: AtomicU64::new(0),
            warnings: AtomicU64::new(0),
        }
    }

    fn next_published(&self) -> u64 {
        self.published.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn next_warnings(&self) -> u64 {
        self.warnings.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn next_subscribed(&self) -> u64 {
        self.subscribed.fetch_add(1, Ordering::Relaxed) + 1
    }
}

struct Live {
    room: Room,
    participant: Participant,
    counters: Arc<Counters>,
    /// The client's last track list, to skip unchanged ones (it repeats it in every update).
    client_tracks: Vec<LocalTrack>,
    /// The acknowledgements last sent.
    published: Vec<PublishedEntry>,
    /// Every track SID the client has been told about (in `connected`, `synced` or an update).
    announced: std::collections::HashSet<String>,
    /// A subscription list waiting until the client knows all its tracks: twilio-video.js drops
    /// entries for tracks it has not seen published yet.
    pending_subscribed: Option<Vec<(vroom_domain::sid::TrackSid, String)>>,
}

enum Phase {
    AwaitHello,
    AwaitConnect,
    Live(Box<Live>),
    Ending { until: Timestamp },
}

/// What to do after handling an input.
enum Flow {
    Continue,
    Close(u16, &'static str),
    /// The room is another node's: from now on this connection only relays to it.
    Relay(Box<relay::Upstream>),
}

/// How the connection loop ended.
enum Exit {
    /// The client's connection closed or broke.
    Gone,
    /// This side closes, with a code and reason.
    Close(u16, &'static str),
    /// Relay to the node that runs the room.
    Relay(Box<relay::Upstream>),
}

struct Conn {
    sig: Arc<Signaling>,
    socket: WebSocket,
    session: SessionId,
    notices_tx: mpsc::UnboundedSender<Notice>,
    notices_rx: mpsc::UnboundedReceiver<Notice>,
    /// A notice taken from the queue while gathering participant changes into one `update`, to
    /// handle next, in its turn.
    held_notice: Option<Notice>,
    /// Server offers and subscription lists from the media server.
    media_tx: mpsc::UnboundedSender<Signal>,
    media_rx: mpsc::UnboundedReceiver<Signal>,
    opened: Timestamp,
    last_in: Timestamp,
    last_out: Timestamp,
    phase: Phase,
    said_goodbye: bool,
    /// The participant this connection acts for, once it joined or resumed.
    participant: Option<vroom_domain::sid::ParticipantSid>,
    /// What `connected` reports as `signaling_region` (the region the client's URL asked for).
    region: &'static str,
    /// Frames this connection may still send now.
    frames: budget::Budget,
    /// `update` messages this connection may still send now (each may be a transaction).
    updates: budget::Budget,
    /// The TURN username handed out in `iced`, until the room it is for is known.
    turn_user: Option<String>,
    /// Whether another node relays this connection (then it is never relayed again).
    relayed: bool,
    /// The client's `connect` or `sync`, kept as sent until it is answered, to pass it on to the
    /// node that runs the room.
    first: Option<Box<serde_json::value::RawValue>>,
}

/// Counts an open connection in `vroom_signaling_connections` for as long as it lives.
struct Open;

impl Open {
    fn new() -> Self {
        metrics::gauge!("vroom_signaling_connections").increment(1.0);
        Self
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("vroom_signaling_connections").decrement(1.0);
    }
}

/// Counts a frame or message received, by its type.
fn received(kind: &'static str) {
    metrics::counter!("vroom_signaling_messages_received_total", "type" => kind).increment(1);
}

fn message_kind(m: &ClientMessage) -> &'static str {
    match m {
        ClientMessage::Connect(_) => "connect",
        ClientMessage::Sync(_) => "sync",
        ClientMessage::Update(_) => "update",
        ClientMessage::Disconnect => "disconnect",
        ClientMessage::Ice(_) => "ice",
        ClientMessage::Unknown(_) => "unknown",
    }
}

pub(crate) async fn run(
    socket: WebSocket,
    sig: Arc<Signaling>,
    region: &'static str,
    relayed: bool,
) {
    let _open = Open::new();
    let now = sig.hub.clock().now();
    let (notices_tx, notices_rx) = mpsc::unbounded_channel();
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let sig_rates = (sig.config.max_frames, sig.config.max_updates);
    let conn = Conn {
        media_tx,
        media_rx,
        session: sig.hub.new_session_id(),
        sig,
        socket,
        notices_tx,
        notices_rx,
        held_notice: None,
        opened: now,
        last_in: now,
        last_out: now,
        phase: Phase::AwaitHello,
        said_goodbye: false,
        participant: None,
        region,
        frames: budget::Budget::new(sig_rates.0, now),
        updates: budget::Budget::new(sig_rates.1, now),
        turn_user: None,
        relayed,
        first: None,
    };
    conn.serve().await;
}

fn hub_error(e: &HubError) -> (u32, String) {
    match e {
        HubError::Domain(d) => (d.code(), d.to_string()),
        HubError::RoomGone => (53118, "Room completed".to_owned()),
        HubError::Store(_) => (53104, "Unable to connect to Room".to_owned()),
        // This node is stopping and takes no new room; the client may join again elsewhere.
        HubError::Stopping => (
            CODE_SERVER_STOPPING,
            "Signaling connection error: the server is stopping".to_owned(),
        ),
        // The room is run by another node that could not be relayed to (no address, not
        // reachable, or this connection is itself a relay): the client may try again.
        HubError::Elsewhere { .. } => (
            53104,
            "Unable to connect to Room: it is served by another node".to_owned(),
        ),
    }
}

impl Conn {
    fn now(&self) -> Timestamp {
        self.sig.hub.clock().now()
    }

    fn heartbeat(&self) -> Span {
        Span::from_millis(i64::try_from(self.sig.config.heartbeat_ms).unwrap_or(5000))
    }

    fn deadline(&self) -> Timestamp {
        match &self.phase {
            Phase::AwaitHello => self.opened + HELLO_TIMEOUT,
            Phase::Ending { until } => *until,
            Phase::AwaitConnect | Phase::Live(_) => {
                let silent_in = self.last_in + Span::from_millis(self.heartbeat().millis() * 3);
                (self.last_out + self.heartbeat()).min(silent_in)
            }
        }
    }

    async fn serve(mut self) {
        let exit = loop {
            let deadline = self.deadline();
            let clock = std::sync::Arc::clone(self.sig.hub.clock());
            let flow = if let Some(notice) = self.held_notice.take() {
                Box::pin(self.on_notice(notice)).await
            } else {
                tokio::select! {
                    frame = self.socket.recv() => match frame {
                        Some(Ok(Message::Text(text))) => {
                            self.last_in = self.now();
                            Box::pin(self.on_text(text.as_str())).await
                        }
                        Some(Ok(Message::Binary(_))) => {
                            self.last_in = self.now();
                            Box::pin(self.protocol_error("binary frames are not part of the protocol")).await
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                            self.last_in = self.now();
                            Flow::Continue
                        }
                        Some(Err(e)) if too_big(&e) => {
                            Flow::Close(CLOSE_TOO_BIG, "message too big")
                        }
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break Exit::Gone,
                    },
                    Some(notice) = self.notices_rx.recv() => Box::pin(self.on_notice(notice)).await,
                    Some(signal) = self.media_rx.recv() => Box::pin(self.on_media(signal)).await,
                    () = clock.sleep_until(deadline) => Box::pin(self.on_deadline()).await,
                    // Live sessions end through the hub (their participant leaves first); ending ones
                    // get their moment to say goodbye.
                    () = self.sig.shutdown.cancelled(), if matches!(self.phase, Phase::AwaitHello | Phase::AwaitConnect) => {
                        Flow::Close(CLOSE_SERVER_STOPPING, "server stopping")
                    }
                }
            };
            match flow {
                Flow::Continue => {}
                Flow::Close(code, reason) => break Exit::Close(code, reason),
                Flow::Relay(up) => break Exit::Relay(up),
            }
        };
        Box::pin(self.finish(exit)).await;
    }

    /// After the loop: relay, or detach from the room and media and close.
    async fn finish(mut self, exit: Exit) {
        let flow = match exit {
            Exit::Gone => None,
            Exit::Close(code, reason) => Some((code, reason)),
            Exit::Relay(up) => {
                // Never live here: nothing to detach.
                relay::pipe(self.socket, *up, &self.sig).await;
                return;
            }
        };
        // A live participant whose connection ended without a goodbye may come back with `sync`.
        if let Phase::Live(live) = &self.phase
            && !self.said_goodbye
        {
            self.sig
                .hub
                .detach(live.room.sid, live.participant.sid, self.session)
                .await;
        }
        if let (Some(media), Some(me)) = (&self.sig.media, self.participant) {
            media.detach(me, self.media_tx.clone());
        }
        if let Some((code, reason)) = flow {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = self.socket.send(Message::Close(Some(frame))).await;
            // The closing handshake: read (and discard) until the client's close, for a moment.
            // Dropping a socket with unread input resets the connection, and a reset can cost
            // the client the error and close frame it has not read yet.
            let drain = async {
                while let Some(Ok(m)) = self.socket.recv().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
        }
    }

    async fn send(&mut self, text: String) -> bool {
        metrics::counter!("vroom_signaling_messages_sent_total").increment(1);
        self.last_out = self.now();
        self.socket.send(Message::Text(text.into())).await.is_ok()
    }

    async fn send_msg<T: serde::Serialize>(&mut self, body: &T) -> bool {
        self.send(tcmp::msg(body)).await
    }

    /// Tells the client its session is over with a Twilio error, then waits for its goodbye.
    async fn end_with_error(&mut self, code: u32, message: String) -> Flow {
        self.send_msg(&ErrorMessage::new(code, message)).await;
        self.phase = Phase::Ending {
            until: self.now() + GOODBYE_GRACE,
        };
        Flow::Continue
    }

    /// A frame or message the protocol does not allow.
    async fn protocol_error(&mut self, detail: &str) -> Flow {
        tracing::debug!(session = self.session, detail, "signaling protocol error");
        match self.phase {
            Phase::AwaitHello => {
                self.send(tcmp::bad(detail)).await;
                Flow::Close(CLOSE_PROTOCOL, "protocol error")
            }
            Phase::Ending { .. } => Flow::Continue,
            Phase::AwaitConnect | Phase::Live(_) => {
                self.leave_room().await;
                self.end_with_error(
                    53004,
                    format!("Client sent an invalid signaling message: {detail}"),
                )
                .await
            }
        }
    }

    /// A client over one of its rates: told why, out of its room, and disconnected at once (the
    /// rest of its flood is never read).
    async fn over_rate(&mut self, what: &'static str, rate: Option<Rate>) -> Flow {
        let per_second = rate.map_or(0.0, |r| r.per_second);
        metrics::counter!("vroom_signaling_rate_limited_total", "kind" => what).increment(1);
        tracing::info!(
            session = self.session,
            what,
            per_second,
            "signaling client over its rate; disconnected"
        );
        let detail = format!("too many {what} (more than {per_second} per second)");
        match self.phase {
            Phase::AwaitHello => {
                self.send(tcmp::bad(&detail)).await;
            }
            Phase::Ending { .. } => {}
            Phase::AwaitConnect | Phase::Live(_) => {
                self.leave_room().await;
                self.send_msg(&ErrorMessage::new(
                    CODE_SERVER_STOPPING,
                    format!("Signaling connection error: {detail}"),
                ))
                .await;
            }
        }
        Flow::Close(CLOSE_POLICY, "rate limit")
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let now = self.now();
        if !self.frames.take(now) {
            return self.over_rate("messages", self.sig.config.max_frames).await;
        }
        let frame = match tcmp::parse(text) {
            Ok(f) => f,
            Err(e) => {
                received("invalid");
                return self.protocol_error(&e.to_string()).await;
            }
        };
        match &frame {
            Inbound::Heartbeat => received("heartbeat"),
            Inbound::Bye => received("bye"),
            Inbound::Hello { .. } => received("hello"),
            // Counted by their message type.
            Inbound::Msg(_) => {}
        }
        match frame {
            Inbound::Heartbeat => Flow::Continue,
            Inbound::Bye => {
                self.said_goodbye = true;
                // A bye without a disconnect is still a goodbye.
                self.leave_room().await;
                Flow::Continue
            }
            Inbound::Hello { body } => {
                self.send(tcmp::welcome(self.sig.config.heartbeat_ms)).await;
                if !matches!(self.phase, Phase::AwaitHello) {
                    // A retried hello carries the same body; it is handled once per connection.
                    return Flow::Continue;
                }
                self.phase = Phase::AwaitConnect;
                match body {
                    Some(body) => Box::pin(self.on_message(body)).await,
                    None => Flow::Continue,
                }
            }
            Inbound::Msg(body) => {
                if matches!(self.phase, Phase::AwaitHello) {
                    return self.protocol_error("msg before hello").await;
                }
                Box::pin(self.on_message(body)).await
            }
        }
    }

    async fn on_message(&mut self, body: &serde_json::value::RawValue) -> Flow {
        let message = match rsp::parse(body.get()) {
            Ok(m) => m,
            Err(e) => {
                received("invalid");
                return self.protocol_error(&e.to_string()).await;
            }
        };
        // Kept as written, for the room's node if another one runs the room (`relay`).
        if matches!(self.phase, Phase::AwaitConnect)
            && matches!(message, ClientMessage::Connect(_) | ClientMessage::Sync(_))
        {
            self.first = Some(body.to_owned());
        }
        received(message_kind(&message));
        let flow = self.on_parsed(message).await;
        if !matches!(self.phase, Phase::AwaitConnect) {
            self.first = None;
        }
        flow
    }

    async fn on_parsed(&mut self, message: ClientMessage) -> Flow {
        match (&self.phase, message) {
            (Phase::Ending { .. }, _) => Flow::Continue,
            (_, ClientMessage::Unknown(kind)) => {
                tracing::debug!(
                    session = self.session,
                    kind,
                    "ignoring an unknown signaling message"
                );
                Flow::Continue
            }
            (Phase::AwaitConnect, ClientMessage::Ice(ice)) => {
                let iced = Iced {
                    kind: "iced",
                    ice_servers: self.ice_servers(ice.token.as_deref()).await,
                };
                self.send_msg(&iced).await;
                Flow::Continue
            }
            (Phase::AwaitConnect, ClientMessage::Connect(c)) => self.on_connect(c).await,
            (Phase::AwaitConnect, ClientMessage::Sync(s)) => self.on_sync(s).await,
            (Phase::AwaitConnect, ClientMessage::Disconnect) => {
                self.said_goodbye = true;
                Flow::Continue
            }
            (Phase::AwaitConnect, ClientMessage::Update(_)) => {
                self.protocol_error("update before connect").await
            }
            (Phase::Live(_), ClientMessage::Update(u)) => self.on_update(u).await,
            (Phase::Live(_), ClientMessage::Disconnect) => {
                self.said_goodbye = true;
                self.leave_room().await;
                self.phase = Phase::Ending {
                    until: self.now() + GOODBYE_GRACE,
                };
                Flow::Continue
            }
            (
                Phase::Live(_),
                ClientMessage::Connect(_) | ClientMessage::Sync(_) | ClientMessage::Ice(_),
            ) => self.protocol_error("already connected").await,
            (Phase::AwaitHello, _) => self.protocol_error("msg before hello").await,
        }
    }

    async fn on_update(&mut self, u: rsp::Update) -> Flow {
        if !self.updates.take(self.now()) {
            return self.over_rate("updates", self.sig.config.max_updates).await;
        }
        let Phase::Live(live) = &mut self.phase else {
            return Flow::Continue;
        };
        let (room, me) = (live.room.clone(), live.participant.sid);
        if !u.peer_connections.is_empty() {
            match self.media_answers(me, &room, &u.peer_connections).await {
                Ok(answers) if !answers.is_empty() => {
                    let update = ServerUpdate {
                        peer_connections: Some(answers),
                        ..ServerUpdate::update()
                    };
                    self.send_msg(&update).await;
                }
                Ok(_) => {}
                Err(e) => return self.end_with_error(e.code(), e.to_string()).await,
            }
        }
        let Phase::Live(live) = &mut self.phase else {
            return Flow::Continue;
        };
        let Some(participant) = u.participant else {
            return Flow::Continue;
        };
        if participant.tracks == live.client_tracks {
            return Flow::Continue;
        }
        let (infos, refused) = Self::tracks_of(Some(&participant));
        live.client_tracks = participant.tracks;
        let outcomes = match self
            .sig
            .hub
            .set_tracks(room.sid, me, self.session, infos)
            .await
        {
            Ok(o) => o,
            // Removed meanwhile: the notice saying so is on its way.
            Err(_) => return Flow::Continue,
        };
        self.tell_media_published(me, &outcomes);
        let entries = Self::published_entries(&outcomes, refused);
        let Phase::Live(live) = &mut self.phase else {
            return Flow::Continue;
        };
        let changed =
            serde_json::to_value(&entries).ok() != serde_json::to_value(&live.published).ok();
        if changed {
            live.published = entries.clone();
            let update = ServerUpdate {
                published: Some(Published {
                    revision: live.counters.next_published(),
                    tracks: entries,
                }),
                ..ServerUpdate::update()
            };
            self.send_msg(&update).await;
        }
        Flow::Continue
    }

    /// Removes this connection's participant from its room (goodbye, or a broken client).
    async fn leave_room(&mut self) {
        if let Phase::Live(live) = &self.phase {
            let (room, me) = (live.room.sid, live.participant.sid);
            // Already removed (kicked, room ended) is fine: the goal is reached.
            let _ = self.sig.hub.leave(room, me, self.session).await;
            self.phase = Phase::Ending {
                until: self.now() + GOODBYE_GRACE,
            };
        }
    }

    async fn on_notice(&mut self, notice: Notice) -> Flow {
        if !matches!(self.phase, Phase::Live(_)) {
            return Flow::Continue;
        }
        match notice {
            Notice::Participant(view) => {
                self.on_participants(Arc::new(Told::new(vec![view]))).await
            }
            Notice::Participants(told) => self.on_participants(told).await,
            Notice::Recording {
                revision,
                is_recording,
            } => {
                let update = ServerUpdate {
                    recording: Some(crate::rsp::Recording {
                        revision,
                        is_recording,
                    }),
                    ..ServerUpdate::update()
                };
                self.send_msg(&update).await;
                Flow::Continue
            }
            Notice::Removed(reason) => {
                self.phase = Phase::Ending {
                    until: self.now() + GOODBYE_GRACE,
                };
                match reason {
                    EndReason::RoomEnded => {
                        self.send_msg(&Disconnected {
                            kind: "disconnected",
                            status: Some("completed"),
                        })
                        .await;
                    }
                    EndReason::DuplicateIdentity => {
                        self.send_msg(&ErrorMessage::new(
                            53205,
                            "Participant disconnected because of duplicate identity",
                        ))
                        .await;
                    }
                    EndReason::Kicked => {
                        self.send_msg(&ErrorMessage::new(53204, "Participant not found"))
                            .await;
                    }
                    EndReason::MaxDuration => {
                        self.send_msg(&ErrorMessage::new(
                            53216,
                            "Participant session length exceeded",
                        ))
                        .await;
                    }
                    EndReason::ServerStopped => {
                        // An RSP error ends the client's session at once: twilio-video.js
                        // disconnects the room with it, says goodbye and closes with 1000. A close
                        // code alone would make it try to resume for the whole reconnect window,
                        // against a server that has already recorded its end.
                        self.send_msg(&ErrorMessage::new(
                            CODE_SERVER_STOPPING,
                            "Signaling connection error: the server is stopping",
                        ))
                        .await;
                    }
                    EndReason::Left | EndReason::ConnectionLost => {}
                }
                Flow::Continue
            }
        }
    }

    async fn on_deadline(&mut self) -> Flow {
        let now = self.now();
        match &self.phase {
            Phase::AwaitHello => Flow::Close(CLOSE_PROTOCOL, "no hello"),
            Phase::Ending { .. } => Flow::Close(1000, "session ended"),
            Phase::AwaitConnect | Phase::Live(_) => {
                if now >= self.last_in + Span::from_millis(self.heartbeat().millis() * 3) {
                    tracing::info!(
                        session = self.session,
                        "signaling connection lost: no heartbeat"
                    );
                    return Flow::Close(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout");
                }
                if now >= self.last_out + self.heartbeat() {
                    self.send(tcmp::heartbeat()).await;
                }
                Flow::Continue
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;

    use axum::extract::ws::WebSocket;

    use crate::Signaling;

    /// The size of the future an async fn of these arguments returns, without calling it.
    fn future_size<F, Fut>(_: &F) -> usize
    where
        F: FnOnce(WebSocket, Arc<Signaling>, &'static str, bool) -> Fut,
        Fut: Future,
    {
        std::mem::size_of::<Fut>()
    }

    /// Every connection's task holds this future for its whole life, idle or not: the handlers'
    /// futures (the join path's alone was kilobytes) are boxed while they run, not kept inline.
    #[test]
    fn a_connection_future_stays_small() {
        let size = future_size(&super::run);
        eprintln!(
            "conn::run future: {size} bytes, Notice {}, Signal {}",
            std::mem::size_of::<vroom_domain::live::Notice>(),
            std::mem::size_of::<vroom_sfu::Signal>()
        );
        // 11,760 bytes in a debug build before the boxing, 2,080 after.
        assert!(size < 4096, "conn::run's future is {size} bytes");
    }
}
