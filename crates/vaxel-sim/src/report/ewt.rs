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
//! - `erlang_c`: the textbook reference, scored the same way on the same callers, from the
//!   group as the engine recorded it at the first announcement (`Announced`: `N` agents
//!   staffed, the handle time `AHT`, the mean time `gap` between calls entering the group):
//!   the Erlang C (M/M/N, first come first served) mean wait of a caller who finds `p − 1`
//!   callers ahead and every agent busy, `p · AHT / N` (each turn takes `AHT / N` on
//!   average). `erlang_c_load` is the Erlang C mean wait of a caller who has to wait,
//!   from the offered load alone, `AHT / (N − A)` with `A = AHT / gap` (no finite wait
//!   when `A ≥ N`: `unknown`). Records read back from `cdr.csv` do not carry the group's
//!   state: `unknown` in both.
//! - `repeated`: the first repeated announcement (`announce_every_s`), against the wait
//!   that was still to come then (`wait − after`); by the position told then.

use super::{Keyed, Rows, f, ratio, round};
use crate::erlang;
use serde::Serialize;
use vaxel_core::{Announced, CallRecord, Outcome};

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
    /// The Erlang C reference given the position, on the same callers.
    pub erlang_c: Scored,
    /// The Erlang C mean wait of a waiting caller given the offered load, on the same
    /// callers.
    pub erlang_c_load: Scored,
    /// The first repeated announcement against the wait still to come.
    pub repeated: Scored,
}

/// Another estimate (or another announcement) scored as the first one: total and by
/// position.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scored {
    pub total: EwtStats,
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
    /// One caller told `told_ms` (`None`: nothing) who then waited `real` ms more, and
    /// whose call ended as `outcome`.
    fn add(&mut self, told_ms: Option<u64>, real: u64, outcome: Outcome) {
        let Some(told) = told_ms else {
            self.unknown += 1;
            return;
        };
        if outcome.is_answered() {
            let abs = told.abs_diff(real);
            self.answered += 1;
            self.err_ms += i128::from(told) - i128::from(real);
            self.abs_err_ms += u128::from(abs);
            self.within_abs += u64::from(abs <= WITHIN_MS);
            #[allow(clippy::cast_precision_loss)]
            let share_ok = abs as f64 <= WITHIN_SHARE * real as f64;
            self.within_share += u64::from(share_ok);
        } else if outcome == Outcome::Abandoned {
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

/// The bucket of `position` in [`POSITION_BUCKETS`].
fn bucket(position: u32) -> usize {
    POSITION_BUCKETS
        .iter()
        .position(|&(upto, _)| position <= upto)
        .unwrap_or(POSITION_BUCKETS.len() - 1)
}

/// Running sums of a [`Scored`] row set.
#[derive(Debug, Default)]
struct ScoredAcc {
    total: Acc,
    positions: [Acc; POSITION_BUCKETS.len()],
}

impl ScoredAcc {
    fn add(&mut self, position: u32, told_ms: Option<u64>, real: u64, outcome: Outcome) {
        self.total.add(told_ms, real, outcome);
        self.positions[bucket(position)].add(told_ms, real, outcome);
    }

    fn finish(&self) -> Scored {
        Scored {
            total: self.total.stats(),
            positions: positions(&self.positions),
        }
    }
}

fn positions(accs: &[Acc; POSITION_BUCKETS.len()]) -> Keyed<EwtStats> {
    Keyed(
        POSITION_BUCKETS
            .iter()
            .zip(accs)
            .map(|((_, name), a)| ((*name).to_owned(), a.stats()))
            .collect(),
    )
}

/// The Erlang C waits in ms for the caller as the engine recorded the group at the
/// announcement: given the position, and given the offered load (`None` where there is
/// no finite wait or nothing was recorded).
fn erlang_c_ms(a: &Announced) -> (Option<u64>, Option<u64>) {
    if a.staffed == 0 || a.aht_ms == 0 {
        return (None, None);
    }
    #[allow(clippy::cast_precision_loss)]
    let aht_s = a.aht_ms as f64 / 1000.0;
    let n = f64::from(a.staffed);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = |s: f64| (s * 1000.0).round() as u64;
    let given_position = ms(f64::from(a.position) * aht_s / n);
    #[allow(clippy::cast_precision_loss)]
    let load = (a.gap_ms > 0).then(|| erlang::traffic_erl(1.0, a.gap_ms as f64 / 1000.0, aht_s));
    let given_load = load.filter(|&l| l < n).map(|l| ms(aht_s / (n - l)));
    (Some(given_position), given_load)
}

/// Builds [`EwtAccuracy`] one record at a time, in constant memory per group.
#[derive(Debug)]
pub(super) struct EwtBuilder {
    total: Acc,
    groups: Rows<Acc>,
    positions: [Acc; POSITION_BUCKETS.len()],
    erlang_c: ScoredAcc,
    erlang_c_load: ScoredAcc,
    repeated: ScoredAcc,
}

impl EwtBuilder {
    pub(super) fn new() -> EwtBuilder {
        EwtBuilder {
            total: Acc::default(),
            groups: Rows::new(),
            positions: Default::default(),
            erlang_c: ScoredAcc::default(),
            erlang_c_load: ScoredAcc::default(),
            repeated: ScoredAcc::default(),
        }
    }

    /// Lists a group before any call, so groups come in site order.
    pub(super) fn group(&mut self, id: &vaxel_core::site::Text) {
        self.groups.row(id);
    }

    pub(super) fn add(&mut self, r: &CallRecord) {
        let Some(a) = r.announced else { return };
        let told_ms = a.ewt_s.map(|s| s.saturating_mul(1000));
        let (real, outcome) = (r.wait_ms, r.outcome);
        self.total.add(told_ms, real, outcome);
        if let Some(g) = r.groups.first() {
            self.groups.row(g).add(told_ms, real, outcome);
        }
        self.positions[bucket(a.position)].add(told_ms, real, outcome);
        let (given_position, given_load) = erlang_c_ms(&a);
        self.erlang_c.add(a.position, given_position, real, outcome);
        self.erlang_c_load
            .add(a.position, given_load, real, outcome);
        if let Some(rep) = r.repeated {
            let told_ms = rep.ewt_s.map(|s| s.saturating_mul(1000));
            let rest = real.saturating_sub(rep.after_ms);
            self.repeated.add(rep.position, told_ms, rest, outcome);
        }
    }

    pub(super) fn finish(&self) -> EwtAccuracy {
        EwtAccuracy {
            total: self.total.stats(),
            groups: self.groups.keyed(Acc::stats),
            positions: positions(&self.positions),
            erlang_c: self.erlang_c.finish(),
            erlang_c_load: self.erlang_c_load.finish(),
            repeated: self.repeated.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::tests::record;
    use vaxel_core::{Announced, Repeated};

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

    #[test]
    fn scores_the_erlang_c_references_and_the_first_repeat() {
        let mut b = EwtBuilder::new();
        // Position 2, 2 agents of 100 s, a call every 100 s (1 Erlang); waited 120 s.
        let mut r = call(Outcome::Answered, 2, Some(110), 120_000);
        if let Some(a) = &mut r.announced {
            (a.staffed, a.aht_ms, a.gap_ms) = (2, 100_000, 100_000);
        }
        // Told 30 s more at 60 s, when 60 s were still to come.
        r.repeated = Some(Repeated {
            after_ms: 60_000,
            position: 1,
            ewt_s: Some(30),
        });
        b.add(&r);
        // Overloaded (a call every 40 s, 2.5 Erlangs on 2 agents): no finite wait from
        // the load, but one given the position (1 × 100 s / 2 = 50 s); hung up at 70 s.
        let mut over = call(Outcome::Abandoned, 1, Some(40), 70_000);
        if let Some(a) = &mut over.announced {
            (a.staffed, a.aht_ms, a.gap_ms) = (2, 100_000, 40_000);
        }
        b.add(&over);
        // Read back from cdr.csv: the group's state is not there.
        b.add(&call(Outcome::Answered, 1, Some(10), 10_000));

        let a = b.finish();
        assert_eq!(a.total.answered, 2);
        // Given the position: 2 × 100 s / 2 = 100 s against 120 s.
        let c = &a.erlang_c.total;
        assert_eq!((c.answered, c.abandoned, c.unknown), (1, 1, 1));
        assert_eq!(c.bias_s, -20.0);
        assert_eq!(c.abandoned_past_ewt, 1.0);
        assert_eq!(a.erlang_c.positions.get("2").map(|s| s.answered), Some(1));
        // From the load: 100 s / (2 − 1) = 100 s; none for the overloaded group.
        let l = &a.erlang_c_load.total;
        assert_eq!((l.answered, l.abandoned, l.unknown), (1, 0, 2));
        assert_eq!(l.mae_s, 20.0);
        // The first repeat: told 30 s with 60 s to come.
        let rep = &a.repeated.total;
        assert_eq!((rep.answered, rep.bias_s), (1, -30.0));
        assert_eq!(a.repeated.positions.get("1").map(|s| s.answered), Some(1));
    }
}
