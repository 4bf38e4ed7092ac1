//! Giving freed memory back to the system after many connections have gone.
//!
//! glibc's allocator keeps what a burst of participants freed in its arenas (one per worker
//! thread, and more under contention) and returns only the top of the main heap on its own, so the
//! resident size after 2,000 participants come and go stays tens of megabytes above the start
//! although live memory is back where it was (heaptrack: 4.7 MB live against ~95 MB resident).
//! `malloc_trim` walks every arena and releases its free pages. It takes the arenas' locks while it
//! runs, so it is asked for only when the listener's counts have settled after a wave of
//! departures, not on every close.
//!
//! The trim cannot release what each thread's cache of freed chunks (glibc's tcache: up to 7 per
//! size class up to 1 KiB, per thread) holds: the allocator counts those as in use, so they pin
//! their pages and keep the free space on either side from merging into pages it could give back.
//! After a wave, the caches of the Tokio workers hold the last chunks their departures freed,
//! scattered over the arenas the wave grew: ~900 chunks pinning ~3 MB (BENCHMARKS.md, "RSS after").
//! So before trimming, each worker swaps the chunks in its cache for fresh ones
//! ([`compact_thread_cache`], at its next park: a thread's cache can only be reached from that
//! thread), and the chunks it held go back to the arenas, where the trim can merge and release them.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Connections closed since the last trim after which a settled server trims again.
pub const TRIM_AFTER_CLOSED: u64 = 256;

/// When to trim, from the listener's counts sampled once a tick: the connections open now and
/// the connections closed since the server started (counted as they close, so a wave that comes
/// and goes between two samples still counts).
#[derive(Debug, Clone)]
pub struct TrimPolicy {
    after_closed: u64,
    closed_at_trim: u64,
    last: Option<(usize, u64)>,
}

impl TrimPolicy {
    /// A policy that trims once `after_closed` connections have closed since the last trim.
    #[must_use]
    pub fn new(after_closed: u64) -> Self {
        Self {
            after_closed: after_closed.max(1),
            closed_at_trim: 0,
            last: None,
        }
    }

    /// One sample; true when now is the moment to trim: nothing opened or closed since the
    /// previous sample (the wave is over) and at least `after_closed` closed since the last trim.
    pub fn observe(&mut self, open: usize, closed: u64) -> bool {
        let settled = self.last == Some((open, closed));
        self.last = Some((open, closed));
        if settled && closed - self.closed_at_trim >= self.after_closed {
            self.closed_at_trim = closed;
            return true;
        }
        false
    }
}

/// Raised once per trim; a worker that parks and finds it moved compacts its cache. A process-wide
/// value because what it stands for is: the allocator's caches are per thread of the process,
/// whatever runtime or server the thread serves.
static CACHE_EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CACHE_EPOCH_SEEN: Cell<u64> = const { Cell::new(0) };
}

/// Asks every worker that runs [`on_worker_park`] to compact its cache at its next park.
pub fn ask_workers_to_compact() {
    CACHE_EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// For the runtime's `on_thread_park`: compacts this thread's cache once per
/// [`ask_workers_to_compact`]. Otherwise one atomic load, as it runs whenever a worker goes idle.
pub fn on_worker_park() {
    let epoch = CACHE_EPOCH.load(Ordering::Relaxed);
    if CACHE_EPOCH_SEEN.get() != epoch {
        CACHE_EPOCH_SEEN.set(epoch);
        compact_thread_cache();
    }
}

/// Chunks taken per size class: more than the cache holds by default (7), so that it empties.
const CACHED_PER_CLASS: usize = 16;
/// The cache's size classes: chunks of 32 to 1,040 bytes, 16 apart.
const CACHE_CLASSES: usize = 64;

/// Empties this thread's allocator cache, so the chunks it held (wherever they were freed) go
/// back to their arenas, to be merged with their free neighbours and released by the next trim.
/// They are taken out of the cache by allocating them and freed by a thread made for it, which
/// ends at once: a thread's frees fill its own cache first, and a thread that ends hands its
/// cache back to the arenas. The cache refills with the thread's next frees. About 1,000
/// `malloc`/`free` pairs and a thread: well under a millisecond, once per trim. A no-op where the
/// allocator is not glibc's.
pub fn compact_thread_cache() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut held = Held(Vec::with_capacity(CACHE_CLASSES * CACHED_PER_CLASS));
        for class in 0..CACHE_CLASSES {
            // A request of a chunk's size less 8 bytes gets a chunk of exactly that size.
            let request = 32 + 16 * class - 8;
            for _ in 0..CACHED_PER_CLASS {
                // SAFETY: a plain allocation, which `Held` frees exactly once (null is skipped).
                #[allow(unsafe_code)]
                let p = unsafe { libc::malloc(request) };
                if !p.is_null() {
                    held.0.push(p as usize);
                }
            }
        }
        let freeing = std::thread::Builder::new()
            .name("vroom-cache-compact".into())
            .spawn(move || drop(held));
        match freeing {
            // Joined, so the chunks are back in their arenas when this returns.
            Ok(thread) => {
                let _ = thread.join();
            }
            // No thread to be had: the closure, and the chunks with it, were freed here.
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a thread to compact the allocator cache")
            }
        }
    }
}

/// Chunks taken out of an allocator cache, freed when dropped.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
struct Held(Vec<usize>);

#[cfg(all(target_os = "linux", target_env = "gnu"))]
impl Drop for Held {
    fn drop(&mut self) {
        for &p in &self.0 {
            // SAFETY: each pointer came from malloc and is in this list once; the list is dropped
            // once.
            #[allow(unsafe_code)]
            unsafe {
                libc::free(p as *mut libc::c_void);
            }
        }
    }
}

/// Returns the allocator's free pages to the system; true when some were released. A no-op
/// where the allocator is not glibc's.
#[must_use]
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a padding size and touches only the allocator's own state,
        // under the allocator's locks; it is safe to call from any thread at any time.
        #[allow(unsafe_code)]
        let released = unsafe { libc::malloc_trim(0) };
        released == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_the_counts_settle_after_enough_departures() {
        let mut p = TrimPolicy::new(10);
        for (open, closed) in [(0, 0), (40, 0), (40, 0), (30, 10), (15, 25)] {
            assert!(!p.observe(open, closed), "at {open} open, {closed} closed");
        }
        assert!(p.observe(15, 25));
        assert!(!p.observe(15, 25), "only once per wave");
    }

    #[test]
    fn a_wave_between_two_samples_counts() {
        let mut p = TrimPolicy::new(10);
        assert!(!p.observe(1, 0));
        // 300 came and went within one tick: the open count looks unchanged.
        assert!(
            !p.observe(1, 300),
            "not settled: 300 closed since the last sample"
        );
        assert!(p.observe(1, 300));
    }

    #[test]
    fn does_not_trim_after_too_few_departures_or_while_busy() {
        let mut p = TrimPolicy::new(10);
        for (open, closed) in [(50, 0), (50, 0), (45, 5), (45, 5), (41, 9), (41, 9)] {
            assert!(!p.observe(open, closed), "at {open} open, {closed} closed");
        }
        // Churning: closes every tick, never settled.
        for closed in 20..30 {
            assert!(!p.observe(41, closed));
        }
        assert!(p.observe(41, 29));
    }

    #[test]
    fn counts_from_the_last_trim() {
        let mut p = TrimPolicy::new(10);
        for (open, closed) in [(30, 0), (5, 25)] {
            assert!(!p.observe(open, closed));
        }
        assert!(p.observe(5, 25));
        for (open, closed) in [(12, 25), (3, 34), (3, 34)] {
            assert!(!p.observe(open, closed), "9 since the trim");
        }
        assert!(!p.observe(2, 35));
        assert!(p.observe(2, 35));
    }

    /// Resident pages of `[from, to)`, whole pages only.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn resident_pages(from: usize, to: usize) -> (usize, usize) {
        const PAGE: usize = 4096;
        let (start, end) = (from.div_ceil(PAGE) * PAGE, to / PAGE * PAGE);
        let pages = (end - start) / PAGE;
        let mut flags = vec![0u8; pages];
        // SAFETY: the range lies within memory this test allocated (and freed) on its own
        // thread's arena, which stays mapped; mincore only reads the page tables.
        #[allow(unsafe_code)]
        let rc =
            unsafe { libc::mincore(start as *mut libc::c_void, end - start, flags.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        (flags.iter().filter(|f| *f & 1 == 1).count(), pages)
    }

    /// The case after a wave: the thread's cache holds small chunks spread over a region whose
    /// other chunks were all freed, so no page of it can be released; once the cache is compacted
    /// the region merges and the trim gives most of it back.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn cached_chunks_pin_freed_pages(compact: bool) -> (usize, usize) {
        std::thread::spawn(move || {
            let small = |i: usize| 32 + 16 * (i % CACHE_CLASSES) - 8;
            // SAFETY (this block): plain mallocs and frees of our own, each freed once; the
            // addresses are kept only as numbers to ask mincore about afterwards.
            #[allow(unsafe_code)]
            unsafe {
                // 7 per class: as many as a thread's cache keeps. Each small chunk sits between
                // two fillers of 2 KiB (no filler alone spans a whole page past its header).
                let n = CACHE_CLASSES * 7;
                let mut fillers = Vec::with_capacity(n + 1);
                let mut smalls = Vec::with_capacity(n);
                fillers.push(libc::malloc(2040));
                for i in 0..n {
                    smalls.push(libc::malloc(small(i)));
                    fillers.push(libc::malloc(2040));
                }
                let guard = libc::malloc(2040);
                let (from, to) = (fillers[0] as usize, fillers[n] as usize);
                for p in smalls {
                    libc::free(p); // into this thread's (new, empty) cache
                }
                for p in fillers {
                    libc::free(p); // into the arena, each between two cached chunks
                }
                if compact {
                    compact_thread_cache();
                }
                let _ = release_free_memory();
                let resident = resident_pages(from, to);
                libc::free(guard);
                resident
            }
        })
        .join()
        .unwrap()
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn a_compacted_cache_lets_the_trim_release_what_it_pinned() {
        let (pinned, pages) = cached_chunks_pin_freed_pages(false);
        assert!(
            pinned * 4 >= pages * 3,
            "without compaction the cached chunks pin the region: {pinned} of {pages} pages resident"
        );
        let (left, pages) = cached_chunks_pin_freed_pages(true);
        assert!(
            left * 4 <= pages,
            "compacted, the trim releases most of the region: {left} of {pages} pages still resident"
        );
    }

    #[test]
    fn compacting_on_park_runs_once_per_request() {
        std::thread::spawn(|| {
            on_worker_park();
            let seen = CACHE_EPOCH_SEEN.get();
            ask_workers_to_compact();
            on_worker_park();
            assert_ne!(CACHE_EPOCH_SEEN.get(), seen, "asked: compacted at the park");
            let after = CACHE_EPOCH_SEEN.get();
            on_worker_park();
            assert_eq!(
                CACHE_EPOCH_SEEN.get(),
                after,
                "not asked again: nothing to do"
            );
        })
        .join()
        .unwrap();
    }

    #[test]
    fn release_can_be_called_at_any_time() {
        let v: Vec<Vec<u8>> = (0..1000).map(|i| vec![0u8; 1000 + i]).collect();
        drop(v);
        let _ = release_free_memory();
        let _ = release_free_memory();
    }
}
