//! The engine's deadlines: a min-heap of what is due by (time, insertion order). Timers are never
//! cancelled; each carries what it refers to (call seq + membership or nonce, agent nonce)
//! and is ignored when it fires if that no longer holds. `poll_timeout` may therefore
//! report a deadline that turns out to do nothing: a spurious wake-up, never a missed one.

use super::state::Slot;
use crate::keyed_heap::KeyedHeap;
use crate::site::{AgentIdx, GroupIdx};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// The timers in a [`KeyedHeap`] by (time, insertion order). Saved as the list of
/// `(time, insertion order, timer)` the engine has always written, so checkpoints keep
/// their form.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "SavedTimers", into = "SavedTimers")]
pub(crate) struct Timers {
    heap: KeyedHeap<Timer>,
    next: u64,
}

/// [`Timers`] as saved.
#[derive(Serialize, Deserialize)]
struct SavedTimers {
    heap: Vec<(Timestamp, u64, Timer)>,
    next: u64,
}

fn key(when: Timestamp, n: u64) -> u128 {
    (u128::from(when.0) << 64) | u128::from(n)
}

fn when(key: u128) -> Timestamp {
    Timestamp((key >> 64) as u64)
}

impl From<SavedTimers> for Timers {
    fn from(saved: SavedTimers) -> Timers {
        Timers {
            heap: saved
                .heap
                .into_iter()
                .map(|(t, n, timer)| (key(t, n), timer))
                .collect(),
            next: saved.next,
        }
    }
}

impl From<Timers> for SavedTimers {
    fn from(timers: Timers) -> SavedTimers {
        SavedTimers {
            heap: timers
                .heap
                .iter()
                .map(|(k, timer)| (when(k), k as u64, *timer))
                .collect(),
            next: timers.next,
        }
    }
}

impl Timers {
    pub(crate) fn at(&mut self, when: Timestamp, timer: Timer) {
        self.next += 1;
        self.heap.push(key(when, self.next), timer);
    }

    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.heap.peek().map(|(k, _)| when(k))
    }

    /// The earliest timer due by `now`, removed.
    pub(crate) fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, Timer)> {
        match self.heap.peek() {
            Some((k, _)) if when(k) <= now => self.heap.pop().map(|(k, timer)| (when(k), timer)),
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
