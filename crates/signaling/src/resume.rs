//! Session keys: the opaque `session` string of `connected`, which a client presents in `sync` to
//! resume after its connection dropped. A key is the participant SID plus a MAC under a secret, so
//! no table of sessions is kept and a key cannot be forged for another participant. The secret is
//! the one every node sharing the database agrees on ([`ResumeSecret`], kept in the store), so a key
//! checks out on any node; without one it is drawn at start.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vroom_domain::sid::ParticipantSid;

type HmacSha256 = Hmac<Sha256>;

/// The secret session keys are signed with (32 bytes). Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ResumeSecret(pub [u8; 32]);

impl std::fmt::Debug for ResumeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeSecret(…)")
    }
}

impl ResumeSecret {
    /// A fresh random secret.
    #[must_use]
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The secret as 64 lowercase hex digits (how it is stored).
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A secret from its 64 hex digits.
    #[must_use]
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

pub(crate) struct ResumeKeys {
    secret: [u8; 32],
}

impl ResumeKeys {
    pub(crate) fn new(secret: &ResumeSecret) -> Self {
        Self { secret: secret.0 }
    }

    fn tag(&self, participant: ParticipantSid) -> String {
        // HMAC accepts keys of any length; 32 bytes cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(participant.to_string().as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18])
    }

    pub(crate) fn key_for(&self, participant: ParticipantSid) -> String {
        format!("{participant}.{}", self.tag(participant))
    }

    /// The participant a key was made for, if the key is genuine.
    pub(crate) fn check(&self, key: &str) -> Option<ParticipantSid> {
        let (sid, tag) = key.split_once('.')?;
        let sid: ParticipantSid = sid.parse().ok()?;
        let expected = self.tag(sid);
        // Both are base64 of 18 bytes; compare without early exit.
        let same = expected.len() == tag.len()
            && expected
                .bytes()
                .zip(tag.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then_some(sid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_through_hex_and_keys_check_out_on_every_node() {
        let secret = ResumeSecret::random();
        let back = ResumeSecret::from_hex(&secret.to_hex()).unwrap();
        assert_eq!(back, secret);
        assert!(ResumeSecret::from_hex("zz").is_none());
        assert!(ResumeSecret::from_hex(&"g".repeat(64)).is_none());
        let p = ParticipantSid::from_bytes([4; 16]);
        let key = ResumeKeys::new(&secret).key_for(p);
        assert_eq!(ResumeKeys::new(&back).check(&key), Some(p));
        assert_eq!(ResumeKeys::new(&ResumeSecret::random()).check(&key), None);
        assert!(!format!("{secret:?}").contains(&secret.to_hex()[..8]));
    }

    #[test]
    fn keys_check_out_only_for_their_participant() {
        let keys = ResumeKeys::new(&ResumeSecret::random());
        let p = ParticipantSid::from_bytes([3; 16]);
        let key = keys.key_for(p);
        assert_eq!(keys.check(&key), Some(p));
        let other = ParticipantSid::from_bytes([4; 16]);
        let forged = format!("{other}.{}", key.split_once('.').unwrap().1);
        assert_eq!(keys.check(&forged), None);
        assert_eq!(keys.check("garbage"), None);
        assert_eq!(
            ResumeKeys::new(&ResumeSecret::random()).check(&key),
            None,
            "keys do not survive a restart"
        );
    }
}
