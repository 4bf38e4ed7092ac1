//! A graceful stop with clients connected: every session is told it is over (RSP error 53000, which
//! twilio-video.js turns into a `disconnected` room at once), every participant's record ends at the
//! stop, their `participant-disconnected` callbacks are delivered before the server exits, and the
//! next start finds nobody left connected.

use std::time::Duration;

use vroom_testkit::SignalClient;

use crate::common::{TestServer, exits_cleanly, sigterm};
use crate::webhooks::Receiver;

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_ends_every_session_records_it_and_delivers_its_callbacks() {
    let s = TestServer::start().await;
    let mut receiver = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    s.create_room(&[
        ("UniqueName", "standup"),
        ("StatusCallback", &receiver.url("/events")),
    ])
    .await;
    let (mut a, am) =
        SignalClient::join(&s.ws, &s.token("alice", None), Some("standup"), &[]).await;
    let (mut b, bm) = SignalClient::join(&s.ws, &s.token("bob", None), Some("standup"), &[]).await;
    let sids = [
        am["participant"]["sid"].as_str().unwrap().to_owned(),
        bm["participant"]["sid"].as_str().unwrap().to_owned(),
    ];
    // room-created, two participant-connected.
    let (before, _) = receiver.delivered(3).await;
    assert_eq!(before[0]["params"]["StatusCallbackEvent"], "room-created");

    let db = s.db_url.clone();
    let stopped_at = s.now();
    let stopping = tokio::spawn(s.stop_keeping_data());
    for client in [&mut a, &mut b] {
        let e = client.next_of("error").await.expect("the client is told");
        assert_eq!(e["code"], 53000, "{e}");
    }
    // The clients' goodbye, as twilio-video.js says it on an error.
    a.leave().await;
    b.leave().await;
    let _data = tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the stop finishes well within the shutdown timeout")
        .unwrap();

    // Both departures were delivered before the server exited.
    let mut left = Vec::new();
    while let Some(r) = receiver.next(Duration::from_millis(200)).await {
        if r["answered"] == 200 {
            left.push(r);
        }
    }
    let mut gone: Vec<&str> = left
        .iter()
        .filter(|r| r["params"]["StatusCallbackEvent"] == "participant-disconnected")
        .map(|r| r["params"]["ParticipantSid"].as_str().unwrap())
        .collect();
    gone.sort_unstable();
    let mut want: Vec<&str> = sids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(gone, want, "delivered before the exit: {left:?}");

    // Nobody is left connected for the next start to sweep, and the records end at the stop.
    let store = vroom_store::open(&db).await.unwrap();
    assert!(store.connected_participants().await.unwrap().is_empty());
    for sid in &sids {
        let p = store
            .participant(sid.parse().unwrap())
            .await
            .unwrap()
            .expect("the participant's record");
        let end = p.end_time.expect("an end time");
        assert!(
            (end.millis() - stopped_at.millis()).abs() < 5000,
            "ends at the stop: {end:?} vs {stopped_at:?}"
        );
    }
}

/// twilio-video.js in two pages, the real binary stopped with SIGTERM: both rooms end at once with
/// 53000 (no reconnect attempts), vroom exits cleanly within its shutdown timeout, and after a
/// restart the participants' records end at the stop, so their durations leave out the downtime.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_browsers_connected_ends_their_sessions_at_the_stop() {
    use std::path::Path;
    use tokio::io::AsyncBufReadExt;

    use crate::common::{free_port, spawn_vroom, test_credentials};

    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    crate::external::require_installed(
        "the shutdown browser test needs Chromium and tests/browser's npm packages",
        &[
            "/usr/bin/chromium".into(),
            browser_dir.join("node_modules/playwright-core/package.json"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = test_credentials();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut vroom = spawn_vroom(port, &db, &creds).await;

    let _one_browser_at_a_time = crate::browser::ONE_BROWSER_AT_A_TIME.lock().await;
    let mut node = tokio::process::Command::new("node")
        .arg("shutdown.js")
        .current_dir(&browser_dir)
        .env("VROOM_BASE_URL", &base)
        .env("VROOM_ACCOUNT_SID", creds.account_sid.to_string())
        .env("VROOM_API_KEY_SID", creds.api_key_sid.to_string())
        .env("VROOM_API_KEY_SECRET", &creds.api_key_secret)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let stderr = node.stderr.take().unwrap();
    let node_errors = tokio::spawn(async move {
        let mut text = String::new();
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            text.push_str(&l);
            text.push('\n');
        }
        text
    });
    let mut lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let ready = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let Some(line) = line else {
            let _ = node.wait().await;
            panic!(
                "shutdown.js ended before READY\n{printed}\n{}",
                node_errors.await.unwrap()
            );
        };
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.strip_prefix("READY ") {
            break rest.split(' ').map(str::to_owned).collect::<Vec<_>>();
        }
    };
    let stopped_at = chrono::Utc::now();
    sigterm(&vroom);
    exits_cleanly(&mut vroom, 10).await;
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await
    {
        printed.push_str(&line);
        printed.push('\n');
    }
    let node_status = node.wait().await.unwrap();
    let errors = node_errors.await.unwrap();
    assert!(
        node_status.success() && printed.contains("shutdown passed"),
        "{printed}\n{errors}"
    );

    // Down for a while, then up again: the records must not end at the restart.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _again = spawn_vroom(port, &db, &creds).await;
    let http = reqwest::Client::new();
    for participant in &ready[1..] {
        let p: serde_json::Value = http
            .get(format!(
                "{base}/v1/Rooms/{}/Participants/{participant}",
                ready[0]
            ))
            .basic_auth(creds.api_key_sid.to_string(), Some(&creds.api_key_secret))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p["status"], "disconnected", "{p}");
        let end = chrono::DateTime::parse_from_rfc3339(p["end_time"].as_str().unwrap()).unwrap();
        let off = (end.with_timezone(&chrono::Utc) - stopped_at).num_milliseconds();
        assert!(
            (-1000..1500).contains(&off),
            "the record ends at the stop, not the restart: {off} ms after SIGTERM: {p}"
        );
    }
}
