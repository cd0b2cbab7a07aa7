//! The replay report (docs/formats.md "Replay report"), built one call record at a time in
//! constant memory per group and entry, written as JSON or as a text table.
//!
//! # Definitions (also in docs/reports.md)
//! - `offered`: calls that reached a queue (`queued` is set). Calls that ended in the menus,
//!   arrived while closed or were forwarded before queueing are in `calls` but not offered.
//! - `answered`: offered calls an agent talked to: outcome `answered` or
//!   `callback_answered` ([`Outcome::is_answered`]).
//! - `abandoned`: offered calls with outcome `abandoned` (the caller hung up in queue).
//! - `short_abandoned` (extra key): abandoned with a wait of at most 5 s.
//! - `overflowed`: offered calls the queue sent away: outcome `overflow_external`
//!   (forwarded to an outside number by an overflow or max-wait rule) or `timeout` (max wait
//!   reached with no target). Overflow between groups inside the site is not counted: the
//!   call stays and is counted where it ends.
//! - `answered_within_sl`: answered calls whose wait is at most the site's `service_level_s`
//!   (a call answered at exactly 20 s is within 20 s).
//! - `service_level` = `answered_within_sl` / (`offered` − `short_abandoned`): callers who
//!   hang up within 5 s are not counted as offered, as is common practice.
//! - `answer_rate` ("tillgänglighet") = `answered` / `offered`.
//! - `asa_s`: mean wait of answered calls; `aht_s`: mean talk + wrap-up of answered calls;
//!   `max_wait_s`: the longest wait of any offered call, answered or not.
//! - `occupancy`: busy time / logged-in time. In `total` both come from the replay driver
//!   ([`ReportBuilder::add_busy_time`], [`ReportBuilder::add_logged_in_time`]). Per group,
//!   busy time is the talk + wrap-up of the group's answered calls and logged-in time is that
//!   of the agents able to serve the group (at any widening step); an agent serving several
//!   groups counts fully in each, so a group's occupancy is a lower bound.
//! - A ratio whose denominator is zero is written as 0.
//! - Per group, a call counts for the LAST group in its `groups` list (where it was
//!   answered or given up); per entry, for its `entry` (calls that matched no entry are only
//!   in the total).

pub mod agents;
mod breakdown;
mod ewt;
pub mod period;
mod supervisor;
mod tables;
mod text;
mod zero;

pub use agents::{AgentBuilder, AgentFigures, AgentRow};
pub use breakdown::{
    Breakdown, BreakdownBuilder, BreakdownRow, LocalClock, LocalSlot, WAIT_BUCKETS_S, breakdowns,
};
pub use ewt::{EwtAccuracy, EwtStats};
pub use supervisor::{
    NOT_MEASURED, NOT_MEASURED_WITH_EVENTS, PeriodReport, Section, SupervisorReport,
};
pub use tables::{INTERVAL_MINUTES, TableBuilder, Tables};
pub use zero::{Comparison, Delta, ZeroFigures, compare};

use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::sync::Arc;
use vaxel_core::CallRecord;
use vaxel_core::Outcome;
use vaxel_core::site::{Site, Text};

/// Waits up to this long before hanging up are "short abandons", left out of the service
/// level's denominator.
pub const SHORT_ABANDON_MS: u64 = 5_000;

/// Named items serialized as a JSON object in their order (site order for groups and
/// entries), so the output is stable and reads like the configuration.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Keyed<T>(pub Vec<(String, T)>);

impl<T> Keyed<T> {
    /// The item named `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<T: Serialize> Serialize for Keyed<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The fixed statistics of `total` and of each group, in docs/formats.md's key order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub overflowed: u64,
    pub answered_within_sl: u64,
    pub service_level: f64,
    pub answer_rate: f64,
    pub asa_s: f64,
    pub aht_s: f64,
    pub max_wait_s: f64,
    pub occupancy: f64,
    /// Extra key: abandoned within 5 s (left out of the service level's denominator).
    pub short_abandoned: u64,
}

/// Per entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntryStats {
    pub offered: u64,
    pub answered: u64,
    pub answer_rate: f64,
    /// Extra key: every call to the entry, offered or not.
    pub calls: u64,
}

/// The replay report. `events` and `wall_s` are the replay driver's to set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub calls: u64,
    pub events: u64,
    pub wall_s: f64,
    pub total: Stats,
    pub groups: Keyed<Stats>,
    pub entries: Keyed<EntryStats>,
    /// Extra key: supervisors' breakdowns (by hour, weekday, month, wait, case type,
    /// resolution).
    pub breakdowns: Keyed<Breakdown>,
    /// Extra key: how the first announced expected wait compared with the real wait.
    pub ewt_accuracy: EwtAccuracy,
    /// Extra key of `vaxel report` only (see [`ReportBuilder::with_tables`]): by interval,
    /// group, entry, agent, and group × interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<Tables>,
}

impl Report {
    /// Pretty JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Rows recently looked up, by the address of the `Arc<str>` naming them. Records share the
/// site's ids and the trace's case types as `Arc`s, so nearly every lookup is a pointer
/// comparison instead of hashing and comparing the text (which was most of the cost of
/// counting a record). Direct-mapped: a fixed table where a collision only costs a lookup by
/// text. Each slot holds its `Arc`, so the address cannot be reused for another text while
/// the slot remembers it.
#[derive(Debug)]
struct Recent([Option<(Text, usize)>; RECENT_SLOTS]);

const RECENT_SLOTS: usize = 64;

impl Default for Recent {
    fn default() -> Self {
        Recent(std::array::from_fn(|_| None))
    }
}

impl Recent {
    fn slot(name: &Text) -> usize {
        // Allocations are at least 16 bytes apart: the low bits carry nothing.
        (Arc::as_ptr(name).addr() >> 4) % RECENT_SLOTS
    }

    fn get(&self, name: &Text) -> Option<usize> {
        match &self.0[Self::slot(name)] {
            Some((known, row)) if Arc::ptr_eq(known, name) => Some(*row),
            _ => None,
        }
    }

    fn put(&mut self, name: &Text, row: usize) {
        self.0[Self::slot(name)] = Some((name.clone(), row));
    }
}

/// Named rows of accumulators in the order first seen, found by name: by the name's address
/// first ([`Recent`]), by its text otherwise.
#[derive(Debug)]
struct Rows<A> {
    rows: Vec<(Text, A)>,
    ix: FxHashMap<Text, usize>,
    recent: Recent,
}

impl<A: Default> Rows<A> {
    fn new() -> Rows<A> {
        Rows {
            rows: Vec::new(),
            ix: FxHashMap::default(),
            recent: Recent::default(),
        }
    }

    /// The index of the row named `id`, added if new.
    fn index(&mut self, id: &Text) -> usize {
        self.index_within(id, usize::MAX, id)
    }

    /// [`Rows::index`] for a table of at most `cap` names: once it is full, a new name
    /// gets the row named `other` (added if new), and keeps it.
    fn index_within(&mut self, id: &Text, cap: usize, other: &Text) -> usize {
        if let Some(i) = self.recent.get(id) {
            return i;
        }
        let key = if self.rows.len() < cap || self.ix.contains_key(id) {
            id
        } else {
            other
        };
        let i = match self.ix.get(key) {
            Some(&i) => i,
            None => {
                self.rows.push((key.clone(), A::default()));
                self.ix.insert(key.clone(), self.rows.len() - 1);
                self.rows.len() - 1
            }
        };
        self.recent.put(id, i);
        i
    }

    /// The rows as a table of `f` of each, in the order first seen.
    fn keyed<T>(&self, f: impl Fn(&A) -> T) -> Keyed<T> {
        Keyed(
            self.rows
                .iter()
                .map(|(k, a)| (k.to_string(), f(a)))
                .collect(),
        )
    }

    /// The row named `id`, added if new.
    fn row(&mut self, id: &Text) -> &mut A {
        let i = self.index(id);
        &mut self.rows[i].1
    }
}

/// Running sums for one group (or the total): constant size whatever the number of calls.
#[derive(Clone, Debug, Default)]
struct Acc {
    offered: u64,
    answered: u64,
    abandoned: u64,
    short_abandoned: u64,
    overflowed: u64,
    within_sl: u64,
    wait_answered_ms: u64,
    handle_ms: u64,
    max_wait_ms: u64,
    busy_ms: u64,
    logged_in_ms: u64,
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { 0.0 }
}

/// Rounds to `d` decimals so the JSON reads well (ratios 6, seconds 3).
fn round(x: f64, d: i32) -> f64 {
    let p = 10f64.powi(d);
    (x * p).round() / p
}

#[allow(clippy::cast_precision_loss)]
fn f(x: u64) -> f64 {
    x as f64
}

impl Acc {
    fn add(&mut self, r: &CallRecord, sl_ms: u64) {
        if r.queued.is_none() {
            return;
        }
        self.offered += 1;
        self.max_wait_ms = self.max_wait_ms.max(r.wait_ms);
        if r.outcome.is_answered() {
            self.answered += 1;
            self.wait_answered_ms += r.wait_ms;
            self.handle_ms += r.talk_ms + r.wrapup_ms;
            if r.wait_ms <= sl_ms {
                self.within_sl += 1;
            }
        }
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

    fn stats(&self) -> Stats {
        Stats {
            offered: self.offered,
            answered: self.answered,
            abandoned: self.abandoned,
            overflowed: self.overflowed,
            answered_within_sl: self.within_sl,
            service_level: round(
                ratio(f(self.within_sl), f(self.offered - self.short_abandoned)),
                6,
            ),
            answer_rate: round(ratio(f(self.answered), f(self.offered)), 6),
            asa_s: round(
                ratio(f(self.wait_answered_ms), f(self.answered)) / 1000.0,
                3,
            ),
            aht_s: round(ratio(f(self.handle_ms), f(self.answered)) / 1000.0, 3),
            max_wait_s: f(self.max_wait_ms) / 1000.0,
            occupancy: round(ratio(f(self.busy_ms), f(self.logged_in_ms)), 6),
            short_abandoned: self.short_abandoned,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct EntryAcc {
    calls: u64,
    offered: u64,
    answered: u64,
}

/// Builds a [`Report`] from call records as they come (see the module docs for the
/// definitions). Memory: one accumulator per group, entry, agent and breakdown bucket.
#[derive(Debug)]
pub struct ReportBuilder {
    service_level_ms: u64,
    calls: u64,
    total: Acc,
    groups: Rows<Acc>,
    entries: Rows<EntryAcc>,
    /// Agent id → the groups it can serve (from the site), for per-group logged-in time.
    agent_groups: FxHashMap<Text, Vec<usize>>,
    breakdowns: BreakdownBuilder,
    ewt: ewt::EwtBuilder,
    tables: Option<TableBuilder>,
}

impl ReportBuilder {
    /// A builder for records of any site: groups and entries appear in the order first seen.
    #[must_use]
    pub fn new(service_level_ms: u64, tz: jiff::tz::TimeZone) -> ReportBuilder {
        ReportBuilder {
            service_level_ms,
            calls: 0,
            total: Acc::default(),
            groups: Rows::new(),
            entries: Rows::new(),
            agent_groups: FxHashMap::default(),
            breakdowns: BreakdownBuilder::new(tz, service_level_ms),
            ewt: ewt::EwtBuilder::new(),
            tables: None,
        }
    }

    /// Adds the tables of `vaxel report` ([`Tables`]) with intervals of `interval_minutes`,
    /// groups and entries listed in the order already known (the site's, with
    /// [`for_site`](Self::for_site)). The replay's report leaves them out.
    #[must_use]
    pub fn with_tables(mut self, tz: jiff::tz::TimeZone, interval_minutes: u32) -> ReportBuilder {
        let mut t = TableBuilder::new(tz, self.service_level_ms, interval_minutes);
        for (g, _) in &self.groups.rows {
            t.group(g);
        }
        for (e, _) in &self.entries.rows {
            t.entry(e);
        }
        self.tables = Some(t);
        self
    }

    /// A builder for `site`: its service level threshold and zone, every group and entry
    /// listed (in site order, even with no calls), agents mapped to the groups they serve.
    #[must_use]
    pub fn for_site(site: &Site) -> ReportBuilder {
        let mut b = ReportBuilder::new(site.service_level_ms, site.timezone.clone());
        for g in &site.groups {
            b.groups.row(&g.id);
            b.ewt.group(&g.id);
        }
        for e in &site.entries {
            b.entries.row(&e.id);
        }
        for a in &site.agents {
            let serves = site
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.qualifying_step(&a.skills).is_some())
                .map(|(i, _)| i)
                .collect();
            b.agent_groups.insert(a.id.clone(), serves);
        }
        b
    }

    /// Counts one call.
    pub fn add(&mut self, r: &CallRecord) {
        self.calls += 1;
        let sl = self.service_level_ms;
        self.total.add(r, sl);
        if let Some(g) = r.groups.last() {
            let acc = self.groups.row(g);
            acc.add(r, sl);
            if r.queued.is_some() && r.outcome.is_answered() {
                acc.busy_ms += r.talk_ms + r.wrapup_ms;
            }
        }
        if !r.entry.is_empty() {
            let e = self.entries.row(&r.entry);
            e.calls += 1;
            if r.queued.is_some() {
                e.offered += 1;
                if r.outcome.is_answered() {
                    e.answered += 1;
                }
            }
        }
        self.breakdowns.add(r);
        self.ewt.add(r);
        if let Some(t) = &mut self.tables {
            t.add(r);
        }
    }

    /// Time an agent was busy (ringing, talking, wrapping up): the total's occupancy. The
    /// agent is named for symmetry with [`add_logged_in_time`](Self::add_logged_in_time)
    /// (per-agent statistics may use it later).
    pub fn add_busy_time(&mut self, _agent: &str, ms: u64) {
        self.total.busy_ms += ms;
    }

    /// Time an agent was logged in: the total's occupancy and, with
    /// [`for_site`](Self::for_site), that of each group the agent can serve.
    pub fn add_logged_in_time(&mut self, agent: &str, ms: u64) {
        self.total.logged_in_ms += ms;
        if let Some(gs) = self.agent_groups.get(agent) {
            for &g in gs {
                self.groups.rows[g].1.logged_in_ms += ms;
            }
        }
    }

    /// The report; `events` and `wall_s` are zero for the driver to fill in.
    #[must_use]
    pub fn finish(self) -> Report {
        Report {
            calls: self.calls,
            events: 0,
            wall_s: 0.0,
            total: self.total.stats(),
            groups: self.groups.keyed(Acc::stats),
            entries: self.entries.keyed(|e| EntryStats {
                offered: e.offered,
                answered: e.answered,
                answer_rate: round(ratio(f(e.answered), f(e.offered)), 6),
                calls: e.calls,
            }),
            breakdowns: self.breakdowns.finish(),
            ewt_accuracy: self.ewt.finish(),
            tables: self.tables.map(TableBuilder::finish),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_tables;
