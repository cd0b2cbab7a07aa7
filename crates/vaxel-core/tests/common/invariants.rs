//! The engine's invariants, checked by the property tests after every random step and by
//! the scenario harness after every script line and at the end of every scenario: a
//! refused input changes nothing; no agent holds two calls; every accepted call ends
//! exactly once, with one record.

use std::collections::BTreeMap;
use vaxel_core::snapshot::AgentState;
use vaxel_core::{Engine, EngineError, Input, Output, Timestamp};

/// Accepted `call.arrived`s per call id.
pub type Arrivals = BTreeMap<String, u32>;

/// `engine.handle(at, input)`, checking that a refusal changes nothing and emits nothing,
/// and counting accepted arrivals. Due timers should have fired before (`handle_timeout`),
/// so that the state compared is the one the input met.
pub fn handle(
    e: &mut Engine,
    at: Timestamp,
    input: Input,
    arrivals: &mut Arrivals,
) -> Result<(), EngineError> {
    let before = format!("{:?}", e.snapshot());
    let arrival = match &input {
        Input::CallArrived { call, .. } => Some(call.to_string()),
        _ => None,
    };
    let r = e.handle(at, input);
    match &r {
        Ok(()) => {
            if let Some(id) = arrival {
                *arrivals.entry(id).or_default() += 1;
            }
        }
        Err(err) => {
            assert_eq!(
                before,
                format!("{:?}", e.snapshot()),
                "refused input ({err}) changed the state"
            );
            assert_eq!(
                e.pending_outputs(),
                0,
                "refused input ({err}) produced output"
            );
        }
    }
    r
}

/// Records per call id.
pub fn records_per_id(outputs: &[Output]) -> BTreeMap<String, u32> {
    let mut ended = BTreeMap::new();
    for o in outputs {
        if let Output::Record(rec) = o {
            *ended.entry(rec.call_id.to_string()).or_insert(0u32) += 1;
        }
    }
    ended
}

/// After any step: the agents are consistent, at most one call per id is live, and no
/// record is without an arrival.
pub fn check_step(e: &Engine, outputs: &[Output], arrivals: &Arrivals) {
    check_agents(e);
    for (id, n) in &records_per_id(outputs) {
        let a = arrivals.get(id).copied().unwrap_or(0);
        assert!(
            *n <= a && a <= n + 1,
            "call {id}: {a} arrivals, {n} records"
        );
    }
}

/// Ends every call (each of `platforms` is lost, then half a day passes) and checks that
/// nothing is left and every accepted call has exactly one record. The outputs of the
/// end are appended to `outputs`.
pub fn end_everything<'p>(
    e: &mut Engine,
    now: Timestamp,
    platforms: impl IntoIterator<Item = &'p str>,
    outputs: &mut Vec<Output>,
    arrivals: &Arrivals,
) {
    for platform in platforms {
        e.handle(
            now,
            Input::PlatformLost {
                platform: platform.into(),
            },
        )
        .unwrap();
    }
    e.handle_timeout(now.plus_ms(86_400_000 / 2)).unwrap();
    while let Some(o) = e.poll_output() {
        outputs.push(o);
    }
    check_agents(e);
    let snap = e.snapshot();
    assert_eq!(
        snap.calls_in_progress, 0,
        "calls left after the end: {:?}",
        snap.calls
    );
    assert_eq!(
        &records_per_id(outputs),
        arrivals,
        "every accepted call ends with exactly one record"
    );
}

/// No agent holds two calls, no call is with two agents, and per-group agent counts add
/// up to the group's members.
pub fn check_agents(e: &Engine) {
    let snap = e.snapshot();
    let mut holders: BTreeMap<String, String> = BTreeMap::new();
    for a in &snap.agents {
        if let Some(c) = &a.call
            && let Some(other) = holders.insert(c.to_string(), a.id.to_string())
        {
            panic!("call {c} held by {other} and {}", a.id);
        }
        let busy = matches!(a.state, AgentState::Ringing | AgentState::Talking);
        assert!(
            !busy || a.call.is_some(),
            "agent {} is {:?} without a call",
            a.id,
            a.state
        );
    }
    for g in &snap.groups {
        let members = snap
            .agents
            .iter()
            .filter(|a| a.groups.contains(&g.id))
            .count() as u32;
        let c = &g.agents;
        assert_eq!(
            c.ready + c.ringing + c.talking + c.wrapup + c.paused + c.logged_out,
            members,
            "{}",
            g.id
        );
    }
}
