//! Twilio's official helper libraries against the real server: `twilio` 9.13.0 from PyPI and
//! `twilio` 6.2.0 from npm each run a conformance suite (tests/sdk/python/conformance.py and
//! tests/sdk/node/conformance.js) against a fresh vroom. The checks live in the suites; this side
//! starts the server, hands over its URL and credentials, and shows what the suite printed when it
//! fails.
//!
//! Needs `scripts/setup-test-deps` (the `.venv-sdk` virtualenv and `npm ci` in tests/sdk/node); fails,
//! never skips, when that was not run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::common::TestServer;
use crate::external::{require_installed, run_to_end};

/// How long one suite may take (each takes a few seconds; the margin is for a loaded machine).
const SUITE_TIMEOUT: Duration = Duration::from_secs(180);

/// Environment variables the child must not inherit: region and edge make the libraries rewrite every
/// host to `*.twilio.com`, and twilio-node sends every request through `HTTP_PROXY` when it is set,
/// loopback included.
const SCRUBBED_ENV: [&str; 8] = [
    "TWILIO_REGION",
    "TWILIO_EDGE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails with what is missing and how to install it.
fn require(what: &str, paths: &[PathBuf]) {
    require_installed(
        &format!("the {what} conformance suite needs its packages (.venv-sdk, tests/sdk/node)"),
        paths,
    );
}

/// Runs `program args…` in `dir` against a fresh server and fails the test, with the suite's output,
/// unless it passes.
async fn run_suite(what: &str, program: &Path, args: &[PathBuf], dir: &Path) {
    let server = TestServer::start().await;
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env("VROOM_BASE_URL", &server.base)
        .env("VROOM_ACCOUNT_SID", server.creds.account_sid.to_string())
        .env("VROOM_AUTH_TOKEN", &server.creds.auth_token)
        .env("VROOM_API_KEY_SID", server.creds.api_key_sid.to_string())
        .env("VROOM_API_KEY_SECRET", &server.creds.api_key_secret)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for name in SCRUBBED_ENV {
        command.env_remove(name);
    }
    let what = format!("the {what} conformance suite ({})", program.display());
    println!("{}", run_to_end(&mut command, &what, SUITE_TIMEOUT).await);
    server.stop().await;
}

/// twilio-python: every Rooms and Participants operation, paging through `list`/`stream`/`page`,
/// TwilioRestException codes, and AccessToken + VideoGrant tokens at /signaling.
#[tokio::test(flavor = "multi_thread")]
async fn twilio_python_conformance() {
    let dir = repo().join("tests/sdk/python");
    let python = repo().join(".venv-sdk/bin/python");
    require(
        "Python",
        &[python.clone(), repo().join(".venv-sdk/.vroom-stamp")],
    );
    run_suite("Python", &python, &[dir.join("conformance.py")], &dir).await;
}

/// twilio-node: every Rooms and Participants operation, paging through `list`/`each`/`page`,
/// RestException codes, and AccessToken + VideoGrant tokens (HS256, HS384, HS512) at /signaling.
#[tokio::test(flavor = "multi_thread")]
async fn twilio_node_conformance() {
    let dir = repo().join("tests/sdk/node");
    require(
        "Node",
        &[
            dir.join("node_modules/twilio/package.json"),
            dir.join("node_modules/ws/package.json"),
        ],
    );
    run_suite(
        "Node",
        Path::new("node"),
        &[dir.join("conformance.js")],
        &dir,
    )
    .await;
}

/// The README's Node example (examples/node/first-call.js), with twilio-node, taken to a first call:
/// it creates the room (and finds it when run again), and each token it prints joins that room.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_node_example_reaches_a_first_call() {
    let modules = repo().join("tests/sdk/node/node_modules");
    require("Node", &[modules.join("twilio/package.json")]);
    let server = TestServer::start().await;
    let example = repo().join("examples/node/first-call.js");
    let mut printed = Vec::new();
    for _ in 0..2 {
        let mut command = Command::new("node");
        command
            .arg(&example)
            .env("NODE_PATH", &modules)
            .env("VROOM_URL", &server.base)
            .env("VROOM_ACCOUNT_SID", server.creds.account_sid.to_string())
            .env("VROOM_API_KEY_SID", server.creds.api_key_sid.to_string())
            .env("VROOM_API_KEY_SECRET", &server.creds.api_key_secret);
        for name in SCRUBBED_ENV {
            command.env_remove(name);
        }
        printed.push(run_to_end(&mut command, "examples/node/first-call.js", SUITE_TIMEOUT).await);
    }
    assert!(
        printed[0].starts_with("Created room DailyStandup (RM"),
        "{}",
        printed[0]
    );
    assert!(
        printed[1].contains("Room DailyStandup (RM")
            && printed[1].contains("is already in progress"),
        "{}",
        printed[1]
    );
    assert!(
        printed[1].contains("Rooms in progress: DailyStandup"),
        "{}",
        printed[1]
    );
    let token = |identity: &str| {
        printed[1]
            .lines()
            .find_map(|l| l.strip_prefix(&format!("Token for {identity}: ")))
            .unwrap_or_else(|| panic!("no token for {identity}: {}", printed[1]))
            .to_owned()
    };
    let (alice, a) =
        vroom_testkit::SignalClient::join(&server.ws, &token("alice"), Some("DailyStandup"), &[])
            .await;
    let (mut bob, b) =
        vroom_testkit::SignalClient::join(&server.ws, &token("bob"), Some("DailyStandup"), &[])
            .await;
    assert_eq!(
        (&a["type"], &b["type"]),
        (&"connected".into(), &"connected".into()),
        "{a} {b}"
    );
    assert_eq!(
        b["participants"][0]["identity"], "alice",
        "bob finds alice in the call: {b}"
    );
    alice.leave().await;
    assert!(
        bob.next_of("update").await.is_some(),
        "bob hears that alice left"
    );
    bob.leave().await;
    server.stop().await;
}
