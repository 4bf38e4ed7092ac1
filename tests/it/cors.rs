//! REST from a browser page on another origin: preflights and CORS headers on `/v1`, as Twilio's API
//! answers them (a browser sends the preflight without credentials, then the request with Basic auth
//! in the `Authorization` header).

use reqwest::{Method, StatusCode};

use crate::common::TestServer;

const ORIGIN: &str = "http://tools.example.test:3000";

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .map_or("", |v| v.to_str().expect("an ASCII header"))
}

#[tokio::test]
async fn preflights_are_answered_and_every_api_answer_allows_other_origins() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    let room = s.create_room(&[("UniqueName", "cors-room")]).await;
    let sid = room["sid"].as_str().unwrap();

    // Preflights on collection, instance, nested and unknown paths, without credentials.
    for path in [
        "/v1/Rooms".to_owned(),
        format!("/v1/Rooms/{sid}"),
        format!("/v1/Rooms/{sid}/Participants"),
        "/v1/Nothing".to_owned(),
    ] {
        let resp = http
            .request(Method::OPTIONS, format!("{}{path}", s.base))
            .header("Origin", ORIGIN)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
            .await
            .expect("a preflight answer");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        assert_eq!(header(&resp, "access-control-allow-origin"), "*", "{path}");
        let methods = header(&resp, "access-control-allow-methods");
        for m in ["GET", "POST", "DELETE"] {
            assert!(methods.contains(m), "{path}: methods {methods}");
        }
        let allowed = header(&resp, "access-control-allow-headers").to_ascii_lowercase();
        for h in ["authorization", "content-type"] {
            assert!(allowed.contains(h), "{path}: headers {allowed}");
        }
        assert_eq!(header(&resp, "access-control-allow-credentials"), "");
    }

    // The actual requests: success and Twilio's errors alike are readable by the page.
    let key = s.creds.api_key_sid.to_string();
    let resp = http
        .post(format!("{}/v1/Rooms", s.base))
        .header("Origin", ORIGIN)
        .basic_auth(&key, Some(&s.creds.api_key_secret))
        .form(&[("UniqueName", "made-from-a-page")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(header(&resp, "access-control-allow-origin"), "*");
    let resp = http
        .get(format!("{}/v1/Rooms/{sid}", s.base))
        .header("Origin", ORIGIN)
        .basic_auth(&key, Some(&s.creds.api_key_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "access-control-allow-origin"), "*");
    let resp = http
        .get(format!("{}/v1/Rooms", s.base))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&resp, "access-control-allow-origin"), "*");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 20003);

    // A wrong method is still Twilio's 405, not a preflight answer.
    let resp = http
        .request(Method::PUT, format!("{}/v1/Rooms", s.base))
        .header("Origin", ORIGIN)
        .basic_auth(&key, Some(&s.creds.api_key_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&resp, "access-control-allow-origin"), "*");

    // vroom's own endpoints are not part of the API and stay same-origin.
    let resp = http
        .get(format!("{}/healthz", s.base))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "access-control-allow-origin"), "");
}
