//! Cross-origin access to `/v1`, as Twilio's REST API allows it: browser-side tools (twilio-video.js's
//! own test suite among them) call the API with HTTP Basic in the `Authorization` header.
//!
//! A preflight (`OPTIONS`, any `/v1` path) is answered at once, before authentication: browsers send
//! it without credentials. Every other `/v1` answer, errors included, carries
//! `Access-Control-Allow-Origin: *` so the page can read Twilio's error body. Credentials never travel
//! in cookies, so the wildcard origin is enough and `Access-Control-Allow-Credentials` is not sent:
//! a page cannot make the browser attach anything the API would accept on its own.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The request headers a page may send: those Twilio's API allows, `Authorization` first among them.
const ALLOW_HEADERS: &str = "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, \
                             If-None-Match, If-Unmodified-Since, Idempotency-Key";
/// The methods Twilio's API speaks.
const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// How long a browser may cache a preflight, seconds (a day).
const MAX_AGE: &str = "86400";

fn is_api(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

/// The middleware: preflights answered, CORS headers on every `/v1` response.
pub(crate) async fn layer(request: Request, next: Next) -> Response {
    if !is_api(request.uri().path()) {
        return next.run(request).await;
    }
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        set(h, header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        set(h, header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        set(h, header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
        set(h, header::ALLOW, ALLOW_METHODS);
        return response;
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    // Exposed as Twilio's API exposes it (vroom sends no ETag yet; harmless, and ready when it does).
    set(h, header::ACCESS_CONTROL_EXPOSE_HEADERS, "ETag");
    response
}
