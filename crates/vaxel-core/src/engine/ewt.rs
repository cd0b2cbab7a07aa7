//! The expected wait (EWT) announced to a caller, and what the engine learns online for it.
//!
//! Chosen by the replay's `ewt_accuracy` measurement (docs/engine.md "Expected wait",
//! docs/benchmarks.md "EWT accuracy"): the caller at position `p` is served when the `p`-th
//! agent comes free, so the estimate is built from *when each agent serving the group comes
//! free* — an agent in wrap-up at the end of its wrap-up, an agent talking after the rest
//! of an average talk, an agent of a later widening step not before the call reaches that
//! step — rather than from `AHT / N`. Callers ahead who will hang up (the group's observed
//! abandonment) shorten the line, and a learned per-group factor absorbs what the model
//! misses (agents taken by the other groups they serve). O(N log N) per estimate in the N
//! agents serving the group (tens), without allocating; nothing per event.

use super::Engine;
use super::state::{Slot, Status};
use crate::output::Announced;
use crate::site::{AgentIdx, GroupIdx};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Weight of the newest caller in the learned averages (about the last 50 callers).
const ALPHA: f64 = 0.02;

/// Positions beyond this many agents' turns are extrapolated at `N / AHT` a millisecond
/// instead of stepped one turn at a time: the estimate stays bounded however long the
/// queue.
const MAX_TURNS: usize = 64;

/// A talking agent is expected to talk at least this share of the average talk more,
/// however long it has talked already (talk times are long-tailed: an agent past the
/// average is not about to finish).
const MIN_REST: f64 = 0.3;

/// The learned per-group factor stays within these bounds (a few odd calls cannot make it
/// absurd).
const FACTOR_RANGE: (f64, f64) = (0.5, 2.0);

/// What the group's queue has taught the estimate. Saved in checkpoints; absent in old
/// ones (`#[serde(default)]`: starts from nothing, as a new group does).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Learned {
    /// Moving average of "the caller hung up while waiting" (1) or was answered (0).
    #[serde(default)]
    pub abandons: f64,
    /// Moving average of those callers' time in queue: with `abandons`, the abandonment
    /// rate per waiting millisecond (the maximum-likelihood rate of exponential patience,
    /// answered callers counting as censored).
    #[serde(default)]
    pub exposure_ms: f64,
    /// Moving averages of the model's first estimate for answered callers and of the wait
    /// they really had (ring included): their ratio is the group's correction factor.
    #[serde(default)]
    pub told_ms: f64,
    #[serde(default)]
    pub waited_ms: f64,
    /// Moving average of the time between calls entering the group, and the last entry:
    /// the group's offered rate, recorded with the announcement for the report's Erlang C
    /// reference (not used by the estimate).
    #[serde(default)]
    pub gap_ms: f64,
    #[serde(default)]
    pub last_entry: u64,
}

impl Learned {
    /// A caller left the queue after `waited_ms`, hanging up or answered.
    pub(crate) fn observe_wait(&mut self, waited_ms: u64, abandoned: bool) {
        self.abandons += ALPHA * (f64::from(u8::from(abandoned)) - self.abandons);
        self.exposure_ms += ALPHA * (waited_ms as f64 - self.exposure_ms);
    }

    /// An answered caller had been told `told_ms` by the model (before the factor) and
    /// waited `waited_ms`.
    pub(crate) fn observe_told(&mut self, told_ms: u64, waited_ms: u64) {
        if self.told_ms <= 0.0 {
            self.told_ms = told_ms as f64;
            self.waited_ms = waited_ms as f64;
            return;
        }
        self.told_ms += ALPHA * (told_ms as f64 - self.told_ms);
        self.waited_ms += ALPHA * (waited_ms as f64 - self.waited_ms);
    }

    /// A call entered the group at `now`.
    pub(crate) fn observe_entry(&mut self, now: Timestamp) {
        if self.last_entry > 0 {
            let gap = now.0.saturating_sub(self.last_entry) as f64;
            if self.gap_ms <= 0.0 {
                self.gap_ms = gap;
            } else {
                self.gap_ms += ALPHA * (gap - self.gap_ms);
            }
        }
        self.last_entry = now.0;
    }

    /// Abandonment rate per waiting millisecond (0 until someone has waited).
    fn theta(&self) -> f64 {
        if self.exposure_ms >= 1.0 {
            self.abandons / self.exposure_ms
        } else {
            0.0
        }
    }

    /// The correction factor: real waits over the model's estimates (1 until learned).
    fn factor(&self) -> f64 {
        if self.told_ms >= 1.0 && self.waited_ms >= 1.0 {
            (self.waited_ms / self.told_ms).clamp(FACTOR_RANGE.0, FACTOR_RANGE.1)
        } else {
            1.0
        }
    }
}

/// The turns the callers ahead take: with `q` callers ahead, agents coming free at
/// `c` a millisecond and each caller ahead leaving at `θ`, the line drains as
/// `dq/dt = −(c + θq)`; of the `q` only `c·ln(1 + θq/c)/θ` are served before the caller's
/// turn (all `q` when `θ = 0`).
/// `q = 0` (the caller is next, most callers) is 0 either way: no logarithm for it.
fn turns_ahead(q: f64, c: f64, theta: f64) -> f64 {
    if q > 0.0 && theta > 0.0 && c > 0.0 {
        c * (theta * q / c).ln_1p() / theta
    } else {
        q
    }
}

/// What a caller is told: its position, the expected wait (ms) and the model's estimate
/// before the group's factor (`None`: unknown, nobody to serve).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Told {
    pub position: u32,
    pub ewt_ms: Option<u64>,
    pub raw_ms: Option<f64>,
}

/// When each agent serving a call comes free, as offsets from now in ms: inline for the
/// groups of a city (tens of agents), so an estimate allocates nothing.
pub(crate) type FreeAt = SmallVec<[f64; 64]>;

/// When the `k`-th (0-based) agent turn comes, given when each agent comes free
/// (`free_at`, sorted, after the first `done` turns were taken in it) and that an agent
/// taking a caller is free again after `aht_ms`. Stepped for the first [`MAX_TURNS`] turns
/// (each takes the first agent and puts it back in order `aht_ms` later, in place), then
/// at the fluid rate `N / AHT`. With `done`, the turns after the `k`-th continue from its
/// steps instead of starting again.
fn turn_at(free_at: &mut [f64], done: usize, n: usize, aht_ms: f64, k: usize) -> f64 {
    let steps = k.min(MAX_TURNS);
    for _ in done.min(steps)..steps {
        let t = free_at[0] + aht_ms;
        let at = free_at[1..].partition_point(|&x| x <= t);
        free_at.copy_within(1..=at, 0);
        free_at[at] = t;
    }
    let extra = (k - steps) as f64 * aht_ms / n as f64;
    free_at[0] + extra
}

/// The expected wait in ms of the caller at `position` (1 = next), before the ring time
/// and the learned factor: `free_at` has one entry per agent who may serve the call (any
/// order; reordered and stepped in place, borrowed rather than moved so that its inline
/// buffer is not copied), `aht_ms` is the group's handle time, `theta` its abandonment
/// rate. `None` with no agent.
pub(crate) fn model_wait_ms(
    free_at: &mut [f64],
    aht_ms: f64,
    theta: f64,
    position: u32,
) -> Option<f64> {
    if free_at.is_empty() {
        return None;
    }
    let n = free_at.len();
    let aht = aht_ms.max(1.0);
    let c = n as f64 / aht;
    let turns = turns_ahead(f64::from(position.saturating_sub(1)), c, theta);
    // Interpolate between the whole turns around a fractional one.
    let whole = turns.floor();
    let frac = turns - whole;
    let k = whole as usize;
    // Only the agents who come free first can take the turns up to the (k+2)-th: the
    // others are left unsorted (most callers are next or nearly so).
    let keep = (k.min(MAX_TURNS) + 2).min(n);
    if keep < n {
        free_at.select_nth_unstable_by(keep - 1, f64::total_cmp);
    }
    let free_at = &mut free_at[..keep];
    free_at.sort_unstable_by(f64::total_cmp);
    let lo = turn_at(free_at, 0, n, aht, k);
    let w = if frac > 0.0 {
        let hi = turn_at(free_at, k, n, aht, k + 1);
        lo + frac * (hi - lo)
    } else {
        lo
    };
    Some(w.max(0.0))
}

impl Engine {
    /// The expected wait, in ms, of the call in `slot` at `position` of `group` (`None`:
    /// unknown, with nobody to serve it). See the module's description.
    pub(super) fn call_ewt_ms(&self, slot: Slot, group: GroupIdx, position: u32) -> Option<u64> {
        self.call_ewt_raw_ms(slot, group, position)
            .map(|raw| self.calibrated(group, raw))
    }

    /// [`call_ewt_ms`](Self::call_ewt_ms) before the group's learned factor.
    pub(super) fn call_ewt_raw_ms(
        &self,
        slot: Slot,
        group: GroupIdx,
        position: u32,
    ) -> Option<f64> {
        let m = self.call(slot).member(group);
        let (step, entered) = m.map_or((0, self.st.now), |m| (m.step, m.entered));
        self.ewt_raw_ms(group, step, entered, position, true)
    }

    /// The expected wait of a newcomer at `position` of `group` (the snapshot's figure).
    pub(super) fn newcomer_ewt_ms(&self, group: GroupIdx, position: u32) -> Option<u64> {
        self.ewt_raw_ms(group, 0, self.st.now, position, false)
            .map(|raw| self.calibrated(group, raw))
    }

    /// The model's estimate times the group's learned factor, in whole ms.
    pub(super) fn calibrated(&self, group: GroupIdx, raw_ms: f64) -> u64 {
        (raw_ms * self.st.groups[group.ix()].learned.factor()).round() as u64
    }

    /// The model's estimate for a call at widen `step` that entered `group` at `entered`.
    /// `waiting`: the call is in the queue already, so an agent free now who qualifies at
    /// its step is one who may not take it (another language, the ring it let pass): it
    /// counts as coming free after a handle, not at once as for a newcomer. (A free agent
    /// of a later step takes the call when it reaches that step.)
    pub(super) fn ewt_raw_ms(
        &self,
        group: GroupIdx,
        step: u8,
        entered: Timestamp,
        position: u32,
        waiting: bool,
    ) -> Option<f64> {
        let gs = &self.st.groups[group.ix()];
        if gs.staffed() == 0 {
            return None;
        }
        let g = self.site.group(group);
        let now = self.st.now;
        let talk_ms = (gs.aht_ms - g.wrapup_ms as f64).max(gs.aht_ms * 0.5);
        let mut free_at: FreeAt = gs
            .serving
            .iter()
            .filter_map(|&(agent, tier)| {
                // Free now and of the call's step, yet the call waits: it may not take it.
                let ready_ms = if waiting && tier <= step {
                    gs.aht_ms
                } else {
                    0.0
                };
                let busy = self.free_in_ms(agent, talk_ms, g.wrapup_ms, ready_ms)?;
                // An agent of a later step takes the call only once it reaches the step.
                let from = match tier.checked_sub(1) {
                    Some(w) if tier > step => g
                        .widen
                        .get(usize::from(w))
                        .map_or(0, |w| entered.plus_ms(w.after_ms).since(now)),
                    _ => 0,
                };
                Some(busy.max(from as f64))
            })
            .collect();
        let w = model_wait_ms(&mut free_at, gs.aht_ms, gs.learned.theta(), position)?;
        Some(w + g.ring_ms as f64)
    }

    /// In how many ms `agent` is expected to come free (`None`: logged out or paused);
    /// `ready_ms` if it is free now.
    fn free_in_ms(
        &self,
        agent: AgentIdx,
        talk_ms: f64,
        wrapup_ms: u64,
        ready_ms: f64,
    ) -> Option<f64> {
        let now = self.st.now;
        let a = &self.st.agents[agent.ix()];
        let rest_of_talk = |since: Timestamp| {
            let talked = now.since(since) as f64;
            (talk_ms - talked).max(talk_ms * MIN_REST) + wrapup_ms as f64
        };
        match &a.status {
            Status::LoggedOut | Status::Paused { .. } => None,
            Status::Ready => Some(ready_ms),
            Status::Ringing { .. } => Some(rest_of_talk(now)),
            Status::Talking { .. } => Some(rest_of_talk(a.since)),
            Status::Wrapup { until, .. } => {
                Some(until.map_or(wrapup_ms as f64 * 0.5, |u| u.since(now) as f64))
            }
        }
    }

    /// The first `queue` command: keeps what the caller was told for the record, with the
    /// group's load for the report's Erlang C reference, and the model's own estimate
    /// (before the factor) to learn the factor from when the call is answered.
    pub(super) fn note_first_announcement(&mut self, slot: Slot, group: GroupIdx, told: Told) {
        let gs = &self.st.groups[group.ix()];
        let announced = Announced {
            position: told.position,
            ewt_s: told.ewt_ms.map(Timestamp::ms_to_secs_ceil),
            staffed: gs.staffed(),
            aht_ms: gs.aht_ms.round() as u64,
            gap_ms: gs.learned.gap_ms.round() as u64,
        };
        let call = self.call_mut(slot);
        call.announced = Some(announced);
        call.told = told.raw_ms.map(|w| (group, w.round() as u64));
    }

    /// Lists, per group, the agents serving it and the widen step they qualify at (after
    /// the memberships were derived: a new engine, a restore, a reload).
    pub(super) fn index_serving(&mut self) {
        for gs in &mut self.st.groups {
            gs.serving.clear();
        }
        for (a, groups) in self.st.agent_groups.iter().enumerate() {
            for &(g, tier) in groups {
                self.st.groups[g.ix()]
                    .serving
                    .push((AgentIdx(a as u32), tier));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_agents_busy_for_a_full_handle_is_the_fluid_estimate() {
        // Four agents all just starting a 240 s handle: turns at 240 s; position 3 is
        // served at the third agent's turn, at 240 s; position 5 after one agent's
        // second call, at 480 s.
        let busy: FreeAt = smallvec::smallvec![240_000.0; 4];
        assert_eq!(
            model_wait_ms(&mut busy.clone(), 240_000.0, 0.0, 3),
            Some(240_000.0)
        );
        assert_eq!(
            model_wait_ms(&mut busy.clone(), 240_000.0, 0.0, 5),
            Some(480_000.0)
        );
        assert_eq!(model_wait_ms(&mut [], 240_000.0, 0.0, 3), None);
    }

    #[test]
    fn the_next_caller_waits_for_the_first_agent_to_come_free() {
        // One agent ends its wrap-up in 20 s, the others talk for minutes.
        let free: FreeAt = smallvec::smallvec![200_000.0, 20_000.0, 150_000.0];
        assert_eq!(
            model_wait_ms(&mut free.clone(), 240_000.0, 0.0, 1),
            Some(20_000.0)
        );
        assert_eq!(
            model_wait_ms(&mut free.clone(), 240_000.0, 0.0, 2),
            Some(150_000.0)
        );
        // The fourth: the first agent's second turn (20 s + 240 s) comes after 200 s.
        assert_eq!(
            model_wait_ms(&mut free.clone(), 240_000.0, 0.0, 4),
            Some(260_000.0)
        );
    }

    #[test]
    fn callers_ahead_who_hang_up_shorten_the_wait() {
        let mut l = Learned::default();
        for _ in 0..200 {
            l.observe_wait(60_000, true);
            l.observe_wait(60_000, false);
        }
        let free: FreeAt = smallvec::smallvec![60_000.0];
        let plain = model_wait_ms(&mut free.clone(), 60_000.0, 0.0, 5);
        let fewer = model_wait_ms(&mut free.clone(), 60_000.0, l.theta(), 5);
        assert_eq!(plain, Some(300_000.0));
        // θ ≈ 1 in 120 s; 1 agent of 60 s: of 4 ahead, about ln(1 + 2) × 2 ≈ 2.2 are
        // served before the caller's turn.
        let (theta, c) = (l.theta(), 1.0 / 60_000.0);
        assert!((theta * 120_000.0 - 1.0).abs() < 0.02, "{theta}");
        let turns = c * (theta * 4.0 / c).ln_1p() / theta;
        let expect = 60_000.0 * (1.0 + turns);
        assert!(fewer.is_some_and(|w| (w - expect).abs() < 1.0), "{fewer:?}");
        assert!(fewer.is_some_and(|w| (w - 191_833.0).abs() < 2_000.0));
    }

    #[test]
    fn the_next_turn_continues_from_the_steps_already_taken() {
        // Within and past the stepped turns: continuing from `k` steps gives the very
        // figure of stepping `k + 1` turns afresh (the interpolation needs both).
        let start = [30_000.0, 5_000.0, 90_000.0, 61_000.0, 12_500.0];
        for k in [0, 1, 3, MAX_TURNS - 1, MAX_TURNS, MAX_TURNS + 7] {
            let mut sorted = start;
            sorted.sort_unstable_by(f64::total_cmp);
            let mut fresh = sorted;
            let mut going = sorted;
            let lo = turn_at(&mut going, 0, 5, 200_000.0, k);
            let hi = turn_at(&mut going, k, 5, 200_000.0, k + 1);
            assert_eq!(
                lo.to_bits(),
                turn_at(&mut sorted, 0, 5, 200_000.0, k).to_bits()
            );
            let again = turn_at(&mut fresh, 0, 5, 200_000.0, k + 1);
            assert_eq!(hi.to_bits(), again.to_bits(), "k = {k}");
        }
    }

    #[test]
    fn the_next_caller_has_no_turns_ahead_without_a_logarithm() {
        // Bit for bit the figure the formula gives for `q = 0`.
        let (c, theta): (f64, f64) = (3.0 / 240_000.0, 1.0 / 120_000.0);
        let formula = c * (theta * 0.0 / c).ln_1p() / theta;
        assert_eq!(turns_ahead(0.0, c, theta).to_bits(), formula.to_bits());
        assert!(turns_ahead(2.0, c, theta) < 2.0);
    }

    #[test]
    fn a_long_queue_is_extrapolated_not_stepped() {
        let busy: FreeAt = smallvec::smallvec![100_000.0; 2];
        let w = model_wait_ms(&mut busy.clone(), 100_000.0, 0.0, 1_000_001);
        // 1,000,000 turns of two agents at 100 s: 50,000,000 s after the first 100 s.
        assert_eq!(w, Some(100_000.0 + 1_000_000.0 * 50_000.0));
    }

    #[test]
    fn the_learned_factor_scales_and_is_bounded() {
        let mut l = Learned::default();
        assert!((l.factor() - 1.0).abs() < 1e-12);
        for _ in 0..500 {
            l.observe_told(60_000, 90_000);
        }
        assert!((l.factor() - 1.5).abs() < 1e-9);
        for _ in 0..500 {
            l.observe_told(10_000, 90_000);
        }
        assert!((l.factor() - FACTOR_RANGE.1).abs() < 1e-12);
    }
}
