//! The event log's emission points (docs/formats.md, `events.csv`): one small method per
//! kind of event, called from the transition that makes it happen. Each returns at once
//! when the log is off ([`Engine::set_events`]), before it reads or clones anything, so a
//! replay without `--events` pays one predictable branch per point.

use super::Engine;
use super::state::{Slot, Status};
use crate::event::{EndedBy, Event, EventKind};
use crate::output::{Outcome, Output};
use crate::site::{AgentIdx, GroupIdx, Target, Text};
use crate::time::Timestamp;

impl Engine {
    /// Turns the event log on or off. Not part of the saved state: the owner sets it after
    /// `new` or `restore` (the daemon always, the replay with `--events`).
    pub fn set_events(&mut self, on: bool) {
        self.events = on;
    }

    /// Whether events are emitted.
    #[must_use]
    pub fn events(&self) -> bool {
        self.events
    }

    #[inline(never)]
    fn push_event(
        &mut self,
        call: Option<Slot>,
        agent: Option<AgentIdx>,
        group: Option<GroupIdx>,
        kind: EventKind,
    ) {
        let event = Event {
            at: self.st.now,
            call: call.map(|s| self.call(s).id.clone()),
            agent: agent.map(|a| self.site.agent(a).id.clone()),
            group: group.map(|g| self.site.group(g).id.clone()),
            kind,
        };
        self.st.out.push_back(Output::Event(Box::new(event)));
    }

    /// The call joined `group` (before it is offered or announced).
    #[inline]
    pub(super) fn ev_queued(&mut self, slot: Slot, group: GroupIdx) {
        if self.events {
            self.ev_queued_now(slot, group);
        }
    }

    #[inline(never)]
    fn ev_queued_now(&mut self, slot: Slot, group: GroupIdx) {
        let (position, _) = self.position(slot, group);
        let from = self.call(slot).from.clone();
        let kind = EventKind::Queued { position, from };
        self.push_event(Some(slot), None, Some(group), kind);
    }

    #[inline]
    pub(super) fn ev_announced(
        &mut self,
        slot: Slot,
        group: GroupIdx,
        position: u32,
        ewt_s: Option<u64>,
    ) {
        if self.events {
            let kind = EventKind::Announced { position, ewt_s };
            self.push_event(Some(slot), None, Some(group), kind);
        }
    }

    /// A call event with the call's serving group and `agent`.
    #[inline]
    pub(super) fn ev_call(
        &mut self,
        slot: Slot,
        agent: Option<AgentIdx>,
        kind: impl FnOnce() -> EventKind,
    ) {
        if self.events {
            let group = self.call(slot).serving;
            self.push_event(Some(slot), agent, group, kind());
        }
    }

    /// A call event in `group`.
    #[inline]
    pub(super) fn ev_in(
        &mut self,
        slot: Slot,
        agent: Option<AgentIdx>,
        group: Option<GroupIdx>,
        kind: impl FnOnce() -> EventKind,
    ) {
        if self.events {
            self.push_event(Some(slot), agent, group, kind());
        }
    }

    /// The caller answered a callback offer (before the call leaves the line).
    #[inline]
    pub(super) fn ev_callback_answer(&mut self, slot: Slot, accept: bool) {
        if self.events {
            self.ev_callback_answer_now(slot, accept);
        }
    }

    #[inline(never)]
    fn ev_callback_answer_now(&mut self, slot: Slot, accept: bool) {
        let group = self.call(slot).offering;
        let kind = if accept {
            let position = match self.call(slot).members.first() {
                Some(m) => self.position(slot, m.group).0,
                None => 0,
            };
            EventKind::CallbackAccepted { position }
        } else {
            EventKind::CallbackDeclined
        };
        self.push_event(Some(slot), None, group, kind);
    }

    /// How long `agent`'s phone has rung (its status is still `Ringing`).
    fn ring_ms(&self, agent: AgentIdx) -> u64 {
        let a = &self.st.agents[agent.ix()];
        match a.status {
            Status::Ringing { .. } => self.st.now.since(a.since),
            _ => 0,
        }
    }

    /// `agent` let the call ring out (before its status changes).
    #[inline]
    pub(super) fn ev_no_answer(&mut self, slot: Slot, agent: AgentIdx) {
        if self.events {
            self.ev_no_answer_now(slot, agent);
        }
    }

    #[inline(never)]
    fn ev_no_answer_now(&mut self, slot: Slot, agent: AgentIdx) {
        let ring_ms = self.ring_ms(agent);
        self.ev_call(slot, Some(agent), || EventKind::NoAnswer { ring_ms });
    }

    /// `agent` answered (before its status changes).
    #[inline]
    pub(super) fn ev_connected(&mut self, slot: Slot, agent: AgentIdx) {
        if self.events {
            self.ev_connected_now(slot, agent);
        }
    }

    #[inline(never)]
    fn ev_connected_now(&mut self, slot: Slot, agent: AgentIdx) {
        let ring_ms = self.ring_ms(agent);
        let wait_ms = self.call(slot).queued.map_or(0, |q| self.st.now.since(q));
        let kind = EventKind::Connected { wait_ms, ring_ms };
        self.ev_call(slot, Some(agent), || kind);
    }

    /// A rule of `from` sends the call to `target`: overflow rule `rule` (0-based; written
    /// `overflow.N`, 1-based), or `max_wait` when `None`.
    #[inline]
    pub(super) fn ev_rule(
        &mut self,
        slot: Slot,
        from: GroupIdx,
        rule: Option<usize>,
        target: &Target,
        expand: bool,
    ) {
        if self.events {
            self.ev_rule_now(slot, from, rule, target, expand);
        }
    }

    #[inline(never)]
    fn ev_rule_now(
        &mut self,
        slot: Slot,
        from: GroupIdx,
        rule: Option<usize>,
        target: &Target,
        expand: bool,
    ) {
        let rule: Text = match rule {
            Some(r) => format!("overflow.{}", r + 1).into(),
            None => "max_wait".into(),
        };
        let position = self.position(slot, from).0;
        let kind = match target {
            Target::Group(t) => {
                let to = self.site.group(*t).id.clone();
                if expand {
                    EventKind::Expanded { to, rule }
                } else {
                    EventKind::Moved { to, rule, position }
                }
            }
            Target::Number(n) => EventKind::Overflowed {
                to: format!("number:{n}").into(),
                rule,
                position,
            },
            Target::Menu(m) => EventKind::Overflowed {
                to: format!("menu:{}", self.site.menus[m.ix()].id).into(),
                rule,
                position,
            },
            // A callback offer has its own event.
            Target::Callback => return,
        };
        self.push_event(Some(slot), None, Some(from), kind);
    }

    /// The call ends with `outcome` (before it leaves its queues, so that its position is
    /// still known).
    #[inline]
    pub(super) fn ev_ended(&mut self, slot: Slot, outcome: Outcome) {
        if self.events {
            self.ev_ended_now(slot, outcome);
        }
    }

    #[inline(never)]
    fn ev_ended_now(&mut self, slot: Slot, outcome: Outcome) {
        let by = self.hangup_by.unwrap_or(match outcome {
            Outcome::PlatformLost => EndedBy::Platform,
            Outcome::TransferredExternal => EndedBy::Agent,
            _ => EndedBy::System,
        });
        let now = self.st.now;
        let call = self.call(slot);
        let position = match call.members.first() {
            // Memberships are kept only while the call waits (or rings from its queue).
            Some(m) => self.position(slot, m.group).0,
            None => 0,
        };
        let orig_position = match (call.announced, call.queued) {
            (Some(a), _) => a.position,
            (None, Some(_)) => 1,
            (None, None) => 0,
        };
        let wait_ms = call
            .queued
            .map_or(0, |q| call.answered.unwrap_or(now).since(q));
        let group = call.serving.or_else(|| call.path.last().copied());
        let agent = call.agent;
        let kind = EventKind::Ended {
            outcome,
            by,
            position,
            orig_position,
            wait_ms,
            talk_ms: call.talk_ms,
        };
        self.push_event(Some(slot), agent, group, kind);
    }

    /// A status change with the event log on: the change, then its events.
    #[inline(never)]
    pub(super) fn set_status_logged(&mut self, agent: AgentIdx, status: Status) {
        let a = &self.st.agents[agent.ix()];
        let (old, since) = (a.status.clone(), a.since);
        self.set_status_only(agent, status);
        self.ev_status(agent, &old, since);
    }

    /// An agent's status changes from `old` to the one it has now: login, logout, pause,
    /// unpause, wrap-up. Ringing and talking are the calls' events.
    fn ev_status(&mut self, agent: AgentIdx, old: &Status, since: Timestamp) {
        let new = self.st.agents[agent.ix()].status.clone();
        let group = self.st.agents[agent.ix()].last_group;
        let now = self.st.now;
        let push = |e: &mut Engine, kind| e.push_event(None, Some(agent), None, kind);
        if matches!(old, Status::Wrapup { .. }) && !matches!(new, Status::Wrapup { .. }) {
            let wrapup_ms = now.since(since);
            self.push_event(
                None,
                Some(agent),
                group,
                EventKind::WrapupEnded { wrapup_ms },
            );
        }
        if matches!(old, Status::Paused { .. })
            && !matches!(new, Status::Paused { .. } | Status::LoggedOut)
        {
            push(self, EventKind::Unpaused);
        }
        if *old == Status::LoggedOut && new != Status::LoggedOut {
            push(self, EventKind::Login);
        }
        match (&new, old) {
            (Status::LoggedOut, o) if *o != Status::LoggedOut => push(self, EventKind::Logout),
            (Status::Paused { reason, .. }, Status::Paused { reason: was, .. })
                if reason == was => {}
            (Status::Paused { reason, .. }, _) => {
                let reason = reason.clone();
                push(self, EventKind::Paused { reason });
            }
            (Status::Wrapup { .. }, o) if !matches!(o, Status::Wrapup { .. }) => {
                self.push_event(None, Some(agent), group, EventKind::WrapupStarted);
            }
            _ => {}
        }
    }
}
