//! `/quickstart`: a page where a person joins a room from the browser with a token from
//! `vroom token`, sees and hears the others, and leaves. The page is our own; twilio-video.js comes
//! either from a local copy vroom serves (`--quickstart-sdk`, or `twilio-video.min.js` in the data
//! folder: works offline) or from a CDN, pinned to [`SDK_VERSION`] with a subresource-integrity hash
//! so a changed file is refused by the browser.
//!
//! The page's script tag is written by the server, which knows where the SDK comes from: a page
//! that found out for itself (a failed load falling back to the CDN) ran its fallback before the
//! fallback was defined.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const PAGE: &str = include_str!("quickstart/index.html");
/// Where the page template takes the SDK's script tag.
const SDK_SLOT: &str = "<!-- twilio-video.js -->";

/// The twilio-video.js release the page is written and tested for.
pub const SDK_VERSION: &str = "2.36.0";
/// The subresource-integrity hash of that release's `dist/twilio-video.min.js` (as published on
/// npm, which the CDN serves unchanged).
pub const SDK_INTEGRITY: &str =
    "sha384-f3mQhBhEoKg0Ty5CZ+qdseXuM9MGXFwvU7asd//toOVnD30aE3judMaanYO8TC0e";
/// The CDN serving npm packages by default (`<cdn>/twilio-video@<version>/dist/…`).
pub const DEFAULT_CDN: &str = "https://unpkg.com";
/// The file name vroom looks for in its data folder.
pub const SDK_FILE_NAME: &str = "twilio-video.min.js";

/// Where the quickstart page gets twilio-video.js.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A local file vroom serves at `/quickstart/twilio-video.min.js`.
    Local(PathBuf),
    /// A CDN serving npm packages, e.g. `https://unpkg.com` or `https://cdn.jsdelivr.net/npm`.
    Cdn(String),
}

impl SdkSource {
    /// The local file if one is given or present in `data_dir`, else the CDN.
    #[must_use]
    pub fn choose(local: Option<PathBuf>, data_dir: Option<&std::path::Path>, cdn: &str) -> Self {
        if let Some(path) = local {
            return Self::Local(path);
        }
        match data_dir.map(|d| d.join(SDK_FILE_NAME)) {
            Some(path) if path.is_file() => Self::Local(path),
            _ => Self::Cdn(cdn.trim_end_matches('/').to_owned()),
        }
    }

    /// The URL of the SDK on the CDN, `None` for a local copy.
    #[must_use]
    pub fn cdn_url(&self) -> Option<String> {
        match self {
            Self::Local(_) => None,
            Self::Cdn(base) => Some(format!(
                "{base}/twilio-video@{SDK_VERSION}/dist/twilio-video.min.js"
            )),
        }
    }

    fn script_tag(&self) -> String {
        match self.cdn_url() {
            None => format!("<script src=\"/quickstart/{SDK_FILE_NAME}\"></script>"),
            Some(url) => format!(
                "<script src=\"{}\" integrity=\"{SDK_INTEGRITY}\" crossorigin=\"anonymous\"></script>",
                escape_attribute(&url)
            ),
        }
    }
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// The quickstart routes.
pub fn router(sdk: &SdkSource) -> Router {
    let page: Arc<str> = PAGE.replace(SDK_SLOT, &sdk.script_tag()).into();
    let local = Arc::new(match sdk {
        SdkSource::Local(path) => Some(path.clone()),
        SdkSource::Cdn(_) => None,
    });
    Router::new()
        .route(
            "/quickstart",
            get(move || {
                let page = Arc::clone(&page);
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        page.to_string(),
                    )
                }
            }),
        )
        .route(
            "/quickstart/twilio-video.min.js",
            get(move || {
                let local = Arc::clone(&local);
                async move { serve_sdk(local.as_ref().as_ref()).await }
            }),
        )
}

async fn serve_sdk(path: Option<&PathBuf>) -> Response {
    let Some(path) = path else {
        return (
            StatusCode::NOT_FOUND,
            "this vroom serves no local twilio-video.js (the page loads it from the CDN)",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_tag_names_where_the_sdk_comes_from() {
        let cdn = SdkSource::choose(None, None, "https://cdn.example.com/npm/");
        assert_eq!(
            cdn.script_tag(),
            format!(
                "<script src=\"https://cdn.example.com/npm/twilio-video@{SDK_VERSION}/dist/twilio-video.min.js\" integrity=\"{SDK_INTEGRITY}\" crossorigin=\"anonymous\"></script>"
            )
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            SdkSource::choose(None, Some(dir.path()), DEFAULT_CDN),
            SdkSource::Cdn(DEFAULT_CDN.to_owned()),
            "no file in the data folder: the CDN"
        );
        std::fs::write(dir.path().join(SDK_FILE_NAME), "x").unwrap();
        let local = SdkSource::choose(None, Some(dir.path()), DEFAULT_CDN);
        assert_eq!(local, SdkSource::Local(dir.path().join(SDK_FILE_NAME)));
        assert_eq!(
            local.script_tag(),
            "<script src=\"/quickstart/twilio-video.min.js\"></script>"
        );
        assert!(PAGE.contains(SDK_SLOT), "the template has the slot");
    }
}
