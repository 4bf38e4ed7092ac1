//! The server's own (main) account and the API key it shows: taken from the operator, else from the
//! store, else generated at the first start and stored. The store may hold other accounts and
//! keys beside them.

use rand::Rng;
use vroom_domain::sid::{AccountSid, ApiKeySid, RandomIds};
use vroom_domain::time::Timestamp;
use vroom_store::{Account, ApiKey, Store, StoreError, StoredCredentials};

use crate::config::CredentialSeed;

/// The credentials in force, and whether any part was generated just now (so it must be shown).
pub struct Resolved {
    /// The main account and the key shown for it.
    pub credentials: StoredCredentials,
    /// True when this start generated some of them.
    pub generated: bool,
}

/// A new API key secret: 32 letters and digits.
#[must_use]
pub fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A new auth token: 32 hexadecimal digits, like Twilio's.
#[must_use]
pub fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The main account and its oldest active key, if both are stored (read only: for the commands
/// that show or use the credentials of a server).
///
/// # Errors
/// When the store fails.
pub async fn stored(store: &dyn Store) -> Result<Option<StoredCredentials>, StoreError> {
    let Some(account) = store.accounts().await?.into_iter().find(|a| a.main) else {
        return Ok(None);
    };
    let key = store
        .api_keys(account.sid)
        .await?
        .into_iter()
        .find(ApiKey::active);
    Ok(key.map(|k| StoredCredentials {
        account_sid: account.sid,
        auth_token: account.auth_token,
        api_key_sid: k.sid,
        api_key_secret: k.secret,
    }))
}

/// Resolves the main account and its key, storing what changed: an account given by the operator
/// becomes the main one (with the given token); a key given by the operator is stored, active, for
/// it. Without them, the stored main account and its oldest active key are used; whatever is
/// missing is generated (`now` dates it).
///
/// # Errors
/// When the store fails.
pub async fn resolve(
    store: &dyn Store,
    seed: &CredentialSeed,
    now: Timestamp,
) -> Result<Resolved, StoreError> {
    let accounts = store.accounts().await?;
    let mut generated = false;
    let stored_main = accounts.iter().find(|a| a.main).cloned();
    let account = match &seed.account {
        Some((sid, token)) => {
            let existing = accounts.iter().find(|a| a.sid == *sid);
            Account {
                sid: *sid,
                auth_token: token.clone(),
                friendly_name: existing
                    .map(|a| a.friendly_name.clone())
                    .unwrap_or_default(),
                date_created: existing.map_or(now, |a| a.date_created),
                main: true,
            }
        }
        None => match stored_main.clone() {
            Some(main) => main,
            None => {
                generated = true;
                Account {
                    sid: AccountSid::generate(&RandomIds),
                    auth_token: random_token(),
                    friendly_name: String::new(),
                    date_created: now,
                    main: true,
                }
            }
        },
    };
    if stored_main.as_ref() != Some(&account) {
        store.save_account(&account).await?;
    }
    let key = match &seed.api_key {
        Some((sid, secret)) => {
            let existing = store.api_key(*sid).await?;
            let key = ApiKey {
                sid: *sid,
                account_sid: account.sid,
                secret: secret.clone(),
                friendly_name: existing
                    .as_ref()
                    .map(|k| k.friendly_name.clone())
                    .unwrap_or_default(),
                date_created: existing.as_ref().map_or(now, |k| k.date_created),
                date_revoked: None,
            };
            if existing.as_ref() != Some(&key) {
                store.save_api_key(&key).await?;
            }
            key
        }
        None => {
            let active = store
                .api_keys(account.sid)
                .await?
                .into_iter()
                .find(ApiKey::active);
            match active {
                Some(k) => k,
                None => {
                    generated = true;
                    let key = ApiKey {
                        sid: ApiKeySid::generate(&RandomIds),
                        account_sid: account.sid,
                        secret: random_secret(),
                        friendly_name: String::new(),
                        date_created: now,
                        date_revoked: None,
                    };
                    store.save_api_key(&key).await?;
                    key
                }
            }
        }
    };
    Ok(Resolved {
        credentials: StoredCredentials {
            account_sid: account.sid,
            auth_token: account.auth_token,
            api_key_sid: key.sid,
            api_key_secret: key.secret,
        },
        generated,
    })
}
