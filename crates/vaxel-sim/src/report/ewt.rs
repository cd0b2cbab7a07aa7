//! How far the expected wait told to callers was from the wait they had: the report's
//! `ewt_accuracy` section, from each record's first announcement (`announced_position`,
//! `announced_ewt_s`).
//!
//! # Definitions (also in docs/reports.md)
//! - Only calls that were told an expected wait count (the first `queue` command they got).
//! - The real wait is the record's `wait_s`: from entering the queue until an agent
//!   answered, ring time included, since that is the wait a caller hears announced.
//! - For answered calls, the error is `announced − real`: `bias_s` is its mean (negative:
//!   announced too short), `mae_s` the mean of its absolute value, `within_30s` the share
//!   with |error| ≤ 30 s, `within_20pct` the share with |error| ≤ 20 % of the real wait.
//! - For abandoned calls, `abandoned_past_ewt` is the share that had already waited longer
//!   than announced when they hung up: a caller's view of a broken promise.
//! - `unknown`: calls told a position but no expected wait (nobody to serve them).
//! - By group: the first group in the record's `groups` (where the announcement was made).
//!   By position: the first announced position, in buckets.

use super::{Keyed, Rows, f, ratio, round};
use serde::Serialize;
use vaxel_core::{CallRecord, Outcome};

/// An answered call is "within" when its error is at most this.
const WITHIN_MS: u64 = 30_000;
/// … or at most this share of its real wait.
const WITHIN_SHARE: f64 = 0.2;

/// Position buckets: the upper bound of each (inclusive), the last open-ended.
const POSITION_BUCKETS: [(u32, &str); 6] = [
    (1, "1"),
    (2, "2"),
    (3, "3"),
    (5, "4-5"),
    (10, "6-10"),
    (u32::MAX, "11+"),
];

/// The accuracy figures of one group, one position bucket or the total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EwtStats {
    /// Answered calls that were told an expected wait.
    pub answered: u64,
    pub within_30s: f64,
    pub within_20pct: f64,
    pub bias_s: f64,
    pub mae_s: f64,
    /// Abandoned calls that were told an expected wait.
    pub abandoned: u64,
    pub abandoned_past_ewt: f64,
    /// Calls told a position but no expected wait.
    pub unknown: u64,
}

/// The report's `ewt_accuracy` section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EwtAccuracy {
    pub total: EwtStats,
    pub groups: Keyed<EwtStats>,
    pub positions: Keyed<EwtStats>,
}

/// Running sums for one row.
#[derive(Clone, Debug, Default)]
struct Acc {
    answered: u64,
    within_abs: u64,
    within_share: u64,
    /// Sum of `announced − real`, in ms.
    err_ms: i128,
    abs_err_ms: u128,
    abandoned: u64,
    abandoned_past: u64,
    unknown: u64,
}

impl Acc {
    fn add(&mut self, told_ms: Option<u64>, r: &CallRecord) {
        let Some(told) = told_ms else {
            self.unknown += 1;
            return;
        };
        let real = r.wait_ms;
        if r.outcome.is_answered() {
            let abs = told.abs_diff(real);
            self.answered += 1;
            self.err_ms += i128::from(told) - i128::from(real);
            self.abs_err_ms += u128::from(abs);
            self.within_abs += u64::from(abs <= WITHIN_MS);
            #[allow(clippy::cast_precision_loss)]
            let share_ok = abs as f64 <= WITHIN_SHARE * real as f64;
            self.within_share += u64::from(share_ok);
        } else if r.outcome == Outcome::Abandoned {
            self.abandoned += 1;
            self.abandoned_past += u64::from(real > told);
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn stats(&self) -> EwtStats {
        let n = f(self.answered);
        EwtStats {
            answered: self.answered,
            within_30s: round(ratio(f(self.within_abs), n), 6),
            within_20pct: round(ratio(f(self.within_share), n), 6),
            bias_s: round(ratio(self.err_ms as f64, n) / 1000.0, 3),
            mae_s: round(ratio(self.abs_err_ms as f64, n) / 1000.0, 3),
            abandoned: self.abandoned,
            abandoned_past_ewt: round(ratio(f(self.abandoned_past), f(self.abandoned)), 6),
            unknown: self.unknown,
        }
    }
}

/// Builds [`EwtAccuracy`] one record at a time, in constant memory per group.
#[derive(Debug)]
pub(super) struct EwtBuilder {
    total: Acc,
    groups: Rows<Acc>,
    positions: [Acc; POSITION_BUCKETS.len()],
}

impl EwtBuilder {
    pub(super) fn new() -> EwtBuilder {
        EwtBuilder {
            total: Acc::default(),
            groups: Rows::new(),
            positions: Default::default(),
        }
    }

    /// Lists a group before any call, so groups come in site order.
    pub(super) fn group(&mut self, id: &vaxel_core::site::Text) {
        self.groups.row(id);
    }

    pub(super) fn add(&mut self, r: &CallRecord) {
        let Some(a) = r.announced else { return };
        let told_ms = a.ewt_s.map(|s| s.saturating_mul(1000));
        self.total.add(told_ms, r);
        if let Some(g) = r.groups.first() {
            self.groups.row(g).add(told_ms, r);
        }
        let bucket = POSITION_BUCKETS
            .iter()
            .position(|&(upto, _)| a.position <= upto)
            .unwrap_or(POSITION_BUCKETS.len() - 1);
        self.positions[bucket].add(told_ms, r);
    }

    pub(super) fn finish(&self) -> EwtAccuracy {
        EwtAccuracy {
            total: self.total.stats(),
            groups: Keyed(
                self.groups
                    .rows
                    .iter()
                    .map(|(k, a)| (k.to_string(), a.stats()))
                    .collect(),
            ),
            positions: Keyed(
                POSITION_BUCKETS
                    .iter()
                    .zip(&self.positions)
                    .map(|((_, name), a)| ((*name).to_owned(), a.stats()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::tests::record;
    use vaxel_core::Announced;

    fn call(outcome: Outcome, position: u32, told_s: Option<u64>, wait_ms: u64) -> CallRecord {
        let mut r = record("c");
        r.outcome = outcome;
        r.wait_ms = wait_ms;
        r.announced = Some(Announced {
            position,
            ewt_s: told_s,
            staffed: 0,
            aht_ms: 0,
            gap_ms: 0,
        });
        r
    }

    #[test]
    fn scores_answered_and_abandoned_calls() {
        let mut b = EwtBuilder::new();
        // Told 60 s, waited 40 s: +20 s, within 30 s, not within 20 % (8 s).
        b.add(&call(Outcome::Answered, 1, Some(60), 40_000));
        // Told 100 s, waited 150 s: −50 s, outside 30 s, outside 20 % (30 s).
        b.add(&call(Outcome::Answered, 4, Some(100), 150_000));
        // Told 50 s, waited 52 s: −2 s, within both.
        b.add(&call(Outcome::CallbackAnswered, 12, Some(50), 52_000));
        // Abandoned past the promise, and before it.
        b.add(&call(Outcome::Abandoned, 2, Some(30), 31_000));
        b.add(&call(Outcome::Abandoned, 2, Some(30), 30_000));
        // No estimate; never told anything.
        b.add(&call(Outcome::Answered, 1, None, 10_000));
        let mut never = record("n");
        never.announced = None;
        b.add(&never);

        let a = b.finish();
        let t = &a.total;
        assert_eq!((t.answered, t.abandoned, t.unknown), (3, 2, 1));
        assert_eq!(t.within_30s, round(2.0 / 3.0, 6));
        assert_eq!(t.within_20pct, round(1.0 / 3.0, 6));
        assert_eq!(t.bias_s, round(-32.0 / 3.0, 3));
        assert_eq!(t.mae_s, 24.0);
        assert_eq!(t.abandoned_past_ewt, 0.5);
        let pos = |k: &str| a.positions.get(k).expect("bucket");
        assert_eq!(pos("1").answered, 1);
        assert_eq!(pos("4-5").bias_s, -50.0);
        assert_eq!(pos("11+").answered, 1);
        assert_eq!(pos("2").abandoned, 2);
        // The record's first group is where the announcement was made.
        assert_eq!(a.groups.get("vaxel").map(|g| g.answered), Some(3));
        assert!(a.groups.get("bygglov").is_none());
    }
}
