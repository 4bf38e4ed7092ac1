//! Status callbacks end to end: a real HTTP receiver (tests/webhooks/receiver.py) validates every
//! signature with Twilio's own RequestValidator and reads the state back through Twilio's REST client
//! as each callback arrives.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use vroom::config::WebhookConfig;
use vroom_domain::time::Span;
use vroom_testkit::SignalClient;

use crate::common::{Options, TestServer};

/// A running receiver.
pub struct Receiver {
    _child: Child,
    pub port: u16,
    lines: mpsc::UnboundedReceiver<Value>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Receiver {
    /// Starts the receiver. `server` (if given) is where it reads state back from.
    pub async fn start(
        auth_token: &str,
        server: Option<&TestServer>,
        port: u16,
        extra: &[&str],
    ) -> Self {
        let python = root().join(".venv-sdk/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup-test-deps (scripts/test does)",
            python.display()
        );
        let mut cmd = Command::new(python);
        cmd.arg(root().join("tests/webhooks/receiver.py"))
            .args(["--auth-token", auth_token, "--port", &port.to_string()])
            .args(extra)
            .env_remove("TWILIO_REGION")
            .env_remove("TWILIO_EDGE")
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(s) = server {
            cmd.arg("--check-reads")
                .env("VROOM_BASE_URL", &s.base)
                .env("VROOM_ACCOUNT_SID", s.creds.account_sid.to_string())
                .env("VROOM_API_KEY_SID", s.creds.api_key_sid.to_string())
                .env("VROOM_API_KEY_SECRET", &s.creds.api_key_secret);
        }
        let mut child = cmd.spawn().expect("the receiver starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let first = tokio::time::timeout(Duration::from_secs(20), lines.recv())
            .await
            .expect("the receiver starts in time")
            .expect("a first line");
        let port =
            u16::try_from(first["listening"].as_u64().expect("the receiver's port")).unwrap();
        Self {
            _child: child,
            port,
            lines,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request the receiver answered.
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.lines.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next `n` requests answered with 200, in order (failed attempts are returned separately).
    pub async fn delivered(&mut self, n: usize) -> (Vec<Value>, Vec<Value>) {
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        while ok.len() < n {
            let r = self
                .next(Duration::from_secs(30))
                .await
                .unwrap_or_else(|| panic!("only {} of {n} callbacks arrived: {ok:?}", ok.len()));
            if r["answered"] == 200 {
                ok.push(r)
            } else {
                failed.push(r)
            }
        }
        (ok, failed)
    }
}

fn event(r: &Value) -> &str {
    r["params"]["StatusCallbackEvent"]
        .as_str()
        .unwrap_or_default()
}

fn keys(r: &Value) -> Vec<String> {
    let mut k: Vec<String> = r["params"].as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn fast_retries() -> WebhookConfig {
    WebhookConfig {
        first_retry: Span::from_millis(100),
        max_retry: Span::from_millis(400),
        ..WebhookConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_are_signed_complete_ordered_and_agree_with_reads() {
    let s = TestServer::start().await;
    let mut rx = Receiver::start(&s.creds.auth_token, Some(&s), 0, &[]).await;
    let room = s
        .create_room(&[
            ("UniqueName", "hooked"),
            ("StatusCallback", &rx.url("/cb?tenant=7")),
        ])
        .await;
    let rsid = room["sid"].as_str().unwrap().to_owned();
    // Each step waits for the previous step's callback, so the order of the events and what a read
    // on receipt sees do not depend on which of two concurrent requests the server handles first.
    let mut got = Vec::new();
    let mut step = async |rx: &mut Receiver| {
        let (mut ok, failed) = rx.delivered(1).await;
        assert!(failed.is_empty(), "{failed:?}");
        got.append(&mut ok);
    };
    step(&mut rx).await;
    let (a, am) = SignalClient::join(&s.ws, &s.token("alice", None), Some("hooked"), &[]).await;
    step(&mut rx).await;
    let (b, bm) = SignalClient::join(&s.ws, &s.token("bob", None), Some("hooked"), &[]).await;
    step(&mut rx).await;
    b.leave().await;
    step(&mut rx).await;
    let (status, _) = s
        .post(
            "/v1/Rooms/hooked/Participants/alice",
            &[("Status", "disconnected")],
        )
        .await;
    assert_eq!(status, 202);
    step(&mut rx).await;
    s.post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    step(&mut rx).await;
    drop(a);
    let kinds: Vec<&str> = got.iter().map(event).collect();
    assert_eq!(
        kinds,
        [
            "room-created",
            "participant-connected",
            "participant-connected",
            "participant-disconnected",
            "participant-disconnected",
            "room-ended"
        ]
    );
    let base = [
        "AccountSid",
        "RoomName",
        "RoomSid",
        "RoomStatus",
        "RoomType",
        "SequenceNumber",
        "StatusCallbackEvent",
        "Timestamp",
    ];
    let with = |extra: &[&str]| {
        let mut k: Vec<String> = base.iter().chain(extra).map(|s| (*s).to_owned()).collect();
        k.sort();
        k
    };
    let participant = ["ParticipantIdentity", "ParticipantSid", "ParticipantStatus"];
    let departed = [
        "ParticipantDuration",
        "ParticipantIdentity",
        "ParticipantSid",
        "ParticipantStatus",
    ];
    let expected_keys = [
        with(&[]),
        with(&participant),
        with(&participant),
        with(&departed),
        with(&departed),
        with(&["RoomDuration"]),
    ];
    for (i, r) in got.iter().enumerate() {
        assert_eq!(
            r["valid"], true,
            "Twilio's RequestValidator accepts the signature: {r}"
        );
        assert_eq!(r["method"], "POST");
        assert_eq!(r["path"], "/cb");
        assert_eq!(r["content_type"], "application/x-www-form-urlencoded");
        assert_eq!(keys(r), expected_keys[i], "parameters of {}", event(r));
        assert_eq!(r["params"]["SequenceNumber"], i.to_string());
        assert_eq!(r["params"]["RoomSid"], rsid.as_str());
        assert_eq!(r["params"]["RoomName"], "hooked");
        assert_eq!(r["params"]["AccountSid"], s.creds.account_sid.to_string());
        let ts = r["params"]["Timestamp"].as_str().unwrap();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && &ts[19..20] == ".",
            "UTC with milliseconds: {ts}"
        );
        assert!(
            r["idempotency"]
                .as_str()
                .is_some_and(|t| t.starts_with(&rsid))
        );
    }
    assert_eq!(got[1]["params"]["ParticipantSid"], am["participant"]["sid"]);
    assert_eq!(got[2]["params"]["ParticipantSid"], bm["participant"]["sid"]);
    assert_eq!(got[3]["params"]["ParticipantIdentity"], "bob");
    assert_eq!(got[4]["params"]["ParticipantIdentity"], "alice");
    assert_eq!(got[5]["params"]["RoomStatus"], "completed");
    // Reads issued when a callback arrives already show its state.
    let reads: Vec<&str> = got
        .iter()
        .map(|r| r["read"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        reads,
        [
            "in-progress",
            "connected",
            "connected",
            "disconnected",
            "disconnected",
            "completed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn get_callbacks_carry_their_parameters_in_the_signed_url() {
    let s = TestServer::start().await;
    let mut rx = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    s.create_room(&[
        ("UniqueName", "get"),
        ("StatusCallback", &rx.url("/hook?a=b")),
        ("StatusCallbackMethod", "GET"),
    ])
    .await;
    let (got, _) = rx.delivered(1).await;
    assert_eq!(
        (got[0]["method"].as_str(), got[0]["valid"].as_bool()),
        (Some("GET"), Some(true))
    );
    assert_eq!(
        got[0]["params"]["a"], "b",
        "the callback URL's own query is kept"
    );
    assert_eq!(got[0]["params"]["StatusCallbackEvent"], "room-created");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_are_retried_in_order() {
    let s = TestServer::with(Options {
        webhooks: fast_retries(),
        ..Options::default()
    })
    .await;
    let mut rx = Receiver::start(&s.creds.auth_token, None, 0, &["--fail-first", "3"]).await;
    s.create_room(&[("UniqueName", "flaky"), ("StatusCallback", &rx.url("/cb"))])
        .await;
    let (_a, _) = SignalClient::join(&s.ws, &s.token("a", None), Some("flaky"), &[]).await;
    let (_b, _) = SignalClient::join(&s.ws, &s.token("b", None), Some("flaky"), &[]).await;
    let (got, failed) = rx.delivered(3).await;
    assert_eq!(failed.len(), 3);
    assert!(
        failed.iter().all(|f| event(f) == "room-created"),
        "later events wait behind the failing one"
    );
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        [
            "room-created",
            "participant-connected",
            "participant-connected"
        ]
    );
    assert!(got.iter().all(|r| r["valid"] == true));
    assert_eq!(
        got[0]["idempotency"], failed[0]["idempotency"],
        "a retry carries the same idempotency token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_receiver_holds_up_neither_rooms_nor_other_receivers() {
    let s = TestServer::start().await;
    // The slow receiver takes 10 s to answer each callback: everything below happens in its shadow.
    let mut slow = Receiver::start(&s.creds.auth_token, None, 0, &["--delay-ms", "10000"]).await;
    let mut fast = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    s.create_room(&[("UniqueName", "slow"), ("StatusCallback", &slow.url("/cb"))])
        .await;
    s.create_room(&[("UniqueName", "fast"), ("StatusCallback", &fast.url("/cb"))])
        .await;
    let (_a, am) = SignalClient::join(&s.ws, &s.token("a", None), Some("slow"), &[]).await;
    assert_eq!(am["type"], "connected");
    let joined_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (_b, _) = SignalClient::join(&s.ws, &s.token("b", None), Some("fast"), &[]).await;
    let (got, _) = fast.delivered(2).await;
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        ["room-created", "participant-connected"]
    );
    let (slow_first, _) = slow.delivered(1).await;
    let slow_answered = slow_first[0]["answered_at"].as_f64().unwrap();
    assert!(
        joined_at < slow_answered,
        "joining the slow receiver's room did not wait for its callbacks"
    );
    assert!(
        got[1]["at"].as_f64().unwrap() < slow_answered,
        "the fast receiver got its events while the slow one was still answering its first"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_targets_can_be_blocked() {
    let mut rx = Receiver::start(&crate::common::test_credentials().auth_token, None, 0, &[]).await;
    let webhooks = WebhookConfig {
        block_private: true,
        ..fast_retries()
    };
    let s = TestServer::with(Options {
        webhooks,
        ad_hoc_status_callback: Some(rx.url("/adhoc")),
        ..Options::default()
    })
    .await;
    // At create: a private target, by literal or by name, in IPv4 or an IPv6 form that leads to
    // one, is refused with the reason, and no room is made.
    let port = rx.port;
    for (target, named) in [
        (rx.url("/cb"), "127.0.0.1"),
        (format!("http://localhost:{port}/cb"), "localhost"),
        (
            "http://[64:ff9b::a9fe:a9fe]/latest".to_owned(),
            "64:ff9b::a9fe:a9fe",
        ),
        (
            "http://[2002:c0a8:101::1]/cb".to_owned(),
            "2002:c0a8:101::1",
        ),
        ("http://198.18.0.1/cb".to_owned(), "198.18.0.1"),
        ("https://[::ffff:10.0.0.1]/cb".to_owned(), "10.0.0.1"),
    ] {
        let (status, body) = s
            .post(
                "/v1/Rooms",
                &[("UniqueName", "blocked"), ("StatusCallback", &target)],
            )
            .await;
        assert_eq!(
            (status.as_u16(), body["code"].as_i64()),
            (400, Some(53111)),
            "{target}: {body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("StatusCallback is refused") && message.contains(named),
            "{target}: {message}"
        );
    }
    let (_, rooms) = s.get("/v1/Rooms").await;
    assert!(rooms["rooms"].as_array().unwrap().is_empty());
    // The operator's own (ad-hoc) callback is not checked at create, but at delivery: refused
    // there, and given up.
    let (a, _) = SignalClient::join(&s.ws, &s.token("a", None), Some("pop-up"), &[]).await;
    let store = vroom_store::open(&s.db_url).await.unwrap();
    s.eventually("the blocked callbacks are given up", || async {
        store.next_webhook_due().await.unwrap().is_none()
    })
    .await;
    assert!(
        rx.next(Duration::from_millis(500)).await.is_none(),
        "nothing reached the loopback receiver"
    );
    a.leave().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ad_hoc_rooms_use_the_configured_callback_and_end_with_their_last_participant() {
    // Test servers sign with the same auth token, so the receiver can start first.
    let mut rx = Receiver::start(&crate::common::test_credentials().auth_token, None, 0, &[]).await;
    let s = TestServer::with(Options {
        ad_hoc_status_callback: Some(rx.url("/adhoc")),
        ..Options::default()
    })
    .await;
    let (a, am) = SignalClient::join(&s.ws, &s.token("a", None), Some("pop-up"), &[]).await;
    let rsid = am["sid"].as_str().unwrap().to_owned();
    a.leave().await;
    let (got, _) = rx.delivered(4).await;
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        [
            "room-created",
            "participant-connected",
            "participant-disconnected",
            "room-ended"
        ]
    );
    assert!(got.iter().all(|r| r["path"] == "/adhoc"));
    let (_, room) = s.get(&format!("/v1/Rooms/{rsid}")).await;
    assert_eq!(
        room["status"], "completed",
        "an ad-hoc room ends when its last participant leaves"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_pending_at_a_sigkill_are_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = crate::common::test_credentials();
    let (port, hook_port) = (crate::common::free_port(), crate::common::free_port());
    let http = reqwest::Client::new();
    let mut first = crate::common::spawn_vroom(port, &db, &creds).await;
    // The receiver is down: every attempt fails and the events wait in the outbox.
    let created = http
        .post(format!("http://127.0.0.1:{port}/v1/Rooms"))
        .basic_auth(creds.api_key_sid.to_string(), Some(&creds.api_key_secret))
        .form(&[
            ("UniqueName", "crashy"),
            (
                "StatusCallback",
                &format!("http://127.0.0.1:{hook_port}/cb"),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let token = crate::common::token_for(&creds, "victim");
    let (_client, m) = SignalClient::join(
        &format!("ws://127.0.0.1:{port}/signaling"),
        &token,
        Some("crashy"),
        &[],
    )
    .await;
    assert_eq!(m["type"], "connected");
    first.kill().await.unwrap();

    let mut rx = Receiver::start(&creds.auth_token, None, hook_port, &[]).await;
    let mut second = crate::common::spawn_vroom(port, &db, &creds).await;
    let (got, _) = rx.delivered(3).await;
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        [
            "room-created",
            "participant-connected",
            "participant-disconnected"
        ]
    );
    assert!(got.iter().all(|r| r["valid"] == true));
    assert_eq!(got[2]["params"]["ParticipantSid"], m["participant"]["sid"]);
    second.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn track_events_follow_what_clients_publish() {
    let s = TestServer::start().await;
    let mut rx = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    s.create_room(&[("UniqueName", "tracks"), ("StatusCallback", &rx.url("/cb"))])
        .await;
    let mic = vroom_testkit::track("m1", "audio", "mic");
    let (mut a, _) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some("tracks"),
        std::slice::from_ref(&mic),
    )
    .await;
    let mut muted = mic.clone();
    muted["enabled"] = serde_json::json!(false);
    // Muting changes no acknowledgement, so wait for the callback before the next step.
    let (mut got, _) = rx.delivered(3).await;
    a.update_tracks(3, &[muted]).await;
    got.extend(rx.delivered(1).await.0);
    a.update_tracks(4, &[]).await;
    got.extend(rx.delivered(1).await.0);
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        [
            "room-created",
            "participant-connected",
            "track-added",
            "track-disabled",
            "track-removed"
        ]
    );
    for r in &got[2..] {
        assert!(
            r["params"]["TrackSid"]
                .as_str()
                .is_some_and(|t| t.starts_with("MT"))
        );
        assert_eq!(
            (
                r["params"]["TrackKind"].as_str(),
                r["params"]["TrackName"].as_str()
            ),
            (Some("audio"), Some("mic"))
        );
        assert_eq!(r["params"]["ParticipantIdentity"], "alice");
        assert_eq!(r["valid"], true);
    }
}
