//! What goes into the engine: the platform's events (docs/protocol.md), the agents' desktop
//! actions and the admins' actions (HTTP API). Ids are the strings the outside world uses;
//! the engine resolves them and answers an unknown one with an [`EngineError`](crate::EngineError).

use crate::site::{Site, Text};
use crate::time::Timestamp;
use std::sync::Arc;

/// A call's id as the platform named it. Shared so that every command about the call
/// carries it without allocating.
pub type CallId = Arc<str>;

/// One input. `now` is passed beside it to [`Engine::handle`](crate::Engine::handle).
#[derive(Clone, Debug)]
pub enum Input {
    /// A new inbound call, announced by `platform`.
    CallArrived {
        call: CallId,
        platform: Text,
        to: Text,
        from: Text,
        /// IVR choices already collected, comma-separated per menu level (`"8,1"`).
        digits: Option<String>,
        /// Language the platform detected or the caller chose (`"en"`): informational,
        /// kept on the call.
        lang: Option<Text>,
    },
    /// The caller's answer to a `menu` or `offer_callback` (empty = no input).
    CallDigits {
        call: CallId,
        digits: String,
    },
    CallAnswered {
        call: CallId,
        agent: Text,
    },
    CallNoAnswer {
        call: CallId,
        agent: Text,
    },
    CallHangup {
        call: CallId,
        reason: Option<Text>,
    },
    /// `to` is `group:ID`, `agent:ID` or `number:E164`.
    CallTransfer {
        call: CallId,
        agent: Text,
        to: Text,
        priority: Option<i32>,
    },
    CallPark {
        call: CallId,
        agent: Text,
    },
    CallUnpark {
        call: CallId,
        agent: Text,
    },
    CallRequeue {
        call: CallId,
        agent: Text,
        group: Option<Text>,
        priority: Option<i32>,
    },
    CallDisposition {
        call: CallId,
        agent: Text,
        case_type: Text,
        resolved: bool,
    },
    /// Result of a `dial`; `callback` is the id the `dial` carried.
    CallbackResult {
        callback: CallId,
        connected: bool,
    },
    AgentLogin {
        agent: Text,
        extension: Option<Text>,
    },
    AgentReady {
        agent: Text,
    },
    AgentLogout {
        agent: Text,
    },
    AgentPause {
        agent: Text,
        reason: Option<Text>,
        note: Option<Text>,
        until: Option<Timestamp>,
    },
    AgentWrapupDone {
        agent: Text,
    },
    /// Project extension: sets when the agent's after-call work ends (earlier or later than
    /// the group's `wrapup_s`): during wrap-up, "I need two more minutes" on the desktop;
    /// during a call, the end of the wrap-up to come. The replay uses it to give each call
    /// its trace's own wrap-up time.
    AgentWrapupUntil {
        agent: Text,
        until: Timestamp,
    },
    /// Time passes, nothing else (event clock).
    Tick,
    /// An admin switches crisis mode. `prompt`/`route` override the site's `[crisis]`
    /// section for this activation (route as `group:ID`, `menu:ID` or `number:E164`).
    Crisis {
        on: bool,
        prompt: Option<Text>,
        route: Option<Text>,
    },
    /// The daemon gave up on a platform after its grace period: its calls end as
    /// `platform_lost`.
    PlatformLost {
        platform: Text,
    },
    /// A new, already validated configuration. Refused (state unchanged) if it would strand
    /// a waiting call or a logged-in agent.
    Reload(Arc<Site>),
}

impl Input {
    /// The protocol name of the input, for logs and per-type metrics.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Input::CallArrived { .. } => "call.arrived",
            Input::CallDigits { .. } => "call.digits",
            Input::CallAnswered { .. } => "call.answered",
            Input::CallNoAnswer { .. } => "call.noanswer",
            Input::CallHangup { .. } => "call.hangup",
            Input::CallTransfer { .. } => "call.transfer",
            Input::CallPark { .. } => "call.park",
            Input::CallUnpark { .. } => "call.unpark",
            Input::CallRequeue { .. } => "call.requeue",
            Input::CallDisposition { .. } => "call.disposition",
            Input::CallbackResult { .. } => "callback.result",
            Input::AgentLogin { .. } => "agent.login",
            Input::AgentReady { .. } => "agent.ready",
            Input::AgentLogout { .. } => "agent.logout",
            Input::AgentPause { .. } => "agent.pause",
            Input::AgentWrapupDone { .. } => "agent.wrapup_done",
            Input::AgentWrapupUntil { .. } => "agent.wrapup_until",
            Input::Tick => "tick",
            Input::Crisis { .. } => "crisis",
            Input::PlatformLost { .. } => "platform.lost",
            Input::Reload(_) => "reload",
        }
    }
}
