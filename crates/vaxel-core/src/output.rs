//! What comes out of the engine: commands for the platform (docs/protocol.md) and one call record
//! per call (docs/formats.md). Drained with [`Engine::poll_output`](crate::Engine::poll_output).

use crate::input::CallId;
use crate::site::Text;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A command for the platform that owns the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Play a prompt; `position`/`ewt_s` for queue announcements.
    Play {
        call: CallId,
        prompt: Text,
        position: Option<u32>,
        ewt_s: Option<u64>,
    },
    /// Play a menu prompt and collect digits; answered by `call.digits`.
    Menu {
        call: CallId,
        menu: Text,
        prompt: Text,
        max_digits: u32,
        timeout_s: u32,
    },
    /// Hold the caller in `group`'s queue. `ewt_s` is `None` when the wait cannot be
    /// estimated (nobody serving the group is logged in and unpaused).
    Queue {
        call: CallId,
        group: Text,
        position: u32,
        ewt_s: Option<u64>,
    },
    /// Ring an agent; answered by `call.answered` or `call.noanswer`.
    Connect {
        call: CallId,
        agent: Text,
        extension: Text,
        ring_s: u64,
    },
    /// Send the call to an outside number; the engine's part of the call ends.
    Forward { call: CallId, number: Text },
    /// Play (optionally) and end the caller's line.
    Hangup { call: CallId, prompt: Option<Text> },
    /// Offer a callback; answered by `call.digits` (`"1"` = accept).
    OfferCallback { call: CallId, prompt: Text },
    /// Call the citizen back and bridge to the agent; answered by `callback.result`.
    Dial {
        callback: CallId,
        agent: Text,
        extension: Text,
        number: Text,
    },
}

/// `hangup`'s prompt when the caller accepted a callback: the line is freed but the call
/// goes on (its place in the queue is kept until an agent dials back). The engine sends it
/// and platforms (the simulator included) recognise it through
/// [`Command::is_callback_accepted`], so the wire keeps the prompt while no caller compares
/// strings.
pub const CALLBACK_ACCEPTED_PROMPT: &str = "callback-accepted";

impl Command {
    /// The `hangup` that frees the line of a caller who accepted a callback: the call is not
    /// over, unlike any other `hangup` (docs/protocol.md, callbacks).
    #[must_use]
    pub fn callback_accepted(call: CallId) -> Command {
        Command::Hangup {
            call,
            prompt: Some(CALLBACK_ACCEPTED_PROMPT.into()),
        }
    }

    /// Whether this is the `hangup` of an accepted callback (made by
    /// [`Command::callback_accepted`]): the platform keeps the call for the dial back.
    #[must_use]
    pub fn is_callback_accepted(&self) -> bool {
        matches!(self, Command::Hangup { prompt: Some(p), .. } if &**p == CALLBACK_ACCEPTED_PROMPT)
    }

    /// The protocol name of the command.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Play { .. } => "play",
            Command::Menu { .. } => "menu",
            Command::Queue { .. } => "queue",
            Command::Connect { .. } => "connect",
            Command::Forward { .. } => "forward",
            Command::Hangup { .. } => "hangup",
            Command::OfferCallback { .. } => "offer_callback",
            Command::Dial { .. } => "dial",
        }
    }

    /// The call (or callback) the command is about.
    #[must_use]
    pub fn call(&self) -> &CallId {
        match self {
            Command::Play { call, .. }
            | Command::Menu { call, .. }
            | Command::Queue { call, .. }
            | Command::Connect { call, .. }
            | Command::Forward { call, .. }
            | Command::Hangup { call, .. }
            | Command::OfferCallback { call, .. } => call,
            Command::Dial { callback, .. } => callback,
        }
    }
}

/// How a call ended (docs/formats.md `outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Outcome {
    Answered,
    Abandoned,
    AbandonedIvr,
    OverflowExternal,
    Closed,
    CallbackAnswered,
    CallbackFailed,
    TransferredExternal,
    PlatformLost,
    Timeout,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Answered,
        Outcome::Abandoned,
        Outcome::AbandonedIvr,
        Outcome::OverflowExternal,
        Outcome::Closed,
        Outcome::CallbackAnswered,
        Outcome::CallbackFailed,
        Outcome::TransferredExternal,
        Outcome::PlatformLost,
        Outcome::Timeout,
    ];

    /// The spelling of the call record's `outcome` column (docs/formats.md).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::AbandonedIvr => "abandoned_ivr",
            Outcome::OverflowExternal => "overflow_external",
            Outcome::Closed => "closed",
            Outcome::CallbackAnswered => "callback_answered",
            Outcome::CallbackFailed => "callback_failed",
            Outcome::TransferredExternal => "transferred_external",
            Outcome::PlatformLost => "platform_lost",
            Outcome::Timeout => "timeout",
        }
    }

    /// Parses the `outcome` column's spelling (docs/formats.md).
    #[must_use]
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether an agent talked to the caller.
    #[must_use]
    pub fn is_answered(self) -> bool {
        matches!(self, Outcome::Answered | Outcome::CallbackAnswered)
    }
}

/// What became of a callback, for the record's `callback` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CallbackNote {
    /// No callback was offered.
    #[default]
    None,
    /// Offered, not accepted.
    Declined,
    /// Accepted; `attempts` dials were made; `connected` tells whether one went through.
    Accepted { attempts: u32, connected: bool },
}

impl CallbackNote {
    /// `""`, `declined`, `connected/2` (connected at the 2nd attempt), `failed/3`,
    /// `accepted/0` (accepted, never dialled: the call ended first).
    #[must_use]
    pub fn render(self) -> String {
        match self {
            CallbackNote::None => String::new(),
            CallbackNote::Declined => "declined".into(),
            CallbackNote::Accepted {
                attempts,
                connected: true,
            } => format!("connected/{attempts}"),
            CallbackNote::Accepted {
                attempts: 0,
                connected: false,
            } => "accepted/0".into(),
            CallbackNote::Accepted { attempts, .. } => format!("failed/{attempts}"),
        }
    }

    /// Parses [`render`](Self::render)'s output.
    #[must_use]
    pub fn parse(s: &str) -> Option<CallbackNote> {
        if s.is_empty() {
            return Some(CallbackNote::None);
        }
        if s == "declined" {
            return Some(CallbackNote::Declined);
        }
        let (kind, n) = s.split_once('/')?;
        let attempts = n.parse().ok()?;
        let connected = match kind {
            "connected" => true,
            "failed" | "accepted" => false,
            _ => return None,
        };
        Some(CallbackNote::Accepted {
            attempts,
            connected,
        })
    }
}

/// What a caller was first told on entering a queue: the `queue` command's position and
/// expected wait. On the record so that the estimate can be scored against the wait the
/// caller really had (`vaxel replay`'s and `vaxel report`'s EWT accuracy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    /// 1 = next in line.
    pub position: u32,
    /// Expected wait until an agent answers, in whole seconds; `None` when the engine
    /// could not estimate it.
    pub ewt_s: Option<u64>,
}

/// The groups on a [`CallRecord`].
pub type RecordGroups = smallvec::SmallVec<[Text; 2]>;

/// One call record (docs/formats.md `cdr.csv`), emitted exactly once per call, when the call and
/// the after-call work of the agent who had it are over (so the disposition and the
/// wrap-up time are on it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: CallId,
    /// Entry id; empty when the dialed number matched no entry.
    pub entry: Text,
    pub from: Text,
    pub arrived: Timestamp,
    pub queued: Option<Timestamp>,
    pub answered: Option<Timestamp>,
    pub ended: Timestamp,
    /// The agent who answered last; empty if none.
    pub agent: Text,
    pub outcome: Outcome,
    pub wait_ms: u64,
    pub talk_ms: u64,
    pub wrapup_ms: u64,
    /// Groups the call passed through, in order. Inline up to two (most calls see one
    /// group, an overflowed call two), so a record costs one allocation, not two.
    pub groups: RecordGroups,
    /// The menu choices made, comma-separated per level.
    pub digits: String,
    pub case_type: Option<Text>,
    pub resolved: Option<bool>,
    pub callback: CallbackNote,
    /// The first announcement the caller heard in a queue; `None` if the call never
    /// queued (answered at once, or ended before).
    #[serde(default)]
    pub announced: Option<Announced>,
}

/// One output of the engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// A command for the platform `platform`.
    Command { platform: Text, command: Command },
    /// A finished call (boxed: a record is several times the size of a command, and
    /// outputs are moved through a queue).
    Record(Box<CallRecord>),
    /// An event of the event log, when it is on (boxed like a record).
    Event(Box<crate::event::Event>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_callback_hangup_is_recognised_as_accepted() {
        let accepted = Command::callback_accepted("c1".into());
        assert!(accepted.is_callback_accepted());
        // The wire still carries the prompt: the protocol's bytes do not change.
        assert!(
            matches!(&accepted, Command::Hangup { prompt: Some(p), .. } if &**p == "callback-accepted")
        );
        for other in [
            Command::Hangup {
                call: "c1".into(),
                prompt: None,
            },
            Command::Hangup {
                call: "c1".into(),
                prompt: Some("closed".into()),
            },
            Command::OfferCallback {
                call: "c1".into(),
                prompt: "callback-accepted".into(),
            },
        ] {
            assert!(!other.is_callback_accepted(), "{other:?}");
        }
    }
}
