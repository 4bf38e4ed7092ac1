//! The signaling twilio-video.js speaks, served at `/signaling` over a WebSocket.
//!
//! # Layout
//! - [`tcmp`]: the framing (hello/welcome, heartbeats, msg envelopes, bye);
//! - [`rsp`]: room signaling protocol v2 messages, parsed and built;
//! - [`token`]: access tokens (verify, and mint for the CLI and tests);
//! - `resume`: the session key a client presents to resume after a dropped connection;
//! - `conn`: one task per WebSocket, driving the protocol against the rooms hub.
//!
//! # Contracts
//! - Only this crate knows RSP message shapes.
//! - `welcome` is always sent before any `msg`; `bad` only before the handshake completed.
//! - A participant is added to a room only after its token was verified.
//! - Revisions (`published`, `subscribed`) only increase for a participant, across reconnections.

mod conn;
mod pcs;
mod resume;
pub mod rsp;
pub mod tcmp;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vroom_rooms::Hub;

use crate::token::TokenKey;

/// Knobs of the signaling server.
#[derive(Debug, Clone)]
pub struct SignalingConfig {
    /// The heartbeat timeout offered in `welcome`, in ms; the server sends a heartbeat when it has
    /// been silent this long and gives a client up after three times as long without a frame.
    pub heartbeat_ms: u64,
    /// RTCIceServer objects sent in `iced` to clients that ask.
    pub ice_servers: Value,
    /// Largest accepted frame, bytes.
    pub max_frame_bytes: usize,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        Self {
            heartbeat_ms: 5000,
            ice_servers: Value::Array(Vec::new()),
            max_frame_bytes: 1 << 20,
        }
    }
}

/// The signaling service. Create it once and mount [`Signaling::router`].
pub struct Signaling {
    hub: Hub,
    media: Option<vroom_sfu::Media>,
    keys: Vec<TokenKey>,
    config: SignalingConfig,
    resume: resume::ResumeKeys,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Signaling {
    /// A signaling service over `hub` and the media server `media` (without one, offers are left
    /// unanswered and clients connect without media), accepting tokens signed by `keys`.
    #[must_use]
    pub fn new(
        hub: Hub,
        media: Option<vroom_sfu::Media>,
        keys: Vec<TokenKey>,
        config: SignalingConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            hub,
            media,
            keys,
            config,
            resume: resume::ResumeKeys::random(),
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

/// The WebSocket read buffer of one signaling connection.
const READ_BUFFER_BYTES: usize = 4 * 1024;

async fn upgrade(State(signaling): State<Arc<Signaling>>, ws: WebSocketUpgrade) -> Response {
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
            tracker.track_future(conn::run(socket, signaling))
        })
}
