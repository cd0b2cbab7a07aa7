//! The operator's desk: an agent's actions on "my call" name the agent only, and the
//! engine finds the call ([`Engine::agent_call`]), so that a desk never acts on a call id
//! it read a moment earlier and that has since moved on. The snapshot's view of the call
//! an agent holds ([`DeskCall`]) is built here too.

use super::Engine;
use super::state::{CallState, Slot, Status};
use crate::error::EngineError;
use crate::input::CallId;
use crate::snapshot::{DESK_DIGITS, DeskCall};
use crate::time::Timestamp;

/// Which of an agent's calls an action is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentCall {
    /// The call the agent is talking on (transfer, park, requeue).
    Talking,
    /// The call the agent parked (unpark); the one parked first if there are several.
    Parked,
    /// The call the agent answered and has not finished: talking, or in its after-call
    /// work (disposition).
    Answered,
}

impl Engine {
    /// The id of `agent`'s call of the kind `which`: `unknown_agent` for an agent the site
    /// does not have, `invalid_state` (saying what the agent is doing) when there is none.
    pub fn agent_call(&self, agent: &str, which: AgentCall) -> Result<CallId, EngineError> {
        let ix = self.find_agent(agent)?;
        let a = &self.st.agents[ix.ix()];
        let slot: Option<Slot> = match (which, &a.status) {
            (AgentCall::Talking | AgentCall::Answered, Status::Talking { call }) => Some(*call),
            (AgentCall::Answered, Status::Wrapup { call, .. }) => *call,
            (AgentCall::Parked, _) => self
                .st
                .calls
                .iter()
                .enumerate()
                .filter_map(|(slot, c)| {
                    let c = c.as_ref()?;
                    matches!(c.state, CallState::Parked { agent: p, .. } if p == ix)
                        .then(|| (c.seq, u32::try_from(slot).ok()))
                })
                .min()
                .and_then(|(_, slot)| slot),
            _ => None,
        };
        let what = match which {
            AgentCall::Talking => "no call in progress",
            AgentCall::Parked => "no parked call",
            AgentCall::Answered => "no answered call to register",
        };
        slot.and_then(|s| self.st.calls.get(s as usize)?.as_ref())
            .map(|c| c.id.clone())
            .ok_or_else(|| {
                EngineError::InvalidState(format!(
                    "agent \"{agent}\" is {} and has {what}",
                    a.view_state().as_str()
                ))
            })
    }

    /// What a desk shows of the call in `slot`, held by an agent, read at `now`.
    pub(super) fn desk_call(&self, slot: Slot, now: Timestamp) -> Option<DeskCall> {
        let c = self.st.calls.get(slot as usize)?.as_ref()?;
        let waited = match c.answered {
            Some(answered) => c.queued.map_or(0, |q| answered.since(q)),
            None => c.queued.map_or(0, |q| now.since(q)),
        };
        Some(DeskCall {
            call: c.id.clone(),
            from: c.from.clone(),
            entry: c
                .entry
                .map_or_else(|| "".into(), |e| self.site.entry(e).id.clone()),
            digits: truncated(&c.digits, DESK_DIGITS).to_owned(),
            group: c.serving.map(|g| self.site.group(g).id.clone()),
            wait_s: waited as f64 / 1000.0,
            priority: c.priority,
            case_type: c.case_type.clone(),
            resolved: c.resolved,
        })
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncated(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
