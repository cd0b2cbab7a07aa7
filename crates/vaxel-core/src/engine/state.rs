//! The engine's records of calls and agents. Plain data: the transitions live in the
//! modules named for them (`arrival`, `queueing`, `agents`, `calls`, `finish`).

use crate::input::CallId;
use crate::output::{Announced, CallbackNote, Outcome, Repeated};
use crate::site::{AgentIdx, EntryIdx, GroupIdx, MenuIdx, Text};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Position of a call in the engine's slab. Reused after the call is gone; timers therefore
/// also carry the call's unique `seq`.
pub(crate) type Slot = u32;

/// Where a call is. Each state names what it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum CallState {
    /// In the IVR: a `menu` command is out (or digits were pre-collected).
    Ivr { menu: MenuIdx, tries: u32 },
    /// In one or more queues, waiting for an agent.
    Queued,
    /// Offered to `agent`: a `connect` is out. The call keeps its places, out of the sets.
    Ringing { agent: AgentIdx },
    /// Talking to `agent`.
    Talking { agent: AgentIdx },
    /// Parked by `agent`, who is free meanwhile; returns to `group` on timeout.
    Parked { agent: AgentIdx, group: GroupIdx },
    /// Callback accepted; the caller's line is freed, the place kept in the queue.
    CallbackWaiting,
    /// Callback dial failed; back in the queue at the retry timer.
    CallbackRetry,
    /// A `dial` to the citizen is out, bridged to `agent`.
    CallbackDialing { agent: AgentIdx },
    /// Over; the record waits for `agent`'s after-call work to end.
    AfterCall { agent: AgentIdx },
}

impl CallState {
    /// Whether the call sits in its groups' queue sets (offerable to a free agent).
    pub(crate) fn in_queue(self) -> bool {
        matches!(self, CallState::Queued | CallState::CallbackWaiting)
    }
}

/// A call's place in one group's queue.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Member {
    pub group: GroupIdx,
    /// Widen steps passed (0 = the group's own levels).
    pub step: u8,
    pub entered: Timestamp,
    /// Unique per call: timers for this membership carry it, so a membership ended and
    /// begun again in the same group does not inherit old timers.
    pub mseq: u32,
    /// Overflow rules already applied here (bit per rule index).
    pub fired: u32,
    /// `max_wait_s` has been dealt with here.
    pub max_wait_done: bool,
    /// When the next position/EWT announcement is due, if the group announces.
    pub next_announce: Option<Timestamp>,
    /// The deadline of this membership's one armed timer: a timer firing at another time
    /// is stale.
    pub armed: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Call {
    pub id: CallId,
    /// Unique for the engine's lifetime (slot reuse cannot confuse timers).
    pub seq: u64,
    pub platform: Text,
    pub entry: Option<EntryIdx>,
    pub from: Text,
    pub lang: Option<Text>,
    pub arrived: Timestamp,
    pub priority: i32,
    pub state: CallState,
    /// IVR choices collected by the platform beforehand (`"8,1"`), and how much of it has
    /// been applied (a byte offset; `None` = nothing was collected).
    pub precollected: Option<String>,
    pub precollected_used: usize,
    /// Choices made, comma-separated per level.
    pub digits: String,
    /// Menu levels answered so far.
    pub levels: u32,
    /// First time the call entered a queue.
    pub queued: Option<Timestamp>,
    /// The caller's place: first queued time. Keeps the place across widening, expand,
    /// moves, no-answers and requeues.
    pub place: Timestamp,
    pub answered: Option<Timestamp>,
    pub talk_since: Timestamp,
    pub talk_ms: u64,
    /// The agent who answered last.
    pub agent: Option<AgentIdx>,
    /// The group the call was offered from (its ring time, wrap-up and figures).
    pub serving: Option<GroupIdx>,
    pub members: SmallVec<[Member; 2]>,
    pub next_mseq: u32,
    /// Groups passed through, in order.
    pub path: SmallVec<[GroupIdx; 4]>,
    pub case_type: Option<Text>,
    pub resolved: Option<bool>,
    pub callback: CallbackNote,
    /// A callback offer is out; the next `call.digits` answers it. The group offering it.
    pub offering: Option<GroupIdx>,
    /// The agent who last let it ring out: not offered to them again while another is free.
    pub declined_by: Option<AgentIdx>,
    /// Bumped whenever a ring, park or callback-retry timer is armed; such a timer fires
    /// only if it still matches.
    pub nonce: u32,
    /// When the armed ring, park or callback-retry timer is due (kept to re-arm it after
    /// a reload).
    pub deadline: Option<Timestamp>,
    /// Set when the call ended and waits for the agent's after-call work.
    pub ended: Option<(Timestamp, Outcome)>,
    /// The first position and expected wait the caller was told (the first `queue`
    /// command), kept for the record so the estimate can be scored against the real wait.
    /// Absent in checkpoints written before it existed.
    #[serde(default)]
    pub announced: Option<Announced>,
    /// The first repeated announcement (for the record), if one was made.
    #[serde(default)]
    pub repeated: Option<Repeated>,
    /// The group of the first announcement and the model's estimate then, before the
    /// learned factor: scored against the real wait when the call is answered, which is
    /// how the factor is learned (docs/engine.md "Expected wait").
    #[serde(default)]
    pub told: Option<(GroupIdx, u64)>,
    /// A callback was offered (at most once per call, however the wait goes on).
    #[serde(default)]
    pub callback_offered: bool,
}

impl Call {
    pub(crate) fn member(&self, group: GroupIdx) -> Option<&Member> {
        self.members.iter().find(|m| m.group == group)
    }

    pub(crate) fn member_mut(&mut self, group: GroupIdx) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.group == group)
    }
}

/// What an agent is doing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Status {
    LoggedOut,
    Ready,
    Paused {
        reason: Option<Text>,
        until: Option<Timestamp>,
    },
    /// Ringing with a call, or dialing a callback.
    Ringing {
        call: Slot,
    },
    Talking {
        call: Slot,
    },
    /// After-call work; `call` is the call whose record waits for it, if any.
    Wrapup {
        call: Option<Slot>,
        until: Option<Timestamp>,
    },
}

/// A pause asked for while busy, applied when the agent is free.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingPause {
    pub reason: Option<Text>,
    pub note: Option<Text>,
    pub until: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Agent {
    pub status: Status,
    pub since: Timestamp,
    /// When the agent last became ready: the `longest-idle` key.
    pub idle_since: Timestamp,
    pub extension: Text,
    /// Presence text for the directory; kept while paused.
    pub note: Option<Text>,
    pub logout_pending: bool,
    pub pause_pending: Option<PendingPause>,
    pub no_answer_streak: u32,
    pub calls_today: u32,
    pub talk_ms_today: u64,
    /// Order of the last assignment: the `round-robin` key.
    pub rr_stamp: u64,
    /// Bumped on every status change; wrap-up and pause timers carry it.
    pub nonce: u32,
    /// The agent is in its groups' free sets. Not saved: a restored engine reads it off
    /// the saved sets, which hold the free agents only.
    #[serde(skip)]
    pub free: bool,
    /// Wrap-up began (for the record's `wrapup_s`).
    pub wrapup_since: Timestamp,
    /// The group of the agent's last call (its wrap-up time and handle-time estimate).
    pub last_group: Option<GroupIdx>,
    /// Talk time of the agent's last call leg, for the handle-time estimate.
    pub last_talk_ms: u64,
    /// When the next wrap-up should end, asked for before it began (`agent.wrapup_until`
    /// during a call); replaces the group's `wrapup_s` for that wrap-up.
    pub planned_wrapup_end: Option<Timestamp>,
    /// Staffed and busy time, for occupancy (absent from older checkpoints: starts empty).
    #[serde(default)]
    pub busy: super::occupancy::AgentBusy,
}

impl Agent {
    pub(crate) fn new(extension: Text) -> Agent {
        Agent {
            status: Status::LoggedOut,
            since: Timestamp(0),
            idle_since: Timestamp(0),
            extension,
            note: None,
            logout_pending: false,
            pause_pending: None,
            no_answer_streak: 0,
            calls_today: 0,
            talk_ms_today: 0,
            rr_stamp: 0,
            nonce: 0,
            free: false,
            wrapup_since: Timestamp(0),
            last_group: None,
            last_talk_ms: 0,
            planned_wrapup_end: None,
            busy: super::occupancy::AgentBusy::default(),
        }
    }

    pub(crate) fn view_state(&self) -> crate::snapshot::AgentState {
        use crate::snapshot::AgentState;
        match self.status {
            Status::LoggedOut => AgentState::LoggedOut,
            Status::Ready => AgentState::Ready,
            Status::Paused { .. } => AgentState::Paused,
            Status::Ringing { .. } => AgentState::Ringing,
            Status::Talking { .. } => AgentState::Talking,
            Status::Wrapup { .. } => AgentState::Wrapup,
        }
    }
}
