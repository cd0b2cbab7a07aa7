//! The world alone: commands in, timed inputs out, no engine.

use super::*;
use std::sync::Arc;
use vaxel_core::Command;

const T0: u64 = 1_772_438_400_000;

fn call(id: &str, at: u64, patience_ms: Option<u64>) -> ReplayCall {
    ReplayCall {
        id: Arc::from(id),
        arrival: Timestamp(at),
        to: Dialed::Other(Arc::from("+4610100")),
        from: Arc::from("+4670"),
        digits: String::new(),
        patience_ms,
        talk_ms: 60_000,
        wrapup_ms: Some(5_000),
        case_type: Some(Arc::from("order")),
        resolved: Some(true),
        accept_callback: false,
    }
}

fn shift(agent: &str, start: u64, end: u64) -> Shift {
    Shift {
        agent: agent.to_owned(),
        start: Timestamp(start),
        end: Timestamp(end),
    }
}

type Calls = std::vec::IntoIter<Result<ReplayCall, SimError>>;

fn world(calls: Vec<ReplayCall>, roster: &[Shift]) -> World<Calls, ByName> {
    let trace: Vec<Result<ReplayCall, SimError>> = calls.into_iter().map(Ok).collect();
    World::new(trace.into_iter(), roster, Vec::new(), Arc::from("p")).unwrap()
}

/// Carries out the next event and returns its inputs as (time, kind).
fn step(w: &mut World<Calls, ByName>) -> Vec<(u64, &'static str)> {
    let Some(next) = w.peek() else {
        return Vec::new();
    };
    w.pop(next.at).unwrap();
    std::iter::from_fn(|| w.take())
        .map(|a| (a.at.0, a.input.kind()))
        .collect()
}

/// Like [`step`], keeping the acts.
fn step_acts(w: &mut World<Calls, ByName>) -> Vec<Act> {
    let next = w.peek().unwrap();
    w.pop(next.at).unwrap();
    std::iter::from_fn(|| w.take()).collect()
}

fn id(s: &str) -> CallId {
    Arc::from(s)
}

fn connect(call: &str, ring_s: u64) -> Command {
    Command::Connect {
        call: id(call),
        agent: id("a1"),
        extension: id("1001"),
        ring_s,
    }
}

fn queue(call: &str) -> Command {
    Command::Queue {
        call: id(call),
        group: id("g"),
        position: 1,
        ewt_s: None,
    }
}

#[test]
fn a_call_is_answered_registered_talked_wrapped_up_and_hung_up() {
    let mut w = world(
        vec![call("c1", T0 + 1_000, Some(30_000))],
        &[shift("a1", T0, T0 + 3_600_000)],
    );
    assert_eq!(w.start(), Timestamp(T0));
    assert_eq!(step(&mut w), [(T0, "agent.login")]);
    assert_eq!(step(&mut w), [(T0 + 1_000, "call.arrived")]);
    w.command(Timestamp(T0 + 1_000), &connect("c1", 5));
    assert_eq!(w.waiting(), 1);
    assert_eq!(
        step(&mut w),
        [
            (T0 + 6_000, "call.answered"),
            (T0 + 6_000, "call.disposition")
        ]
    );
    let acts = step_acts(&mut w);
    let kinds: Vec<_> = acts.iter().map(|a| a.input.kind()).collect();
    assert_eq!(kinds, ["agent.wrapup_until", "call.hangup"]);
    assert!(
        matches!(acts[0].input, Input::AgentWrapupUntil { until, .. } if until == Timestamp(T0 + 71_000))
    );
    assert_eq!(w.in_progress().get("hanging_up"), Some(&1));
    w.acked(acts[1].about);
    assert_eq!(w.in_flight(), 0);
    assert_eq!(w.stats().ended, 1);
    // Patience (30 s) outlasted the ring (5 s): it was never scheduled.
    assert_eq!(step(&mut w), [(T0 + 3_600_000, "agent.logout")]);
    assert_eq!(w.peek(), None);
}

#[test]
fn patience_runs_from_the_first_queue_and_yields_to_an_answer_at_the_same_time() {
    let mut w = world(
        vec![call("c1", T0, Some(10_000)), call("c2", T0, Some(10_000))],
        &[],
    );
    step(&mut w);
    step(&mut w);
    w.command(Timestamp(T0), &queue("c1"));
    w.command(Timestamp(T0), &queue("c2"));
    // c2 rings at 5 s and is answered at 10 s: the very time its patience runs out.
    w.command(Timestamp(T0 + 5_000), &connect("c2", 5));
    assert_eq!(
        step(&mut w),
        [
            (T0 + 10_000, "call.answered"),
            (T0 + 10_000, "call.disposition")
        ]
    );
    assert_eq!(step(&mut w), [(T0 + 10_000, "call.hangup")]);
    let c1_hangs_up = w.in_progress();
    assert_eq!(c1_hangs_up.get("hanging_up"), Some(&1));
    assert_eq!(c1_hangs_up.get("talking"), Some(&1));
}

#[test]
fn a_refused_answer_puts_the_call_back_and_patience_runs_again() {
    let mut w = world(vec![call("c1", T0, Some(8_000))], &[]);
    step(&mut w);
    w.command(Timestamp(T0), &connect("c1", 5));
    let acts = step_acts(&mut w);
    assert_eq!(acts.len(), 2);
    // Refused in process: what followed the answer is not given either.
    let mut w2 = world(vec![call("c1", T0, Some(8_000))], &[]);
    step(&mut w2);
    w2.command(Timestamp(T0), &connect("c1", 5));
    let next = w2.peek().unwrap();
    w2.pop(next.at).unwrap();
    let answer = w2.take().unwrap();
    assert_eq!(
        w2.refused(answer.at, answer.about, true),
        Refusal::Unanswered
    );
    assert_eq!(w2.take(), None);
    assert_eq!(w2.in_progress().get("queued"), Some(&1));
    assert_eq!(step(&mut w2), [(T0 + 8_000, "call.hangup")]);
    // Over the wire: refused after the disposition was sent.
    assert_eq!(
        w.refused(acts[0].at, acts[0].about, true),
        Refusal::Unanswered
    );
    assert_eq!(step(&mut w), [(T0 + 8_000, "call.hangup")]);
}

#[test]
fn menus_get_no_input_and_accepted_callbacks_end_patience() {
    let mut c2 = call("c2", T0, Some(1_000));
    c2.accept_callback = true;
    let mut w = world(vec![call("c1", T0, None), c2], &[]);
    step(&mut w);
    step(&mut w);
    let menu = Command::Menu {
        call: id("c1"),
        menu: id("main"),
        prompt: id("p"),
        max_digits: 1,
        timeout_s: 5,
    };
    w.command(Timestamp(T0), &menu);
    w.command(Timestamp(T0), &queue("c2"));
    let offer = Command::OfferCallback {
        call: id("c2"),
        prompt: id("p"),
    };
    w.command(Timestamp(T0), &offer);
    // Reactions at once, in the order of their commands.
    w.react(Timestamp(T0));
    let replies: Vec<String> = std::iter::from_fn(|| w.take())
        .map(|a| match a.input {
            Input::CallDigits { digits, .. } => digits,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(replies, ["", "1"]);
    w.command(Timestamp(T0), &Command::callback_accepted(id("c2")));
    // c2's patience (1 s) no longer applies.
    assert_eq!(w.peek(), None);
    let dial = Command::Dial {
        callback: id("c2"),
        agent: id("a1"),
        extension: id("1001"),
        number: id("+4670"),
    };
    w.command(Timestamp(T0 + 60_000), &dial);
    assert_eq!(
        step(&mut w),
        [
            (T0 + 60_000, "callback.result"),
            (T0 + 60_000, "call.disposition")
        ]
    );
    // The engine ends c1: forwarded.
    let forward = Command::Forward {
        call: id("c1"),
        number: id("+46"),
    };
    w.command(Timestamp(T0 + 60_000), &forward);
    assert!(!w.knows(&id("c1")));
    assert_eq!(w.stats().ended, 1);
}

#[test]
fn a_login_refused_while_still_on_becomes_ready_and_a_refused_arrival_never_was() {
    let mut w = world(
        vec![call("c1", T0 + 10, None)],
        &[shift("a1", T0, T0 + 1_000)],
    );
    let login = step_acts(&mut w).remove(0);
    assert_eq!(w.refused(login.at, login.about, true), Refusal::Relogin);
    w.react(login.at);
    assert_eq!(w.take().map(|a| a.input.kind()), Some("agent.ready"));
    let arrival = step_acts(&mut w).remove(0);
    assert_eq!(
        w.refused(arrival.at, arrival.about, false),
        Refusal::Arrival
    );
    assert_eq!(w.in_flight(), 0);
    assert_eq!(w.stats().arrived, 1);
    assert_eq!(w.stats().ended, 0);
    // A record for it (none comes) or a command changes nothing.
    w.command(Timestamp(T0 + 20), &queue("c1"));
    assert_eq!(step(&mut w), [(T0 + 1_000, "agent.logout")]);
}

#[test]
fn popping_the_peeked_event_does_what_pop_does() {
    // Shifts, trace arrivals and scheduled events (patience, dead once a call is
    // connected) interleaved: each step through `pop_peeked` gives the acts `pop` gives.
    let calls = || {
        vec![
            call("c1", T0 + 1_000, Some(20_000)),
            call("c2", T0 + 2_000, Some(5_000)),
            call("c3", T0 + 30_000, Some(4_000)),
        ]
    };
    let roster = [
        shift("a1", T0, T0 + 60_000),
        shift("a2", T0 + 2_000, T0 + 9_000),
    ];
    let (mut by_pop, mut by_peeked) = (world(calls(), &roster), world(calls(), &roster));
    let mut steps = 0;
    while let Some(next) = by_pop.peek() {
        assert_eq!(by_peeked.peek(), Some(next));
        by_pop.pop(next.at).unwrap();
        by_peeked.pop_peeked(next).unwrap();
        let acts: Vec<Act> = std::iter::from_fn(|| by_pop.take()).collect();
        let peeked: Vec<Act> = std::iter::from_fn(|| by_peeked.take()).collect();
        assert_eq!(acts, peeked);
        for w in [&mut by_pop, &mut by_peeked] {
            for a in &acts {
                if let Input::CallArrived { call, .. } = &a.input {
                    w.command(next.at, &queue(call));
                    if &**call == "c1" {
                        w.command(next.at, &connect("c1", 3));
                    }
                }
            }
        }
        steps += 1;
    }
    assert_eq!(by_peeked.peek(), None);
    assert!(steps >= 8, "only {steps} steps");
}

#[test]
fn only_a_command_that_says_so_leaves_a_reaction_to_give() {
    // The replay's driver calls `react` and empties the act queue only after a command
    // that returned true: every other command must leave both with nothing to give.
    let mut c2 = call("c2", T0, Some(1_000));
    c2.accept_callback = true;
    let mut w = world(vec![call("c1", T0, Some(50_000)), c2], &[]);
    step(&mut w);
    step(&mut w);
    let at = Timestamp(T0 + 1_000);
    let menu = Command::Menu {
        call: id("c1"),
        menu: id("main"),
        prompt: id("p"),
        max_digits: 1,
        timeout_s: 5,
    };
    let offer = Command::OfferCallback {
        call: id("c2"),
        prompt: id("p"),
    };
    let play = Command::Play {
        call: id("c1"),
        prompt: id("p"),
        position: Some(1),
        ewt_s: None,
    };
    let dial = Command::Dial {
        callback: id("c2"),
        agent: id("a1"),
        extension: id("1001"),
        number: id("+4670"),
    };
    let hangup = Command::Hangup {
        call: id("c1"),
        prompt: None,
    };
    let commands = [
        (menu, true),
        (queue("c1"), false),
        (play, false),
        (queue("c2"), false),
        (offer, true),
        (Command::callback_accepted(id("c2")), false),
        (connect("c1", 5), false),
        (dial, false),
        (connect("nobody", 5), false),
        (hangup, false),
    ];
    for (cmd, reacts) in commands {
        let kind = cmd.kind();
        assert_eq!(w.command(at, &cmd), reacts, "{kind}");
        assert_eq!(w.take(), None, "{kind} gave an input itself");
        w.react(at);
        let given: Vec<_> = std::iter::from_fn(|| w.take()).collect();
        assert_eq!(given.len(), usize::from(reacts), "{kind}: {given:?}");
    }
    assert!(!w.knows(&id("c1")));
}

#[test]
fn at_one_millisecond_shifts_scheduled_events_and_arrivals_come_in_class_order() {
    // Shifts and the next arrival are keyed once, ahead; the three sources still merge in
    // the order of time, then class (logouts, logins by agent, answers, arrivals,
    // patience), and the event's call is the one `peek_call` names.
    let mut w = world(
        vec![
            call("ca", T0, None),
            call("c0", T0, Some(1_000)),
            call("c1", T0 + 1_000, None),
        ],
        &[
            shift("a1", T0, T0 + 1_000),
            shift("a2", T0 + 1_000, T0 + 2_000),
            shift("a3", T0 + 1_000, T0 + 3_000),
        ],
    );
    assert_eq!(w.roster_end(), Timestamp(T0 + 3_000));
    let mut seen = Vec::new();
    while let Some(next) = w.peek() {
        let about = w.peek_call().map(|c| c.to_string());
        let acts = step_acts(&mut w);
        for a in &acts {
            let who = match &a.input {
                Input::AgentLogin { agent, .. } | Input::AgentLogout { agent } => agent,
                Input::CallArrived { call, .. }
                | Input::CallAnswered { call, .. }
                | Input::CallHangup { call, .. } => call,
                _ => continue,
            };
            seen.push((a.at.0 - T0, a.input.kind(), who.to_string(), about.clone()));
            if let Input::CallArrived { call, .. } = &a.input {
                match &**call {
                    "ca" => w.command(next.at, &connect("ca", 1)),
                    "c0" => w.command(next.at, &queue("c0")),
                    _ => false,
                };
            }
        }
    }
    let call = |c: &str| Some(c.to_owned());
    let expected = [
        (0, "agent.login", "a1", None),
        (0, "call.arrived", "ca", call("ca")),
        (0, "call.arrived", "c0", call("c0")),
        (1_000, "agent.logout", "a1", None),
        (1_000, "agent.login", "a2", None),
        (1_000, "agent.login", "a3", None),
        (1_000, "call.answered", "ca", call("ca")),
        (1_000, "call.arrived", "c1", call("c1")),
        (1_000, "call.hangup", "c0", call("c0")),
        (2_000, "agent.logout", "a2", None),
        (3_000, "agent.logout", "a3", None),
        (60_000 + 1_000, "call.hangup", "ca", call("ca")),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(t, k, who, about)| (t, k, who.to_owned(), about))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn an_ended_call_leaves_the_index_by_its_own_id_and_frees_its_slot() {
    // `World::end` removes the call from the index by the id its slot holds (no copy), then
    // frees the slot: by text and by address alike, with the ids the engine hands back (the
    // world's own strings).
    fn run<X: CallIndex>() {
        let trace: Vec<Result<ReplayCall, SimError>> = vec![
            Ok(call("c1", T0, Some(60_000))),
            Ok(call("c2", T0 + 1, Some(60_000))),
            Ok(call("c3", T0 + 2, None)),
        ];
        let mut w: World<Calls, X> =
            World::new(trace.into_iter(), &[], Vec::new(), Arc::from("p")).unwrap();
        let arrive = |w: &mut World<Calls, X>| {
            let next = w.peek().unwrap();
            w.pop(next.at).unwrap();
            match w.take().map(|a| a.input) {
                Some(Input::CallArrived { call, .. }) => call,
                other => panic!("{other:?}"),
            }
        };
        let (c1, c2) = (arrive(&mut w), arrive(&mut w));
        let at = Timestamp(T0 + 10);
        for c in [&c1, &c2] {
            let queue = Command::Queue {
                call: c.clone(),
                group: id("g"),
                position: 1,
                ewt_s: None,
            };
            w.command(at, &queue);
        }
        assert_eq!((w.in_flight(), w.waiting()), (2, 2));
        w.ended(&c1);
        assert!(!w.knows(&c1) && w.knows(&c2));
        assert_eq!((w.in_flight(), w.waiting(), w.stats().ended), (1, 1, 1));
        let forward = Command::Forward {
            call: c2.clone(),
            number: id("+46"),
        };
        w.command(at, &forward);
        assert!(!w.knows(&c2));
        assert_eq!((w.in_flight(), w.waiting(), w.stats().ended), (0, 0, 2));
        // Ended twice (a record after the forward): nothing more happens.
        w.ended(&c2);
        assert_eq!(w.stats().ended, 2);
        // The next call takes a freed slot.
        let c3 = arrive(&mut w);
        assert!(w.knows(&c3));
        assert_eq!((w.calls.len(), w.in_flight()), (2, 1));
        w.ended(&c3);
        assert_eq!((w.in_flight(), w.stats().ended), (0, 3));
    }
    run::<ByName>();
    run::<ByAddress>();
}

/// `World::command` answers a prompt without looking for its call (the driver's inline
/// path): a `play` changes nothing, be it for a call ringing, for one hung up or for
/// none in flight, and schedules nothing.
#[test]
fn a_prompt_changes_nothing_whatever_its_call() {
    let mut w = world(
        vec![call("c1", T0, Some(50_000)), call("c2", T0, Some(1_000))],
        &[],
    );
    step(&mut w);
    step(&mut w);
    let at = Timestamp(T0 + 500);
    w.command(at, &connect("c1", 5));
    w.command(at, &queue("c2"));
    assert_eq!(step(&mut w), [(T0 + 1_500, "call.hangup")]);
    let before = (w.in_progress(), w.waiting(), w.peek(), w.stats().clone());
    for c in ["c1", "c2", "nobody"] {
        let play = Command::Play {
            call: id(c),
            prompt: id("p"),
            position: None,
            ewt_s: None,
        };
        assert!(!w.command(at, &play), "{c}");
        w.react(at);
        assert_eq!(w.take(), None, "{c}");
    }
    let after = (w.in_progress(), w.waiting(), w.peek(), w.stats().clone());
    assert_eq!(before, after);
    assert!(w.knows(&id("c2")), "a play does not end a call hung up");
}

/// An arrival reads the trace one call further first (`World::arrive_next`): a trace
/// error there stops the world before the caller arrives, whether the driver pops the
/// event it peeked or pops afresh.
#[test]
fn a_trace_error_stops_the_world_before_the_caller_arrives() {
    for peeked in [false, true] {
        let bad = SimError::Header {
            file: "t.csv".to_owned(),
            reason: "bad".to_owned(),
        };
        let trace: Vec<Result<ReplayCall, SimError>> = vec![Ok(call("c1", T0, None)), Err(bad)];
        let mut w: World<Calls, ByName> =
            World::new(trace.into_iter(), &[], Vec::new(), Arc::from("p")).unwrap();
        let next = w.peek().unwrap();
        assert!(next.arrival);
        let r = if peeked {
            w.pop_peeked(next)
        } else {
            w.pop(next.at)
        };
        assert!(matches!(r, Err(SimError::Header { .. })), "{r:?}");
        assert_eq!(w.take(), None);
        assert_eq!((w.stats().arrived, w.in_flight()), (0, 0));
        assert!(!w.knows(&id("c1")));
        // Left as it was: the caller is still the next event.
        assert_eq!(w.peek(), Some(next));
        assert_eq!(w.peek_call(), Some(&id("c1")));
    }
}

/// The trace read one call ahead keys each next arrival in turn, and none once it is done.
#[test]
fn arrivals_come_one_by_one_until_the_trace_is_done() {
    let mut w = world(vec![call("c1", T0, None), call("c2", T0 + 7, None)], &[]);
    assert_eq!(step(&mut w), [(T0, "call.arrived")]);
    assert_eq!(w.peek_call(), Some(&id("c2")));
    assert_eq!(
        w.peek().map(|n| (n.at, n.arrival)),
        Some((Timestamp(T0 + 7), true))
    );
    assert_eq!(step(&mut w), [(T0 + 7, "call.arrived")]);
    assert_eq!(w.peek(), None);
    assert_eq!(w.peek_call(), None);
    assert_eq!((w.stats().arrived, w.in_flight()), (2, 2));
}
