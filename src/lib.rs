//! vroom: a self-hosted video rooms server that speaks Twilio Programmable Video's REST API and the
//! signaling protocol of twilio-video.js.
//!
//! This crate is the wiring: configuration, credentials, and [`App`], which opens the store, starts
//! the rooms hub and serves the REST API and signaling on one listener. `main.rs` is the CLI.
//!
//! The seam for tests is [`App::start`] + [`App::serve`]: tests bind `127.0.0.1:0`, pass a temporary
//! database, a manual clock if they need one, and a shutdown future they control.

pub mod compose;
pub mod config;
pub mod console;
pub mod credentials;
pub mod forward;
pub mod ids;
pub mod listen;
pub mod logs;
pub mod memory;
mod metered_store;
pub mod observe;
pub mod quickstart;
pub mod recordings;
pub mod settings;
pub mod tenants;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vroom_api::ApiState;
use vroom_domain::live::LiveConfig;
use vroom_domain::sid::IdSource;
use vroom_rooms::clock::{Clock, SystemClock};
use vroom_rooms::{Hub, HubDeps};
use vroom_signaling::{Signaling, SignalingConfig};
use vroom_store::{Store, StoredCredentials};
use vroom_webhooks::Dispatcher;

use crate::config::Config;

/// Where time and identifiers come from; the system's unless a test says otherwise.
pub struct Deps {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// SIDs.
    pub ids: Arc<dyn IdSource>,
    /// The process's Prometheus recorder, if `main` installed one (tests run without).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl Default for Deps {
    fn default() -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self {
            ids: Arc::new(ids::OrderedIds::new(Arc::clone(&clock))),
            clock,
            metrics: None,
        }
    }
}

/// A started vroom, ready to serve.
pub struct App {
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    outbox: Arc<Notify>,
    hub: Hub,
    media: Option<vroom_sfu::Media>,
    media_stop: CancellationToken,
    credentials: StoredCredentials,
    generated_credentials: bool,
    node: String,
    resume_secret: vroom_signaling::ResumeSecret,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    metrics_listener: Option<TcpListener>,
}

impl App {
    /// Opens the store (running migrations), resolves the credentials and starts the rooms hub
    /// (closing participants a previous run left connected).
    ///
    /// # Errors
    /// When the database cannot be opened or read.
    pub async fn start(config: Config, deps: Deps) -> anyhow::Result<Self> {
        let store: Arc<dyn Store> = Arc::new(metered_store::MeteredStore::new(
            vroom_store::open(&config.database_url)
                .await
                .context("cannot open the database")?,
        ));
        let resolved = credentials::resolve(store.as_ref(), &config.credentials, deps.clock.now())
            .await
            .context("cannot read or store the credentials")?;
        let node = node_id(&config);
        let resume_secret = shared_resume_secret(store.as_ref())
            .await
            .context("cannot read or store the shared resume secret")?;
        recordings::recover(store.as_ref(), deps.clock.as_ref(), &config.media_dir)
            .await
            .context("cannot settle the recordings the last run left")?;
        compose::remove_leftovers(&config.media_dir);
        let outbox = Arc::new(Notify::new());
        let media_stop = CancellationToken::new();
        let media = match &config.media {
            Some(m) => {
                let mut m = m.clone();
                // TURN credentials are issued (signaling) and checked (TURN) on the one clock.
                if let Some(turn) = &mut m.turn {
                    turn.clock = Arc::clone(&deps.clock);
                }
                let bind = m.bind;
                m.media_dir = Some(config.media_dir.clone());
                Some(
                    vroom_sfu::Media::start(m, media_stop.clone())
                        .await
                        .with_context(|| {
                            format!("cannot start the media server (UDP {bind}) or its TURN server")
                        })?
                        .0,
                )
            }
            None => None,
        };
        if let Some(finished) = media
            .as_ref()
            .and_then(vroom_sfu::Media::take_finished_recordings)
        {
            tokio::spawn(recordings::follow(
                Arc::clone(&store),
                Arc::clone(&deps.clock),
                finished,
            ));
        }
        let hooks: Arc<dyn vroom_rooms::MediaHooks> = match &media {
            Some(m) => Arc::new(m.clone()),
            None => Arc::new(vroom_rooms::NoMedia),
        };
        let hub = Hub::start(HubDeps {
            store: Arc::clone(&store),
            clock: Arc::clone(&deps.clock),
            ids: deps.ids,
            config: LiveConfig {
                reconnect_window: config.reconnect_window,
            },
            outbox: Arc::clone(&outbox),
            ad_hoc_callback: config.ad_hoc_status_callback.clone(),
            media: hooks,
            max_rooms_per_account: config.limits.max_rooms_per_account,
            cluster: vroom_rooms::ClusterConfig {
                node: node.clone(),
                address: config.public_url.clone().unwrap_or_default(),
                ..vroom_rooms::ClusterConfig::single()
            },
        })
        .await
        .context("cannot restore the rooms in progress")?;
        Ok(Self {
            config,
            store,
            clock: deps.clock,
            outbox,
            hub,
            media,
            media_stop,
            credentials: resolved.credentials,
            generated_credentials: resolved.generated,
            node,
            resume_secret,
            metrics: deps.metrics,
            metrics_listener: None,
        })
    }

    /// The credentials in force.
    #[must_use]
    pub fn credentials(&self) -> &StoredCredentials {
        &self.credentials
    }

    /// Serves `/metrics` on `listener`, without authentication, instead of on the main listener
    /// behind the account's credentials.
    #[must_use]
    pub fn with_metrics_listener(mut self, listener: TcpListener) -> Self {
        self.metrics_listener = Some(listener);
        self
    }

    /// Whether this start generated (some of) the credentials.
    #[must_use]
    pub fn generated_credentials(&self) -> bool {
        self.generated_credentials
    }

    /// Serves the REST API and signaling on `listener` until `shutdown` completes, then stops: no new
    /// requests, connected participants leave (their records get an end time), connections close.
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let local = listener
            .local_addr()
            .context("the listener has no address")?;
        let public_url = self
            .config
            .public_url
            .clone()
            .unwrap_or_else(|| config::derived_public_url(local));
        let composer_wake = Arc::new(Notify::new());
        let stop_composer = CancellationToken::new();
        let composing = tokio::spawn(
            compose::Composer {
                node: self.node.clone(),
                store: Arc::clone(&self.store),
                clock: Arc::clone(&self.clock),
                config: compose::ComposerConfig::new(self.config.media_dir.clone()),
                wake: Arc::clone(&composer_wake),
            }
            .run(stop_composer.clone()),
        );
        let callback_check = self.config.webhooks.block_private.then(|| {
            let check: vroom_api::CallbackCheck = Arc::new(|url: String| {
                Box::pin(async move {
                    vroom_webhooks::client::check_target(&url, true)
                        .await
                        .map_err(|e| e.to_string())
                })
            });
            check
        });
        let api = Arc::new(
            ApiState::new(
                self.hub.clone(),
                Arc::clone(&self.store),
                public_url.clone(),
                callback_check,
                self.config.limits.rest,
            )
            .with_media(vroom_api::media::MediaStore::new(
                self.config.media_dir.clone(),
                rand::random(),
            ))
            .with_composer(Arc::clone(&composer_wake)),
        );
        let signaling = Signaling::new(
            self.hub.clone(),
            self.media.clone(),
            SignalingConfig {
                heartbeat_ms: self.config.heartbeat_ms,
                max_frame_bytes: self.config.limits.signaling_message_bytes,
                max_frames: self.config.limits.signaling_messages,
                max_updates: self.config.limits.signaling_updates,
                turn: self
                    .media
                    .as_ref()
                    .and_then(|m| m.turn())
                    .map(|t| t.issuer().clone()),
                resume_secret: Some(self.resume_secret.clone()),
                ..SignalingConfig::default()
            },
        );
        let dispatcher = Dispatcher::new(
            self.node.clone(),
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            self.config.webhooks.clone(),
            Arc::clone(&self.outbox),
        )
        .context("cannot build the status-callback HTTP client")?;
        let stop_dispatcher = CancellationToken::new();
        let drain_dispatcher = CancellationToken::new();
        let dispatching =
            tokio::spawn(dispatcher.run(stop_dispatcher.clone(), drain_dispatcher.clone()));
        let stopping = CancellationToken::new();
        let observe = observe::Observe {
            store: Arc::clone(&self.store),
            media: self.media.clone(),
            hub: self.hub.clone(),
            metrics: self.metrics.clone(),
            media_dir: self.config.media_dir.clone(),
        };
        let accounts = api.accounts.clone();
        // REST about a room another node runs is relayed to it (forward.rs).
        let relay_client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .context("cannot build the HTTP client that relays to other nodes")?;
        let mut app = vroom_api::router(api)
            .layer(axum::middleware::from_fn_with_state(
                relay_client,
                forward::relay,
            ))
            .merge(signaling.router())
            .merge(quickstart::router(&self.config.quickstart))
            .merge(console::router(accounts.clone(), Arc::clone(&self.clock)))
            .merge(observe::health_router(observe.clone()));
        match self.metrics_listener.take() {
            None => app = app.merge(observe::metrics_router(observe, Some(accounts))),
            Some(listener) => {
                let metrics_app = observe::metrics_router(observe, None);
                let addr = listener.local_addr().ok();
                tracing::info!(?addr, "serving /metrics");
                let stopped = stopping.clone().cancelled_owned();
                tokio::spawn(async move {
                    let served = axum::serve(listener, metrics_app)
                        .with_graceful_shutdown(stopped)
                        .await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, "the metrics listener failed");
                    }
                });
            }
        }
        let app = app
            .route_layer(axum::middleware::from_fn(observe::track_http))
            .layer(tower_http::trace::TraceLayer::new_for_http());
        tracing::info!(%local, %public_url, "vroom is serving");
        tokio::spawn({
            let stopping = stopping.clone();
            let hub = self.hub.clone();
            async move {
                shutdown.await;
                // From the stop on, no new room here (the requests in flight that would make or
                // take one get 503): the rooms this node still runs are handed over below.
                hub.drain();
                stopping.cancel();
            }
        });
        let release: listen::Release = {
            let store = Arc::clone(&self.store);
            Arc::new(move || {
                let store = Arc::clone(&store);
                Box::pin(async move { store.release_memory().await })
            })
        };
        // A task of its own on the runtime's workers, whoever awaits `App::serve` (the main thread
        // blocks on it): from the main thread each accept would be a wake-up across threads and
        // each connection's task would wait in the global queue for a worker to be woken; from a
        // worker a new connection's task starts on that worker. Aborted if this future is dropped.
        let mut server = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(listen::serve(
            listener,
            app,
            self.config.limits.connections,
            release,
            stopping.clone(),
        )));
        // Until the stop: serve. After it: no new connections, and the requests in flight get until
        // the deadline to finish.
        // `serve` returns only after the stop, once its connections have closed.
        let finished = tokio::select! {
            served = &mut server => {
                if let Err(e) = served
                    && e.is_panic()
                {
                    std::panic::resume_unwind(e.into_panic());
                }
                true
            }
            () = stopping.cancelled() => false,
        };
        let deadline = tokio::time::Instant::now() + self.config.shutdown_timeout;
        if !finished && tokio::time::timeout_at(deadline, server).await.is_err() {
            tracing::warn!("stopping: REST requests still in flight at the deadline");
        }
        tracing::info!("stopping: ending every session");
        // Participants leave now (their records end at the stop, with their callback events) and
        // each client is told its session is over.
        if tokio::time::timeout_at(deadline, self.hub.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("stopping: some rooms did not record their participants' end in time");
        }
        signaling
            .shutdown(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await;
        self.media_stop.cancel();
        // A composition in progress is cut short: the next start composes it again.
        stop_composer.cancel();
        let _ = composing.await;
        // The callbacks of those departures go out now; whatever is not delivered by the deadline
        // stays in the outbox for the next start.
        drain_dispatcher.cancel();
        let mut dispatching = dispatching;
        if tokio::time::timeout_at(deadline, &mut dispatching)
            .await
            .is_err()
        {
            tracing::warn!("stopping: status callbacks left for the next start");
            stop_dispatcher.cancel();
            let _ = dispatching.await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The node's id: the configured one; else `local` for SQLite (a database file serves one node),
/// else a fresh one (a node of a cluster that was not given an id).
fn node_id(config: &Config) -> String {
    if let Some(id) = &config.node_id {
        return id.clone();
    }
    if config.database_url.starts_with("sqlite:") {
        return "local".to_owned();
    }
    let n: u64 = rand::random();
    format!("node-{n:016x}")
}

/// The secret signaling session keys are signed with, the same on every node of the database: the
/// stored one, or a fresh one stored by the first node to start.
async fn shared_resume_secret(store: &dyn Store) -> anyhow::Result<vroom_signaling::ResumeSecret> {
    let fresh = vroom_signaling::ResumeSecret::random();
    let stored = store
        .shared_secret("signaling-resume", &fresh.to_hex())
        .await?;
    vroom_signaling::ResumeSecret::from_hex(&stored)
        .context("the stored signaling resume secret is not 64 hex digits")
}

/// Starts vroom with the system clock and serves `listener` until `shutdown`.
///
/// # Errors
/// When the database cannot be opened or the listener fails.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    App::start(config, Deps::default())
        .await?
        .serve(listener, shutdown)
        .await
}
