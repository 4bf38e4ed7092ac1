//! A lean signaling client for load: it sends what twilio-video.js sends (`hello` carrying the
//! `connect` body, heartbeats when it has been silent for the negotiated timeout, `disconnect` +
//! `bye` to leave) and reports failures as values instead of panicking, so a run counts them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A frame with only what this client reads of a `msg`: `connected` in a large room lists
/// hundreds of participants, and building them into a `Value` for every join would cost this
/// tool, on the same machine, more CPU than the server spends writing them. Unknown fields are
/// skipped without being kept.
#[derive(serde::Deserialize)]
struct LeanFrame {
    #[serde(rename = "type")]
    kind: String,
    body: Option<LeanBody>,
}

#[derive(serde::Deserialize)]
struct LeanBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    session: Option<String>,
    sid: Option<String>,
    participant: Option<LeanParticipant>,
    code: Option<Value>,
}

#[derive(serde::Deserialize)]
struct LeanParticipant {
    sid: Option<String>,
}

impl LeanBody {
    /// The fields read, as a `Value` shaped like the body they came from.
    fn into_value(self) -> Value {
        json!({
            "type": self.kind,
            "session": self.session,
            "sid": self.sid,
            "participant": {"sid": self.participant.and_then(|p| p.sid)},
            "code": self.code,
        })
    }
}

/// How long to wait for an answer the server owes.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

static HELLO_IDS: AtomicU64 = AtomicU64::new(0);

/// A name part not used before by this process (for rooms and identities), with the time the
/// process started it so two runs against one server do not collide either.
pub fn unique() -> String {
    static START: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    });
    // The pid too: several loads started in the same millisecond (one per node) stay apart.
    format!(
        "{start}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One signaling connection.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The session key from `connected`.
    pub session: Option<String>,
    /// The room SID from `connected`.
    pub room_sid: String,
    /// The participant SID from `connected`.
    pub participant_sid: String,
    /// The negotiated heartbeat timeout from `welcome`.
    pub heartbeat: Duration,
    /// Text frames received so far, and their bytes (welcome, connected, updates, …).
    pub received: (u64, u64),
    last_sent: Instant,
}

/// What a frame from the server was.
pub enum Frame {
    /// A `msg` body.
    Msg(Value),
    /// A TCMP frame other than `msg` (`heartbeat`, `welcome`, `bad`).
    Other(Value),
    /// The server closed the connection (or it broke).
    Closed,
}

impl Client {
    /// Opens the WebSocket (small buffers, Nagle off, as a browser's socket).
    ///
    /// # Errors
    /// When it cannot connect.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let mut config = WebSocketConfig::default();
        config.read_buffer_size = 8 * 1024;
        config.write_buffer_size = 0;
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .context("the WebSocket does not open")?;
        Ok(Self {
            ws,
            session: None,
            room_sid: String::new(),
            participant_sid: String::new(),
            heartbeat: Duration::from_secs(5),
            received: (0, 0),
            last_sent: Instant::now(),
        })
    }

    /// Sends a JSON frame.
    ///
    /// # Errors
    /// When the connection is broken.
    pub async fn send(&mut self, frame: &Value) -> anyhow::Result<()> {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .context("send")?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Sends `hello` with the `connect` body for `token` and `room` (no tracks). Returns when it was
    /// sent: the start of a join.
    ///
    /// # Errors
    /// When the connection is broken.
    pub async fn hello(&mut self, token: &str, room: &str) -> anyhow::Result<Instant> {
        let body = vroom_testkit::connect_body(token, Some(room), &[]);
        let id = HELLO_IDS.fetch_add(1, Ordering::Relaxed);
        self.send(&json!({"id": format!("load-{id}"), "timeout": 5000, "type": "hello", "version": 2, "body": body}))
            .await?;
        Ok(self.last_sent)
    }

    /// The next frame, or `None` when nothing came within `wait`.
    ///
    /// # Errors
    /// When the connection breaks.
    pub async fn next(&mut self, wait: Duration) -> anyhow::Result<Option<Frame>> {
        let m = match self.next_text(wait).await? {
            None => return Ok(None),
            Some(None) => return Ok(Some(Frame::Closed)),
            Some(Some(m)) => m,
        };
        let lean: LeanFrame =
            serde_json::from_str(m.as_str()).context("a frame that is not JSON")?;
        Ok(Some(match lean.body {
            Some(body) if lean.kind == "msg" => Frame::Msg(body.into_value()),
            _ => Frame::Other(serde_json::from_str(m.as_str())?),
        }))
    }

    /// The next text frame as sent, `Some(None)` when the server closed, or `None` when nothing
    /// came within `wait`.
    ///
    /// # Errors
    /// When the connection breaks.
    pub async fn next_text(&mut self, wait: Duration) -> anyhow::Result<Option<Option<Utf8Bytes>>> {
        loop {
            return match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => Ok(None),
                Ok(None | Some(Ok(Message::Close(_)))) => Ok(Some(None)),
                Ok(Some(Err(e))) => bail!("the connection broke: {e}"),
                Ok(Some(Ok(Message::Text(t)))) => {
                    self.received.0 += 1;
                    self.received.1 += t.len() as u64;
                    Ok(Some(Some(t)))
                }
                Ok(Some(Ok(_))) => continue,
            };
        }
    }

    /// Waits for `welcome` and then the answer to `connect`; `connected` fills in the SIDs.
    ///
    /// # Errors
    /// When the server answers otherwise, closes, or says nothing within [`ANSWER_WAIT`].
    pub async fn connected(&mut self) -> anyhow::Result<()> {
        let until = Instant::now() + ANSWER_WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                None => bail!("timeout waiting for connected"),
                Some(Frame::Closed) => bail!("closed before connected"),
                Some(Frame::Other(v)) => {
                    if v["type"] == "welcome" {
                        if let Some(ms) = v["negotiatedTimeout"].as_u64() {
                            self.heartbeat = Duration::from_millis(ms.max(100));
                        }
                    } else if v["type"] == "bad" {
                        bail!("bad: {}", v["reason"]);
                    }
                }
                Some(Frame::Msg(m)) => match m["type"].as_str() {
                    Some("connected") => {
                        self.session = m["session"].as_str().map(str::to_owned);
                        m["sid"]
                            .as_str()
                            .unwrap_or_default()
                            .clone_into(&mut self.room_sid);
                        m["participant"]["sid"]
                            .as_str()
                            .unwrap_or_default()
                            .clone_into(&mut self.participant_sid);
                        return Ok(());
                    }
                    Some("error") => bail!("error {}", m["code"]),
                    _ => {}
                },
            }
        }
    }

    /// Opens, says hello and waits for `connected`. Returns the client and the time from sending
    /// `connect` to receiving `connected`.
    ///
    /// # Errors
    /// As [`Client::open`] and [`Client::connected`].
    pub async fn join(url: &str, token: &str, room: &str) -> anyhow::Result<(Self, Duration)> {
        let mut c = Self::open(url).await?;
        let sent = c.hello(token, room).await?;
        c.connected().await?;
        Ok((c, sent.elapsed()))
    }

    /// Stays connected for `hold` like an idle twilio-video.js: reads whatever comes and sends a
    /// heartbeat whenever it has been silent for the negotiated timeout.
    ///
    /// # Errors
    /// When the server closes or the connection breaks.
    pub async fn idle(&mut self, hold: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + hold;
        loop {
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            let beat = self.last_sent + self.heartbeat;
            if now >= beat {
                self.send(&json!({"type": "heartbeat"})).await?;
                continue;
            }
            let wait = until.min(beat).saturating_duration_since(now);
            // Frames are read but not parsed: in a large room every member is told of every
            // join and leave, and parsing them all would put this tool's CPU, on the same
            // machine, on the scale against the server it measures.
            match tokio::time::timeout(wait, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    self.received.0 += 1;
                    self.received.1 += t.len() as u64;
                }
                Err(_)
                | Ok(Some(Ok(
                    Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_),
                ))) => {}
                Ok(None | Some(Ok(Message::Close(_)))) => {
                    bail!("the server closed an idle connection")
                }
                Ok(Some(Err(e))) => bail!("the connection broke: {e}"),
            }
        }
    }

    /// Waits until the server ends the session (an RSP `disconnected` or `error`, or a close).
    ///
    /// # Errors
    /// When nothing ends it within [`ANSWER_WAIT`].
    pub async fn ended(&mut self) -> anyhow::Result<()> {
        let until = Instant::now() + ANSWER_WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                None => bail!("timeout waiting for the session's end"),
                Some(Frame::Closed) => return Ok(()),
                Some(Frame::Msg(m)) if m["type"] == "disconnected" || m["type"] == "error" => {
                    return Ok(());
                }
                Some(_) => {}
            }
        }
    }

    /// Leaves like twilio-video.js: `disconnect`, `bye`, then a normal close.
    ///
    /// # Errors
    /// When the connection is already broken.
    pub async fn leave(mut self) -> anyhow::Result<()> {
        let session = self.session.clone();
        self.send(&json!({"type": "msg", "body": {"session": session, "type": "disconnect", "version": 2}}))
            .await?;
        self.send(&json!({"type": "bye"})).await?;
        let _ = self.ws.close(None).await;
        Ok(())
    }
}
