//! Session keys: the opaque `session` string of `connected`, which a client presents in `sync` to
//! resume after its connection dropped. A key is the participant SID plus a MAC under a secret drawn
//! at start, so no table of sessions is kept and a key cannot be forged for another participant.
//! Keys do not survive a restart, and neither do connected participants.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vroom_domain::sid::ParticipantSid;

type HmacSha256 = Hmac<Sha256>;

pub(crate) struct ResumeKeys {
    secret: [u8; 32],
}

impl ResumeKeys {
    pub(crate) fn random() -> Self {
        Self {
            secret: rand::random(),
        }
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
    fn keys_check_out_only_for_their_participant() {
        let keys = ResumeKeys::random();
        let p = ParticipantSid::from_bytes([3; 16]);
        let key = keys.key_for(p);
        assert_eq!(keys.check(&key), Some(p));
        let other = ParticipantSid::from_bytes([4; 16]);
        let forged = format!("{other}.{}", key.split_once('.').unwrap().1);
        assert_eq!(keys.check(&forged), None);
        assert_eq!(keys.check("garbage"), None);
        assert_eq!(
            ResumeKeys::random().check(&key),
            None,
            "keys do not survive a restart"
        );
    }
}
