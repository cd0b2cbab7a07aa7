//! Overflow rules for calls already waiting. A rule's condition is first checked when a
//! call enters a group; those that can become true while it waits are checked again for
//! every caller waiting there when the change happens, not by polling:
//! - the last agent serving the group logs out or pauses (`no_agents`; `ewt_over_s`, since
//!   with nobody to serve the expected wait is unknown and counts as over);
//! - the group's calendar closes (`no_agents`), at the calendar's own boundaries;
//! - a reload (every condition but `wait_over_s`, which its timers keep).
//!
//! Without this a caller who queued while the group was staffed and open would wait for
//! ever once everybody had gone home.

use super::Engine;
use super::membership::rule_fits;
use super::state::{CallState, Slot};
use crate::output::Outcome;
use crate::site::{CalendarIdx, Condition, GroupIdx};
use crate::time::Timestamp;

/// What changed, and so which conditions may have become true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    /// The group has nobody left to serve it.
    Unstaffed,
    /// The group's calendar closed.
    Closed,
    /// A new configuration (limits may have been lowered, rules added).
    Reload,
}

impl Change {
    fn watches(self, when: Condition) -> bool {
        match (self, when) {
            (_, Condition::WaitOver(_)) => false,
            (Change::Reload, _) => true,
            (Change::Unstaffed, c) => matches!(c, Condition::NoAgents | Condition::EwtOver(_)),
            (Change::Closed, c) => c == Condition::NoAgents,
        }
    }
}

/// When each calendar a group uses next changes its answer (a range boundary or local
/// midnight), and the earliest of them. Derived from the site and the clock, so not saved:
/// a restored engine computes the same edges.
#[derive(Clone, Debug, Default)]
pub(super) struct CalendarEdges {
    /// Per calendar; `u64::MAX` for calendars no group uses.
    at: Vec<Timestamp>,
    next: Timestamp,
}

impl CalendarEdges {
    /// The earliest edge (`u64::MAX`: none).
    pub(super) fn next(&self) -> Timestamp {
        self.next
    }

    fn refresh(&mut self) {
        self.next = self.at.iter().copied().min().unwrap_or(Timestamp(u64::MAX));
    }
}

impl Engine {
    /// Sets the edges of every calendar a group uses, from now (new engine, restore,
    /// reload).
    pub(super) fn watch_calendars(&mut self) {
        let now = self.st.now;
        let mut at = vec![Timestamp(u64::MAX); self.site.calendars.len()];
        for cal in self.site.groups.iter().filter_map(|g| g.calendar) {
            at[cal.ix()] = self.site.calendars[cal.ix()]
                .state_at(now, &self.site.timezone)
                .until;
        }
        self.edges.at = at;
        self.edges.refresh();
    }

    /// The calendars whose edge is due: each is looked at again, and the groups of those
    /// now closed have their waiting calls re-checked.
    pub(super) fn calendar_edges(&mut self) {
        let now = self.st.now;
        let site = self.site.clone();
        for c in 0..self.edges.at.len() {
            if self.edges.at[c] > now {
                continue;
            }
            let state = site.calendars[c].state_at(now, &site.timezone);
            self.edges.at[c] = state.until;
            if !state.open {
                let cal = CalendarIdx(c as u32);
                for (g, group) in site.groups.iter().enumerate() {
                    if group.calendar == Some(cal) {
                        self.recheck_group(GroupIdx(g as u32), Change::Closed);
                    }
                }
            }
        }
        self.edges.refresh();
    }

    /// Re-checks the groups whose last serving agent left during the input or timer just
    /// applied.
    pub(super) fn settle(&mut self) {
        while let Some(g) = self.recheck.pop() {
            self.recheck_group(g, Change::Unstaffed);
        }
    }

    /// Re-checks every group (after a reload).
    pub(super) fn recheck_all(&mut self) {
        for g in 0..self.site.groups.len() {
            self.recheck_group(GroupIdx(g as u32), Change::Reload);
        }
    }

    /// Applies to each caller waiting in `group`, in queue order, the first rule not yet
    /// applied to it whose condition `change` may have made true and which now holds. A
    /// caller that no rule moves stays, unless the group is closed and nobody serves it:
    /// then, as for a caller arriving then, there is no service (`closed`) if this was its
    /// only queue, and it leaves this queue if it waits in others too.
    pub(super) fn recheck_group(&mut self, group: GroupIdx, change: Change) {
        let mut keys: Vec<_> = self.st.groups[group.ix()]
            .queues
            .iter()
            .flatten()
            .copied()
            .collect();
        if keys.is_empty() {
            return;
        }
        keys.sort_unstable();
        let site = self.site.clone();
        let g = site.group(group);
        for key in keys {
            let slot = key.slot;
            if !self.waits_in(slot, key.seq, group) {
                continue;
            }
            let closed = g.calendar.is_some_and(|c| !self.is_open(c));
            let gs = &self.st.groups[group.ix()];
            let staffed = gs.staffed() > 0;
            let position = gs.ahead_of(&self.qkey(slot)) + 1;
            // Estimated only for a rule on the expected wait (most groups have none).
            let ewt = || self.call_ewt_ms(slot, group, position);
            let fired = self.call(slot).member(group).map_or(0, |m| m.fired);
            let state = self.call(slot).state;
            let rule = g.overflow.iter().enumerate().position(|(i, r)| {
                fired & (1 << i.min(31)) == 0
                    && rule_fits(state, &r.to)
                    && change.watches(r.when)
                    && match r.when {
                        Condition::WaitOver(_) => false,
                        Condition::QueueOver(n) => position > n,
                        Condition::NoAgents => !staffed || closed,
                        Condition::EwtOver(ms) => ewt().is_none_or(|e| e > ms),
                    }
            });
            match rule {
                Some(r) => self.apply_rule(slot, group, r, 0),
                None if closed && !staffed && state == CallState::Queued => {
                    if self.call(slot).members.len() > 1 {
                        self.leave_group(slot, group);
                        if let Some(first) = self.call(slot).members.first().map(|m| m.group) {
                            self.send_queue(slot, first);
                        }
                    } else {
                        self.hang_up_and_finish(slot, None, Outcome::Closed);
                    }
                }
                None => {}
            }
        }
    }

    /// Whether the call `seq` is still in `slot`, waiting in `group`'s queue (a caller, or
    /// an accepted callback: see [`rule_fits`] for the rules that apply to each).
    fn waits_in(&self, slot: Slot, seq: u64, group: GroupIdx) -> bool {
        matches!(&self.st.calls[slot as usize],
            Some(c) if c.seq == seq && c.state.in_queue() && c.member(group).is_some())
    }
}
