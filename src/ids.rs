//! Where the server's SIDs come from: time-ordered random identifiers.
//!
//! A SID's 16 bytes are the milliseconds of the Unix time it was drawn at (6 bytes, big-endian),
//! then 10 random bytes (80 bits: unguessable, and no collision to fear among the SIDs of one
//! millisecond). So SIDs drawn one after the other sort after each other, and every index keyed
//! by a SID (a room's own, its lease's, its name's while the name is its SID, its events') grows
//! at its end: a commit of 64 new rooms writes a few index pages instead of one page per room
//! per index, which random SIDs scattered all over (BENCHMARKS.md, create). The SIDs look like
//! any other (`RM` and 32 hex digits); the time in them is the record's `date_created`, which its
//! resource shows anyway.

use std::sync::Arc;

use vroom_domain::sid::IdSource;
use vroom_rooms::clock::Clock;

/// Time-ordered random identifiers on `clock`.
pub struct OrderedIds {
    clock: Arc<dyn Clock>,
}

impl OrderedIds {
    /// Identifiers whose time part comes from `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }
}

impl IdSource for OrderedIds {
    fn fresh(&self) -> [u8; 16] {
        let mut bytes: [u8; 16] = rand::random();
        let millis = u64::try_from(self.clock.now().millis()).unwrap_or_default();
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vroom_domain::sid::RoomSid;
    use vroom_domain::time::{Span, Timestamp};
    use vroom_rooms::clock::ManualClock;

    #[test]
    fn later_sids_sort_later_and_all_differ() {
        let clock = ManualClock::new(Timestamp::from_millis(1_764_748_800_000));
        let ids = OrderedIds::new(Arc::new(clock.clone()));
        let mut drawn = Vec::new();
        for _ in 0..50 {
            drawn.push(RoomSid::generate(&ids));
            clock.advance(Span::from_millis(1));
        }
        let mut sorted = drawn.clone();
        sorted.sort();
        assert_eq!(sorted, drawn, "drawn in order, sorted in order");
        sorted.dedup();
        assert_eq!(sorted.len(), 50);
        // Within one millisecond they still differ.
        let (a, b) = (RoomSid::generate(&ids), RoomSid::generate(&ids));
        assert_ne!(a, b);
        assert_eq!(a.to_string()[..14], b.to_string()[..14]);
        assert!(a.to_string().starts_with("RM019ae339b0"), "{a}");
    }
}
