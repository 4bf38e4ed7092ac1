//! Several accounts on one server, each with its own keys: account A's credentials and tokens get
//! nothing of account B's rooms, participants, tracks or rules (404/20404, or the token error), and
//! a revoked key is refused at once, for REST and for the tokens it signed.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use vroom_domain::sid::{AccountSid, ApiKeySid, RandomIds};
use vroom_signaling::token::{self, TokenKey};
use vroom_store::{Account, ApiKey};
use vroom_testkit::{SignalClient, track};

use crate::common::TestServer;

/// Stores a second account with one key, as `vroom` would from another process.
async fn second_account(s: &TestServer) -> (Account, ApiKey) {
    let store = vroom_store::open(&s.db_url)
        .await
        .expect("the server's database");
    let account = Account {
        sid: AccountSid::generate(&RandomIds),
        auth_token: "b-auth-token-0123456789abcdef0123".into(),
        friendly_name: "B".into(),
        date_created: s.now(),
        main: false,
    };
    store.save_account(&account).await.unwrap();
    let key = ApiKey {
        sid: ApiKeySid::generate(&RandomIds),
        account_sid: account.sid,
        secret: "b-key-secret-0123456789abcdef01234".into(),
        friendly_name: String::new(),
        date_created: s.now(),
        date_revoked: None,
    };
    store.save_api_key(&key).await.unwrap();
    (account, key)
}

fn token_of(s: &TestServer, key: &ApiKey, identity: &str) -> String {
    let key = TokenKey {
        account_sid: key.account_sid,
        api_key_sid: key.sid,
        secret: key.secret.clone(),
    };
    token::mint(&key, identity, None, 3600, s.now()).unwrap()
}

#[tokio::test]
async fn one_account_gets_nothing_of_another() {
    let s = TestServer::start().await;
    let (b, b_key) = second_account(&s).await;
    let b_auth = (b_key.sid.to_string(), b_key.secret.clone());
    let as_b = |m: Method, path: String, form: Option<String>| {
        let s = &s;
        let auth = b_auth.clone();
        async move {
            let body = form.map(|f| ("application/x-www-form-urlencoded", f));
            let (st, v) = s
                .request(
                    m,
                    &path,
                    Some((&auth.0, &auth.1)),
                    body.as_ref().map(|(c, b)| (*c, b.as_str())),
                )
                .await;
            (st, v)
        }
    };
    // B's room "standup" with alice publishing a microphone; A has a room of the same name.
    let (st, room) = as_b(
        Method::POST,
        "/v1/Rooms".into(),
        Some("UniqueName=standup".into()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{room}");
    assert_eq!(room["account_sid"], b.sid.to_string());
    let rsid = room["sid"].as_str().unwrap().to_owned();
    let (alice, connected) = SignalClient::join(
        &s.ws,
        &token_of(&s, &b_key, "alice"),
        Some("standup"),
        &[track("a1", "audio", "mic")],
    )
    .await;
    assert_eq!(connected["type"], "connected", "{connected}");
    assert_eq!(connected["sid"], rsid.as_str());
    let psid = connected["participant"]["sid"].as_str().unwrap().to_owned();
    let tsid = connected["published"]["tracks"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = s.create_room(&[("UniqueName", "standup")]).await;
    let my_sid = mine["sid"].as_str().unwrap().to_owned();
    assert_ne!(my_sid, rsid);

    // Every REST operation of A (its key, and its auth token) on B's records.
    let p = format!("/v1/Rooms/{rsid}/Participants/{psid}");
    let cases: Vec<(Method, String, Option<&str>)> = vec![
        (Method::GET, format!("/v1/Rooms/{rsid}"), None),
        (
            Method::POST,
            format!("/v1/Rooms/{rsid}"),
            Some("Status=completed"),
        ),
        (Method::GET, format!("/v1/Rooms/{rsid}/Participants"), None),
        (Method::GET, p.clone(), None),
        (Method::POST, p.clone(), Some("Status=disconnected")),
        (Method::POST, format!("{p}/Anonymize"), None),
        (Method::GET, format!("{p}/PublishedTracks"), None),
        (Method::GET, format!("{p}/PublishedTracks/{tsid}"), None),
        (Method::GET, format!("{p}/PublishedTracks/mic"), None),
        (Method::GET, format!("{p}/SubscribedTracks"), None),
        (Method::GET, format!("{p}/SubscribedTracks/{tsid}"), None),
        (Method::GET, format!("{p}/SubscribeRules"), None),
        (
            Method::POST,
            format!("{p}/SubscribeRules"),
            Some("Rules=%5B%7B%22type%22%3A%22exclude%22%2C%22all%22%3Atrue%7D%5D"),
        ),
        (
            Method::GET,
            format!("/v1/Rooms/{rsid}/RecordingRules"),
            None,
        ),
        // B's participant through A's own room.
        (
            Method::GET,
            format!("/v1/Rooms/{my_sid}/Participants/{psid}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/Rooms/{my_sid}/Participants/alice"),
            None,
        ),
    ];
    let a_key = (
        s.creds.api_key_sid.to_string(),
        s.creds.api_key_secret.clone(),
    );
    let a_account = (s.creds.account_sid.to_string(), s.creds.auth_token.clone());
    for (user, password) in [&a_key, &a_account] {
        for (method, path, form) in &cases {
            let body = form.map(|f| ("application/x-www-form-urlencoded", f));
            let (status, v) = s
                .request(method.clone(), path, Some((user, password)), body)
                .await;
            assert_eq!(
                (status, v["code"].as_u64()),
                (StatusCode::NOT_FOUND, Some(20404)),
                "{method} {path}: {v}"
            );
        }
        // Lists show A's rooms only; B's SIDs are unknown page tokens.
        let (_, list) = s
            .request(
                Method::GET,
                "/v1/Rooms?UniqueName=standup",
                Some((user, password)),
                None,
            )
            .await;
        let listed: Vec<&str> = list["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["sid"].as_str().unwrap())
            .collect();
        assert_eq!(listed, [my_sid.as_str()]);
        let (status, v) = s
            .request(
                Method::GET,
                &format!("/v1/Rooms?PageToken=PA{rsid}"),
                Some((user, password)),
                None,
            )
            .await;
        assert_eq!(
            (status, v["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(21481))
        );
    }
    // A's SIDs with B's secrets, and the other way round, are nobody.
    for (user, password) in [
        (s.creds.account_sid.to_string(), b.auth_token.clone()),
        (s.creds.api_key_sid.to_string(), b_key.secret.clone()),
        (b.sid.to_string(), s.creds.auth_token.clone()),
    ] {
        let (status, v) = s
            .request(Method::GET, "/v1/Rooms", Some((&user, &password)), None)
            .await;
        assert_eq!(
            (status, v["code"].as_u64()),
            (StatusCode::UNAUTHORIZED, Some(20003))
        );
    }

    // A's token joining B's room by SID is refused; by name it joins A's own room.
    let (_, refused) = SignalClient::join(&s.ws, &s.token("mallory", None), Some(&rsid), &[]).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], 53106, "{refused}");
    let (_m, joined) =
        SignalClient::join(&s.ws, &s.token("mallory", None), Some("standup"), &[]).await;
    assert_eq!(joined["sid"], my_sid.as_str(), "{joined}");
    assert!(
        !joined.to_string().contains(&psid),
        "no sight of B's participant: {joined}"
    );

    // Nothing of B's changed, and B still sees it all.
    let (st, p_now) = as_b(Method::GET, p.clone(), None).await;
    assert_eq!(
        (st, p_now["status"].as_str()),
        (StatusCode::OK, Some("connected"))
    );
    let (_, r_now) = as_b(Method::GET, format!("/v1/Rooms/{rsid}"), None).await;
    assert_eq!(r_now["status"], "in-progress");
    drop(alice);
}

#[tokio::test]
async fn a_revoked_key_is_refused_for_rest_and_for_its_tokens() {
    let s = TestServer::start().await;
    let (_, key) = second_account(&s).await;
    let (status, _) = s
        .request(
            Method::GET,
            "/v1/Rooms",
            Some((&key.sid.to_string(), &key.secret)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let signed = token_of(&s, &key, "zoe");
    let store = vroom_store::open(&s.db_url).await.unwrap();
    store
        .save_api_key(&ApiKey {
            date_revoked: Some(s.now()),
            ..key.clone()
        })
        .await
        .unwrap();
    let (status, v): (StatusCode, Value) = s
        .request(
            Method::GET,
            "/v1/Rooms",
            Some((&key.sid.to_string(), &key.secret)),
            None,
        )
        .await;
    assert_eq!(
        (status, v["code"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(20003))
    );
    let (_, refused) = SignalClient::join(&s.ws, &signed, Some("any"), &[]).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_u64()),
        (Some("error"), Some(20103)),
        "{refused}"
    );
}

/// Runs `vroom --database-url <the server's database> ARGS` and returns its stdout (failing the test
/// when it fails).
async fn vroom_cli(s: &TestServer, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vroom"))
        .arg("--database-url")
        .arg(&s.db_url)
        .args(args)
        .env_remove("VROOM_ACCOUNT_SID")
        .env_remove("VROOM_API_KEY_SID")
        .output()
        .await
        .expect("vroom runs")
}

fn field<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim_start_matches(':').trim())
        .unwrap_or_else(|| panic!("no {label} in:\n{out}"))
}

#[tokio::test]
async fn accounts_and_keys_are_created_listed_and_revoked_from_the_cli_while_the_server_runs() {
    let s = TestServer::start().await;
    let a_room = s.create_room(&[("UniqueName", "a-room")]).await;

    let out = vroom_cli(&s, &["accounts", "create", "--name", "Clinic B"]).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (b_sid, b_token) = (field(&text, "Account SID"), field(&text, "Auth token"));
    let (key_sid, key_secret) = (field(&text, "API key SID"), field(&text, "API key secret"));
    assert!(
        b_sid.starts_with("AC") && key_sid.starts_with("SK"),
        "{text}"
    );

    // The running server accepts B's new credentials at once, and B sees none of A's rooms.
    for auth in [(key_sid, key_secret), (b_sid, b_token)] {
        let (status, v) = s.request(Method::GET, "/v1/Rooms", Some(auth), None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["rooms"].as_array().map(Vec::len), Some(0), "{v}");
        let path = format!("/v1/Rooms/{}", a_room["sid"].as_str().unwrap());
        let (status, v) = s.request(Method::GET, &path, Some(auth), None).await;
        assert_eq!(
            (status, v["code"].as_u64()),
            (StatusCode::NOT_FOUND, Some(20404))
        );
    }

    let listed = vroom_cli(&s, &["accounts", "list"]).await;
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains(b_sid) && listed.contains("Clinic B"),
        "{listed}"
    );
    assert!(
        listed.contains(&s.creds.account_sid.to_string()),
        "{listed}"
    );
    assert!(!listed.contains(b_token), "no secrets in lists: {listed}");

    // A second key for B, then the first one revoked: rotation without downtime.
    let out = vroom_cli(
        &s,
        &["keys", "create", "--account", b_sid, "--name", "rotated"],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (key2_sid, key2_secret) = (field(&text, "API key SID"), field(&text, "API key secret"));
    let out = vroom_cli(&s, &["keys", "revoke", key_sid]).await;
    assert!(out.status.success(), "{out:?}");
    let (status, v) = s
        .request(Method::GET, "/v1/Rooms", Some((key_sid, key_secret)), None)
        .await;
    assert_eq!(
        (status, v["code"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(20003))
    );
    let (status, _) = s
        .request(
            Method::GET,
            "/v1/Rooms",
            Some((key2_sid, key2_secret)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let keys = vroom_cli(&s, &["keys", "list", "--account", b_sid]).await;
    let keys = String::from_utf8(keys.stdout).unwrap();
    let revoked_line = keys.lines().find(|l| l.starts_with(key_sid)).unwrap();
    assert!(
        revoked_line.contains("UTC") && revoked_line.matches("UTC").count() == 2,
        "{keys}"
    );
    assert!(!keys.contains(key2_secret), "no secrets in lists: {keys}");

    // Bad input is refused with a clear message, never a panic.
    let unknown = ApiKeySid::generate(&RandomIds).to_string();
    for args in [
        vec!["keys", "revoke", unknown.as_str()],
        vec!["keys", "revoke", "not-a-sid"],
        vec![
            "keys",
            "create",
            "--account",
            "AC00000000000000000000000000000000",
        ],
    ] {
        let out = vroom_cli(&s, &args).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("no API key") || err.contains("invalid") || err.contains("no account"),
            "{args:?}: {err}"
        );
    }
}
