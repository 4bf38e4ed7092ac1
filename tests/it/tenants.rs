//! Several accounts on one server, each with its own keys: account A's credentials and tokens get
//! nothing of account B's rooms, participants, tracks or rules (404/20404, or the token error), and
//! a revoked key is refused at once, for REST and for the tokens it signed.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use vroom_domain::recording::{Recording, RecordingCodec};
use vroom_domain::sid::{AccountSid, ApiKeySid, RandomIds, RecordingSid};
use vroom_domain::track::TrackKind;
use vroom_signaling::token::{self, TokenKey};
use vroom_store::{Account, ApiKey, Change};
use vroom_testkit::{SignalClient, track};

use crate::common::TestServer;
use crate::webhooks::Receiver;

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
    // Bob joined and left: a disconnected participant of B's.
    let (bob, bob_joined) =
        SignalClient::join(&s.ws, &token_of(&s, &b_key, "bob"), Some("standup"), &[]).await;
    let bob_sid = bob_joined["participant"]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    bob.leave().await;
    let bob_path = format!("/v1/Rooms/{rsid}/Participants/{bob_sid}");
    s.eventually("bob is disconnected", || async {
        let (_, v) = as_b(Method::GET, bob_path.clone(), None).await;
        v["status"] == "disconnected"
    })
    .await;
    // A finished recording of alice's microphone, with its file in the media store.
    let rec = b_recording(&s, &b, &rsid, &psid, &tsid).await;
    let rt = rec.sid.to_string();
    let rules_path = format!("/v1/Rooms/{rsid}/RecordingRules");
    let (_, rules_before) = as_b(Method::GET, rules_path.clone(), None).await;
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
        (
            Method::POST,
            format!("/v1/Rooms/{rsid}/RecordingRules"),
            Some("Rules=%5B%7B%22type%22%3A%22include%22%2C%22all%22%3Atrue%7D%5D"),
        ),
        // Bob, who left.
        (Method::GET, bob_path.clone(), None),
        (Method::POST, bob_path.clone(), Some("Status=disconnected")),
        (Method::POST, format!("{bob_path}/Anonymize"), None),
        (Method::GET, format!("{bob_path}/PublishedTracks"), None),
        // The recording, by itself and through B's room and A's.
        (Method::GET, format!("/v1/Recordings/{rt}"), None),
        (Method::GET, format!("/v1/Recordings/{rt}/Media"), None),
        (Method::DELETE, format!("/v1/Recordings/{rt}"), None),
        (Method::GET, format!("/v1/Rooms/{rsid}/Recordings"), None),
        (
            Method::GET,
            format!("/v1/Rooms/{rsid}/Recordings/{rt}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/Rooms/{rsid}/Recordings/{rt}/Media"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/Rooms/{rsid}/Recordings/{rt}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/Rooms/{my_sid}/Recordings/{rt}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/Rooms/{my_sid}/Recordings/{rt}/Media"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/Rooms/{my_sid}/Recordings/{rt}"),
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
        // Recordings lists show none of B's, however they are filtered or paged.
        for query in [
            String::new(),
            format!("?GroupingSid={rsid}"),
            format!("?SourceSid={tsid}"),
            format!("?GroupingSid={psid}&MediaType=audio"),
            "?Status=completed".to_owned(),
        ] {
            let path = format!("/v1/Recordings{query}");
            let (status, list) = s
                .request(Method::GET, &path, Some((user, password)), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{path}: {list}");
            assert_eq!(list["recordings"], serde_json::json!([]), "{path}: {list}");
        }
        let path = format!("/v1/Recordings?PageToken=PA{rt}");
        let (status, v) = s
            .request(Method::GET, &path, Some((user, password)), None)
            .await;
        assert_eq!(
            (status, v["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(21481)),
            "{path}: {v}"
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
    let (_, rules) = as_b(Method::GET, rules_path, None).await;
    assert_eq!(rules["rules"], rules_before["rules"], "{rules}");
    let (_, bob_now) = as_b(Method::GET, bob_path.clone(), None).await;
    assert_eq!(bob_now["identity"], "bob", "not anonymized: {bob_now}");
    let (_, rec_now) = as_b(Method::GET, format!("/v1/Recordings/{rt}"), None).await;
    assert_eq!(rec_now["status"], "completed", "not deleted: {rec_now}");
    assert!(s.media_dir().join(rec.file_name()).is_file());
    let (_, listed) = as_b(Method::GET, format!("/v1/Rooms/{rsid}/Recordings"), None).await;
    assert_eq!(listed["recordings"][0]["sid"], rt.as_str(), "{listed}");
    // B still gets the file, through the signed URL the Media redirect names.
    let media = reqwest::Client::new()
        .get(format!("{}/v1/Recordings/{rt}/Media", s.base))
        .basic_auth(b_key.sid.to_string(), Some(&b_key.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), StatusCode::OK);
    assert_eq!(media.text().await.unwrap(), "media");
    drop(alice);
}

/// A completed recording of B's `track`, stored as the media server's would be, its file in the
/// media store.
async fn b_recording(
    s: &TestServer,
    b: &Account,
    room: &str,
    participant: &str,
    track: &str,
) -> Recording {
    let mut rec = Recording::start(
        RecordingSid::generate(&RandomIds),
        b.sid,
        room.parse().unwrap(),
        participant.parse().unwrap(),
        track.parse().unwrap(),
        "mic".into(),
        TrackKind::Audio,
        RecordingCodec::Opus,
        s.now(),
    );
    rec.complete(s.now(), 5, 1000);
    std::fs::create_dir_all(s.media_dir()).unwrap();
    std::fs::write(s.media_dir().join(rec.file_name()), b"media").unwrap();
    let store = vroom_store::open(&s.db_url).await.unwrap();
    store
        .apply(&[Change::InsertRecording(rec.clone())], &[])
        .await
        .unwrap();
    rec
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

/// Signaling keeps the keys its tokens were verified with while the credentials stand still: a key
/// whose tokens just joined, then revoked or given a new secret by another process, is refused from
/// the next join on.
#[tokio::test]
async fn a_key_whose_tokens_just_joined_is_refused_from_the_next_join_once_changed() {
    let s = TestServer::start().await;
    let (_, key) = second_account(&s).await;
    let store = vroom_store::open(&s.db_url).await.unwrap();
    let joins = |identity: &str, key: &ApiKey| {
        let signed = token_of(&s, key, identity);
        let url = s.ws.clone();
        async move {
            let (c, first) = SignalClient::join(&url, &signed, Some("kept"), &[]).await;
            if first["type"] == "connected" {
                c.leave().await;
            }
            (
                first["type"].as_str().map(str::to_owned),
                first["code"].as_u64(),
            )
        }
    };
    let connected = (Some("connected".to_owned()), None);
    assert_eq!(joins("ann", &key).await, connected);
    assert_eq!(joins("bob", &key).await, connected);

    // A new secret: tokens signed with the old one no longer verify, those with the new one do.
    let rotated = ApiKey {
        secret: "b-rotated-key-secret-0123456789ab".into(),
        ..key.clone()
    };
    store.save_api_key(&rotated).await.unwrap();
    let (kind, code) = joins("cat", &key).await;
    assert_eq!(kind.as_deref(), Some("error"), "old secret: {code:?}");
    assert_eq!(joins("dan", &rotated).await, connected);

    // Revoked: refused, though its tokens joined a moment ago.
    store
        .save_api_key(&ApiKey {
            date_revoked: Some(s.now()),
            ..rotated.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        joins("eve", &rotated).await,
        (Some("error".to_owned()), Some(20103))
    );
}

/// Credentials just verified (and so cached by REST) are refused from the next request once they
/// change in the store, made by another process: a rotated key secret, a rotated auth token, a
/// key row deleted by hand.
#[tokio::test]
async fn credentials_rotated_or_deleted_are_refused_at_once_though_just_verified() {
    let s = TestServer::start().await;
    let (account, key) = second_account(&s).await;
    let get = |user: String, password: String| {
        let s = &s;
        async move {
            let (status, v): (StatusCode, Value) = s
                .request(Method::GET, "/v1/Rooms", Some((&user, &password)), None)
                .await;
            (status, v["code"].as_u64())
        }
    };
    let ok = (StatusCode::OK, None);
    let refused = (StatusCode::UNAUTHORIZED, Some(20003));
    let (ksid, asid) = (key.sid.to_string(), account.sid.to_string());
    for _ in 0..3 {
        assert_eq!(get(ksid.clone(), key.secret.clone()).await, ok);
        assert_eq!(get(asid.clone(), account.auth_token.clone()).await, ok);
    }
    let store = vroom_store::open(&s.db_url).await.unwrap();
    let rotated = ApiKey {
        secret: "b-key-secret-rotated-0123456789abc".into(),
        ..key.clone()
    };
    store.save_api_key(&rotated).await.unwrap();
    assert_eq!(get(ksid.clone(), key.secret.clone()).await, refused);
    assert_eq!(get(ksid.clone(), rotated.secret.clone()).await, ok);
    let token = Account {
        auth_token: "b-auth-token-rotated-0123456789ab".into(),
        ..account.clone()
    };
    store.save_account(&token).await.unwrap();
    assert_eq!(get(asid.clone(), account.auth_token.clone()).await, refused);
    assert_eq!(get(asid.clone(), token.auth_token.clone()).await, ok);
    assert_eq!(get(ksid.clone(), rotated.secret.clone()).await, ok);
    // Deleted by hand, behind vroom's back (an SQLite file here; PostgreSQL's trigger is the
    // same statement-level one, covered by the store suite's version checks).
    if let Some(path) = s.db_url.strip_prefix("sqlite://") {
        let db = rusqlite::Connection::open(path).unwrap();
        db.execute("DELETE FROM api_keys WHERE sid = ?1", [&ksid])
            .unwrap();
        assert_eq!(get(ksid.clone(), rotated.secret.clone()).await, refused);
    }
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

/// Creates a room named `name` with a status callback to `callback`, as `auth`; its SID.
async fn create_hooked(s: &TestServer, auth: (&str, &str), name: &str, callback: String) -> String {
    let form = format!(
        "UniqueName={name}&StatusCallback={}",
        form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    let body = ("application/x-www-form-urlencoded", form.as_str());
    let (st, room) = s
        .request(Method::POST, "/v1/Rooms", Some(auth), Some(body))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{room}");
    room["sid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_accounts_status_callbacks_are_signed_with_its_own_auth_token() {
    let s = TestServer::start().await;
    let (b, b_key) = second_account(&s).await;
    let b_auth = (b_key.sid.to_string(), b_key.secret.clone());
    // Each receiver checks signatures with Twilio's RequestValidator and one account's token.
    let mut with_a = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    let mut with_b = Receiver::start(&b.auth_token, None, 0, &[]).await;
    let a_key = (
        s.creds.api_key_sid.to_string(),
        s.creds.api_key_secret.clone(),
    );
    let a_room = create_hooked(&s, (&a_key.0, &a_key.1), "a-hooked", with_a.url("/a")).await;
    let b_room = create_hooked(&s, (&b_auth.0, &b_auth.1), "b-hooked", with_b.url("/b")).await;
    // B's callback at a receiver holding A's token: its signature is not A's.
    let b_at_a = create_hooked(&s, (&b_auth.0, &b_auth.1), "b-at-a", with_a.url("/b-at-a")).await;

    let (at_b, _) = with_b.delivered(1).await;
    let (mut at_a, _) = with_a.delivered(2).await;
    at_a.sort_by_key(|r| r["path"].as_str().unwrap_or_default().to_owned());
    let seen: Vec<(&str, &str, &str, bool)> = at_a
        .iter()
        .chain(&at_b)
        .map(|r| {
            (
                r["path"].as_str().unwrap(),
                r["params"]["AccountSid"].as_str().unwrap(),
                r["params"]["RoomSid"].as_str().unwrap(),
                r["valid"].as_bool().unwrap(),
            )
        })
        .collect();
    let (a_sid, b_sid) = (s.creds.account_sid.to_string(), b.sid.to_string());
    assert_eq!(
        seen,
        [
            ("/a", a_sid.as_str(), a_room.as_str(), true),
            ("/b-at-a", b_sid.as_str(), b_at_a.as_str(), false),
            ("/b", b_sid.as_str(), b_room.as_str(), true),
        ]
    );
}

#[tokio::test]
async fn the_console_of_one_account_mints_tokens_for_its_own_rooms_only() {
    let s = TestServer::start().await;
    let (b, b_key) = second_account(&s).await;
    let a_room = s.create_room(&[("UniqueName", "ops")]).await;
    let (_alice, _) = SignalClient::join(&s.ws, &s.token("alice", None), Some("ops"), &[]).await;
    let mint = |user: String, password: String| {
        let s = &s;
        async move {
            let (status, v) = s
                .request(
                    Method::POST,
                    "/console/token",
                    Some((&user, &password)),
                    Some(("application/x-www-form-urlencoded", "Identity=eve&Room=ops")),
                )
                .await;
            (status, v)
        }
    };
    // Another account's SID with B's secrets, or B's with A's, is nobody.
    for (user, password) in [
        (s.creds.account_sid.to_string(), b.auth_token.clone()),
        (b.sid.to_string(), s.creds.auth_token.clone()),
        (b_key.sid.to_string(), s.creds.api_key_secret.clone()),
    ] {
        let (status, v) = mint(user, password).await;
        assert_eq!(
            (status, v["code"].as_u64()),
            (StatusCode::UNAUTHORIZED, Some(20003)),
            "{v}"
        );
    }
    // Logged in as B (its auth token): the token is B's, signed with B's key.
    let (status, minted) = mint(b.sid.to_string(), b.auth_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let jwt = minted["token"].as_str().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str()),
        (
            Some(b_key.sid.to_string().as_str()),
            Some(b.sid.to_string().as_str())
        ),
        "{claims}"
    );
    // It joins B's room of that name, never A's, and sees nothing of alice.
    let (_eve, joined) = SignalClient::join(&s.ws, jwt, Some("ops"), &[]).await;
    assert_eq!(joined["type"], "connected", "{joined}");
    assert_ne!(joined["sid"], a_room["sid"], "{joined}");
    assert!(!joined.to_string().contains("alice"), "{joined}");
    // What the console's pages then read with B's login: B's rooms only.
    let b_auth = (b.sid.to_string(), b.auth_token.clone());
    for path in [
        "/v1/Rooms?Status=in-progress&PageSize=100",
        "/v1/Rooms?Status=completed&PageSize=20",
    ] {
        let (_, list) = s
            .request(Method::GET, path, Some((&b_auth.0, &b_auth.1)), None)
            .await;
        let sids: Vec<&Value> = list["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["sid"])
            .collect();
        assert!(!sids.contains(&&a_room["sid"]), "{path}: {list}");
    }
    let a_participants = format!(
        "/v1/Rooms/{}/Participants?Status=connected",
        a_room["sid"].as_str().unwrap()
    );
    let (status, v) = s
        .request(
            Method::GET,
            &a_participants,
            Some((&b_auth.0, &b_auth.1)),
            None,
        )
        .await;
    assert_eq!(
        (status, v["code"].as_u64()),
        (StatusCode::NOT_FOUND, Some(20404)),
        "{v}"
    );
}
