//! `ApiError`: every way a REST request fails, rendered as Twilio's error body
//! `{code, message, more_info, status}` with a matching HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vroom_rooms::HubError;
use vroom_store::StoreError;

/// A failed REST request.
#[derive(Debug)]
pub enum ApiError {
    /// Missing or wrong credentials (401, 20003).
    Unauthorized,
    /// No such resource; `path` is the request path without `/v1`, as Twilio reports it (404, 20404).
    NotFound {
        /// The path.
        path: String,
    },
    /// A domain rule was broken (400, the rule's own code).
    Rule(vroom_domain::Error),
    /// A parameter is missing or malformed (400, 20001), naming the parameter.
    BadParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A `StatusCallback` the operator's outbound policy refuses (400, 53111), with the reason.
    CallbackRefused(String),
    /// The account made more requests than the operator allows (429, 20429), with when to retry.
    TooManyRequests {
        /// Whole seconds until a request is accepted again (`Retry-After`).
        retry_after_secs: u64,
    },
    /// A malformed paging token (400, 21481).
    BadPageToken,
    /// The request body is not a form (400, 20001).
    BadBody(String),
    /// The method is not allowed on this path (405, 20004).
    MethodNotAllowed,
    /// The request body is too large (413, 20001).
    TooLarge,
    /// A part of Twilio's API that vroom does not build (yet) (501, 20501): named, and documented in
    /// docs/compatibility.md.
    NotImplemented {
        /// What is missing.
        what: &'static str,
    },
    /// Something broke on our side (500, 20500); logged, never detailed to the caller.
    Internal(String),
    /// This node is stopping and takes no new room (503, 20503, `Retry-After: 1`): another node
    /// will.
    Stopping,
    /// Another vroom node runs the room this request is about (its lease names the node); 503, so
    /// the client tries again (through a load balancer, likely another node).
    ElsewhereRoom {
        /// The node running the room.
        node: String,
        /// Where it serves (empty: unknown), for the relaying layer in front of the API
        /// ([`OWNER_HEADER`]).
        address: String,
    },
}

#[derive(Serialize)]
struct Body<'a> {
    code: u32,
    message: &'a str,
    more_info: String,
    status: u16,
}

impl ApiError {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Rule(_)
            | Self::BadParameter { .. }
            | Self::CallbackRefused(_)
            | Self::BadPageToken
            | Self::BadBody(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ElsewhereRoom { .. } | Self::Stopping => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Twilio's error code.
    #[must_use]
    pub fn twilio_code(&self) -> u32 {
        match self {
            Self::Unauthorized => 20003,
            Self::NotFound { .. } => 20404,
            Self::Rule(e) => e.code(),
            Self::BadParameter { .. } | Self::BadBody(_) | Self::TooLarge => 20001,
            Self::CallbackRefused(_) => 53111,
            Self::BadPageToken => 21481,
            Self::MethodNotAllowed => 20004,
            Self::TooManyRequests { .. } => 20429,
            Self::NotImplemented { .. } => 20501,
            Self::Internal(_) => 20500,
            Self::ElsewhereRoom { .. } | Self::Stopping => 20503,
        }
    }

    /// The message shown to the caller.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Unauthorized => "Authenticate".to_owned(),
            Self::NotFound { path } => format!("The requested resource {path} was not found"),
            Self::Rule(e) => e.to_string(),
            Self::BadParameter { name, problem } => format!("Invalid parameter {name}: {problem}"),
            Self::CallbackRefused(why) => format!("StatusCallback is refused: {why}"),
            Self::BadPageToken => "Invalid PageToken".to_owned(),
            Self::BadBody(why) => why.clone(),
            Self::MethodNotAllowed => "Method not allowed".to_owned(),
            Self::TooManyRequests { retry_after_secs } => format!(
                "Too Many Requests: this account's request rate is limited; retry after {retry_after_secs} s"
            ),
            Self::TooLarge => "Request body is too large".to_owned(),
            Self::NotImplemented { what } => {
                format!("{what} is not implemented by vroom; see docs/compatibility.md")
            }
            Self::Internal(_) => "Internal server error".to_owned(),
            Self::ElsewhereRoom { node, .. } => {
                format!("The room is served by another node ({node}); try again there")
            }
            Self::Stopping => {
                "Service Unavailable: this node is stopping; try again (another node serves)"
                    .to_owned()
            }
        }
    }

    /// A bad parameter.
    pub fn param(name: &'static str, problem: impl Into<String>) -> Self {
        Self::BadParameter {
            name,
            problem: problem.into(),
        }
    }
}

/// The header of an `ElsewhereRoom` answer that names the address of the node running the room.
/// The wiring's relaying layer consumes it (and sends the request there); it never reaches a client.
pub const OWNER_HEADER: &str = "x-vroom-room-node";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(detail, "internal error answering a REST request");
        }
        let status = self.status();
        let code = self.twilio_code();
        let message = self.message();
        let body = Body {
            code,
            message: &message,
            more_info: format!("https://www.twilio.com/docs/errors/{code}"),
            status: status.as_u16(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::ElsewhereRoom { address, .. } = &self
            && let Ok(value) = HeaderValue::from_str(address)
            && !address.is_empty()
        {
            response.headers_mut().insert(OWNER_HEADER, value);
        }
        if let Self::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if matches!(self, Self::Stopping) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        response
    }
}

impl From<vroom_domain::Error> for ApiError {
    fn from(e: vroom_domain::Error) -> Self {
        Self::Rule(e)
    }
}

impl From<vroom_domain::composition::SpecError> for ApiError {
    fn from(e: vroom_domain::composition::SpecError) -> Self {
        Self::BadParameter {
            name: e.param,
            problem: e.problem,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownCursor => Self::BadPageToken,
            StoreError::UniqueNameTaken => Self::Rule(vroom_domain::Error::RoomExists),
            StoreError::HookNameTaken => Self::param(
                "FriendlyName",
                "another composition hook of the account has this name",
            ),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Domain(d) => Self::Rule(d),
            HubError::Store(s) => s.into(),
            HubError::RoomGone => Self::Rule(vroom_domain::Error::RoomCompleted),
            HubError::Stopping => Self::Stopping,
            HubError::Elsewhere { node, address } => Self::ElsewhereRoom { node, address },
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
