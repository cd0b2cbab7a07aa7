//! Staffing figures for a load (what `vaxel staffing` prints): the fewest agents that meet
//! a service level goal by Erlang C, with the expected service level, ASA and occupancy,
//! and by Erlang A (exponential patience) when a patience is given. Kept apart from the
//! command so that it is tested as a library, without a process.

use crate::erlang::{self, ErlangA};

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
}
