//! A single first-come-first-served group with identical agents, `ring_s = 0` and no
//! wrap-up, checked against an independent model of the textbook FIFO multi-server queue:
//! each caller is served by the first server to come free, at `max(arrival, free)`.
#![allow(clippy::unwrap_used)]

mod common;

use proptest::prelude::*;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use vaxel_core::{Command, Engine, Input, Output, Timestamp};

fn site(agents: usize) -> std::sync::Arc<vaxel_core::site::Site> {
    let mut s = String::from(
        "[site]\nname = \"Fifo\"\ntimezone = \"UTC\"\n\n[[entries]]\nid = \"e\"\nnumber = \"+4685080000\"\nroute = \"group:g\"\n\n[[groups]]\nid = \"g\"\nrequires = { g = 1 }\nring_s = 0\nwrapup_s = 0\n",
    );
    for i in 0..agents {
        s.push_str(&format!("\n[[agents]]\nid = \"a{i}\"\nname = \"Agent {i}\"\nextension = \"{}\"\nskills = {{ g = 1 }}\n", 1000 + i));
    }
    common::site(&s)
}

/// Waits (ms) of the textbook FIFO queue with `servers` identical servers.
fn model(servers: usize, calls: &[(u64, u64)]) -> Vec<u64> {
    let mut free: BinaryHeap<Reverse<u64>> = (0..servers).map(|_| Reverse(0)).collect();
    calls
        .iter()
        .map(|&(arrival, talk)| {
            let Reverse(f) = free.pop().unwrap();
            let start = f.max(arrival);
            free.push(Reverse(start + talk));
            start - arrival
        })
        .collect()
}

/// Waits (ms) the engine gives, answering at once and hanging up after the talk time.
fn engine(servers: usize, calls: &[(u64, u64)]) -> Vec<u64> {
    let base = Timestamp(1_000_000);
    let mut e = Engine::new(site(servers), base);
    for i in 0..servers {
        e.handle(
            base,
            Input::AgentLogin {
                agent: format!("a{i}").into(),
                extension: None,
            },
        )
        .unwrap();
    }
    // Pending hang-ups by time, in the order they were scheduled.
    let mut hangups: BTreeMap<(u64, usize), usize> = BTreeMap::new();
    let mut waits = vec![u64::MAX; calls.len()];
    let mut seq = 0;
    let mut next = 0;
    loop {
        let next_arrival = calls.get(next).map(|c| base.0 + c.0);
        let next_hangup = hangups.keys().next().map(|k| k.0);
        // Hang-ups (agents becoming free) before arrivals at the same millisecond.
        let (at, input) = match (next_hangup, next_arrival) {
            (Some(h), Some(a)) if h <= a => hangup(&mut hangups),
            (Some(_), None) => hangup(&mut hangups),
            (_, Some(a)) => {
                next += 1;
                (
                    a,
                    Input::CallArrived {
                        call: format!("c{}", next - 1).into(),
                        platform: "p".into(),
                        to: "+4685080000".into(),
                        from: "+46701234567".into(),
                        digits: None,
                        lang: None,
                    },
                )
            }
            (None, None) => break,
        };
        e.handle(Timestamp(at), input).unwrap();
        while let Some(o) = e.poll_output() {
            match o {
                Output::Command {
                    command: Command::Connect { call, agent, .. },
                    ..
                } => {
                    e.handle(
                        Timestamp(at),
                        Input::CallAnswered {
                            call: call.clone(),
                            agent,
                        },
                    )
                    .unwrap();
                    let i: usize = call[1..].parse().unwrap();
                    seq += 1;
                    hangups.insert((at + calls[i].1, seq), i);
                }
                Output::Record(r) => {
                    let i: usize = r.call_id[1..].parse().unwrap();
                    waits[i] = r.wait_ms;
                }
                _ => {}
            }
        }
    }
    waits
}

fn hangup(hangups: &mut BTreeMap<(u64, usize), usize>) -> (u64, Input) {
    let ((at, _), i) = hangups.pop_first().unwrap();
    (
        at,
        Input::CallHangup {
            call: format!("c{i}").into(),
            reason: None,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn fifo_group_matches_the_textbook_queue(
        servers in 1usize..6,
        gaps_talks in prop::collection::vec((0u64..90_000, 1u64..400_000), 1..300),
    ) {
        let mut t = 0;
        let calls: Vec<(u64, u64)> = gaps_talks.iter().map(|&(gap, talk)| { t += gap; (t, talk) }).collect();
        prop_assert_eq!(engine(servers, &calls), model(servers, &calls));
    }
}
