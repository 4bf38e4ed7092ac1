//! What operators watch: `/healthz` (the process answers), `/readyz` (the store answers and the
//! media server runs), both without authentication for load balancers and orchestrators, and
//! Prometheus `/metrics` (on its own listener, or on the main one behind the account's credentials).
//! Also the HTTP middleware timing every request by route and status.
//!
//! Series are recorded with the `metrics` facade where their events happen; `main` installs the
//! Prometheus recorder once per process and hands its handle here to render.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use vroom_api::Accounts;
use vroom_rooms::Hub;
use vroom_store::Store;

/// What the health and metrics endpoints look at.
#[derive(Clone)]
pub struct Observe {
    /// The store (readiness).
    pub store: Arc<dyn Store>,
    /// The media server, if configured (readiness).
    pub media: Option<vroom_sfu::Media>,
    /// Rooms (gauges read at scrape time).
    pub hub: Hub,
    /// The Prometheus recorder's handle, if one is installed.
    pub metrics: Option<PrometheusHandle>,
    /// The media store's folder (its size and free space are sampled at scrape time).
    pub media_dir: std::path::PathBuf,
}

/// How long the store may take to answer a readiness probe.
const READY_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz` and `/readyz`.
pub fn health_router(observe: Observe) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(observe)
}

async fn ready(State(o): State<Observe>) -> Response {
    let store = match tokio::time::timeout(READY_STORE_TIMEOUT, o.store.next_webhook_due()).await {
        Ok(Ok(_)) => Probe::Ok,
        Ok(Err(e)) => Probe::Failing(e.to_string()),
        Err(_) => Probe::Failing(format!(
            "no answer within {} s",
            READY_STORE_TIMEOUT.as_secs()
        )),
    };
    let media = match &o.media {
        None => Probe::Disabled,
        Some(m) if m.is_running() => Probe::Ok,
        Some(_) => Probe::Failing("stopped".to_owned()),
    };
    let (status, body) = readiness(&store, &media);
    (status, axum::Json(body)).into_response()
}

/// What one dependency's check found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    Ok,
    /// Not configured (the media server can be turned off).
    Disabled,
    Failing(String),
}

impl Probe {
    fn text(&self) -> &str {
        match self {
            Self::Ok => "ok",
            Self::Disabled => "disabled",
            Self::Failing(why) => why,
        }
    }
}

/// Ready when the store answers and the media server, if configured, runs.
fn readiness(store: &Probe, media: &Probe) -> (StatusCode, serde_json::Value) {
    let ready = *store == Probe::Ok && !matches!(media, Probe::Failing(_));
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "store": store.text(),
        "media": media.text(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// `/metrics`. With `accounts`, only callers presenting the main account's credentials (its auth
/// token or one of its API keys, HTTP Basic) may read it: the figures are the whole server's, not
/// one tenant's.
pub fn metrics_router(observe: Observe, accounts: Option<Accounts>) -> Router {
    let accounts = Arc::new(accounts);
    Router::new()
        .route(
            "/metrics",
            get(
                move |State(o): State<Observe>, headers: axum::http::HeaderMap| {
                    let accounts = Arc::clone(&accounts);
                    async move {
                        if let Some(a) = accounts.as_ref() {
                            match a.check_basic(&headers).await {
                                Ok(Some(caller)) if caller.main => {}
                                Ok(_) => {
                                    return (
                                        StatusCode::UNAUTHORIZED,
                                        [(header::WWW_AUTHENTICATE, "Basic realm=\"vroom\"")],
                                        "metrics need the main account's credentials\n",
                                    )
                                        .into_response();
                                }
                                Err(e) => return vroom_api::ApiError::from(e).into_response(),
                            }
                        }
                        render(&o).await
                    }
                },
            ),
        )
        .with_state(observe)
}

async fn render(o: &Observe) -> Response {
    let Some(handle) = &o.metrics else {
        return (
            StatusCode::NOT_FOUND,
            "no metrics recorder in this process\n",
        )
            .into_response();
    };
    sample(o).await;
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Bytes of the files in the media store's folder, and bytes free for an unprivileged writer on
/// its file system. A folder not made yet (nothing recorded) holds nothing; the free space is then
/// that of the nearest folder above it that exists.
fn media_store_usage(dir: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let used = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
            .sum(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let existing = dir
        .ancestors()
        .find(|d| d.exists())
        .unwrap_or_else(|| std::path::Path::new("."));
    let fs = rustix::fs::statvfs(existing)?;
    Ok((used, fs.f_bavail.saturating_mul(fs.f_frsize)))
}

/// Reads what is sampled at scrape time rather than counted where it happens: rooms with a task,
/// the status-callback backlog, the media store's size and the media server's totals.
#[expect(
    clippy::cast_precision_loss,
    reason = "counts and ages far below 2^52 fit a gauge exactly"
)]
async fn sample(o: &Observe) {
    metrics::gauge!("vroom_rooms_in_progress").set(o.hub.live_rooms() as f64);
    match o.store.webhook_backlog().await {
        Ok(backlog) => {
            metrics::gauge!("vroom_webhook_queue_depth").set(backlog.pending as f64);
            let age = backlog.oldest.map_or(0.0, |t| {
                (o.hub.clock().now().millis() - t.millis()).max(0) as f64 / 1000.0
            });
            metrics::gauge!("vroom_webhook_oldest_age_seconds").set(age);
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the status-callback backlog for metrics"),
    }
    let dir = o.media_dir.clone();
    match tokio::task::spawn_blocking(move || media_store_usage(&dir)).await {
        Ok(Ok((used, free))) => {
            metrics::gauge!("vroom_media_store_bytes").set(used as f64);
            metrics::gauge!("vroom_media_store_free_bytes").set(free as f64);
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the media store's size for metrics"),
        Err(e) => tracing::warn!(error = %e, "the media store's size could not be sampled"),
    }
    let Some(media) = &o.media else { return };
    let Some(s) = media.stats().await else { return };
    metrics::gauge!("vroom_sfu_peer_connections").set(s.peer_connections as f64);
    metrics::gauge!("vroom_sfu_peer_connections_connected")
        .set(s.connected_peer_connections as f64);
    metrics::gauge!("vroom_sfu_tcp_connections").set(s.tcp_connections as f64);
    if let Some(turn) = media.turn() {
        for t in vroom_sfu::TurnTransport::ALL {
            let transport = t.as_str();
            metrics::gauge!("vroom_turn_relays", "transport" => transport)
                .set(turn.relays_over(t) as f64);
            metrics::counter!("vroom_turn_allocations_total", "transport" => transport)
                .absolute(turn.allocations_over(t));
        }
        for (reason, n) in turn.refused() {
            metrics::counter!("vroom_turn_credentials_refused_total", "reason" => reason)
                .absolute(n);
        }
    }
    metrics::gauge!("vroom_sfu_streams", "direction" => "in").set(s.streams_in as f64);
    metrics::gauge!("vroom_sfu_streams", "direction" => "out").set(s.streams_out as f64);
    for (direction, t) in [("in", s.received), ("out", s.sent)] {
        metrics::counter!("vroom_sfu_bytes_total", "direction" => direction).absolute(t.bytes);
        metrics::counter!("vroom_sfu_packets_total", "direction" => direction).absolute(t.packets);
        metrics::counter!("vroom_sfu_packets_lost_total", "direction" => direction)
            .absolute(t.packets_lost);
        metrics::counter!("vroom_sfu_nacks_total", "direction" => direction).absolute(t.nacks);
        metrics::counter!("vroom_sfu_keyframe_requests_total", "direction" => direction)
            .absolute(t.keyframe_requests);
    }
}

/// Times a request: `vroom_http_request_seconds{method,route,status}`, with the route as the
/// router matched it (`/v1/Rooms/{room}`), so SIDs do not multiply the series.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "vroom_http_request_seconds",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// The histogram buckets, seconds: from half a millisecond (a store read) to ten seconds.
pub const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets when no scrape does it.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process's Prometheus recorder and describes vroom's series, and keeps its
/// histograms drained (every [`UPKEEP_EVERY`]) whether or not anyone scrapes.
///
/// # Errors
/// When a recorder is already installed. Must be called within a Tokio runtime.
pub fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(BUCKETS)?
        .install_recorder()?;
    describe();
    // The recorder keeps every histogram sample until upkeep folds it into its buckets; a scrape
    // runs upkeep, but a busy server that nobody scrapes would otherwise grow without bound.
    let drained = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            drained.run_upkeep();
        }
    });
    Ok(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "vroom_rooms_in_progress",
        "Rooms in progress with a task in this process."
    );
    describe_gauge!(
        "vroom_media_store_bytes",
        Unit::Bytes,
        "Bytes of the recordings and compositions in the media store's folder."
    );
    describe_gauge!(
        "vroom_media_store_free_bytes",
        Unit::Bytes,
        "Bytes free on the media store's file system."
    );
    describe_counter!(
        "vroom_rooms_created_total",
        "Rooms created (REST or ad hoc)."
    );
    describe_counter!("vroom_rooms_ended_total", "Rooms that ended, by reason.");
    describe_counter!(
        "vroom_memory_trims_total",
        "Times freed memory was given back to the system after a wave of departures."
    );
    describe_gauge!(
        "vroom_participants_connected",
        "Participants connected (or reconnecting)."
    );
    describe_counter!(
        "vroom_participant_joins_total",
        "Participants that joined a room."
    );
    describe_counter!(
        "vroom_participant_leaves_total",
        "Participants that left a room, by reason."
    );
    describe_histogram!(
        "vroom_http_request_seconds",
        Unit::Seconds,
        "HTTP requests by method, route and status."
    );
    describe_gauge!("vroom_signaling_connections", "Open signaling WebSockets.");
    describe_counter!(
        "vroom_signaling_messages_received_total",
        "Frames (hello, heartbeat, bye) and RSP messages (connect, update, …) received, by type."
    );
    describe_counter!(
        "vroom_signaling_messages_sent_total",
        "Frames sent to signaling clients."
    );
    describe_gauge!(
        "vroom_webhook_queue_depth",
        "Status-callback events waiting for delivery."
    );
    describe_gauge!(
        "vroom_webhook_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest pending status-callback event."
    );
    describe_counter!(
        "vroom_webhook_attempts_total",
        "Status-callback delivery attempts, by outcome (delivered, failed)."
    );
    describe_counter!(
        "vroom_webhook_given_up_total",
        "Status-callback events given up."
    );
    describe_gauge!(
        "vroom_sfu_peer_connections",
        "Peer connections open at the media server."
    );
    describe_gauge!(
        "vroom_sfu_peer_connections_connected",
        "Peer connections whose ICE and DTLS are up."
    );
    describe_gauge!(
        "vroom_turn_relays",
        "Relays (TURN allocations) open at the embedded TURN server, by how clients reach it (udp, tcp, tls)."
    );
    describe_counter!(
        "vroom_turn_allocations_total",
        "Relays allocated at the embedded TURN server, by how clients reach it (udp, tcp, tls)."
    );
    describe_counter!(
        "vroom_turn_credentials_refused_total",
        "TURN credentials refused: expired, revoked (the room withholds TURN), malformed."
    );
    describe_gauge!(
        "vroom_sfu_tcp_connections",
        "ICE-over-TCP connections open at the media server (clients whose UDP is blocked)."
    );
    describe_gauge!(
        "vroom_sfu_streams",
        "RTP streams (one per simulcast layer) received from publishers (in) and sent to subscribers (out)."
    );
    describe_counter!(
        "vroom_sfu_bytes_total",
        Unit::Bytes,
        "RTP bytes received (in) and sent (out), retransmissions included."
    );
    describe_counter!(
        "vroom_sfu_packets_total",
        "RTP packets received (in) and sent (out), retransmissions included."
    );
    describe_counter!(
        "vroom_sfu_packets_lost_total",
        "Packets lost: towards subscribers as their receiver reports count them (out); from publishers estimated from each report period's loss fraction (in)."
    );
    describe_counter!(
        "vroom_sfu_nacks_total",
        "NACKs sent to publishers (in) and received from subscribers (out)."
    );
    describe_counter!(
        "vroom_sfu_keyframe_requests_total",
        "Keyframe requests (PLI, FIR) sent to publishers (in) and received from subscribers (out)."
    );
    describe_histogram!(
        "vroom_store_seconds",
        Unit::Seconds,
        "Store calls by operation and outcome."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_the_store_answers_and_the_media_server_runs_if_configured() {
        let failing = || Probe::Failing("database error: disk I/O error".into());
        let cases = [
            (Probe::Ok, Probe::Ok, 200, "ready"),
            (Probe::Ok, Probe::Disabled, 200, "ready"),
            (failing(), Probe::Ok, 503, "not ready"),
            (
                Probe::Ok,
                Probe::Failing("stopped".into()),
                503,
                "not ready",
            ),
        ];
        for (store, media, code, status) in cases {
            let (got, body) = readiness(&store, &media);
            assert_eq!(got.as_u16(), code, "{store:?} {media:?}");
            assert_eq!(body["status"], status);
            assert_eq!(body["store"], store.text());
            assert_eq!(body["media"], media.text());
        }
    }
}
