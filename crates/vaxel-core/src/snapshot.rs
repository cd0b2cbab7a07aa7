//! The engine's live state as plain data, for wallboards, agents' desktops and Prometheus
//! gauges. Built on demand by [`Engine::snapshot`](crate::Engine::snapshot); serializable so
//! the daemon can send it as JSON without knowing the engine's insides.

use crate::input::CallId;
use crate::site::{Board, Text, UiLang};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Everything a supervisor's wallboard shows.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Snapshot {
    pub at: Timestamp,
    pub site: Text,
    pub crisis: bool,
    /// The screens' language (`sv`, `en`) from the site file.
    pub lang: UiLang,
    pub groups: Vec<GroupSnapshot>,
    pub agents: Vec<AgentSnapshot>,
    /// Calls waiting in a queue (or parked, or waiting for a callback), oldest first.
    pub calls: Vec<CallSnapshot>,
    /// Calls the engine holds in any state (IVR, queue, talking, after-call work).
    pub calls_in_progress: u32,
    /// The site's occupancy: all agents.
    pub occupancy: Occupancy,
}

/// The share of staffed agent time (logged in and not paused) spent busy (ringing,
/// talking, in wrap-up): since local midnight and over the last 15 minutes, up to the time
/// of reading; 0 with no staffed time.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Occupancy {
    pub today: f64,
    pub last_15_min: f64,
}

/// Agents serving a group, by state.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentCounts {
    pub ready: u32,
    pub ringing: u32,
    pub talking: u32,
    pub wrapup: u32,
    pub paused: u32,
    pub logged_out: u32,
}

impl AgentCounts {
    /// Counts one more agent in `state`.
    pub fn add(&mut self, state: AgentState) {
        let n = match state {
            AgentState::LoggedOut => &mut self.logged_out,
            AgentState::Ready => &mut self.ready,
            AgentState::Ringing => &mut self.ringing,
            AgentState::Talking => &mut self.talking,
            AgentState::Wrapup => &mut self.wrapup,
            AgentState::Paused => &mut self.paused,
        };
        *n += 1;
    }
}

/// A group's figures since local midnight.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DayStats {
    /// Calls that entered the queue.
    pub offered: u32,
    pub answered: u32,
    /// Caller hung up while queued.
    pub abandoned: u32,
    /// Abandoned within 5 s: not counted against the service level (docs/formats.md).
    pub short_abandoned: u32,
    /// Left the queue by an overflow rule, max wait or callback.
    pub overflowed: u32,
    pub answered_within_sl: u32,
    /// answered within the site's threshold / (offered − short abandoned); 1.0 with no calls.
    pub service_level: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GroupSnapshot {
    pub id: Text,
    pub name: Text,
    pub waiting: u32,
    pub oldest_wait_s: f64,
    /// Expected wait of a call joining the queue now; `None` (JSON `null`) when unknown:
    /// nobody serving the group is logged in and unpaused.
    pub ewt_s: Option<u64>,
    pub agents: AgentCounts,
    pub today: DayStats,
    /// The group's service-level target and the wallboard's colour thresholds.
    pub wallboard: Board,
    /// Occupancy of the agents serving the group (an agent in several groups counts in
    /// each).
    pub occupancy: Occupancy,
}

/// An agent's state name: `logged_out`, `ready`, `ringing`, `talking`, `wrapup`, `paused`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    LoggedOut,
    Ready,
    Ringing,
    Talking,
    Wrapup,
    Paused,
}

impl AgentState {
    pub const ALL: [AgentState; 6] = [
        AgentState::LoggedOut,
        AgentState::Ready,
        AgentState::Ringing,
        AgentState::Talking,
        AgentState::Wrapup,
        AgentState::Paused,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Ready => "ready",
            AgentState::Ringing => "ringing",
            AgentState::Talking => "talking",
            AgentState::Wrapup => "wrapup",
            AgentState::Paused => "paused",
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AgentSnapshot {
    pub id: Text,
    pub name: Text,
    pub extension: Text,
    pub department: Option<Text>,
    pub state: AgentState,
    pub since: Timestamp,
    pub call: Option<CallId>,
    pub skills: Vec<(Text, u8)>,
    pub groups: Vec<Text>,
    pub pause_reason: Option<Text>,
    /// Presence text for the directory ("Lunch, back 13:00").
    pub note: Option<Text>,
    pub until: Option<Timestamp>,
    /// Logout requested while busy: takes effect after the call.
    pub logout_pending: bool,
    pub calls_today: u32,
    pub talk_s_today: u64,
    /// The call in `call` as the agent's desk shows it (`None` without one).
    pub call_detail: Option<DeskCall>,
}

/// The call an agent holds (ringing, talking, or in its after-call work), as the operator's
/// desk shows it: who calls, how they came in and how long they waited.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DeskCall {
    pub call: CallId,
    /// The caller's number.
    pub from: Text,
    /// The entry (the number dialled) the call came in on.
    pub entry: Text,
    /// Menu choices, comma-separated per level (`"2,1"`), at most [`DESK_DIGITS`] bytes.
    pub digits: String,
    /// The group the call was offered from.
    pub group: Option<Text>,
    /// The wait before the answer (for a ringing call: so far), in seconds.
    pub wait_s: f64,
    pub priority: i32,
    /// The case registered so far (`call.disposition`).
    pub case_type: Option<Text>,
    pub resolved: Option<bool>,
}

/// Bytes of a call's menu choices a snapshot carries at most: a snapshot goes to every
/// screen every second, and a caller looping in a menu must not grow it.
pub const DESK_DIGITS: usize = 64;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CallSnapshot {
    pub call: CallId,
    pub from: Text,
    pub entry: Text,
    /// Language the caller chose or the platform detected.
    pub lang: Option<Text>,
    /// `queued`, `ringing`, `offering_callback`, `parked`, `callback`.
    pub state: &'static str,
    pub groups: Vec<Text>,
    /// Place in the first of its groups (1 = next).
    pub position: u32,
    pub wait_s: f64,
    pub priority: i32,
    /// The agent who parked the call (state `parked`), who may take it back.
    pub parked_by: Option<Text>,
}

/// A directory hit with the linked agent's presence.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DirectoryHit {
    pub name: Text,
    pub department: Option<Text>,
    pub extension: Option<Text>,
    pub number: Option<Text>,
    pub keywords: Vec<Text>,
    pub presence: Option<Presence>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Presence {
    pub agent: Text,
    pub state: AgentState,
    pub note: Option<Text>,
    pub until: Option<Timestamp>,
}
