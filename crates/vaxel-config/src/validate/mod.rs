//! [`RawSite`] → the engine's typed [`Site`], checking everything on the way: every
//! reference resolves, every number is in range, every calendar parses, and the routing
//! graph has no loops, no dead ends an agent could never serve, and nothing unreachable.
//! All problems are collected; none stops the others from being found.

mod agents;
mod calendars;
mod entries;
mod graph;
mod groups;
mod menus;
mod overflow;
mod site;
#[cfg(test)]
mod tests;
mod tokens;
mod values;

pub use tokens::{AgentTokens, agent_tokens_file, check_agent_tokens};

use graph::Edge;
use menus::menu_edges_of;
use values::{e164_problem, option_key_ok};

use crate::path::{self, key};
use crate::raw::{RawAgent, RawGroup, RawMenu, RawOverflow, RawSite};
use crate::suggest::{did_you_mean, suggest};
use crate::{Diagnostic, Severity};
use jiff::tz::TimeZone;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use vaxel_core::calendar::{Calendar, parse_date, parse_day_key, parse_ranges};
use vaxel_core::holidays::HolidayRule;
use vaxel_core::site::{
    AgentDef, AgentIdx, Auth, CalendarIdx, CallbackPolicy, Condition, Crisis, DirectoryEntry,
    Entry, EntryIdx, Group, GroupIdx, LangPolicy, Menu, MenuIdx, OverflowMode, OverflowRule,
    PlatformPolicy, Site, SkillIdx, Strategy, Target, Text, Widen, skill_level,
};

/// A site that passed validation, with the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Validated {
    pub site: Site,
    /// `[records]`: the daemon's copy of the call records in PostgreSQL, if any.
    pub records: crate::records::RecordsSink,
    /// `[cluster]`: the settings shared by a cluster's nodes, if the file has the section.
    pub cluster: Option<crate::cluster::ClusterSection>,
    pub warnings: Vec<Diagnostic>,
}

/// The values the typed site gets for keys the file leaves out (docs/configuration.md).
pub mod defaults {
    /// `site.service_level_s`: "answered within 20 s".
    pub const SERVICE_LEVEL_S: f64 = 20.0;
    /// `site.service_level_target`.
    pub const SERVICE_LEVEL_TARGET: f64 = 0.8;
    /// `site.seed`.
    pub const SEED: u64 = 0;
    /// `site.default_handle_s`.
    pub const DEFAULT_HANDLE_S: f64 = 180.0;
    /// `menus[].timeout_s`.
    pub const MENU_TIMEOUT_S: u32 = 8;
    /// `menus[].retries`.
    pub const MENU_RETRIES: u32 = 2;
    /// `groups[].strategy`.
    pub const STRATEGY: &str = "longest-idle";
    /// `groups[].wrapup_s`.
    pub const WRAPUP_S: f64 = 0.0;
    /// `groups[].ring_s`.
    pub const RING_S: f64 = 20.0;
    /// `groups[].max_no_answer`.
    pub const MAX_NO_ANSWER: u32 = 3;
    /// `groups[].announce_every_s` (0 = only when the call enters the queue).
    pub const ANNOUNCE_EVERY_S: f64 = 0.0;
    /// `callbacks.prompt` and `groups[].callback.prompt`.
    pub const CALLBACK_PROMPT: &str = "callback-offer";
    /// `callbacks.attempts`.
    pub const CALLBACK_ATTEMPTS: u32 = 3;
    /// `callbacks.retry_delay_s`.
    pub const CALLBACK_RETRY_DELAY_S: f64 = 300.0;
    /// `platform.grace_s`.
    pub const PLATFORM_GRACE_S: f64 = 30.0;
    /// `platform.buffer_commands`.
    pub const PLATFORM_BUFFER_COMMANDS: usize = 10_000;
    /// `platform.unacked_bytes`: at about a hundred bytes a command, tens of thousands of
    /// commands, minutes of a city's traffic for one platform.
    pub const PLATFORM_UNACKED_BYTES: usize = 4 << 20;
    /// `platform.ring_grace_s`.
    pub const PLATFORM_RING_GRACE_S: f64 = 5.0;
    /// `platform.park_timeout_s`.
    pub const PLATFORM_PARK_TIMEOUT_S: f64 = 300.0;
}

/// Priorities outside this range are allowed (they fit an `i32`) but get a warning.
pub const SENSIBLE_PRIORITY: std::ops::RangeInclusive<i64> = -1000..=1000;

/// Tokens shorter than this get a warning.
pub const MIN_TOKEN_LEN: usize = 16;

/// Overflow rules one group may have: the engine records which were applied to a call as
/// one bit each of a 32-bit set.
pub const MAX_OVERFLOW_RULES: usize = 32;

/// Widen steps one group may have: the engine counts a call's step in a byte, and keeps a
/// queue per step.
pub const MAX_WIDEN_STEPS: usize = 32;

const OVERFLOW_WHEN: [&str; 4] = ["wait_over_s", "queue_over", "no_agents", "ewt_over_s"];
const OVERFLOW_MODES: [&str; 2] = ["move", "expand"];
const DAY_KEYS: [&str; 13] = [
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri", "sat-sun", "mon-sun", "mon-sat",
    "holidays", "special",
];
const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Checks a parsed site and builds the engine's typed site. `Err` holds every diagnostic
/// (errors and warnings), sorted stably in file order; `Ok` carries the warnings.
pub fn validate(raw: &RawSite) -> Result<Validated, Vec<Diagnostic>> {
    let mut v = Validator::new(raw);
    let site = v.build();
    let mut diags = v.diags;
    let (records, mut found) = crate::records::records(raw);
    diags.append(&mut found);
    let (cluster, mut found) = crate::cluster::cluster(raw);
    diags.append(&mut found);
    diags.sort_by_key(|d| path::order(&d.path));
    if diags.iter().any(|d| d.severity == Severity::Error) {
        Err(diags)
    } else {
        Ok(Validated {
            site,
            records,
            cluster,
            warnings: diags,
        })
    }
}

fn ms(seconds: f64) -> u64 {
    // Only called on finite, range-checked, non-negative values.
    (seconds * 1000.0).round() as u64
}

fn text(s: &str) -> Text {
    Text::from(s)
}

struct Validator<'r> {
    raw: &'r RawSite,
    diags: Vec<Diagnostic>,
    /// First occurrence of each id.
    entry_ix: FxHashMap<&'r str, usize>,
    menu_ix: FxHashMap<&'r str, usize>,
    group_ix: FxHashMap<&'r str, usize>,
    agent_ix: FxHashMap<&'r str, usize>,
    calendar_ix: FxHashMap<&'r str, usize>,
    entry_by_number: FxHashMap<&'r str, usize>,
    /// Skill name → index in the sorted skill list.
    skill_ix: BTreeMap<&'r str, SkillIdx>,
    /// Skills at least one agent has (sorted, for did-you-mean).
    agent_skills: BTreeSet<&'r str>,
    /// A reference did not resolve: the graph is incomplete, so reachability is not judged.
    bad_refs: bool,
    calendars_used: BTreeSet<usize>,
    /// Per group: the file index of each overflow rule that resolved.
    overflow_src: Vec<Vec<usize>>,
}

impl<'r> Validator<'r> {
    fn new(raw: &'r RawSite) -> Self {
        Validator {
            raw,
            diags: Vec::new(),
            entry_ix: FxHashMap::default(),
            menu_ix: FxHashMap::default(),
            group_ix: FxHashMap::default(),
            agent_ix: FxHashMap::default(),
            calendar_ix: FxHashMap::default(),
            entry_by_number: FxHashMap::default(),
            skill_ix: BTreeMap::new(),
            agent_skills: BTreeSet::new(),
            bad_refs: false,
            calendars_used: BTreeSet::new(),
            overflow_src: Vec::new(),
        }
    }

    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(path, msg));
    }

    fn warn(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(path, msg));
    }

    fn build(&mut self) -> Site {
        let raw = self.raw;
        self.index_names();
        let (name, timezone, service_level_ms, service_level_target, seed, default_handle_ms) =
            self.site_info();
        let calendars = self.calendars();
        self.intern_skills();
        let callbacks = self.callbacks();
        let entries = self.entries();
        let menus = self.menus();
        let mut menu_edges = Vec::new();
        for (i, m) in menus.iter().enumerate() {
            menu_edges.push(menu_edges_of(i, m));
        }
        let groups: Vec<Group> = raw
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| self.group(i, g, &callbacks.prompt))
            .collect();
        let agents = self.agents();
        let directory = self.directory();
        let auth = self.auth();
        let crisis = self.crisis();
        let platform = self.platform();
        #[allow(clippy::cast_precision_loss)] // milliseconds of a service level: below 2^52
        let (wallboard, mut found) = crate::wallboard::wallboard(
            raw,
            service_level_ms as f64 / 1000.0,
            service_level_target,
        );
        self.diags.append(&mut found);

        for (i, id) in raw.calendars.keys().enumerate() {
            if !self.calendars_used.contains(&i) {
                self.warn(
                    format!("calendars.{}", key(id)),
                    "no entry or group uses this calendar",
                );
            }
        }
        self.menu_loops(&menu_edges);
        self.overflow_cycles(&groups);
        if !self.bad_refs {
            self.reachability(&entries, &menus, &groups, crisis.as_ref());
        }
        self.serveability(&groups, &agents);

        let skills = self.skill_ix.keys().map(|s| text(s)).collect();
        let mut site = Site {
            name,
            timezone,
            service_level_ms,
            service_level_target,
            seed,
            default_handle_ms,
            calendars,
            entries,
            menus,
            groups,
            agents,
            skills,
            directory,
            crisis,
            callbacks,
            platform,
            auth,
            wallboard,
            entry_by_number: FxHashMap::default(),
            entry_by_id: FxHashMap::default(),
            group_by_id: FxHashMap::default(),
            agent_by_id: FxHashMap::default(),
            menu_by_id: FxHashMap::default(),
        };
        fill_maps(&mut site);
        site
    }
}

fn fill_maps(site: &mut Site) {
    for (i, e) in site.entries.iter().enumerate() {
        let ix = EntryIdx(u32::try_from(i).unwrap_or(u32::MAX));
        site.entry_by_number.entry(e.number.clone()).or_insert(ix);
        site.entry_by_id.entry(e.id.clone()).or_insert(ix);
    }
    for (i, g) in site.groups.iter().enumerate() {
        let ix = GroupIdx(u32::try_from(i).unwrap_or(u32::MAX));
        site.group_by_id.entry(g.id.clone()).or_insert(ix);
    }
    for (i, a) in site.agents.iter().enumerate() {
        let ix = AgentIdx(u32::try_from(i).unwrap_or(u32::MAX));
        site.agent_by_id.entry(a.id.clone()).or_insert(ix);
    }
    for (i, m) in site.menus.iter().enumerate() {
        let ix = MenuIdx(u32::try_from(i).unwrap_or(u32::MAX));
        site.menu_by_id.entry(m.id.clone()).or_insert(ix);
    }
}
