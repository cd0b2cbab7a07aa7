//! The end of a call: its figures, the agent's after-call work, and the one record.

use super::Engine;
use super::state::{CallState, Slot, Status};
use super::timers::Timer;
use crate::event::EventKind;
use crate::output::{CallRecord, Outcome, Output};
use crate::site::{AgentIdx, Text};

impl Engine {
    /// Ends the call now with `outcome` and no after-call work: the record goes out at once.
    pub(super) fn finish(&mut self, slot: Slot, outcome: Outcome) {
        self.ev_ended(slot, outcome);
        self.leave_all_groups(slot, Some(outcome));
        if matches!(outcome, Outcome::OverflowExternal | Outcome::Timeout)
            && let Some(&g) = self.call(slot).path.last()
        {
            // One definition with the replay report: a call the site sent away (to an
            // outside number, or out of time with nowhere to go), counted once, for the
            // last group it waited in. A move to another group of the site is not an
            // overflow: the call is counted where it ends.
            self.st.groups[g.ix()].today.overflowed += 1;
        }
        let now = self.st.now;
        self.call_mut(slot).ended = Some((now, outcome));
        self.emit_record(slot, 0);
    }

    /// Ends the call now with `outcome`; its record waits for `agent`'s after-call work.
    pub(super) fn finish_after_work(&mut self, slot: Slot, outcome: Outcome, agent: AgentIdx) {
        self.ev_ended(slot, outcome);
        self.leave_all_groups(slot, Some(outcome));
        let now = self.st.now;
        let call = self.call_mut(slot);
        call.ended = Some((now, outcome));
        call.state = CallState::AfterCall { agent };
        self.start_wrapup(agent, Some(slot));
    }

    /// Ends the talk leg of the call with its agent: talk time on the call and the agent.
    pub(super) fn end_talk(&mut self, slot: Slot, agent: AgentIdx) -> u64 {
        let now = self.st.now;
        let call = self.call_mut(slot);
        let leg = now.since(call.talk_since);
        call.talk_ms += leg;
        let a = &mut self.st.agents[agent.ix()];
        a.talk_ms_today += leg;
        a.last_talk_ms = leg;
        self.ev_call(slot, Some(agent), || EventKind::TalkEnded { talk_ms: leg });
        leg
    }

    /// The agent starts after-call work for the call it just had (`record`: the call whose
    /// record waits for it). Zero wrap-up time ends it at once.
    pub(super) fn start_wrapup(&mut self, agent: AgentIdx, record: Option<Slot>) {
        let group = self.st.agents[agent.ix()].last_group;
        let ms = group.map_or(0, |g| self.site.group(g).wrapup_ms);
        let now = self.st.now;
        let until = match self.st.agents[agent.ix()].planned_wrapup_end.take() {
            Some(t) => (t > now).then_some(t),
            None => (ms > 0).then(|| now.plus_ms(ms)),
        };
        self.set_status(
            agent,
            Status::Wrapup {
                call: record,
                until,
            },
        );
        self.st.agents[agent.ix()].wrapup_since = now;
        match until {
            Some(t) => {
                let nonce = self.st.agents[agent.ix()].nonce;
                self.st.timers.at(t, Timer::Wrapup { agent, nonce });
            }
            None => self.end_wrapup(agent),
        }
    }

    /// After-call work is over: the waiting record goes out, the handle time feeds the
    /// group's estimate, and the agent is ready, paused or logged out as asked.
    pub(super) fn end_wrapup(&mut self, agent: AgentIdx) {
        let Status::Wrapup { call, .. } = self.st.agents[agent.ix()].status else {
            return;
        };
        let now = self.st.now;
        let a = &self.st.agents[agent.ix()];
        let wrapup_ms = now.since(a.wrapup_since);
        if let Some(g) = a.last_group {
            let handle = a.last_talk_ms + wrapup_ms;
            self.st.groups[g.ix()].observe_handle(handle);
        }
        if let Some(slot) = call {
            self.emit_record(slot, wrapup_ms);
        }
        self.after_work(agent);
    }

    /// What an agent does once free of a call: a pending logout or pause, else ready.
    pub(super) fn after_work(&mut self, agent: AgentIdx) {
        let a = &mut self.st.agents[agent.ix()];
        if a.logout_pending {
            a.logout_pending = false;
            a.pause_pending = None;
            self.set_status(agent, Status::LoggedOut);
        } else if let Some(p) = a.pause_pending.take() {
            self.pause_now(agent, p.reason, p.note, p.until);
        } else {
            self.make_ready(agent);
        }
    }

    /// Builds and emits the call's record and forgets the call.
    pub(super) fn emit_record(&mut self, slot: Slot, wrapup_ms: u64) {
        // The record takes what it needs from the call in its slot, which is then emptied
        // in place: moving the whole call out first copied it (hundreds of bytes a call).
        let Some(call) = self.st.calls[slot as usize].as_mut() else {
            return;
        };
        let site = &self.site;
        let (ended, outcome) = call.ended.unwrap_or((self.st.now, Outcome::PlatformLost));
        let wait_ms = call
            .queued
            .map_or(0, |q| call.answered.unwrap_or(ended).since(q));
        let name = |t: Option<Text>| t.unwrap_or_else(|| self.empty.clone());
        let record = Box::new(CallRecord {
            call_id: std::mem::take(&mut call.id),
            entry: name(call.entry.map(|e| site.entry(e).id.clone())),
            from: std::mem::take(&mut call.from),
            arrived: call.arrived,
            queued: call.queued,
            answered: call.answered,
            ended,
            agent: name(call.agent.map(|a| site.agent(a).id.clone())),
            outcome,
            wait_ms,
            talk_ms: call.talk_ms,
            wrapup_ms,
            groups: call
                .path
                .iter()
                .map(|g| site.group(*g).id.clone())
                .collect(),
            digits: std::mem::take(&mut call.digits),
            case_type: call.case_type.take(),
            resolved: call.resolved,
            callback: call.callback,
            announced: call.announced,
            repeated: call.repeated,
        });
        let hash = super::call_index::id_hash(&record.call_id);
        self.st.calls[slot as usize] = None;
        self.st.free.push(slot);
        self.st.by_id.remove(hash, slot);
        self.st.out.push_back(Output::Record(record));
    }
}
