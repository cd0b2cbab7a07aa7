//! Agents' own actions: login, ready, pause, logout, wrap-up; and the status bookkeeping
//! every transition goes through.

use super::Engine;
use super::queues::is_staffed;
use super::state::{PendingPause, Status};
use super::timers::Timer;
use crate::error::EngineError;
use crate::site::{AgentIdx, Text};
use crate::time::Timestamp;

impl Engine {
    /// Every status change goes here: per-group counts, `since`, and the nonce that
    /// retires the agent's old timers (and the event log's agent events, when it is on).
    #[inline]
    pub(super) fn set_status(&mut self, agent: AgentIdx, status: Status) {
        if self.events {
            self.set_status_logged(agent, status);
        } else {
            self.set_status_only(agent, status);
        }
    }

    /// [`set_status`](Self::set_status) without the event log.
    #[inline]
    pub(super) fn set_status_only(&mut self, agent: AgentIdx, status: Status) {
        let now = self.st.now;
        let a = &mut self.st.agents[agent.ix()];
        let old = a.view_state();
        a.status = status;
        a.nonce = a.nonce.wrapping_add(1);
        let new = a.view_state();
        if old != new {
            a.busy.close(old, a.since, now, self.day_start);
            a.since = now;
            let is = is_staffed(new);
            if is_staffed(old) != is {
                self.staffing_changed(agent, is);
            }
        }
    }

    /// The agent logs in or out, pauses or resumes: its groups count one staffed agent
    /// more or fewer. Out of line: the common changes (ready, ringing, talking, wrap-up)
    /// leave the count alone, and the loop would make every change pay for its registers.
    #[cold]
    #[inline(never)]
    fn staffing_changed(&mut self, agent: AgentIdx, is: bool) {
        for &(g, _) in &self.st.agent_groups[agent.ix()] {
            let gs = &mut self.st.groups[g.ix()];
            gs.staff(if is { 1 } else { -1 });
            if gs.staffed == 0 && gs.waiting() > 0 && !self.recheck.contains(&g) {
                // Nobody left to serve the calls waiting there: `no_agents` has just
                // become true for them (re-checked once this change is done).
                self.recheck.push(g);
            }
        }
    }

    /// The agent is ready: it takes the best waiting call or joins the free sets.
    pub(super) fn make_ready(&mut self, agent: AgentIdx) {
        self.remove_idle(agent);
        let now = self.st.now;
        let a = &mut self.st.agents[agent.ix()];
        a.idle_since = now;
        a.note = None;
        self.set_status(agent, Status::Ready);
        self.serve_agent(agent);
    }

    pub(super) fn pause_now(
        &mut self,
        agent: AgentIdx,
        reason: Option<Text>,
        note: Option<Text>,
        until: Option<Timestamp>,
    ) {
        self.remove_idle(agent);
        self.st.agents[agent.ix()].note = note;
        self.set_status(agent, Status::Paused { reason, until });
        if let Some(t) = until {
            let nonce = self.st.agents[agent.ix()].nonce;
            self.st
                .timers
                .at(t.max(self.st.now), Timer::PauseEnd { agent, nonce });
        }
    }

    fn invalid(&self, agent: AgentIdx, what: &str) -> EngineError {
        let a = &self.st.agents[agent.ix()];
        EngineError::InvalidState(format!(
            "agent \"{}\" is {}: cannot {what}",
            self.site.agent(agent).id,
            a.view_state().as_str()
        ))
    }

    pub(super) fn agent_login(
        &mut self,
        id: &str,
        extension: Option<Text>,
    ) -> Result<(), EngineError> {
        let agent = self.find_agent(id)?;
        if self.st.agents[agent.ix()].status != Status::LoggedOut {
            return Err(self.invalid(agent, "log in"));
        }
        let ext = extension.unwrap_or_else(|| self.site.agent(agent).extension.clone());
        let a = &mut self.st.agents[agent.ix()];
        a.extension = ext;
        a.no_answer_streak = 0;
        self.make_ready(agent);
        Ok(())
    }

    pub(super) fn agent_ready(&mut self, id: &str) -> Result<(), EngineError> {
        let agent = self.find_agent(id)?;
        match self.st.agents[agent.ix()].status {
            Status::LoggedOut => Err(self.invalid(agent, "be ready before logging in")),
            Status::Ready => Ok(()),
            Status::Paused { .. } => {
                self.st.agents[agent.ix()].no_answer_streak = 0;
                self.make_ready(agent);
                Ok(())
            }
            Status::Wrapup { .. } => {
                self.end_wrapup(agent);
                Ok(())
            }
            Status::Ringing { .. } | Status::Talking { .. } => {
                // Ready after this call: withdraw a pending pause or logout.
                let a = &mut self.st.agents[agent.ix()];
                a.pause_pending = None;
                a.logout_pending = false;
                Ok(())
            }
        }
    }

    pub(super) fn agent_pause(
        &mut self,
        id: &str,
        reason: Option<Text>,
        note: Option<Text>,
        until: Option<Timestamp>,
    ) -> Result<(), EngineError> {
        let agent = self.find_agent(id)?;
        if let Some(t) = until
            && t <= self.st.now
        {
            return Err(EngineError::BadField {
                field: "until",
                reason: format!("{t} is not after the engine's time {}", self.st.now),
            });
        }
        match self.st.agents[agent.ix()].status {
            Status::LoggedOut => Err(self.invalid(agent, "pause")),
            Status::Ready | Status::Paused { .. } => {
                self.pause_now(agent, reason, note, until);
                Ok(())
            }
            Status::Ringing { .. } | Status::Talking { .. } | Status::Wrapup { .. } => {
                self.st.agents[agent.ix()].pause_pending = Some(PendingPause {
                    reason,
                    note,
                    until,
                });
                Ok(())
            }
        }
    }

    pub(super) fn agent_logout(&mut self, id: &str) -> Result<(), EngineError> {
        let agent = self.find_agent(id)?;
        match self.st.agents[agent.ix()].status {
            Status::LoggedOut => Err(self.invalid(agent, "log out")),
            Status::Ready | Status::Paused { .. } => {
                self.remove_idle(agent);
                let a = &mut self.st.agents[agent.ix()];
                a.note = None;
                a.pause_pending = None;
                a.planned_wrapup_end = None;
                self.set_status(agent, Status::LoggedOut);
                Ok(())
            }
            Status::Ringing { .. } | Status::Talking { .. } | Status::Wrapup { .. } => {
                // Takes effect after the call and its wrap-up.
                self.st.agents[agent.ix()].logout_pending = true;
                Ok(())
            }
        }
    }

    pub(super) fn agent_wrapup_done(&mut self, id: &str) -> Result<(), EngineError> {
        let agent = self.find_agent(id)?;
        if !matches!(self.st.agents[agent.ix()].status, Status::Wrapup { .. }) {
            return Err(self.invalid(agent, "end wrap-up"));
        }
        self.end_wrapup(agent);
        Ok(())
    }

    pub(super) fn agent_wrapup_until(
        &mut self,
        id: &str,
        until: Timestamp,
    ) -> Result<(), EngineError> {
        let agent = self.find_agent(id)?;
        let call = match self.st.agents[agent.ix()].status {
            Status::Wrapup { call, .. } => call,
            Status::Ringing { .. } | Status::Talking { .. } => {
                // Planned ahead: the coming wrap-up ends then, whatever the group's default.
                self.st.agents[agent.ix()].planned_wrapup_end = Some(until);
                return Ok(());
            }
            _ => return Err(self.invalid(agent, "set the end of wrap-up")),
        };
        if until <= self.st.now {
            self.end_wrapup(agent);
            return Ok(());
        }
        let a = &mut self.st.agents[agent.ix()];
        a.status = Status::Wrapup {
            call,
            until: Some(until),
        };
        a.nonce = a.nonce.wrapping_add(1);
        let nonce = a.nonce;
        self.st.timers.at(until, Timer::Wrapup { agent, nonce });
        Ok(())
    }
}
