//! Staffing figures for a load (what `vaxel staffing` prints): the fewest agents that meet
//! a service level goal by Erlang C, with the expected service level, ASA and occupancy,
//! and by Erlang A (exponential patience) when a patience is given. Kept apart from the
//! command so that it is tested as a library, without a process.

use crate::erlang::{self, ErlangA};
use crate::timefmt::{TimeFormatter, civil_from_days};
use crate::trace::TraceCall;
use vaxel_core::Timestamp;
use vaxel_core::route::{self, OpenCache};
use vaxel_core::site::{GroupIdx, Site};

/// The service level goal staffing aims at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Goal {
    /// "Answered within" threshold, seconds.
    pub within_s: f64,
    /// Share to answer within it, in `[0, 1)`.
    pub target: f64,
}

/// The staffing figures of one load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Staffing {
    /// Offered traffic (Erlangs).
    pub traffic: f64,
    /// Erlang C: the fewest agents reaching the goal, with their service level, ASA (mean
    /// wait of all callers) and occupancy.
    pub agents: u32,
    pub service_level: f64,
    pub asa_s: f64,
    pub occupancy: f64,
    /// Erlang A with exponential patience, when a patience is given.
    pub erlang_a: Option<StaffingA>,
}

/// Erlang A figures: the fewest agents reaching the goal (share of all callers answered
/// within the threshold), that service level, the share who abandon and the ASA of the
/// answered callers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StaffingA {
    pub agents: u32,
    pub service_level: f64,
    pub abandon: f64,
    pub asa_s: f64,
}

/// Staffs `rate_per_s` calls per second with handling time `aht_s` for `goal`.
#[must_use]
pub fn staff(rate_per_s: f64, aht_s: f64, goal: Goal, patience_s: Option<f64>) -> Staffing {
    let traffic = rate_per_s * aht_s;
    if traffic <= 0.0 || !traffic.is_finite() {
        return Staffing {
            traffic: traffic.max(0.0),
            agents: 0,
            service_level: 1.0,
            asa_s: 0.0,
            occupancy: 0.0,
            erlang_a: None,
        };
    }
    let agents = erlang::agents_needed(traffic, aht_s, goal.within_s, goal.target)
        .unwrap_or(u32::MAX)
        .max(1);
    let erlang_a = patience_s.and_then(|p| staff_a(rate_per_s, aht_s, p, goal, agents));
    Staffing {
        traffic,
        agents,
        service_level: erlang::service_level(agents, traffic, aht_s, goal.within_s),
        asa_s: erlang::asa_s(agents, traffic, aht_s),
        occupancy: traffic / f64::from(agents),
        erlang_a,
    }
}

/// Erlang A staffing, searched from the Erlang C answer `start` (usually a few steps away;
/// the service level rises with every agent).
fn staff_a(rate: f64, aht_s: f64, patience_s: f64, goal: Goal, start: u32) -> Option<StaffingA> {
    let sl =
        |n: u32| ErlangA::new(n, rate, aht_s, patience_s).map(|m| m.service_level(goal.within_s));
    let meets = |n: u32| sl(n).is_some_and(|s| s >= goal.target);
    let mut n = start;
    if meets(n) {
        while n > 0 && meets(n - 1) {
            n -= 1;
        }
    } else {
        let limit = start.saturating_add(100_000);
        while !meets(n) {
            n += 1;
            if n >= limit {
                return None;
            }
        }
    }
    let m = ErlangA::new(n, rate, aht_s, patience_s)?;
    Some(StaffingA {
        agents: n,
        service_level: m.service_level(goal.within_s),
        abandon: m.p_abandon(),
        asa_s: m.asa_s(),
    })
}

/// Calls and handling time (talk + wrap-up) of one group in one interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    pub calls: u64,
    pub handle_ms: u64,
}

/// One complete interval of local time and the load of each answer group in it (indexed
/// like the site's groups).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Start, in local milliseconds since the epoch (for the label), and as an instant.
    pub local_start_ms: i64,
    pub utc_start: Timestamp,
    pub loads: Vec<Load>,
}

impl Interval {
    /// The local start as `YYYY-MM-DD HH:MM`.
    #[must_use]
    pub fn label(&self) -> String {
        let days = self.local_start_ms.div_euclid(86_400_000);
        let in_day = self.local_start_ms.rem_euclid(86_400_000) / 60_000;
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", in_day / 60, in_day % 60)
    }
}

/// The traffic of a trace, interval by interval of local time and group by group: a call
/// belongs to the group its entry and menu digits route to (opening hours at its arrival
/// included; overflow later on is not followed), its handling time is its talk plus its
/// wrap-up (the group's default when the trace leaves it empty). Fed in trace order, it
/// hands back each interval once complete: constant memory for a year of calls.
#[derive(Debug)]
pub struct TraceTraffic<'s> {
    site: &'s Site,
    /// Only this group is counted, when given.
    only: Option<GroupIdx>,
    interval_ms: u64,
    open: OpenCache,
    fmt: TimeFormatter,
    loads: Vec<Load>,
    /// The current interval: its local index and UTC offset (minutes).
    current: Option<(i64, i32)>,
    /// Calls read, and those that reached no answer group.
    pub calls: u64,
    pub unrouted: u64,
}

impl<'s> TraceTraffic<'s> {
    #[must_use]
    pub fn new(site: &'s Site, interval_ms: u64, only: Option<GroupIdx>) -> TraceTraffic<'s> {
        TraceTraffic {
            site,
            only,
            interval_ms: interval_ms.max(1),
            open: OpenCache::new(site),
            fmt: TimeFormatter::new(site.timezone.clone()),
            loads: vec![Load::default(); site.groups.len()],
            current: None,
            calls: 0,
            unrouted: 0,
        }
    }

    /// Counts `call`; returns the interval before it when `call` is the first of a new one.
    pub fn add(&mut self, call: &TraceCall) -> Option<Interval> {
        self.calls += 1;
        let offset = self.fmt.offset_min(call.arrival);
        let local_ms =
            i64::try_from(call.arrival.0).unwrap_or(i64::MAX) + i64::from(offset) * 60_000;
        let key = (local_ms.div_euclid(self.interval_ms as i64), offset);
        let done = if self.current == Some(key) {
            None
        } else {
            self.current.replace(key).map(|k| self.take(k))
        };
        // Where the entry and menu digits lead, the caller answering each menu at once.
        let site = self.site;
        match route::route(site, &mut self.open, &call.to, call.arrival, &call.digits).group() {
            None => self.unrouted += 1,
            Some(g) if self.only.is_some_and(|o| o != g) => {}
            Some(g) => {
                let wrapup = call.wrapup_ms.unwrap_or(site.groups[g.ix()].wrapup_ms);
                let l = &mut self.loads[g.ix()];
                l.calls += 1;
                l.handle_ms += call.talk_ms + wrapup;
            }
        }
        done
    }

    /// The last interval, once the trace is read.
    pub fn finish(&mut self) -> Option<Interval> {
        self.current.take().map(|k| self.take(k))
    }

    fn take(&mut self, (key, offset_min): (i64, i32)) -> Interval {
        let local_start_ms = key * self.interval_ms as i64;
        let utc_start = local_start_ms - i64::from(offset_min) * 60_000;
        let fresh = vec![Load::default(); self.loads.len()];
        Interval {
            local_start_ms,
            utc_start: Timestamp(u64::try_from(utc_start).unwrap_or(0)),
            loads: std::mem::replace(&mut self.loads, fresh),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn textbook_call_centre() {
        // 100 calls in 30 minutes, AHT 180 s: 10 Erlangs; 80 % within 20 s needs 14
        // agents, whose service level is 0.888 (values of erlang.rs's tests).
        let goal = Goal {
            within_s: 20.0,
            target: 0.8,
        };
        let s = staff(100.0 / 1800.0, 180.0, goal, None);
        close(s.traffic, 10.0, 1e-12);
        assert_eq!(s.agents, 14);
        close(s.service_level, 0.888_350_019_179_467, 1e-12);
        close(s.occupancy, 10.0 / 14.0, 1e-12);
        assert_eq!(s.erlang_a, None);
        let s = staff(0.0, 180.0, goal, Some(60.0));
        assert_eq!(s.agents, 0);
    }

    #[test]
    fn erlang_a_search_matches_the_library() {
        let goal = Goal {
            within_s: 20.0,
            target: 0.8,
        };
        for (rate, aht, patience) in [
            (10.0 / 180.0, 180.0, 120.0),
            (100.0 / 1800.0, 180.0, 30.0),
            (1.0, 240.0, 600.0),
            (0.001, 180.0, 5.0),
            (2.0, 180.0, 1.0),
        ] {
            let s = staff(rate, aht, goal, Some(patience));
            let a = s
                .erlang_a
                .unwrap_or_else(|| panic!("no Erlang A for {rate}"));
            assert_eq!(
                Some(a.agents),
                ErlangA::agents_needed(rate, aht, patience, 20.0, 0.8),
                "{rate} {aht} {patience}"
            );
            assert!(a.service_level >= 0.8);
        }
    }

    fn call(to: &str, arrival_ms: u64, talk_ms: u64, wrapup_ms: Option<u64>) -> TraceCall {
        TraceCall {
            call_id: format!("c{arrival_ms}"),
            arrival: Timestamp(arrival_ms),
            to: to.to_owned(),
            from: "+46701234567".to_owned(),
            digits: String::new(),
            patience_ms: None,
            talk_ms,
            wrapup_ms,
            case_type: None,
            resolved: None,
            accept_callback: false,
        }
    }

    #[test]
    fn trace_traffic_by_interval_and_group() {
        let site = vaxel_config::stockholm()
            .unwrap_or_else(|d| panic!("the built-in city: {d:?}"))
            .site;
        // Monday 2 March 2026, 10:05 local (UTC+1).
        let t0 = 1_772_442_300_000;
        let to = site.entries[0].number.to_string();
        let mut open = OpenCache::new(&site);
        let g = route::route(&site, &mut open, &to, Timestamp(t0), "")
            .group()
            .unwrap_or_else(|| panic!("entry 0 reaches no group at 10:05"));
        let default_wrapup = site.groups[g.ix()].wrapup_ms;
        let mut traffic = TraceTraffic::new(&site, 30 * 60_000, None);
        assert_eq!(traffic.add(&call(&to, t0, 60_000, None)), None);
        assert_eq!(
            traffic.add(&call(&to, t0 + 600_000, 30_000, Some(5_000))),
            None
        );
        let done = traffic.add(&call(&to, t0 + 2_400_000, 1_000, Some(0)));
        let done = done.unwrap_or_else(|| panic!("10:45 starts a new interval"));
        assert_eq!(done.label(), "2026-03-02 10:00");
        assert_eq!(done.utc_start, Timestamp(t0 - 300_000));
        let expected = Load {
            calls: 2,
            handle_ms: 60_000 + default_wrapup + 30_000 + 5_000,
        };
        assert_eq!(done.loads[g.ix()], expected);
        assert_eq!(done.loads.iter().map(|l| l.calls).sum::<u64>(), 2);
        assert_eq!(
            traffic.add(&call("+4699", t0 + 2_460_000, 1_000, None)),
            None
        );
        let last = traffic
            .finish()
            .unwrap_or_else(|| panic!("the last interval"));
        assert_eq!(last.label(), "2026-03-02 10:30");
        assert_eq!(last.loads[g.ix()].calls, 1);
        assert_eq!((traffic.calls, traffic.unrouted), (4, 1));
        assert_eq!(traffic.finish(), None);
    }
}
