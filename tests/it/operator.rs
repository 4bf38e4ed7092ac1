//! The operator commands (`vroom rooms …`, `vroom participants …`) against a running server: the
//! real binary, over REST, with the credentials from the environment or the server's data folder.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use vroom_testkit::{SignalClient, track};

use crate::common::{TestServer, free_port, spawn_vroom_with, test_credentials};

/// Runs `vroom ARGS` with `env` (and nothing of the caller's VROOM_* credentials).
async fn vroom(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vroom"));
    cmd.args(args)
        .env_remove("VROOM_ACCOUNT_SID")
        .env_remove("VROOM_AUTH_TOKEN")
        .env_remove("VROOM_API_KEY_SID")
        .env_remove("VROOM_API_KEY_SECRET")
        .env_remove("VROOM_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("vroom answers in time")
        .expect("vroom runs")
}

/// Its stdout, after checking it succeeded.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Its one-line error, after checking it failed.
fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// The row of `table` whose first column is `first`, split into its columns.
fn row<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split("  ").next() == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in:\n{table}"))
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_and_participants_are_listed_shown_kicked_and_completed_from_the_command_line() {
    let s = TestServer::start().await;
    let env = [
        ("VROOM_URL", s.base.clone()),
        ("VROOM_API_KEY_SID", s.creds.api_key_sid.to_string()),
        ("VROOM_API_KEY_SECRET", s.creds.api_key_secret.clone()),
    ];
    let created: Value = serde_json::from_str(&ok(&vroom(
        &[
            "rooms",
            "create",
            "--name",
            "Daily Standup",
            "--max-participants",
            "4",
            "--param",
            "EmptyRoomTimeout=7",
            "--json",
        ],
        &env,
    )
    .await))
    .unwrap();
    let room = created["sid"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            &created["unique_name"],
            &created["max_participants"],
            &created["empty_room_timeout"]
        ),
        (&"Daily Standup".into(), &4.into(), &7.into())
    );
    let (mut alice, joined) = SignalClient::join(
        &s.ws,
        &s.token("alice", None),
        Some("Daily Standup"),
        &[track("a1", "audio", "mic"), track("v1", "video", "camera")],
    )
    .await;
    let alice_sid = joined["participant"]["sid"].as_str().unwrap().to_owned();

    let rooms = ok(&vroom(&["rooms", "list"], &env).await);
    assert_eq!(
        rooms
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["SID", "NAME", "STATUS", "TYPE", "CREATED", "DURATION"]
    );
    let listed = row(&rooms, &room);
    assert_eq!(listed[1..4], ["Daily Standup", "in-progress", "group"]);
    assert!(listed[5].ends_with("(live)"), "{rooms}");

    let shown = ok(&vroom(&["rooms", "get", "Daily Standup"], &env).await);
    assert!(
        shown.contains(&format!("SID:              {room}")),
        "{shown}"
    );
    assert!(shown.contains("Max participants: 4"), "{shown}");

    let people = ok(&vroom(&["participants", "list", &room], &env).await);
    assert_eq!(row(&people, &alice_sid)[1..3], ["alice", "connected"]);
    let tracks = ok(&vroom(&["participants", "tracks", "Daily Standup", "alice"], &env).await);
    let names: Vec<(&str, &str, &str)> = tracks
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c[0], c[2], c[3])
        })
        .collect();
    assert_eq!(
        names,
        [
            ("published", "audio", "mic"),
            ("published", "video", "camera")
        ],
        "{tracks}"
    );
    let tracks_json: Value = serde_json::from_str(&ok(&vroom(
        &["participants", "tracks", &room, &alice_sid, "--json"],
        &env,
    )
    .await))
    .unwrap();
    assert_eq!(tracks_json["published_tracks"].as_array().unwrap().len(), 2);
    assert_eq!(tracks_json["subscribed_tracks"], serde_json::json!([]));

    // Kick alice by identity: her client is told, the record says so.
    let kicked = ok(&vroom(&["participants", "kick", "Daily Standup", "alice"], &env).await);
    assert!(kicked.contains("Status:   disconnected"), "{kicked}");
    let told = alice.next_of("error").await.expect("alice is told");
    assert_eq!(told["code"], 53204);
    alice.leave().await;
    let again = failed(&vroom(&["participants", "kick", &room, "alice"], &env).await);
    assert!(again.contains("Twilio error 20404"), "{again}");
    let history: Value = serde_json::from_str(&ok(&vroom(
        &[
            "participants",
            "list",
            &room,
            "--status",
            "disconnected",
            "--json",
        ],
        &env,
    )
    .await))
    .unwrap();
    assert_eq!(history[0]["sid"], alice_sid.as_str());
    assert_eq!(history[0]["status"], "disconnected");
    let fetched = ok(&vroom(&["participants", "get", &room, &alice_sid], &env).await);
    assert!(fetched.contains("Identity: alice"), "{fetched}");

    let completed = ok(&vroom(&["rooms", "complete", &room], &env).await);
    assert!(
        completed.contains("Status:           completed"),
        "{completed}"
    );
    let done = ok(&vroom(&["rooms", "list", "--status", "completed"], &env).await);
    assert_eq!(row(&done, &room)[2], "completed");
    let again = failed(&vroom(&["rooms", "complete", "Daily Standup"], &env).await);
    assert!(
        again.contains("Twilio error 20404"),
        "by name: in progress only: {again}"
    );
    let bad = failed(&vroom(&["rooms", "create", "--type", "huge"], &env).await);
    assert!(
        bad.contains("Twilio error 53108") && bad.contains("HTTP 400"),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_commands_read_the_servers_credentials_from_its_data_folder_and_say_when_it_is_not_there()
 {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = spawn_vroom_with(port, &db, &test_credentials(), &["--no-media"]).await;
    let data_dir = dir.path().to_str().unwrap();

    // No credentials in the environment: the data folder's.
    let created = ok(&vroom(
        &["--data-dir", data_dir, "rooms", "create", "--name", "ops"],
        &[("VROOM_URL", url.clone())],
    )
    .await);
    assert!(created.contains("Name:             ops"), "{created}");
    let listed = ok(&vroom(
        &["--data-dir", data_dir, "rooms", "list", "--url", &url],
        &[],
    )
    .await);
    assert_eq!(listed.lines().count(), 2, "{listed}");

    let elsewhere = tempfile::tempdir().unwrap();
    let missing = failed(
        &vroom(
            &[
                "--data-dir",
                elsewhere.path().to_str().unwrap(),
                "rooms",
                "list",
                "--url",
                &url,
            ],
            &[],
        )
        .await,
    );
    assert!(
        missing.contains("no vroom database") && missing.contains("VROOM_API_KEY_SID"),
        "{missing}"
    );
    let down = failed(
        &vroom(
            &["--data-dir", data_dir, "rooms", "list"],
            &[("VROOM_URL", format!("http://127.0.0.1:{}", free_port()))],
        )
        .await,
    );
    assert!(
        down.contains("cannot reach vroom at") && down.contains("--url"),
        "{down}"
    );
}
