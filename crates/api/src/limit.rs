//! Requests per account: a token bucket per account SID, so one account's burst cannot starve
//! the server, and the caller is told when to come back (429, code 20429, `Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vroom_domain::sid::AccountSid;

/// How many REST requests an account may make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may come at once above that pace.
    pub burst: f64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by account.
pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<AccountSid, Bucket>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `account`'s bucket, or says how long until one is there.
    pub(crate) fn take(&self, account: AccountSid, now: Instant) -> Result<(), Duration> {
        let RateLimit { per_second, burst } = self.limit;
        // A poisoned lock only means another request panicked mid-update: the counts are still
        // numbers, so carry on with them.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(account).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_pace_per_account() {
        let l = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        });
        let (a, b) = (
            AccountSid::from_bytes([1; 16]),
            AccountSid::from_bytes([2; 16]),
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take(a, t0).is_ok());
        }
        let wait = l.take(a, t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(l.take(b, t0).is_ok(), "another account has its own bucket");
        assert!(l.take(a, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.take(a, t0 + Duration::from_millis(500)).is_err());
    }
}
