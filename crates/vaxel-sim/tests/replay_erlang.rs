//! A long stationary Poisson trace through the replay agrees with queueing theory: Erlang C
//! (M/M/N, callers who never hang up) for the service level and ASA, and Erlang A
//! (M/M/N+M, exponential patience) for abandonment, service level and ASA.
//!
//! # Tolerance
//! The estimates are means over correlated calls (a long queue makes neighbours wait
//! alike), so the binomial formula would understate their error. The standard error is
//! estimated by batch means: the run is cut into `BATCHES` consecutive batches of equal
//! length (each many times longer than the queue's relaxation time, a few minutes here,
//! so batch means are nearly independent) and the SE is the standard deviation of the
//! batch means over √BATCHES. The test allows 4 SE (a correct engine fails with
//! probability about 6·10⁻⁵ under normality), and also checks that the SE is small enough
//! for the comparison to mean something (a service level to within about ±4 points at
//! worst, an ASA to within a few seconds). The seed is fixed, so the result is reproducible.
//!
//! Size: λ = 100 calls/h, AHT 180 s (exponential), so A = 5 Erlangs. Debug builds run
//! 2000 hours (200 000 calls, about 2 s per test); release builds 5000 hours. Both are long
//! enough for the tolerance above.
#![allow(clippy::unwrap_used)]

mod support;

use support::{call, one_group_site, replay_records, whole_time_roster};
use vaxel_core::{CallRecord, Outcome, Timestamp};
use vaxel_sim::erlang::{self, ErlangA};
use vaxel_sim::generate::Rng;

const BASE: u64 = 1_772_400_000_000;
const LAMBDA_PER_H: f64 = 100.0;
const AHT_S: f64 = 180.0;
const SL_S: f64 = 20.0;
const BATCHES: usize = 20;
/// Calls arriving in the first hour are left out: the run starts empty.
const WARM_UP_MS: u64 = 3_600_000;

fn hours() -> u64 {
    if cfg!(debug_assertions) { 2000 } else { 5000 }
}

/// Replays Poisson arrivals at `LAMBDA_PER_H` with exponential talk times of mean
/// `AHT_S` (and exponential patience of mean `patience_s`, if given) on `agents` agents;
/// the records of calls after the warm-up, in arrival order, with their arrival offset.
fn run(agents: usize, patience_s: Option<f64>, seed: u64) -> Vec<(u64, CallRecord)> {
    let site = one_group_site(agents);
    let mut rng = Rng::new(seed);
    let end_ms = hours() * 3_600_000;
    let mean_gap_ms = 3_600_000.0 / LAMBDA_PER_H;
    let mut t = 0.0;
    let mut calls = Vec::new();
    loop {
        t += rng.exp(mean_gap_ms);
        if t >= end_ms as f64 {
            break;
        }
        let talk = (rng.exp(AHT_S * 1000.0).round() as u64).max(1);
        let patience = patience_s.map(|p| rng.exp(p * 1000.0).round() as u64);
        calls.push(call(
            calls.len(),
            Timestamp(BASE + t as u64),
            talk,
            patience,
        ));
    }
    let roster = whole_time_roster(
        agents,
        Timestamp(BASE),
        Timestamp(BASE + end_ms + 30 * 86_400_000),
    );
    let (records, _) = replay_records(&site, &calls, &roster);
    records
        .into_iter()
        .map(|r| (r.arrived.0 - BASE, r))
        .filter(|(at, _)| *at >= WARM_UP_MS)
        .collect()
}

/// The mean of `f` over all records and its batch-means standard error. `f` gives a value
/// and a weight (0 to leave a record out).
fn estimate(records: &[(u64, CallRecord)], f: impl Fn(&CallRecord) -> (f64, f64)) -> (f64, f64) {
    let span = hours() * 3_600_000 - WARM_UP_MS;
    let mut sums = [(0.0, 0.0); BATCHES];
    for (at, r) in records {
        let b = (((at - WARM_UP_MS) * BATCHES as u64 / span) as usize).min(BATCHES - 1);
        let (v, w) = f(r);
        sums[b].0 += v * w;
        sums[b].1 += w;
    }
    let total: (f64, f64) = sums.iter().fold((0.0, 0.0), |a, s| (a.0 + s.0, a.1 + s.1));
    let mean = total.0 / total.1;
    let means: Vec<f64> = sums.iter().map(|s| s.0 / s.1).collect();
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (BATCHES - 1) as f64;
    (mean, (var / BATCHES as f64).sqrt())
}

fn check(what: &str, got: (f64, f64), want: f64, max_se: f64) {
    let (mean, se) = got;
    eprintln!("{what}: replay {mean:.4} ± {se:.4} (SE), theory {want:.4}");
    assert!(
        se <= max_se,
        "{what}: standard error {se} too large for a meaningful test"
    );
    assert!(
        (mean - want).abs() <= 4.0 * se,
        "{what}: replay {mean} vs theory {want}: more than 4 standard errors ({se})"
    );
}

fn answered(r: &CallRecord) -> bool {
    r.outcome == Outcome::Answered
}

#[test]
fn erlang_c_service_level_and_asa() {
    let agents = 7;
    let records = run(agents, None, 2026);
    assert!(records.iter().all(|(_, r)| answered(r)));
    let traffic = LAMBDA_PER_H / 3600.0 * AHT_S;
    let sl = erlang::service_level(agents as u32, traffic, AHT_S, SL_S);
    let asa = erlang::asa_s(agents as u32, traffic, AHT_S);
    let within = |r: &CallRecord| (f64::from(u8::from(r.wait_ms <= 20_000)), 1.0);
    check("service level", estimate(&records, within), sl, 0.01);
    let wait = |r: &CallRecord| (r.wait_ms as f64 / 1000.0, 1.0);
    check("ASA s", estimate(&records, wait), asa, 2.0);
    let waited = |r: &CallRecord| (f64::from(u8::from(r.wait_ms > 0)), 1.0);
    check(
        "P(wait)",
        estimate(&records, waited),
        erlang::erlang_c(agents as u32, traffic),
        0.01,
    );
}

#[test]
fn erlang_a_abandonment_service_level_and_asa() {
    let (agents, patience_s) = (6, 120.0);
    let records = run(agents, Some(patience_s), 2027);
    let m = ErlangA::new(agents as u32, LAMBDA_PER_H / 3600.0, AHT_S, patience_s).unwrap();
    let abandoned = |r: &CallRecord| (f64::from(u8::from(r.outcome == Outcome::Abandoned)), 1.0);
    check(
        "P(abandon)",
        estimate(&records, abandoned),
        m.p_abandon(),
        0.005,
    );
    // Erlang A's service level: the share of all callers answered within 20 s.
    let within = |r: &CallRecord| (f64::from(u8::from(answered(r) && r.wait_ms <= 20_000)), 1.0);
    check(
        "service level",
        estimate(&records, within),
        m.service_level(SL_S),
        0.01,
    );
    // ASA over the answered callers only.
    let wait = |r: &CallRecord| (r.wait_ms as f64 / 1000.0, f64::from(u8::from(answered(r))));
    check("ASA s", estimate(&records, wait), m.asa_s(), 1.0);
}
