//! Giving back the room of maps and lists that emptied after a wave of participants.

use std::collections::HashMap;

/// Capacity under which a map or list is never shrunk: below it the slots cost little and
/// shrinking would only churn.
const SHRINK_FLOOR: usize = 64;

/// Shrinks `map` to twice its length when three quarters or more of its capacity stand empty, so
/// a map that emptied after a wave gives its memory back, and one that refills soon grows only
/// once. Each shrink rehashes the remaining entries, after at least as many removals.
pub(crate) fn shrink_map<K: Eq + std::hash::Hash, V, S: std::hash::BuildHasher>(
    map: &mut HashMap<K, V, S>,
) {
    if map.capacity() > SHRINK_FLOOR && map.len() * 4 <= map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

/// [`shrink_map`] for a list.
pub(crate) fn shrink_vec<T>(list: &mut Vec<T>) {
    if list.capacity() > SHRINK_FLOOR && list.len() * 4 <= list.capacity() {
        list.shrink_to(list.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::shrink_map;

    #[test]
    fn a_map_is_shrunk_only_when_mostly_empty_and_not_small() {
        let mut m: std::collections::HashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
        let full = m.capacity();
        m.retain(|k, _| *k < 500);
        shrink_map(&mut m);
        // (Removed slots stay tombstones, so `capacity` drops a little without a shrink.)
        assert!(m.capacity() > full / 2, "more than a quarter full: kept");
        m.retain(|k, _| *k < 100);
        shrink_map(&mut m);
        assert!(
            m.capacity() < full / 2 && m.capacity() >= 200,
            "{}",
            m.capacity()
        );
        assert_eq!(m.len(), 100);
        let mut small: std::collections::HashMap<u32, u32> = (0..50).map(|i| (i, i)).collect();
        small.clear();
        let cap = small.capacity();
        shrink_map(&mut small);
        assert_eq!(small.capacity(), cap, "small maps are left alone");
    }
}
