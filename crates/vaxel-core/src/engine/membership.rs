//! The clock of a call's place in one group: widening steps, `wait_over_s` rules,
//! `max_wait_s` and announcements all come due from the time the call entered the group.
//! Each membership keeps at most one armed timer, at its next deadline, so a call answered
//! quickly leaves at most one stale timer behind, not one per rule; a call offered straight
//! to an agent arms none that would come due only after its ring (`arm_member_within`).

use super::state::{CallState, Member, Slot};
use super::timers::Timer;
use super::{Engine, live_call};
use crate::output::Command;
use crate::site::{Condition, Group, GroupIdx, Target};
use crate::time::Timestamp;

/// The next moment something is due for membership `m` of `g`, after `now` unless it can
/// be acted on now (`actionable`: the call waits in the queue as a caller).
fn next_deadline(g: &Group, m: &Member, now: Timestamp, actionable: bool) -> Option<Timestamp> {
    let widen = g
        .widen
        .get(usize::from(m.step))
        .map(|w| m.entered.plus_ms(w.after_ms));
    let rules = g
        .overflow
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.when {
            Condition::WaitOver(ms) if m.fired & (1 << i.min(31)) == 0 => {
                Some(m.entered.plus_ms(ms))
            }
            _ => None,
        });
    let max_wait = g
        .max_wait_ms
        .filter(|_| !m.max_wait_done)
        .map(|ms| m.entered.plus_ms(ms));
    widen
        .into_iter()
        .chain(rules.chain(max_wait).filter(|t| actionable || *t > now))
        // Announcements are for a caller on the line: none for a callback (the line is
        // freed) or while ringing (due ones are played when the call is back in queue).
        .chain(m.next_announce.filter(|_| actionable))
        .min()
}

/// Whether an overflow rule to `target` applies to a call in `state`: every rule to a
/// caller waiting on the line; to an accepted callback (its line freed) only a move or an
/// expansion to another group, where more agents can make the call back. A number, a menu
/// or a callback offer needs the caller on the line.
pub(super) fn rule_fits(state: CallState, target: &Target) -> bool {
    match state {
        CallState::Queued => true,
        CallState::CallbackWaiting => matches!(target, Target::Group(_)),
        _ => false,
    }
}

impl Engine {
    /// Arms the membership's timer at its next deadline (if any and not already armed so).
    pub(super) fn arm_member(&mut self, slot: Slot, group: GroupIdx) {
        self.arm_member_within(slot, group, None);
    }

    /// [`arm_member`](Self::arm_member), but with no timer if the deadline lies after
    /// `ring_end`: the call is about to ring at an agent until then. Answered, it leaves
    /// its groups; rung out, it goes back to queue, where everything due is done and the
    /// next deadline armed (`return_to_queue`); hung up, it is over. A timer beyond the
    /// ring would do nothing, and most calls go straight to a free agent.
    pub(super) fn arm_member_within(
        &mut self,
        slot: Slot,
        group: GroupIdx,
        ring_end: Option<Timestamp>,
    ) {
        let now = self.st.now;
        let call = live_call(&mut self.st.calls, slot);
        let actionable = call.state == CallState::Queued;
        let seq = call.seq;
        let Some(m) = call.member_mut(group) else {
            return;
        };
        let Some(at) = next_deadline(self.site.group(group), m, now, actionable) else {
            return;
        };
        let at = at.max(now);
        if m.armed == Some(at) || ring_end.is_some_and(|end| at > end) {
            return;
        }
        m.armed = Some(at);
        let mseq = m.mseq;
        self.st.timers.at(
            at,
            Timer::Member {
                slot,
                seq,
                group,
                mseq,
            },
        );
    }

    /// A membership timer fired: acts if it is still the armed one.
    pub(super) fn on_member_timer(&mut self, slot: Slot, seq: u64, group: GroupIdx, mseq: u32) {
        if !self.live(slot, seq) {
            return;
        }
        let now = self.st.now;
        match self.call(slot).member(group) {
            Some(m) if m.mseq == mseq && m.armed == Some(now) => {}
            _ => return,
        }
        if let Some(m) = self.call_mut(slot).member_mut(group) {
            m.armed = None;
        }
        self.member_due(slot, group);
    }

    /// Does everything due for the call's membership in `group` by now, in order: widening,
    /// then (for a caller waiting in the queue) max wait, the first due `wait_over_s` rule,
    /// the announcement; then arms the next deadline.
    pub(super) fn member_due(&mut self, slot: Slot, group: GroupIdx) {
        let now = self.st.now;
        let site = self.site.clone();
        let g = site.group(group);
        let Some(m) = self.call(slot).member(group).copied() else {
            return;
        };
        // Widening applies in any state (the call keeps its step while it rings).
        let mut step = m.step;
        while g
            .widen
            .get(usize::from(step))
            .is_some_and(|w| m.entered.plus_ms(w.after_ms) <= now)
        {
            step += 1;
        }
        if step != m.step {
            self.set_step(slot, group, m.step, step);
        }
        if self.call(slot).state == CallState::Queued
            && !m.max_wait_done
            && g.max_wait_ms.is_some_and(|ms| m.entered.plus_ms(ms) <= now)
        {
            if let Some(mm) = self.call_mut(slot).member_mut(group) {
                mm.max_wait_done = true;
            }
            self.max_wait_reached(slot, group);
            if !self.still_member(slot, group) {
                return;
            }
        }
        let state = self.call(slot).state;
        if state.in_queue() {
            let due = g.overflow.iter().enumerate().position(|(i, r)| {
                m.fired & (1 << i.min(31)) == 0
                    && rule_fits(state, &r.to)
                    && matches!(r.when, Condition::WaitOver(ms) if m.entered.plus_ms(ms) <= now)
            });
            if let Some(r) = due {
                self.apply_rule(slot, group, r, 0);
                if !self.still_member(slot, group) {
                    return;
                }
            }
        }
        if let Some(t) = m.next_announce
            && t <= now
        {
            self.announce(slot, group);
        }
        if self.still_member(slot, group) {
            self.arm_member(slot, group);
        }
    }

    fn still_member(&self, slot: Slot, group: GroupIdx) -> bool {
        matches!(&self.st.calls[slot as usize], Some(c) if c.member(group).is_some())
    }

    /// Moves the call to widen step `to` in `group` and offers it to the agents who now
    /// qualify.
    fn set_step(&mut self, slot: Slot, group: GroupIdx, from: u8, to: u8) {
        let in_queue = self.call(slot).state.in_queue();
        let key = self.qkey(slot);
        if in_queue {
            let gs = &mut self.st.groups[group.ix()];
            gs.queues[usize::from(from)].remove(&key);
            gs.queues[usize::from(to)].insert(key);
        }
        if let Some(mm) = self.call_mut(slot).member_mut(group) {
            mm.step = to;
        }
        if in_queue && let Some(a) = self.pick_agent(slot, group, to) {
            self.connect(slot, a, group);
        }
    }

    /// Plays the group's queue prompt with the current position and expected wait, and
    /// sets the next announcement.
    fn announce(&mut self, slot: Slot, group: GroupIdx) {
        let site = self.site.clone();
        let g = site.group(group);
        let now = self.st.now;
        if let Some(mm) = self.call_mut(slot).member_mut(group) {
            mm.next_announce = Some(now.plus_ms(g.announce_every_ms));
        }
        self.play_queue_prompt(slot, group);
    }

    /// Plays `group`'s queue prompt, if it has one, with the caller's position and expected
    /// wait (left out when unknown).
    pub(super) fn play_queue_prompt(&mut self, slot: Slot, group: GroupIdx) {
        let site = self.site.clone();
        let g = site.group(group);
        if self.call(slot).state != CallState::Queued {
            return;
        }
        if let Some(prompt) = &g.queue_prompt {
            let (position, ewt) = self.position(slot, group);
            self.ev_announced(slot, group, position, ewt.map(Timestamp::ms_to_secs_ceil));
            let call = self.call(slot).id.clone();
            self.emit_for(
                slot,
                Command::Play {
                    call,
                    prompt: prompt.clone(),
                    position: Some(position),
                    ewt_s: ewt.map(Timestamp::ms_to_secs_ceil),
                },
            );
        }
    }
}
