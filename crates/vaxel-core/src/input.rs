//! What goes into the engine: the platform's events (PROTOCOL.md), the agents' desktop
//! actions and the admins' actions (HTTP API). Ids are the strings the outside world uses;
//! the engine resolves them and answers an unknown one with an [`EngineError`](crate::EngineError).

use crate::site::Text;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A call's id as the platform named it. Shared so that every command about the call
/// carries it without allocating.
pub type CallId = Arc<str>;

/// One input. `now` is passed beside it to [`Engine::handle`](crate::Engine::handle).
///
/// This is the one message model: the wire codec (`vaxel-proto`), the daemon's journal and
/// the scenario scripts all (de)serialize this type through serde, each adding its own
/// envelope (the tag key, `seq`, `at`). Variants carry the protocol's names; absent
/// optional fields are left out when written, so one new field is one line here. serde's
/// default external tagging is kept so that each format chooses how it spells the tag
/// (`ev` on the wire, `k` in the journal, the second word of a script line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// A new inbound call, announced by `platform`.
    #[serde(rename = "call.arrived")]
    CallArrived {
        call: CallId,
        platform: Text,
        to: Text,
        from: Text,
        /// IVR choices already collected, comma-separated per menu level (`"8,1"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<String>,
        /// Language the platform detected or the caller chose (`"en"`): informational,
        /// kept on the call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lang: Option<Text>,
    },
    /// The caller's answer to a `menu` or `offer_callback` (empty = no input).
    #[serde(rename = "call.digits")]
    CallDigits { call: CallId, digits: String },
    #[serde(rename = "call.answered")]
    CallAnswered { call: CallId, agent: Text },
    #[serde(rename = "call.noanswer")]
    CallNoAnswer { call: CallId, agent: Text },
    #[serde(rename = "call.hangup")]
    CallHangup {
        call: CallId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Text>,
    },
    /// `to` is `group:ID`, `agent:ID` or `number:E164`.
    #[serde(rename = "call.transfer")]
    CallTransfer {
        call: CallId,
        agent: Text,
        to: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<i32>,
    },
    #[serde(rename = "call.park")]
    CallPark { call: CallId, agent: Text },
    #[serde(rename = "call.unpark")]
    CallUnpark { call: CallId, agent: Text },
    #[serde(rename = "call.requeue")]
    CallRequeue {
        call: CallId,
        agent: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<i32>,
    },
    #[serde(rename = "call.disposition")]
    CallDisposition {
        call: CallId,
        agent: Text,
        case_type: Text,
        resolved: bool,
    },
    /// Result of a `dial`; `callback` is the id the `dial` carried.
    #[serde(rename = "callback.result")]
    CallbackResult { callback: CallId, connected: bool },
    #[serde(rename = "agent.login")]
    AgentLogin {
        agent: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension: Option<Text>,
    },
    #[serde(rename = "agent.ready")]
    AgentReady { agent: Text },
    #[serde(rename = "agent.logout")]
    AgentLogout { agent: Text },
    #[serde(rename = "agent.pause")]
    AgentPause {
        agent: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
    },
    #[serde(rename = "agent.wrapup_done")]
    AgentWrapupDone { agent: Text },
    /// Project extension: sets when the agent's after-call work ends (earlier or later than
    /// the group's `wrapup_s`): during wrap-up, "I need two more minutes" on the desktop;
    /// during a call, the end of the wrap-up to come. The replay uses it to give each call
    /// its trace's own wrap-up time.
    #[serde(rename = "agent.wrapup_until")]
    AgentWrapupUntil { agent: Text, until: Timestamp },
    /// Time passes, nothing else (event clock).
    #[serde(rename = "tick")]
    Tick,
    /// An admin switches crisis mode. `prompt`/`route` override the site's `[crisis]`
    /// section for this activation (route as `group:ID`, `menu:ID` or `number:E164`).
    #[serde(rename = "crisis")]
    Crisis {
        on: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route: Option<Text>,
    },
    /// The daemon gave up on a platform after its grace period: its calls end as
    /// `platform_lost`.
    #[serde(rename = "platform.lost")]
    PlatformLost { platform: Text },
}

impl Input {
    /// The call (or callback) the input is about, if any.
    #[must_use]
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Input::CallArrived { call, .. }
            | Input::CallDigits { call, .. }
            | Input::CallAnswered { call, .. }
            | Input::CallNoAnswer { call, .. }
            | Input::CallHangup { call, .. }
            | Input::CallTransfer { call, .. }
            | Input::CallPark { call, .. }
            | Input::CallUnpark { call, .. }
            | Input::CallRequeue { call, .. }
            | Input::CallDisposition { call, .. } => Some(call),
            Input::CallbackResult { callback, .. } => Some(callback),
            _ => None,
        }
    }

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
        }
    }
}
