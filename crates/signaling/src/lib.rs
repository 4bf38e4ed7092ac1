//! The signaling twilio-video.js speaks, served at `/signaling` over a WebSocket.
//!
//! # Layout
//! - [`tcmp`]: the framing (hello/welcome, heartbeats, msg envelopes, bye);
//! - [`rsp`]: room signaling protocol v2 messages, parsed and built;
//! - [`token`]: access tokens (verify, and mint for the CLI and tests);
//! - `resume`: the session key a client presents to resume after a dropped connection;
//! - `conn`: one task per WebSocket, driving the protocol against the rooms hub, or relaying it to
//!   the node that runs its room (`conn/relay.rs`).
//!
//! # Contracts
//! - Only this crate knows RSP message shapes.
//! - `welcome` is always sent before any `msg`; `bad` only before the handshake completed.
//! - A participant is added to a room only after its token was verified.
//! - Revisions (`published`, `subscribed`) only increase for a participant, across reconnections.

mod conn;
pub use conn::Rate;
mod pcs;
mod resume;
pub use resume::ResumeSecret;
pub mod rsp;
pub mod tcmp;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vroom_rooms::Hub;

/// Knobs of the signaling server.
#[derive(Debug, Clone)]
pub struct SignalingConfig {
    /// The heartbeat timeout offered in `welcome`, in ms; the server sends a heartbeat when it has
    /// been silent this long and gives a client up after three times as long without a frame.
    pub heartbeat_ms: u64,
    /// RTCIceServer objects sent in `iced` to clients that ask, when there is no TURN server.
    pub ice_servers: Value,
    /// The embedded TURN server's credentials: with it, `iced` carries its URLs and a credential
    /// of the connection's own (to clients whose token is valid, unless their room withholds TURN).
    pub turn: Option<vroom_sfu::TurnIssuer>,
    /// Largest accepted frame, bytes.
    pub max_frame_bytes: usize,
    /// Frames (messages and heartbeats) one connection may send (none: unlimited).
    pub max_frames: Option<Rate>,
    /// `update` messages one connection may send (none: unlimited).
    pub max_updates: Option<Rate>,
    /// The secret session keys are signed with, shared by every node on the database (none: a
    /// random one, so keys are good on this process only).
    pub resume_secret: Option<ResumeSecret>,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        Self {
            heartbeat_ms: 5000,
            ice_servers: Value::Array(Vec::new()),
            turn: None,
            max_frame_bytes: 1 << 20,
            max_frames: None,
            max_updates: None,
            resume_secret: None,
        }
    }
}

/// The signaling service. Create it once and mount [`Signaling::router`].
pub struct Signaling {
    hub: Hub,
    media: Option<vroom_sfu::Media>,
    config: SignalingConfig,
    resume: resume::ResumeKeys,
    /// Active API keys tokens were verified with, while the credentials stand still.
    keys: std::sync::Mutex<KnownKeys>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// API keys found active, kept while the store's credentials version (a counter that triggers on
/// `accounts` and `api_keys` raise in the changing transaction, whoever writes them) is the one
/// read before they were: a join then reads one integer (on SQLite, from the WAL index's header)
/// instead of the key's row, and a key revoked or changed counts from the next token, as before.
#[derive(Default)]
struct KnownKeys {
    version: i64,
    keys: std::collections::HashMap<vroom_domain::sid::ApiKeySid, vroom_store::ApiKey>,
}

/// Keys kept at most (an account has a few; more means tokens of many accounts).
const KNOWN_KEYS: usize = 1024;

impl Signaling {
    fn known_keys(&self) -> std::sync::MutexGuard<'_, KnownKeys> {
        // The map stays consistent whatever panicked while it was held: entries are whole.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The active key `sid`, from memory while the credentials version is `version`.
    fn known_key(
        &self,
        version: i64,
        sid: vroom_domain::sid::ApiKeySid,
    ) -> Option<vroom_store::ApiKey> {
        let mut known = self.known_keys();
        if known.version != version {
            known.keys.clear();
            known.version = version;
        }
        known.keys.get(&sid).cloned()
    }

    /// Keeps `key`, found active under the credentials version `version`.
    fn keep_key(&self, version: i64, key: &vroom_store::ApiKey) {
        let mut known = self.known_keys();
        if known.version != version {
            return;
        }
        if known.keys.len() >= KNOWN_KEYS {
            known.keys.clear();
        }
        known.keys.insert(key.sid, key.clone());
    }
}

impl Signaling {
    /// A signaling service over `hub` and the media server `media` (without one, offers are left
    /// unanswered and clients connect without media), accepting tokens signed by the active API
    /// keys of the hub's store (kept in memory while the store's credentials version stands still,
    /// so a revoked key's tokens are refused from the next one on).
    #[must_use]
    pub fn new(hub: Hub, media: Option<vroom_sfu::Media>, config: SignalingConfig) -> Arc<Self> {
        let resume = resume::ResumeKeys::new(
            &config
                .resume_secret
                .clone()
                .unwrap_or_else(ResumeSecret::random),
        );
        Arc::new(Self {
            hub,
            media,
            config,
            resume,
            keys: std::sync::Mutex::default(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        })
    }

    /// The `/signaling` route.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/signaling", get(upgrade))
            .with_state(Arc::clone(self))
    }

    /// Closes every connection still being set up and waits (at most `grace`) for all connection
    /// tasks to end. Call after the hub's shutdown, which ends the sessions of connected participants.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some signaling connections did not close in time");
        }
    }
}

/// Marks a request one node relays to another (REST, and the WebSocket of a signaling connection
/// whose room another node runs); a relayed request is never relayed again.
pub const RELAYED_HEADER: &str = "x-vroom-relayed";

/// The WebSocket read buffer of one signaling connection: an idle participant's frames are
/// heartbeats of a few dozen bytes, and the buffer is resident for the connection's life. A larger
/// frame (an offer of several KiB) grows it for as long as it takes to read.
const READ_BUFFER_BYTES: usize = 1024;

/// Twilio's signaling region names, as twilio-video.js's `region` option takes them.
const REGIONS: [&str; 10] = [
    "gll", "au1", "br1", "de1", "ie1", "in1", "jp1", "sg1", "us1", "us2",
];
/// What `connected` reports as the signaling region when the client asked for none vroom knows.
const OWN_REGION: &str = "vroom";

/// The signaling region a client asked for, from the URL it connected to: twilio-video.js puts its
/// `region` option only into the URL it builds itself (`wss://<region>.vss.twilio.com/signaling`,
/// `gll` as `global`), never into a message, so with `wsServer` pointed at vroom the region is
/// read from a `region` query parameter (`ws://host/signaling?region=de1`) or, failing that, from
/// a host name laid out like Twilio's (`de1.vss.example.com`). Anything else: vroom's own name.
fn asked_region(query: Option<&str>, host: Option<&str>) -> &'static str {
    let known = |name: &str| {
        let name = if name.eq_ignore_ascii_case("global") {
            "gll"
        } else {
            name
        };
        REGIONS.into_iter().find(|r| r.eq_ignore_ascii_case(name))
    };
    // Region names need no percent-decoding: an encoded one is no region name.
    let from_query = query.and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "region")
            .and_then(|(_, v)| known(v))
    });
    let from_host = || {
        let host = host?;
        let mut labels = host.split('.');
        let first = labels.next()?;
        (labels.next() == Some("vss"))
            .then(|| known(first))
            .flatten()
    };
    from_query.or_else(from_host).unwrap_or(OWN_REGION)
}

async fn upgrade(
    State(signaling): State<Arc<Signaling>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let region = asked_region(query.as_deref(), host);
    let relayed = headers.contains_key(RELAYED_HEADER);
    let max = signaling.config.max_frame_bytes;
    // No subprotocol is selected: twilio-video.js offers none, and a browser fails the handshake if
    // the server picks one.
    ws.max_message_size(max)
        .max_frame_size(max)
        // tungstenite's default read buffer is 128 KiB, zero-filled when first read into, and it
        // stays resident for the life of the connection: most of an idle participant's memory.
        // Signaling frames are small (an offer is a few KiB); a larger frame grows the buffer for
        // as long as it is read. Writes go out as soon as a frame is written (no 128 KiB target).
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let tracker = signaling.tracker.clone();
            tracker.track_future(conn::run(socket, signaling, region, relayed))
        })
}

#[cfg(test)]
mod tests {
    use super::asked_region;

    #[test]
    fn the_region_comes_from_the_query_or_a_twilio_like_host() {
        let cases = [
            (Some("region=de1"), Some("127.0.0.1:8080"), "de1"),
            (Some("a=b&region=US1"), None, "us1"),
            (Some("region=gll"), None, "gll"),
            (Some("region=mars1"), Some("au1.vss.example.com"), "au1"),
            (None, Some("sg1.vss.example.com"), "sg1"),
            (None, Some("global.vss.example.com"), "gll"),
            (None, Some("us1.example.com"), "vroom"),
            (Some("region="), None, "vroom"),
            (None, None, "vroom"),
        ];
        for (query, host, want) in cases {
            assert_eq!(asked_region(query, host), want, "{query:?} {host:?}");
        }
    }
}
