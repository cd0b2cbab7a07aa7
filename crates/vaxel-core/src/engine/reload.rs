//! Applying a new configuration without dropping a call: every waiting call keeps its
//! place, every agent its state. Refused, with the reasons, if the new site lacks a group,
//! menu, entry or agent that a live call or a logged-in agent still uses.

use super::Engine;
use super::state::{Agent, CallState, Status};
use super::timers::Timer;
use crate::error::EngineError;
use crate::site::{AgentIdx, GroupIdx, Site};
use crate::time::Timestamp;
use std::sync::Arc;

impl Engine {
    /// Replaces the running configuration at `now` with `new` (already validated). Timers
    /// due by `now` fire first. Refused (state unchanged) if it would strand a waiting
    /// call or a logged-in agent. Not an [`Input`](crate::Input): a site is no message,
    /// and the journal keeps the configuration's text instead.
    pub fn reload(&mut self, now: Timestamp, new: Arc<Site>) -> Result<(), EngineError> {
        self.handle_timeout(now)?;
        self.swap_site(new)
    }

    fn swap_site(&mut self, new: Arc<Site>) -> Result<(), EngineError> {
        let old = self.site.clone();
        let group_map: Vec<Option<GroupIdx>> = old
            .groups
            .iter()
            .map(|g| new.group_by_id.get(&g.id).copied())
            .collect();
        let agent_map: Vec<Option<AgentIdx>> = old
            .agents
            .iter()
            .map(|a| new.agent_by_id.get(&a.id).copied())
            .collect();
        let mut reasons = Vec::new();
        for c in self.st.calls.iter().flatten() {
            for g in c.members.iter().map(|m| m.group).chain(c.serving) {
                if group_map[g.ix()].is_none() {
                    reasons.push(format!(
                        "call \"{}\" is in group \"{}\", which the new configuration lacks",
                        c.id,
                        old.group(g).id
                    ));
                }
            }
            if let CallState::Ivr { menu, .. } = c.state
                && !new.menu_by_id.contains_key(&old.menu(menu).id)
            {
                reasons.push(format!(
                    "call \"{}\" is in menu \"{}\", which the new configuration lacks",
                    c.id,
                    old.menu(menu).id
                ));
            }
            if let Some(e) = c.entry
                && !new.entry_by_id.contains_key(&old.entry(e).id)
            {
                reasons.push(format!(
                    "call \"{}\" came in on entry \"{}\", which the new configuration lacks",
                    c.id,
                    old.entry(e).id
                ));
            }
        }
        for (i, a) in self.st.agents.iter().enumerate() {
            if a.status != Status::LoggedOut && agent_map[i].is_none() {
                reasons.push(format!(
                    "agent \"{}\" is logged in, and the new configuration lacks it",
                    old.agents[i].id
                ));
            }
        }
        if !reasons.is_empty() {
            reasons.dedup();
            return Err(EngineError::ReloadRefused(reasons));
        }
        let menu_map = |m: crate::site::MenuIdx| new.menu_by_id[&old.menu(m).id];
        let g = |x: GroupIdx| group_map[x.ix()].unwrap_or(x);
        let a = |x: AgentIdx| agent_map[x.ix()].unwrap_or(x);

        // Agents: keep the state of those that stay, by id.
        let mut agents: Vec<Agent> = new
            .agents
            .iter()
            .map(|d| Agent::new(d.extension.clone()))
            .collect();
        for (i, st) in std::mem::take(&mut self.st.agents).into_iter().enumerate() {
            if let Some(n) = agent_map[i] {
                let mut st = st;
                st.free = false;
                st.last_group = st.last_group.map(g);
                agents[n.ix()] = st;
            }
        }
        // Calls: remap indices in place (slots stay, so agents' call slots stay valid).
        for c in self.st.calls.iter_mut().flatten() {
            c.entry = c.entry.map(|e| new.entry_by_id[&old.entry(e).id]);
            c.serving = c.serving.map(g);
            c.agent = c.agent.and_then(|x| agent_map[x.ix()]);
            c.declined_by = c.declined_by.and_then(|x| agent_map[x.ix()]);
            c.path = c.path.iter().filter_map(|x| group_map[x.ix()]).collect();
            for m in &mut c.members {
                m.group = g(m.group);
                m.step = m.step.min(new.group(m.group).widen.len() as u8);
            }
            c.offering = c.offering.map(g);
            c.state = match c.state {
                CallState::Ivr { menu, tries } => CallState::Ivr {
                    menu: menu_map(menu),
                    tries,
                },
                CallState::Ringing { agent } => CallState::Ringing { agent: a(agent) },
                CallState::Talking { agent } => CallState::Talking { agent: a(agent) },
                CallState::Parked { agent, group } => CallState::Parked {
                    agent: a(agent),
                    group: g(group),
                },
                CallState::CallbackDialing { agent } => {
                    CallState::CallbackDialing { agent: a(agent) }
                }
                CallState::AfterCall { agent } => CallState::AfterCall { agent: a(agent) },
                s => s,
            };
        }
        let old_groups = std::mem::take(&mut self.st.groups);
        self.site = new.clone();
        self.agent_addr = super::agents_by_address(&new);
        self.st.agents = agents;
        self.open_cache = vec![None; new.calendars.len()];
        self.derive_memberships();
        // Figures of groups that stay are kept.
        for (i, gs) in old_groups.into_iter().enumerate() {
            if let Some(n) = group_map[i] {
                self.st.groups[n.ix()].today = gs.today;
                self.st.groups[n.ix()].aht_ms = gs.aht_ms;
                self.st.groups[n.ix()].learned = gs.learned;
            }
        }
        // The generator's state is kept (`self.st` stays): the `random` strategy draws at
        // each pick, so an unchanged site picks as it would have without the reload.
        self.rebuild_indexes();
        self.watch_calendars();
        self.recheck_all();
        Ok(())
    }

    /// Rebuilds the queue and free sets, per-group counts and every timer from the calls'
    /// and agents' own state, then lets free agents take waiting calls.
    fn rebuild_indexes(&mut self) {
        self.count_staffed();
        self.st.timers.clear();
        for slot in 0..self.st.calls.len() as u32 {
            let Some(c) = &self.st.calls[slot as usize] else {
                continue;
            };
            let seq = c.seq;
            let mut arm = Vec::new();
            if let Some(d) = c.deadline {
                let nonce = c.nonce;
                match c.state {
                    CallState::Ringing { .. } => arm.push((d, Timer::Ring { slot, seq, nonce })),
                    CallState::Parked { .. } => arm.push((d, Timer::Park { slot, seq, nonce })),
                    CallState::CallbackRetry => {
                        arm.push((d, Timer::CallbackRetry { slot, seq, nonce }))
                    }
                    _ => {}
                }
            }
            let queued = c.state.in_queue();
            for (t, timer) in arm {
                self.st.timers.at(t, timer);
            }
            if queued {
                self.insert_sets(slot);
            }
            let groups: Vec<GroupIdx> = self.call(slot).members.iter().map(|m| m.group).collect();
            for g in groups {
                if let Some(m) = self.call_mut(slot).member_mut(g) {
                    m.armed = None;
                }
                self.arm_member(slot, g);
            }
        }
        for i in 0..self.st.agents.len() {
            let agent = AgentIdx(i as u32);
            let nonce = self.st.agents[i].nonce;
            match self.st.agents[i].status {
                Status::Wrapup { until: Some(t), .. } => {
                    self.st.timers.at(t, Timer::Wrapup { agent, nonce })
                }
                Status::Paused { until: Some(t), .. } => {
                    self.st.timers.at(t, Timer::PauseEnd { agent, nonce })
                }
                _ => {}
            }
        }
        for i in 0..self.st.agents.len() {
            if self.st.agents[i].status == Status::Ready {
                self.serve_agent(AgentIdx(i as u32));
            }
        }
    }
}
