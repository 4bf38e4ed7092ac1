//! The `vroom` command as an operator uses it: first start, tokens, credentials, bad configuration.

use std::process::Output;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use vroom_domain::time::Timestamp;
use vroom_signaling::token::{self, TokenKey};

use crate::common::{free_port, serve_command, test_credentials};

async fn vroom(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vroom"));
    cmd.args(args)
        .env_remove("VROOM_ACCOUNT_SID")
        .env_remove("VROOM_AUTH_TOKEN")
        .env_remove("VROOM_API_KEY_SID")
        .env_remove("VROOM_API_KEY_SECRET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("vroom answers in time")
        .expect("vroom runs")
}

/// Starts `vroom serve`, collects what it prints until it says it listens, then stops it.
async fn first_lines(db: &str) -> String {
    let port = free_port();
    let mut child = serve_command(port, db)
        .env_remove("VROOM_ACCOUNT_SID")
        .env_remove("VROOM_AUTH_TOKEN")
        .env_remove("VROOM_API_KEY_SID")
        .env_remove("VROOM_API_KEY_SECRET")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("vroom starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut text = String::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await
    {
        text.push_str(&line);
        text.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    child.kill().await.ok();
    text
}

fn value_after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no '{label}' in:\n{text}"))
}

#[tokio::test]
async fn the_first_start_generates_and_prints_credentials_once_and_tokens_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let first = first_lines(&db).await;
    let account = value_after(&first, "Account SID:").to_owned();
    let key = value_after(&first, "API key SID:").to_owned();
    let secret = value_after(&first, "API key secret:").to_owned();
    assert!(
        account.starts_with("AC") && key.starts_with("SK") && secret.len() >= 32,
        "{first}"
    );
    assert!(
        first.contains("client.video.base_url"),
        "a hint on how to use them: {first}"
    );

    let second = first_lines(&db).await;
    assert!(
        second.contains(&account) && !second.contains(&secret),
        "the secret is printed once only: {second}"
    );

    let out = vroom(&["credentials", "--database-url", &db], &[]).await;
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&secret),
        "`vroom credentials` shows them again"
    );

    let out = vroom(
        &[
            "token",
            "--identity",
            "alice",
            "--room",
            "DailyStandup",
            "--ttl",
            "600",
            "--database-url",
            &db,
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let jwt = String::from_utf8(out.stdout).unwrap();
    let header = jsonwebtoken::decode_header(jwt.trim()).unwrap();
    assert_eq!(
        (header.alg, header.cty.as_deref()),
        (jsonwebtoken::Algorithm::HS256, Some("twilio-fpa;v=1"))
    );
    let keys = [TokenKey {
        account_sid: account.parse().unwrap(),
        api_key_sid: key.parse().unwrap(),
        secret,
    }];
    let now = Timestamp::from_millis(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap(),
    );
    let grant =
        token::verify(jwt.trim(), &keys, now).expect("the token verifies with the stored key");
    assert_eq!(
        (grant.identity.as_str(), grant.room.as_deref()),
        ("alice", Some("DailyStandup"))
    );
}

#[tokio::test]
async fn environment_credentials_are_used_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let c = test_credentials();
    let env = [
        ("VROOM_ACCOUNT_SID", c.account_sid.to_string()),
        ("VROOM_AUTH_TOKEN", c.auth_token.clone()),
        ("VROOM_API_KEY_SID", c.api_key_sid.to_string()),
        ("VROOM_API_KEY_SECRET", c.api_key_secret.clone()),
    ];
    let out = vroom(&["token", "--identity", "bob", "--database-url", &db], &env).await;
    assert!(out.status.success());
    let keys = [TokenKey {
        account_sid: c.account_sid,
        api_key_sid: c.api_key_sid,
        secret: c.api_key_secret.clone(),
    }];
    let now = Timestamp::from_secs(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap(),
    );
    assert_eq!(
        token::verify(String::from_utf8(out.stdout).unwrap().trim(), &keys, now)
            .unwrap()
            .room,
        None
    );
}

#[tokio::test]
async fn bad_configuration_gets_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["serve", "--database-url", "mysql://db/x"],
            vec![],
            "unsupported database URL",
        ),
        (
            vec!["serve", "--database-url", "sqlite:///no/such/folder/v.db"],
            vec![],
            "does not exist",
        ),
        (
            vec!["serve", "--database-url", "postgres://localhost/test"],
            vec![],
            "PostgreSQL",
        ),
        (
            vec![
                "serve",
                "--database-url",
                &db,
                "--public-url",
                "video.example.com",
            ],
            vec![],
            "--public-url",
        ),
        (
            vec!["serve", "--database-url", &db],
            vec![
                ("VROOM_ACCOUNT_SID", "AC0123".into()),
                ("VROOM_AUTH_TOKEN", "t".into()),
            ],
            "not a valid SID",
        ),
        (
            vec!["serve", "--database-url", &db],
            vec![(
                "VROOM_API_KEY_SID",
                test_credentials().api_key_sid.to_string(),
            )],
            "set both or neither",
        ),
        (
            vec![
                "serve",
                "--database-url",
                &db,
                "--ad-hoc-status-callback",
                "ftp://x",
            ],
            vec![],
            "--ad-hoc-status-callback",
        ),
        (
            vec![
                "token",
                "--identity",
                "a",
                "--ttl",
                "0",
                "--database-url",
                &db,
            ],
            vec![],
            "--ttl",
        ),
        (
            vec!["token", "--identity", "", "--database-url", &db],
            vec![],
            "--identity",
        ),
        (
            vec!["token", "--identity", "a", "--database-url", &db],
            vec![],
            "no vroom database at",
        ),
    ];
    for (args, env, want) in cases {
        let out = vroom(&args, &env).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert_eq!(
            err.trim()
                .lines()
                .filter(|l| l.starts_with("vroom: error"))
                .count(),
            1,
            "{args:?}: one error line: {err}"
        );
    }
    let out = vroom(&["serve", "--listen", "not-an-address"], &[]).await;
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--listen"));
}
