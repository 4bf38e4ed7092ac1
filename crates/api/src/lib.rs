//! Twilio Programmable Video's REST API (`/v1/...`), as Twilio's helper libraries expect it.
//!
//! # Layout
//! - this file: `ApiState`, the router (every path of the spec, built or deliberately not), and
//!   helpers shared by handlers (path segments, room lookup, 404s);
//! - `error`: `ApiError` and Twilio's error body;
//! - `auth`: HTTP Basic with an account's auth token or one of its API keys, checked against the store's credentials version per request; `cors`: preflights and CORS headers;
//! - `form`: form bodies and typed parameters; `paging`: PageSize/Page/PageToken and `meta`;
//! - `limit`: REST requests per account (429, 20429, `Retry-After`);
//! - `wire`: the JSON resources; `rooms`, `participants`: handlers;
//! - `recordings`: track recordings and their `Media` redirect; `media`: the signed media URLs
//!   and the files they serve; `compositions`: compositions and their `Media`; `layouts`: the
//!   spec parameters compositions and composition hooks share; `hooks`: composition hooks;
//!   `settings`: RecordingSettings and CompositionSettings.
//!
//! # Contracts
//! - Only this crate knows Twilio's REST field names and error JSON.
//! - Handlers read history from the store and change rooms only through the hub.
//! - Every absolute URL starts with the configured public URL.

mod auth;
mod cache;
mod compositions;
mod cors;
mod error;
mod form;
#[cfg(test)]
mod golden_tests;
mod hooks;
mod layouts;
mod limit;
pub mod media;
mod paging;
mod participants;
mod raw;
mod recordings;
mod rooms;
mod rules;
mod settings;
mod tracks;
pub mod wire;

#[doc(hidden)]
pub mod fuzzing;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, OriginalUri, Path};
use axum::http::Uri;
use axum::http::request::Parts;
use axum::routing::{MethodRouter, get};
use vroom_domain::room::Room;
use vroom_domain::sid::RoomSid;
use vroom_rooms::Hub;
use vroom_store::Store;

pub use auth::{Accounts, Caller};
pub use error::{ApiError, OWNER_HEADER};
pub use limit::RateLimit;

/// What the handlers share.
pub struct ApiState {
    /// The rooms service.
    pub hub: Hub,
    /// History.
    pub store: Arc<dyn Store>,
    /// The accounts and keys that may call.
    pub accounts: Accounts,
    /// Base of every absolute URL in responses (no trailing slash).
    pub public_url: String,
    /// The operator's policy on status-callback targets, applied when a room is created.
    pub callback_check: Option<CallbackCheck>,
    /// REST requests per account (none: unlimited).
    pub(crate) limiter: Option<limit::Limiter>,
    /// The media store (recording files), if the server has one.
    pub media: Option<media::MediaStore>,
    /// Wakes the composer when a composition is requested (none: it finds jobs on its own time).
    pub composer: Option<Arc<tokio::sync::Notify>>,
    /// Answers to participant reads, given again while their room stands still (`cache.rs`).
    pub(crate) reads: cache::RoomReads,
}

impl ApiState {
    /// The state handlers share; callers authenticate with the accounts and keys of `store`;
    /// `rate` limits each account's REST requests.
    #[must_use]
    pub fn new(
        hub: Hub,
        store: Arc<dyn Store>,
        public_url: String,
        callback_check: Option<CallbackCheck>,
        rate: Option<RateLimit>,
    ) -> Self {
        Self {
            hub,
            accounts: Accounts::new(Arc::clone(&store)),
            store,
            public_url,
            callback_check,
            limiter: rate.map(limit::Limiter::new),
            media: None,
            composer: None,
            reads: cache::RoomReads::default(),
        }
    }

    /// Wakes `composer` whenever a composition is requested.
    #[must_use]
    pub fn with_composer(mut self, composer: Arc<tokio::sync::Notify>) -> Self {
        self.composer = Some(composer);
        self
    }

    /// Serves recording media from `store`.
    #[must_use]
    pub fn with_media(mut self, store: media::MediaStore) -> Self {
        self.media = Some(store);
        self
    }
}

/// Checks a `StatusCallback` URL against the operator's outbound policy (`--webhook-block-private`):
/// `Err` says why it is refused. Given by the wiring, so this crate makes no outbound decisions.
pub type CallbackCheck = Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// One decoded path segment (`{RoomNameOrSid}`).
pub(crate) struct Segment(pub String);
/// Two decoded path segments.
pub(crate) struct Segment2(pub String, pub String);
/// Three decoded path segments.
pub(crate) struct Segment3(pub String, pub String, pub String);

fn bad_path(e: &PathRejection) -> ApiError {
    ApiError::BadBody(format!("Invalid path: {}", e.body_text()))
}

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(a) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| bad_path(&e))?;
        Ok(Self(a))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Segment2 {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((a, b)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| bad_path(&e))?;
        Ok(Self(a, b))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Segment3 {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((a, b, c)) = Path::<(String, String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| bad_path(&e))?;
        Ok(Self(a, b, c))
    }
}

/// Twilio's 404 for the path the caller asked for (reported without `/v1`).
pub(crate) fn not_found(uri: &Uri) -> ApiError {
    let path = uri.path();
    ApiError::NotFound {
        path: path.strip_prefix("/v1").unwrap_or(path).to_owned(),
    }
}

/// A `200 OK` answer whose body is `value` as JSON (`Content-Type: application/json`, as axum's
/// `Json` sends it), written into a buffer of `capacity` bytes to start with, so a page of records
/// is not copied through a dozen doublings. The resources borrow their records, so they are
/// serialized here, before the handler's records go away.
pub(crate) fn json(value: &impl serde::Serialize, capacity: usize) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => json_body(body),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

/// A 200 answer with `body`, JSON already written.
pub(crate) fn json_body(body: impl Into<axum::body::Body>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

/// The query parameters of a request.
pub(crate) fn query_of(uri: &Uri) -> form::Params {
    form::Params::parse(uri.query().unwrap_or("").as_bytes())
}

/// The public URL of a list, with the path as the caller wrote it.
pub(crate) fn list_base(st: &ApiState, uri: &Uri) -> String {
    format!("{}{}", st.public_url, uri.path())
}

/// A room of the caller's account, by SID (any status) or by unique name (in progress only).
pub(crate) async fn resolve_room(
    st: &ApiState,
    caller: Caller,
    segment: &str,
    uri: &Uri,
) -> Result<Room, ApiError> {
    let found = match segment.parse::<RoomSid>() {
        Ok(sid) => st.store.room(sid).await?,
        Err(_) => {
            st.store
                .live_room_by_name(caller.account_sid, segment)
                .await?
        }
    };
    found
        .filter(|r| r.account_sid == caller.account_sid)
        .ok_or_else(|| not_found(uri))
}

async fn unknown_path(OriginalUri(uri): OriginalUri) -> ApiError {
    not_found(&uri)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The methods Twilio's spec gives a path (`video_v1.openapi.json`).
#[derive(Clone, Copy)]
enum Spec {
    GetPost,
}

/// A route whose operations vroom does not build: authenticated callers get a deliberate 501 for
/// the methods Twilio's spec gives the path, and every other method the 405 (with `Allow`) of
/// any known path.
fn unbuilt(what: &'static str, spec: Spec) -> MethodRouter<Arc<ApiState>> {
    let handler = move |_: Caller| async move { ApiError::NotImplemented { what } };
    let m = MethodRouter::new().get(handler);
    let m = match spec {
        Spec::GetPost => m.post(handler),
    };
    route(m)
}

fn route(m: MethodRouter<Arc<ApiState>>) -> MethodRouter<Arc<ApiState>> {
    m.fallback(method_not_allowed)
}

/// Every path of Twilio's Video v1 API. Built operations go to handlers; the others answer a
/// deliberate "not implemented" (listed in docs/compatibility.md).
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/v1/Rooms", route(get(rooms::list).post(rooms::create)))
        .route(
            "/v1/Rooms/{room}",
            route(get(rooms::fetch).post(rooms::update)),
        )
        .route(
            "/v1/Rooms/{room}/Participants",
            route(get(participants::list)),
        )
        .route(
            "/v1/Rooms/{room}/Participants/{participant}",
            route(get(participants::fetch).post(participants::update)),
        )
        .route(
            "/v1/Rooms/{room}/Participants/{participant}/Anonymize",
            route(axum::routing::post(participants::anonymize)),
        )
        .route(
            "/v1/Rooms/{room}/Participants/{participant}/PublishedTracks",
            route(get(tracks::list_published)),
        )
        .route(
            "/v1/Rooms/{room}/Participants/{participant}/PublishedTracks/{track}",
            route(get(tracks::fetch_published)),
        )
        .route(
            "/v1/Rooms/{room}/Participants/{participant}/SubscribedTracks",
            route(get(tracks::list_subscribed)),
        )
        .route(
            "/v1/Rooms/{room}/Participants/{participant}/SubscribedTracks/{track}",
            route(get(tracks::fetch_subscribed)),
        )
        .route(
            "/v1/Rooms/{room}/Participants/{participant}/SubscribeRules",
            route(get(tracks::fetch_rules).post(tracks::update_rules)),
        )
        .route(
            "/v1/Rooms/{room}/RecordingRules",
            route(get(rooms::recording_rules).post(rooms::update_recording_rules)),
        )
        .route(
            "/v1/Rooms/{room}/Recordings",
            route(get(recordings::list_in_room)),
        )
        .route(
            "/v1/Rooms/{room}/Recordings/{sid}",
            route(get(recordings::fetch_in_room).delete(recordings::delete_in_room)),
        )
        .route(
            "/v1/Rooms/{room}/Recordings/{sid}/Media",
            route(get(recordings::media_in_room)),
        )
        .route(
            "/v1/Rooms/{room}/Transcriptions",
            unbuilt("Transcriptions", Spec::GetPost),
        )
        .route(
            "/v1/Rooms/{room}/Transcriptions/{sid}",
            unbuilt("Transcriptions", Spec::GetPost),
        )
        .route("/v1/Recordings", route(get(recordings::list)))
        .route(
            "/v1/Recordings/{sid}",
            route(get(recordings::fetch).delete(recordings::delete)),
        )
        .route("/v1/Recordings/{sid}/Media", route(get(recordings::media)))
        .route("/media/{file}", get(media::serve))
        .route(
            "/v1/RecordingSettings/Default",
            route(get(settings::recording).post(settings::set_recording)),
        )
        .route(
            "/v1/Compositions",
            route(get(compositions::list).post(compositions::create)),
        )
        .route(
            "/v1/Compositions/{sid}",
            route(get(compositions::fetch).delete(compositions::delete)),
        )
        .route(
            "/v1/Compositions/{sid}/Media",
            route(get(compositions::media)),
        )
        .route(
            "/v1/CompositionHooks",
            route(get(hooks::list).post(hooks::create)),
        )
        .route(
            "/v1/CompositionHooks/{sid}",
            route(get(hooks::fetch).post(hooks::update).delete(hooks::delete)),
        )
        .route(
            "/v1/CompositionSettings/Default",
            route(get(settings::composition).post(settings::set_composition)),
        )
        .fallback(unknown_path)
        .layer(axum::extract::DefaultBodyLimit::max(form::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(cors::layer))
        .with_state(state)
}
