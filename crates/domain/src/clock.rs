//! The clock the runtimes are given: the trait only. Nothing in the domain calls it (time is passed
//! in); it lives here, below every crate that takes a clock, so that a crate needing nothing else of
//! the room runtime (status callbacks, say) does not depend on it for this. The system clock and
//! the tests' manual clock are in `vroom-rooms`.

use std::future::Future;
use std::pin::Pin;

use crate::time::Timestamp;

/// A boxed future, as `dyn Clock` returns.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of the current time that can also wait for a moment to come.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Completes once `now() >= deadline`.
    fn sleep_until(&self, deadline: Timestamp) -> Sleep;
}
