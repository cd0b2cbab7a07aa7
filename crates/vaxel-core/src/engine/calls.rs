//! What happens to a call once it reaches an agent: answer, no answer, hang-up, transfer,
//! park, requeue, disposition, callbacks; and the end of a lost platform's calls.

use super::Engine;
use super::state::{CallState, Slot, Status};
use super::timers::Timer;
use crate::error::EngineError;
use crate::event::{EndedBy, EventKind};
use crate::output::{CallbackNote, Command, Outcome};
use crate::site::{AgentIdx, GroupIdx, Target, Text};

impl Engine {
    /// The call and agent of an event that must concern a call with that agent.
    fn call_with(&self, call: &str, agent: &str) -> Result<(Slot, AgentIdx), EngineError> {
        let slot = self.find_call(call)?;
        let agent_ix = self.find_agent(agent)?;
        Ok((slot, agent_ix))
    }

    fn wrong_state(&self, slot: Slot, what: &str) -> EngineError {
        let c = self.call(slot);
        let state = match c.state {
            CallState::Ivr { .. } => "in the menus".to_owned(),
            CallState::Queued => "queued".to_owned(),
            CallState::Ringing { agent } => format!("ringing at \"{}\"", self.site.agent(agent).id),
            CallState::Talking { agent } => {
                format!("talking with \"{}\"", self.site.agent(agent).id)
            }
            CallState::Parked { agent, .. } => {
                format!("parked by \"{}\"", self.site.agent(agent).id)
            }
            CallState::CallbackWaiting | CallState::CallbackRetry => {
                "waiting for a callback".to_owned()
            }
            CallState::CallbackDialing { agent } => {
                format!("being called back by \"{}\"", self.site.agent(agent).id)
            }
            CallState::AfterCall { .. } => "over".to_owned(),
        };
        EngineError::InvalidState(format!("call \"{}\" is {state}: cannot {what}", c.id))
    }

    /// The call must be talking with `agent`.
    fn talking_with(&self, slot: Slot, agent: AgentIdx, what: &str) -> Result<(), EngineError> {
        match self.call(slot).state {
            CallState::Talking { agent: a } if a == agent => Ok(()),
            _ => Err(self.wrong_state(slot, what)),
        }
    }

    /// The call must be ringing at `agent`, who would `verb` it ("be answered by" the
    /// agent, …).
    fn ringing_at(&self, slot: Slot, agent: AgentIdx, verb: &str) -> Result<(), EngineError> {
        match self.call(slot).state {
            CallState::Ringing { agent: a } if a == agent => Ok(()),
            _ => Err(self.wrong_state(slot, &format!("{verb} \"{}\"", self.site.agent(agent).id))),
        }
    }

    pub(super) fn call_answered(&mut self, call: &str, agent: &str) -> Result<(), EngineError> {
        let (slot, agent) = self.call_with(call, agent)?;
        self.ringing_at(slot, agent, "be answered by")?;
        self.st.agents[agent.ix()].no_answer_streak = 0;
        self.start_talk(slot, agent);
        Ok(())
    }

    /// The call and the agent are talking (an answered call or a connected callback): the
    /// call leaves its queues, and its first answer counts in the serving group's figures.
    fn start_talk(&mut self, slot: Slot, agent: AgentIdx) {
        self.ev_connected(slot, agent);
        let now = self.st.now;
        let sl_ms = self.site.service_level_ms;
        let c = self.call_mut(slot);
        c.state = CallState::Talking { agent };
        c.agent = Some(agent);
        c.talk_since = now;
        c.declined_by = None;
        let first_answer = c.answered.is_none();
        if first_answer {
            c.answered = Some(now);
        }
        let wait = c.queued.map_or(0, |q| now.since(q));
        let callback = matches!(c.callback, CallbackNote::Accepted { .. });
        let serving = c.serving;
        let told = c.told;
        self.leave_all_groups(slot, None);
        if let (Some(g), true) = (serving, first_answer) {
            if !callback {
                // A caller who waited this long and stayed: censored patience.
                self.st.groups[g.ix()].learned.observe_wait(wait, false);
                // And how far the first estimate was: the expected wait's factor.
                if let Some((at, told_ms)) = told {
                    self.st.groups[at.ix()].learned.observe_told(told_ms, wait);
                }
            }
            let today = &mut self.st.groups[g.ix()].today;
            today.answered += 1;
            if wait <= sl_ms {
                today.answered_within_sl += 1;
            }
        }
        self.st.agents[agent.ix()].calls_today += 1;
        self.set_status(agent, Status::Talking { call: slot });
    }

    pub(super) fn call_noanswer(&mut self, call: &str, agent: &str) -> Result<(), EngineError> {
        let (slot, agent) = self.call_with(call, agent)?;
        self.ringing_at(slot, agent, "be refused by")?;
        self.ring_out(slot, agent);
        Ok(())
    }

    /// The offered agent did not answer: after `max_no_answer` in a row the agent is
    /// paused (`no-answer`), else it is free again; the call keeps its place and is
    /// offered on, to another agent if one is free.
    fn ring_out(&mut self, slot: Slot, agent: AgentIdx) {
        self.ev_no_answer(slot, agent);
        let site = self.site.clone();
        let max = self
            .call(slot)
            .serving
            .map_or(0, |g| site.group(g).max_no_answer);
        self.call_mut(slot).declined_by = Some(agent);
        let a = &mut self.st.agents[agent.ix()];
        a.no_answer_streak += 1;
        let streak = a.no_answer_streak;
        // The agent is free first, so the call's own dispatch can prefer others.
        self.set_status(agent, Status::Ready);
        if max > 0 && streak >= max {
            let reason = Some(Text::from("no-answer"));
            self.after_ring_out_pause(agent, reason);
        } else if self.st.agents[agent.ix()].logout_pending
            || self.st.agents[agent.ix()].pause_pending.is_some()
        {
            self.after_work(agent);
        } else {
            // The call is out of the sets while ringing, so the agent cannot pick it here.
            self.st.agents[agent.ix()].idle_since = self.st.now;
            self.serve_agent(agent);
        }
        self.return_to_queue(slot);
    }

    fn after_ring_out_pause(&mut self, agent: AgentIdx, reason: Option<Text>) {
        let a = &mut self.st.agents[agent.ix()];
        if a.logout_pending {
            a.logout_pending = false;
            self.set_status(agent, Status::LoggedOut);
        } else {
            self.pause_now(agent, reason, None, None);
        }
    }

    pub(super) fn on_ring_timeout(&mut self, slot: Slot, seq: u64, nonce: u32) {
        if !self.live(slot, seq) || self.call(slot).nonce != nonce {
            return;
        }
        if let CallState::Ringing { agent } = self.call(slot).state {
            self.ring_out(slot, agent);
        }
    }

    /// The caller (or, with `reason` `agent`, the agent) hung up.
    pub(super) fn call_hangup(
        &mut self,
        call: &str,
        reason: Option<&str>,
    ) -> Result<(), EngineError> {
        let slot = self.find_call(call)?;
        self.hangup_by = Some(if reason == Some("agent") {
            EndedBy::Agent
        } else {
            EndedBy::Caller
        });
        let r = self.hang_up(slot);
        self.hangup_by = None;
        r
    }

    fn hang_up(&mut self, slot: Slot) -> Result<(), EngineError> {
        match self.call(slot).state {
            CallState::Ivr { .. } => self.finish(slot, Outcome::AbandonedIvr),
            CallState::Queued => self.finish(slot, Outcome::Abandoned),
            CallState::Ringing { agent } => {
                // Hung up while the agent's phone rang: abandoned; the agent is free.
                self.finish(slot, Outcome::Abandoned);
                self.after_work(agent);
            }
            CallState::Talking { agent } => {
                self.end_talk(slot, agent);
                let outcome = self.talk_outcome(slot);
                self.finish_after_work(slot, outcome, agent);
            }
            CallState::Parked { .. } => {
                let outcome = self.talk_outcome(slot);
                self.finish(slot, outcome);
            }
            // The caller's line was freed when the callback was accepted: its hang-up is
            // expected and the callback goes on.
            CallState::CallbackWaiting
            | CallState::CallbackRetry
            | CallState::CallbackDialing { .. } => {}
            CallState::AfterCall { .. } => return Err(self.wrong_state(slot, "hang up")),
        }
        Ok(())
    }

    fn talk_outcome(&self, slot: Slot) -> Outcome {
        match self.call(slot).callback {
            CallbackNote::Accepted { .. } => Outcome::CallbackAnswered,
            _ => Outcome::Answered,
        }
    }

    pub(super) fn call_transfer(
        &mut self,
        call: &str,
        agent: &str,
        to: &str,
        priority: i32,
    ) -> Result<(), EngineError> {
        let (slot, agent) = self.call_with(call, agent)?;
        self.talking_with(slot, agent, "be transferred")?;
        // Resolve everything before changing anything.
        enum To {
            Group(GroupIdx),
            Agent(AgentIdx),
            Number(Text),
        }
        let target = if let Some(id) = to.strip_prefix("agent:") {
            let other = self.find_agent(id)?;
            if self.st.agents[other.ix()].status != Status::Ready || other == agent {
                return Err(EngineError::InvalidState(format!(
                    "agent \"{id}\" is {}: cannot take a transfer",
                    self.st.agents[other.ix()].view_state().as_str()
                )));
            }
            To::Agent(other)
        } else {
            match self.parse_target(to, "to")? {
                Target::Group(g) => To::Group(g),
                Target::Number(n) => To::Number(n),
                _ => {
                    return Err(EngineError::BadField {
                        field: "to",
                        reason: format!(
                            "\"{to}\": a transfer goes to group:ID, agent:ID or number:E164"
                        ),
                    });
                }
            }
        };
        self.end_talk(slot, agent);
        self.ev_call(slot, Some(agent), || EventKind::Transferred {
            to: to.into(),
        });
        match target {
            To::Number(number) => {
                let id = self.call(slot).id.clone();
                self.emit_for(slot, Command::Forward { call: id, number });
                self.finish_after_work(slot, Outcome::TransferredExternal, agent);
            }
            To::Group(g) => {
                self.bump_priority(slot, priority);
                self.call_mut(slot).state = CallState::Queued;
                self.start_wrapup(agent, None);
                self.enter_group(slot, g, 0);
            }
            To::Agent(other) => {
                self.bump_priority(slot, priority);
                self.call_mut(slot).state = CallState::Queued;
                self.start_wrapup(agent, None);
                let group = self.call(slot).serving;
                match group {
                    Some(g) if self.st.agents[other.ix()].status == Status::Ready => {
                        self.connect(slot, other, g)
                    }
                    _ => self.return_to_queue(slot),
                }
            }
        }
        Ok(())
    }

    fn bump_priority(&mut self, slot: Slot, by: i32) {
        let c = self.call_mut(slot);
        c.priority = c.priority.saturating_add(by);
    }

    pub(super) fn call_park(&mut self, call: &str, agent: &str) -> Result<(), EngineError> {
        let (slot, agent) = self.call_with(call, agent)?;
        self.talking_with(slot, agent, "be parked")?;
        self.end_talk(slot, agent);
        let group = self.call(slot).serving;
        let Some(group) = group else {
            return Err(self.wrong_state(slot, "be parked"));
        };
        let timeout = self.site.platform.park_timeout_ms;
        let now = self.st.now;
        let c = self.call_mut(slot);
        c.state = CallState::Parked { agent, group };
        c.nonce += 1;
        c.deadline = Some(now.plus_ms(timeout));
        let (seq, nonce) = (c.seq, c.nonce);
        self.st
            .timers
            .at(now.plus_ms(timeout), Timer::Park { slot, seq, nonce });
        self.ev_call(slot, Some(agent), || EventKind::Parked);
        // The agent is free for other calls while the call is parked.
        self.make_ready(agent);
        Ok(())
    }

    pub(super) fn call_unpark(&mut self, call: &str, agent: &str) -> Result<(), EngineError> {
        let (slot, agent) = self.call_with(call, agent)?;
        match self.call(slot).state {
            CallState::Parked { agent: a, .. } if a == agent => {}
            _ => {
                return Err(self.wrong_state(
                    slot,
                    &format!("be unparked by \"{}\"", self.site.agent(agent).id),
                ));
            }
        }
        if self.st.agents[agent.ix()].status != Status::Ready {
            return Err(self.invalid_agent(agent, "take back a parked call"));
        }
        self.remove_idle(agent);
        self.ev_call(slot, Some(agent), || EventKind::Unparked);
        let now = self.st.now;
        let c = self.call_mut(slot);
        c.state = CallState::Talking { agent };
        c.talk_since = now;
        c.nonce += 1;
        self.set_status(agent, Status::Talking { call: slot });
        Ok(())
    }

    fn invalid_agent(&self, agent: AgentIdx, what: &str) -> EngineError {
        EngineError::InvalidState(format!(
            "agent \"{}\" is {}: cannot {what}",
            self.site.agent(agent).id,
            self.st.agents[agent.ix()].view_state().as_str()
        ))
    }

    pub(super) fn on_park_timeout(&mut self, slot: Slot, seq: u64, nonce: u32) {
        if !self.live(slot, seq) || self.call(slot).nonce != nonce {
            return;
        }
        if let CallState::Parked { group, .. } = self.call(slot).state {
            // Back to the group it was answered in, ahead of callers of its priority who
            // came later (it keeps its place).
            self.call_mut(slot).state = CallState::Queued;
            self.enter_group(slot, group, 0);
        }
    }

    pub(super) fn call_requeue(
        &mut self,
        call: &str,
        agent: &str,
        group: Option<&str>,
        priority: i32,
    ) -> Result<(), EngineError> {
        let (slot, agent) = self.call_with(call, agent)?;
        self.talking_with(slot, agent, "be requeued")?;
        let target = match group {
            Some(id) => *self
                .site
                .group_by_id
                .get(id)
                .ok_or_else(|| EngineError::BadField {
                    field: "group",
                    reason: format!("no group \"{id}\""),
                })?,
            None => match self.call(slot).serving {
                Some(g) => g,
                None => return Err(self.wrong_state(slot, "be requeued without a group")),
            },
        };
        self.end_talk(slot, agent);
        self.ev_in(slot, Some(agent), Some(target), || EventKind::Requeued);
        self.bump_priority(slot, priority);
        self.call_mut(slot).state = CallState::Queued;
        self.start_wrapup(agent, None);
        self.enter_group(slot, target, 0);
        Ok(())
    }

    pub(super) fn call_disposition(
        &mut self,
        call: &str,
        agent: &str,
        case_type: Text,
        resolved: bool,
    ) -> Result<(), EngineError> {
        let (slot, agent) = self.call_with(call, agent)?;
        if self.call(slot).agent != Some(agent) {
            return Err(EngineError::InvalidState(format!(
                "call \"{call}\" was not answered by \"{}\": cannot register its case",
                self.site.agent(agent).id
            )));
        }
        let c = self.call_mut(slot);
        c.case_type = Some(case_type);
        c.resolved = Some(resolved);
        Ok(())
    }

    pub(super) fn callback_result(
        &mut self,
        callback: &str,
        connected: bool,
    ) -> Result<(), EngineError> {
        let slot = self.find_call(callback)?;
        let CallState::CallbackDialing { agent } = self.call(slot).state else {
            return Err(self.wrong_state(slot, "report a callback result"));
        };
        let now = self.st.now;
        self.ev_call(slot, Some(agent), || EventKind::CallbackResult {
            connected,
        });
        if connected {
            if let CallbackNote::Accepted { connected, .. } = &mut self.call_mut(slot).callback {
                *connected = true;
            }
            self.start_talk(slot, agent);
            return Ok(());
        }
        let attempts = match self.call(slot).callback {
            CallbackNote::Accepted { attempts, .. } => attempts,
            _ => 0,
        };
        let policy = self.site.callbacks.clone();
        self.make_ready(agent);
        if attempts >= policy.attempts {
            self.finish(slot, Outcome::CallbackFailed);
        } else {
            let c = self.call_mut(slot);
            c.state = CallState::CallbackRetry;
            c.nonce += 1;
            c.deadline = Some(now.plus_ms(policy.retry_delay_ms));
            let (seq, nonce) = (c.seq, c.nonce);
            self.st.timers.at(
                now.plus_ms(policy.retry_delay_ms),
                Timer::CallbackRetry { slot, seq, nonce },
            );
        }
        Ok(())
    }

    /// Ends every call of a platform given up on, in slot order, as `platform_lost`;
    /// their agents are free once all of them are gone (so none is offered another of the
    /// lost platform's calls).
    pub(super) fn platform_lost(&mut self, platform: &str) {
        let mut freed = Vec::new();
        for slot in 0..self.st.calls.len() as Slot {
            let Some(c) = &self.st.calls[slot as usize] else {
                continue;
            };
            if &*c.platform != platform || matches!(c.state, CallState::AfterCall { .. }) {
                continue;
            }
            let state = c.state;
            match state {
                CallState::Talking { agent } => {
                    self.end_talk(slot, agent);
                    freed.push(agent);
                }
                CallState::Ringing { agent } | CallState::CallbackDialing { agent } => {
                    freed.push(agent)
                }
                _ => {}
            }
            self.finish(slot, Outcome::PlatformLost);
        }
        for agent in freed {
            self.after_work(agent);
        }
    }
}
