//! [`RawSite`] → the engine's typed [`Site`], checking everything on the way: every
//! reference resolves, every number is in range, every calendar parses, and the routing
//! graph has no loops, no dead ends an agent could never serve, and nothing unreachable.
//! All problems are collected; none stops the others from being found.

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
    diags.sort_by_key(|d| path::order(&d.path));
    if diags.iter().any(|d| d.severity == Severity::Error) {
        Err(diags)
    } else {
        Ok(Validated {
            site,
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

/// Why a string is not an E.164 number (`+`, 2–15 digits, the first not 0), with a
/// did-you-mean when it is a national or spaced-out spelling of one.
pub(crate) fn e164_problem(n: &str) -> Option<String> {
    let ok = n.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    });
    if ok {
        return None;
    }
    let mut msg =
        format!("\"{n}\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0)");
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let guess = if n.starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("+46{rest}")
    } else {
        String::new()
    };
    if guess != n && guess.len() > 3 && e164_ok(&guess) {
        let _ = write!(msg, "; did you mean \"{guess}\"?");
    }
    Some(msg)
}

fn e164_ok(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// Whether `k` is a menu option key: 1–4 of `0-9 * #`.
fn option_key_ok(k: &str) -> bool {
    (1..=4).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

/// An edge of the routing graph, with the path of the key that makes it.
#[derive(Clone, Debug)]
struct Edge {
    to: usize,
    path: String,
    /// Menus: the edge is `default` (taken when the caller presses nothing).
    default: bool,
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

    // ---- small checks -------------------------------------------------------------------

    fn ident(&mut self, path: String, id: &str) {
        if id.is_empty() {
            self.err(path, "must not be empty");
        } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.err(path, format!("\"{id}\" must not contain spaces"));
        }
    }

    fn prompt(&mut self, path: String, p: &str) -> Text {
        if p.trim().is_empty() {
            self.err(path, "prompt must not be empty");
        }
        text(p)
    }

    fn opt_prompt(&mut self, path: String, p: Option<&String>) -> Option<Text> {
        p.map(|p| self.prompt(path, p))
    }

    /// Seconds in `lo..=hi` (file) → milliseconds; the default when absent or bad.
    fn secs(&mut self, path: String, v: Option<f64>, default: f64, lo: f64, hi: f64) -> u64 {
        let Some(v) = v else { return ms(default) };
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.err(
                path,
                format!("{v} s is out of range; use {lo}..={hi} seconds"),
            );
            return ms(default);
        }
        ms(v)
    }

    fn opt_secs(&mut self, path: String, v: Option<f64>, lo: f64, hi: f64) -> Option<u64> {
        v.map(|s| self.secs(path, Some(s), lo, lo, hi))
    }

    /// An integer in `lo..=hi`; `None` (after an error) when outside.
    fn int(&mut self, path: String, v: i64, lo: i64, hi: i64, what: &str) -> Option<i64> {
        if (lo..=hi).contains(&v) {
            Some(v)
        } else {
            self.err(path, format!("{what} {v} is out of range; use {lo}..={hi}"));
            None
        }
    }

    fn level(&mut self, path: String, v: i64) -> u8 {
        self.int(path, v, 1, 10, "level")
            .and_then(|l| u8::try_from(l).ok())
            .unwrap_or(1)
    }

    fn calendar_ref(&mut self, path: String, id: &str) -> Option<CalendarIdx> {
        if let Some(&c) = self.calendar_ix.get(id) {
            self.calendars_used.insert(c);
            return u32::try_from(c).ok().map(CalendarIdx);
        }
        let dym = did_you_mean(id, self.raw.calendars.keys().map(String::as_str));
        self.err(path, format!("no calendar \"{id}\"{dym}"));
        None
    }

    /// Resolves `menu:ID | group:ID | number:E164 | callback`. `callback_ok`: the place has a
    /// group to serve a callback in (menus, a group's overflow and on_max_wait).
    fn target(&mut self, path: String, t: &str, callback_ok: bool) -> Option<Target> {
        let kinds = ["menu", "group", "number"];
        let Some((kind, id)) = t.split_once(':') else {
            if t == "callback" {
                if callback_ok {
                    return Some(Target::Callback);
                }
                self.err(
                    path,
                    "\"callback\" needs a group to serve it; use it in a menu option or in a group's overflow or on_max_wait",
                );
                return None;
            }
            let dym = did_you_mean(t, ["callback"]);
            let msg = if dym.is_empty() {
                format!("\"{t}\" is not a target; use menu:ID, group:ID, number:+E164 or callback")
            } else {
                format!("\"{t}\" is not a target{dym}")
            };
            self.err(path, msg);
            self.bad_refs = true;
            return None;
        };
        match kind {
            "menu" => {
                if let Some(&m) = self.menu_ix.get(id) {
                    return u32::try_from(m).ok().map(|m| Target::Menu(MenuIdx(m)));
                }
                let mut dym = did_you_mean(id, self.raw.menus.iter().map(|m| m.id.as_str()));
                if dym.is_empty() && self.group_ix.contains_key(id) {
                    dym = format!("; did you mean \"group:{id}\"?");
                }
                self.err(path, format!("no menu \"{id}\"{dym}"));
                self.bad_refs = true;
                None
            }
            "group" => {
                if let Some(&g) = self.group_ix.get(id) {
                    return u32::try_from(g).ok().map(|g| Target::Group(GroupIdx(g)));
                }
                let mut dym = did_you_mean(id, self.raw.groups.iter().map(|g| g.id.as_str()));
                if dym.is_empty() && self.menu_ix.contains_key(id) {
                    dym = format!("; did you mean \"menu:{id}\"?");
                }
                self.err(path, format!("no group \"{id}\"{dym}"));
                self.bad_refs = true;
                None
            }
            "number" => {
                if let Some(problem) = e164_problem(id) {
                    self.err(path, problem);
                    return None;
                }
                if let Some(&e) = self.entry_by_number.get(id) {
                    let eid = &self.raw.entries[e].id;
                    self.warn(
                        path,
                        format!("{id} is this site's own entry \"{eid}\"; the call comes straight back in"),
                    );
                }
                Some(Target::Number(text(id)))
            }
            "agent" => {
                self.err(
                    path,
                    format!("\"{t}\" is not a config target: agents are reached by transfer; use group:ID or number:+E164"),
                );
                None
            }
            other => {
                let msg = match suggest(other, kinds) {
                    Some(k) => {
                        format!("\"{other}:\" is not a target kind; did you mean \"{k}:{id}\"?")
                    }
                    None => format!(
                        "\"{other}:\" is not a target kind; use menu:ID, group:ID, number:+E164 or callback"
                    ),
                };
                self.err(path, msg);
                self.bad_refs = true;
                None
            }
        }
    }

    // ---- the whole site -----------------------------------------------------------------

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

    /// First-occurrence maps of every id, and the duplicate-id / duplicate-number errors.
    fn index_names(&mut self) {
        let raw = self.raw;
        for (i, e) in raw.entries.iter().enumerate() {
            if let Some(&j) = self.entry_ix.get(e.id.as_str()) {
                self.err(
                    format!("entries[{i}].id"),
                    format!("duplicate entry id \"{}\" (first at entries[{j}])", e.id),
                );
            } else {
                self.entry_ix.insert(&e.id, i);
            }
            if let Some(&j) = self.entry_by_number.get(e.number.as_str()) {
                self.err(
                    format!("entries[{i}].number"),
                    format!(
                        "number {} is already entry \"{}\" (entries[{j}])",
                        e.number, raw.entries[j].id
                    ),
                );
            } else {
                self.entry_by_number.insert(&e.number, i);
            }
        }
        for (i, m) in raw.menus.iter().enumerate() {
            if let Some(&j) = self.menu_ix.get(m.id.as_str()) {
                self.err(
                    format!("menus[{i}].id"),
                    format!("duplicate menu id \"{}\" (first at menus[{j}])", m.id),
                );
            } else {
                self.menu_ix.insert(&m.id, i);
            }
        }
        for (i, g) in raw.groups.iter().enumerate() {
            if let Some(&j) = self.group_ix.get(g.id.as_str()) {
                self.err(
                    format!("groups[{i}].id"),
                    format!("duplicate group id \"{}\" (first at groups[{j}])", g.id),
                );
            } else {
                self.group_ix.insert(&g.id, i);
            }
        }
        for (i, a) in raw.agents.iter().enumerate() {
            if let Some(&j) = self.agent_ix.get(a.id.as_str()) {
                self.err(
                    format!("agents[{i}].id"),
                    format!("duplicate agent id \"{}\" (first at agents[{j}])", a.id),
                );
            } else {
                self.agent_ix.insert(&a.id, i);
            }
        }
        for (i, id) in raw.calendars.keys().enumerate() {
            self.calendar_ix.insert(id, i);
        }
    }

    #[allow(clippy::type_complexity)]
    fn site_info(&mut self) -> (Text, TimeZone, u64, f64, u64, u64) {
        let s = &self.raw.site;
        if s.name.trim().is_empty() {
            self.err("site.name", "must not be empty");
        }
        let tz = match TimeZone::get(&s.timezone) {
            Ok(tz) => tz,
            Err(_) => {
                let names: Vec<String> = jiff::tz::db()
                    .available()
                    .map(|n| n.as_str().to_owned())
                    .collect();
                let dym = did_you_mean(&s.timezone, names.iter().map(String::as_str));
                self.err(
                    "site.timezone",
                    format!("unknown time zone \"{}\"{dym}", s.timezone),
                );
                TimeZone::UTC
            }
        };
        let sl = self.secs(
            "site.service_level_s".into(),
            s.service_level_s,
            defaults::SERVICE_LEVEL_S,
            1.0,
            3600.0,
        );
        let target = match s.service_level_target {
            None => defaults::SERVICE_LEVEL_TARGET,
            Some(t) if t > 0.0 && t <= 1.0 => t,
            Some(t) => {
                self.err(
                    "site.service_level_target",
                    format!("{t} is out of range; use a share above 0 and at most 1 (0.8 = 80 %)"),
                );
                defaults::SERVICE_LEVEL_TARGET
            }
        };
        let handle = self.secs(
            "site.default_handle_s".into(),
            s.default_handle_s,
            defaults::DEFAULT_HANDLE_S,
            1.0,
            86_400.0,
        );
        (
            text(&s.name),
            tz,
            sl,
            target,
            s.seed.unwrap_or(defaults::SEED),
            handle,
        )
    }

    fn calendars(&mut self) -> Vec<Calendar> {
        let raw = self.raw;
        let mut out = Vec::new();
        for (id, rc) in &raw.calendars {
            let p = format!("calendars.{}", key(id));
            let mut cal = Calendar {
                id: text(id),
                ..Calendar::default()
            };
            let mut set_by: [Option<&str>; 7] = [None; 7];
            for (dk, hours) in &rc.days {
                let dp = format!("{p}.{}", key(dk));
                let days = match parse_day_key(dk) {
                    Ok(d) => d,
                    Err(e) => {
                        let dym = did_you_mean(dk, DAY_KEYS);
                        let msg = if dym.is_empty() {
                            e
                        } else {
                            format!("\"{dk}\" is not a day key{dym}")
                        };
                        self.err(dp, msg);
                        continue;
                    }
                };
                let ranges = match parse_ranges(hours) {
                    Ok(r) => r,
                    Err(e) => {
                        self.err(dp, e);
                        continue;
                    }
                };
                for d in days {
                    let ix = usize::from(d.to_monday_zero_offset().unsigned_abs());
                    if let Some(prev) = set_by[ix] {
                        self.err(
                            dp.clone(),
                            format!("{} is already set by \"{prev}\"", DAY_NAMES[ix]),
                        );
                    } else {
                        set_by[ix] = Some(dk);
                        cal.week[ix] = ranges.clone();
                    }
                }
            }
            for (h, d) in rc.holidays.iter().enumerate() {
                if let Some(rule) = HolidayRule::parse(d) {
                    if cal.holiday_rule.replace(rule).is_some() {
                        self.warn(
                            format!("{p}.holidays[{h}]"),
                            format!("\"{d}\" is listed twice"),
                        );
                    }
                    continue;
                }
                if !d.bytes().any(|b| b.is_ascii_digit()) {
                    self.err(
                        format!("{p}.holidays[{h}]"),
                        format!("\"{d}\" is neither a date like \"2026-12-24\" nor a holiday rule; the rule of Swedish public holidays is \"se\""),
                    );
                    continue;
                }
                match parse_date(d) {
                    Ok(date) => {
                        if !cal.holidays.insert(date) {
                            self.warn(format!("{p}.holidays[{h}]"), format!("{d} is listed twice"));
                        }
                    }
                    Err(e) => self.err(format!("{p}.holidays[{h}]"), e),
                }
            }
            for (d, hours) in &rc.special {
                let sp = format!("{p}.special.{}", key(d));
                let date = match parse_date(d) {
                    Ok(date) => date,
                    Err(e) => {
                        self.err(sp, e);
                        continue;
                    }
                };
                match parse_ranges(hours) {
                    Ok(r) => {
                        if cal.holidays.contains(&date) {
                            self.warn(
                                sp,
                                format!("{d} is also a holiday; these special hours apply"),
                            );
                        }
                        cal.special.insert(date, r);
                    }
                    Err(e) => self.err(sp, e),
                }
            }
            if cal.week.iter().all(Vec::is_empty) && cal.special.values().all(Vec::is_empty) {
                self.warn(p, "is never open");
            }
            out.push(cal);
        }
        out
    }

    /// Every skill name agents have or groups require, sorted by name (deterministic
    /// indices).
    fn intern_skills(&mut self) {
        let raw = self.raw;
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for a in &raw.agents {
            for s in a.skills.keys() {
                names.insert(s);
                self.agent_skills.insert(s);
            }
        }
        for g in &raw.groups {
            names.extend(g.requires.keys().map(String::as_str));
        }
        for (i, s) in names.into_iter().enumerate() {
            let ix = SkillIdx(u32::try_from(i).unwrap_or(u32::MAX));
            self.skill_ix.insert(s, ix);
        }
    }

    fn skill(&self, name: &str) -> SkillIdx {
        self.skill_ix.get(name).copied().unwrap_or(SkillIdx(0))
    }

    fn entries(&mut self) -> Vec<Entry> {
        let raw = self.raw;
        let mut out = Vec::new();
        for (i, e) in raw.entries.iter().enumerate() {
            let p = format!("entries[{i}]");
            self.ident(format!("{p}.id"), &e.id);
            if let Some(problem) = e164_problem(&e.number) {
                self.err(format!("{p}.number"), problem);
            }
            let greeting = self.opt_prompt(format!("{p}.greeting"), e.greeting.as_ref());
            let route = self.target(format!("{p}.route"), &e.route, false);
            let calendar = e
                .calendar
                .as_ref()
                .and_then(|c| self.calendar_ref(format!("{p}.calendar"), c));
            let (mut closed_prompt, mut closed_route) = (None, None);
            if let Some(c) = &e.closed {
                closed_prompt = self.opt_prompt(format!("{p}.closed.prompt"), c.prompt.as_ref());
                closed_route = c
                    .route
                    .as_ref()
                    .and_then(|r| self.target(format!("{p}.closed.route"), r, false));
            }
            let has_closed = e
                .closed
                .as_ref()
                .is_some_and(|c| c.prompt.is_some() || c.route.is_some());
            match (&e.calendar, has_closed) {
                (Some(c), false) if !self.always_open(c) => self.warn(
                    p.clone(),
                    "has a calendar but no closed prompt or route: callers outside opening hours hear nothing and are hung up",
                ),
                (None, true) => self.warn(
                    format!("{p}.closed"),
                    "is never used: the entry has no calendar, so it is always open",
                ),
                _ => {}
            }
            let priority = match i32::try_from(e.priority) {
                Ok(pr) => {
                    if !SENSIBLE_PRIORITY.contains(&e.priority) {
                        self.warn(
                            format!("{p}.priority"),
                            format!("{pr} is unusually large; priorities in -1000..=1000 are sensible (transfers add to them)"),
                        );
                    }
                    pr
                }
                Err(_) => {
                    self.err(
                        format!("{p}.priority"),
                        format!(
                            "{} does not fit a 32-bit priority; use -1000..=1000",
                            e.priority
                        ),
                    );
                    0
                }
            };
            out.push(Entry {
                id: text(&e.id),
                number: text(&e.number),
                greeting,
                route: route.unwrap_or(Target::Callback),
                calendar,
                closed_prompt,
                closed_route,
                priority,
            });
        }
        out
    }

    /// A calendar open around the clock every day, with no holiday or shorter special day.
    fn always_open(&self, id: &str) -> bool {
        self.raw.calendars.get(id).is_some_and(|c| {
            let mut days = [false; 7];
            for (k, v) in &c.days {
                if let (Ok(ds), Ok(r)) = (parse_day_key(k), parse_ranges(v))
                    && r == [(0, 1440)]
                {
                    for d in ds {
                        days[usize::from(d.to_monday_zero_offset().unsigned_abs())] = true;
                    }
                }
            }
            days.iter().all(|&d| d)
                && c.holidays.is_empty()
                && c.special
                    .values()
                    .all(|h| parse_ranges(h).is_ok_and(|r| r == [(0, 1440)]))
        })
    }

    fn menus(&mut self) -> Vec<Menu> {
        let raw = self.raw;
        raw.menus
            .iter()
            .enumerate()
            .map(|(i, m)| self.menu(i, m))
            .collect()
    }

    fn menu(&mut self, i: usize, m: &RawMenu) -> Menu {
        let p = format!("menus[{i}]");
        self.ident(format!("{p}.id"), &m.id);
        let prompt = self.prompt(format!("{p}.prompt"), &m.prompt);
        let timeout_s = match m.timeout_s {
            None => defaults::MENU_TIMEOUT_S,
            Some(t) if t.is_finite() && t.fract() == 0.0 && (1.0..=120.0).contains(&t) => t as u32,
            Some(t) => {
                self.err(
                    format!("{p}.timeout_s"),
                    format!("{t} s is out of range; use whole seconds 1..=120"),
                );
                defaults::MENU_TIMEOUT_S
            }
        };
        let retries = m
            .retries
            .and_then(|r| self.int(format!("{p}.retries"), r, 0, 10, "retries"))
            .map_or(defaults::MENU_RETRIES, |r| u32::try_from(r).unwrap_or(0));
        let default = self.target(format!("{p}.default"), &m.default, true);
        let mut options = Vec::new();
        for (k, t) in &m.options {
            let op = format!("{p}.options.{}", key(k));
            if !option_key_ok(k) {
                self.err(
                    op.clone(),
                    format!("option \"{k}\" is not a key choice; use 1-4 of the keys 0-9 * #"),
                );
            }
            if let Some(t) = self.target(op, t, true) {
                options.push((text(k), t));
            }
        }
        // BTreeMap order is byte order, the order `Menu::option` searches in.
        let keys: Vec<&String> = m.options.keys().collect();
        for a in &keys {
            if let Some(b) = keys
                .iter()
                .find(|b| b.len() > a.len() && b.starts_with(a.as_str()))
            {
                self.warn(
                    format!("{p}.options.{}", key(a)),
                    format!(
                        "\"{a}\" is a prefix of \"{b}\": callers who press {a} wait for the timeout"
                    ),
                );
            }
        }
        if m.options.is_empty() {
            self.warn(
                format!("{p}.options"),
                "no options: every caller gets the default",
            );
        }
        let default_is_group = matches!(default, Some(Target::Group(_)));
        if !default_is_group {
            for (k, t) in &m.options {
                if t == "callback" {
                    self.warn(
                        format!("{p}.options.{}", key(k)),
                        "a callback needs a group to be served in, but the menu's default is not a group",
                    );
                }
            }
            if m.default == "callback" {
                self.warn(
                    format!("{p}.default"),
                    "a callback needs a group to be served in; make the default a group",
                );
            }
        }
        let max_digits = m
            .options
            .keys()
            .map(|k| u32::try_from(k.chars().count()).unwrap_or(u32::MAX))
            .max()
            .unwrap_or(0);
        let invalid_prompt = match &m.invalid_prompt {
            Some(ip) => self.prompt(format!("{p}.invalid_prompt"), ip),
            None => prompt.clone(),
        };
        Menu {
            id: text(&m.id),
            prompt,
            invalid_prompt,
            timeout_s,
            retries,
            default: default.unwrap_or(Target::Callback),
            options,
            max_digits,
        }
    }

    fn group(&mut self, i: usize, g: &RawGroup, callback_prompt: &Text) -> Group {
        let p = format!("groups[{i}]");
        self.ident(format!("{p}.id"), &g.id);
        let name = match &g.name {
            Some(n) if n.trim().is_empty() => {
                self.err(format!("{p}.name"), "must not be empty");
                text(&g.id)
            }
            Some(n) => text(n),
            None => text(&g.id),
        };
        let mut requires = Vec::new();
        for (s, &lvl) in &g.requires {
            let sp = format!("{p}.requires.{}", key(s));
            let level = self.level(sp.clone(), lvl);
            if !self.agent_skills.contains(s.as_str()) {
                let dym = did_you_mean(s, self.agent_skills.iter().copied());
                self.err(sp, format!("no agent has skill \"{s}\"{dym}"));
            }
            requires.push((self.skill(s), level));
        }
        requires.sort_unstable();
        let widen = self.widen(&p, g, &requires);
        let strategy = match &g.strategy {
            None => Strategy::LongestIdle,
            Some(s) => Strategy::parse(s).unwrap_or_else(|| {
                let names = Strategy::ALL.map(Strategy::name);
                let dym = did_you_mean(s, names);
                let msg = if dym.is_empty() {
                    format!("no strategy \"{s}\"; use one of {}", names.join(", "))
                } else {
                    format!("no strategy \"{s}\"{dym}")
                };
                self.err(format!("{p}.strategy"), msg);
                Strategy::LongestIdle
            }),
        };
        let wrapup_ms = self.secs(
            format!("{p}.wrapup_s"),
            g.wrapup_s,
            defaults::WRAPUP_S,
            0.0,
            3600.0,
        );
        let ring_ms = self.secs(
            format!("{p}.ring_s"),
            g.ring_s,
            defaults::RING_S,
            0.0,
            600.0,
        );
        let max_no_answer = g
            .max_no_answer
            .and_then(|n| self.int(format!("{p}.max_no_answer"), n, 0, 100, "max_no_answer"))
            .map_or(defaults::MAX_NO_ANSWER, |n| u32::try_from(n).unwrap_or(0));
        let calendar = g
            .calendar
            .as_ref()
            .and_then(|c| self.calendar_ref(format!("{p}.calendar"), c));
        let (mut callback_offer_ewt_ms, mut group_callback_prompt) =
            (None, callback_prompt.clone());
        if let Some(cb) = &g.callback {
            callback_offer_ewt_ms = self.opt_secs(
                format!("{p}.callback.offer_when_ewt_over_s"),
                cb.offer_when_ewt_over_s,
                0.0,
                86_400.0,
            );
            if cb.offer_when_ewt_over_s.is_none() {
                self.warn(
                    format!("{p}.callback"),
                    "has no offer_when_ewt_over_s, so a callback is never offered",
                );
            }
            if let Some(pr) = &cb.prompt {
                group_callback_prompt = self.prompt(format!("{p}.callback.prompt"), pr);
            }
        }
        let max_wait_ms = self.opt_secs(format!("{p}.max_wait_s"), g.max_wait_s, 1.0, 86_400.0);
        let on_max_wait = g
            .on_max_wait
            .as_ref()
            .and_then(|t| self.target(format!("{p}.on_max_wait"), t, true));
        if g.on_max_wait.is_some() && g.max_wait_s.is_none() {
            self.warn(
                format!("{p}.on_max_wait"),
                "is never used: the group has no max_wait_s",
            );
        }
        let mut overflow = Vec::new();
        let mut src = Vec::new();
        if g.overflow.len() > MAX_OVERFLOW_RULES {
            self.err(
                format!("{p}.overflow"),
                format!(
                    "{} rules; a group may have at most {MAX_OVERFLOW_RULES} (the engine keeps which have been applied to a call in one bit each)",
                    g.overflow.len()
                ),
            );
        }
        for (j, r) in g.overflow.iter().enumerate() {
            if let Some(rule) = self.overflow(i, &format!("{p}.overflow[{j}]"), r) {
                overflow.push(rule);
                src.push(j);
            }
        }
        self.overflow_src.push(src);
        let queue_prompt = self.opt_prompt(format!("{p}.queue_prompt"), g.queue_prompt.as_ref());
        let announce_every_ms = self.secs(
            format!("{p}.announce_every_s"),
            g.announce_every_s,
            defaults::ANNOUNCE_EVERY_S,
            0.0,
            3600.0,
        );
        let lang = match g.lang.as_deref() {
            None => LangPolicy::Ignore,
            Some(l) => LangPolicy::parse(l).unwrap_or_else(|| {
                self.err(
                    format!("{p}.lang"),
                    format!("\"{l}\" is not a language policy; use \"prefer\" or \"require\""),
                );
                LangPolicy::Ignore
            }),
        };
        Group {
            id: text(&g.id),
            name,
            requires,
            widen,
            strategy,
            lang,
            wrapup_ms,
            ring_ms,
            max_no_answer,
            calendar,
            callback_offer_ewt_ms,
            callback_prompt: group_callback_prompt,
            max_wait_ms,
            on_max_wait,
            overflow,
            queue_prompt,
            announce_every_ms,
        }
    }

    fn widen(&mut self, p: &str, g: &RawGroup, requires: &[(SkillIdx, u8)]) -> Vec<Widen> {
        let mut out: Vec<Widen> = Vec::new();
        if !g.widen.is_empty() && g.requires.is_empty() {
            self.warn(
                format!("{p}.widen"),
                "has no effect: the group requires no skills",
            );
        }
        if g.widen.len() > MAX_WIDEN_STEPS {
            self.err(
                format!("{p}.widen"),
                format!(
                    "{} steps; a group may have at most {MAX_WIDEN_STEPS}",
                    g.widen.len()
                ),
            );
        }
        for (j, w) in g.widen.iter().enumerate() {
            let wp = format!("{p}.widen[{j}]");
            let after_ms = self.secs(format!("{wp}.after_s"), Some(w.after_s), 0.0, 0.0, 86_400.0);
            let min_level = self.level(format!("{wp}.min_level"), w.min_level);
            let mut raises = false;
            if let Some(prev) = out.last() {
                if after_ms <= prev.after_ms {
                    self.err(
                        format!("{wp}.after_s"),
                        format!(
                            "{} s must be later than the step before ({} s)",
                            w.after_s,
                            prev.after_ms as f64 / 1000.0
                        ),
                    );
                }
                if min_level > prev.min_level {
                    raises = true;
                    self.err(
                        format!("{wp}.min_level"),
                        format!(
                            "{min_level} must not be above the step before ({}): widening only lowers levels",
                            prev.min_level
                        ),
                    );
                }
            }
            let before = |req: u8| out.last().map_or(req, |w: &Widen| req.min(w.min_level));
            let lowers = requires
                .iter()
                .any(|&(_, req)| req.min(min_level) < before(req));
            if !requires.is_empty() && !lowers && !raises {
                self.warn(
                    format!("{wp}.min_level"),
                    format!("has no effect: {min_level} lowers no required level"),
                );
            }
            out.push(Widen {
                after_ms,
                min_level,
            });
        }
        out.sort_by_key(|w| w.after_ms);
        out
    }

    fn overflow(&mut self, group: usize, p: &str, r: &RawOverflow) -> Option<OverflowRule> {
        let needs_value = r.when != "no_agents";
        let value = match (r.value, needs_value) {
            (None, true) if OVERFLOW_WHEN.contains(&r.when.as_str()) => {
                self.err(
                    format!("{p}.value"),
                    format!("\"{}\" needs a value", r.when),
                );
                None
            }
            (Some(_), false) => {
                self.err(format!("{p}.value"), "\"no_agents\" takes no value");
                None
            }
            (v, _) => v,
        };
        let when = match r.when.as_str() {
            "wait_over_s" => value.map(|v| {
                Condition::WaitOver(self.secs(format!("{p}.value"), Some(v), 0.0, 0.0, 86_400.0))
            }),
            "ewt_over_s" => value.map(|v| {
                Condition::EwtOver(self.secs(format!("{p}.value"), Some(v), 0.0, 0.0, 86_400.0))
            }),
            "queue_over" => value.and_then(|v| {
                if v.fract() == 0.0 && (0.0..=100_000.0).contains(&v) {
                    Some(Condition::QueueOver(v as u32))
                } else {
                    self.err(
                        format!("{p}.value"),
                        format!(
                            "{v} is not a queue length; use a whole number of calls 0..=100000"
                        ),
                    );
                    None
                }
            }),
            "no_agents" => Some(Condition::NoAgents),
            other => {
                let dym = did_you_mean(other, OVERFLOW_WHEN);
                let msg = if dym.is_empty() {
                    format!(
                        "no condition \"{other}\"; use one of {}",
                        OVERFLOW_WHEN.join(", ")
                    )
                } else {
                    format!("no condition \"{other}\"{dym}")
                };
                self.err(format!("{p}.when"), msg);
                None
            }
        };
        let mode = match r.mode.as_deref() {
            None | Some("move") => OverflowMode::Move,
            Some("expand") => OverflowMode::Expand,
            Some(other) => {
                let dym = did_you_mean(other, OVERFLOW_MODES);
                let msg = if dym.is_empty() {
                    format!("no mode \"{other}\"; use move or expand")
                } else {
                    format!("no mode \"{other}\"{dym}")
                };
                self.err(format!("{p}.mode"), msg);
                OverflowMode::Move
            }
        };
        let to = self.target(format!("{p}.to"), &r.to, true)?;
        if mode == OverflowMode::Expand {
            match &to {
                Target::Group(g) if g.ix() == group => {
                    self.err(format!("{p}.to"), "expands to its own group");
                }
                Target::Group(_) => {}
                _ => self.err(
                    format!("{p}.mode"),
                    format!("\"expand\" needs a group target, not \"{}\"", r.to),
                ),
            }
        }
        Some(OverflowRule {
            when: when?,
            to,
            mode,
        })
    }

    fn agents(&mut self) -> Vec<AgentDef> {
        let raw = self.raw;
        let mut by_ext: FxHashMap<&str, usize> = FxHashMap::default();
        let mut out = Vec::new();
        for (i, a) in raw.agents.iter().enumerate() {
            out.push(self.agent(i, a, &mut by_ext));
        }
        out
    }

    fn agent(
        &mut self,
        i: usize,
        a: &'r RawAgent,
        by_ext: &mut FxHashMap<&'r str, usize>,
    ) -> AgentDef {
        let p = format!("agents[{i}]");
        self.ident(format!("{p}.id"), &a.id);
        if a.name.trim().is_empty() {
            self.err(format!("{p}.name"), "must not be empty");
        }
        if !extension_ok(&a.extension) {
            self.err(
                format!("{p}.extension"),
                format!("\"{}\" is not an extension; use 1-15 digits", a.extension),
            );
        } else if let Some(&j) = by_ext.get(a.extension.as_str()) {
            self.err(
                format!("{p}.extension"),
                format!(
                    "extension {} is already agent \"{}\"'s (agents[{j}])",
                    a.extension, self.raw.agents[j].id
                ),
            );
        } else {
            by_ext.insert(&a.extension, i);
        }
        let mut skills = Vec::new();
        for (s, &lvl) in &a.skills {
            let level = self.level(format!("{p}.skills.{}", key(s)), lvl);
            skills.push((self.skill(s), level));
        }
        skills.sort_unstable();
        let department = match &a.department {
            Some(d) if d.trim().is_empty() => {
                self.err(format!("{p}.department"), "must not be empty");
                None
            }
            d => d.as_deref().map(text),
        };
        AgentDef {
            id: text(&a.id),
            name: text(&a.name),
            extension: text(&a.extension),
            department,
            skills,
        }
    }

    fn directory(&mut self) -> Vec<DirectoryEntry> {
        let raw = self.raw;
        let mut out = Vec::new();
        for (i, d) in raw.directory.iter().enumerate() {
            let p = format!("directory[{i}]");
            if d.name.trim().is_empty() {
                self.err(format!("{p}.name"), "must not be empty");
            }
            if let Some(ext) = &d.extension
                && !extension_ok(ext)
            {
                self.err(
                    format!("{p}.extension"),
                    format!("\"{ext}\" is not an extension; use 1-15 digits"),
                );
            }
            if let Some(n) = &d.number
                && let Some(problem) = e164_problem(n)
            {
                self.err(format!("{p}.number"), problem);
            }
            for (k, kw) in d.keywords.iter().enumerate() {
                if kw.trim().is_empty() {
                    self.err(format!("{p}.keywords[{k}]"), "must not be empty");
                }
            }
            let agent = d
                .agent
                .as_ref()
                .and_then(|a| match self.agent_ix.get(a.as_str()) {
                    Some(&ix) => u32::try_from(ix).ok().map(AgentIdx),
                    None => {
                        let dym = did_you_mean(a, raw.agents.iter().map(|a| a.id.as_str()));
                        self.err(format!("{p}.agent"), format!("no agent \"{a}\"{dym}"));
                        None
                    }
                });
            if d.extension.is_none() && d.number.is_none() && d.agent.is_none() {
                self.warn(
                    p,
                    "has no extension, number or agent: a call cannot be referred to it",
                );
            }
            out.push(DirectoryEntry {
                name: text(&d.name),
                department: d.department.as_deref().map(text),
                extension: d.extension.as_deref().map(text),
                number: d.number.as_deref().map(text),
                keywords: d.keywords.iter().map(|k| text(k)).collect(),
                agent,
            });
        }
        out
    }

    fn auth(&mut self) -> Auth {
        let a = &self.raw.auth;
        let mut tokens = |role: &str, list: &[String]| -> Vec<Text> {
            for (i, t) in list.iter().enumerate() {
                let tp = format!("auth.{role}[{i}]");
                if t.is_empty() {
                    self.err(tp, "token must not be empty");
                } else if t.chars().count() < MIN_TOKEN_LEN {
                    self.warn(
                        tp,
                        format!("token is shorter than {MIN_TOKEN_LEN} characters; use a long random one"),
                    );
                }
            }
            list.iter().map(|t| text(t)).collect()
        };
        let platform_tokens = tokens("platform_tokens", &a.platform_tokens);
        let operator_tokens = tokens("operator_tokens", &a.operator_tokens);
        let admin_tokens = tokens("admin_tokens", &a.admin_tokens);
        let mut file = |role: &str, f: &Option<String>| -> Option<Text> {
            let f = f.as_ref()?;
            if f.trim().is_empty() {
                self.err(format!("auth.{role}"), "file path must not be empty");
            }
            Some(text(f))
        };
        Auth {
            platform_tokens,
            operator_tokens,
            admin_tokens,
            platform_tokens_file: file("platform_tokens_file", &a.platform_tokens_file),
            operator_tokens_file: file("operator_tokens_file", &a.operator_tokens_file),
            admin_tokens_file: file("admin_tokens_file", &a.admin_tokens_file),
        }
    }

    fn crisis(&mut self) -> Option<Crisis> {
        let c = self.raw.crisis.as_ref()?;
        let prompt = self.opt_prompt("crisis.prompt".into(), c.prompt.as_ref());
        let route = c
            .route
            .as_ref()
            .and_then(|r| self.target("crisis.route".into(), r, false));
        if c.prompt.is_none() && c.route.is_none() {
            self.warn(
                "crisis",
                "has neither prompt nor route: switching crisis mode on changes nothing",
            );
        }
        Some(Crisis { prompt, route })
    }

    fn callbacks(&mut self) -> CallbackPolicy {
        let c = &self.raw.callbacks;
        let attempts = c
            .attempts
            .and_then(|n| self.int("callbacks.attempts".into(), n, 1, 10, "attempts"))
            .map_or(defaults::CALLBACK_ATTEMPTS, |n| {
                u32::try_from(n).unwrap_or(1)
            });
        let retry_delay_ms = self.secs(
            "callbacks.retry_delay_s".into(),
            c.retry_delay_s,
            defaults::CALLBACK_RETRY_DELAY_S,
            10.0,
            86_400.0,
        );
        let prompt = match &c.prompt {
            Some(p) => self.prompt("callbacks.prompt".into(), p),
            None => text(defaults::CALLBACK_PROMPT),
        };
        CallbackPolicy {
            attempts,
            retry_delay_ms,
            prompt,
        }
    }

    fn platform(&mut self) -> PlatformPolicy {
        let c = &self.raw.platform;
        let grace_ms = self.secs(
            "platform.grace_s".into(),
            c.grace_s,
            defaults::PLATFORM_GRACE_S,
            0.0,
            3600.0,
        );
        let buffer_commands = c
            .buffer_commands
            .and_then(|n| {
                self.int(
                    "platform.buffer_commands".into(),
                    n,
                    1,
                    1_000_000,
                    "buffer_commands",
                )
            })
            .map_or(defaults::PLATFORM_BUFFER_COMMANDS, |n| {
                usize::try_from(n).unwrap_or(defaults::PLATFORM_BUFFER_COMMANDS)
            });
        let unacked_bytes = c
            .unacked_bytes
            .and_then(|n| {
                self.int(
                    "platform.unacked_bytes".into(),
                    n,
                    64 << 10,
                    1 << 30,
                    "unacked_bytes",
                )
            })
            .map_or(defaults::PLATFORM_UNACKED_BYTES, |n| {
                usize::try_from(n).unwrap_or(defaults::PLATFORM_UNACKED_BYTES)
            });
        let ring_grace_ms = self.secs(
            "platform.ring_grace_s".into(),
            c.ring_grace_s,
            defaults::PLATFORM_RING_GRACE_S,
            0.0,
            60.0,
        );
        let park_timeout_ms = self.secs(
            "platform.park_timeout_s".into(),
            c.park_timeout_s,
            defaults::PLATFORM_PARK_TIMEOUT_S,
            1.0,
            86_400.0,
        );
        PlatformPolicy {
            grace_ms,
            buffer_commands,
            unacked_bytes,
            ring_grace_ms,
            park_timeout_ms,
        }
    }

    // ---- the routing graph --------------------------------------------------------------

    /// A loop of menus through `default` edges is an error (a caller who presses nothing
    /// goes round forever); a loop that needs a key press somewhere is a warning.
    fn menu_loops(&mut self, edges: &[Vec<Edge>]) {
        let raw = self.raw;
        let ids = |c: &[usize]| cycle_text(c, |m| raw.menus[m].id.as_str());
        let defaults: Vec<Vec<usize>> = edges
            .iter()
            .map(|es| es.iter().filter(|e| e.default).map(|e| e.to).collect())
            .collect();
        let mut in_default_loop = vec![false; edges.len()];
        for c in cycles(&defaults) {
            for &m in &c {
                in_default_loop[m] = true;
            }
            self.err(
                format!("menus[{}].default", c[0]),
                format!(
                    "menu loop through defaults: {}; a caller who presses nothing goes round forever",
                    ids(&c)
                ),
            );
        }
        let all: Vec<Vec<usize>> = edges
            .iter()
            .map(|es| es.iter().map(|e| e.to).collect())
            .collect();
        for c in cycles(&all) {
            if c.iter().any(|&m| in_default_loop[m]) {
                continue;
            }
            let next = c.get(1).copied().unwrap_or(c[0]);
            let path = edges[c[0]]
                .iter()
                .find(|e| e.to == next && !e.default)
                .or_else(|| edges[c[0]].iter().find(|e| e.to == next))
                .map_or_else(|| format!("menus[{}]", c[0]), |e| e.path.clone());
            self.warn(
                path,
                format!(
                    "menu loop: {}; callers can go round by pressing keys",
                    ids(&c)
                ),
            );
        }
    }

    /// A cycle of `move` overflow rules (and `on_max_wait`) between groups is an error.
    fn overflow_cycles(&mut self, groups: &[Group]) {
        let raw = self.raw;
        let mut edges: Vec<Vec<Edge>> = vec![Vec::new(); groups.len()];
        for (i, g) in groups.iter().enumerate() {
            let p = format!("groups[{i}]");
            // `overflow` only holds the rules that resolved; `overflow_src` has their
            // indices in the file.
            for (rule, &j) in g.overflow.iter().zip(&self.overflow_src[i]) {
                if let (Target::Group(to), OverflowMode::Move) = (&rule.to, rule.mode) {
                    edges[i].push(Edge {
                        to: to.ix(),
                        path: format!("{p}.overflow[{j}].to"),
                        default: false,
                    });
                }
            }
            if let Some(Target::Group(to)) = &g.on_max_wait {
                edges[i].push(Edge {
                    to: to.ix(),
                    path: format!("{p}.on_max_wait"),
                    default: false,
                });
            }
        }
        let adj: Vec<Vec<usize>> = edges
            .iter()
            .map(|es| es.iter().map(|e| e.to).collect())
            .collect();
        for c in cycles(&adj) {
            let next = c.get(1).copied().unwrap_or(c[0]);
            let path = edges[c[0]]
                .iter()
                .find(|e| e.to == next)
                .map_or_else(|| format!("groups[{}]", c[0]), |e| e.path.clone());
            let ids = cycle_text(&c, |g| raw.groups[g].id.as_str());
            self.err(
                path,
                format!("overflow cycle: {ids}; a call could move between these groups forever"),
            );
        }
    }

    /// Groups and menus no entry, menu, overflow, on_max_wait or crisis route leads to.
    fn reachability(
        &mut self,
        entries: &[Entry],
        menus: &[Menu],
        groups: &[Group],
        crisis: Option<&Crisis>,
    ) {
        let mut seen_menu = vec![false; menus.len()];
        let mut seen_group = vec![false; groups.len()];
        let mut queue: VecDeque<Target> = VecDeque::new();
        for e in entries {
            queue.push_back(e.route.clone());
            queue.extend(e.closed_route.clone());
        }
        if let Some(c) = crisis {
            queue.extend(c.route.clone());
        }
        while let Some(t) = queue.pop_front() {
            match t {
                Target::Menu(m) if !seen_menu[m.ix()] => {
                    seen_menu[m.ix()] = true;
                    let menu = &menus[m.ix()];
                    queue.push_back(menu.default.clone());
                    queue.extend(menu.options.iter().map(|(_, t)| t.clone()));
                }
                Target::Group(g) if !seen_group[g.ix()] => {
                    seen_group[g.ix()] = true;
                    let group = &groups[g.ix()];
                    queue.extend(group.overflow.iter().map(|r| r.to.clone()));
                    queue.extend(group.on_max_wait.clone());
                }
                _ => {}
            }
        }
        for (m, seen) in seen_menu.iter().enumerate() {
            if !seen {
                self.warn(
                    format!("menus[{m}]"),
                    format!("unreachable: no entry, menu, overflow or crisis route leads to menu \"{}\"", menus[m].id),
                );
            }
        }
        for (g, seen) in seen_group.iter().enumerate() {
            if !seen {
                self.warn(
                    format!("groups[{g}]"),
                    format!(
                        "unreachable: no entry, menu, overflow, on_max_wait or crisis route leads to group \"{}\" (only transfers can)",
                        groups[g].id
                    ),
                );
            }
        }
    }

    /// A group no agent meets the requirements of, even at the widest widen step.
    fn serveability(&mut self, groups: &[Group], agents: &[AgentDef]) {
        let raw = self.raw;
        for (i, g) in groups.iter().enumerate() {
            if raw.groups[i]
                .requires
                .keys()
                .any(|s| !self.agent_skills.contains(s.as_str()))
            {
                continue; // already reported as an unknown skill
            }
            if agents
                .iter()
                .any(|a| g.qualifying_step(&a.skills).is_some())
            {
                continue;
            }
            let p = if g.requires.is_empty() {
                format!("groups[{i}]")
            } else {
                format!("groups[{i}].requires")
            };
            let widest = g.widen.len();
            let name = |s: SkillIdx| {
                self.skill_ix
                    .iter()
                    .find(|(_, ix)| **ix == s)
                    .map_or("?", |(n, _)| *n)
            };
            let mut short = Vec::new();
            let mut all = Vec::new();
            for &(s, req) in &g.requires {
                let need = g.level_at_step(req, widest);
                let best = agents
                    .iter()
                    .map(|a| skill_level(&a.skills, s))
                    .max()
                    .unwrap_or(0);
                all.push(format!("{} >= {need}", name(s)));
                if best < need {
                    short.push(format!(
                        "the best {} level is {best} (needs {need})",
                        name(s)
                    ));
                }
            }
            let msg = if agents.is_empty() {
                "no agent can ever serve this group: the site has no agents".to_owned()
            } else if !short.is_empty() {
                format!(
                    "no agent can ever serve this group, even after widening: {}",
                    short.join(", ")
                )
            } else {
                format!(
                    "no agent can ever serve this group, even after widening: nobody has all of {}",
                    all.join(", ")
                )
            };
            self.err(p, msg);
        }
    }
}

/// The menu → menu edges of menu `i` (options and default).
fn menu_edges_of(i: usize, m: &Menu) -> Vec<Edge> {
    let p = format!("menus[{i}]");
    let mut out = Vec::new();
    for (k, t) in &m.options {
        if let Target::Menu(to) = t {
            out.push(Edge {
                to: to.ix(),
                path: format!("{p}.options.{}", key(k)),
                default: false,
            });
        }
    }
    if let Target::Menu(to) = &m.default {
        out.push(Edge {
            to: to.ix(),
            path: format!("{p}.default"),
            default: true,
        });
    }
    out
}

/// Extensions are 1–15 digits.
fn extension_ok(e: &str) -> bool {
    (1..=15).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_digit())
}

/// `a → b → a`.
fn cycle_text<'a>(c: &[usize], id: impl Fn(usize) -> &'a str) -> String {
    let mut s: Vec<&str> = c.iter().map(|&n| id(n)).collect();
    s.push(id(c[0]));
    s.join(" → ")
}

/// One shortest cycle through each node that starts one: for each node `s` in index order
/// not already on a reported cycle, a breadth-first search over nodes `>= s` back to `s`.
/// Every returned cycle starts at its smallest node. Iterative, so deep graphs cannot
/// overflow the stack.
fn cycles(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut on_cycle = vec![false; n];
    let mut out = Vec::new();
    for s in 0..n {
        if on_cycle[s] {
            continue;
        }
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([s]);
        let mut closing: Option<usize> = None;
        'bfs: while let Some(u) = queue.pop_front() {
            for &v in &adj[u] {
                if v == s {
                    closing = Some(u);
                    break 'bfs;
                }
                if v > s && !seen[v] {
                    seen[v] = true;
                    parent[v] = Some(u);
                    queue.push_back(v);
                }
            }
        }
        if let Some(last) = closing {
            let mut c = vec![last];
            let mut u = last;
            while u != s {
                match parent[u] {
                    Some(p) => {
                        c.push(p);
                        u = p;
                    }
                    None => break,
                }
            }
            c.reverse();
            for &m in &c {
                on_cycle[m] = true;
            }
            out.push(c);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load_site, stockholm};

    /// A small valid site; tests append items or replace text in it.
    const BASE: &str = r#"
[site]
name = "Testby"
timezone = "Europe/Stockholm"

[calendars.office]
mon-fri = "08:00-17:00"

[[entries]]
id = "city"
number = "+4685080000"
route = "menu:main"
calendar = "office"
closed = { prompt = "closed-city" }

[[menus]]
id = "main"
prompt = "menu-main"
default = "group:vaxel"
options = { "2" = "group:bygglov", "1" = "group:vaxel", "*" = "callback" }

[[groups]]
id = "vaxel"
requires = { vaxel = 1 }

[[groups]]
id = "bygglov"
name = "Bygglov"
requires = { bygglov = 3 }
widen = [{ after_s = 45, min_level = 2 }]

[[agents]]
id = "a1"
name = "Anna Berg"
extension = "1001"
skills = { vaxel = 2, bygglov = 3, "lang:en" = 2 }
"#;

    fn site(text: &str) -> Validated {
        match load_site(text) {
            Ok(v) => v,
            Err(d) => panic!("{d:#?}"),
        }
    }

    /// All diagnostics of `text` as printed.
    fn diags(text: &str) -> Vec<String> {
        match load_site(text) {
            Ok(v) => v.warnings.iter().map(ToString::to_string).collect(),
            Err(d) => d.iter().map(ToString::to_string).collect(),
        }
    }

    fn with(extra: &str) -> Vec<String> {
        diags(&format!("{BASE}{extra}"))
    }

    fn replaced(from: &str, to: &str) -> Vec<String> {
        assert!(BASE.contains(from), "{from}");
        diags(&BASE.replacen(from, to, 1))
    }

    #[track_caller]
    fn has(diags: &[String], want: &str) {
        assert!(
            diags.iter().any(|d| d == want),
            "missing\n  {want}\nin\n  {}",
            diags.join("\n  ")
        );
    }

    #[test]
    fn base_site_is_valid_and_typed() {
        let v = site(BASE);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        let s = &v.site;
        assert_eq!(&*s.name, "Testby");
        assert_eq!(s.service_level_ms, 20_000);
        assert!((s.service_level_target - 0.8).abs() < 1e-12);
        assert_eq!(s.default_handle_ms, 180_000);
        // skills interned sorted by name
        let skills: Vec<&str> = s.skills.iter().map(|k| &**k).collect();
        assert_eq!(skills, ["bygglov", "lang:en", "vaxel"]);
        let a = &s.agents[0];
        assert_eq!(
            a.skills,
            vec![(SkillIdx(0), 3), (SkillIdx(1), 2), (SkillIdx(2), 2)]
        );
        // menu options sorted by key, max_digits, defaults
        let m = &s.menus[0];
        let keys: Vec<&str> = m.options.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["*", "1", "2"]);
        assert_eq!(m.option("2"), Some(&Target::Group(GroupIdx(1))));
        assert_eq!(m.option("*"), Some(&Target::Callback));
        assert_eq!(m.max_digits, 1);
        assert_eq!((m.timeout_s, m.retries), (8, 2));
        assert_eq!(m.invalid_prompt, m.prompt);
        let g = &s.groups[0];
        assert_eq!(&*g.name, "vaxel", "name defaults to id");
        assert_eq!(g.strategy, Strategy::LongestIdle);
        assert_eq!((g.wrapup_ms, g.ring_ms, g.max_no_answer), (0, 20_000, 3));
        assert_eq!(&*g.callback_prompt, "callback-offer");
        assert_eq!(g.announce_every_ms, 0);
        let b = &s.groups[1];
        assert_eq!(b.requires, vec![(SkillIdx(0), 3)]);
        assert_eq!(
            b.widen,
            vec![Widen {
                after_ms: 45_000,
                min_level: 2
            }]
        );
        assert_eq!(s.callbacks.attempts, 3);
        assert_eq!(s.callbacks.retry_delay_ms, 300_000);
        assert_eq!(s.platform.grace_ms, 30_000);
        assert_eq!(s.platform.buffer_commands, 10_000);
        assert_eq!(s.platform.ring_grace_ms, 5_000);
        assert_eq!(s.platform.park_timeout_ms, 300_000);
        assert_eq!(s.entry_by_number.get("+4685080000"), Some(&EntryIdx(0)));
        assert_eq!(s.group_by_id.get("bygglov"), Some(&GroupIdx(1)));
        assert_eq!(s.menu_by_id.get("main"), Some(&MenuIdx(0)));
        assert_eq!(s.agent_by_id.get("a1"), Some(&AgentIdx(0)));
        assert_eq!(s.entry_by_id.get("city"), Some(&EntryIdx(0)));
        assert_eq!(s.entries[0].calendar, Some(CalendarIdx(0)));
        assert_eq!(s.calendars[0].week[0], vec![(480, 1020)]);
        assert!(s.calendars[0].week[5].is_empty());
    }

    #[test]
    fn durations_round_to_whole_milliseconds() {
        let v = site(&BASE.replacen(
            "requires = { vaxel = 1 }",
            "requires = { vaxel = 1 }\nring_s = 12.3456\nwrapup_s = 0.0004\nmax_wait_s = 90",
            1,
        ));
        let g = &v.site.groups[0];
        assert_eq!(
            (g.ring_ms, g.wrapup_ms, g.max_wait_ms),
            (12_346, 0, Some(90_000))
        );
    }

    #[test]
    fn unknown_references_suggest_the_closest_name() {
        let d = replaced("\"2\" = \"group:bygglov\"", "\"2\" = \"group:bygglv\"");
        has(
            &d,
            "error: menus[0].options.\"2\": no group \"bygglv\"; did you mean \"bygglov\"?",
        );
        let d = replaced("route = \"menu:main\"", "route = \"menu:mian\"");
        has(
            &d,
            "error: entries[0].route: no menu \"mian\"; did you mean \"main\"?",
        );
        let d = replaced("route = \"menu:main\"", "route = \"group:main\"");
        has(
            &d,
            "error: entries[0].route: no group \"main\"; did you mean \"menu:main\"?",
        );
        let d = replaced("calendar = \"office\"", "calendar = \"ofice\"");
        has(
            &d,
            "error: entries[0].calendar: no calendar \"ofice\"; did you mean \"office\"?",
        );
        let d = replaced("requires = { bygglov = 3 }", "requires = { bygglv = 3 }");
        has(
            &d,
            "error: groups[1].requires.bygglv: no agent has skill \"bygglv\"; did you mean \"bygglov\"?",
        );
        let d = with("[[directory]]\nname = \"X\"\nagent = \"a2\"\n");
        has(
            &d,
            "error: directory[0].agent: no agent \"a2\"; did you mean \"a1\"?",
        );
        let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"gruop:vaxel\"");
        has(
            &d,
            "error: menus[0].options.\"1\": \"gruop:\" is not a target kind; did you mean \"group:vaxel\"?",
        );
        let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"calback\"");
        has(
            &d,
            "error: menus[0].options.\"1\": \"calback\" is not a target; did you mean \"callback\"?",
        );
    }

    #[test]
    fn agents_and_callbacks_are_not_entry_targets() {
        let d = replaced("route = \"menu:main\"", "route = \"agent:a1\"");
        has(
            &d,
            "error: entries[0].route: \"agent:a1\" is not a config target: agents are reached by transfer; use group:ID or number:+E164",
        );
        let d = replaced("route = \"menu:main\"", "route = \"callback\"");
        has(
            &d,
            "error: entries[0].route: \"callback\" needs a group to serve it; use it in a menu option or in a group's overflow or on_max_wait",
        );
        let d = with("[crisis]\nroute = \"callback\"\n");
        assert!(
            d[0].starts_with("error: crisis.route: \"callback\" needs a group"),
            "{d:?}"
        );
    }

    #[test]
    fn duplicates() {
        let d = with(
            "[[entries]]\nid = \"city\"\nnumber = \"+4685080000\"\nroute = \"group:vaxel\"\n\
             [[menus]]\nid = \"main\"\nprompt = \"p\"\ndefault = \"group:vaxel\"\n\
             [[groups]]\nid = \"vaxel\"\n\
             [[agents]]\nid = \"a1\"\nname = \"B\"\nextension = \"1001\"\n",
        );
        has(
            &d,
            "error: entries[1].id: duplicate entry id \"city\" (first at entries[0])",
        );
        has(
            &d,
            "error: entries[1].number: number +4685080000 is already entry \"city\" (entries[0])",
        );
        has(
            &d,
            "error: menus[1].id: duplicate menu id \"main\" (first at menus[0])",
        );
        has(
            &d,
            "error: groups[2].id: duplicate group id \"vaxel\" (first at groups[0])",
        );
        has(
            &d,
            "error: agents[1].id: duplicate agent id \"a1\" (first at agents[0])",
        );
        has(
            &d,
            "error: agents[1].extension: extension 1001 is already agent \"a1\"'s (agents[0])",
        );
    }

    #[test]
    fn time_zone_and_calendars() {
        let d = replaced("Europe/Stockholm", "Europe/Stokholm");
        has(
            &d,
            "error: site.timezone: unknown time zone \"Europe/Stokholm\"; did you mean \"Europe/Stockholm\"?",
        );
        let d = with(
            "[calendars.extra]\nmon-fre = \"08:00-12:00\"\nsat = \"17:00-08:00\"\nsun = \"8-12\"\n\
             holidays = [\"2026-12-24\", \"2026-02-30\"]\nspecial = { \"2026-12-23\" = \"08:00-13:00\", \"24 dec\" = \"closed\", \"2026-12-22\" = \"25:00-26:00\" }\n\
             [[groups]]\nid = \"g\"\ncalendar = \"extra\"\n",
        );
        has(
            &d,
            "error: calendars.extra.mon-fre: \"mon-fre\" is not a day key; did you mean \"mon-fri\"?",
        );
        has(
            &d,
            "error: calendars.extra.sat: range \"17:00-08:00\" ends before it starts",
        );
        has(
            &d,
            "error: calendars.extra.sun: \"8\" is not a time like \"08:30\"",
        );
        assert!(
            d.iter().any(|x| x
                .starts_with("error: calendars.extra.holidays[1]: \"2026-02-30\" is not a date")),
            "{d:?}"
        );
        assert!(
            d.iter().any(|x| x.starts_with(
                "error: calendars.extra.special.\"24 dec\": \"24 dec\" is not a date"
            )),
            "{d:?}"
        );
        has(
            &d,
            "error: calendars.extra.special.\"2026-12-22\": \"25:00\" is not a time like \"08:30\"",
        );
        let d = with(
            "[calendars.x]\nmon-fri = \"08:00-17:00\"\nwed = \"10:00-12:00\"\n[[groups]]\nid = \"g\"\ncalendar = \"x\"\n",
        );
        has(
            &d,
            "error: calendars.x.wed: wednesday is already set by \"mon-fri\"",
        );
        let d = with("[calendars.x]\nholiday = [\"2026-12-24\"]\n");
        has(
            &d,
            "error: calendars.x.holiday (line 38, column 11): invalid type: sequence, expected a string",
        );
    }

    #[test]
    fn menu_loops() {
        let d = with(
            "[[menus]]\nid = \"a\"\nprompt = \"p\"\ndefault = \"menu:b\"\noptions = { \"1\" = \"group:vaxel\" }\n\
             [[menus]]\nid = \"b\"\nprompt = \"p\"\ndefault = \"menu:a\"\noptions = { \"1\" = \"group:vaxel\" }\n",
        );
        has(
            &d,
            "error: menus[1].default: menu loop through defaults: a → b → a; a caller who presses nothing goes round forever",
        );
        // Through a key press: only a warning.
        let d = replaced(
            "\"*\" = \"callback\"",
            "\"*\" = \"callback\", \"0\" = \"menu:sub\" }\n\
             [[menus]]\nid = \"sub\"\nprompt = \"p\"\ndefault = \"group:vaxel\"\noptions = { \"0\" = \"menu:main\"",
        );
        assert_eq!(
            d,
            vec![
                "warning: menus[0].options.\"0\": menu loop: main → sub → main; callers can go round by pressing keys"
            ]
        );
        // A menu that is its own default.
        let d = replaced("default = \"group:vaxel\"", "default = \"menu:main\"");
        has(
            &d,
            "error: menus[0].default: menu loop through defaults: main → main; a caller who presses nothing goes round forever",
        );
    }

    #[test]
    fn overflow_cycles_of_move_rules() {
        let d = with(
            "[[groups]]\nid = \"kc-allman\"\nrequires = { vaxel = 1 }\nmax_wait_s = 60\non_max_wait = \"group:bygglov\"\n",
        )
        .into_iter()
        .chain(std::iter::empty())
        .collect::<Vec<_>>();
        assert!(
            d.iter().all(|x| !x.contains("cycle")),
            "one direction only: {d:?}"
        );
        let text = BASE.replacen(
            "widen = [{ after_s = 45, min_level = 2 }]",
            "widen = [{ after_s = 45, min_level = 2 }]\n\
             overflow = [{ when = \"wait_over_s\", value = 60, to = \"group:vaxel\", mode = \"expand\" }, { when = \"no_agents\", to = \"group:kc-allman\" }]",
            1,
        ) + "[[groups]]\nid = \"kc-allman\"\nrequires = { vaxel = 1 }\nmax_wait_s = 60\non_max_wait = \"group:bygglov\"\n";
        let d = diags(&text);
        assert_eq!(
            d,
            vec![
                "error: groups[1].overflow[1].to: overflow cycle: bygglov → kc-allman → bygglov; a call could move between these groups forever"
            ]
        );
        // Expand edges do not count; moving to itself does.
        let d = replaced(
            "requires = { vaxel = 1 }",
            "requires = { vaxel = 1 }\noverflow = [{ when = \"queue_over\", value = 5, to = \"group:vaxel\" }]",
        );
        has(
            &d,
            "error: groups[0].overflow[0].to: overflow cycle: vaxel → vaxel; a call could move between these groups forever",
        );
        let d = replaced(
            "requires = { vaxel = 1 }",
            "requires = { vaxel = 1 }\noverflow = [{ when = \"queue_over\", value = 5, to = \"group:vaxel\", mode = \"expand\" }]",
        );
        has(
            &d,
            "error: groups[0].overflow[0].to: expands to its own group",
        );
    }

    #[test]
    fn groups_no_agent_can_serve() {
        // Widening caps every required level at its min_level: lang:en 4 → 3.
        let d = replaced(
            "requires = { bygglov = 3 }\nwiden = [{ after_s = 45, min_level = 2 }]",
            "requires = { bygglov = 3, \"lang:en\" = 4 }\nwiden = [{ after_s = 45, min_level = 3 }]",
        );
        has(
            &d,
            "error: groups[1].requires: no agent can ever serve this group, even after widening: the best lang:en level is 2 (needs 3)",
        );
        // Widening far enough makes it servable.
        let v = site(&BASE.replacen(
            "requires = { bygglov = 3 }\nwiden = [{ after_s = 45, min_level = 2 }]",
            "requires = { bygglov = 5 }\nwiden = [{ after_s = 45, min_level = 4 }, { after_s = 90, min_level = 3 }]",
            1,
        ));
        assert!(v.warnings.is_empty());
        let d = with(
            "[[agents]]\nid = \"a2\"\nname = \"B\"\nextension = \"1002\"\nskills = { kc = 5 }\n\
             [[groups]]\nid = \"both\"\nrequires = { kc = 1, bygglov = 1 }\n[[entries]]\nid = \"e\"\nnumber = \"+4685080001\"\nroute = \"group:both\"\n",
        );
        has(
            &d,
            "error: groups[2].requires: no agent can ever serve this group, even after widening: nobody has all of bygglov >= 1, kc >= 1",
        );
        let d = diags(&BASE.replace(
            "[[agents]]\nid = \"a1\"\nname = \"Anna Berg\"\nextension = \"1001\"\nskills = { vaxel = 2, bygglov = 3, \"lang:en\" = 2 }\n",
            "",
        ));
        has(
            &d,
            "error: groups[0].requires.vaxel: no agent has skill \"vaxel\"",
        );
    }

    #[test]
    fn unreachable_groups_and_menus_warn() {
        let d = with(
            "[[groups]]\nid = \"backoffice\"\n[[menus]]\nid = \"old\"\nprompt = \"p\"\ndefault = \"group:vaxel\"\noptions = { \"1\" = \"group:vaxel\" }\n",
        );
        assert_eq!(
            d,
            vec![
                "warning: menus[1]: unreachable: no entry, menu, overflow or crisis route leads to menu \"old\"",
                "warning: groups[2]: unreachable: no entry, menu, overflow, on_max_wait or crisis route leads to group \"backoffice\" (only transfers can)",
            ]
        );
        // Reached through the crisis route or an expand overflow: fine.
        assert!(with("[[groups]]\nid = \"kris\"\n[crisis]\nroute = \"group:kris\"\n").is_empty());
    }

    #[test]
    fn e164_numbers() {
        let d = replaced("number = \"+4685080000\"", "number = \"08-508 000 00\"");
        has(
            &d,
            "error: entries[0].number: \"08-508 000 00\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0); did you mean \"+46850800000\"?",
        );
        let d = replaced("number = \"+4685080000\"", "number = \"+46 8 508 000 00\"");
        has(
            &d,
            "error: entries[0].number: \"+46 8 508 000 00\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0); did you mean \"+46850800000\"?",
        );
        let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"number:+0850\"");
        has(
            &d,
            "error: menus[0].options.\"1\": \"+0850\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0)",
        );
        let d = with("[[directory]]\nname = \"X\"\nnumber = \"+1234567890123456\"\n");
        has(
            &d,
            "error: directory[0].number: \"+1234567890123456\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0)",
        );
        let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"number:+4685080000\"");
        has(
            &d,
            "warning: menus[0].options.\"1\": +4685080000 is this site's own entry \"city\"; the call comes straight back in",
        );
        assert!(e164_problem("+46").is_none());
        assert!(e164_problem("+4").is_some());
        assert!(e164_problem("+123456789012345").is_none());
    }

    #[test]
    fn ranges_and_enumerations() {
        let g = |extra: &str| {
            replaced(
                "requires = { vaxel = 1 }",
                &format!("requires = {{ vaxel = 1 }}\n{extra}"),
            )
        };
        has(
            &g("ring_s = 601"),
            "error: groups[0].ring_s: 601 s is out of range; use 0..=600 seconds",
        );
        has(
            &g("wrapup_s = -1"),
            "error: groups[0].wrapup_s: -1 s is out of range; use 0..=3600 seconds",
        );
        has(
            &g("wrapup_s = nan"),
            "error: groups[0].wrapup_s: NaN s is out of range; use 0..=3600 seconds",
        );
        has(
            &g("max_wait_s = 0"),
            "error: groups[0].max_wait_s: 0 s is out of range; use 1..=86400 seconds",
        );
        has(
            &g("max_no_answer = -1"),
            "error: groups[0].max_no_answer: max_no_answer -1 is out of range; use 0..=100",
        );
        has(
            &g("announce_every_s = 4000"),
            "error: groups[0].announce_every_s: 4000 s is out of range; use 0..=3600 seconds",
        );
        has(
            &g("strategy = \"most_skilled\""),
            "error: groups[0].strategy: no strategy \"most_skilled\"; did you mean \"most-skilled\"?",
        );
        has(
            &g("strategy = \"fastest\""),
            "error: groups[0].strategy: no strategy \"fastest\"; use one of longest-idle, most-skilled, round-robin, fewest-calls, least-talk-time, random",
        );
        has(
            &g("callback = { offer_when_ewt_over_s = -5 }"),
            "error: groups[0].callback.offer_when_ewt_over_s: -5 s is out of range; use 0..=86400 seconds",
        );
        has(
            &g("widen = [{ after_s = 60, min_level = 1 }]"),
            "warning: groups[0].widen[0].min_level: has no effect: 1 lowers no required level",
        );
        let w = |widen: &str| {
            replaced(
                "widen = [{ after_s = 45, min_level = 2 }]",
                &format!("widen = {widen}"),
            )
        };
        has(
            &w("[{ after_s = 45, min_level = 2 }, { after_s = 45, min_level = 1 }]"),
            "error: groups[1].widen[1].after_s: 45 s must be later than the step before (45 s)",
        );
        has(
            &w("[{ after_s = 45, min_level = 1 }, { after_s = 60, min_level = 2 }]"),
            "error: groups[1].widen[1].min_level: 2 must not be above the step before (1): widening only lowers levels",
        );
        has(
            &w("[{ after_s = 90000, min_level = 1 }]"),
            "error: groups[1].widen[0].after_s: 90000 s is out of range; use 0..=86400 seconds",
        );
        has(
            &w("[{ after_s = 5, min_level = 0 }]"),
            "error: groups[1].widen[0].min_level: level 0 is out of range; use 1..=10",
        );
        has(
            &replaced("bygglov = 3 }\nwiden", "bygglov = 11 }\nwiden"),
            "error: groups[1].requires.bygglov: level 11 is out of range; use 1..=10",
        );
        has(
            &replaced(
                "bygglov = 3, \"lang:en\"",
                "bygglov = 3, \"lang:en\" = 0, x",
            ),
            "error: agents[0].skills.\"lang:en\": level 0 is out of range; use 1..=10",
        );
        let m = |extra: &str| {
            replaced(
                "prompt = \"menu-main\"",
                &format!("prompt = \"menu-main\"\n{extra}"),
            )
        };
        has(
            &m("timeout_s = 0"),
            "error: menus[0].timeout_s: 0 s is out of range; use whole seconds 1..=120",
        );
        has(
            &m("timeout_s = 2.5"),
            "error: menus[0].timeout_s: 2.5 s is out of range; use whole seconds 1..=120",
        );
        has(
            &m("retries = 11"),
            "error: menus[0].retries: retries 11 is out of range; use 0..=10",
        );
        has(
            &replaced(
                "\"1\" = \"group:vaxel\"",
                "\"12345\" = \"group:vaxel\", \"a\" = \"group:vaxel\"",
            ),
            "error: menus[0].options.\"12345\": option \"12345\" is not a key choice; use 1-4 of the keys 0-9 * #",
        );
        has(
            &replaced(
                "\"1\" = \"group:vaxel\"",
                "\"1\" = \"group:vaxel\", \"12\" = \"group:vaxel\"",
            ),
            "warning: menus[0].options.\"1\": \"1\" is a prefix of \"12\": callers who press 1 wait for the timeout",
        );
        let s = |extra: &str| replaced("name = \"Testby\"", &format!("name = \"Testby\"\n{extra}"));
        has(
            &s("service_level_s = 0"),
            "error: site.service_level_s: 0 s is out of range; use 1..=3600 seconds",
        );
        has(
            &s("service_level_target = 0"),
            "error: site.service_level_target: 0 is out of range; use a share above 0 and at most 1 (0.8 = 80 %)",
        );
        has(
            &s("default_handle_s = 0"),
            "error: site.default_handle_s: 0 s is out of range; use 1..=86400 seconds",
        );
        has(
            &with("[callbacks]\nattempts = 0\n"),
            "error: callbacks.attempts: attempts 0 is out of range; use 1..=10",
        );
        has(
            &with("[callbacks]\nretry_delay_s = 5\n"),
            "error: callbacks.retry_delay_s: 5 s is out of range; use 10..=86400 seconds",
        );
        has(
            &with("[platform]\ngrace_s = 3601\n"),
            "error: platform.grace_s: 3601 s is out of range; use 0..=3600 seconds",
        );
        has(
            &with("[platform]\nbuffer_commands = 0\n"),
            "error: platform.buffer_commands: buffer_commands 0 is out of range; use 1..=1000000",
        );
        has(
            &replaced(
                "closed = { prompt = \"closed-city\" }",
                "closed = { prompt = \"closed-city\" }\npriority = 3000000000",
            ),
            "error: entries[0].priority: 3000000000 does not fit a 32-bit priority; use -1000..=1000",
        );
        has(
            &replaced(
                "closed = { prompt = \"closed-city\" }",
                "closed = { prompt = \"closed-city\" }\npriority = 5000",
            ),
            "warning: entries[0].priority: 5000 is unusually large; priorities in -1000..=1000 are sensible (transfers add to them)",
        );
        has(
            &replaced("extension = \"1001\"", "extension = \"10 01\""),
            "error: agents[0].extension: \"10 01\" is not an extension; use 1-15 digits",
        );
        has(
            &replaced("prompt = \"menu-main\"", "prompt = \"\""),
            "error: menus[0].prompt: prompt must not be empty",
        );
        has(
            &replaced("id = \"vaxel\"", "id = \"va xel\""),
            "error: groups[0].id: \"va xel\" must not contain spaces",
        );
    }

    #[test]
    fn overflow_rules() {
        let o = |rules: &str| {
            replaced(
                "requires = { vaxel = 1 }",
                &format!("requires = {{ vaxel = 1 }}\noverflow = [{rules}]"),
            )
        };
        let many = vec!["{ when = \"no_agents\", to = \"number:+46850899999\" }"; 33].join(", ");
        has(
            &o(&many),
            "error: groups[0].overflow: 33 rules; a group may have at most 32 (the engine keeps which have been applied to a call in one bit each)",
        );
        let steps: Vec<String> = (1..=33)
            .map(|i| format!("{{ after_s = {i}, min_level = 1 }}"))
            .collect();
        has(
            &replaced(
                "requires = { vaxel = 1 }",
                &format!("requires = {{ vaxel = 1 }}\nwiden = [{}]", steps.join(", ")),
            ),
            "error: groups[0].widen: 33 steps; a group may have at most 32",
        );
        has(
            &o("{ when = \"wait_over_s\", to = \"group:bygglov\" }"),
            "error: groups[0].overflow[0].value: \"wait_over_s\" needs a value",
        );
        has(
            &o("{ when = \"queue_over\", to = \"callback\" }"),
            "error: groups[0].overflow[0].value: \"queue_over\" needs a value",
        );
        has(
            &o("{ when = \"ewt_over_s\", to = \"callback\" }"),
            "error: groups[0].overflow[0].value: \"ewt_over_s\" needs a value",
        );
        has(
            &o("{ when = \"no_agents\", value = 1, to = \"group:bygglov\" }"),
            "error: groups[0].overflow[0].value: \"no_agents\" takes no value",
        );
        has(
            &o("{ when = \"queue_over\", value = 2.5, to = \"callback\" }"),
            "error: groups[0].overflow[0].value: 2.5 is not a queue length; use a whole number of calls 0..=100000",
        );
        has(
            &o("{ when = \"wait_over\", value = 60, to = \"callback\" }"),
            "error: groups[0].overflow[0].when: no condition \"wait_over\"; did you mean \"wait_over_s\"?",
        );
        has(
            &o("{ when = \"wait_over_s\", value = 60, to = \"callback\", mode = \"expnad\" }"),
            "error: groups[0].overflow[0].mode: no mode \"expnad\"; did you mean \"expand\"?",
        );
        has(
            &o(
                "{ when = \"wait_over_s\", value = 60, to = \"number:+46850899999\", mode = \"expand\" }",
            ),
            "error: groups[0].overflow[0].mode: \"expand\" needs a group target, not \"number:+46850899999\"",
        );
        has(
            &o("{ when = \"wait_over_s\", value = 60, to = \"group:kc\" }"),
            "error: groups[0].overflow[0].to: no group \"kc\"",
        );
        let v = site(&BASE.replacen(
            "requires = { vaxel = 1 }",
            "requires = { vaxel = 1 }\noverflow = [\
             { when = \"wait_over_s\", value = 60.5, to = \"group:bygglov\", mode = \"expand\" },\
             { when = \"queue_over\", value = 15, to = \"number:+46850899999\" },\
             { when = \"no_agents\", to = \"callback\" },\
             { when = \"ewt_over_s\", value = 300, to = \"callback\", mode = \"move\" }]",
            1,
        ));
        let rules = &v.site.groups[0].overflow;
        assert_eq!(rules[0].when, Condition::WaitOver(60_500));
        assert_eq!(rules[0].mode, OverflowMode::Expand);
        assert_eq!(rules[0].to, Target::Group(GroupIdx(1)));
        assert_eq!(rules[1].when, Condition::QueueOver(15));
        assert_eq!(rules[1].to, Target::Number("+46850899999".into()));
        assert_eq!(rules[1].mode, OverflowMode::Move);
        assert_eq!(rules[2].when, Condition::NoAgents);
        assert_eq!(rules[3].when, Condition::EwtOver(300_000));
    }

    #[test]
    fn advisory_warnings() {
        assert_eq!(
            replaced("closed = { prompt = \"closed-city\" }", ""),
            vec![
                "warning: entries[0]: has a calendar but no closed prompt or route: callers outside opening hours hear nothing and are hung up"
            ]
        );
        // An always-open calendar never closes: nothing to warn about.
        assert!(
            with("[calendars.always]\nmon-sun = \"00:00-24:00\"\n[[entries]]\nid = \"jour\"\nnumber = \"+46850840000\"\nroute = \"group:vaxel\"\ncalendar = \"always\"\n")
                .is_empty()
        );
        assert_eq!(
            replaced(
                "default = \"group:vaxel\"",
                "default = \"number:+46850899999\""
            ),
            vec![
                "warning: menus[0].options.\"*\": a callback needs a group to be served in, but the menu's default is not a group"
            ]
        );
        assert_eq!(
            with("[auth]\nadmin_tokens = [\"hunter2\", \"0123456789abcdef\"]\n"),
            vec![
                "warning: auth.admin_tokens[0]: token is shorter than 16 characters; use a long random one"
            ]
        );
        assert_eq!(
            with("[calendars.unused]\nmon = \"08:00-09:00\"\n"),
            vec!["warning: calendars.unused: no entry or group uses this calendar"]
        );
    }

    #[test]
    fn all_diagnostics_in_file_order() {
        let text = BASE
            .replacen("Europe/Stockholm", "Mars/Olympus", 1)
            .replacen("extension = \"1001\"", "extension = \"x\"", 1)
            .replacen("\"2\" = \"group:bygglov\"", "\"2\" = \"group:nope\"", 1)
            .replacen("number = \"+4685080000\"", "number = \"123\"", 1)
            .replacen("min_level = 2", "min_level = 2, oops = 1", 1);
        let d = diags(&text);
        let paths: Vec<&str> = d
            .iter()
            .map(|x| x.split(": ").nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            paths,
            [
                "site.timezone",
                "entries[0].number",
                "menus[0].options.\"2\"",
                "groups[1].widen[0].oops",
                "agents[0].extension",
            ],
            "{d:#?}"
        );
    }

    #[test]
    fn stockholm_is_valid() {
        let v = match stockholm() {
            Ok(v) => v,
            Err(d) => panic!(
                "{}",
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
        assert!(v.warnings.is_empty(), "{:#?}", v.warnings);
        let s = &v.site;
        assert_eq!(&*s.name, "Stockholms stad");
        assert!(s.agents.len() >= 140, "{}", s.agents.len());
        assert!(s.directory.len() >= 35);
        assert!(s.groups.len() >= 12);
        assert!(s.crisis.as_ref().is_some_and(|c| c.route.is_some()));
        let main = &s.menus[s.menu_by_id["main"].ix()];
        assert_eq!(main.option("*"), Some(&Target::Callback));
        assert_eq!(
            main.option("8"),
            Some(&Target::Menu(s.menu_by_id["english"]))
        );
        assert_eq!(main.default, Target::Group(s.group_by_id["vaxel"]));
        let city = &s.entries[s.entry_by_number["+4685080000"].ix()];
        assert_eq!(city.route, Target::Menu(s.menu_by_id["main"]));
        let office = &s.calendars[city.calendar.map_or(0, CalendarIdx::ix)];
        assert_eq!(office.holiday_rule, Some(HolidayRule::Sweden));
        for holiday in [
            "2026-12-24",
            "2026-06-19",
            "2027-03-26",
            "2027-11-06",
            "2028-04-14",
        ] {
            let d = parse_date(holiday).unwrap();
            assert!(
                office.holiday_rule.is_some_and(|r| r.closes(d)),
                "{holiday}"
            );
        }
        let strategies: BTreeSet<&str> = s.groups.iter().map(|g| g.strategy.name()).collect();
        assert_eq!(
            strategies.len(),
            Strategy::ALL.len(),
            "every strategy is shown"
        );
        let english = s.group(s.group_by_id["english"]);
        let en = s.skills.iter().position(|k| &**k == "lang:en").unwrap();
        assert_eq!(english.requires, vec![(SkillIdx(en as u32), 3)]);
        assert!(s.auth.platform_tokens.is_empty() && s.auth.admin_tokens.is_empty());
        assert_eq!(
            s.entries
                .iter()
                .find(|e| &*e.id == "socialjour")
                .map(|e| e.priority),
            Some(10)
        );
    }
}
