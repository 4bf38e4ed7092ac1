//! HTTP Basic authentication with the account's auth token or the API key's secret.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use subtle::ConstantTimeEq;
use vroom_domain::sid::{AccountSid, ApiKeySid};

use crate::ApiState;
use crate::error::ApiError;

/// The credentials the REST API accepts.
#[derive(Clone)]
pub struct ApiCredentials {
    /// The account.
    pub account_sid: AccountSid,
    /// Its auth token.
    pub auth_token: String,
    /// The API key acting for the account.
    pub api_key_sid: ApiKeySid,
    /// The key's secret.
    pub api_key_secret: String,
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("account_sid", &self.account_sid)
            .field("api_key_sid", &self.api_key_sid)
            .finish_non_exhaustive()
    }
}

/// An authenticated caller: requests act on this account.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The account.
    pub account_sid: AccountSid,
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl ApiCredentials {
    /// The account a `user:password` pair authenticates, if any.
    #[must_use]
    pub fn check(&self, user: &str, password: &str) -> Option<AccountSid> {
        let account = same(user, &self.account_sid.to_string()) && same(password, &self.auth_token);
        let key = same(user, &self.api_key_sid.to_string()) && same(password, &self.api_key_secret);
        (account || key).then_some(self.account_sid)
    }

    /// The account an `Authorization: Basic …` header authenticates, if any (for the other
    /// endpoints behind the account's credentials: metrics, the console).
    #[must_use]
    pub fn check_basic(&self, headers: &HeaderMap) -> Option<AccountSid> {
        let header = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, encoded) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        self.check(user, password)
    }
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let account_sid = state
            .credentials
            .check_basic(&parts.headers)
            .ok_or(ApiError::Unauthorized)?;
        // Counted once authenticated, so nobody can spend another account's allowance.
        if let Some(limiter) = &state.limiter {
            limiter
                .take(account_sid, std::time::Instant::now())
                .map_err(|wait| ApiError::TooManyRequests {
                    retry_after_secs: wait.as_secs().saturating_add(1),
                })?;
        }
        Ok(Caller { account_sid })
    }
}
