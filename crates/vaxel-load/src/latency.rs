//! Latency histograms (HdrHistogram, microseconds, 3 significant digits) and their summary
//! in milliseconds for the report.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// The longest latency recorded exactly (60 s); longer ones are recorded as this.
const MAX_US: u64 = 60_000_000;

/// One latency distribution.
#[derive(Debug)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    #[must_use]
    pub fn new() -> Latency {
        // Constant bounds that `new_with_bounds` accepts (1 ≤ low, high ≥ 2·low, sigfig ≤ 5).
        let hist = Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds");
        Latency { hist }
    }

    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_US);
        self.hist.saturating_record(us);
    }

    /// p50, p90, p99, p99.9 and max, in milliseconds (zeros when nothing was recorded).
    #[must_use]
    pub fn summary(&self) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.hist.len(),
            p50: ms(self.hist.value_at_quantile(0.50)),
            p90: ms(self.hist.value_at_quantile(0.90)),
            p99: ms(self.hist.value_at_quantile(0.99)),
            p999: ms(self.hist.value_at_quantile(0.999)),
            max: ms(self.hist.max()),
        }
    }
}

/// A latency distribution in the report, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_milliseconds() {
        let mut l = Latency::new();
        for us in 1..=1000u64 {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50 - 0.5).abs() < 0.01, "{s:?}");
        assert!((s.p99 - 0.99).abs() < 0.01, "{s:?}");
        assert!((s.max - 1.0).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn empty_and_huge() {
        assert_eq!(Latency::new().summary(), LatencySummary::default());
        let mut l = Latency::new();
        l.record(Duration::from_secs(3600));
        l.record(Duration::ZERO);
        assert_eq!(l.summary().count, 2);
        assert!(l.summary().max <= 60_100.0);
    }
}
