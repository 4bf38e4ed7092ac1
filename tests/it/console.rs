//! `/console`'s server side: the page and its files, and `POST /console/token` behind the account's
//! credentials, minting tokens a client joins with. (The page itself is driven in Chromium by
//! tests/browser/scenarios-console.js.)

use reqwest::StatusCode;
use serde_json::Value;
use vroom_testkit::SignalClient;

use crate::common::TestServer;

#[tokio::test]
async fn the_console_page_and_its_files_are_served_without_data() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    for (path, content_type, contains) in [
        ("/console", "text/html", "id=\"login-form\""),
        ("/console/console.js", "text/javascript", "/console/token"),
        ("/console/console.css", "text/css", "#token-output"),
    ] {
        let resp = http.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let ct = resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(ct.starts_with(content_type), "{path}: {ct}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(contains), "{path}");
        assert!(
            !body.contains(s.creds.account_sid.to_string().as_str()),
            "{path} holds no data"
        );
    }
}

async fn mint(
    s: &TestServer,
    auth: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/console/token", s.base))
        .form(form);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let resp = request.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test]
async fn console_tokens_need_the_accounts_credentials_and_let_a_client_join_the_room() {
    let s = TestServer::start().await;
    s.create_room(&[("UniqueName", "ops-room")]).await;
    let account = s.creds.account_sid.to_string();
    let key = s.creds.api_key_sid.to_string();
    let by_account = Some((account.as_str(), s.creds.auth_token.as_str()));
    let by_key = Some((key.as_str(), s.creds.api_key_secret.as_str()));

    for auth in [None, Some((account.as_str(), "wrong"))] {
        let (status, body) = mint(&s, auth, &[("Identity", "alice")]).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (StatusCode::UNAUTHORIZED, Some(20003)),
            "{body}"
        );
    }
    let long_name = "r".repeat(200);
    let bad = [
        (vec![], "Identity"),
        (vec![("Identity", "")], "Identity"),
        (vec![("Identity", "alice"), ("Ttl", "0")], "Ttl"),
        (vec![("Identity", "alice"), ("Ttl", "86401")], "Ttl"),
        (vec![("Identity", "alice"), ("Ttl", "soon")], "Ttl"),
        (vec![("Identity", "alice"), ("Room", &long_name)], "Room"),
    ];
    for (form, named) in bad {
        let (status, body) = mint(&s, by_key, &form).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(20001)),
            "{form:?}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(named),
            "{form:?}: {body}"
        );
    }

    // Logged in with the account's token (no API key secret at hand), the server signs for it.
    let (status, minted) = mint(
        &s,
        by_account,
        &[("Identity", "alice"), ("Room", "ops-room"), ("Ttl", "600")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    assert_eq!(
        (&minted["identity"], &minted["room"], &minted["ttl"]),
        (&"alice".into(), &"ops-room".into(), &600.into())
    );
    let token = minted["token"].as_str().unwrap();
    let (_alice, connected) = SignalClient::join(&s.ws, token, Some("ops-room"), &[]).await;
    assert_eq!(connected["type"], "connected", "{connected}");
    assert_eq!(connected["participant"]["identity"], "alice");
    assert_eq!(connected["name"], "ops-room");
    // The grant names the room: another room refuses it.
    let (elsewhere, refused) = SignalClient::join(&s.ws, token, Some("another"), &[]).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("another room")),
        "{refused}"
    );
    elsewhere.leave().await;
}
