//! Erlang formulas, to check a replay against theory and to staff a generated roster.
//!
//! - Erlang B (M/M/N/N, blocked calls lost), by the recursion
//!   `B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))`, stable for any N.
//! - Erlang C (M/M/N, infinite patience): `C = N·B / (N − A·(1 − B))`; service level
//!   `1 − C·e^{−(N−A)·t/AHT}`; ASA `C·AHT/(N−A)`.
//! - Erlang A (M/M/N+M, exponential patience with mean `1/θ`; Palm 1943, Garnett,
//!   Mandelbaum & Reiman 2002). With `x = Nμ/θ`, `y = λ/θ` and the weights of the queue
//!   states `w_j = Π_{i=1..j} y/(x+i)` (state `N+j` relative to state `N`):
//!   - `P(wait) = A_x·E / (1 + (A_x − 1)·E)` with `E` = Erlang B and `A_x = Σ w_j`
//!     (`A_x = x·e^y·y^{−x}·γ(x, y)`, γ the lower incomplete gamma function);
//!   - a caller finding `j` waiting ahead is served with probability `x/(x+j+1)`
//!     (`Π (x+i)/(x+i+1)` telescopes), so `P(abandon) = P(wait)·(1 − Σ w_j·x/(x+j+1) / Σ w_j)`;
//!   - its offered wait `V` is a sum of exponentials with rates `θ(x+i)`, `i = 0..j`, and
//!     `E[V·e^{−θV}] = x/(x+j+1) · Σ_{k=1..j+1} 1/(θ(x+k))`, which gives the ASA of
//!     answered calls;
//!   - `P(V > t | V > 0) = γ(x, y·e^{−θt}) / γ(x, y)`, and the share of callers answered
//!     within `t` is `1 − P(wait) + P(wait)·(γ(x+1, y) − γ(x+1, y·e^{−θt})) / (y·γ(x, y))`.
//!
//!   Every sum is taken in log scale (a running maximum, terms rescaled), so nothing
//!   overflows for N up to 1000 and A up to 900 or far beyond; it converges to Erlang C as
//!   patience grows (tested).
//!
//! Traffic `A` is in Erlangs: calls per second × AHT in seconds.

/// Offered traffic in Erlangs of `calls` arriving in `period_s` seconds with a mean
/// handling time of `aht_s`.
#[must_use]
pub fn traffic_erl(calls: f64, period_s: f64, aht_s: f64) -> f64 {
    if period_s > 0.0 {
        calls * aht_s / period_s
    } else {
        0.0
    }
}

/// Erlang B: the probability that all `agents` are busy in a loss system offered
/// `traffic` Erlangs.
#[must_use]
pub fn erlang_b(agents: u32, traffic: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=agents {
        let ab = traffic * b;
        b = ab / (f64::from(k) + ab);
    }
    b
}

/// `1/B`, by `1/B(k) = 1 + (k/A)·1/B(k−1)`: no underflow where `B` is tiny (then it is
/// large, possibly infinite).
fn inverse_erlang_b(agents: u32, traffic: f64) -> f64 {
    if traffic <= 0.0 {
        return if agents == 0 { 1.0 } else { f64::INFINITY };
    }
    let mut inv = 1.0;
    for k in 1..=agents {
        inv = 1.0 + f64::from(k) / traffic * inv;
    }
    inv
}

/// Erlang C: the probability that a caller waits, with `agents` serving `traffic` Erlangs
/// and callers who never hang up. 1 when `traffic >= agents` (the queue grows without
/// bound).
#[must_use]
pub fn erlang_c(agents: u32, traffic: f64) -> f64 {
    let n = f64::from(agents);
    if traffic >= n {
        return 1.0;
    }
    if traffic <= 0.0 {
        return 0.0;
    }
    let b = erlang_b(agents, traffic);
    n * b / (n - traffic * (1.0 - b))
}

/// Erlang C service level: the share of callers answered within `t_s` seconds.
#[must_use]
pub fn service_level(agents: u32, traffic: f64, aht_s: f64, t_s: f64) -> f64 {
    let n = f64::from(agents);
    if traffic >= n {
        return 0.0;
    }
    if aht_s <= 0.0 {
        return 1.0;
    }
    let c = erlang_c(agents, traffic);
    (1.0 - c * (-(n - traffic) * t_s / aht_s).exp()).clamp(0.0, 1.0)
}

/// Erlang C average speed of answer (mean wait over all callers), in seconds; infinite
/// when `traffic >= agents`.
#[must_use]
pub fn asa_s(agents: u32, traffic: f64, aht_s: f64) -> f64 {
    let n = f64::from(agents);
    if traffic >= n {
        return f64::INFINITY;
    }
    erlang_c(agents, traffic) * aht_s / (n - traffic)
}

/// The fewest agents whose Erlang C service level (answered within `t_s`) reaches
/// `target` (0..1). `None` for a target outside `[0, 1)` or a negative traffic.
#[must_use]
pub fn agents_needed(traffic: f64, aht_s: f64, t_s: f64, target: f64) -> Option<u32> {
    if !(0.0..1.0).contains(&target) || traffic.is_nan() || traffic < 0.0 || !traffic.is_finite() {
        return None;
    }
    if traffic == 0.0 {
        return Some(0);
    }
    // Above the traffic, the service level rises with every agent and tends to 1.
    let start = traffic.floor() as u32 + 1;
    (start..=start.saturating_add(100_000))
        .find(|&n| service_level(n, traffic, aht_s, t_s) >= target)
}

/// Past this many terms a series is cut (only reached with an overload and a patience
/// millions of times the handling time).
const MAX_TERMS: u64 = 50_000_000;

/// Sums of a series of positive terms kept in log scale: `value = e^max · scaled`.
#[derive(Clone, Copy, Debug)]
struct LogSums<const K: usize> {
    max: f64,
    scaled: [f64; K],
}

impl<const K: usize> LogSums<K> {
    fn new() -> Self {
        LogSums {
            max: 0.0,
            scaled: [0.0; K],
        }
    }

    /// Adds `e^ln_w · factors[i]` to sum `i`.
    fn add(&mut self, ln_w: f64, factors: [f64; K]) {
        if ln_w > self.max {
            let r = (self.max - ln_w).exp();
            for s in &mut self.scaled {
                *s *= r;
            }
            self.max = ln_w;
        }
        let w = (ln_w - self.max).exp();
        for (s, f) in self.scaled.iter_mut().zip(factors) {
            *s += w * f;
        }
    }

    fn ln(&self, i: usize) -> f64 {
        self.max + self.scaled[i].ln()
    }
}

/// `Σ_{k≥0} Π_{i=1..k} z/(a+i)` in log scale, with optionally the weighted sums the
/// Erlang A quantities need (see the module docs): `[Σ w, Σ w·x/(x+j+1), Σ w·x/(x+j+1)·H_j]`.
fn series(a: f64, z: f64) -> LogSums<3> {
    let mut sums = LogSums::<3>::new();
    let ln_z = z.ln();
    let mut ln_w = 0.0;
    let mut h = 0.0;
    let peak = (z - a).max(0.0);
    let mut j: u64 = 0;
    loop {
        let jf = j as f64;
        let served = a / (a + jf + 1.0);
        h += 1.0 / (a + jf + 1.0);
        sums.add(ln_w, [1.0, served, served * h]);
        if (jf > peak && ln_w - sums.max < -41.0) || j >= MAX_TERMS || z <= 0.0 {
            break;
        }
        j += 1;
        ln_w += ln_z - (a + jf + 1.0).ln();
    }
    sums
}

/// Erlang A (M/M/N+M): `agents` serving calls arriving at `arrival_rate` per second, with
/// mean handling time `aht_s` and exponentially distributed patience of mean
/// `patience_s` (infinite patience: use Erlang C, or a very large value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangA {
    agents: u32,
    lambda: f64,
    mu: f64,
    theta: f64,
    p_wait: f64,
    /// `Σ w·x/(x+j+1) / Σ w`: P(served | waits).
    served_if_wait: f64,
    /// `Σ w·x/(x+j+1)·H_j / Σ w`: θ·E[V·e^{−θV} | waits].
    wait_weight: f64,
    ln_s0: f64,
}

impl ErlangA {
    /// The model; `None` unless the rates are positive and finite.
    #[must_use]
    pub fn new(agents: u32, arrival_rate: f64, aht_s: f64, patience_s: f64) -> Option<ErlangA> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !ok(arrival_rate) || !ok(aht_s) || !ok(patience_s) {
            return None;
        }
        let (lambda, mu, theta) = (arrival_rate, 1.0 / aht_s, 1.0 / patience_s);
        let x = f64::from(agents) * mu / theta;
        let y = lambda / theta;
        let s = series(x, y);
        let ln_s0 = s.ln(0);
        let inv_e = inverse_erlang_b(agents, lambda / mu);
        // P(wait) = 1 / (1 + (1/E − 1)/A_x), in logs.
        let p_wait = if inv_e <= 1.0 {
            1.0
        } else {
            let q = (inv_e - 1.0).ln() - ln_s0;
            1.0 / (1.0 + q.exp())
        };
        Some(ErlangA {
            agents,
            lambda,
            mu,
            theta,
            p_wait,
            served_if_wait: s.scaled[1] / s.scaled[0],
            wait_weight: s.scaled[2] / s.scaled[0],
            ln_s0,
        })
    }

    /// Probability that a caller has to wait (finds every agent busy).
    #[must_use]
    pub fn p_wait(&self) -> f64 {
        self.p_wait
    }

    /// Probability that a caller hangs up before being answered.
    #[must_use]
    pub fn p_abandon(&self) -> f64 {
        (self.p_wait * (1.0 - self.served_if_wait)).clamp(0.0, 1.0)
    }

    /// Probability that a caller is answered.
    #[must_use]
    pub fn p_answered(&self) -> f64 {
        1.0 - self.p_abandon()
    }

    /// Mean wait of all callers, answered or not (`P(abandon)/θ`), in seconds.
    #[must_use]
    pub fn mean_wait_s(&self) -> f64 {
        self.p_abandon() / self.theta
    }

    /// Average speed of answer: mean wait of the answered callers, in seconds.
    #[must_use]
    pub fn asa_s(&self) -> f64 {
        let answered = self.p_answered();
        if answered <= 0.0 {
            return 0.0;
        }
        self.p_wait * self.wait_weight / self.theta / answered
    }

    /// `ln(γ(a, y·u) / γ(x, y)) + const` pieces: returns
    /// `ln(series(a, y·u)) + a·ln u + y·(1−u)` for `u = e^{−θt}`.
    fn ln_gamma_ratio_part(&self, a: f64, t_s: f64) -> f64 {
        let y = self.lambda / self.theta;
        let yu = y * (-self.theta * t_s).exp();
        let s = series(a, yu);
        s.ln(0) - a * self.theta * t_s - y * (-self.theta * t_s).exp_m1()
    }

    /// Probability that an infinitely patient caller would wait longer than `t_s`
    /// (the offered wait).
    #[must_use]
    pub fn p_wait_longer(&self, t_s: f64) -> f64 {
        if t_s <= 0.0 {
            return self.p_wait;
        }
        let x = f64::from(self.agents) * self.mu / self.theta;
        // γ(x, yu)/γ(x, y) = u^x e^{y(1−u)} series(x, yu) / series(x, y)
        let ln = self.ln_gamma_ratio_part(x, t_s) - self.ln_s0;
        (self.p_wait * ln.exp()).clamp(0.0, self.p_wait)
    }

    /// Service level: the share of all callers answered within `t_s` seconds.
    #[must_use]
    pub fn service_level(&self, t_s: f64) -> f64 {
        let x = f64::from(self.agents) * self.mu / self.theta;
        let later = if t_s <= 0.0 {
            self.served_if_wait
        } else {
            // γ(x+1, yu)/(y γ(x, y)) = u^{x+1} e^{y(1−u)} [series(x+1, yu)/(x+1)] / [series(x, y)/x]
            let ln = self.ln_gamma_ratio_part(x + 1.0, t_s) - self.ln_s0 + x.ln() - (x + 1.0).ln();
            ln.exp()
        };
        let within = (self.served_if_wait - later).max(0.0);
        (1.0 - self.p_wait + self.p_wait * within).clamp(0.0, 1.0)
    }

    /// The fewest agents whose Erlang A service level reaches `target`.
    #[must_use]
    pub fn agents_needed(
        arrival_rate: f64,
        aht_s: f64,
        patience_s: f64,
        t_s: f64,
        target: f64,
    ) -> Option<u32> {
        if !(0.0..1.0).contains(&target) {
            return None;
        }
        (0..=100_000u32).find(|&n| {
            ErlangA::new(n, arrival_rate, aht_s, patience_s)
                .is_some_and(|m| m.service_level(t_s) >= target)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    // Reference values below were computed independently with 50-digit arithmetic
    // (mpmath): Erlang B/C by their definitions, Erlang A by summing the birth-death chain
    // state by state with the hypoexponential wait of each state.

    #[test]
    fn erlang_b_known_values() {
        close(erlang_b(10, 10.0), 0.214_582_343_107_347, 1e-12);
        close(erlang_b(5, 3.0), 0.110_054_347_826_087, 1e-12);
        close(erlang_b(1000, 900.0), 5.929_862_670_146_2e-5, 1e-15);
        assert_eq!(erlang_b(0, 5.0), 1.0);
    }

    #[test]
    fn erlang_c_known_values() {
        close(erlang_c(11, 10.0), 0.682_118_204_689_332, 1e-12);
        close(erlang_c(1000, 900.0), 5.926_699_663_787_8e-4, 1e-14);
        assert_eq!(erlang_c(10, 10.0), 1.0);
        assert_eq!(erlang_c(10, 0.0), 0.0);
    }

    #[test]
    fn textbook_call_centre() {
        // 100 calls in 30 minutes, AHT 180 s: 10 Erlangs.
        let a = traffic_erl(100.0, 1800.0, 180.0);
        close(a, 10.0, 1e-12);
        close(
            service_level(13, a, 180.0, 20.0),
            0.795_594_788_417_783,
            1e-12,
        );
        close(asa_s(13, a, 180.0), 17.116_227_182_189_6, 1e-9);
        close(
            service_level(11, a, 180.0, 20.0),
            0.389_613_811_729_153,
            1e-12,
        );
        close(
            service_level(14, a, 180.0, 20.0),
            0.888_350_019_179_467,
            1e-12,
        );
        close(asa_s(11, a, 180.0), 122.781_276_844_080, 1e-9);
        assert_eq!(agents_needed(a, 180.0, 20.0, 0.80), Some(14));
        assert_eq!(agents_needed(a, 180.0, 20.0, 0.79), Some(13));
        assert_eq!(agents_needed(0.0, 180.0, 20.0, 0.8), Some(0));
        assert_eq!(agents_needed(10.0, 180.0, 20.0, 1.0), None);
        assert_eq!(service_level(10, a, 180.0, 20.0), 0.0);
        assert!(asa_s(9, a, 180.0).is_infinite());
    }

    #[test]
    fn large_systems_do_not_overflow() {
        for (n, a) in [
            (1000u32, 900.0),
            (1000, 999.0),
            (1000, 1200.0),
            (2000, 1990.0),
        ] {
            let c = erlang_c(n, a);
            assert!(c.is_finite() && (0.0..=1.0).contains(&c), "{n} {a} {c}");
            let m = ErlangA::new(n, a / 180.0, 180.0, 120.0).unwrap();
            for v in [m.p_wait(), m.p_abandon(), m.service_level(20.0), m.asa_s()] {
                assert!(v.is_finite() && v >= 0.0, "{n} {a} {m:?}");
            }
        }
        let m = ErlangA::new(1000, 900.0 / 180.0, 180.0, 120.0).unwrap();
        assert!(m.p_abandon() < 1e-3);
        assert!(agents_needed(900.0, 180.0, 20.0, 0.8).unwrap() > 900);
    }

    #[test]
    fn erlang_a_against_state_by_state_sums() {
        // (N, λ, AHT, patience, t): P(wait), P(abandon), SL(t), ASA, P(V > t), E[W].
        let cases = [
            (
                5,
                4.5,
                1.0,
                2.0,
                0.2,
                [
                    0.527_642_410_301_699,
                    0.109_868_588_058_354,
                    0.607_913_918_259_154,
                ],
                [
                    0.202_029_943_231_084,
                    0.385_364_973_107_836,
                    0.219_737_176_116_709,
                ],
            ),
            (
                11,
                100.0 / 1800.0,
                180.0,
                120.0,
                20.0,
                [
                    0.382_816_491_479_932,
                    0.094_155_034_237_456_5,
                    0.742_208_984_389_389,
                ],
                [
                    9.782_517_518_669_1,
                    0.247_454_306_884_378,
                    11.298_604_108_494_8,
                ],
            ),
            (
                3,
                5.0,
                1.0,
                0.5,
                0.5,
                [
                    0.792_577_603_902_983,
                    0.457_181_309_194_313,
                    0.468_685_547_601_867,
                ],
                [
                    0.203_805_799_234_206,
                    0.376_669_802_596_232,
                    0.228_590_654_597_156,
                ],
            ),
        ];
        for (n, lambda, aht, patience, t, p, w) in cases {
            let m = ErlangA::new(n, lambda, aht, patience).unwrap();
            close(m.p_wait(), p[0], 1e-12);
            close(m.p_abandon(), p[1], 1e-12);
            close(m.service_level(t), p[2], 1e-12);
            close(m.asa_s(), w[0], 1e-9 * w[0].max(1.0));
            close(m.p_wait_longer(t), w[1], 1e-12);
            close(m.mean_wait_s(), w[2], 1e-9 * w[2].max(1.0));
        }
    }

    #[test]
    fn erlang_a_converges_to_erlang_c() {
        let (n, a, aht) = (11u32, 10.0, 180.0);
        let lambda = a / aht;
        let mut last_gap = f64::INFINITY;
        for patience in [1e3, 1e5, 1e7, 1e9] {
            let m = ErlangA::new(n, lambda, aht, patience).unwrap();
            let gap = (m.p_wait() - erlang_c(n, a)).abs();
            assert!(gap <= last_gap, "P(wait) gap grows at patience {patience}");
            last_gap = gap;
        }
        let m = ErlangA::new(n, lambda, aht, 1e9).unwrap();
        close(m.p_wait(), erlang_c(n, a), 1e-5);
        close(m.service_level(20.0), service_level(n, a, aht, 20.0), 1e-5);
        close(m.asa_s(), asa_s(n, a, aht), 1e-3);
        close(m.p_abandon(), 0.0, 1e-5);
        // Large system too.
        let m = ErlangA::new(1000, 900.0 / 180.0, 180.0, 1e10).unwrap();
        close(m.p_wait(), erlang_c(1000, 900.0), 1e-6);
        close(
            m.service_level(20.0),
            service_level(1000, 900.0, 180.0, 20.0),
            1e-6,
        );
    }

    #[test]
    fn erlang_a_staffing_and_edges() {
        assert!(ErlangA::new(5, 0.0, 180.0, 60.0).is_none());
        assert!(ErlangA::new(5, 1.0, 180.0, f64::INFINITY).is_none());
        let m = ErlangA::new(0, 1.0, 180.0, 60.0).unwrap();
        assert_eq!(m.p_wait(), 1.0);
        close(m.p_abandon(), 1.0, 1e-12);
        // Abandonment relieves the queue: fewer agents than Erlang C for the same target.
        let lambda = 10.0 / 180.0;
        let n_a = ErlangA::agents_needed(lambda, 180.0, 120.0, 20.0, 0.8).unwrap();
        let n_c = agents_needed(10.0, 180.0, 20.0, 0.8).unwrap();
        assert!(n_a <= n_c, "{n_a} {n_c}");
        let m = ErlangA::new(n_a, lambda, 180.0, 120.0).unwrap();
        assert!(m.service_level(20.0) >= 0.8);
        let m = ErlangA::new(n_a - 1, lambda, 180.0, 120.0).unwrap();
        assert!(m.service_level(20.0) < 0.8);
        // Service level rises with t and with agents.
        let m = ErlangA::new(11, lambda, 180.0, 120.0).unwrap();
        assert!(m.service_level(0.0) < m.service_level(20.0));
        assert!(m.service_level(20.0) < m.service_level(600.0));
        close(m.service_level(1e6), m.p_answered(), 1e-12);
        close(m.service_level(0.0), 1.0 - m.p_wait(), 1e-12);
    }
}
