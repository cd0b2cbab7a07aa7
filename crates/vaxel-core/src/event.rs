//! The event log's one record type (docs/formats.md, `events.csv`): what happened to a call
//! or an agent, and when. The engine emits them as [`Output::Event`](crate::Output::Event)
//! beside its commands and call records, only when asked
//! ([`Engine::set_events`](crate::Engine::set_events)), so the daemon, `vaxel replay
//! --events` and a rebuild from the daemon's journal produce the same log by construction:
//! they run the same engine on the same inputs.

use crate::input::CallId;
use crate::output::Outcome;
use crate::site::Text;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One event: when, the call, agent and answer group it concerns (each when it has one),
/// and what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    pub call: Option<CallId>,
    pub agent: Option<Text>,
    pub group: Option<Text>,
    pub kind: EventKind,
}

/// Who ended a call (the `ended` event's `ended_by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// The caller hung up (a `call.hangup` without `reason` `agent`).
    Caller,
    /// The agent hung up (`call.hangup` with `reason` `agent`), or handed the call to an
    /// outside number.
    Agent,
    /// The platform was given up on (`platform_lost`).
    Platform,
    /// The engine ended it: closed, out of time, sent to an outside number, callback failed.
    System,
}

impl EndedBy {
    pub const ALL: [EndedBy; 4] = [
        EndedBy::Caller,
        EndedBy::Agent,
        EndedBy::Platform,
        EndedBy::System,
    ];

    /// The `ended_by` column's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Caller => "caller",
            EndedBy::Agent => "agent",
            EndedBy::Platform => "platform",
            EndedBy::System => "system",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<EndedBy> {
        EndedBy::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// What happened. Durations in milliseconds; positions 1 = next in line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The call joined `group`'s queue at `position` (1 when offered to a free agent at
    /// once); `from` is the caller's number (empty when withheld), for tools that show it
    /// per queue entry (queue_log's ENTERQUEUE).
    Queued {
        position: u32,
        from: Text,
    },
    /// A position / expected-wait announcement (the `queue` command or a queue prompt).
    Announced {
        position: u32,
        ewt_s: Option<u64>,
    },
    /// Offered to `agent` from `group`: its phone rings.
    Offered,
    /// `agent` let it ring out (`call.noanswer` or the ring time-out) after `ring_ms`.
    NoAnswer {
        ring_ms: u64,
    },
    /// `agent` answered (or a callback connected) after `wait_ms` in queue since the call
    /// first queued, the phone having rung `ring_ms`.
    Connected {
        wait_ms: u64,
        ring_ms: u64,
    },
    /// A talk leg with `agent` ended (hang-up, transfer, park, requeue) after `talk_ms`.
    TalkEnded {
        talk_ms: u64,
    },
    /// An overflow rule (`rule`: `overflow.N`, 1-based, or `max_wait`) sent the call from
    /// `group`, where it was at `position`, out of the site's groups (`to`: `number:…`,
    /// `menu:…`).
    Overflowed {
        to: Text,
        rule: Text,
        position: u32,
    },
    /// A rule moved the call from `group` (at `position`) to the group `to` (it left
    /// `group`).
    Moved {
        to: Text,
        rule: Text,
        position: u32,
    },
    /// A rule let the call wait in the group `to` as well (it stays in `group`).
    Expanded {
        to: Text,
        rule: Text,
    },
    /// `agent` transferred the call (`to`: `group:…`, `agent:…`, `number:…`).
    Transferred {
        to: Text,
    },
    Parked,
    Unparked,
    /// `agent` put the call back in `group`'s queue.
    Requeued,
    CallbackOffered,
    /// The caller accepted a callback and left the line; `position` is its place then (it
    /// keeps it for the dial back).
    CallbackAccepted {
        position: u32,
    },
    CallbackDeclined,
    /// The `attempt`-th dial of an accepted callback, bridged to `agent`.
    CallbackDialled {
        attempt: u32,
    },
    CallbackResult {
        connected: bool,
    },
    /// The call is over (its after-call work may follow). `position` is its place when it
    /// left the queue (0 when it was not waiting), `orig_position` its first announced one
    /// (0 when it never queued); `wait_ms` and `talk_ms` as on the call record.
    Ended {
        outcome: Outcome,
        by: EndedBy,
        position: u32,
        orig_position: u32,
        wait_ms: u64,
        talk_ms: u64,
    },
    Login,
    Logout,
    Paused {
        reason: Option<Text>,
    },
    Unpaused,
    WrapupStarted,
    WrapupEnded {
        wrapup_ms: u64,
    },
}

impl EventKind {
    /// Every event name, in the order docs/formats.md lists them.
    pub const NAMES: [&'static str; 25] = [
        "queued",
        "announced",
        "offered",
        "no_answer",
        "connected",
        "talk_ended",
        "overflowed",
        "moved",
        "expanded",
        "transferred",
        "parked",
        "unparked",
        "requeued",
        "callback_offered",
        "callback_accepted",
        "callback_declined",
        "callback_dialled",
        "callback_result",
        "ended",
        "login",
        "logout",
        "paused",
        "unpaused",
        "wrapup_started",
        "wrapup_ended",
    ];

    /// The `event` column's spelling.
    #[must_use]
    pub fn name(&self) -> &'static str {
        let i = match self {
            EventKind::Queued { .. } => 0,
            EventKind::Announced { .. } => 1,
            EventKind::Offered => 2,
            EventKind::NoAnswer { .. } => 3,
            EventKind::Connected { .. } => 4,
            EventKind::TalkEnded { .. } => 5,
            EventKind::Overflowed { .. } => 6,
            EventKind::Moved { .. } => 7,
            EventKind::Expanded { .. } => 8,
            EventKind::Transferred { .. } => 9,
            EventKind::Parked => 10,
            EventKind::Unparked => 11,
            EventKind::Requeued => 12,
            EventKind::CallbackOffered => 13,
            EventKind::CallbackAccepted { .. } => 14,
            EventKind::CallbackDeclined => 15,
            EventKind::CallbackDialled { .. } => 16,
            EventKind::CallbackResult { .. } => 17,
            EventKind::Ended { .. } => 18,
            EventKind::Login => 19,
            EventKind::Logout => 20,
            EventKind::Paused { .. } => 21,
            EventKind::Unpaused => 22,
            EventKind::WrapupStarted => 23,
            EventKind::WrapupEnded { .. } => 24,
        };
        Self::NAMES[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_by_round_trips() {
        for b in EndedBy::ALL {
            assert_eq!(EndedBy::parse(b.as_str()), Some(b));
        }
    }
}
