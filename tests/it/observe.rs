//! What an operator's monitoring sees of the real binary: `/healthz` and `/readyz` without
//! credentials, Prometheus `/metrics` on its own listener (open) or on the main one (behind the
//! account's credentials), with the series counting what happened.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use vroom_testkit::SignalClient;

use tokio::io::AsyncBufReadExt;

use crate::common::{free_port, serve_command, spawn_vroom_with, test_credentials, token_for};

/// A Prometheus text page as `series → value`, the series spelled as exposed
/// (`vroom_rooms_created_total{ad_hoc="false"}`).
fn parse(page: &str) -> HashMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(http: &reqwest::Client, url: &str) -> HashMap<String, f64> {
    let resp = http.get(url).send().await.expect("/metrics answers");
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()[reqwest::header::CONTENT_TYPE].clone();
    assert!(
        content_type.to_str().unwrap().starts_with("text/plain"),
        "{content_type:?}"
    );
    parse(&resp.text().await.unwrap())
}

fn value(m: &HashMap<String, f64>, series: &str) -> f64 {
    *m.get(series).unwrap_or_else(|| {
        let mut known: Vec<&String> = m.keys().collect();
        known.sort();
        panic!("no {series} in /metrics; there are: {known:#?}")
    })
}

/// A status-callback receiver that refuses everything (410), so vroom gives each event up.
async fn refusing_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async { StatusCode::GONE });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics_on_their_own_listener_count_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = test_credentials();
    let (port, metrics_port) = (free_port(), free_port());
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    // A media store holding one file of a known size (as a recording would leave).
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    std::fs::write(
        media.join("RT00000000000000000000000000000001.mka"),
        [0u8; 4321],
    )
    .unwrap();
    let mut vroom = serve_command(port, &db)
        .args(["--metrics-listen", &metrics_listen, "--log-format", "json"])
        .arg("--media-dir")
        .arg(&media)
        .env("RUST_LOG", "info")
        .env("VROOM_ACCOUNT_SID", creds.account_sid.to_string())
        .env("VROOM_AUTH_TOKEN", &creds.auth_token)
        .env("VROOM_API_KEY_SID", creds.api_key_sid.to_string())
        .env("VROOM_API_KEY_SECRET", &creds.api_key_secret)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("vroom starts");
    let mut logs = tokio::io::BufReader::new(vroom.stderr.take().unwrap()).lines();
    let (log_tx, mut log_rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    tokio::spawn(async move {
        while let Ok(Some(line)) = logs.next_line().await {
            let entry = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            let _ = log_tx.send(entry);
        }
    });
    let started = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(entry) = log_rx.recv().await {
            if entry["message"] == "vroom is serving" {
                return;
            }
        }
    })
    .await;
    assert!(started.is_ok(), "vroom logs that it serves");
    let base = format!("http://127.0.0.1:{port}");
    let metrics_url = format!("http://{metrics_listen}/metrics");
    let http = reqwest::Client::new();

    // Probes need no credentials.
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        ready,
        serde_json::json!({"status": "ready", "store": "ok", "media": "ok"})
    );
    // With a listener of their own, metrics are not on the main one.
    let main_metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(main_metrics.status(), StatusCode::NOT_FOUND);

    let start = scrape(&http, &metrics_url).await;
    assert_eq!(value(&start, "vroom_rooms_in_progress"), 0.0);
    assert_eq!(value(&start, "vroom_sfu_peer_connections"), 0.0);
    assert_eq!(value(&start, "vroom_media_store_bytes"), 4321.0);
    assert!(value(&start, "vroom_media_store_free_bytes") > 0.0);

    // A room with a callback nobody accepts, a participant that comes and goes, the room's end.
    let callback = refusing_receiver().await;
    let auth = (creds.api_key_sid.to_string(), creds.api_key_secret.clone());
    let room: serde_json::Value = http
        .post(format!("{base}/v1/Rooms"))
        .basic_auth(&auth.0, Some(&auth.1))
        .form(&[("UniqueName", "metered"), ("StatusCallback", &callback)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room_sid = room["sid"].as_str().expect("a room").to_owned();
    let ws = format!("ws://127.0.0.1:{port}/signaling");
    let (alice, joined) =
        SignalClient::join(&ws, &token_for(&creds, "alice"), Some("metered"), &[]).await;
    let alice_sid = joined["participant"]["sid"].as_str().unwrap().to_owned();
    let live = scrape(&http, &metrics_url).await;
    assert_eq!(value(&live, "vroom_participants_connected"), 1.0);
    assert_eq!(value(&live, "vroom_signaling_connections"), 1.0);
    assert_eq!(value(&live, "vroom_rooms_in_progress"), 1.0);
    alice.leave().await;
    // The leave travels over the WebSocket and the completion over REST: wait until the leave is
    // recorded, or the room's end may reach alice first and count her as removed, not left.
    let alice_url = format!("{base}/v1/Rooms/{room_sid}/Participants/{alice_sid}");
    for _ in 0..200 {
        let p: serde_json::Value = http
            .get(&alice_url)
            .basic_auth(&auth.0, Some(&auth.1))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if p["status"] == "disconnected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let completed = http
        .post(format!("{base}/v1/Rooms/{room_sid}"))
        .basic_auth(&auth.0, Some(&auth.1))
        .form(&[("Status", "completed")])
        .send()
        .await
        .unwrap();
    assert_eq!(completed.status(), StatusCode::ACCEPTED);

    // room-created, participant-connected, participant-disconnected, room-ended: each refused once
    // and given up; then nothing is left waiting.
    let mut m = scrape(&http, &metrics_url).await;
    for _ in 0..100 {
        // The counter moves before the store records the give-up: wait for the queue too. The
        // room's task leaves the hub after the completion was answered (once it gave its lease
        // up), so the rooms in progress are waited for as well.
        if m.get("vroom_webhook_given_up_total") == Some(&4.0)
            && m.get("vroom_webhook_queue_depth") == Some(&0.0)
            && m.get("vroom_signaling_connections") == Some(&0.0)
            && m.get("vroom_rooms_in_progress") == Some(&0.0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        m = scrape(&http, &metrics_url).await;
    }
    assert_eq!(value(&m, "vroom_webhook_given_up_total"), 4.0);
    assert_eq!(
        value(&m, r#"vroom_webhook_attempts_total{outcome="failed"}"#),
        4.0
    );
    assert_eq!(value(&m, "vroom_webhook_queue_depth"), 0.0);
    assert_eq!(value(&m, "vroom_webhook_oldest_age_seconds"), 0.0);
    assert_eq!(
        value(&m, r#"vroom_rooms_created_total{ad_hoc="false"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"vroom_rooms_ended_total{status="completed"}"#),
        1.0
    );
    assert_eq!(value(&m, "vroom_rooms_in_progress"), 0.0);
    assert_eq!(value(&m, "vroom_participant_joins_total"), 1.0);
    assert_eq!(
        value(&m, r#"vroom_participant_leaves_total{reason="left"}"#),
        1.0
    );
    assert_eq!(value(&m, "vroom_participants_connected"), 0.0);
    assert_eq!(value(&m, "vroom_signaling_connections"), 0.0);
    assert_eq!(
        value(
            &m,
            r#"vroom_signaling_messages_received_total{type="connect"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"vroom_signaling_messages_received_total{type="disconnect"}"#
        ),
        1.0
    );
    assert!(value(&m, "vroom_signaling_messages_sent_total") >= 2.0);
    // REST latency by route as the router matched it (SIDs do not make new series) and status.
    assert_eq!(
        value(
            &m,
            r#"vroom_http_request_seconds_count{method="POST",route="/v1/Rooms",status="201"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"vroom_http_request_seconds_count{method="POST",route="/v1/Rooms/{room}",status="202"}"#
        ),
        1.0
    );
    assert!(
        value(
            &m,
            r#"vroom_http_request_seconds_bucket{method="POST",route="/v1/Rooms",status="201",le="10"}"#
        ) == 1.0
    );
    assert!(value(&m, r#"vroom_store_seconds_count{op="apply",outcome="ok"}"#) >= 4.0);
    assert_eq!(value(&m, "vroom_sfu_peer_connections"), 0.0);
    assert_eq!(value(&m, r#"vroom_sfu_bytes_total{direction="in"}"#), 0.0);

    // The same story in the log, at info (callbacks given up at warn), with the SIDs.
    // `info` lines are written in gatherings (src/logs.rs): wait for the story's last line.
    let mut entries = Vec::new();
    let whole = |entries: &[serde_json::Value]| {
        entries.iter().any(|e| e["message"] == "room ended")
            && entries
                .iter()
                .filter(|e| e["message"] == "status callback given up")
                .count()
                >= 4
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while !whole(&entries) {
            match log_rx.recv().await {
                Some(entry) => entries.push(entry),
                None => break,
            }
        }
    })
    .await;
    while let Ok(entry) = log_rx.try_recv() {
        entries.push(entry);
    }
    let find = |message: &str| -> &serde_json::Value {
        let found: Vec<&serde_json::Value> =
            entries.iter().filter(|e| e["message"] == message).collect();
        match found[..] {
            [one] => one,
            _ => panic!("expected one '{message}' line, got {found:?} in {entries:#?}"),
        }
    };
    let alice_sid = alice_sid.as_str();
    assert_eq!(find("room created")["room"], room_sid.as_str());
    let connected = find("participant connected");
    assert_eq!(
        (&connected["room"], &connected["participant"]),
        (&serde_json::json!(room_sid), &serde_json::json!(alice_sid))
    );
    let left = find("participant disconnected");
    assert_eq!(
        (&left["participant"], &left["reason"]),
        (&serde_json::json!(alice_sid), &serde_json::json!("left"))
    );
    let ended = find("room ended");
    assert_eq!(
        (&ended["room"], &ended["status"]),
        (
            &serde_json::json!(room_sid),
            &serde_json::json!("completed")
        )
    );
    let given_up: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["message"] == "status callback given up")
        .collect();
    assert_eq!(given_up.len(), 4, "{entries:#?}");
    assert!(given_up.iter().all(|e| e["level"] == "WARN"
        && e["room"] == room_sid.as_str()
        && e["why"] == "the receiver answered 410 Gone"));
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_on_the_main_listener_need_the_accounts_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = test_credentials();
    let port = free_port();
    let _vroom = spawn_vroom_with(port, &db, &creds, &["--no-media"]).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let ready: serde_json::Value = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready,
        serde_json::json!({"status": "ready", "store": "ok", "media": "disabled"})
    );
    let url = format!("{base}/metrics");
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()[reqwest::header::WWW_AUTHENTICATE],
        "Basic realm=\"vroom\""
    );
    let wrong = http
        .get(&url)
        .basic_auth(creds.account_sid.to_string(), Some("not-the-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    for (user, password) in [
        (creds.account_sid.to_string(), creds.auth_token.clone()),
        (creds.api_key_sid.to_string(), creds.api_key_secret.clone()),
    ] {
        let page = http
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let m = parse(&page.text().await.unwrap());
        assert_eq!(value(&m, "vroom_rooms_in_progress"), 0.0);
        assert!(
            !m.contains_key("vroom_sfu_peer_connections"),
            "no media server, no media series"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn freed_memory_is_given_back_once_a_wave_of_connections_has_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = test_credentials();
    let port = free_port();
    let _vroom = spawn_vroom_with(port, &db, &creds, &["--no-media"]).await;
    let http = reqwest::Client::new();
    let trims = || async {
        let page = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .basic_auth(creds.account_sid.to_string(), Some(&creds.auth_token))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        parse(&page)
            .get("vroom_memory_trims_total")
            .copied()
            .unwrap_or(0.0)
    };
    assert_eq!(trims().await, 0.0, "nothing to give back yet");

    // More connections than the threshold, each answered (so each was admitted and counted),
    // then all closed at once.
    let wave = usize::try_from(vroom::memory::TRIM_AFTER_CLOSED).unwrap() + 44;
    let mut open = Vec::with_capacity(wave);
    for _ in 0..wave {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::write_all(
            &mut tcp,
            b"GET /healthz HTTP/1.1\r\nhost: vroom\r\n\r\n",
        )
        .await
        .unwrap();
        let mut answer = [0u8; 12];
        tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut answer)
            .await
            .unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        open.push(tcp);
    }
    drop(open);
    let given_back = tokio::time::timeout(Duration::from_secs(15), async {
        while trims().await < 1.0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(given_back.is_ok(), "no trim after {wave} connections went");
}
