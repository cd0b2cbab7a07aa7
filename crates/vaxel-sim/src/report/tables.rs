//! The extra tables of `vaxel report` (docs/reports.md "vaxel report"): calls by local
//! interval of the day, by group, entry and agent, and by group and interval. Rows are
//! [`BreakdownRow`](super::BreakdownRow)s, so these read like the other breakdowns.
//!
//! An interval is a slot of the local day (`08:00` = 08:00-08:14 with 15 minutes), summed
//! over every day of the period: a supervisor compares the same slot across days, and the
//! table stays the same size for a day and for a year. Memory: one row per interval, group,
//! entry and agent, and one per group and interval.

use super::breakdown::{LocalClock, Tally, table};
use super::{Breakdown, Keyed, Rows};
use serde::Serialize;
use vaxel_core::CallRecord;
use vaxel_core::site::Text;

/// The interval lengths `vaxel report --interval` accepts, in minutes: each divides an
/// hour, so intervals line up with the hour-of-day table.
pub const INTERVAL_MINUTES: [u32; 3] = [15, 30, 60];

/// Accumulates the extra tables; see the module docs.
#[derive(Debug)]
pub struct TableBuilder {
    clock: LocalClock,
    sl_ms: u64,
    interval_ms: i64,
    total: Tally,
    intervals: Vec<Tally>,
    groups: Rows<Tally>,
    entries: Rows<Tally>,
    agents: Rows<Tally>,
    group_intervals: Rows<Vec<Tally>>,
}

/// The tables of a [`TableBuilder`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tables {
    /// One row, `total`: every call, in the same columns as the other tables.
    pub total: Breakdown,
    pub by_interval: Breakdown,
    pub by_group: Breakdown,
    pub by_entry: Breakdown,
    pub by_agent: Breakdown,
    /// Per group (site order): its calls by interval.
    pub group_by_interval: Keyed<Breakdown>,
}

impl Tables {
    /// The one-dimensional tables with their keys, in order.
    #[must_use]
    pub fn named(&self) -> [(&'static str, &Breakdown); 5] {
        [
            ("total", &self.total),
            ("by_interval", &self.by_interval),
            ("by_group", &self.by_group),
            ("by_entry", &self.by_entry),
            ("by_agent", &self.by_agent),
        ]
    }
}

impl TableBuilder {
    /// Local times in `tz`, service level threshold `sl_ms`, intervals of
    /// `interval_minutes` (one of [`INTERVAL_MINUTES`]; anything else is taken as 60).
    #[must_use]
    pub fn new(tz: jiff::tz::TimeZone, sl_ms: u64, interval_minutes: u32) -> TableBuilder {
        let minutes = if INTERVAL_MINUTES.contains(&interval_minutes) {
            interval_minutes
        } else {
            60
        };
        let per_day = (24 * 60 / minutes) as usize;
        TableBuilder {
            clock: LocalClock::new(tz),
            sl_ms,
            interval_ms: i64::from(minutes) * 60_000,
            total: Tally::default(),
            intervals: vec![Tally::default(); per_day],
            groups: Rows::new(),
            entries: Rows::new(),
            agents: Rows::new(),
            group_intervals: Rows::new(),
        }
    }

    /// Lists a group before any call (site order, even without calls).
    pub fn group(&mut self, id: &Text) {
        self.groups.row(id);
        let n = self.intervals.len();
        self.group_intervals.row(id).resize_with(n, Tally::default);
    }

    /// Lists an entry before any call.
    pub fn entry(&mut self, id: &Text) {
        self.entries.row(id);
    }

    /// Counts one call: for its interval of arrival, for the last group in its `groups`
    /// (where it was answered or given up, as in the report), for its entry and for the
    /// agent who answered it.
    pub fn add(&mut self, r: &CallRecord) {
        let slot = self.clock.slot(r.arrived);
        let n = self.intervals.len();
        let i = usize::try_from(slot.into_day_ms / self.interval_ms)
            .unwrap_or(0)
            .min(n - 1);
        let sl = self.sl_ms;
        self.total.add(r, sl);
        self.intervals[i].add(r, sl);
        if let Some(g) = r.groups.last() {
            self.groups.row(g).add(r, sl);
            let row = self.group_intervals.row(g);
            if row.len() < n {
                row.resize_with(n, Tally::default);
            }
            row[i].add(r, sl);
        }
        if !r.entry.is_empty() {
            self.entries.row(&r.entry).add(r, sl);
        }
        if !r.agent.is_empty() && r.outcome.is_answered() {
            self.agents.row(&r.agent).add(r, sl);
        }
    }

    /// The key of interval `i`: its local start, `HH:MM`.
    fn interval_key(&self, i: usize) -> String {
        let start_min = i as i64 * self.interval_ms / 60_000;
        format!("{:02}:{:02}", start_min / 60, start_min % 60)
    }

    /// The tables.
    #[must_use]
    pub fn finish(self) -> Tables {
        let minutes = self.interval_ms / 60_000;
        let keys: Vec<String> = (0..self.intervals.len())
            .map(|i| self.interval_key(i))
            .collect();
        let named = |rows: Rows<Tally>| {
            rows.rows
                .into_iter()
                .map(|(k, t)| (k.to_string(), t))
                .collect::<Vec<_>>()
        };
        let interval_what = format!("calls by local interval of arrival ({minutes} minutes)");
        let group_by_interval = Keyed(
            self.group_intervals
                .rows
                .into_iter()
                .map(|(g, tallies)| {
                    let what = format!("calls of group {g} by local interval of arrival");
                    (
                        g.to_string(),
                        table(&what, keys.iter().cloned().zip(tallies)),
                    )
                })
                .collect(),
        );
        Tables {
            total: table("every call", [("total".to_owned(), self.total)]),
            by_interval: table(&interval_what, keys.iter().cloned().zip(self.intervals)),
            by_group: table(
                "calls by the last group they reached (where answered or given up)",
                named(self.groups),
            ),
            by_entry: table("calls by entry (the number dialled)", named(self.entries)),
            by_agent: table(
                "answered calls by the agent who answered",
                named(self.agents),
            ),
            group_by_interval,
        }
    }
}
