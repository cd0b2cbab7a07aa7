//! Live occupancy: the share of an agent's staffed time (logged in and not paused) spent
//! busy (ringing, talking, in wrap-up), today and over the last 15 minutes, per group (the
//! agents serving it) and for the site. Each agent keeps its staffed and busy time since
//! local midnight, and its staffed intervals of the last 15 minutes; both are added to as
//! the agent changes state, and the interval under way is counted up to the time of
//! reading.

use crate::snapshot::AgentState;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The moving window of `last_15_min`.
pub(crate) const WINDOW_MS: u64 = 15 * 60 * 1000;

/// Staffed and busy milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Busy {
    pub staffed_ms: u64,
    pub busy_ms: u64,
}

impl Busy {
    pub(crate) fn add(&mut self, other: Busy) {
        self.staffed_ms += other.staffed_ms;
        self.busy_ms += other.busy_ms;
    }

    /// busy ÷ staffed; 0 with no staffed time.
    pub(crate) fn ratio(self) -> f64 {
        if self.staffed_ms == 0 {
            0.0
        } else {
            self.busy_ms as f64 / self.staffed_ms as f64
        }
    }

    /// `[from, to)` spent in `state`, as staffed and busy time.
    fn of(state: AgentState, from: Timestamp, to: Timestamp) -> Busy {
        let ms = to.since(from);
        match busy_when_staffed(state) {
            Some(busy) => Busy {
                staffed_ms: ms,
                busy_ms: if busy { ms } else { 0 },
            },
            None => Busy::default(),
        }
    }
}

/// Whether time in `state` is busy, if it is staffed at all (`None`: paused or logged
/// out). The one rule for both counting today's time and reading the figures.
fn busy_when_staffed(state: AgentState) -> Option<bool> {
    match state {
        AgentState::Ready => Some(false),
        AgentState::Ringing | AgentState::Talking | AgentState::Wrapup => Some(true),
        AgentState::Paused | AgentState::LoggedOut => None,
    }
}

/// One agent's occupancy record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct AgentBusy {
    /// Since the local midnight that began `day_start` (intervals before it cut there).
    today: Busy,
    /// Staffed intervals (start, end, busy), oldest first, covering at least the last 15
    /// minutes. An agent changes state several times a call, so adding must be cheap: an
    /// interval that continues the last one with the same flag (ringing, talking, wrap-up)
    /// extends it, and intervals ended before the window are dropped only when the vector
    /// is full, not on every change. Reading cuts every interval at the window's start, so
    /// a merged interval counts as its parts and an expired one counts nothing.
    recent: Vec<(Timestamp, Timestamp, bool)>,
}

impl AgentBusy {
    /// The agent leaves `state`, in which it was since `since`, at `now`.
    pub(crate) fn close(
        &mut self,
        state: AgentState,
        since: Timestamp,
        now: Timestamp,
        day_start: Timestamp,
    ) {
        let Some(busy) = busy_when_staffed(state) else {
            return;
        };
        let today_ms = now.max(day_start).since(since.max(day_start));
        self.today.staffed_ms += today_ms;
        if busy {
            self.today.busy_ms += today_ms;
        }
        if now <= since {
            return;
        }
        match self.recent.last_mut() {
            Some(last) if last.1 == since && last.2 == busy => last.1 = now,
            _ => {
                if self.recent.len() == self.recent.capacity() {
                    // Full: make room by dropping the expired intervals (a prefix, as
                    // they end in order) before the vector would grow.
                    let horizon = Timestamp(now.0.saturating_sub(WINDOW_MS));
                    let expired = self.recent.partition_point(|&(_, end, _)| end <= horizon);
                    self.recent.drain(..expired);
                }
                self.recent.push((since, now, busy));
            }
        }
    }

    /// A new day: today's figures start again.
    pub(crate) fn new_day(&mut self) {
        self.today = Busy::default();
    }

    /// Today's and the last 15 minutes' figures at `now`, the agent being in `state` since
    /// `since`.
    pub(crate) fn at(
        &self,
        state: AgentState,
        since: Timestamp,
        now: Timestamp,
        day_start: Timestamp,
    ) -> (Busy, Busy) {
        let mut today = self.today;
        today.add(Busy::of(state, since.max(day_start), now.max(day_start)));
        let horizon = Timestamp(now.0.saturating_sub(WINDOW_MS));
        let mut recent = Busy::of(state, since.max(horizon), now.max(horizon));
        for &(start, end, busy) in &self.recent {
            let (s, e) = (start.max(horizon), end.max(horizon));
            let ms = e.since(s);
            recent.staffed_ms += ms;
            if busy {
                recent.busy_ms += ms;
            }
        }
        (today, recent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    #[test]
    fn today_and_the_last_quarter_of_an_hour() {
        let day = Timestamp(1_000 * MIN);
        let mut a = AgentBusy::default();
        // Ready 10 min, talking 20 min, ready 10 min, then paused.
        a.close(AgentState::Ready, day, Timestamp(day.0 + 10 * MIN), day);
        a.close(
            AgentState::Talking,
            Timestamp(day.0 + 10 * MIN),
            Timestamp(day.0 + 30 * MIN),
            day,
        );
        a.close(
            AgentState::Ready,
            Timestamp(day.0 + 30 * MIN),
            Timestamp(day.0 + 40 * MIN),
            day,
        );
        let now = Timestamp(day.0 + 45 * MIN);
        let (today, recent) = a.at(AgentState::Paused, Timestamp(day.0 + 40 * MIN), now, day);
        assert_eq!(
            today,
            Busy {
                staffed_ms: 40 * MIN,
                busy_ms: 20 * MIN
            }
        );
        // The last 15 min (30..45): 10 min ready, then paused.
        assert_eq!(
            recent,
            Busy {
                staffed_ms: 10 * MIN,
                busy_ms: 0
            }
        );
        // Talking under way since 44 min, read at 50: 44..50 busy, 35..40 ready.
        let now = Timestamp(day.0 + 50 * MIN);
        let (_, recent) = a.at(AgentState::Talking, Timestamp(day.0 + 44 * MIN), now, day);
        assert_eq!(
            recent,
            Busy {
                staffed_ms: 11 * MIN,
                busy_ms: 6 * MIN
            }
        );
        assert!((recent.ratio() - 6.0 / 11.0).abs() < 1e-12);
        // Intervals before the day's start are cut there.
        let mut b = AgentBusy::default();
        b.close(
            AgentState::Talking,
            Timestamp(day.0 - 5 * MIN),
            Timestamp(day.0 + 5 * MIN),
            day,
        );
        let (today, _) = b.at(
            AgentState::LoggedOut,
            Timestamp(day.0 + 5 * MIN),
            Timestamp(day.0 + 6 * MIN),
            day,
        );
        assert_eq!(
            today,
            Busy {
                staffed_ms: 5 * MIN,
                busy_ms: 5 * MIN
            }
        );
    }

    /// Staffed and busy time of `[from, to)` in `state` within `[lo, hi)`, counted
    /// directly.
    fn overlap(state: AgentState, from: u64, to: u64, lo: u64, hi: u64) -> Busy {
        let ms = to.min(hi).saturating_sub(from.max(lo));
        let busy = matches!(
            state,
            AgentState::Ringing | AgentState::Talking | AgentState::Wrapup
        );
        let staffed = busy || state == AgentState::Ready;
        Busy {
            staffed_ms: if staffed { ms } else { 0 },
            busy_ms: if busy { ms } else { 0 },
        }
    }

    const STATES: [AgentState; 6] = [
        AgentState::Ready,
        AgentState::Ringing,
        AgentState::Talking,
        AgentState::Wrapup,
        AgentState::Paused,
        AgentState::LoggedOut,
    ];

    proptest::proptest! {
        /// Merging, and dropping expired intervals only when full, read the same as
        /// every interval kept and summed over the day and the window.
        #[test]
        fn figures_equal_a_sum_over_every_interval(
            steps in proptest::collection::vec((0..6usize, 0..8 * MIN, 0..3 * MIN), 1..200),
            day_after in 0..60 * MIN,
        ) {
            let day = 1_000 * MIN;
            let day_start = Timestamp(day + day_after);
            let mut a = AgentBusy::default();
            let mut all: Vec<(AgentState, u64, u64)> = Vec::new();
            let (mut state, mut since) = (AgentState::LoggedOut, day);
            for (next, stay, read_after) in steps {
                let now = since + stay;
                a.close(state, Timestamp(since), Timestamp(now), day_start);
                all.push((state, since, now));
                (state, since) = (STATES[next], now);
                let read = now + read_after;
                let (today, recent) = a.at(state, Timestamp(since), Timestamp(read), day_start);
                let horizon = read.saturating_sub(WINDOW_MS);
                let (mut want_today, mut want_recent) = (Busy::default(), Busy::default());
                for &(s, from, to) in all.iter().chain([&(state, since, read)]) {
                    want_today.add(overlap(s, from, to, day_start.0, read));
                    want_recent.add(overlap(s, from, to, horizon, read));
                }
                proptest::prop_assert_eq!(today, want_today);
                proptest::prop_assert_eq!(recent, want_recent);
            }
        }
    }
}
