//! Typed SIDs: a two-letter prefix and 32 lowercase hex digits.
//!
//! `Sid<K>` is one generic type; the kind marker fixes the prefix, so a `RoomSid` can never be passed
//! where a `ParticipantSid` is expected, and parsing checks the prefix and the length once, at the edge.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

/// The kind of object a SID names; fixes its two-letter prefix.
pub trait SidKind: Send + Sync + 'static {
    /// The two ASCII letters every SID of this kind starts with.
    const PREFIX: &'static str;
    /// What the object is called in messages ("Room", "Participant").
    const NOUN: &'static str;
}

/// Marker for account SIDs (`AC…`).
pub enum AccountKind {}
/// Marker for API key SIDs (`SK…`).
pub enum ApiKeyKind {}
/// Marker for room SIDs (`RM…`).
pub enum RoomKind {}
/// Marker for participant SIDs (`PA…`).
pub enum ParticipantKind {}
/// Marker for track SIDs (`MT…`).
pub enum TrackKind {}
/// Marker for recording SIDs (`RT…`).
pub enum RecordingKind {}
/// Marker for composition SIDs (`CJ…`).
pub enum CompositionKind {}
/// Marker for composition hook SIDs (`HK…`).
pub enum CompositionHookKind {}

impl SidKind for AccountKind {
    const PREFIX: &'static str = "AC";
    const NOUN: &'static str = "Account";
}
impl SidKind for ApiKeyKind {
    const PREFIX: &'static str = "SK";
    const NOUN: &'static str = "Key";
}
impl SidKind for RoomKind {
    const PREFIX: &'static str = "RM";
    const NOUN: &'static str = "Room";
}
impl SidKind for ParticipantKind {
    const PREFIX: &'static str = "PA";
    const NOUN: &'static str = "Participant";
}
impl SidKind for TrackKind {
    const PREFIX: &'static str = "MT";
    const NOUN: &'static str = "Track";
}
impl SidKind for RecordingKind {
    const PREFIX: &'static str = "RT";
    const NOUN: &'static str = "Recording";
}
impl SidKind for CompositionKind {
    const PREFIX: &'static str = "CJ";
    const NOUN: &'static str = "Composition";
}
impl SidKind for CompositionHookKind {
    const PREFIX: &'static str = "HK";
    const NOUN: &'static str = "CompositionHook";
}

/// A SID of kind `K`: 16 random bytes shown as 32 lowercase hex digits after the prefix.
pub struct Sid<K: SidKind> {
    bytes: [u8; 16],
    kind: PhantomData<fn() -> K>,
}

/// `AC…`
pub type AccountSid = Sid<AccountKind>;
/// `SK…`
pub type ApiKeySid = Sid<ApiKeyKind>;
/// `RM…`
pub type RoomSid = Sid<RoomKind>;
/// `PA…`
pub type ParticipantSid = Sid<ParticipantKind>;
/// `MT…`
pub type TrackSid = Sid<TrackKind>;
/// `RT…`
pub type RecordingSid = Sid<RecordingKind>;
/// `CJ…`
pub type CompositionSid = Sid<CompositionKind>;
/// `HK…`
pub type CompositionHookSid = Sid<CompositionHookKind>;

/// Why a string is not a SID of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a valid {noun} SID (expected {prefix} followed by 32 hex digits)")]
pub struct SidParseError {
    /// The rejected text, shortened if it is long.
    pub input: String,
    /// The expected prefix.
    pub prefix: &'static str,
    /// The kind's name.
    pub noun: &'static str,
}

impl<K: SidKind> Sid<K> {
    /// Builds a SID from its 16 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self {
            bytes,
            kind: PhantomData,
        }
    }

    /// A fresh SID from the given source of randomness.
    pub fn generate(ids: &dyn IdSource) -> Self {
        Self::from_bytes(ids.fresh())
    }

    /// The 16 bytes behind the hex digits.
    #[must_use]
    pub const fn bytes(&self) -> [u8; 16] {
        self.bytes
    }

    /// True when `s` has the shape of a SID of this kind (cheap check used to tell SIDs from names).
    #[must_use]
    pub fn looks_like(s: &str) -> bool {
        s.parse::<Self>().is_ok()
    }
}

impl<K: SidKind> FromStr for Sid<K> {
    type Err = SidParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SidParseError {
            input: s.chars().take(64).collect(),
            prefix: K::PREFIX,
            noun: K::NOUN,
        };
        let hex = s.strip_prefix(K::PREFIX).ok_or_else(err)?;
        if hex.len() != 32 {
            return Err(err());
        }
        let mut bytes = [0u8; 16];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(err)?;
            let lo = hex_value(pair[1]).ok_or_else(err)?;
            bytes[i] = (hi << 4) | lo;
        }
        Ok(Self::from_bytes(bytes))
    }
}

/// Twilio SIDs are lowercase, but SDKs and people sometimes upper-case them; both parse to the same SID.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl<K: SidKind> fmt::Display for Sid<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One write of the 32 hex digits: SIDs are formatted for every record a REST page renders,
        // and a `{:02x}` per byte went through the formatter's padding 16 times.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        for (i, b) in self.bytes.iter().enumerate() {
            hex[2 * i] = HEX[usize::from(b >> 4)];
            hex[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        f.write_str(K::PREFIX)?;
        // The digits are ASCII.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl<K: SidKind> fmt::Debug for Sid<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<K: SidKind> Clone for Sid<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: SidKind> Copy for Sid<K> {}
impl<K: SidKind> PartialEq for Sid<K> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl<K: SidKind> Eq for Sid<K> {}
impl<K: SidKind> Hash for Sid<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}
impl<K: SidKind> PartialOrd for Sid<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: SidKind> Ord for Sid<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

/// Where new identifiers come from. Passed down so tests can make SIDs predictable.
pub trait IdSource: Send + Sync {
    /// 16 fresh bytes.
    fn fresh(&self) -> [u8; 16];
}

/// Random identifiers from the operating system's generator: the production source.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn fresh(&self) -> [u8; 16] {
        rand::random()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_prefix() {
        let sid: RoomSid = "RM0123456789abcdef0123456789ABCDEF".parse().unwrap();
        assert_eq!(sid.to_string(), "RM0123456789abcdef0123456789abcdef");
        assert!(
            "PA0123456789abcdef0123456789abcdef"
                .parse::<RoomSid>()
                .is_err()
        );
        assert!("RM0123".parse::<RoomSid>().is_err());
        assert!(
            "RM0123456789abcdef0123456789abcdeg"
                .parse::<RoomSid>()
                .is_err()
        );
        assert!(
            "RMé123456789abcdef0123456789abcde"
                .parse::<RoomSid>()
                .is_err()
        );
        let err = "nope".parse::<ParticipantSid>().unwrap_err();
        assert!(err.to_string().contains("Participant SID"));
    }

    #[test]
    fn generated_sids_are_distinct() {
        let a = RoomSid::generate(&RandomIds);
        let b = RoomSid::generate(&RandomIds);
        assert_ne!(a, b);
        assert!(RoomSid::looks_like(&a.to_string()));
    }
}
