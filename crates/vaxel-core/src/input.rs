//! What goes into the engine: the platform's events (docs/protocol.md), the agents' desktop
//! actions and the admins' actions (HTTP API). Ids are the strings the outside world uses;
//! the engine resolves them and answers an unknown one with an [`EngineError`](crate::EngineError).

use crate::site::Text;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A call's id as the platform named it. Shared so that every command about the call
/// carries it without allocating.
pub type CallId = Arc<str>;

/// serde's own `Arc<str>` is read through a `Box<str>`: two allocations and a copy per id.
/// Inputs are decoded for every platform event, so their shared strings are read straight
/// into their `Arc` (one allocation).
mod shared {
    use serde::de::{Deserializer, Error, Visitor};
    use std::fmt;
    use std::sync::Arc;

    struct V;

    impl Visitor<'_> for V {
        type Value = Arc<str>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: Error>(self, s: &str) -> Result<Arc<str>, E> {
            Ok(Arc::from(s))
        }
    }

    pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(V)
    }

    pub(super) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
        struct O;
        impl<'de> Visitor<'de> for O {
            type Value = Option<Arc<str>>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or nothing")
            }

            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                text(d).map(Some)
            }
        }
        d.deserialize_option(O)
    }
}

/// One input. `now` is passed beside it to [`Engine::handle`](crate::Engine::handle).
///
/// This is the one message model: the wire codec (`vaxel-proto`), the daemon's journal and
/// the scenario scripts all (de)serialize this type through serde, each adding its own
/// envelope (the tag key, `seq`, `at`). Variants carry the protocol's names; absent
/// optional fields are left out when written, so one new field is one line here (plus its
/// name in `vaxel-proto`'s list of the protocol's field names if the name is new, so that
/// the wire reader captures it, and a rule there if it is an id or text to be checked).
/// serde's default external tagging is kept so that each format chooses how it spells the
/// tag (`ev` on the wire, `k` in the journal, the second word of a script line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// A new inbound call, announced by `platform`.
    #[serde(rename = "call.arrived")]
    CallArrived {
        #[serde(deserialize_with = "shared::text")]
        call: CallId,
        #[serde(deserialize_with = "shared::text")]
        platform: Text,
        #[serde(deserialize_with = "shared::text")]
        to: Text,
        #[serde(deserialize_with = "shared::text")]
        from: Text,
        /// IVR choices already collected, comma-separated per menu level (`"8,1"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<String>,
        /// Language the platform detected or the caller chose (`"en"`): informational,
        /// kept on the call.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
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
        #[serde(deserialize_with = "shared::text")]
        call: CallId,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
        reason: Option<Text>,
    },
    /// `to` is `group:ID`, `agent:ID` or `number:E164`.
    #[serde(rename = "call.transfer")]
    CallTransfer {
        #[serde(deserialize_with = "shared::text")]
        call: CallId,
        #[serde(deserialize_with = "shared::text")]
        agent: Text,
        #[serde(deserialize_with = "shared::text")]
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
        #[serde(deserialize_with = "shared::text")]
        call: CallId,
        #[serde(deserialize_with = "shared::text")]
        agent: Text,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
        group: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<i32>,
    },
    #[serde(rename = "call.disposition")]
    CallDisposition {
        #[serde(deserialize_with = "shared::text")]
        call: CallId,
        #[serde(deserialize_with = "shared::text")]
        agent: Text,
        #[serde(deserialize_with = "shared::text")]
        case_type: Text,
        resolved: bool,
    },
    /// Result of a `dial`; `callback` is the id the `dial` carried.
    #[serde(rename = "callback.result")]
    CallbackResult { callback: CallId, connected: bool },
    #[serde(rename = "agent.login")]
    AgentLogin {
        #[serde(deserialize_with = "shared::text")]
        agent: Text,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
        extension: Option<Text>,
    },
    #[serde(rename = "agent.ready")]
    AgentReady { agent: Text },
    #[serde(rename = "agent.logout")]
    AgentLogout { agent: Text },
    #[serde(rename = "agent.pause")]
    AgentPause {
        #[serde(deserialize_with = "shared::text")]
        agent: Text,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
        reason: Option<Text>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
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
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
        prompt: Option<Text>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "shared::opt_text"
        )]
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

    /// The call the input is about, to be filled in: the desk's actions name the agent and
    /// the engine finds its call ([`Engine::agent_call`](crate::Engine::agent_call)).
    #[must_use]
    pub fn with_call(mut self, id: CallId) -> Input {
        match &mut self {
            Input::CallArrived { call, .. }
            | Input::CallDigits { call, .. }
            | Input::CallAnswered { call, .. }
            | Input::CallNoAnswer { call, .. }
            | Input::CallHangup { call, .. }
            | Input::CallTransfer { call, .. }
            | Input::CallPark { call, .. }
            | Input::CallUnpark { call, .. }
            | Input::CallRequeue { call, .. }
            | Input::CallDisposition { call, .. } => *call = id,
            Input::CallbackResult { callback, .. } => *callback = id,
            _ => {}
        }
        self
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
