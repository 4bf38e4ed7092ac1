//! TURN REST API credentials: the username is `<expiry, Unix seconds>:<who>` and the password the
//! base64 HMAC-SHA1 of the username under a secret only this process knows, so any number of them
//! can be handed out with nothing stored. The server checks the expiry against the injected clock
//! (the one the rest of vroom runs on), and refuses a credential revoked before its expiry (one
//! handed to a client whose room turned out to withhold TURN).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tokio::sync::mpsc;
use turn::auth::{AuthHandler, generate_auth_key};
use vroom_rooms::clock::Clock;

/// The realm of every credential (RFC 8489 long-term credentials).
pub(crate) const REALM: &str = "vroom";

pub(crate) fn password(secret: &[u8], username: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn expiry_of(username: &str) -> Option<u64> {
    username
        .split_once(':')
        .and_then(|(e, _)| e.parse::<u64>().ok())
}

/// What the issuer and the server's credential check share.
pub(crate) struct Shared {
    pub(crate) secret: Arc<[u8]>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Revoked usernames, with their expiry (after which they are refused anyway and forgotten).
    revoked: Mutex<HashMap<String, u64>>,
    /// Usernames whose allocations the server task deletes.
    drop_allocations: Option<mpsc::UnboundedSender<String>>,
    /// Credentials refused: expired, revoked, not a vroom username.
    pub(crate) refused: [AtomicU64; 3],
}

impl Shared {
    pub(crate) fn new(
        secret: &[u8],
        clock: Arc<dyn Clock>,
        drop_allocations: Option<mpsc::UnboundedSender<String>>,
    ) -> Self {
        Self {
            secret: secret.into(),
            clock,
            revoked: Mutex::default(),
            drop_allocations,
            refused: Default::default(),
        }
    }

    fn now_unix(&self) -> u64 {
        u64::try_from(self.clock.now().millis() / 1000).unwrap_or(0)
    }
}

/// Why the server refused a credential (the label of `vroom_turn_credentials_refused_total`).
pub const REFUSED_REASONS: [&str; 3] = ["expired", "revoked", "malformed"];

/// Mints the credentials the TURN server accepts. Cheap to clone.
#[derive(Clone)]
pub struct TurnIssuer {
    shared: Arc<Shared>,
    urls: Vec<String>,
    ttl: Duration,
}

impl std::fmt::Debug for TurnIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnIssuer")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TurnIssuer {
    pub(crate) fn from_shared(shared: Arc<Shared>, urls: Vec<String>, ttl: Duration) -> Self {
        Self { shared, urls, ttl }
    }

    /// An issuer for a server that knows `secret` and is reached at `urls`, on `clock`.
    #[must_use]
    pub fn new(secret: &[u8], urls: Vec<String>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::from_shared(Arc::new(Shared::new(secret, clock, None)), urls, ttl)
    }

    /// The TURN URLs clients are given (`turn:…?transport=udp`, `…?transport=tcp`, `turns:…`).
    #[must_use]
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// A credential for `who`, valid until `now_unix + ttl`: (username, password).
    #[must_use]
    pub fn credential(&self, who: &str, now_unix: u64) -> (String, String) {
        let expiry = now_unix.saturating_add(self.ttl.as_secs());
        let username = format!("{expiry}:{who}");
        let password = password(&self.shared.secret, &username);
        (username, password)
    }

    /// RTCIceServer objects carrying a credential, as `iced` sends them (`urls`, `username`,
    /// `credential`).
    #[must_use]
    pub fn ice_servers(&self, username: &str, password: &str) -> serde_json::Value {
        serde_json::json!([{
            "urls": self.urls,
            "username": username,
            "credential": password,
        }])
    }

    /// Withdraws a credential before its expiry: the server refuses it from now on and closes the
    /// relays allocated with it.
    pub fn revoke(&self, username: &str) {
        let Some(expiry) = expiry_of(username) else {
            return;
        };
        let now = self.shared.now_unix();
        {
            // A poisoned lock only means another revoke panicked mid-insert; the map is still a map.
            let mut revoked = self
                .shared
                .revoked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            revoked.retain(|_, e| *e >= now);
            revoked.insert(username.to_owned(), expiry);
        }
        if let Some(tx) = &self.shared.drop_allocations {
            let _ = tx.send(username.to_owned());
        }
    }
}

/// Checks TURN REST API credentials: unexpired, not revoked, and the key the password derives from.
pub(crate) struct RestAuth(pub(crate) Arc<Shared>);

impl RestAuth {
    fn refuse(&self, reason: usize) -> turn::Error {
        self.0.refused[reason].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            reason = REFUSED_REASONS[reason],
            "TURN: a credential refused"
        );
        turn::Error::Other(format!("{} credential", REFUSED_REASONS[reason]))
    }
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let Some(expiry) = expiry_of(username) else {
            return Err(self.refuse(2));
        };
        if expiry < self.0.now_unix() {
            return Err(self.refuse(0));
        }
        let revoked = self
            .0
            .revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(username);
        if revoked {
            return Err(self.refuse(1));
        }
        Ok(generate_auth_key(
            username,
            realm,
            &password(&self.0.secret, username),
        ))
    }
}

#[cfg(test)]
mod tests {
    use vroom_domain::time::{Span, Timestamp};
    use vroom_rooms::clock::ManualClock;

    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_api_scheme_expire_and_can_be_revoked() {
        let clock = ManualClock::new(Timestamp::from_secs(1000));
        let issuer = TurnIssuer::new(
            b"secret",
            vec!["turn:x".into()],
            Duration::from_secs(60),
            Arc::new(clock.clone()),
        );
        let (user, pass) = issuer.credential("alice", 1000);
        assert_eq!(user, "1060:alice");
        assert_eq!(pass, password(b"secret", "1060:alice"));
        let auth = RestAuth(Arc::clone(&issuer.shared));
        let from = SocketAddr::from(([127, 0, 0, 1], 1));
        assert_eq!(
            auth.auth_handle(&user, REALM, from).unwrap(),
            generate_auth_key(&user, REALM, &pass)
        );
        // Valid through its expiry second, refused after.
        clock.advance(Span::from_secs(60));
        assert!(auth.auth_handle(&user, REALM, from).is_ok());
        clock.advance(Span::from_secs(1));
        assert!(auth.auth_handle(&user, REALM, from).is_err());
        assert!(auth.auth_handle("alice", REALM, from).is_err());

        let (bob, _) = issuer.credential("bob", 1061);
        assert!(auth.auth_handle(&bob, REALM, from).is_ok());
        issuer.revoke(&bob);
        assert!(auth.auth_handle(&bob, REALM, from).is_err());
        let refused: Vec<u64> = issuer
            .shared
            .refused
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        assert_eq!(refused, [1, 1, 1], "expired, revoked, malformed");
    }
}
