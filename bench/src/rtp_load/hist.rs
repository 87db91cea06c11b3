//! A lock-free log-linear histogram of nanoseconds: 32 sub-buckets per
//! power of two (≤ 3 % error), so percentiles of transit times from
//! microseconds to seconds cost one atomic add per packet.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

pub struct Hist {
    buckets: Box<[AtomicU64]>,
}

/// The bucket of `v`: exact below 32, then 32 per power of two.
fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let shift = e - SUB_BITS;
    ((u64::from(shift) + 1) * SUB + ((v >> shift) & (SUB - 1))) as usize
}

/// The smallest value in bucket `i`, and the bucket's width.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, 1);
    }
    let shift = i / SUB - 1;
    ((SUB + i % SUB) << shift, 1 << shift)
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Hist {
    pub fn record(&self, v: u64) {
        self.buckets[index(v)].fetch_add(1, Relaxed);
    }

    /// The counts so far, and the histogram emptied.
    pub fn take(&self) -> Snapshot {
        Snapshot(self.buckets.iter().map(|b| b.swap(0, Relaxed)).collect())
    }
}

pub struct Snapshot(Vec<u64>);

impl Snapshot {
    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The value below which a fraction `q` of the samples fall (the
    /// middle of its bucket); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, c) in self.0.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (low, width) = bounds(i);
                return low + width / 2;
            }
        }
        0
    }

    /// The upper end of the highest non-empty bucket.
    pub fn max(&self) -> u64 {
        self.0.iter().rposition(|&c| c > 0).map_or(0, |i| {
            let (low, width) = bounds(i);
            low + width - 1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_a_bucket_that_contains_it_within_3_percent() {
        for v in (0..5000u64).chain([1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            let (low, width) = bounds(index(v));
            assert!(low <= v && v - low < width, "{v} not in [{low}, +{width})");
            assert!(width == 1 || (width as f64) / (low as f64) <= 1.0 / 32.0 + 1e-9);
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_and_max_come_from_the_recorded_values() {
        let h = Hist::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let s = h.take();
        assert_eq!(s.count(), 1000);
        let p50 = s.quantile(0.5) as f64;
        let p99 = s.quantile(0.99) as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.03, "p50 {p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.03, "p99 {p99}");
        assert!(s.max() >= 1_000_000 && s.max() < 1_031_250);
        assert_eq!(h.take().count(), 0, "take empties the histogram");
    }
}
