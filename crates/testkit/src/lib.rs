//! A small signaling client speaking what twilio-video.js speaks (TCMP v2 + RSP v2), for tests and
//! benchmarks. It sends exactly the frames the real client sends and lets tests send anything else.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long helpers wait for an expected frame before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// One signaling connection.
pub struct SignalClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read but not yet consumed.
    pending: VecDeque<Value>,
    /// Participant states of an `update` already read, after the one returned.
    participants: VecDeque<Value>,
    /// The session key from `connected`.
    pub session: Option<String>,
    /// How the server closed the connection, once it did.
    pub closed: Option<Option<CloseFrame>>,
}

/// A track as the client lists it in its participant state.
#[must_use]
pub fn track(id: &str, kind: &str, name: &str) -> Value {
    json!({"enabled": true, "id": id, "kind": kind, "name": name, "priority": "standard"})
}

/// The `connect` body twilio-video.js sends (with `iceServers: []`).
#[must_use]
pub fn connect_body(token: &str, room: Option<&str>, tracks: &[Value]) -> Value {
    json!({
        "name": room,
        "participant": {"revision": 1 + tracks.len(), "tracks": tracks},
        "peer_connections": [],
        "type": "connect",
        "version": 2,
        "ice_servers": "overrode",
        "publisher": {"name": "vroom-testkit", "sdk_version": "0.1", "user_agent": "vroom-testkit"},
        "media_signaling": {},
        "subscribe": {"rules": [{"type": "include", "all": true}], "revision": 1},
        "format": "unified",
        "token": token,
    })
}

impl SignalClient {
    /// Opens the WebSocket.
    ///
    /// # Errors
    /// When the connection fails.
    pub async fn open(url: &str) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Self {
            ws,
            pending: VecDeque::new(),
            participants: VecDeque::new(),
            session: None,
            closed: None,
        })
    }

    /// Opens, says hello with a `connect` body and waits for `welcome` and the answer (`connected`,
    /// or an `error`). Returns the answer's body.
    ///
    /// # Panics
    /// When the server does not answer in time.
    pub async fn join(
        url: &str,
        token: &str,
        room: Option<&str>,
        tracks: &[Value],
    ) -> (Self, Value) {
        let mut c = Self::open(url)
            .await
            .expect("the signaling WebSocket opens");
        c.hello(connect_body(token, room, tracks)).await;
        let welcome = c.next_frame().await.expect("a welcome");
        assert_eq!(
            welcome["type"], "welcome",
            "first frame must be welcome: {welcome}"
        );
        let answer = c.next_msg().await.expect("an answer to connect");
        if answer["type"] == "connected" {
            c.session = answer["session"].as_str().map(str::to_owned);
        }
        (c, answer)
    }

    /// Sends a raw text frame.
    ///
    /// # Panics
    /// When the connection is broken.
    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .expect("send a frame");
    }

    /// Sends a raw text frame; false once the connection is gone (for floods the server may cut).
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.ws.send(Message::text(text)).await.is_ok()
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: &Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends `hello` with `body`.
    pub async fn hello(&mut self, body: Value) {
        let id = uuid::Uuid::new_v4().to_string();
        self.send(&json!({"id": id, "timeout": 5000, "type": "hello", "version": 2, "body": body}))
            .await;
    }

    /// Sends an RSP message in a `msg` envelope.
    pub async fn msg(&mut self, body: Value) {
        self.send(&json!({"type": "msg", "body": body})).await;
    }

    /// Sends an `update` with the participant's tracks.
    pub async fn update_tracks(&mut self, revision: u64, tracks: &[Value]) {
        let session = self.session.clone();
        self.msg(json!({"session": session, "type": "update", "version": 2, "participant": {"revision": revision, "tracks": tracks}})).await;
    }

    /// Leaves like twilio-video.js does: `disconnect`, `bye`, then a normal close.
    pub async fn leave(mut self) {
        let session = self.session.clone();
        self.msg(json!({"session": session, "type": "disconnect", "version": 2}))
            .await;
        self.send(&json!({"type": "bye"})).await;
        let _ = self.ws.close(None).await;
    }

    /// Keeps the connection alive in the background as twilio-video.js does (a heartbeat every
    /// second; whatever the server sends is read and dropped) until the server closes it or the
    /// returned task is aborted.
    #[must_use]
    pub fn keep_alive(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let beat = Duration::from_secs(1);
            let mut next = tokio::time::Instant::now();
            loop {
                if tokio::time::Instant::now() >= next {
                    if !self.try_send_text(r#"{"type":"heartbeat"}"#).await {
                        return;
                    }
                    next += beat;
                }
                let wait = next.saturating_duration_since(tokio::time::Instant::now());
                if self.read(wait).await.is_none() && self.closed.is_some() {
                    return;
                }
            }
        })
    }

    /// Drops the TCP connection without any goodbye.
    pub fn drop_connection(self) {
        drop(self.ws);
    }

    async fn read(&mut self, wait: Duration) -> Option<Value> {
        if let Some(v) = self.pending.pop_front() {
            return Some(v);
        }
        if self.closed.is_some() {
            return None;
        }
        loop {
            match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) => {
                    self.closed = Some(None);
                    return None;
                }
                Ok(Some(Err(_))) => {
                    self.closed.get_or_insert(None);
                    return None;
                }
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Some(
                        serde_json::from_str(t.as_str())
                            .unwrap_or_else(|_| json!({"type": "<not json>", "text": t.as_str()})),
                    );
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    self.closed = Some(frame);
                    return None;
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// The next frame other than a heartbeat, if one comes within `WAIT`.
    pub async fn next_frame(&mut self) -> Option<Value> {
        loop {
            let f = self.read(WAIT).await?;
            if f["type"] != "heartbeat" {
                return Some(f);
            }
        }
    }

    /// The next frame of any type (heartbeats included) within `wait`.
    pub async fn next_raw(&mut self, wait: Duration) -> Option<Value> {
        self.read(wait).await
    }

    /// The body of the next `msg` frame (other frames skipped), if one comes within `WAIT`.
    pub async fn next_msg(&mut self) -> Option<Value> {
        loop {
            let f = self.next_frame().await?;
            if f["type"] == "msg" {
                return Some(f["body"].clone());
            }
        }
    }

    /// The next `msg` body whose `type` is `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Option<Value> {
        loop {
            let m = self.next_msg().await?;
            if m["type"] == kind {
                return Some(m);
            }
        }
    }

    /// The next participant state the client is told of, in order: an `update` may carry several
    /// (changes that were queued together), and the others are kept for the next calls. Skips
    /// other messages; `None` when the connection ends first.
    pub async fn next_participant(&mut self) -> Option<Value> {
        while self.participants.is_empty() {
            let m = self.next_of("update").await?;
            if let Some(ps) = m["participants"].as_array() {
                self.participants.extend(ps.iter().cloned());
            }
        }
        self.participants.pop_front()
    }

    /// Waits for the server to close the connection (skipping frames); returns the close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        while self.closed.is_none() {
            if self.read(WAIT).await.is_none() && self.closed.is_none() {
                return None;
            }
        }
        self.closed.clone().flatten()
    }
}
