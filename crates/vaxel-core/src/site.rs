//! The validated, typed site the engine runs on (built by the `vaxel-config` crate). Every reference is resolved to an index,
//! every duration is in milliseconds, every time zone and date is parsed: the engine never
//! looks anything up by name on a hot path and never meets an invalid value.

use crate::calendar::Calendar;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Shared, immutable text from the configuration (ids, prompts, numbers): cloning it into a
/// command is a reference-count increment, not an allocation.
pub type Text = Arc<str>;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $name(pub u32);
        impl $name {
            /// The position in the site's vector.
            #[must_use]
            pub fn ix(self) -> usize {
                self.0 as usize
            }
        }
    };
}
index_type!(
    /// Position of an entry in [`Site::entries`].
    EntryIdx
);
index_type!(
    /// Position of a menu in [`Site::menus`].
    MenuIdx
);
index_type!(
    /// Position of a group in [`Site::groups`].
    GroupIdx
);
index_type!(
    /// Position of an agent in [`Site::agents`].
    AgentIdx
);
index_type!(
    /// Position of a calendar in [`Site::calendars`].
    CalendarIdx
);
index_type!(
    /// Position of a skill name in [`Site::skills`].
    SkillIdx
);

/// Where a call goes next (`menu:ID`, `group:ID`, `number:E164`, `callback`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Target {
    Menu(MenuIdx),
    Group(GroupIdx),
    Number(Text),
    /// A callback. From a menu option it is served in the menu's `default` group (the
    /// caller joins that queue and is offered the callback at once); as an overflow or
    /// max-wait target it is offered in the group the call waits in.
    Callback,
}

/// The whole validated site.
#[derive(Clone, Debug)]
pub struct Site {
    pub name: Text,
    pub timezone: jiff::tz::TimeZone,
    /// "Answered within" threshold of the service level.
    pub service_level_ms: u64,
    pub service_level_target: f64,
    pub seed: u64,
    /// Handle time assumed by the EWT estimate before a group has history.
    pub default_handle_ms: u64,
    pub calendars: Vec<Calendar>,
    pub entries: Vec<Entry>,
    pub menus: Vec<Menu>,
    pub groups: Vec<Group>,
    pub agents: Vec<AgentDef>,
    pub skills: Vec<Text>,
    pub directory: Vec<DirectoryEntry>,
    pub crisis: Option<Crisis>,
    pub callbacks: CallbackPolicy,
    pub platform: PlatformPolicy,
    pub auth: Auth,
    /// How the wallboard shows the site: its language and, per group, the colours.
    pub wallboard: Wallboard,
    pub entry_by_number: FxHashMap<Text, EntryIdx>,
    pub entry_by_id: FxHashMap<Text, EntryIdx>,
    pub group_by_id: FxHashMap<Text, GroupIdx>,
    pub agent_by_id: FxHashMap<Text, AgentIdx>,
    pub menu_by_id: FxHashMap<Text, MenuIdx>,
}

impl Site {
    #[must_use]
    pub fn group(&self, g: GroupIdx) -> &Group {
        &self.groups[g.ix()]
    }
    #[must_use]
    pub fn agent(&self, a: AgentIdx) -> &AgentDef {
        &self.agents[a.ix()]
    }
    #[must_use]
    pub fn menu(&self, m: MenuIdx) -> &Menu {
        &self.menus[m.ix()]
    }
    #[must_use]
    pub fn entry(&self, e: EntryIdx) -> &Entry {
        &self.entries[e.ix()]
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: Text,
    pub number: Text,
    pub greeting: Option<Text>,
    pub route: Target,
    pub calendar: Option<CalendarIdx>,
    pub closed_prompt: Option<Text>,
    /// Where calls go outside opening hours; `None` = play `closed_prompt` and hang up.
    pub closed_route: Option<Target>,
    pub priority: i32,
}

#[derive(Clone, Debug)]
pub struct Menu {
    pub id: Text,
    pub prompt: Text,
    pub invalid_prompt: Text,
    pub timeout_s: u32,
    /// Invalid choices that replay the prompt before `default` is taken.
    pub retries: u32,
    pub default: Target,
    /// Sorted by key; keys are one or more of `0-9 * #`.
    pub options: Vec<(Text, Target)>,
    /// Longest option key, sent as `max_digits`.
    pub max_digits: u32,
}

impl Menu {
    /// The target of a choice, if it is one of the options.
    #[must_use]
    pub fn option(&self, digits: &str) -> Option<&Target> {
        self.options
            .binary_search_by(|(k, _)| k.as_ref().cmp(digits))
            .ok()
            .map(|i| &self.options[i].1)
    }
}

/// How a group picks among its free agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    LongestIdle,
    MostSkilled,
    RoundRobin,
    FewestCalls,
    LeastTalkTime,
    Random,
}

impl Strategy {
    pub const ALL: [Strategy; 6] = [
        Strategy::LongestIdle,
        Strategy::MostSkilled,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::Random,
    ];

    /// The config spelling.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::MostSkilled => "most-skilled",
            Strategy::RoundRobin => "round-robin",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::LeastTalkTime => "least-talk-time",
            Strategy::Random => "random",
        }
    }

    /// Parses the config spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|st| st.name() == s)
    }
}

/// One widening step: after `after_ms` in queue, agents with at least `min_level` in every
/// required skill may take the call too (it keeps its place).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Widen {
    pub after_ms: u64,
    pub min_level: u8,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub id: Text,
    pub name: Text,
    /// Required skills and their minimum levels, sorted by skill.
    pub requires: Vec<(SkillIdx, u8)>,
    /// Sorted by `after_ms`, each step lowering the level.
    pub widen: Vec<Widen>,
    pub strategy: Strategy,
    pub wrapup_ms: u64,
    pub ring_ms: u64,
    /// No-answers in a row before the agent is paused with reason `no-answer` (0 = never).
    pub max_no_answer: u32,
    pub calendar: Option<CalendarIdx>,
    pub callback_offer_ewt_ms: Option<u64>,
    pub callback_prompt: Text,
    pub max_wait_ms: Option<u64>,
    pub on_max_wait: Option<Target>,
    pub overflow: Vec<OverflowRule>,
    pub queue_prompt: Option<Text>,
    /// 0 = announce position/EWT only when the call enters the queue.
    pub announce_every_ms: u64,
    /// How the caller's language (`lang` on `call.arrived`) steers the choice of agent.
    pub lang: LangPolicy,
}

/// How a group uses the caller's language: agents speak a language when they have the
/// skill `lang:xx` (any level).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LangPolicy {
    /// The language plays no part (the default).
    #[default]
    Ignore,
    /// Among the free agents, one who speaks it is offered the call first; anyone else if
    /// none is free.
    Prefer,
    /// Only agents who speak it are offered the call (when the site has that skill at all;
    /// a language no agent could have is not required).
    Require,
}

impl LangPolicy {
    /// The config spelling (`prefer`, `require`).
    #[must_use]
    pub fn parse(s: &str) -> Option<LangPolicy> {
        match s {
            "prefer" => Some(LangPolicy::Prefer),
            "require" => Some(LangPolicy::Require),
            _ => None,
        }
    }
}

impl Site {
    /// The skill `lang:<lang>`, if the site has it.
    #[must_use]
    pub fn lang_skill(&self, lang: &str) -> Option<SkillIdx> {
        self.skills
            .binary_search_by(|s| {
                let s = s.as_bytes();
                let (head, tail) = s.split_at(s.len().min(5));
                head.cmp(b"lang:".as_slice())
                    .then_with(|| tail.cmp(lang.as_bytes()))
            })
            .ok()
            .map(|i| SkillIdx(i as u32))
    }
}

impl Group {
    /// The lowest level the group accepts at widen `step` (0 = no widening yet).
    /// `requires` levels are capped by the step's `min_level`.
    #[must_use]
    pub fn level_at_step(&self, required: u8, step: usize) -> u8 {
        if step == 0 {
            required
        } else {
            required.min(self.widen[step - 1].min_level)
        }
    }

    /// The first widen step at which an agent with these skills qualifies, if any.
    #[must_use]
    pub fn qualifying_step(&self, skills: &[(SkillIdx, u8)]) -> Option<usize> {
        (0..=self.widen.len()).find(|&step| {
            self.requires.iter().all(|&(skill, req)| {
                let need = self.level_at_step(req, step);
                skill_level(skills, skill) >= need
            })
        })
    }

    /// Sum of the agent's levels in the required skills (the `most-skilled` score).
    #[must_use]
    pub fn skill_score(&self, skills: &[(SkillIdx, u8)]) -> u32 {
        self.requires
            .iter()
            .map(|&(s, _)| u32::from(skill_level(skills, s)))
            .sum()
    }
}

/// An agent's level in `skill` (0 when it lacks it). `skills` is sorted by skill.
#[must_use]
pub fn skill_level(skills: &[(SkillIdx, u8)], skill: SkillIdx) -> u8 {
    skills
        .binary_search_by_key(&skill, |&(s, _)| s)
        .map_or(0, |i| skills[i].1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The call has waited longer than this in the group.
    WaitOver(u64),
    /// More than this many calls wait in the group when the call enters it.
    QueueOver(u32),
    /// No agent serving the group is logged in (or the group is closed).
    NoAgents,
    /// The expected wait is over this.
    EwtOver(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowMode {
    /// Leave this queue for the target.
    Move,
    /// Also queue in the target group, keeping the place here (answered once).
    Expand,
}

#[derive(Clone, Debug)]
pub struct OverflowRule {
    pub when: Condition,
    pub to: Target,
    pub mode: OverflowMode,
}

#[derive(Clone, Debug)]
pub struct AgentDef {
    pub id: Text,
    pub name: Text,
    pub extension: Text,
    pub department: Option<Text>,
    /// Sorted by skill.
    pub skills: Vec<(SkillIdx, u8)>,
}

#[derive(Clone, Debug)]
pub struct DirectoryEntry {
    pub name: Text,
    pub department: Option<Text>,
    pub extension: Option<Text>,
    pub number: Option<Text>,
    pub keywords: Vec<Text>,
    pub agent: Option<AgentIdx>,
}

#[derive(Clone, Debug)]
pub struct Crisis {
    pub prompt: Option<Text>,
    pub route: Option<Target>,
}

#[derive(Clone, Debug)]
pub struct CallbackPolicy {
    pub attempts: u32,
    pub retry_delay_ms: u64,
    pub prompt: Text,
}

#[derive(Clone, Debug)]
pub struct PlatformPolicy {
    pub grace_ms: u64,
    pub buffer_commands: usize,
    /// Bytes of unacknowledged commands kept for one protocol version 2 platform at most.
    pub unacked_bytes: usize,
    pub ring_grace_ms: u64,
    pub park_timeout_ms: u64,
}

/// The wallboard's settings (`[wallboard]` and `[groups.wallboard]`). The engine never
/// reads them: they ride in the snapshot so that every screen colours a tile the same way.
#[derive(Clone, Debug, PartialEq)]
pub struct Wallboard {
    /// The screens' language until a viewer picks the other one.
    pub lang: UiLang,
    /// Per group, by [`GroupIdx`].
    pub groups: Vec<Board>,
}

/// The screens' languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UiLang {
    Sv,
    En,
}

impl UiLang {
    pub const ALL: [UiLang; 2] = [UiLang::Sv, UiLang::En];

    /// The config spelling (an ISO 639-1 code).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            UiLang::Sv => "sv",
            UiLang::En => "en",
        }
    }
}

/// One group's target and colour thresholds: a figure is green below its amber threshold,
/// amber from it, red from its red threshold (the service level the other way round:
/// green at or above the target, red below `service_level_amber`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Board {
    /// Share of calls to answer within the site's `service_level_s` (0.8 = 80 %).
    pub service_level_target: f64,
    /// Below the target the level is amber; below this it is red.
    pub service_level_amber: f64,
    pub wait_amber_s: f64,
    pub wait_red_s: f64,
    pub waiting_amber: u32,
    pub waiting_red: u32,
}

impl Wallboard {
    /// Group `g`'s board; a site built without one for `g` gets [`Board::default`].
    #[must_use]
    pub fn board(&self, g: GroupIdx) -> Board {
        self.groups.get(g.ix()).copied().unwrap_or_default()
    }
}

impl Default for Wallboard {
    fn default() -> Wallboard {
        Wallboard {
            lang: UiLang::Sv,
            groups: Vec::new(),
        }
    }
}

/// The site file's defaults for a site answering within 20 s (`vaxel-config` derives the
/// wait thresholds from the site's own `service_level_s`).
impl Default for Board {
    fn default() -> Board {
        Board {
            service_level_target: 0.8,
            service_level_amber: 0.7,
            wait_amber_s: 20.0,
            wait_red_s: 60.0,
            waiting_amber: 3,
            waiting_red: 10,
        }
    }
}

/// Tokens as written in the file; the daemon adds those from files and the environment.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    pub platform_tokens: Vec<Text>,
    pub operator_tokens: Vec<Text>,
    pub admin_tokens: Vec<Text>,
    pub platform_tokens_file: Option<Text>,
    pub operator_tokens_file: Option<Text>,
    pub admin_tokens_file: Option<Text>,
    /// Per-agent tokens as `(agent id, token)`: such a token acts only for its agent.
    pub agent_tokens: Vec<(Text, Text)>,
    /// A file of `AGENT_ID TOKEN` lines, read by the daemon.
    pub agent_tokens_file: Option<Text>,
}
