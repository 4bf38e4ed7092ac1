//! Secrets at rest and in logs, on the real binary: the data folder it creates is its user's alone,
//! so are the database and its log files; wider ones are warned about at start; and even at
//! `trace` no credential, access token or session key reaches the logs.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncReadExt;
use vroom_testkit::SignalClient;

use vroom_store::StoredCredentials;

use crate::common::{free_port, test_credentials, token_for};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `vroom serve` on the data folder `data` (its default database), logging at `RUST_LOG=trace`.
fn serve(data: &Path, port: u16, creds: &StoredCredentials) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vroom"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env_remove("VROOM_DATABASE_URL")
        .env("RUST_LOG", "trace")
        .env("VROOM_ACCOUNT_SID", creds.account_sid.to_string())
        .env("VROOM_AUTH_TOKEN", &creds.auth_token)
        .env("VROOM_API_KEY_SID", creds.api_key_sid.to_string())
        .env("VROOM_API_KEY_SECRET", &creds.api_key_secret)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("vroom starts")
}

/// Reads everything the child wrote to stderr while `work` ran, then stops it.
async fn logs_of(mut child: tokio::process::Child) -> String {
    child.kill().await.ok();
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .await
        .unwrap();
    text
}

async fn wait_listening(port: u16) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("vroom did not listen on {port}");
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_folder_and_database_are_private_and_no_secret_is_logged_even_at_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("vroom-data");
    let port = free_port();
    let creds = test_credentials();
    let child = serve(&data, port, &creds);
    wait_listening(port).await;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for (user, password) in [
        (creds.account_sid.to_string(), creds.auth_token.clone()),
        (creds.api_key_sid.to_string(), creds.api_key_secret.clone()),
    ] {
        let resp = http
            .post(format!("{base}/v1/Rooms"))
            .basic_auth(&user, Some(&password))
            .form(&[("UniqueName", format!("secret-{user}"))])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let token = token_for(&creds, "alice");
    let (alice, connected) = SignalClient::join(
        &format!("ws://127.0.0.1:{port}/signaling"),
        &token,
        Some("secret-room"),
        &[],
    )
    .await;
    assert_eq!(connected["type"], "connected", "{connected}");
    let session = connected["session"].as_str().unwrap().to_owned();

    // The database is open (its log and shared memory exist): every file is the user's alone.
    let db = data.join("vroom.db");
    assert_eq!(mode(&data), 0o700);
    for file in vroom_store::private::database_files(&db) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    alice.leave().await;
    let logs = logs_of(child).await;
    // RUST_LOG=trace took effect (the libraries' own trace events are what the filter drops).
    assert!(
        logs.contains("DEBUG") && logs.lines().count() > 20,
        "the server logged at trace:\n{logs}"
    );
    let basic =
        |u: &str, p: &str| base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
    let secrets = [
        ("auth token", creds.auth_token.clone()),
        ("API key secret", creds.api_key_secret.clone()),
        ("access token", token.clone()),
        (
            "access token's signature",
            token.rsplit('.').next().unwrap().to_owned(),
        ),
        ("access token in hex", hex(&token[..40])),
        ("session key", session.clone()),
        ("session key in hex", hex(&session)),
        (
            "Basic credentials",
            basic(&creds.account_sid.to_string(), &creds.auth_token),
        ),
        (
            "Basic credentials",
            basic(&creds.api_key_sid.to_string(), &creds.api_key_secret),
        ),
    ];
    for (what, secret) in secrets {
        assert!(
            !logs.contains(&secret),
            "the {what} is in the logs:\n{}",
            logs.lines()
                .filter(|l| l.contains(&secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    // Opened up by someone: the next start says so, for the folder and the database.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port();
    let child = serve(&data, port, &creds);
    wait_listening(port).await;
    let logs = logs_of(child).await;
    let warned = |p: &Path, m: &str| {
        logs.lines()
            .any(|l| l.contains("WARN") && l.contains(&p.display().to_string()) && l.contains(m))
    };
    assert!(warned(&data, "mode 755"), "{logs}");
    assert!(warned(&db, "mode 644"), "{logs}");
}
