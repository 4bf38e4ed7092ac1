//! Details of Twilio's API contract, over real sockets: which methods each path of the spec has
//! (405 with `Allow` for the others, 501 only for spec methods vroom does not build), empty
//! `VideoCodecs`, and access-token expirations at the integer limits.

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vroom_testkit::SignalClient;

use crate::common::TestServer;

/// Every path of Twilio's `video_v1.openapi.json` (parameters filled in) with the methods the spec
/// gives it, and whether vroom builds them.
const SPEC: &[(&str, &[&str], bool)] = &[
    ("/v1/Rooms", &["GET", "POST"], true),
    ("/v1/Rooms/{room}", &["GET", "POST"], true),
    ("/v1/Rooms/{room}/Participants", &["GET"], true),
    ("/v1/Rooms/{room}/Participants/{p}", &["GET", "POST"], true),
    (
        "/v1/Rooms/{room}/Participants/{p}/Anonymize",
        &["POST"],
        true,
    ),
    (
        "/v1/Rooms/{room}/Participants/{p}/PublishedTracks",
        &["GET"],
        true,
    ),
    (
        "/v1/Rooms/{room}/Participants/{p}/PublishedTracks/MT00000000000000000000000000000000",
        &["GET"],
        true,
    ),
    (
        "/v1/Rooms/{room}/Participants/{p}/SubscribedTracks",
        &["GET"],
        true,
    ),
    (
        "/v1/Rooms/{room}/Participants/{p}/SubscribedTracks/MT00000000000000000000000000000000",
        &["GET"],
        true,
    ),
    (
        "/v1/Rooms/{room}/Participants/{p}/SubscribeRules",
        &["GET", "POST"],
        true,
    ),
    ("/v1/Rooms/{room}/RecordingRules", &["GET", "POST"], true),
    ("/v1/Rooms/{room}/Recordings", &["GET"], true),
    (
        "/v1/Rooms/{room}/Recordings/RT00000000000000000000000000000000",
        &["GET", "DELETE"],
        true,
    ),
    (
        "/v1/Rooms/{room}/Recordings/RT00000000000000000000000000000000/Media",
        &["GET"],
        true,
    ),
    ("/v1/Rooms/{room}/Transcriptions", &["GET", "POST"], false),
    (
        "/v1/Rooms/{room}/Transcriptions/VT00000000000000000000000000000000",
        &["GET", "POST"],
        false,
    ),
    ("/v1/Recordings", &["GET"], true),
    (
        "/v1/Recordings/RT00000000000000000000000000000000",
        &["GET", "DELETE"],
        true,
    ),
    (
        "/v1/Recordings/RT00000000000000000000000000000000/Media",
        &["GET"],
        true,
    ),
    ("/v1/RecordingSettings/Default", &["GET", "POST"], true),
    ("/v1/Compositions", &["GET", "POST"], true),
    (
        "/v1/Compositions/CJ00000000000000000000000000000000",
        &["GET", "DELETE"],
        true,
    ),
    (
        "/v1/Compositions/CJ00000000000000000000000000000000/Media",
        &["GET"],
        true,
    ),
    ("/v1/CompositionHooks", &["GET", "POST"], true),
    (
        "/v1/CompositionHooks/HK00000000000000000000000000000000",
        &["GET", "DELETE", "POST"],
        true,
    ),
    ("/v1/CompositionSettings/Default", &["GET", "POST"], true),
];

fn methods(header: &str) -> BTreeSet<String> {
    header
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect()
}

#[tokio::test]
async fn each_path_answers_its_spec_methods_and_405_with_allow_for_the_others() {
    let s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "methods")]).await;
    let room = room["sid"].as_str().unwrap();
    let (_alice, joined) =
        SignalClient::join(&s.ws, &s.token("alice", None), Some("methods"), &[]).await;
    let participant = joined["participant"]["sid"].as_str().unwrap();
    let http = reqwest::Client::new();
    let key = s.creds.api_key_sid.to_string();
    for (template, spec, built) in SPEC {
        let path = template.replace("{room}", room).replace("{p}", participant);
        // What the spec has is answered (by a handler, or unbuilt with a deliberate 501), never
        // 405.
        for method in *spec {
            let resp = http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    s.base.clone() + &path,
                )
                .basic_auth(&key, Some(&s.creds.api_key_secret))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if *built {
                // Answered by its handler: a resource, or a Twilio error about the (empty)
                // request.
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {template}: {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::NOT_IMPLEMENTED,
                    "{method} {template}: {body}"
                );
                assert_eq!(body["code"], 20501, "{method} {template}: {body}");
            }
        }
        // Everything else: 405, 20004, and `Allow` lists exactly the spec's methods (HEAD rides
        // with GET).
        let mut want: BTreeSet<String> = spec.iter().map(|m| (*m).to_owned()).collect();
        if want.contains("GET") {
            want.insert("HEAD".to_owned());
        }
        for method in ["GET", "POST", "DELETE", "PUT", "PATCH"] {
            if spec.contains(&method) {
                continue;
            }
            let resp = http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    s.base.clone() + &path,
                )
                .basic_auth(&key, Some(&s.creds.api_key_secret))
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {template}"
            );
            let allow = resp
                .headers()
                .get("allow")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            assert_eq!(
                methods(&allow),
                want,
                "{method} {template}: Allow {allow:?}"
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                (body["status"].as_i64(), body["code"].as_i64()),
                (Some(405), Some(20004))
            );
        }
    }
}

#[tokio::test]
async fn an_empty_video_codecs_is_refused_naming_the_parameter() {
    let s = TestServer::start().await;
    for form in [
        vec![("VideoCodecs", "")],
        vec![("VideoCodecs", "VP8"), ("VideoCodecs", "")],
        vec![("VideoCodecs", " ")],
    ] {
        let (status, body) = s.post("/v1/Rooms", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert_eq!(body["code"], 20001, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("VideoCodecs"),
            "{body}"
        );
    }
    let (_, rooms) = s.get("/v1/Rooms").await;
    assert!(rooms["rooms"].as_array().unwrap().is_empty());
    let room = s.create_room(&[("VideoCodecs", "H264")]).await;
    assert_eq!(room["video_codecs"], json!(["H264"]));
}

#[tokio::test]
async fn expirations_at_the_integer_limits_are_refused_and_the_server_carries_on() {
    let s = TestServer::start().await;
    let header = Header {
        cty: Some("twilio-fpa;v=1".into()),
        typ: Some("JWT".into()),
        ..Header::new(Algorithm::HS256)
    };
    let sign = |exp: Value| {
        let claims = json!({
            "jti": "x", "iss": s.creds.api_key_sid.to_string(), "sub": s.creds.account_sid.to_string(),
            "exp": exp, "grants": {"identity": "edge", "video": {}},
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(s.creds.api_key_secret.as_bytes()),
        )
        .unwrap()
    };
    for exp in [
        json!(i64::MAX),
        json!(i64::MAX - 1),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e300),
    ] {
        let (c, m) = SignalClient::join(&s.ws, &sign(exp.clone()), Some("edges"), &[]).await;
        assert_eq!(
            (m["type"].as_str(), m["code"].as_i64()),
            (Some("error"), Some(20104)),
            "exp {exp}: {m}"
        );
        c.leave().await;
    }
    // Still serving, and a sane token joins.
    let (_c, m) = SignalClient::join(&s.ws, &s.token("edge", None), Some("edges"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
}
