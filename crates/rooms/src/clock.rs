//! Where time comes from. The server uses the system clock; tests use a manual clock they advance,
//! so room timeouts, heartbeats and token expiry happen exactly when a test says. The trait itself
//! is the domain's (`vroom_domain::clock`), re-exported here.

use std::sync::Arc;

use tokio::sync::watch;
use vroom_domain::time::{Span, Timestamp};

pub use vroom_domain::clock::{Clock, Sleep};

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let wait = (deadline - self.now()).millis().max(0);
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(
            wait.unsigned_abs(),
        )))
    }
}

/// A clock that only moves when told to. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<Timestamp>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Arc::new(watch::Sender::new(start)),
        }
    }

    /// Moves time forward by `span`, waking every sleeper whose deadline passed.
    pub fn advance(&self, span: Span) {
        self.now.send_modify(|t| *t = *t + span);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as any clone of the clock; if it is gone, time stopped for good.
            let _ = rx.wait_for(|now| *now >= deadline).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_only_when_advanced_past_their_deadline() {
        let clock = ManualClock::new(Timestamp::from_secs(100));
        let sleeper = tokio::spawn(clock.sleep_until(Timestamp::from_secs(160)));
        clock.advance(Span::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Span::from_secs(1));
        sleeper.await.unwrap();
        assert_eq!(clock.now(), Timestamp::from_secs(160));
    }
}
