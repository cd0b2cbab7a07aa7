//! Supervisors' breakdowns (DOMAIN.md "Statistics … for reports"): call frequency by local
//! hour of day, weekday and month; the distribution of waits; the distribution over case
//! types; matters resolved at first contact against those referred to back office.
//!
//! Each is a [`Breakdown`]: rows with the same counters, so every table reads alike. Built
//! incrementally in constant memory (the case-type table keeps one row per case type, at
//! most [`MAX_CASE_TYPES`]).

use super::{Keyed, f, ratio, round};
use crate::timefmt::TimeFormatter;
use serde::Serialize;
use std::collections::BTreeMap;
use vaxel_core::CallRecord;

/// Upper bounds (inclusive, seconds) of the wait buckets; the last bucket is open.
/// Bucket `a-b` holds offered calls that waited more than `a` and at most `b` seconds;
/// bucket `0` those not waiting at all.
pub const WAIT_BUCKETS_S: [u64; 8] = [0, 10, 20, 30, 60, 120, 300, 600];

/// Past this many distinct case types, the rest are counted under `(other)`.
pub const MAX_CASE_TYPES: usize = 1_000;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One row: the calls of one hour, weekday, wait bucket, case type, ...
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakdownRow {
    pub key: String,
    /// Call records in the row.
    pub calls: u64,
    /// `calls` / all calls of the breakdown.
    pub share: f64,
    /// Of those, calls that reached a queue.
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// `answered` / `offered`.
    pub answer_rate: f64,
    /// Mean wait of the answered calls.
    pub asa_s: f64,
    /// Calls with `resolved` = true (solved at first contact).
    pub resolved: u64,
    /// Calls with `resolved` = false (referred to back office).
    pub referred: u64,
}

/// A table of rows and what it counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breakdown {
    /// What the rows are, in words.
    pub what: String,
    pub rows: Vec<BreakdownRow>,
}

#[derive(Clone, Debug, Default)]
struct Tally {
    calls: u64,
    offered: u64,
    answered: u64,
    abandoned: u64,
    wait_answered_ms: u64,
    resolved: u64,
    referred: u64,
}

impl Tally {
    fn add(&mut self, r: &CallRecord) {
        self.calls += 1;
        if r.queued.is_some() {
            self.offered += 1;
            if r.outcome.is_answered() {
                self.answered += 1;
                self.wait_answered_ms += r.wait_ms;
            } else if r.outcome == vaxel_core::Outcome::Abandoned {
                self.abandoned += 1;
            }
        }
        match r.resolved {
            Some(true) => self.resolved += 1,
            Some(false) => self.referred += 1,
            None => {}
        }
    }

    fn row(&self, key: String, all: u64) -> BreakdownRow {
        BreakdownRow {
            key,
            calls: self.calls,
            share: round(ratio(f(self.calls), f(all)), 6),
            offered: self.offered,
            answered: self.answered,
            abandoned: self.abandoned,
            answer_rate: round(ratio(f(self.answered), f(self.offered)), 6),
            asa_s: round(
                ratio(f(self.wait_answered_ms), f(self.answered)) / 1000.0,
                3,
            ),
            resolved: self.resolved,
            referred: self.referred,
        }
    }
}

fn table(what: &str, rows: impl IntoIterator<Item = (String, Tally)>) -> Breakdown {
    let rows: Vec<(String, Tally)> = rows.into_iter().collect();
    let all = rows.iter().map(|(_, t)| t.calls).sum();
    Breakdown {
        what: what.to_owned(),
        rows: rows.into_iter().map(|(k, t)| t.row(k, all)).collect(),
    }
}

/// Accumulates every breakdown from call records.
#[derive(Debug)]
pub struct BreakdownBuilder {
    fmt: TimeFormatter,
    hour: [Tally; 24],
    weekday: [Tally; 7],
    month: [Tally; 12],
    wait: [Tally; WAIT_BUCKETS_S.len() + 1],
    case_types: BTreeMap<String, Tally>,
    /// resolved, referred, not recorded.
    resolution: [Tally; 3],
}

impl BreakdownBuilder {
    /// Local times are taken in `tz` (the site's zone).
    #[must_use]
    pub fn new(tz: jiff::tz::TimeZone) -> BreakdownBuilder {
        BreakdownBuilder {
            fmt: TimeFormatter::new(tz),
            hour: Default::default(),
            weekday: Default::default(),
            month: Default::default(),
            wait: Default::default(),
            case_types: BTreeMap::new(),
            resolution: Default::default(),
        }
    }

    /// Counts one call.
    pub fn add(&mut self, r: &CallRecord) {
        let l = self.fmt.local(r.arrived);
        self.hour[l.hour as usize].add(r);
        self.weekday[l.weekday as usize].add(r);
        self.month[(l.month as usize).saturating_sub(1)].add(r);
        if r.queued.is_some() {
            let b = WAIT_BUCKETS_S
                .iter()
                .position(|&s| r.wait_ms <= s * 1000)
                .unwrap_or(WAIT_BUCKETS_S.len());
            self.wait[b].add(r);
        }
        if let Some(ct) = &r.case_type {
            let key =
                if self.case_types.contains_key(&**ct) || self.case_types.len() < MAX_CASE_TYPES {
                    &**ct
                } else {
                    "(other)"
                };
            match self.case_types.get_mut(key) {
                Some(t) => t.add(r),
                None => {
                    let mut t = Tally::default();
                    t.add(r);
                    self.case_types.insert(key.to_owned(), t);
                }
            }
        }
        if r.outcome.is_answered() {
            let i = match r.resolved {
                Some(true) => 0,
                Some(false) => 1,
                None => 2,
            };
            self.resolution[i].add(r);
        }
    }

    /// The tables, keyed `by_hour`, `by_weekday`, `by_month`, `wait`, `case_types`,
    /// `resolution`.
    #[must_use]
    pub fn finish(self) -> Keyed<Breakdown> {
        let wait_keys = (0..=WAIT_BUCKETS_S.len()).map(|i| match i {
            0 => "0".to_owned(),
            i if i == WAIT_BUCKETS_S.len() => format!("{}+", WAIT_BUCKETS_S[i - 1]),
            i => format!("{}-{}", WAIT_BUCKETS_S[i - 1], WAIT_BUCKETS_S[i]),
        });
        let mut case_types: Vec<(String, Tally)> = self.case_types.into_iter().collect();
        case_types.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then_with(|| a.0.cmp(&b.0)));
        Keyed(vec![
            (
                "by_hour".into(),
                table(
                    "calls by local hour of arrival (00 = 00:00-00:59)",
                    self.hour
                        .into_iter()
                        .enumerate()
                        .map(|(h, t)| (format!("{h:02}"), t)),
                ),
            ),
            (
                "by_weekday".into(),
                table(
                    "calls by local weekday of arrival",
                    WEEKDAYS.iter().map(|d| (*d).to_owned()).zip(self.weekday),
                ),
            ),
            (
                "by_month".into(),
                table(
                    "calls by local month of arrival (01 = January)",
                    self.month
                        .into_iter()
                        .enumerate()
                        .map(|(m, t)| (format!("{:02}", m + 1), t)),
                ),
            ),
            (
                "wait".into(),
                table(
                    "offered calls by wait in seconds (a-b: more than a, at most b)",
                    wait_keys.zip(self.wait),
                ),
            ),
            (
                "case_types".into(),
                table(
                    "calls by recorded case type, most frequent first",
                    case_types,
                ),
            ),
            (
                "resolution".into(),
                table(
                    "answered calls: resolved at first contact, referred to back office, \
                     not recorded",
                    ["resolved", "referred", "not_recorded"]
                        .iter()
                        .map(|k| (*k).to_owned())
                        .zip(self.resolution),
                ),
            ),
        ])
    }
}

/// All breakdowns of a set of records, local times in `tz`.
pub fn breakdowns<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    tz: jiff::tz::TimeZone,
) -> Keyed<Breakdown> {
    let mut b = BreakdownBuilder::new(tz);
    for r in records {
        b.add(r);
    }
    b.finish()
}
