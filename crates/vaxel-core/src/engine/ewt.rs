//! The expected wait (EWT) announced to a caller, and the abandonment it learns online.
//!
//! A fluid model of the group's queue with impatient callers (Erlang A's exponential
//! patience), chosen by the replay's `ewt_accuracy` measurement (docs/engine.md
//! "Expected wait", docs/benchmarks.md): the staffed agents finish calls at `N / AHT` a
//! millisecond, and each caller ahead also leaves by hanging up, at the group's observed
//! abandonment rate `θ`. O(1) per estimate.

use serde::{Deserialize, Serialize};

/// Weight of the newest caller in the learned averages (about the last 50 callers).
const ALPHA: f64 = 0.02;

/// How readily the group's waiting callers hang up. Saved in checkpoints; absent in old
/// ones (`#[serde(default)]`: starts from nothing, as a new group does, and the estimate
/// is then the plain `p × AHT / N`).
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
}

impl Learned {
    /// A caller left the queue after `waited_ms`, hanging up or answered.
    pub(crate) fn observe_wait(&mut self, waited_ms: u64, abandoned: bool) {
        self.abandons += ALPHA * (f64::from(u8::from(abandoned)) - self.abandons);
        self.exposure_ms += ALPHA * (waited_ms as f64 - self.exposure_ms);
    }

    /// Abandonment rate per waiting millisecond (0 until someone has waited).
    fn theta(&self) -> f64 {
        if self.exposure_ms >= 1.0 {
            self.abandons / self.exposure_ms
        } else {
            0.0
        }
    }
}

/// The expected wait of the caller at `position` (1 = next), in ms; `None` when nobody
/// serves the group (`staffed` = 0).
///
/// The `q = position − 1` callers ahead drain as `dq/dt = −(c + θq)` with `c = N / AHT`,
/// which takes `ln(1 + θq/c) / θ` (`q/c` when `θ = 0`); then the caller's own turn takes
/// `1/c`. With no abandonment this is the fluid `p × AHT / N`.
pub(crate) fn expected_wait_ms(
    staffed: u32,
    aht_ms: f64,
    learned: &Learned,
    position: u32,
) -> Option<u64> {
    if staffed == 0 {
        return None;
    }
    let c = f64::from(staffed) / aht_ms.max(1.0);
    let theta = learned.theta();
    let q = f64::from(position.saturating_sub(1));
    let ahead = if theta > 0.0 {
        (theta * q / c).ln_1p() / theta
    } else {
        q / c
    };
    Some((ahead + 1.0 / c).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_abandonment_it_is_the_fluid_estimate() {
        let l = Learned::default();
        assert_eq!(expected_wait_ms(4, 240_000.0, &l, 3), Some(180_000));
        assert_eq!(expected_wait_ms(0, 240_000.0, &l, 3), None);
    }

    #[test]
    fn callers_ahead_who_hang_up_shorten_the_wait() {
        let mut l = Learned::default();
        for _ in 0..200 {
            l.observe_wait(60_000, true);
            l.observe_wait(60_000, false);
        }
        // θ = 1 in 120 s; 1 agent of 60 s: 4 ahead take ln(1 + 2) × 120 s, then 60 s.
        let expect = (3.0_f64.ln() * 120_000.0 + 60_000.0).round() as u64;
        let got = expected_wait_ms(1, 60_000.0, &l, 5);
        assert!(got.is_some_and(|w| w.abs_diff(expect) < 2_000), "{got:?}");
        assert!(
            got.is_some_and(|w| w < 300_000),
            "shorter than the plain 300 s"
        );
        // Next in line: nobody ahead to leave.
        assert_eq!(expected_wait_ms(1, 60_000.0, &l, 1), Some(60_000));
    }
}
