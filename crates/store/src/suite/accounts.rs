//! Accounts, API keys and shared secrets.
#![allow(clippy::too_many_lines)]

use vroom_domain::sid::{AccountSid, ApiKeySid};
use vroom_domain::time::{Span, Timestamp};

use crate::{Account, ApiKey, Store, StoreError};

use super::T0;

pub(super) async fn accounts_and_keys(store: &dyn Store) {
    assert!(store.accounts().await.unwrap().is_empty());
    let acct = |n: u8, at: Timestamp, main: bool| Account {
        sid: AccountSid::from_bytes([n; 16]),
        auth_token: format!("token-{n}"),
        friendly_name: format!("account {n}"),
        date_created: at,
        main,
    };
    let mut a = acct(0xa1, T0, true);
    let b = acct(0xb1, T0 + Span::from_secs(1), false);
    store.save_account(&b).await.unwrap();
    store.save_account(&a).await.unwrap();
    assert_eq!(store.accounts().await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(store.account(b.sid).await.unwrap(), Some(b.clone()));
    assert_eq!(
        store
            .account(AccountSid::from_bytes([0xc1; 16]))
            .await
            .unwrap(),
        None
    );
    // A new token and name replace the old ones; the creation time stays.
    a.auth_token = "rotated".into();
    a.friendly_name = "renamed".into();
    store
        .save_account(&Account {
            date_created: T0 + Span::from_secs(99),
            ..a.clone()
        })
        .await
        .unwrap();
    assert_eq!(store.account(a.sid).await.unwrap(), Some(a.clone()));
    // At most one main account: making B main unmarks A.
    let b_main = Account {
        main: true,
        ..b.clone()
    };
    store.save_account(&b_main).await.unwrap();
    let all = store.accounts().await.unwrap();
    assert_eq!(
        all.iter().map(|x| (x.sid, x.main)).collect::<Vec<_>>(),
        vec![(a.sid, false), (b.sid, true)]
    );

    let key = |n: u8, account: AccountSid, at: Timestamp| ApiKey {
        sid: ApiKeySid::from_bytes([n; 16]),
        account_sid: account,
        secret: format!("secret-{n}"),
        friendly_name: format!("key {n}"),
        date_created: at,
        date_revoked: None,
    };
    let k2 = key(0x52, a.sid, T0 + Span::from_secs(2));
    let k1 = key(0x51, a.sid, T0 + Span::from_secs(1));
    let kb = key(0x5b, b.sid, T0);
    for k in [&k2, &k1, &kb] {
        store.save_api_key(k).await.unwrap();
    }
    assert_eq!(
        store.api_keys(a.sid).await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert_eq!(store.api_keys(b.sid).await.unwrap(), vec![kb.clone()]);
    assert_eq!(store.api_key(kb.sid).await.unwrap(), Some(kb.clone()));
    assert_eq!(
        store
            .api_key(ApiKeySid::from_bytes([0x50; 16]))
            .await
            .unwrap(),
        None
    );
    // Revoking keeps the key (listed, fetched), marked.
    let revoked = ApiKey {
        date_revoked: Some(T0 + Span::from_secs(5)),
        ..k1.clone()
    };
    store.save_api_key(&revoked).await.unwrap();
    let fetched = store.api_key(k1.sid).await.unwrap().unwrap();
    assert_eq!(fetched, revoked);
    assert!(!fetched.active());
    assert_eq!(
        store.api_keys(a.sid).await.unwrap(),
        vec![revoked, k2.clone()]
    );
    // A key of an account that is not stored is refused, and nothing is written.
    let orphan = key(0x5f, AccountSid::from_bytes([0xf0; 16]), T0);
    assert!(matches!(
        store.save_api_key(&orphan).await,
        Err(StoreError::UnknownAccount)
    ));
    assert_eq!(store.api_key(orphan.sid).await.unwrap(), None);
}

pub(super) async fn shared_secrets(store: &dyn Store) {
    assert_eq!(
        store.shared_secret("resume", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.shared_secret("resume", "second").await.unwrap(),
        "first",
        "the first value stored is everyone's"
    );
    assert_eq!(store.shared_secret("other", "x").await.unwrap(), "x");
}

/// The credentials version moves with every stored account or key change, a revocation
/// included, and stands still while nothing changes (what REST's credential cache relies on).
pub(super) async fn credential_changes(store: &dyn Store) {
    let v0 = store.credentials_version().await.unwrap();
    assert_eq!(store.credentials_version().await.unwrap(), v0, "no change");
    let a = Account {
        sid: AccountSid::from_bytes([0xd1; 16]),
        auth_token: "token-d1".into(),
        friendly_name: String::new(),
        date_created: T0,
        main: false,
    };
    store.save_account(&a).await.unwrap();
    let v1 = store.credentials_version().await.unwrap();
    assert_ne!(v1, v0, "a new account");
    let mut k = ApiKey {
        sid: ApiKeySid::from_bytes([0xd2; 16]),
        account_sid: a.sid,
        secret: "secret-d2".into(),
        friendly_name: String::new(),
        date_created: T0,
        date_revoked: None,
    };
    store.save_api_key(&k).await.unwrap();
    let v2 = store.credentials_version().await.unwrap();
    assert_ne!(v2, v1, "a new key");
    assert_eq!(store.api_key(k.sid).await.unwrap(), Some(k.clone()));
    assert_eq!(
        store.credentials_version().await.unwrap(),
        v2,
        "reads change nothing"
    );
    k.date_revoked = Some(T0 + Span::from_secs(1));
    store.save_api_key(&k).await.unwrap();
    let v3 = store.credentials_version().await.unwrap();
    assert_ne!(v3, v2, "a revocation");
    k.secret = "rotated".into();
    store.save_api_key(&k).await.unwrap();
    assert_ne!(
        store.credentials_version().await.unwrap(),
        v3,
        "a new secret"
    );
}
