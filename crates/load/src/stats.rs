//! What a run records: a latency histogram shared by every task without locks, counts of
//! successes and of errors by kind, and the summary printed at the end.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

/// Bits of precision below the leading one: buckets are at most 1/32 (≈ 3 %) of their value wide.
const PRECISION_BITS: u32 = 5;
/// Values below this are their own bucket.
const LINEAR: u64 = 1 << (PRECISION_BITS + 1);
/// Enough buckets for any `u64`.
const BUCKETS: usize = ((64 - PRECISION_BITS as usize) << PRECISION_BITS) + (1 << PRECISION_BITS);

/// A log-linear histogram of microseconds (the idea of HdrHistogram, at 3 % precision), updated
/// with atomics so thousands of tasks can record into one without a lock.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return usize::try_from(v).unwrap_or(0);
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - PRECISION_BITS;
    let index = (u64::from(shift + 1) << PRECISION_BITS) + (v >> shift) - (1 << PRECISION_BITS);
    usize::try_from(index).unwrap_or(BUCKETS - 1)
}

/// The middle of bucket `i`'s range.
fn value_of(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let shift = (i >> PRECISION_BITS) - 1;
    let mantissa = (i & ((1 << PRECISION_BITS) - 1)) + (1 << PRECISION_BITS);
    (mantissa << shift) + ((1 << shift) >> 1)
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

/// Quantiles of a histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantiles {
    /// Values recorded.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest value, exact.
    pub max: u64,
}

impl Quantiles {
    /// As JSON, in milliseconds.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "mean_ms": ms(self.mean),
            "p50_ms": ms(self.p50 as f64),
            "p95_ms": ms(self.p95 as f64),
            "p99_ms": ms(self.p99 as f64),
            "max_ms": ms(self.max as f64),
        })
    }
}

/// Microseconds to milliseconds, rounded to the microsecond.
fn ms(us: f64) -> f64 {
    (us / 1000.0 * 1000.0).round() / 1000.0
}

impl Histogram {
    /// Records one duration.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(us, Ordering::Relaxed);
        self.max.fetch_max(us, Ordering::Relaxed);
    }

    /// Values recorded so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The quantiles so far (`None` when nothing was recorded).
    pub fn quantiles(&self) -> Option<Quantiles> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return None;
        }
        let max = self.max.load(Ordering::Relaxed);
        let at = |q: f64| {
            // The smallest value with at least q of the values at or below it.
            let rank = ((q * count as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return value_of(i).min(max);
                }
            }
            max
        };
        Some(Quantiles {
            count,
            mean: self.sum.load(Ordering::Relaxed) as f64 / count as f64,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max,
        })
    }
}

/// What one measured operation kind recorded: successes with their latency, errors by kind.
#[derive(Default)]
pub struct Recorder {
    /// Latency of successful operations.
    pub latency: Histogram,
    errors: AtomicU64,
    kinds: Mutex<BTreeMap<String, u64>>,
}

impl Recorder {
    /// A success that took `d`.
    pub fn ok(&self, d: Duration) {
        self.latency.record(d);
    }

    /// A failure, counted under `kind` (keep kinds few: no SIDs or numbers that vary).
    pub fn error(&self, kind: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut kinds = self
            .kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *kinds.entry(kind.into()).or_default() += 1;
    }

    /// Failures so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Failures by kind.
    pub fn error_kinds(&self) -> BTreeMap<String, u64> {
        self.kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The scenario (`fetch`, `join`, …).
    pub scenario: String,
    /// The URL driven.
    pub url: String,
    /// Length of the measured window, seconds.
    pub seconds: f64,
    /// Successful operations in the window.
    pub ok: u64,
    /// Failed operations (setup included: a run that could not set up fails instead).
    pub errors: u64,
    /// Failures by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Latency of the successful operations.
    pub latency: Option<Quantiles>,
    /// Scenario-specific figures (callback latencies per event, server RSS and CPU, …).
    pub extra: Map<String, Value>,
}

impl Summary {
    /// Builds a summary from a recorder.
    #[must_use]
    pub fn from_recorder(scenario: &str, url: &str, seconds: f64, rec: &Recorder) -> Self {
        Self {
            scenario: scenario.to_owned(),
            url: url.to_owned(),
            seconds,
            ok: rec.latency.count(),
            errors: rec.errors(),
            error_kinds: rec.error_kinds(),
            latency: rec.latency.quantiles(),
            extra: Map::new(),
        }
    }

    /// Successful operations per second.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The JSON last line.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "scenario": self.scenario,
            "url": self.url,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "throughput_per_s": (self.throughput() * 10.0).round() / 10.0,
            "latency": self.latency.map(|q| q.to_json()),
        });
        if let Value::Object(m) = &mut v {
            m.extend(self.extra.clone());
        }
        v
    }

    /// The human summary.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} against {}: {} ok, {} errors in {:.1} s = {:.1}/s\n",
            self.scenario,
            self.url,
            self.ok,
            self.errors,
            self.seconds,
            self.throughput()
        );
        if let Some(q) = self.latency {
            s.push_str(&format!(
                "  latency ms: p50 {:.3}  p95 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}\n",
                ms(q.p50 as f64),
                ms(q.p95 as f64),
                ms(q.p99 as f64),
                ms(q.max as f64),
                ms(q.mean)
            ));
        }
        for (kind, n) in &self.error_kinds {
            s.push_str(&format!("  error {kind}: {n}\n"));
        }
        for (k, v) in &self.extra {
            s.push_str(&format!("  {k}: {v}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_continuous_and_within_precision() {
        let mut last = 0;
        for v in (0..5000).chain([1 << 20, (1 << 20) + 12345, u64::MAX / 3]) {
            let i = bucket_of(v);
            assert!(i >= last || v < 5000, "{v}");
            last = i;
            let back = value_of(i);
            let err = back.abs_diff(v) as f64 / (v.max(1)) as f64;
            assert!(err <= 1.0 / 32.0, "{v} -> bucket {i} -> {back}");
        }
        assert!(bucket_of(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_of_a_uniform_spread() {
        let h = Histogram::default();
        for us in 1..=1000 {
            h.record(Duration::from_micros(us));
        }
        let q = h.quantiles().expect("values");
        assert_eq!(q.count, 1000);
        assert_eq!(q.max, 1000);
        assert!((480..=520).contains(&q.p50), "{q:?}");
        assert!((960..=1000).contains(&q.p99), "{q:?}");
    }
}
