//! The server's account and API key: taken from the operator, else from the store, else generated
//! at the first start and stored.

use rand::Rng;
use vroom_domain::sid::{AccountSid, ApiKeySid, RandomIds};
use vroom_store::{Store, StoreError, StoredCredentials};

use crate::config::CredentialSeed;

/// The credentials in force, and whether any part was generated just now (so it must be shown).
pub struct Resolved {
    /// The credentials.
    pub credentials: StoredCredentials,
    /// True when this start generated some of them.
    pub generated: bool,
}

fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Resolves the credentials and stores them if they changed.
///
/// # Errors
/// When the store fails.
pub async fn resolve(store: &dyn Store, seed: &CredentialSeed) -> Result<Resolved, StoreError> {
    let stored = store.credentials().await?;
    let mut generated = false;
    let (account_sid, auth_token) = match (&seed.account, &stored) {
        (Some((sid, token)), _) => (*sid, token.clone()),
        (None, Some(s)) => (s.account_sid, s.auth_token.clone()),
        (None, None) => {
            generated = true;
            (AccountSid::generate(&RandomIds), random_token())
        }
    };
    let (api_key_sid, api_key_secret) = match (&seed.api_key, &stored) {
        (Some((sid, secret)), _) => (*sid, secret.clone()),
        (None, Some(s)) => (s.api_key_sid, s.api_key_secret.clone()),
        (None, None) => {
            generated = true;
            (ApiKeySid::generate(&RandomIds), random_secret())
        }
    };
    let credentials = StoredCredentials {
        account_sid,
        auth_token,
        api_key_sid,
        api_key_secret,
    };
    if stored.as_ref() != Some(&credentials) {
        store.save_credentials(&credentials).await?;
    }
    Ok(Resolved {
        credentials,
        generated,
    })
}
