//! `/quickstart`: a page where a person joins a room from the browser with a token from
//! `vroom token`, sees and hears the others, and leaves. The page is our own; twilio-video.js comes
//! from the file the operator points `--quickstart-sdk` at, or else from npm's CDN.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const PAGE: &str = include_str!("quickstart/index.html");

/// The quickstart routes. `sdk` is a local copy of `twilio-video.min.js`, if the operator has one.
pub fn router(sdk: Option<PathBuf>) -> Router {
    let sdk = Arc::new(sdk);
    Router::new()
        .route(
            "/quickstart",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/quickstart/twilio-video.min.js",
            get(move || {
                let sdk = Arc::clone(&sdk);
                async move { serve_sdk(sdk.as_ref().as_ref()).await }
            }),
        )
}

async fn serve_sdk(path: Option<&PathBuf>) -> Response {
    let Some(path) = path else {
        // The page then loads the SDK from the CDN.
        return (
            StatusCode::NOT_FOUND,
            "no local twilio-video.js; start vroom with --quickstart-sdk",
        )
            .into_response();
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the quickstart SDK");
            (
                StatusCode::NOT_FOUND,
                "the configured twilio-video.js cannot be read",
            )
                .into_response()
        }
    }
}
