//! docs/formats.md "Replay semantics": a single group served first-come-first-served by
//! identical agents, `ring_s = 0`, no wrap-up, everyone logged in the whole time, must give
//! every call exactly the wait of the textbook FIFO multi-server queue, with and without
//! patience. A caller whose wait would exceed its patience abandons at exactly its patience
//! and occupies no agent; a wait equal to the patience is answered.
//!
//! Times are whole seconds on purpose: arrivals at the same millisecond, agents freeing
//! up exactly when a call arrives, and waits exactly equal to the patience all happen
//! often, so the tie rules are exercised, not just the common case.
#![allow(clippy::unwrap_used)]

mod support;

use proptest::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use support::{call, one_group_site, one_group_site_ringing, replay_records, whole_time_roster};
use vaxel_core::{Outcome, Timestamp};
use vaxel_sim::generate::Rng;
use vaxel_sim::{CdrReader, CdrWriter, TraceCall, TraceReader, TraceWriter};

/// The expected fate of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Answered after waiting this long (ms).
    Answered(u64),
    /// Hung up after waiting this long (ms): its patience.
    Abandoned(u64),
}

/// The textbook FIFO queue with `servers` identical servers, written independently of the
/// engine: in arrival order, each caller takes the server that comes free first, at
/// `max(arrival, free)`, unless that wait exceeds its patience: then it leaves at its
/// patience and the server stays free for the next caller.
fn fifo(servers: usize, calls: &[(u64, u64, Option<u64>)]) -> Vec<Fate> {
    let mut free: BinaryHeap<Reverse<u64>> = (0..servers).map(|_| Reverse(0)).collect();
    calls
        .iter()
        .map(|&(arrival, talk, patience)| {
            let Reverse(f) = *free.peek().unwrap();
            let wait = f.saturating_sub(arrival);
            match patience {
                Some(p) if wait > p => Fate::Abandoned(p),
                _ => {
                    free.pop();
                    free.push(Reverse(arrival + wait + talk));
                    Fate::Answered(wait)
                }
            }
        })
        .collect()
}

const BASE: u64 = 1_772_400_000_000;

/// Replays `calls` (arrival offset, talk, patience; ms) and returns each call's fate.
fn replayed(servers: usize, calls: &[(u64, u64, Option<u64>)]) -> Vec<Fate> {
    replayed_ringing(servers, 0, calls)
}

/// [`replayed`] with agents who answer `ring_s` after they are offered a call.
fn replayed_ringing(servers: usize, ring_s: u32, calls: &[(u64, u64, Option<u64>)]) -> Vec<Fate> {
    let site = one_group_site_ringing(servers, ring_s);
    let trace: Vec<TraceCall> = calls
        .iter()
        .enumerate()
        .map(|(i, &(a, talk, p))| call(i, Timestamp(BASE + a), talk, p))
        .collect();
    // Logged in well before the first call and after the last could possibly end.
    let end = calls.last().map_or(0, |c| c.0) + calls.iter().map(|c| c.1).sum::<u64>();
    let roster = whole_time_roster(
        servers,
        Timestamp(BASE - 3_600_000),
        Timestamp(BASE + end + 3_600_000),
    );
    let (records, _) = replay_records(&site, &trace, &roster);
    records.iter().map(fate).collect()
}

fn fate(r: &vaxel_core::CallRecord) -> Fate {
    match r.outcome {
        Outcome::Answered => Fate::Answered(r.wait_ms),
        Outcome::Abandoned => Fate::Abandoned(r.wait_ms),
        o => panic!("{}: unexpected outcome {o:?}", r.call_id),
    }
}

/// `n` calls in whole seconds for `servers` agents at about `load` (offered traffic per
/// agent): gaps of 0 to twice the mean (0 = the same millisecond), talk 1–`max_talk` s,
/// patience 0–`max_patience` s, or none for one caller in ten.
fn draw(
    rng: &mut Rng,
    n: usize,
    servers: usize,
    load: f64,
    max_talk: u64,
    max_patience: Option<u64>,
) -> Vec<(u64, u64, Option<u64>)> {
    let mean_talk = (1 + max_talk) as f64 / 2.0;
    let max_gap = (2.0 * mean_talk / (servers as f64 * load)).round() as u64;
    let mut t = 0;
    (0..n)
        .map(|_| {
            t += rng.below(max_gap + 1) * 1000;
            let talk = (1 + rng.below(max_talk)) * 1000;
            let patience = max_patience
                .filter(|_| !rng.chance(0.1))
                .map(|p| rng.below(p + 1) * 1000);
            (t, talk, patience)
        })
        .collect()
}

#[test]
fn infinite_patience_gives_the_textbook_waits() {
    let mut rng = Rng::new(11);
    for servers in [1, 3, 7] {
        let calls = draw(&mut rng, 3000, servers, 0.95, 240, None);
        let want = fifo(servers, &calls);
        assert!(
            want.iter().filter(|f| **f != Fate::Answered(0)).count() > 300,
            "the test should make callers wait"
        );
        assert_eq!(replayed(servers, &calls), want, "{servers} agents");
    }
}

#[test]
fn patience_abandons_at_exactly_the_patience_and_frees_no_agent() {
    let mut rng = Rng::new(12);
    for servers in [1, 2, 5] {
        let calls = draw(&mut rng, 3000, servers, 1.2, 200, Some(90));
        let want = fifo(servers, &calls);
        let got = replayed(servers, &calls);
        let abandoned = want
            .iter()
            .filter(|f| matches!(f, Fate::Abandoned(_)))
            .count();
        // Waits that equal the patience exactly (answered, by the tie rule).
        let at_patience = calls
            .iter()
            .zip(&want)
            .filter(
                |((_, _, p), f)| matches!((p, f), (Some(p), Fate::Answered(w)) if w == p && *w > 0),
            )
            .count();
        assert!(abandoned > 100, "{servers}: only {abandoned} abandoned");
        assert!(at_patience > 0, "{servers}: no wait equal to a patience");
        assert_eq!(got, want, "{servers} agents");
    }
}

#[test]
fn a_wait_equal_to_patience_is_answered_and_one_ms_less_abandons() {
    // One agent busy until 60 s; a caller arriving at 0 with patience 60 s is answered at
    // 60 s; with 59.999 s it leaves, and the next caller (patience none) gets the agent.
    let calls = [
        (0, 60_000, None),
        (0, 10_000, Some(60_000)),
        (1_000, 10_000, None),
    ];
    assert_eq!(
        replayed(1, &calls),
        vec![
            Fate::Answered(0),
            Fate::Answered(60_000),
            Fate::Answered(69_000)
        ]
    );
    let calls = [
        (0, 60_000, None),
        (0, 10_000, Some(59_999)),
        (1_000, 10_000, None),
    ];
    assert_eq!(
        replayed(1, &calls),
        vec![
            Fate::Answered(0),
            Fate::Abandoned(59_999),
            Fate::Answered(59_000)
        ]
    );
}

#[test]
fn a_ringing_caller_keeps_its_patience_until_the_answer() {
    // One agent who answers 6 s after the offer, free whenever a caller arrives: patience
    // runs while the phone rings. 5.999 s leaves before the answer, exactly 6 s is answered
    // (answers go first at the same millisecond), and longer is answered at 6 s. The driver
    // schedules no patience at all for the last two: the answer comes first.
    let calls = [
        (0, 10_000, Some(5_999)),
        (60_000, 10_000, Some(6_000)),
        (120_000, 10_000, Some(60_000)),
    ];
    assert_eq!(
        replayed_ringing(1, 6, &calls),
        vec![
            Fate::Abandoned(5_999),
            Fate::Answered(6_000),
            Fate::Answered(6_000)
        ]
    );
}

#[test]
fn a_stale_patience_does_not_hang_up_the_next_call_in_its_slot() {
    // Found by the property test below (shrunk). c1 is answered at once, so its patience
    // (38 s) never applies; it ends at 35 s and c5, arriving at 35 s, takes its place in
    // the driver. c5 has no patience and waits for an agent until 39 s, but c1's stale
    // patience event at 38 s hung it up (`abandoned` after 3 s).
    let s = 1000;
    let calls = [
        (0, 30 * s, None),
        (0, 35 * s, Some(38 * s)),
        (8 * s, 6 * s, None),
        (20 * s, 4 * s, None),
        (30 * s, 3 * s, None),
        (35 * s, s, None),
    ];
    let want = fifo(2, &calls);
    assert_eq!(want[5], Fate::Answered(4 * s));
    assert_eq!(replayed(2, &calls), want);
}

#[test]
fn the_same_through_the_files() {
    // Trace written and read back as CSV, records written as cdr.csv and read back: the
    // waits survive both formats exactly (millisecond timestamps, decimal seconds).
    let servers = 4;
    let mut rng = Rng::new(13);
    let calls: Vec<(u64, u64, Option<u64>)> = draw(&mut rng, 2000, servers, 1.1, 150, Some(60))
        .into_iter()
        // Odd milliseconds too.
        .map(|(a, t, p)| {
            (
                a + rng.below(1000),
                t + rng.below(1000),
                p.map(|p| p + rng.below(1000)),
            )
        })
        .collect();
    let mut sorted = calls.clone();
    sorted.sort_by_key(|c| c.0);
    let calls = sorted;
    let want = fifo(servers, &calls);
    let site = one_group_site(servers);
    let tz = site.timezone.clone();
    let mut w = TraceWriter::new(Vec::new(), "calls.csv", tz.clone()).unwrap();
    for (i, &(a, talk, p)) in calls.iter().enumerate() {
        w.write(&call(i, Timestamp(BASE + a), talk, p)).unwrap();
    }
    let trace = w.into_inner().unwrap();
    let reader = TraceReader::new(trace.as_slice(), "calls.csv").unwrap();
    let roster = whole_time_roster(
        servers,
        Timestamp(BASE - 1),
        Timestamp(BASE + 100 * 86_400_000),
    );
    let mut cdr = CdrWriter::new(Vec::new(), "cdr.csv", tz).unwrap();
    let summary = vaxel_sim::replay(site, reader, &roster, |r| cdr.write(&r)).unwrap();
    assert_eq!(summary.refused, 0);
    let bytes = cdr.into_inner().unwrap();
    let mut got = vec![None; calls.len()];
    for r in CdrReader::new(bytes.as_slice(), "cdr.csv").unwrap() {
        let r = r.unwrap();
        let i: usize = r.call_id[1..].parse().unwrap();
        got[i] = Some(fate(&r));
    }
    let got: Vec<Fate> = got.into_iter().map(Option::unwrap).collect();
    assert_eq!(got, want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_small_trace_matches_the_model(
        servers in 1usize..5,
        calls in prop::collection::vec(
            (0u64..20, 1u64..120, prop::option::weighted(0.8, 0u64..60)),
            1..120,
        ),
    ) {
        let mut t = 0;
        let calls: Vec<(u64, u64, Option<u64>)> = calls
            .into_iter()
            .map(|(gap, talk, p)| {
                t += gap * 1000;
                (t, talk * 1000, p.map(|p| p * 1000))
            })
            .collect();
        prop_assert_eq!(replayed(servers, &calls), fifo(servers, &calls));
    }
}
