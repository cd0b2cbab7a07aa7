//! The zero measurement (*nollmätning*): availability and response times of a period
//! before a change beside those of the period after it, with the differences, in total and
//! per group. Computed from two [`Report`]s, so both periods are counted by the same code
//! and definitions.

use super::{Keyed, Report, Stats, f, ratio, round};
use serde::Serialize;

/// One figure before and after, and `after − before` (percentage points as a fraction
/// for shares, seconds for times, calls for counts).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Delta {
    pub before: f64,
    pub after: f64,
    pub diff: f64,
}

impl Delta {
    fn new(before: f64, after: f64, decimals: i32) -> Delta {
        Delta {
            before,
            after,
            diff: round(after - before, decimals),
        }
    }
}

/// The figures compared, for the total or a group.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ZeroFigures {
    /// Calls that reached a queue.
    pub offered: Delta,
    /// Availability: answered / offered.
    pub answer_rate: Delta,
    /// answered within the threshold / (offered − short abandons).
    pub service_level: Delta,
    /// Response time: answered within the service level threshold / offered (every
    /// caller in the denominator, short abandons included).
    pub answered_within_sl_share: Delta,
    /// Response time: mean wait of the answered calls.
    pub asa_s: Delta,
    /// Response time: the longest wait of an offered call.
    pub max_wait_s: Delta,
    /// abandoned / offered.
    pub abandon_rate: Delta,
}

impl ZeroFigures {
    fn new(b: &Stats, a: &Stats) -> ZeroFigures {
        let share = |s: &Stats, n: u64| round(ratio(f(n), f(s.offered)), 6);
        ZeroFigures {
            offered: Delta::new(f(b.offered), f(a.offered), 0),
            answer_rate: Delta::new(b.answer_rate, a.answer_rate, 6),
            service_level: Delta::new(b.service_level, a.service_level, 6),
            answered_within_sl_share: Delta::new(
                share(b, b.answered_within_sl),
                share(a, a.answered_within_sl),
                6,
            ),
            asa_s: Delta::new(b.asa_s, a.asa_s, 3),
            max_wait_s: Delta::new(b.max_wait_s, a.max_wait_s, 3),
            abandon_rate: Delta::new(share(b, b.abandoned), share(a, a.abandoned), 6),
        }
    }

    /// The figures with their keys, in order, and whether each is a share.
    #[must_use]
    pub fn named(&self) -> [(&'static str, Delta, bool); 7] {
        [
            ("offered", self.offered, false),
            ("answer_rate", self.answer_rate, true),
            ("service_level", self.service_level, true),
            (
                "answered_within_sl_share",
                self.answered_within_sl_share,
                true,
            ),
            ("asa_s", self.asa_s, false),
            ("max_wait_s", self.max_wait_s, false),
            ("abandon_rate", self.abandon_rate, true),
        ]
    }
}

/// The baseline (before) against the report period (after).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub total: ZeroFigures,
    /// Groups of either period, the after period's order first.
    pub groups: Keyed<ZeroFigures>,
}

/// Compares `before` (the baseline) with `after`. A group missing from one period counts
/// as having no calls there.
#[must_use]
pub fn compare(before: &Report, after: &Report) -> Comparison {
    let empty = super::Acc::default().stats();
    let mut names: Vec<&str> = after.groups.0.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in &before.groups.0 {
        if !names.contains(&k.as_str()) {
            names.push(k);
        }
    }
    let groups = names
        .into_iter()
        .map(|g| {
            let b = before.groups.get(g).unwrap_or(&empty);
            let a = after.groups.get(g).unwrap_or(&empty);
            (g.to_owned(), ZeroFigures::new(b, a))
        })
        .collect();
    Comparison {
        total: ZeroFigures::new(&before.total, &after.total),
        groups: Keyed(groups),
    }
}
