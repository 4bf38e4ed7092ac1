//! twilio-video.js 2.36.0 in headless Chromium against the real server. One test runs every scenario
//! of `tests/browser/` in one `node run.js`: one Chromium, two scenarios at a time, each in its own
//! rooms, all against the servers this side starts, one per server profile the scenarios ask for
//! (`profile`). The checks are in scenarios-*.js (the harness in lib.js; run.js's header says how to
//! add a scenario). On failure the test fails with run.js's report, which names every failed scenario
//! and shows what each of its pages logged.
//!
//! `VROOM_SCENARIOS=glare,connect cargo test --test it browser` runs only those scenarios;
//! `VROOM_BROWSER_PARALLEL=1` runs them one at a time.
//!
//! Needs `scripts/setup-test-deps` (Chromium and `npm ci` in tests/browser); fails, never skips,
//! when that was not run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::process::Command;
use vroom_store::StoredCredentials;

use crate::common::{Options, TestServer};
use crate::external::{require_installed, run_to_end};

/// How long the whole run may take, Chromium start included. run.js gives each scenario 120 s and
/// reports one that runs out; this limit only catches run.js itself hanging.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);
/// The browser Playwright drives (Debian's package `chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// One Chromium at a time in this test binary: the scenarios' run here and shutdown.rs's own page
/// pair. A second Chromium beside the scenarios only slows both on a small machine, and the solo
/// scenarios' time bounds assume nothing else in the browser is busy.
pub(crate) static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The npm package's twilio-video.js.
pub(crate) fn sdk_file() -> PathBuf {
    browser_dir().join("node_modules/twilio-video/dist/twilio-video.min.js")
}

/// A server the scenarios run against, kept running until the run ends.
pub(crate) struct Served {
    /// Its entry in run.js's VROOM_SERVERS: where it is, its credentials, and anything else the
    /// profile's scenarios read from `run.server`.
    description: Value,
    running: Running,
}

enum Running {
    /// Boxed: a `TestServer` is large, and a few of these live for the whole run. With what must
    /// outlive it.
    InProcess(Box<TestServer>, Box<dyn Send>),
    /// The vroom binary (stopped when dropped) and whatever else must live as long as it.
    Binary(
        #[expect(dead_code, reason = "held only to be dropped when the run ends")] Box<dyn Send>,
    ),
}

impl Served {
    pub(crate) fn in_process(server: TestServer, extra: Value) -> Self {
        Self::in_process_keeping(server, extra, Box::new(()))
    }

    /// [`Served::in_process`], keeping `keep` (files the server reads) until the server stops.
    pub(crate) fn in_process_keeping(
        server: TestServer,
        extra: Value,
        keep: Box<dyn Send>,
    ) -> Self {
        let description = describe(&server.base, &server.creds, extra);
        Self {
            description,
            running: Running::InProcess(Box::new(server), keep),
        }
    }

    /// A vroom process at `base` accepting `creds`; `keep` is dropped (stopping it) after the run.
    pub(crate) fn binary(
        base: &str,
        creds: &StoredCredentials,
        extra: Value,
        keep: Box<dyn Send>,
    ) -> Self {
        Self {
            description: describe(base, creds, extra),
            running: Running::Binary(keep),
        }
    }

    async fn stop(self) {
        if let Running::InProcess(server, keep) = self.running {
            server.stop().await;
            drop(keep);
        }
    }
}

fn describe(base: &str, creds: &StoredCredentials, extra: Value) -> Value {
    let mut d = json!({
        "baseUrl": base,
        "accountSid": creds.account_sid.to_string(),
        "apiKeySid": creds.api_key_sid.to_string(),
        "apiKeySecret": creds.api_key_secret,
    });
    if let (Some(d), Value::Object(extra)) = (d.as_object_mut(), extra) {
        d.extend(extra);
    }
    d
}

/// Starts the server of the profile a scenario names as `server:` in scenarios-*.js (`default` when
/// it names none). Scenarios with the same needs share one server: add a profile only for a server
/// setting a scenario must have and the others must not.
async fn profile(name: &str) -> Served {
    let options = |options: Options| async move {
        Served::in_process(TestServer::with(options).await, json!({}))
    };
    match name {
        "default" => options(Options::default()).await,
        // Heartbeats every second, so a scenario sees several periods pass quickly.
        "heartbeat_1s" => {
            options(Options {
                heartbeat_ms: 1000,
                ..Options::default()
            })
            .await
        }
        // The media server sends each subscriber at most 60 kbit/s of video.
        "capped" => {
            options(Options {
                max_subscriber_bitrate: Some(60_000),
                ..Options::default()
            })
            .await
        }
        // A recorded track without media warns its publisher after 3 s, not Twilio's 30 s, so the
        // scenario of media warnings (scenarios-recording.js) stays short.
        "media_warnings_3s" => {
            options(Options {
                recording_media_timeout: Duration::from_secs(3),
                ..Options::default()
            })
            .await
        }
        // TURN over TLS too, with a test certificate for 127.0.0.1 (run.js has Chromium accept it).
        "turn_tls" => crate::turn::with_tls().await,
        "quickstart_cdn" => crate::quickstart::sdk_from_a_cdn().await,
        "quickstart_offline" => crate::quickstart::sdk_in_the_data_folder().await,
        other => panic!(
            "a browser scenario asks for server profile '{other}', which browser.rs does not define"
        ),
    }
}

/// Fails with what is missing and how to install it.
fn require_setup() {
    let dir = browser_dir();
    require_installed(
        "the browser tests need Chromium and tests/browser's npm packages",
        &[
            PathBuf::from(CHROMIUM),
            sdk_file(),
            dir.join("node_modules/playwright-core/package.json"),
            dir.join("node_modules/jsonwebtoken/package.json"),
        ],
    );
}

fn run_js() -> Command {
    let mut command = Command::new("node");
    command
        .arg("run.js")
        .current_dir(browser_dir())
        .env("VROOM_CHROMIUM", CHROMIUM);
    command
}

/// Every browser scenario (or those named in VROOM_SCENARIOS), each against its profile's server.
#[tokio::test(flavor = "multi_thread")]
async fn twilio_video_js_scenarios_in_chromium() {
    require_setup();
    let needed = run_to_end(
        run_js().arg("--servers"),
        "node run.js --servers (Node.js is needed)",
        Duration::from_secs(30),
    )
    .await;
    let needed: Vec<String> = serde_json::from_str(needed.trim())
        .unwrap_or_else(|e| panic!("run.js --servers printed {needed:?}: {e}"));
    let mut servers = Vec::new();
    let mut described = Map::new();
    for name in needed {
        let served = profile(&name).await;
        described.insert(name, served.description.clone());
        servers.push(served);
    }
    let _one_browser = ONE_BROWSER_AT_A_TIME.lock().await;
    let stdout = run_to_end(
        run_js().env("VROOM_SERVERS", Value::Object(described).to_string()),
        "the browser scenarios (node run.js)",
        RUN_TIMEOUT,
    )
    .await;
    println!("{stdout}");
    for served in servers {
        served.stop().await;
    }
}
