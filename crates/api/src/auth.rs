//! HTTP Basic authentication with an account's SID and auth token, or one of its API keys' SID and
//! secret. Credentials are looked up in the store on every request, so an account or key made, or
//! a key revoked, with `vroom accounts` / `vroom keys` counts at once, on a running server too.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use subtle::ConstantTimeEq;
use vroom_domain::sid::{AccountSid, ApiKeySid};
use vroom_store::{ApiKey, Store, StoreError};

use crate::ApiState;
use crate::error::ApiError;

/// Who may call: every stored account's auth token and active API keys.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

/// An authenticated caller: requests act on this account.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The account.
    pub account_sid: AccountSid,
    /// The API key it authenticated with (`None`: the account's auth token).
    pub api_key_sid: Option<ApiKeySid>,
    /// Whether the account is the server's main one.
    pub main: bool,
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The `user:password` of an `Authorization: Basic …` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
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
    Some((user.to_owned(), password.to_owned()))
}

impl Accounts {
    /// The accounts and keys of `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The caller a `user:password` pair authenticates, if any: an account SID with its auth
    /// token, or an active API key's SID with its secret.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn check(&self, user: &str, password: &str) -> Result<Option<Caller>, StoreError> {
        if let Ok(sid) = user.parse::<AccountSid>() {
            let found = self.store.account(sid).await?;
            return Ok(found
                .filter(|a| same(password, &a.auth_token))
                .map(|a| Caller {
                    account_sid: a.sid,
                    api_key_sid: None,
                    main: a.main,
                }));
        }
        let Ok(sid) = user.parse::<ApiKeySid>() else {
            return Ok(None);
        };
        let Some(key) = self.store.api_key(sid).await? else {
            return Ok(None);
        };
        if !key.active() || !same(password, &key.secret) {
            return Ok(None);
        }
        let main = self
            .store
            .account(key.account_sid)
            .await?
            .is_some_and(|a| a.main);
        Ok(Some(Caller {
            account_sid: key.account_sid,
            api_key_sid: Some(key.sid),
            main,
        }))
    }

    /// The caller an `Authorization: Basic …` header authenticates, if any (for the other
    /// endpoints behind credentials: metrics, the console).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn check_basic(&self, headers: &HeaderMap) -> Result<Option<Caller>, StoreError> {
        match basic(headers) {
            Some((user, password)) => self.check(&user, &password).await,
            None => Ok(None),
        }
    }

    /// The key that signs access tokens for `caller`: the one it authenticated with, else its
    /// account's oldest active key; `None` when the account has no active key.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn signing_key(&self, caller: &Caller) -> Result<Option<ApiKey>, StoreError> {
        if let Some(sid) = caller.api_key_sid {
            return Ok(self.store.api_key(sid).await?.filter(ApiKey::active));
        }
        Ok(self
            .store
            .api_keys(caller.account_sid)
            .await?
            .into_iter()
            .find(ApiKey::active))
    }
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let caller = state
            .accounts
            .check_basic(&parts.headers)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // Counted once authenticated, so nobody can spend another account's allowance.
        if let Some(limiter) = &state.limiter {
            limiter
                .take(caller.account_sid, std::time::Instant::now())
                .map_err(|wait| ApiError::TooManyRequests {
                    retry_after_secs: wait.as_secs().saturating_add(1),
                })?;
        }
        Ok(caller)
    }
}
