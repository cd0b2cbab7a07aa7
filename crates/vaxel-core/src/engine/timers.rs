//! The engine's deadlines: a min-heap of (time, insertion order, what). Timers are never
//! cancelled; each carries what it refers to (call seq + membership or nonce, agent nonce)
//! and is ignored when it fires if that no longer holds. `poll_timeout` may therefore
//! report a deadline that turns out to do nothing: a spurious wake-up, never a missed one.

use super::state::Slot;
use crate::site::{AgentIdx, GroupIdx};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Timer {
    /// The call's membership `mseq` in `group` has something due (widening, a
    /// `wait_over_s` rule, `max_wait_s`, an announcement).
    Member {
        slot: Slot,
        seq: u64,
        group: GroupIdx,
        mseq: u32,
    },
    /// No answer from the ringing agent within `ring_s` + grace.
    Ring { slot: Slot, seq: u64, nonce: u32 },
    /// A parked call returns to its group.
    Park { slot: Slot, seq: u64, nonce: u32 },
    /// A failed callback goes back into the queue.
    CallbackRetry { slot: Slot, seq: u64, nonce: u32 },
    /// After-call work ends.
    Wrapup { agent: AgentIdx, nonce: u32 },
    /// A pause with `until` ends.
    PauseEnd { agent: AgentIdx, nonce: u32 },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Timestamp, u64, Timer)>>,
    next: u64,
}

impl Timers {
    pub(crate) fn at(&mut self, when: Timestamp, timer: Timer) {
        self.next += 1;
        self.heap.push(Reverse((when, self.next, timer)));
    }

    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The earliest timer due by `now`, removed.
    pub(crate) fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, Timer)> {
        match self.heap.peek() {
            Some(Reverse((t, _, _))) if *t <= now => {
                self.heap.pop().map(|Reverse((t, _, timer))| (t, timer))
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}
