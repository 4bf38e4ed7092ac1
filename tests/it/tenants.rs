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
