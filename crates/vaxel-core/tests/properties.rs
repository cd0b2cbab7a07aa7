//! Property tests over random interleavings of every input, valid and invalid, with time
//! jumps and time going backwards. Invariants: no panic; a refused input changes nothing;
//! no agent holds two calls; every accepted call ends exactly once with one record;
//! snapshot figures agree with the records; the same inputs give the same outputs.
#![allow(clippy::unwrap_used)]

mod common;

use common::invariants;

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use vaxel_core::site::Site;
use vaxel_core::{Engine, EventKind, Input, Output, Timestamp};

const SITE: &str = r#"
[site]
name = "Prop"
timezone = "Europe/Stockholm"
service_level_s = 20

[callbacks]
attempts = 2
retry_delay_s = 30

[[entries]]
id = "main"
number = "+4685080000"
route = "menu:main"
[[entries]]
id = "jour"
number = "+4685080099"
route = "group:b"
priority = 5

[[menus]]
id = "main"
prompt = "menu-main"
retries = 1
default = "group:a"
[menus.options]
"1" = "group:a"
"2" = "group:b"
"3" = "number:+46850899999"
"*" = "callback"

[[groups]]
id = "a"
requires = { a = 2 }
widen = [ { after_s = 20, min_level = 1 } ]
ring_s = 10
wrapup_s = 5
max_no_answer = 2
callback = { offer_when_ewt_over_s = 200 }
overflow = [
  { when = "wait_over_s", value = 40, to = "group:b", mode = "expand" },
  { when = "queue_over", value = 4, to = "number:+46850899999" },
]
[[groups]]
id = "b"
requires = { b = 1 }
strategy = "random"
ring_s = 5
max_wait_s = 120
on_max_wait = "group:c"
[[groups]]
id = "c"
requires = { c = 1 }
strategy = "fewest-calls"
ring_s = 0
max_wait_s = 300

[[agents]]
id = "a1"
name = "A One"
extension = "1001"
skills = { a = 2, b = 1 }
[[agents]]
id = "a2"
name = "A Two"
extension = "1002"
skills = { a = 1, c = 1 }
[[agents]]
id = "a3"
name = "A Three"
extension = "1003"
skills = { b = 1, c = 1 }
[[agents]]
id = "a4"
name = "A Four"
extension = "1004"
skills = { a = 3 }
"#;

const CALLS: usize = 8;
const AGENTS: [&str; 5] = ["a1", "a2", "a3", "a4", "ghost"];

#[derive(Clone, Debug)]
enum Op {
    Arrive(usize, bool, Option<&'static str>),
    Digits(usize, &'static str),
    AnswerRinging(usize),
    Answer(usize, usize),
    NoAnswerRinging(usize),
    Hangup(usize),
    Transfer(usize, &'static str, i32),
    Park(usize),
    Unpark(usize),
    Requeue(usize, Option<&'static str>),
    Disposition(usize),
    Callback(usize, bool),
    Login(usize),
    Ready(usize),
    Pause(usize, Option<u64>),
    Logout(usize),
    WrapupDone(usize),
    Crisis(bool),
    Tick,
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CALLS;
    let a = 0..AGENTS.len();
    prop_oneof![
        4 => (c.clone(), any::<bool>(), prop::option::of(prop::sample::select(vec!["1", "2", "3", "*", "9", "", "2,1"]))).prop_map(|(c, j, d)| Op::Arrive(c, j, d)),
        2 => (c.clone(), prop::sample::select(vec!["1", "2", "3", "*", "7", ""])).prop_map(|(c, d)| Op::Digits(c, d)),
        4 => c.clone().prop_map(Op::AnswerRinging),
        1 => (c.clone(), a.clone()).prop_map(|(c, a)| Op::Answer(c, a)),
        1 => c.clone().prop_map(Op::NoAnswerRinging),
        3 => c.clone().prop_map(Op::Hangup),
        1 => (c.clone(), prop::sample::select(vec!["group:a", "group:b", "group:c", "agent:a1", "agent:a3", "number:+46850899999", "group:x", "bogus"]), -2..5i32).prop_map(|(c, t, p)| Op::Transfer(c, t, p)),
        1 => c.clone().prop_map(Op::Park),
        1 => c.clone().prop_map(Op::Unpark),
        1 => (c.clone(), prop::option::of(prop::sample::select(vec!["a", "b", "c", "x"]))).prop_map(|(c, g)| Op::Requeue(c, g)),
        1 => c.clone().prop_map(Op::Disposition),
        2 => (c.clone(), any::<bool>()).prop_map(|(c, ok)| Op::Callback(c, ok)),
        3 => a.clone().prop_map(Op::Login),
        1 => a.clone().prop_map(Op::Ready),
        1 => (a.clone(), prop::option::of(1u64..200)).prop_map(|(a, u)| Op::Pause(a, u)),
        1 => a.clone().prop_map(Op::Logout),
        1 => a.clone().prop_map(Op::WrapupDone),
        1 => any::<bool>().prop_map(Op::Crisis),
        1 => Just(Op::Tick),
    ]
}

/// A step: time moves by `dt` ms (negative = an attempt to go back), then `op`.
fn steps() -> impl Strategy<Value = Vec<(i64, Op)>> {
    prop::collection::vec(
        (
            prop_oneof![8 => 0i64..3_000, 2 => 3_000i64..200_000, 1 => -5_000i64..0],
            op(),
        ),
        1..160,
    )
}

struct Run {
    outputs: Vec<Output>,
    /// Accepted arrivals per call id (an id may be reused once its call has ended).
    arrivals: BTreeMap<String, u32>,
}

fn site() -> Arc<Site> {
    common::site(SITE)
}

/// Drives the engine through `steps`, checking the per-step invariants, then ends every
/// call (platform lost, a day passes) and returns everything that came out. `events`: the
/// event log is on (set again after a restore, as its owner does).
fn run(site: &Arc<Site>, steps: &[(i64, Op)], checkpoint_at: Option<usize>, events: bool) -> Run {
    let base = Timestamp(1_772_434_800_000); // Monday 2026-03-02 08:00 Stockholm
    let mut e = Engine::new(site.clone(), base);
    e.set_events(events);
    let mut now = base;
    let mut outputs = Vec::new();
    let mut arrivals: BTreeMap<String, u32> = BTreeMap::new();
    let mut ringing: BTreeMap<String, String> = BTreeMap::new();
    let call = |i: usize| -> Arc<str> { format!("c{i}").into() };
    for (i, (dt, op)) in steps.iter().enumerate() {
        if checkpoint_at == Some(i) {
            // Saved, written out, read back and restored: the engine goes on unchanged. An
            // older engine also saved its index of calls by id and each agent's free-set
            // keys; a checkpoint of its is restored just the same (both are derived now).
            let mut json = serde_json::to_value(e.save()).unwrap();
            json["by_id"] = serde_json::json!({ "c0": 0 });
            for agent in json["agents"].as_array_mut().unwrap() {
                agent["idle_keys"] = serde_json::json!([]);
            }
            let json = serde_json::to_string(&json).unwrap();
            e = Engine::restore(site.clone(), serde_json::from_str(&json).unwrap()).unwrap();
            e.set_events(events);
        }
        let at = Timestamp((now.0 as i64 + dt).max(0) as u64);
        // Fire due timers first, so that a refused input is compared against this state.
        if at >= now {
            e.handle_timeout(at).unwrap();
            now = at;
            collect(&mut e, &mut outputs, &mut ringing);
        }
        let ring = |c: usize| {
            ringing
                .get(&format!("c{c}"))
                .cloned()
                .unwrap_or_else(|| "a1".into())
        };
        let input = match op.clone() {
            Op::Arrive(c, jour, digits) => Input::CallArrived {
                call: call(c),
                platform: "pbx".into(),
                to: if jour {
                    "+4685080099".into()
                } else {
                    "+4685080000".into()
                },
                from: "+46701234567".into(),
                digits: digits.map(str::to_owned),
                lang: None,
            },
            Op::Digits(c, d) => Input::CallDigits {
                call: call(c),
                digits: d.into(),
            },
            Op::AnswerRinging(c) => Input::CallAnswered {
                call: call(c),
                agent: ring(c).into(),
            },
            Op::Answer(c, a) => Input::CallAnswered {
                call: call(c),
                agent: AGENTS[a].into(),
            },
            Op::NoAnswerRinging(c) => Input::CallNoAnswer {
                call: call(c),
                agent: ring(c).into(),
            },
            Op::Hangup(c) => Input::CallHangup {
                call: call(c),
                reason: None,
            },
            Op::Transfer(c, to, p) => Input::CallTransfer {
                call: call(c),
                agent: ring(c).into(),
                to: to.into(),
                priority: Some(p),
            },
            Op::Park(c) => Input::CallPark {
                call: call(c),
                agent: ring(c).into(),
            },
            Op::Unpark(c) => Input::CallUnpark {
                call: call(c),
                agent: ring(c).into(),
            },
            Op::Requeue(c, g) => Input::CallRequeue {
                call: call(c),
                agent: ring(c).into(),
                group: g.map(Into::into),
                priority: Some(1),
            },
            Op::Disposition(c) => Input::CallDisposition {
                call: call(c),
                agent: ring(c).into(),
                case_type: "x".into(),
                resolved: true,
            },
            Op::Callback(c, ok) => Input::CallbackResult {
                callback: call(c),
                connected: ok,
            },
            Op::Login(a) => Input::AgentLogin {
                agent: AGENTS[a].into(),
                extension: None,
            },
            Op::Ready(a) => Input::AgentReady {
                agent: AGENTS[a].into(),
            },
            Op::Pause(a, u) => Input::AgentPause {
                agent: AGENTS[a].into(),
                reason: Some("lunch".into()),
                note: None,
                until: u.map(|s| at.plus_ms(s * 1000)),
            },
            Op::Logout(a) => Input::AgentLogout {
                agent: AGENTS[a].into(),
            },
            Op::WrapupDone(a) => Input::AgentWrapupDone {
                agent: AGENTS[a].into(),
            },
            Op::Crisis(on) => Input::Crisis {
                on,
                prompt: Some("crisis".into()),
                route: None,
            },
            Op::Tick => Input::Tick,
        };
        let _ = invariants::handle(&mut e, at, input, &mut arrivals);
        now = now.max(at);
        collect(&mut e, &mut outputs, &mut ringing);
        invariants::check_step(&e, &outputs, &arrivals);
    }
    // End everything: the platform is lost, a day passes.
    invariants::end_everything(&mut e, now, ["pbx"], &mut outputs, &arrivals);
    let snap = e.snapshot();
    // Snapshot figures agree with the records (the run stays within one local day).
    let answered_today: u32 = snap.groups.iter().map(|g| g.today.answered).sum();
    let answered_records = outputs
        .iter()
        .filter(|o| matches!(o, Output::Record(r) if r.answered.is_some()))
        .count() as u32;
    assert_eq!(
        answered_today, answered_records,
        "answered in snapshot vs records"
    );
    for g in &snap.groups {
        let a = &g.agents;
        assert_eq!(g.waiting, 0);
        assert!(g.today.answered <= g.today.offered, "{g:?}");
        assert!(g.today.answered_within_sl <= g.today.answered, "{g:?}");
        assert_eq!(a.ringing + a.talking, 0, "{g:?}");
    }
    Run { outputs, arrivals }
}

fn collect(e: &mut Engine, outputs: &mut Vec<Output>, ringing: &mut BTreeMap<String, String>) {
    while let Some(o) = e.poll_output() {
        if let Output::Command { command, .. } = &o {
            match command {
                vaxel_core::Command::Connect { call, agent, .. } => {
                    ringing.insert(call.to_string(), agent.to_string());
                }
                vaxel_core::Command::Dial {
                    callback, agent, ..
                } => {
                    ringing.insert(callback.to_string(), agent.to_string());
                }
                _ => {}
            }
        }
        outputs.push(o);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_call_ends_once_and_nothing_is_lost(steps in steps()) {
        let site = site();
        let r = run(&site, &steps, None, false);
        // Every accepted call ended exactly once: one record per arrival.
        prop_assert_eq!(invariants::records_per_id(&r.outputs), r.arrivals);
    }

    #[test]
    fn same_inputs_same_outputs(steps in steps()) {
        let site = site();
        let a = run(&site, &steps, None, false);
        let b = run(&site, &steps, None, false);
        prop_assert_eq!(format!("{:?}", a.outputs), format!("{:?}", b.outputs));
    }

    #[test]
    fn the_event_log_changes_no_other_output_and_tells_every_end(steps in steps()) {
        let site = site();
        let off = run(&site, &steps, None, false);
        let on = run(&site, &steps, None, true);
        let (events, rest): (Vec<Output>, Vec<Output>) = on
            .outputs
            .into_iter()
            .partition(|o| matches!(o, Output::Event(_)));
        prop_assert_eq!(format!("{:?}", off.outputs), format!("{:?}", rest));
        // One `ended` per record, for the same calls, before the record.
        let mut ended: BTreeMap<String, u32> = BTreeMap::new();
        // Logins and logouts alternate per agent, from logged out.
        let mut logged: BTreeMap<String, bool> = BTreeMap::new();
        for o in &events {
            let Output::Event(e) = o else { continue };
            match &e.kind {
                EventKind::Ended { .. } => {
                    *ended.entry(e.call.as_deref().unwrap_or("").to_owned()).or_default() += 1;
                }
                EventKind::Login | EventKind::Logout => {
                    let agent = e.agent.as_deref().unwrap_or("").to_owned();
                    let was = logged.insert(agent, matches!(e.kind, EventKind::Login));
                    prop_assert_eq!(was.unwrap_or(false), !matches!(e.kind, EventKind::Login));
                }
                _ => {}
            }
        }
        prop_assert_eq!(ended, invariants::records_per_id(&off.outputs));
    }

    #[test]
    fn a_restored_checkpoint_goes_on_exactly_as_the_original(steps in steps(), at in 0usize..160) {
        let site = site();
        // With the event log on: the log goes on across a restore as well.
        let a = run(&site, &steps, None, true);
        let b = run(&site, &steps, Some(at % steps.len()), true);
        prop_assert_eq!(format!("{:?}", a.outputs), format!("{:?}", b.outputs));
    }
}

#[test]
fn a_state_from_another_configuration_is_refused() {
    let e = Engine::new(site(), Timestamp(0));
    let other = common::site(&SITE.replace("skills = { a = 3 }", "skills = { a = 1, c = 2 }"));
    let err = Engine::restore(other, e.save()).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
}
