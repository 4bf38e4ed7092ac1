//! How many signaling messages, and how many updates, one connection may send: a token bucket per
//! connection on the injected clock, so one client flooding the server (every update is a
//! transaction) is stopped without slowing anyone else.

use vroom_domain::time::Timestamp;

/// A sustained rate with a burst above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Per second, sustained.
    pub per_second: f64,
    /// At once, above that pace.
    pub burst: f64,
}

/// One connection's bucket for one kind of input.
#[derive(Debug)]
pub(super) struct Budget {
    rate: Option<Rate>,
    tokens: f64,
    at: Timestamp,
}

impl Budget {
    pub(super) fn new(rate: Option<Rate>, now: Timestamp) -> Self {
        Self {
            rate,
            tokens: rate.map_or(0.0, |r| r.burst),
            at: now,
        }
    }

    /// Takes one; false when the connection is over its rate.
    pub(super) fn take(&mut self, now: Timestamp) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        #[expect(
            clippy::cast_precision_loss,
            reason = "milliseconds between two inputs of one connection are far below 2^52"
        )]
        let elapsed = (now.millis() - self.at.millis()).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_pace() {
        let t = |ms: i64| Timestamp::from_millis(1_800_000_000_000 + ms);
        let mut b = Budget::new(
            Some(Rate {
                per_second: 10.0,
                burst: 3.0,
            }),
            t(0),
        );
        assert!(b.take(t(0)) && b.take(t(0)) && b.take(t(0)));
        assert!(!b.take(t(0)));
        assert!(b.take(t(100)), "one more every 100 ms");
        assert!(!b.take(t(100)));
        let mut free = Budget::new(None, t(0));
        assert!((0..10_000).all(|_| free.take(t(0))));
    }
}
