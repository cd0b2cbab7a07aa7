//! The driver against scripted daemon answers: acks, refusals, commands, connections.

use super::*;
use vaxel_proto::decode_platform;

const T0: u64 = 1_772_438_400_000;

fn settings(connections: usize) -> Settings {
    Settings {
        connections,
        pacing: Pacing::Max,
        window: 100,
        max_lag_ms: Some(5_000),
        event_clock: true,
        tick_ms: 0,
        drain_ms: 0,
        live_wrapup_ms: 0,
        strict: false,
        keep_lines: false,
    }
}

fn call(id: &str, at: u64, patience_ms: Option<u64>) -> TraceCall {
    TraceCall {
        call_id: id.to_owned(),
        arrival: Timestamp(at),
        to: "+4610100".to_owned(),
        from: "+4670".to_owned(),
        digits: String::new(),
        patience_ms,
        talk_ms: 60_000,
        wrapup_ms: Some(5_000),
        case_type: Some("order".to_owned()),
        resolved: Some(true),
        accept_callback: false,
    }
}

type Trace = std::vec::IntoIter<Result<TraceCall, SimError>>;

fn driver(s: Settings, calls: Vec<TraceCall>, roster: &[Shift]) -> Driver<Trace> {
    let trace: Vec<Result<TraceCall, SimError>> = calls.into_iter().map(Ok).collect();
    Driver::new(s, trace.into_iter(), roster).unwrap()
}

fn shift(agent: &str, start: u64, end: u64) -> Shift {
    Shift {
        agent: agent.to_owned(),
        start: Timestamp(start),
        end: Timestamp(end),
    }
}

/// Pumps and decodes what was written, per connection.
fn pump(d: &mut Driver<Trace>) -> (Wait, Vec<Vec<PlatformMessage>>) {
    let mut bufs: Vec<BytesMut> = (0..d.conns.len()).map(|_| BytesMut::new()).collect();
    let wait = d.pump(Instant::now(), &mut bufs).unwrap();
    (wait, bufs.iter().map(|b| decode(b)).collect())
}

/// The lines written into a connection's buffer.
fn decode(b: &[u8]) -> Vec<PlatformMessage> {
    b.split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| decode_platform(l).unwrap())
        .collect()
}

fn ok(d: &mut Driver<Trace>, conn: usize, seq: u64) {
    d.on_message(conn, Instant::now(), ServerMessage::Ok { seq });
}

fn refuse(d: &mut Driver<Trace>, seq: u64, code: ErrorCode) {
    let msg = ServerMessage::Error {
        seq: Some(seq),
        line: None,
        code,
        message: "no".into(),
    };
    d.on_message(0, Instant::now(), msg);
}

fn cmd(d: &mut Driver<Trace>, c: Command) {
    d.on_message(0, Instant::now(), ServerMessage::Cmd(c));
}

fn connect(call: &str, ring_s: u64) -> Command {
    Command::Connect {
        call: call.into(),
        agent: "a1".into(),
        extension: "1001".into(),
        ring_s,
    }
}

fn kinds(msgs: &[PlatformMessage]) -> Vec<&'static str> {
    msgs.iter().map(|m| m.body.kind()).collect()
}

fn seq_of(msgs: &[PlatformMessage], kind: &str) -> u64 {
    msgs.iter()
        .find(|m| m.body.kind() == kind)
        .and_then(|m| m.seq)
        .unwrap()
}

#[test]
fn a_call_from_arrival_to_hang_up() {
    let mut d = driver(
        settings(1),
        vec![call("c1", T0 + 1_000, Some(30_000))],
        &[shift("a1", T0, T0 + 3_600_000)],
    );
    let (w, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.login", "call.arrived"]);
    assert_eq!(out[0][1].at, Some(Timestamp(T0 + 1_000)));
    // The logout is an hour away: beyond the lag bound while events are unanswered.
    assert_eq!(w, Wait::Answers);
    ok(&mut d, 0, 1);
    cmd(&mut d, connect("c1", 5));
    ok(&mut d, 0, 2);
    // Answered 5 s after the connect was decided (at the arrival), registered at once.
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["call.answered", "call.disposition"]);
    assert_eq!(out[0][0].at, Some(Timestamp(T0 + 6_000)));
    ok(&mut d, 0, 3);
    ok(&mut d, 0, 4);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.wrapup_until", "call.hangup"]);
    assert_eq!(out[0][1].at, Some(Timestamp(T0 + 66_000)));
    match &out[0][0].body {
        Event::Input(Input::AgentWrapupUntil { until, .. }) => {
            assert_eq!(*until, Timestamp(T0 + 71_000));
        }
        other => panic!("{other:?}"),
    }
    ok(&mut d, 0, 5);
    ok(&mut d, 0, 6);
    assert_eq!(d.stats.ended, 1);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.logout"]);
    ok(&mut d, 0, 7);
    let (w, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["tick"], "the final tick");
    assert_eq!(w, Wait::Answers);
    ok(&mut d, 0, 8);
    assert_eq!(pump(&mut d).0, Wait::Done);
    assert!(d.stats.errors.is_empty(), "{:?}", d.stats.errors);
    assert_eq!(d.unfinished(), 0);
    assert_eq!(d.calls_in_progress(), 0);
    assert_eq!(d.ack_latency.summary().count, 8);
    assert_eq!(d.cmd_latency.summary().count, 1);
}

#[test]
fn a_late_answer_is_a_late_refusal_and_patience_still_runs() {
    let mut d = driver(settings(1), vec![call("c1", T0, Some(8_000))], &[]);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["call.arrived"]);
    cmd(&mut d, connect("c1", 5));
    ok(&mut d, 0, 1);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["call.answered", "call.disposition"]);
    // The daemon rang out first.
    refuse(&mut d, 2, ErrorCode::InvalidState);
    refuse(&mut d, 3, ErrorCode::InvalidState);
    assert!(d.stats.errors.is_empty());
    assert_eq!(d.stats.stale.get("invalid_state"), Some(&2));
    // Back in the queue: the caller hangs up when patience runs out.
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["call.hangup"]);
    assert_eq!(out[0][0].at, Some(Timestamp(T0 + 8_000)));
    ok(&mut d, 0, 4);
    assert_eq!(d.stats.ended, 1);
    assert_eq!(d.unfinished(), 0);
}

#[test]
fn strict_counts_late_refusals_as_errors() {
    let mut s = settings(1);
    s.strict = true;
    let mut d = driver(s, vec![call("c1", T0, None)], &[]);
    let _ = pump(&mut d);
    cmd(&mut d, connect("c1", 0));
    ok(&mut d, 0, 1);
    let _ = pump(&mut d);
    refuse(&mut d, 2, ErrorCode::UnknownCall);
    assert_eq!(d.stats.errors.get("unknown_call"), Some(&1));
}

#[test]
fn a_refused_login_becomes_ready() {
    let mut d = driver(settings(1), vec![], &[shift("a1", T0, T0 + 1_000)]);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.login", "agent.logout"]);
    refuse(&mut d, 1, ErrorCode::InvalidState);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.ready"]);
    assert_eq!(d.stats.relogins, 1);
    assert!(d.stats.errors.is_empty());
    // An agent the daemon does not know is an error.
    refuse(&mut d, 2, ErrorCode::UnknownAgent);
    assert_eq!(d.stats.errors.get("unknown_agent"), Some(&1));
}

#[test]
fn callbacks_menus_and_the_daemon_ending_calls() {
    let mut c2 = call("c2", T0, Some(1_000));
    c2.accept_callback = true;
    let mut d = driver(
        settings(1),
        vec![call("c1", T0, Some(1_000)), c2, call("c3", T0, None)],
        &[],
    );
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["call.arrived"; 3]);
    // c1: a menu without digits, then forwarded.
    cmd(
        &mut d,
        Command::Menu {
            call: "c1".into(),
            menu: "main".into(),
            prompt: "p".into(),
            max_digits: 1,
            timeout_s: 5,
        },
    );
    ok(&mut d, 0, 1);
    // c2: queued, offered a callback, accepts.
    cmd(
        &mut d,
        Command::Queue {
            call: "c2".into(),
            group: "g".into(),
            position: 1,
            ewt_s: Some(300),
        },
    );
    cmd(
        &mut d,
        Command::OfferCallback {
            call: "c2".into(),
            prompt: "p".into(),
        },
    );
    ok(&mut d, 0, 2);
    ok(&mut d, 0, 3);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["call.digits", "call.digits"]);
    let digits: Vec<&str> = out[0]
        .iter()
        .map(|m| match &m.body {
            Event::Input(Input::CallDigits { digits, .. }) => digits.as_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(digits, ["", "1"]);
    cmd(
        &mut d,
        Command::Forward {
            call: "c1".into(),
            number: "+46".into(),
        },
    );
    cmd(&mut d, Command::callback_accepted("c2".into()));
    ok(&mut d, 0, 4);
    ok(&mut d, 0, 5);
    assert_eq!(d.stats.ended, 1);
    // c2's patience no longer applies; the callback is dialled and answered at once.
    let (_, out) = pump(&mut d);
    assert!(kinds(&out[0]).iter().all(|k| *k == "tick"), "{out:?}");
    cmd(
        &mut d,
        Command::Dial {
            callback: "c2".into(),
            agent: "a1".into(),
            extension: "1001".into(),
            number: "+4670".into(),
        },
    );
    // c3: the daemon ends it (no service).
    cmd(
        &mut d,
        Command::Hangup {
            call: "c3".into(),
            prompt: None,
        },
    );
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0])[..2], ["callback.result", "call.disposition"]);
    assert_eq!(d.stats.ended, 2);
    // A command for a call this run never announced.
    cmd(&mut d, connect("zz", 1));
    assert_eq!(d.stats.foreign_commands, 1);
}

#[test]
fn a_hang_up_for_a_call_the_daemon_forgot_is_counted() {
    let mut d = driver(settings(1), vec![call("c1", T0, Some(1_000))], &[]);
    let _ = pump(&mut d);
    cmd(
        &mut d,
        Command::Queue {
            call: "c1".into(),
            group: "g".into(),
            position: 1,
            ewt_s: Some(1),
        },
    );
    ok(&mut d, 0, 1);
    let (_, out) = pump(&mut d);
    let seq = seq_of(&out[0], "call.hangup");
    refuse(&mut d, seq, ErrorCode::UnknownCall);
    assert_eq!(d.stats.vanished, 1);
    assert_eq!(d.unfinished(), 1);
    assert_eq!(d.calls_in_progress(), 0);
}

#[test]
fn odd_daemon_output_is_counted_not_fatal() {
    let mut d = driver(settings(1), vec![call("c1", T0, None)], &[]);
    let _ = pump(&mut d);
    ok(&mut d, 0, 99);
    d.on_bad_line(0, "line 3: not JSON");
    d.on_message(
        0,
        Instant::now(),
        ServerMessage::Welcome {
            protocol: 1,
            server: "x".into(),
        },
    );
    assert_eq!(d.stats.errors.get("bad_line"), Some(&1));
    assert_eq!(d.stats.errors.get("unexpected_answer"), Some(&2));
    // seq 99 answered before seq 1: seq 1 never will be.
    assert_eq!(d.stats.errors.get("missing_answer"), Some(&1));
    assert_eq!(d.unacked(), 0);
}

#[test]
fn with_the_event_clock_connections_overlap_only_at_one_time() {
    // Calls whose ids hash to different connections, at different times.
    let mut s = settings(2);
    s.max_lag_ms = None;
    let ids: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    let calls: Vec<TraceCall> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| call(id, T0 + i as u64, None))
        .collect();
    let mut d = driver(s, calls, &[]);
    let (w, out) = pump(&mut d);
    assert_eq!(w, Wait::Answers);
    // Everything written so far is on one connection.
    let used: Vec<usize> = (0..2).filter(|&c| !out[c].is_empty()).collect();
    assert_eq!(used.len(), 1, "{out:?}");
    let conn = used[0];
    let last = out[conn].last().and_then(|m| m.seq).unwrap();
    for seq in 1..=last {
        ok(&mut d, conn, seq);
    }
    let (_, out) = pump(&mut d);
    assert!(out.iter().any(|o| !o.is_empty()));
    assert!(d.stats.errors.is_empty(), "{:?}", d.stats.errors);
}

/// `--reconnect`: a connection made again gets every event the old one had no answer for,
/// in order, with its own `seq`; an answer to one of them is taken as before. One the
/// daemon had applied before the close is refused as done: counted as applied, not as an
/// error or a late refusal, and the caller's hang-up it was still ends the call.
#[test]
fn a_connection_made_again_gets_every_unanswered_event_again() {
    let mut s = settings(1);
    s.keep_lines = true;
    let mut d = driver(
        s,
        vec![call("c1", T0 + 1_000, None)],
        &[shift("a1", T0, T0 + 3_600_000)],
    );
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.login", "call.arrived"]);
    ok(&mut d, 0, 1);
    cmd(&mut d, connect("c1", 0));
    ok(&mut d, 0, 2);
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["call.answered", "call.disposition"]);
    // The connection closes with both unanswered; the new one gets them again.
    let mut buf = BytesMut::from(&b"{\"ev\":\"ack\",\"upto\":1}\n"[..]);
    assert_eq!(d.resume(0, &mut buf), 2);
    assert_eq!(decode(&buf), out[0], "the same lines, and only them");
    // The answer had been applied; the disposition had not.
    refuse(&mut d, 3, ErrorCode::InvalidState);
    ok(&mut d, 0, 4);
    assert_eq!(d.stats.resent, 2);
    assert_eq!(d.stats.resent_applied, 1);
    assert!(d.stats.errors.is_empty(), "{:?}", d.stats.errors);
    assert!(d.stats.stale.is_empty(), "{:?}", d.stats.stale);
    // Talking, as if answered: the talk ends with the wrap-up and the hang-up.
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.wrapup_until", "call.hangup"]);
    ok(&mut d, 0, 5);
    assert_eq!(d.resume(0, &mut buf), 1, "the hang-up, sent again");
    // Applied before the close: the daemon no longer knows the call.
    refuse(&mut d, 6, ErrorCode::UnknownCall);
    assert_eq!(d.stats.resent_applied, 2);
    // The logout, sent again after later events moved the engine's time past it: it was
    // applied, and time going backwards is no fatal error for a line sent again.
    let (_, out) = pump(&mut d);
    assert_eq!(kinds(&out[0]), ["agent.logout"]);
    assert_eq!(d.resume(0, &mut buf), 1);
    refuse(&mut d, 7, ErrorCode::TimeWentBackwards);
    assert_eq!(d.stats.resent_applied, 3);
    assert_eq!(d.take_fatal(), None);
    assert_eq!(d.stats.ended, 1);
    assert_eq!(d.stats.vanished, 0);
    assert!(d.stats.errors.is_empty(), "{:?}", d.stats.errors);
}

/// Without `--reconnect` no line is kept (the common case pays nothing for it), and the
/// same refusal of a line sent once is what it always was: a late refusal.
#[test]
fn lines_are_kept_only_for_a_reconnect() {
    let mut d = driver(settings(1), vec![call("c1", T0, None)], &[]);
    let _ = pump(&mut d);
    assert!(d.conns[0].pending.iter().all(|p| p.text.is_none()));
    cmd(&mut d, connect("c1", 0));
    ok(&mut d, 0, 1);
    let _ = pump(&mut d);
    refuse(&mut d, 2, ErrorCode::InvalidState);
    assert_eq!(d.stats.resent_applied, 0);
    assert_eq!(d.stats.stale.get("invalid_state"), Some(&1));
}
