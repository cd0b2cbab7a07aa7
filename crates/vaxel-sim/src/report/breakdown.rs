//! Supervisors' breakdowns (docs/glossary.md "What the city asks for"): call frequency by local
//! hour of day, weekday and month; the distribution of waits; the distribution over case
//! types; matters resolved at first contact against those referred to back office.
//!
//! Each is a [`Breakdown`]: rows with the same counters, so every table reads alike. Built
//! incrementally in constant memory (the case-type table keeps one row per case type, at
//! most [`MAX_CASE_TYPES`]).

use super::{Keyed, Rows, SHORT_ABANDON_MS, f, ratio, round};
use crate::timefmt::TimeFormatter;
use serde::Serialize;
use vaxel_core::site::Text;
use vaxel_core::{CallRecord, Outcome, Timestamp};

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
    /// Of `abandoned`, those who hung up within [`SHORT_ABANDON_MS`].
    pub short_abandoned: u64,
    /// Offered calls the queue sent away (`overflow_external`, `timeout`), as in the
    /// report's `overflowed`.
    pub overflowed: u64,
    /// Answered calls whose wait is at most the service level threshold.
    pub answered_within_sl: u64,
    /// `answered_within_sl` / (`offered` − `short_abandoned`), as the report's.
    pub service_level: f64,
    /// Mean talk + wrap-up of the answered calls.
    pub aht_s: f64,
    /// Mean talk of the answered calls.
    pub talk_s: f64,
    /// Mean wrap-up of the answered calls.
    pub wrapup_s: f64,
    /// The longest wait of an offered call of the row.
    pub max_wait_s: f64,
}

/// A table of rows and what it counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breakdown {
    /// What the rows are, in words.
    pub what: String,
    pub rows: Vec<BreakdownRow>,
}

/// The running sums of one row: constant size whatever the number of calls.
#[derive(Clone, Debug, Default)]
pub(super) struct Tally {
    calls: u64,
    offered: u64,
    answered: u64,
    abandoned: u64,
    wait_answered_ms: u64,
    resolved: u64,
    referred: u64,
    short_abandoned: u64,
    overflowed: u64,
    within_sl: u64,
    talk_ms: u64,
    wrapup_ms: u64,
    max_wait_ms: u64,
}

impl Tally {
    /// Counts `r`; `sl_ms` is the service level threshold (answered at most this long after
    /// queueing is within it).
    pub(super) fn add(&mut self, r: &CallRecord, sl_ms: u64) {
        self.calls += 1;
        if r.queued.is_some() {
            self.offered += 1;
            self.max_wait_ms = self.max_wait_ms.max(r.wait_ms);
            if r.outcome.is_answered() {
                self.answered += 1;
                self.wait_answered_ms += r.wait_ms;
                self.talk_ms += r.talk_ms;
                self.wrapup_ms += r.wrapup_ms;
                if r.wait_ms <= sl_ms {
                    self.within_sl += 1;
                }
            } else {
                match r.outcome {
                    Outcome::Abandoned => {
                        self.abandoned += 1;
                        if r.wait_ms <= SHORT_ABANDON_MS {
                            self.short_abandoned += 1;
                        }
                    }
                    Outcome::OverflowExternal | Outcome::Timeout => self.overflowed += 1,
                    _ => {}
                }
            }
        }
        match r.resolved {
            Some(true) => self.resolved += 1,
            Some(false) => self.referred += 1,
            None => {}
        }
    }

    /// The row named `key`; `all` is the calls of the whole table (for `share`).
    pub(super) fn row(&self, key: String, all: u64) -> BreakdownRow {
        let answered = f(self.answered);
        let mean_s = |ms: u64| round(ratio(f(ms), answered) / 1000.0, 3);
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
            short_abandoned: self.short_abandoned,
            overflowed: self.overflowed,
            answered_within_sl: self.within_sl,
            service_level: round(
                ratio(f(self.within_sl), f(self.offered - self.short_abandoned)),
                6,
            ),
            aht_s: mean_s(self.talk_ms + self.wrapup_ms),
            talk_s: mean_s(self.talk_ms),
            wrapup_s: mean_s(self.wrapup_ms),
            max_wait_s: f(self.max_wait_ms) / 1000.0,
        }
    }
}

pub(super) fn table(what: &str, rows: impl IntoIterator<Item = (String, Tally)>) -> Breakdown {
    let rows: Vec<(String, Tally)> = rows.into_iter().collect();
    let all = rows.iter().map(|(_, t)| t.calls).sum();
    Breakdown {
        what: what.to_owned(),
        rows: rows.into_iter().map(|(k, t)| t.row(k, all)).collect(),
    }
}

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// The local day (or the part of it with one UTC offset) of the last arrival counted: within
/// it, weekday and month stay the same and the hour is the time since `midnight_ms`. Records
/// come roughly in time order, so [`TimeFormatter::local`]'s calendar arithmetic is needed
/// about once a day instead of once a record.
#[derive(Clone, Copy, Debug)]
struct LocalDay {
    /// The span of instants (epoch milliseconds) this holds for.
    from_ms: i64,
    until_ms: i64,
    /// The instant of the local midnight at the span's offset.
    midnight_ms: i64,
    weekday: usize,
    /// 0 = January.
    month: usize,
}

/// Where an instant falls in the site's local calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalSlot {
    /// Milliseconds since local midnight, as the clock on the wall reads (on the day the
    /// clocks go back, the repeated hour reads the same twice).
    pub into_day_ms: i64,
    /// 0 = Monday.
    pub weekday: usize,
    /// 0 = January.
    pub month: usize,
    /// The local date: year, month (1-12), day (1-31).
    pub date: (i64, u32, u32),
}

impl LocalSlot {
    /// The local hour, 0-23.
    #[must_use]
    pub fn hour(&self) -> usize {
        usize::try_from(self.into_day_ms / MS_PER_HOUR).unwrap_or(0)
    }
}

/// The local calendar of a zone for instants that come roughly in time order: the
/// calendar arithmetic runs about once a local day (see `LocalDay`), not once a record.
#[derive(Debug)]
pub struct LocalClock {
    fmt: TimeFormatter,
    day: LocalDay,
    date: (i64, u32, u32),
}

impl LocalClock {
    #[must_use]
    pub fn new(tz: jiff::tz::TimeZone) -> LocalClock {
        LocalClock {
            fmt: TimeFormatter::new(tz),
            day: LocalDay {
                from_ms: 0,
                until_ms: 0,
                midnight_ms: 0,
                weekday: 0,
                month: 0,
            },
            date: (1970, 1, 1),
        }
    }

    /// Where `t` falls in the local calendar.
    pub fn slot(&mut self, t: Timestamp) -> LocalSlot {
        let ms = i64::try_from(t.0).unwrap_or(i64::MAX);
        if ms < self.day.from_ms || ms >= self.day.until_ms {
            let l = self.fmt.local(t);
            let (from_ms, until_ms) = self.fmt.offset_span();
            let into_day = i64::from(l.hour) * MS_PER_HOUR
                + i64::from(l.minute) * 60_000
                + i64::from(l.second) * 1000
                + i64::from(l.milli);
            let midnight_ms = ms - into_day;
            self.day = LocalDay {
                from_ms: from_ms.max(midnight_ms),
                until_ms: until_ms.min(midnight_ms.saturating_add(MS_PER_DAY)),
                midnight_ms,
                weekday: l.weekday as usize,
                month: (l.month as usize).saturating_sub(1),
            };
            self.date = (l.year, l.month, l.day);
        }
        LocalSlot {
            into_day_ms: ms - self.day.midnight_ms,
            weekday: self.day.weekday,
            month: self.day.month,
            date: self.date,
        }
    }
}

/// Accumulates every breakdown from call records.
#[derive(Debug)]
pub struct BreakdownBuilder {
    clock: LocalClock,
    /// The service level threshold of the rows' `answered_within_sl`.
    sl_ms: u64,
    hour: [Tally; 24],
    weekday: [Tally; 7],
    month: [Tally; 12],
    wait: [Tally; WAIT_BUCKETS_S.len() + 1],
    /// One row per case type (`(other)` included), in the order first seen.
    case_types: Rows<Tally>,
    /// `(other)`: the row of case types past [`MAX_CASE_TYPES`].
    other: Text,
    /// resolved, referred, not recorded.
    resolution: [Tally; 3],
}

impl BreakdownBuilder {
    /// Local times are taken in `tz` (the site's zone); `service_level_ms` is the site's
    /// service level threshold.
    #[must_use]
    pub fn new(tz: jiff::tz::TimeZone, service_level_ms: u64) -> BreakdownBuilder {
        BreakdownBuilder {
            clock: LocalClock::new(tz),
            sl_ms: service_level_ms,
            hour: Default::default(),
            weekday: Default::default(),
            month: Default::default(),
            wait: Default::default(),
            case_types: Rows::new(),
            other: Text::from("(other)"),
            resolution: Default::default(),
        }
    }

    /// Hour, weekday and month of an arrival in the zone.
    fn local(&mut self, t: Timestamp) -> (usize, usize, usize) {
        let s = self.clock.slot(t);
        (s.hour(), s.weekday, s.month)
    }

    /// Counts one call.
    pub fn add(&mut self, r: &CallRecord) {
        let (hour, weekday, month) = self.local(r.arrived);
        let sl = self.sl_ms;
        self.hour[hour].add(r, sl);
        self.weekday[weekday].add(r, sl);
        self.month[month].add(r, sl);
        if r.queued.is_some() {
            let b = WAIT_BUCKETS_S
                .iter()
                .position(|&s| r.wait_ms <= s * 1000)
                .unwrap_or(WAIT_BUCKETS_S.len());
            self.wait[b].add(r, sl);
        }
        if let Some(ct) = &r.case_type {
            // Lasting: a case type in the table stays there, and once the table is full a
            // new one never gets a row of its own.
            let i = self
                .case_types
                .index_within(ct, MAX_CASE_TYPES, &self.other);
            self.case_types.rows[i].1.add(r, sl);
        }
        if r.outcome.is_answered() {
            let i = match r.resolved {
                Some(true) => 0,
                Some(false) => 1,
                None => 2,
            };
            self.resolution[i].add(r, sl);
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
        let mut case_types = self.case_types.rows;
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
                    case_types.into_iter().map(|(k, t)| (k.to_string(), t)),
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

/// All breakdowns of a set of records, local times in `tz`, service level threshold
/// `service_level_ms`.
pub fn breakdowns<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    tz: jiff::tz::TimeZone,
    service_level_ms: u64,
) -> Keyed<Breakdown> {
    let mut b = BreakdownBuilder::new(tz, service_level_ms);
    for r in records {
        b.add(r);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::tests::record;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use vaxel_core::Timestamp;

    /// Hour, weekday and month as [`TimeFormatter::local`] gives them, for each instant.
    fn check_local_day(zone: &str, instants: &[u64]) {
        let tz = TimeZone::get(zone).unwrap();
        let mut b = BreakdownBuilder::new(tz.clone(), 20_000);
        let mut f = TimeFormatter::new(tz);
        for &ms in instants {
            let l = f.local(Timestamp(ms));
            let want = (l.hour as usize, l.weekday as usize, l.month as usize - 1);
            assert_eq!(b.local(Timestamp(ms)), want, "{zone} {ms}");
        }
    }

    #[test]
    fn local_day_follows_offset_changes() {
        // Around Stockholm's 2026 changes (01:00 UTC), there and in zones whose offsets
        // are off the hour (Kolkata, St John's) or change by half an hour (Lord Howe).
        let spring: u64 = 1_774_746_000_000; // 2026-03-29T01:00:00Z
        let autumn: u64 = 1_792_890_000_000; // 2026-10-25T01:00:00Z
        let mut instants = Vec::new();
        for base in [spring, autumn] {
            for d in [
                -86_400_001i64,
                -3_600_001,
                -1,
                0,
                1,
                1_799_999,
                1_800_000,
                3_600_000,
            ] {
                instants.push(base.saturating_add_signed(d));
            }
        }
        instants.extend(instants.clone().iter().rev());
        for zone in [
            "Europe/Stockholm",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/St_Johns",
            "UTC",
        ] {
            check_local_day(zone, &instants);
        }
    }

    proptest! {
        #[test]
        fn local_day_matches_the_formatter(
            start in 0u64..4_000_000_000_000,
            steps in prop::collection::vec(-7_200_000i64..86_400_000, 1..200),
        ) {
            let mut ms = start;
            let instants: Vec<u64> = steps
                .iter()
                .map(|&d| {
                    ms = ms.saturating_add_signed(d);
                    ms
                })
                .collect();
            check_local_day("Europe/Stockholm", &instants);
            check_local_day("Australia/Lord_Howe", &instants);
        }
    }

    /// The case-type table as it was kept before the rows were cached by pointer: a map by
    /// name, new names past the limit counted under `(other)`.
    fn reference(case_types: &[Arc<str>]) -> Vec<(String, u64)> {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for ct in case_types {
            let key = if m.contains_key(&**ct) || m.len() < MAX_CASE_TYPES {
                &**ct
            } else {
                "(other)"
            };
            *m.entry(key.to_owned()).or_default() += 1;
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    #[test]
    fn case_types_past_the_limit_go_to_other_as_before() {
        // Shared `Arc`s (as a replay has them), fresh copies of the same names, a literal
        // "(other)" before the table is full, and names seen again after it is.
        let shared: Vec<Arc<str>> = (0..MAX_CASE_TYPES + 50)
            .map(|i| Arc::from(format!("ct{i}")))
            .collect();
        let mut seq: Vec<Arc<str>> = Vec::new();
        for (i, ct) in shared.iter().enumerate() {
            seq.push(ct.clone());
            if i % 3 == 0 {
                seq.push(Arc::from(&**ct));
            }
            if i == 10 {
                seq.push(Arc::from("(other)"));
            }
        }
        for ct in shared.iter().step_by(7) {
            seq.push(ct.clone());
            seq.push(Arc::from(&**ct));
        }
        let mut b = BreakdownBuilder::new(TimeZone::UTC, 20_000);
        for ct in &seq {
            let mut r = record("c");
            r.case_type = Some(ct.clone());
            b.add(&r);
        }
        let got: Vec<(String, u64)> = b
            .finish()
            .get("case_types")
            .unwrap()
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.calls))
            .collect();
        assert_eq!(got, reference(&seq));
    }
}
