//! HTTP Basic authentication with an account's SID and auth token, or one of its API keys' SID and
//! secret. Every request asks the store for its credentials version (one integer that a trigger
//! raises on any change to accounts or keys, whoever makes it) and trusts the credentials it
//! verified only while that number stands still, so an account or key made, rotated, revoked or
//! deleted with `vroom accounts` / `vroom keys` (or by hand) counts at once, on a running server
//! too, while a steady caller costs one small read instead of two records read and compared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    verified: Arc<Mutex<Verified>>,
}

/// `Authorization` headers verified while the store's credentials version was `version`, by their
/// exact bytes, with the caller each authenticates. Only successes are kept, at most [`VERIFIED`]
/// of them, so failed guesses cannot grow it. A lookup hashes the whole header with the map's
/// random SipHash key and compares bytes only on a hash match, so its timing tells a guesser
/// nothing about a stored secret's prefix.
struct Verified {
    version: i64,
    callers: HashMap<Box<[u8]>, Caller>,
}

/// Verified headers kept (emptied when full: a steady server has a few keys in use).
const VERIFIED: usize = 1024;

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
        Self {
            store,
            verified: Arc::new(Mutex::new(Verified {
                version: i64::MIN,
                callers: HashMap::new(),
            })),
        }
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let Some(header) = headers.get(AUTHORIZATION) else {
            return Ok(None);
        };
        // Read before verifying: a change after this read moves the version, so whatever is
        // verified now is kept under a version the next request will no longer see.
        let version = self.store.credentials_version().await?;
        {
            let mut v = self.verified();
            if v.version != version {
                v.callers.clear();
                v.version = version;
            }
            if let Some(caller) = v.callers.get(header.as_bytes()) {
                return Ok(Some(*caller));
            }
        }
        let found = match basic(headers) {
            Some((user, password)) => self.check(&user, &password).await?,
            None => None,
        };
        if let Some(caller) = found {
            let mut v = self.verified();
            if v.version == version {
                if v.callers.len() >= VERIFIED {
                    v.callers.clear();
                }
                v.callers.insert(header.as_bytes().into(), caller);
            }
        }
        Ok(found)
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
