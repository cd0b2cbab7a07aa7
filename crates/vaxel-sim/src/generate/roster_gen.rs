//! The roster generator: staff each answer group for the load the trace generator's model
//! expects, interval by interval, and give the shifts to the site's agents.
//!
//! 1. Per local day and 30-minute interval, the expected calls of each group: the bins'
//!    volume × the entries' weights (open or closed at that time) × the probability that a
//!    caller of the entry ends in the group (menus walked with the model's probabilities).
//! 2. Agents needed per interval: Erlang C for the site's service level (`service_level_s`,
//!    `service_level_target`) with the group's handle time (mean talk + wrap-up + ring).
//! 3. Shifts per group and day, greedily: at the first interval short of agents, start a
//!    shift of 8, 6 or 4 hours (on the half hour), the length covering the most short
//!    intervals per hour worked; until every interval is covered.
//! 4. Each shift goes to an agent who qualifies for the group without widening (with
//!    widening when none does), has no shift that day and at most `max_week_hours` a week:
//!    specialists (fewest groups) first, then the fewest hours worked that week, that
//!    year, then site order. A shift no agent can take is counted in
//!    [`RosterPlan::unfilled_shifts`] and its intervals are given up for that group.
//!
//! Pooling: an agent serving `k` groups counts `1/k` of an agent toward each of them, so
//! the groups staffed later in a day (scarce groups go first) count the help of agents
//! already rostered for others. The same split weighs the trace generator's choices, so
//! demand and staff agree.

use super::profile::DayModel;
use super::routing::SiteModel;
use super::{GenConfig, GenError, day_bins, day_number};
use crate::erlang;
use crate::roster::Shift;
use crate::timefmt::TimeFormatter;
use vaxel_core::Timestamp;
use vaxel_core::route::{OpenCache, Start};
use vaxel_core::site::Site;

/// Bins (5 minutes) per staffing interval (30 minutes).
const BINS_PER_SLOT: usize = 6;
/// Shift lengths in 30-minute slots: 8, 6 and 4 hours.
const SHIFT_SLOTS: [usize; 3] = [16, 12, 8];

/// A generated roster and how well it could be staffed.
#[derive(Clone, Debug, PartialEq)]
pub struct RosterPlan {
    /// Sorted by start, then agent.
    pub shifts: Vec<Shift>,
    /// Agent-hours Erlang C asks for (sum over intervals and groups).
    pub required_hours: f64,
    /// Agent-hours in the shifts.
    pub rostered_hours: f64,
    /// Shifts no free qualified agent could take.
    pub unfilled_shifts: u64,
    /// The same per group, in site order.
    pub groups: Vec<GroupStaffing>,
}

/// How one group could be staffed.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupStaffing {
    pub group: String,
    /// Agents the roster may give the group's shifts to.
    pub eligible_agents: usize,
    pub expected_calls: f64,
    pub required_hours: f64,
    pub rostered_hours: f64,
    pub unfilled_shifts: u64,
}

/// Builds a [`RosterPlan`] for the traffic a [`GenConfig`] describes.
#[derive(Debug)]
pub struct RosterGenerator<'a> {
    site: &'a Site,
    cfg: GenConfig,
    /// Weekly cap per agent.
    pub max_week_hours: f64,
}

impl<'a> RosterGenerator<'a> {
    pub fn new(site: &'a Site, cfg: GenConfig) -> Result<RosterGenerator<'a>, GenError> {
        cfg.validate()?;
        if site.entries.is_empty() {
            return Err(GenError::NoEntries);
        }
        Ok(RosterGenerator {
            site,
            cfg,
            max_week_hours: 40.0,
        })
    }

    /// Expected calls per 30-minute slot for each group on `day`, with each slot's start.
    fn demand(
        &self,
        day: i64,
        days: &DayModel,
        model: &SiteModel,
        route_dist: &[(Vec<f64>, Vec<f64>)],
        open: &mut OpenCache,
        fmt: &mut TimeFormatter,
    ) -> (Vec<u64>, Vec<Vec<f64>>) {
        let site = self.site;
        let bins = day_bins(day, days, &site.timezone, fmt);
        let ng = site.groups.len();
        let mut starts = Vec::new();
        let mut calls: Vec<Vec<f64>> = Vec::new();
        for (i, b) in bins.iter().enumerate() {
            if i % BINS_PER_SLOT == 0 {
                starts.push(b.start_ms);
                calls.push(vec![0.0; ng]);
            }
            let Some(slot) = calls.last_mut() else {
                continue;
            };
            let at = Timestamp(b.start_ms);
            let weights: Vec<(f64, bool)> = (0..site.entries.len())
                .map(|e| {
                    let o = open.open(site, e, at);
                    let w = model.entry_weight[e] * if o { 1.0 } else { self.cfg.closed_share };
                    (w, o)
                })
                .collect();
            let total: f64 = weights.iter().map(|w| w.0).sum();
            if total <= 0.0 {
                continue;
            }
            for (e, &(w, o)) in weights.iter().enumerate() {
                let dist = if o {
                    &route_dist[e].0
                } else {
                    &route_dist[e].1
                };
                let n = b.calls * w / total;
                for (s, p) in slot.iter_mut().zip(dist) {
                    *s += n * p;
                }
            }
        }
        (starts, calls)
    }

    /// The roster.
    #[must_use]
    pub fn generate(&self) -> RosterPlan {
        let site = self.site;
        let cfg = &self.cfg;
        let model = SiteModel::new(site, cfg);
        let first = day_number(cfg.start);
        let surge: Vec<(i64, f64)> = cfg.surge.iter().map(|&(d, f)| (day_number(d), f)).collect();
        let days = DayModel::new(cfg.calls_per_year, first, i64::from(cfg.days), &surge);
        let ng = site.groups.len();
        let route_dist: Vec<(Vec<f64>, Vec<f64>)> = site
            .entries
            .iter()
            .map(|e| {
                let mut dist = [vec![0.0; ng], vec![0.0; ng]];
                for (open, d) in [true, false].into_iter().zip(&mut dist) {
                    if let Start::Route { target, .. } = e.start(open) {
                        model.expected_groups(target, 1.0, d);
                    }
                }
                let [open, closed] = dist;
                (open, closed)
            })
            .collect();
        // Per agent, the groups it serves without widening; per group, those agents and
        // the ones that qualify only after widening (the fallback).
        let serves: Vec<Vec<usize>> = site
            .agents
            .iter()
            .map(|a| {
                (0..ng)
                    .filter(|&g| site.groups[g].qualifying_step(&a.skills) == Some(0))
                    .collect()
            })
            .collect();
        let primary: Vec<Vec<usize>> = (0..ng)
            .map(|g| {
                (0..site.agents.len())
                    .filter(|&a| serves[a].contains(&g))
                    .collect()
            })
            .collect();
        let fallback: Vec<Vec<usize>> = (0..ng)
            .map(|g| {
                (0..site.agents.len())
                    .filter(|&a| {
                        !serves[a].contains(&g)
                            && site.groups[g]
                                .qualifying_step(&site.agents[a].skills)
                                .is_some()
                    })
                    .collect()
            })
            .collect();
        // Scarce groups choose first.
        let mut group_order: Vec<usize> = (0..ng).collect();
        group_order.sort_by_key(|&g| (primary[g].len(), g));

        let sl_s = site.service_level_ms as f64 / 1000.0;
        let target = site.service_level_target.clamp(0.0, 0.999_999);
        let mut open = OpenCache::new(site);
        let mut fmt = TimeFormatter::new(site.timezone.clone());
        let mut week_hours = vec![0.0f64; site.agents.len()];
        let mut year_hours = vec![0.0f64; site.agents.len()];
        let mut current_week = i64::MIN;
        let mut plan = RosterPlan {
            shifts: Vec::new(),
            required_hours: 0.0,
            rostered_hours: 0.0,
            unfilled_shifts: 0,
            groups: site
                .groups
                .iter()
                .zip(&primary)
                .map(|(g, e)| GroupStaffing {
                    group: g.id.to_string(),
                    eligible_agents: e.len(),
                    expected_calls: 0.0,
                    required_hours: 0.0,
                    rostered_hours: 0.0,
                    unfilled_shifts: 0,
                })
                .collect(),
        };
        for day in first..first + i64::from(cfg.days) {
            let week = (day + 3).div_euclid(7);
            if week != current_week {
                current_week = week;
                week_hours.iter_mut().for_each(|h| *h = 0.0);
            }
            let (starts, calls) = self.demand(day, &days, &model, &route_dist, &mut open, &mut fmt);
            let day_end = super::local_midnight(day + 1, &site.timezone);
            let mut busy_today = vec![false; site.agents.len()];
            // Agents present per slot and group, each agent shared among its groups.
            let mut have = vec![vec![0.0f64; ng]; starts.len()];
            for &g in &group_order {
                let handle = model.groups[g].handle_s().max(1.0);
                let need: Vec<u32> = calls
                    .iter()
                    .map(|c| {
                        let traffic = c[g] / 1800.0 * handle;
                        if traffic < 1e-3 {
                            0
                        } else {
                            erlang::agents_needed(traffic, handle, sl_s, target).unwrap_or(0)
                        }
                    })
                    .collect();
                let required = need.iter().map(|&n| f64::from(n) * 0.5).sum::<f64>();
                plan.required_hours += required;
                plan.groups[g].required_hours += required;
                plan.groups[g].expected_calls += calls.iter().map(|c| c[g]).sum::<f64>();
                loop {
                    let mine: Vec<f64> = have.iter().map(|h| h[g]).collect();
                    let Some((s0, len)) = next_shift(&need, &mine) else {
                        break;
                    };
                    let start = starts[s0];
                    let end = starts.get(s0 + len).copied().unwrap_or(day_end);
                    let hours = (end - start) as f64 / 3_600_000.0;
                    let free = |a: &usize| {
                        !busy_today[*a] && week_hours[*a] + hours <= self.max_week_hours
                    };
                    // Specialists first, then whoever has worked least.
                    let by_load = |a: &usize, b: &usize| {
                        serves[*a]
                            .len()
                            .cmp(&serves[*b].len())
                            .then(week_hours[*a].total_cmp(&week_hours[*b]))
                            .then(year_hours[*a].total_cmp(&year_hours[*b]))
                            .then(a.cmp(b))
                    };
                    let pick = primary[g]
                        .iter()
                        .copied()
                        .filter(free)
                        .min_by(by_load)
                        .or_else(|| fallback[g].iter().copied().filter(free).min_by(by_load));
                    let slots = s0..s0 + len;
                    match pick {
                        Some(a) => {
                            busy_today[a] = true;
                            week_hours[a] += hours;
                            year_hours[a] += hours;
                            plan.rostered_hours += hours;
                            plan.groups[g].rostered_hours += hours;
                            let share = 1.0 / serves[a].len().max(1) as f64;
                            for h in &mut have[slots] {
                                if serves[a].contains(&g) {
                                    for &x in &serves[a] {
                                        h[x] += share;
                                    }
                                } else {
                                    h[g] += 1.0;
                                }
                            }
                            plan.shifts.push(Shift {
                                agent: site.agents[a].id.to_string(),
                                start: Timestamp(start),
                                end: Timestamp(end),
                            });
                        }
                        None => {
                            plan.unfilled_shifts += 1;
                            plan.groups[g].unfilled_shifts += 1;
                            // Give up on these intervals for this group today.
                            for (h, &n) in have[slots.clone()].iter_mut().zip(&need[slots]) {
                                h[g] = h[g].max(f64::from(n));
                            }
                        }
                    }
                }
            }
        }
        plan.shifts
            .sort_by(|a, b| (a.start, &a.agent, a.end).cmp(&(b.start, &b.agent, b.end)));
        plan
    }
}

/// The next shift `(first slot, slots)` for a group whose slots need `need` agents and
/// have `have`: from the first slot short of agents, the block length (8, 6 or 4 hours,
/// kept inside the day) covering the most short slots per slot worked, longer on a tie.
fn next_shift(need: &[u32], have: &[f64]) -> Option<(usize, usize)> {
    let n = need.len();
    let short = |s: usize| have[s] + 1e-9 < f64::from(need[s]);
    let s0 = (0..n).find(|&s| short(s))?;
    let mut best = (0.0, s0, 1usize.min(n));
    for &len in &SHIFT_SLOTS {
        let len = len.min(n);
        let start = s0.min(n - len);
        let covered = (start..start + len).filter(|&s| short(s)).count();
        let score = covered as f64 / len as f64;
        if score > best.0 + 1e-12 {
            best = (score, start, len);
        }
    }
    Some((best.1, best.2))
}

/// Shifts for one group alone (each agent wholly its own), for tests.
#[cfg(test)]
fn cover(need: &[u32]) -> Vec<(usize, usize)> {
    let mut have = vec![0.0; need.len()];
    let mut shifts = Vec::new();
    while let Some((s, l)) = next_shift(need, &have) {
        for h in &mut have[s..s + l] {
            *h += 1.0;
        }
        shifts.push((s, l));
    }
    shifts
}

#[cfg(test)]
mod tests {
    use super::cover;

    #[test]
    fn cover_meets_every_interval_with_block_shifts() {
        // 48 slots: one agent 08:00-17:00, two 10:00-12:00.
        let mut need = vec![0u32; 48];
        need[16..34].iter_mut().for_each(|n| *n = 1);
        need[20..24].iter_mut().for_each(|n| *n = 2);
        let shifts = cover(&need);
        let mut have = [0u32; 48];
        for &(s, l) in &shifts {
            assert!([16, 12, 8].contains(&l));
            for h in &mut have[s..s + l] {
                *h += 1;
            }
        }
        assert!(have.iter().zip(&need).all(|(h, n)| h >= n));
        assert_eq!(shifts[0], (16, 16), "an 8-hour shift from 08:00");
        assert!(shifts.len() <= 3, "{shifts:?}");
        // Late demand: the shift ends with the day.
        let mut need = vec![0u32; 48];
        need[47] = 1;
        assert_eq!(cover(&need), vec![(40, 8)]);
        assert!(cover(&[0; 46]).is_empty());
    }
}
