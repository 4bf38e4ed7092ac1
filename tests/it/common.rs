//! Starting and driving a real vroom for a test.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vroom::config::{Config, CredentialSeed};
use vroom::{App, Deps};
use vroom_domain::sid::{AccountSid, ApiKeySid, RandomIds};
use vroom_domain::time::{Span, Timestamp};
use vroom_rooms::clock::{Clock, ManualClock, SystemClock};
use vroom_signaling::token::{self, TokenKey};
use vroom_store::StoredCredentials;
use vroom_store::postgres::scratch::ScratchDatabase;

/// Whether `TestServer`s run on PostgreSQL (`VROOM_TEST_DATABASE=postgres`: each server gets a
/// database of its own on the test server, `VROOM_TEST_POSTGRES_URL` or the local one) rather than
/// on an SQLite file. scripts/test runs the REST, lifecycle, signaling and status-callback tests
/// both ways.
pub fn on_postgres() -> bool {
    std::env::var("VROOM_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// How a test server is set up.
#[derive(Clone)]
pub struct Options {
    /// A manual clock (None: the system clock).
    pub clock: Option<ManualClock>,
    /// Reconnect window for dropped signaling connections.
    pub reconnect_window: Span,
    /// Heartbeat timeout offered to clients, ms.
    pub heartbeat_ms: u64,
    /// Status-callback delivery settings.
    pub webhooks: vroom::config::WebhookConfig,
    /// Status callback of ad-hoc rooms.
    pub ad_hoc_status_callback: Option<String>,
    /// Where `/quickstart` gets twilio-video.js.
    pub quickstart: vroom::quickstart::SdkSource,
    /// The media server's limit of video bits per second per subscriber.
    pub max_subscriber_bitrate: Option<u64>,
    /// How long a recorded track may bring no media before its publisher is warned (Twilio's
    /// 30 s by default; the browser scenario of media warnings shortens it).
    pub recording_media_timeout: Duration,
    /// Per-client and per-account limits.
    pub limits: vroom::config::Limits,
    /// The address every listener binds and announces (HTTP, media UDP and TCP, TURN); default
    /// 127.0.0.1. netns.rs serves a client in another network namespace on its veth address.
    pub bind_ip: Option<std::net::IpAddr>,
    /// TURN over TLS with this certificate chain and key (PEM files); the `turns:` URL names the
    /// bound address.
    pub turn_tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: None,
            reconnect_window: Span::from_secs(30),
            heartbeat_ms: 5000,
            webhooks: vroom::config::WebhookConfig::default(),
            ad_hoc_status_callback: None,
            quickstart: Config::default().quickstart,
            max_subscriber_bitrate: None,
            recording_media_timeout: vroom_sfu::RECORDING_MEDIA_TIMEOUT,
            limits: vroom::config::Limits::default(),
            bind_ip: None,
            turn_tls: None,
        }
    }
}

/// A running vroom.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `ws://127.0.0.1:PORT/signaling`
    pub ws: String,
    /// The credentials it accepts.
    pub creds: StoredCredentials,
    /// The manual clock, if the server runs on one.
    pub clock: Option<ManualClock>,
    /// The database URL.
    pub db_url: String,
    options: Options,
    dir: Arc<TempDir>,
    /// The PostgreSQL database of this server, when the tests run on PostgreSQL (dropped with the
    /// last clone, after the server).
    postgres: Option<Arc<ScratchDatabase>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    http: reqwest::Client,
}

/// Fixed credentials for tests, so tokens can be minted before the server starts.
pub fn test_credentials() -> StoredCredentials {
    StoredCredentials {
        account_sid: AccountSid::generate(&RandomIds),
        auth_token: "test-auth-token-0123456789abcdef".into(),
        api_key_sid: ApiKeySid::generate(&RandomIds),
        api_key_secret: "test-api-key-secret-0123456789ab".into(),
    }
}

impl TestServer {
    /// A server on the system clock.
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    /// A server on a manual clock starting at a fixed time.
    pub async fn start_manual() -> Self {
        Self::with(Options {
            clock: Some(ManualClock::new(Timestamp::from_secs(1_800_000_000))),
            ..Options::default()
        })
        .await
    }

    /// A server with `options` on a fresh temporary database: an SQLite file in a temporary
    /// folder, or with `VROOM_TEST_DATABASE=postgres` a fresh PostgreSQL database (see
    /// [`on_postgres`]).
    pub async fn with(options: Options) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("a temp dir"));
        let postgres = if on_postgres() {
            let db = ScratchDatabase::create("a test server on PostgreSQL")
                .await
                .expect("VROOM_TEST_DATABASE=postgres needs a reachable PostgreSQL");
            Some(Arc::new(db))
        } else {
            None
        };
        let db_url = match &postgres {
            Some(db) => db.url().to_owned(),
            None => format!("sqlite://{}/vroom.db", dir.path().display()),
        };
        Self::boot(options, dir, postgres, db_url, test_credentials()).await
    }

    async fn boot(
        options: Options,
        dir: Arc<TempDir>,
        postgres: Option<Arc<ScratchDatabase>>,
        db_url: String,
        creds: StoredCredentials,
    ) -> Self {
        let config = Config {
            database_url: db_url.clone(),
            public_url: None,
            credentials: CredentialSeed {
                account: Some((creds.account_sid, creds.auth_token.clone())),
                api_key: Some((creds.api_key_sid, creds.api_key_secret.clone())),
            },
            reconnect_window: options.reconnect_window,
            heartbeat_ms: options.heartbeat_ms,
            webhooks: options.webhooks.clone(),
            ad_hoc_status_callback: options
                .ad_hoc_status_callback
                .clone()
                .map(|url| (url, vroom_domain::room::CallbackMethod::Post)),
            media: Config::default().media.map(|m| {
                let on = |addr: std::net::SocketAddr| {
                    std::net::SocketAddr::new(options.bind_ip.unwrap_or(addr.ip()), addr.port())
                };
                vroom_sfu::MediaConfig {
                    max_subscriber_bitrate: options.max_subscriber_bitrate,
                    recording_media_timeout: options.recording_media_timeout,
                    bind: on(m.bind),
                    tcp_bind: m.tcp_bind.map(on),
                    turn: m.turn.map(|t| vroom_sfu::TurnConfig {
                        bind: on(t.bind),
                        tcp_bind: t.tcp_bind.map(on),
                        tls: options
                            .turn_tls
                            .clone()
                            .map(|(cert, key)| vroom_sfu::TurnTls {
                                bind: on(t.bind),
                                cert,
                                key,
                                host: None,
                            }),
                        ..t
                    }),
                    ..m
                }
            }),
            quickstart: options.quickstart.clone(),
            limits: options.limits.clone(),
            // One id per test server, the same across its restarts (like a node of a cluster).
            node_id: Some(format!("test-{}", dir.path().display())), // see `node_id`
            media_dir: dir.path().join("media"),
            ..Config::default()
        };
        let clock: Arc<dyn Clock> = match &options.clock {
            Some(c) => Arc::new(c.clone()),
            None => Arc::new(SystemClock),
        };
        let app = App::start(
            config,
            Deps {
                ids: Arc::new(vroom::ids::OrderedIds::new(Arc::clone(&clock))),
                clock,
                metrics: None,
            },
        )
        .await
        .expect("vroom starts");
        let ip = options
            .bind_ip
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("a local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{addr}"),
            ws: format!("ws://{addr}/signaling"),
            creds,
            clock: options.clock.clone(),
            db_url,
            options,
            dir,
            postgres,
            stop: Some(stop),
            task: Some(task),
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(mut self) {
        self.stop_in_place().await;
    }

    /// Stops gracefully and hands back the temporary folder holding the database, so the test can
    /// read what the stop left.
    pub async fn stop_keeping_data(mut self) -> Arc<TempDir> {
        self.stop_in_place().await;
        Arc::clone(&self.dir)
    }

    async fn stop_in_place(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("vroom stops in time")
                .expect("the server task")
                .expect("vroom ran without error");
        }
    }

    /// Stops gracefully and starts again on the same database (a new port).
    pub async fn restart(mut self) -> Self {
        self.stop_in_place().await;
        Self::boot(
            self.options.clone(),
            Arc::clone(&self.dir),
            self.postgres.clone(),
            self.db_url.clone(),
            self.creds.clone(),
        )
        .await
    }

    /// Stops gracefully, keeping everything for [`TestServer::resume`] (a test changes what the
    /// stop left in between).
    pub async fn pause(&mut self) {
        self.stop_in_place().await;
    }

    /// Starts a paused server again on the same data (a new port).
    pub async fn resume(self) -> Self {
        Self::boot(
            self.options.clone(),
            Arc::clone(&self.dir),
            self.postgres.clone(),
            self.db_url.clone(),
            self.creds.clone(),
        )
        .await
    }

    /// The server's node id (the same across its restarts).
    pub fn node_id(&self) -> String {
        format!("test-{}", self.dir.path().display())
    }

    /// The server's media store.
    pub fn media_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("media")
    }

    /// The current time of the server's clock.
    pub fn now(&self) -> Timestamp {
        match &self.clock {
            Some(c) => c.now(),
            None => SystemClock.now(),
        }
    }

    /// Moves the manual clock forward.
    pub fn advance(&self, span: Span) {
        self.clock.as_ref().expect("a manual clock").advance(span);
    }

    /// An access token for `identity`, optionally bound to `room`.
    pub fn token(&self, identity: &str, room: Option<&str>) -> String {
        let key = TokenKey {
            account_sid: self.creds.account_sid,
            api_key_sid: self.creds.api_key_sid,
            secret: self.creds.api_key_secret.clone(),
        };
        token::mint(&key, identity, room, 3600, self.now()).expect("mint a token")
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.expect("the request is answered");
        let status = resp.status();
        let text = resp.text().await.expect("a body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("a JSON body, got {status}: {text}"));
        (status, json)
    }

    /// GET with the API key.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let key = self.creds.api_key_sid.to_string();
        self.send(
            self.http
                .get(self.url(path))
                .basic_auth(key, Some(&self.creds.api_key_secret)),
        )
        .await
    }

    /// POST a form with the API key.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let key = self.creds.api_key_sid.to_string();
        self.send(
            self.http
                .post(self.url(path))
                .basic_auth(key, Some(&self.creds.api_key_secret))
                .form(form),
        )
        .await
    }

    /// A request with any credentials (or none).
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<(&str, &str)>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Some((content_type, body)) = body {
            req = req
                .header("content-type", content_type)
                .body(body.to_owned());
        }
        self.send(req).await
    }

    /// Creates a room and returns its resource.
    pub async fn create_room(&self, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.post("/v1/Rooms", form).await;
        assert_eq!(status, StatusCode::CREATED, "create room: {body}");
        body
    }

    /// Polls `check` (up to 10 s) until it returns true.
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..200 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for: {what}");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `vroom serve` on `127.0.0.1:port` with database `db`, logging warnings only.
pub fn serve_command(port: u16, db: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_vroom"));
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            db,
        ])
        .env("RUST_LOG", "warn");
    command
}

/// The vroom binary itself, serving on `127.0.0.1:port` with `db` and `creds` (for tests that kill
/// it with SIGKILL). Waits until it listens.
pub async fn spawn_vroom(port: u16, db: &str, creds: &StoredCredentials) -> tokio::process::Child {
    spawn_vroom_with(port, db, creds, &[]).await
}

/// [`spawn_vroom`] with more `serve` arguments.
pub async fn spawn_vroom_with(
    port: u16,
    db: &str,
    creds: &StoredCredentials,
    args: &[&str],
) -> tokio::process::Child {
    let mut child = serve_command(port, db)
        .args(args)
        .env("VROOM_ACCOUNT_SID", creds.account_sid.to_string())
        .env("VROOM_AUTH_TOKEN", &creds.auth_token)
        .env("VROOM_API_KEY_SID", creds.api_key_sid.to_string())
        .env("VROOM_API_KEY_SECRET", &creds.api_key_secret)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the vroom binary starts");
    // Up to 30 s: a debug build starting beside a full parallel test run on two cores can take
    // more than 10; a process that exited says so at once.
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vroom exited before listening on {port}: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("vroom did not start listening on {port}");
}

/// A free TCP port for a process a test starts, never the same twice in this run: taken below
/// the kernel's ephemeral range (32768 and up here), so no outgoing connection or `bind(0)` of
/// another test is given it between the check and the process binding it, and only once it binds
/// on 127.0.0.1 (and on UDP, for a media port) at the moment it is handed out. Each run starts at
/// its own place in the range, so test binaries run side by side rarely meet.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 10_000;
    const SPAN: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() % SPAN) * 7919 % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + n % SPAN).expect("ports are below 32768");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port below the ephemeral range")
}

/// An access token signed with `creds`, valid from now (system clock).
pub fn token_for(creds: &StoredCredentials, identity: &str) -> String {
    let key = TokenKey {
        account_sid: creds.account_sid,
        api_key_sid: creds.api_key_sid,
        secret: creds.api_key_secret.clone(),
    };
    token::mint(&key, identity, None, 3600, SystemClock.now()).expect("mint a token")
}

/// Sends SIGTERM to a vroom started by a test (an operator's or an orchestrator's stop).
pub(crate) fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("the process runs").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -TERM {pid}");
}

/// Waits for a stopping vroom to exit, within `secs`, and asserts the exit was clean.
pub(crate) async fn exits_cleanly(child: &mut tokio::process::Child, secs: u64) {
    let status = tokio::time::timeout(Duration::from_secs(secs), child.wait())
        .await
        .expect("vroom exits within its shutdown timeout")
        .unwrap();
    assert!(status.success(), "vroom exits cleanly on SIGTERM: {status}");
}
