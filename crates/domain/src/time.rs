//! Time as the domain sees it: UTC instants with millisecond precision, always passed in from outside.

use std::fmt;
use std::ops::{Add, Sub};

use chrono::{DateTime, Utc};

/// A UTC instant, in milliseconds since the Unix epoch.
///
/// The domain never reads the system clock: whoever drives a state machine passes the current
/// `Timestamp` in, so tests can run minutes of room life without sleeping.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the epoch.
    #[must_use]
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// From whole seconds since the epoch.
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs * 1000)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    #[must_use]
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The same instant as a chrono value (for formatting at the edges).
    #[must_use]
    pub fn to_chrono(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// From a chrono value.
    #[must_use]
    pub fn from_chrono(t: DateTime<Utc>) -> Self {
        Self(t.timestamp_millis())
    }

    /// Whole seconds between `start` and `self`, counted on second boundaries so that a resource's
    /// `end_time - start_time` (both shown to the second) always equals its `duration`.
    #[must_use]
    pub const fn whole_secs_since(self, start: Timestamp) -> i64 {
        let d = self.secs() - start.secs();
        if d < 0 { 0 } else { d }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_chrono().format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

/// A span of time in milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Span(i64);

impl Span {
    /// From milliseconds.
    #[must_use]
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// From seconds.
    #[must_use]
    pub const fn from_secs(s: i64) -> Self {
        Self(s * 1000)
    }
    /// From minutes.
    #[must_use]
    pub const fn from_mins(m: i64) -> Self {
        Self(m * 60_000)
    }
    /// Milliseconds in this span.
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }
}

impl Add<Span> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Span) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Span;
    fn sub(self, rhs: Timestamp) -> Span {
        Span(self.0.saturating_sub(rhs.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_follow_displayed_seconds() {
        let start = Timestamp::from_millis(10_900);
        let end = Timestamp::from_millis(12_100);
        assert_eq!(end.whole_secs_since(start), 2);
        assert_eq!(start.whole_secs_since(end), 0);
        assert_eq!(
            Timestamp::from_secs(5) + Span::from_mins(1),
            Timestamp::from_secs(65)
        );
    }
}
