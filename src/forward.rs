//! Relaying a REST request about a room another node runs to that node.
//!
//! The hub answers `Elsewhere` for a room whose lease another node holds; the API renders it as a
//! 503 that names the owner's address in [`OWNER_HEADER`]. This layer, around the REST routes,
//! keeps each request's body, and on such an answer sends the same request (method, path and
//! query, headers, body) to the owner and returns the owner's answer instead. A relayed request
//! carries [`RELAYED_HEADER`] and is never relayed again, so two nodes that disagree about who runs
//! a room answer 503 rather than loop. Without an address (the owner was started without a public
//! URL) or when the owner cannot be reached, the 503 stands.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use vroom_api::OWNER_HEADER;

/// Marks a request one node relayed to another.
pub use vroom_signaling::RELAYED_HEADER;

/// Bodies kept for relaying at most (REST bodies are forms, far smaller).
const MAX_BODY: usize = 1 << 20;

/// The relaying middleware; its state is the HTTP client it relays with.
pub async fn relay(State(client): State<reqwest::Client>, req: Request, next: Next) -> Response {
    let relayed = req.headers().contains_key(RELAYED_HEADER);
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), ToString::to_string);
    let headers = req.headers().clone();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return vroom_api::ApiError::TooLarge.into_response();
    };
    let mut answer = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    let Some(owner) = answer.headers_mut().remove(OWNER_HEADER) else {
        return answer;
    };
    let Ok(owner) = owner.to_str() else {
        return answer;
    };
    if relayed || owner.is_empty() {
        return answer;
    }
    let mut out = HeaderMap::new();
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH && name != header::CONNECTION {
            out.append(name, value.clone());
        }
    }
    out.insert(RELAYED_HEADER, HeaderValue::from_static("1"));
    let url = format!("{}{path}", owner.trim_end_matches('/'));
    let sent = client
        .request(method, url)
        .headers(out)
        .body(bytes)
        .send()
        .await;
    let Ok(theirs) = sent else {
        return answer;
    };
    let status = theirs.status();
    let mut back = HeaderMap::new();
    for (name, value) in theirs.headers() {
        if name != header::CONTENT_LENGTH
            && name != header::TRANSFER_ENCODING
            && name != header::CONNECTION
        {
            back.append(name, value.clone());
        }
    }
    match theirs.bytes().await {
        Ok(body) => (status, back, body).into_response(),
        Err(_) => answer,
    }
}
