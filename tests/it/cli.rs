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
    // Generous, like `spawn_vroom_with`: a debug build starting beside a full parallel run on two
    // cores can take tens of seconds, and a shorter wait reads as missing credentials.
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await
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
            // Nothing listens there: vroom retries for 10 s, then names the server.
            vec![
                "serve",
                "--database-url",
                "postgres://vroom:hunter2@127.0.0.1:1/test",
            ],
            vec![],
            "cannot connect to PostgreSQL at postgres://vroom@127.0.0.1:1/test",
        ),
        (
            vec!["serve", "--database-url", "postgres://[nowhere/test"],
            vec![],
            "invalid PostgreSQL URL",
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
        assert!(
            !err.contains("hunter2"),
            "{args:?} printed a password: {err}"
        );
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

/// Runs `vroom config` in `dir` with `args` and `env`, and returns what it printed as TOML.
async fn effective(args: &[&str], env: &[(&str, String)]) -> toml::Table {
    let mut all = vec!["config"];
    all.extend_from_slice(args);
    let out = vroom(&all, env).await;
    assert!(out.status.success(), "{out:?}");
    toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("vroom config prints TOML")
}

#[tokio::test]
async fn the_settings_file_is_overridden_by_the_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("key-secret");
    std::fs::write(&secret, "from-a-file\n").unwrap();
    let file = dir.path().join("vroom.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"0.0.0.0:9001\"\npublic_url = \"https://video.example.com\"\nshutdown_timeout = 3\n\
             [media]\nudp_port = 4000\n[credentials]\napi_key_secret_file = \"{}\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let t = effective(&["--config", path], &[]).await;
    assert_eq!(t["listen"].as_str(), Some("0.0.0.0:9001"));
    assert_eq!(t["media"]["udp_port"].as_integer(), Some(4000));
    assert_eq!(t["shutdown_timeout"].as_integer(), Some(3));
    assert_eq!(
        t["database_url"].as_str(),
        Some("sqlite://vroom-data/vroom.db"),
        "the default database lives in the default data folder"
    );
    let t = effective(
        &["--config", path, "--rtc-udp-port", "5000"],
        &[
            ("VROOM_LISTEN", "127.0.0.1:9002".into()),
            ("VROOM_RTC_UDP_PORT", "4500".into()),
            ("VROOM_DATA_DIR", "/srv/vroom".into()),
        ],
    )
    .await;
    assert_eq!(
        t["listen"].as_str(),
        Some("127.0.0.1:9002"),
        "env over file"
    );
    assert_eq!(
        t["media"]["udp_port"].as_integer(),
        Some(5000),
        "flag over env"
    );
    assert_eq!(
        t["database_url"].as_str(),
        Some("sqlite:///srv/vroom/vroom.db")
    );
    assert_eq!(t["public_url"].as_str(), Some("https://video.example.com"));
}

#[tokio::test]
async fn a_bad_settings_file_gets_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[media]\nudp_port = \"high\"\n",
            "line 2: media.udp_port: invalid type",
        ),
        (
            "[webhooks]\nblock_privat = true\n",
            "webhooks.block_privat: unknown field",
        ),
        ("listen = \n", "line 1: not valid TOML"),
        (
            "[credentials]\nauth_token_file = \"/no/such/secret\"\n",
            "credentials.auth_token_file (VROOM_AUTH_TOKEN_FILE): cannot read /no/such/secret",
        ),
    ];
    for (i, (text, want)) in cases.into_iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = vroom(&["--config", file.to_str().unwrap(), "serve"], &[]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text} should fail");
        assert!(err.contains(want), "{text}: expected '{want}' in: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{text}: one line: {err}");
    }
}

#[tokio::test]
async fn a_data_folder_that_cannot_be_written_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    // A folder under a plain file cannot be created, whoever runs the test (root included).
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let data = blocker.join("data");
    let out = vroom(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.matches(data.to_str().unwrap()).count(), 1, "{err}");
    assert!(
        err.contains("the data folder") && err.trim().lines().count() == 1,
        "{err}"
    );
}

#[tokio::test]
async fn token_and_credentials_work_from_any_folder_and_say_where_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    // `vroom serve --listen localhost:PORT`: the name resolves.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vroom"))
        .args([
            "serve",
            "--listen",
            &format!("localhost:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .env_remove("VROOM_ACCOUNT_SID")
        .env_remove("VROOM_AUTH_TOKEN")
        .env_remove("VROOM_API_KEY_SID")
        .env_remove("VROOM_API_KEY_SECRET")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut first = String::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await
    {
        first.push_str(&line);
        first.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    assert!(
        first.contains(&format!("listening on http://localhost:{port}")),
        "{first}"
    );
    let secret = value_after(&first, "API key secret:").to_owned();
    child.kill().await.ok();

    // From another folder, with only --data-dir and the listen address of the server.
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: Vec<String>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vroom"));
        cmd.args(args)
            .current_dir(elsewhere.path())
            .env_remove("VROOM_ACCOUNT_SID")
            .env_remove("VROOM_AUTH_TOKEN")
            .env_remove("VROOM_API_KEY_SID")
            .env_remove("VROOM_API_KEY_SECRET")
            .env("VROOM_PUBLIC_URL", "https://video.example.com");
        async move { cmd.output().await.unwrap() }
    };
    let data_arg = data.display().to_string();
    let out = run(vec![
        "credentials".into(),
        "--data-dir".into(),
        data_arg.clone(),
    ])
    .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(&secret), "{stdout}");
    assert!(
        stdout.contains("https://video.example.com"),
        "the configured URL: {stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "credentials from {}",
            data.join("vroom.db").display()
        )),
        "{stderr}"
    );
    let out = run(vec![
        "token".into(),
        "--identity".into(),
        "alice".into(),
        "--data-dir".into(),
        data_arg,
    ])
    .await;
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .starts_with("eyJ")
    );
    let out = run(vec!["token".into(), "--identity".into(), "alice".into()]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no vroom database at") && err.contains("--data-dir"),
        "{err}"
    );
}
