//! What callers choose, drawn from the site itself: how often each entry is dialled, which
//! menu options callers press (some press nothing, some press a key the menu lacks), and
//! per answer group the talk times, case types and how often a matter is solved at once.
//! The weights come from the seed, so another seed gives another but equally plausible
//! city. The same model gives the trace generator its draws and the roster generator the
//! expected load of each group.

use super::GenConfig;
use super::rng::Rng;
use vaxel_core::site::{GroupIdx, Site, Target, Text};

/// Menu levels followed at most (validation already refuses menu loops).
const MAX_DEPTH: usize = 8;

/// Generic kinds of matter; each group's case types are its id with one of these.
const CASE_KINDS: [&str; 6] = [
    "fraga",
    "arendestatus",
    "ansokan",
    "felanmalan",
    "klagomal",
    "hanvisning",
];

#[derive(Clone, Debug)]
struct MenuModel {
    /// Options' keys and targets, with the probability of each among valid choices.
    options: Vec<(Text, Target)>,
    cumulative: Vec<f64>,
    probs: Vec<f64>,
    /// Single keys the menu does not offer (for "invalid" presses).
    invalid: Vec<char>,
    default: Target,
}

/// Per answer group: how its calls go.
#[derive(Clone, Debug)]
pub struct GroupModel {
    /// Mean talk time (3–5 minutes, varied per group).
    pub talk_mean_s: f64,
    /// Log-scale standard deviation of the lognormal talk time.
    pub talk_sigma: f64,
    /// The group's default wrap-up and ring time.
    pub wrapup_s: f64,
    pub ring_s: f64,
    /// Case types and their cumulative weights.
    pub case_types: Vec<String>,
    case_cumulative: Vec<f64>,
    /// Share of matters solved at first contact.
    pub resolved_share: f64,
}

impl GroupModel {
    /// Mean time an agent is occupied by one answered call.
    #[must_use]
    pub fn handle_s(&self) -> f64 {
        self.talk_mean_s + self.wrapup_s + self.ring_s
    }
}

/// The whole choice model of a site.
#[derive(Clone, Debug)]
pub struct SiteModel {
    /// Relative share of each entry's calls while it is open.
    pub entry_weight: Vec<f64>,
    menus: Vec<MenuModel>,
    pub groups: Vec<GroupModel>,
    no_choice: f64,
    invalid_choice: f64,
}

/// Agents able to serve each group without widening, each agent counted as
/// 1 / (number of groups it serves).
fn group_capacity(site: &Site) -> Vec<f64> {
    let mut cap = vec![0.0; site.groups.len()];
    for a in &site.agents {
        let serves: Vec<usize> = (0..site.groups.len())
            .filter(|&g| site.groups[g].qualifying_step(&a.skills) == Some(0))
            .collect();
        for &g in &serves {
            cap[g] += 1.0 / serves.len() as f64;
        }
    }
    cap
}

/// What a target weighs: its group's capacity shared among the paths to it; a menu, the
/// sum of its options; an outside number or a callback, a little.
fn target_weight(site: &Site, cap: &[f64], paths: &[u32], t: &Target, depth: usize) -> f64 {
    match t {
        Target::Group(g) => (cap[g.ix()] / f64::from(paths[g.ix()].max(1))).max(0.05),
        Target::Menu(m) if depth < MAX_DEPTH => site.menus[m.ix()]
            .options
            .iter()
            .map(|(_, o)| target_weight(site, cap, paths, o, depth + 1))
            .sum::<f64>()
            .max(0.05),
        _ => 0.2,
    }
}

/// Where a caller's walk through the menus ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Walk {
    /// The keys pressed, per menu level, comma-separated (`8,1`; empty level = no choice).
    pub digits: String,
    /// The answer group reached, if any.
    pub group: Option<GroupIdx>,
}

fn cumulative(w: &[f64]) -> Vec<f64> {
    w.iter()
        .scan(0.0, |acc, &x| {
            *acc += x;
            Some(*acc)
        })
        .collect()
}

impl SiteModel {
    /// Choice weights follow the site's staffing: a group's share of the traffic is in
    /// proportion to the agents who can serve it (each agent split over the groups it
    /// serves without widening), divided among the entries and menu options that lead to
    /// it; a menu or entry weighs what it leads to. Seeded jitter (×0.5–1.5) on top.
    #[must_use]
    pub fn new(site: &Site, cfg: &GenConfig) -> SiteModel {
        let mut rng = Rng::derived(cfg.seed, 0x5173);
        let capacity = group_capacity(site);
        // How many entries and menu options lead straight to each group.
        let mut paths = vec![0u32; site.groups.len()];
        let targets = site.entries.iter().map(|e| &e.route).chain(
            site.menus
                .iter()
                .flat_map(|m| m.options.iter().map(|(_, t)| t)),
        );
        for t in targets {
            if let Target::Group(g) = t {
                paths[g.ix()] += 1;
            }
        }
        let weigh = |t: &Target| target_weight(site, &capacity, &paths, t, 0);
        let entry_weight = site
            .entries
            .iter()
            .map(|e| weigh(&e.route) * rng.range(0.5, 1.5))
            .collect();
        let menus = site
            .menus
            .iter()
            .map(|m| {
                let w: Vec<f64> = m
                    .options
                    .iter()
                    .map(|(_, t)| (weigh(t) * rng.range(0.5, 1.5)).max(1e-9))
                    .collect();
                let total: f64 = w.iter().sum();
                let invalid = "1234567890"
                    .chars()
                    .filter(|c| {
                        let mut b = [0u8; 4];
                        m.option(c.encode_utf8(&mut b)).is_none()
                    })
                    .collect();
                MenuModel {
                    options: m.options.clone(),
                    cumulative: cumulative(&w),
                    probs: w.iter().map(|x| x / total).collect(),
                    invalid,
                    default: m.default.clone(),
                }
            })
            .collect();
        let groups = site
            .groups
            .iter()
            .map(|g| {
                let n = 3 + rng.below(4) as usize;
                let start = rng.below(CASE_KINDS.len() as u64) as usize;
                let case_types: Vec<String> = (0..n)
                    .map(|i| format!("{}:{}", g.id, CASE_KINDS[(start + i) % CASE_KINDS.len()]))
                    .collect();
                // Zipf-like: the first case type is the most frequent.
                let w: Vec<f64> = (0..n).map(|i| 1.0 / (i as f64 + 1.0)).collect();
                GroupModel {
                    talk_mean_s: rng.range(180.0, 300.0),
                    talk_sigma: rng.range(0.5, 0.8),
                    wrapup_s: g.wrapup_ms as f64 / 1000.0,
                    ring_s: g.ring_ms as f64 / 1000.0,
                    case_types,
                    case_cumulative: cumulative(&w),
                    resolved_share: (cfg.resolved_share + rng.range(-0.08, 0.08)).clamp(0.0, 1.0),
                }
            })
            .collect();
        SiteModel {
            entry_weight,
            menus,
            groups,
            no_choice: cfg.no_choice_share,
            invalid_choice: cfg.invalid_choice_share,
        }
    }

    /// Draws a caller's walk from `start`.
    pub fn walk(&self, start: &Target, rng: &mut Rng) -> Walk {
        let mut levels: Vec<String> = Vec::new();
        let mut at = start.clone();
        for _ in 0..MAX_DEPTH {
            let Target::Menu(m) = &at else { break };
            let menu = &self.menus[m.ix()];
            let u = rng.f64();
            if u < self.no_choice || menu.options.is_empty() {
                levels.push(String::new());
                at = menu.default.clone();
            } else if u < self.no_choice + self.invalid_choice && !menu.invalid.is_empty() {
                let k = menu.invalid[rng.below(menu.invalid.len() as u64) as usize];
                levels.push(k.to_string());
                // The caller presses nothing more: after the retries, the defaults.
                at = self.follow_defaults(&menu.default);
                break;
            } else {
                let i = rng.pick_cumulative(&menu.cumulative).unwrap_or(0);
                levels.push(menu.options[i].0.to_string());
                at = menu.options[i].1.clone();
            }
        }
        while levels.last().is_some_and(String::is_empty) {
            levels.pop();
        }
        Walk {
            digits: levels.join(","),
            group: match at {
                Target::Group(g) => Some(g),
                _ => None,
            },
        }
    }

    /// Adds to `out[g]` the probability that a caller starting at `start` reaches group `g`,
    /// times `weight`.
    pub fn expected_groups(&self, start: &Target, weight: f64, out: &mut [f64]) {
        self.expand(start, weight, out, 0);
    }

    fn expand(&self, at: &Target, weight: f64, out: &mut [f64], depth: usize) {
        match at {
            Target::Group(g) => out[g.ix()] += weight,
            Target::Menu(m) if depth < MAX_DEPTH => {
                let menu = &self.menus[m.ix()];
                if menu.options.is_empty() {
                    self.expand(&menu.default, weight, out, depth + 1);
                    return;
                }
                let invalid = if menu.invalid.is_empty() {
                    0.0
                } else {
                    self.invalid_choice
                };
                let chose = 1.0 - self.no_choice - invalid;
                self.expand(&menu.default, weight * self.no_choice, out, depth + 1);
                let after_invalid = self.follow_defaults(&menu.default);
                self.expand(&after_invalid, weight * invalid, out, MAX_DEPTH);
                for ((_, t), p) in menu.options.iter().zip(&menu.probs) {
                    self.expand(t, weight * chose * p, out, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Where a caller who presses nothing more ends up from `at`.
    fn follow_defaults(&self, at: &Target) -> Target {
        let mut at = at.clone();
        for _ in 0..MAX_DEPTH {
            match &at {
                Target::Menu(m) => at = self.menus[m.ix()].default.clone(),
                _ => break,
            }
        }
        at
    }

    /// Draws a case type of group `g`.
    pub fn case_type(&self, g: GroupIdx, rng: &mut Rng) -> Option<&str> {
        let m = &self.groups[g.ix()];
        let i = rng.pick_cumulative(&m.case_cumulative)?;
        m.case_types.get(i).map(String::as_str)
    }
}
