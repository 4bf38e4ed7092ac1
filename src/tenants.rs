//! Accounts and API keys as the operator manages them (`vroom accounts …`, `vroom keys …`): written
//! straight to the store, which a running server reads on every request, so a new key works and a
//! revoked one is refused at once, without a restart.

use vroom_domain::sid::{AccountSid, ApiKeySid, RandomIds};
use vroom_domain::time::Timestamp;
use vroom_store::{Account, ApiKey, Store, StoreError};

use crate::credentials::{random_secret, random_token};

/// What an operator command can refuse.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// No account has this SID.
    #[error("no account {0}")]
    UnknownAccount(AccountSid),
    /// No key has this SID.
    #[error("no API key {0}")]
    UnknownKey(ApiKeySid),
    /// The database has no main account yet (the server never started on it).
    #[error("this database has no main account yet: start `vroom serve` on it once")]
    NoMainAccount,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new account (not the main one) with its first API key.
///
/// # Errors
/// When the store fails.
pub async fn create_account(
    store: &dyn Store,
    friendly_name: &str,
    now: Timestamp,
) -> Result<(Account, ApiKey), TenantError> {
    let account = Account {
        sid: AccountSid::generate(&RandomIds),
        auth_token: random_token(),
        friendly_name: friendly_name.to_owned(),
        date_created: now,
        main: false,
    };
    store.save_account(&account).await?;
    let key = create_key(store, Some(account.sid), friendly_name, now).await?;
    Ok((account, key))
}

/// The account `sid` names, else the main account.
///
/// # Errors
/// `UnknownAccount` / `NoMainAccount`, or when the store fails.
pub async fn account(store: &dyn Store, sid: Option<AccountSid>) -> Result<Account, TenantError> {
    match sid {
        Some(sid) => store
            .account(sid)
            .await?
            .ok_or(TenantError::UnknownAccount(sid)),
        None => store
            .accounts()
            .await?
            .into_iter()
            .find(|a| a.main)
            .ok_or(TenantError::NoMainAccount),
    }
}

/// A new API key of an account (the main one when `account` is `None`).
///
/// # Errors
/// `UnknownAccount` / `NoMainAccount`, or when the store fails.
pub async fn create_key(
    store: &dyn Store,
    account_sid: Option<AccountSid>,
    friendly_name: &str,
    now: Timestamp,
) -> Result<ApiKey, TenantError> {
    let account = account(store, account_sid).await?;
    let key = ApiKey {
        sid: ApiKeySid::generate(&RandomIds),
        account_sid: account.sid,
        secret: random_secret(),
        friendly_name: friendly_name.to_owned(),
        date_created: now,
        date_revoked: None,
    };
    store.save_api_key(&key).await?;
    Ok(key)
}

/// Revokes a key: its Basic auth and the tokens it signed are refused from now on. Revoking a
/// revoked key changes nothing (it keeps its first revocation date).
///
/// # Errors
/// `UnknownKey`, or when the store fails.
pub async fn revoke_key(
    store: &dyn Store,
    sid: ApiKeySid,
    now: Timestamp,
) -> Result<ApiKey, TenantError> {
    let mut key = store
        .api_key(sid)
        .await?
        .ok_or(TenantError::UnknownKey(sid))?;
    if key.date_revoked.is_none() {
        key.date_revoked = Some(now);
        store.save_api_key(&key).await?;
    }
    Ok(key)
}
