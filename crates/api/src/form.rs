//! Form bodies (`application/x-www-form-urlencoded`) and typed parameter readers.
//!
//! Twilio's SDKs send PascalCase names, `true`/`false` booleans, repeated keys for lists and JSON text
//! for objects; both `+` and `%20` mean a space. Unknown parameters are ignored, as Twilio does.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;

use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Decoded form (or query) parameters, in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `a=1&b=2`.
    #[must_use]
    pub fn parse(text: &[u8]) -> Self {
        Self(form_urlencoded::parse(text).into_owned().collect())
    }

    /// The last value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A string parameter.
    #[must_use]
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// A boolean parameter (`true`/`false`, any case).
    ///
    /// # Errors
    /// `BadParameter` for anything else.
    pub fn boolean(&self, name: &'static str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::param(
                name,
                format!("'{}' is not true or false", shorten(v)),
            )),
        }
    }

    /// An integer parameter; a malformed value is reported with `bad` (the parameter's own Twilio
    /// error when it has one).
    ///
    /// # Errors
    /// `bad(problem)` when the value is not an integer.
    pub fn integer(
        &self,
        name: &'static str,
        bad: impl Fn(String) -> ApiError,
    ) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| bad(format!("{name} must be an integer, got '{}'", shorten(v)))),
        }
    }
}

/// Cuts long caller input before echoing it in an error message.
#[must_use]
pub fn shorten(v: &str) -> String {
    if v.chars().count() > 64 {
        format!("{}…", v.chars().take(64).collect::<String>())
    } else {
        v.to_owned()
    }
}

/// The parsed body of a POST.
#[derive(Debug, Clone, Default)]
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.is_empty()
            && !content_type.starts_with("application/x-www-form-urlencoded")
        {
            return Err(ApiError::BadBody(format!(
                "Request body must be application/x-www-form-urlencoded, not {}",
                shorten(&content_type)
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::BadBody(e.body_text())
            }
        })?;
        Ok(Form(Params::parse(&bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_twilio() {
        let p = Params::parse(
            b"UniqueName=my+room&Other=a%20b&VideoCodecs=VP8&VideoCodecs=H264&AudioOnly=TRUE",
        );
        assert_eq!(p.get("UniqueName"), Some("my room"));
        assert_eq!(p.get("Other"), Some("a b"));
        assert_eq!(p.all("VideoCodecs").collect::<Vec<_>>(), ["VP8", "H264"]);
        assert_eq!(p.boolean("AudioOnly").unwrap(), Some(true));
        let bad = Params::parse(b"AudioOnly=maybe")
            .boolean("AudioOnly")
            .unwrap_err();
        assert!(bad.message().contains("AudioOnly"));
        let n = Params::parse(b"MaxParticipants=ten")
            .integer("MaxParticipants", |p| ApiError::param("MaxParticipants", p));
        assert!(n.unwrap_err().message().contains("MaxParticipants"));
    }
}
