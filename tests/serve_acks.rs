//! Protocol version 2 over real TCP (docs/protocol.md "Version 2"): numbered commands,
//! acknowledgements, a `hello` that resumes after the last command processed, across a
//! half-open connection and across a `kill -9` of the daemon; bad resume numbers; the
//! bound on unacknowledged commands; version 1 sessions unchanged (issue 12, defect 1).
//! The daemon runs in process but for the `kill -9` and the test that reads its log.

mod serve_support;

use serve_support::{
    Client, Daemon, InProcess, SITE, site_and_data, temp_dir, wait_records, write_site,
};
use std::net::SocketAddr;

const WELCOME_V1: &str = r#"{"cmd":"welcome","protocol":1,"server":"vaxel/0.1.0"}"#;

fn welcome_v2(last_cmd: u64) -> String {
    format!(r#"{{"cmd":"welcome","protocol":2,"server":"vaxel/0.1.0","last_cmd":{last_cmd}}}"#)
}

/// A version 2 `hello` as `pbx`, resuming after `last_cmd` when given; expects `welcome`
/// resuming after `resumed`.
fn hello_v2(tcp: SocketAddr, last_cmd: Option<u64>, resumed: u64) -> Client {
    let mut c = Client::connect(tcp);
    let resume = last_cmd.map_or_else(String::new, |n| format!(r#","last_cmd":{n}"#));
    c.send(&format!(
        r#"{{"ev":"hello","platform":"pbx","protocol":2{resume}}}"#
    ));
    c.expect(&welcome_v2(resumed));
    c
}

fn connect(no: u64, call: &str, agent: &str, ext: &str) -> String {
    format!(
        r#"{{"cmd":"connect","cmd_no":{no},"call":"{call}","agent":"{agent}","extension":"{ext}","ring_s":20}}"#
    )
}

fn arrived(call: &str, at: u64, seq: u64) -> String {
    format!(
        r#"{{"ev":"call.arrived","call":"{call}","to":"+4610100","from":"+46701","at":{at},"seq":{seq}}}"#
    )
}

/// The half-open case of issue 12: the platform sends events, the daemon writes their
/// commands, the platform "crashes" without reading them and without closing; a new
/// connection says `hello` with the last command it processed and gets exactly the
/// missing ones, once, in order, before anything new. (Version 1 lost them: the command
/// went into the dead socket.)
#[test]
fn a_half_open_connection_loses_no_command() {
    let (site, data) = site_and_data("acks-half-open");
    let d = InProcess::start(&site, &data);
    let mut old = hello_v2(d.tcp, None, 0);
    old.two_agents_in();
    old.call(
        &arrived("c1", 2000, 3),
        &[&connect(1, "c1", "a1", "1001"), r#"{"cmd":"ok","seq":3}"#],
    );
    old.send(r#"{"ev":"ack","upto":1}"#);
    // The platform's last events; it dies before reading what they caused.
    old.send(&arrived("c2", 3000, 4));
    old.send(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":3500,"seq":5}"#);
    old.send(r#"{"ev":"call.hangup","call":"c1","at":4000,"seq":6}"#);
    old.send(&arrived("c3", 5000, 7));
    // Its successor: the old socket is neither read nor closed (half-open).
    let mut new = d.connect();
    // The events above are applied (and their commands written to the old socket) before
    // the new `hello`: a v2 probe on the old connection would need reading it; instead
    // the new connection waits for the records of their effects.
    d.wait_metric("vaxel_calls_in_progress 2");
    new.send(r#"{"ev":"hello","seq":1,"platform":"pbx","protocol":2,"last_cmd":1}"#);
    new.expect(&welcome_v2(1));
    new.expect(&connect(2, "c2", "a2", "1002"));
    new.expect(&connect(3, "c3", "a1", "1001"));
    // Nothing more was owed: the next line answers the next event, with new numbers.
    new.call(
        r#"{"ev":"ack","seq":2,"upto":3}"#,
        &[r#"{"cmd":"ok","seq":2}"#],
    );
    new.acked(r#"{"ev":"call.hangup","call":"c2","at":6000,"seq":3}"#);
    new.call(
        &arrived("c4", 7000, 4),
        &[&connect(4, "c4", "a2", "1002"), r#"{"cmd":"ok","seq":4}"#],
    );
    // The old connection was closed at the new `hello`.
    let mut rest = 0;
    while old.recv().is_some() {
        rest += 1;
    }
    assert!(rest <= 6, "the old connection still got {rest} lines");
}

/// Commands not acknowledged before a `kill -9` are sent again after the restart: the
/// numbers and the kept commands are re-derived from the journal, the acknowledged
/// position comes from its `ack` entries.
#[test]
fn commands_not_acknowledged_before_a_kill_9_are_sent_again() {
    let (site, data) = site_and_data("acks-kill9");
    let d = Daemon::start(&site, &data, &[]);
    let mut c = hello_v2(d.tcp, None, 0);
    c.two_agents_in();
    c.call(
        &arrived("c1", 2000, 3),
        &[&connect(1, "c1", "a1", "1001"), r#"{"cmd":"ok","seq":3}"#],
    );
    c.call(
        &arrived("c2", 3000, 4),
        &[&connect(2, "c2", "a2", "1002"), r#"{"cmd":"ok","seq":4}"#],
    );
    // Acknowledged with an answer, so durable before the kill.
    c.call(
        r#"{"ev":"ack","seq":5,"upto":1}"#,
        &[r#"{"cmd":"ok","seq":5}"#],
    );
    d.kill9();

    let d = Daemon::start(&site, &data, &[]);
    // Nothing kept before what was acknowledged.
    let mut gone = d.connect();
    gone.send(r#"{"ev":"hello","seq":1,"platform":"pbx","protocol":2,"last_cmd":0}"#);
    let e = gone.expect_error("resume_gone");
    assert!(e.contains(r#""seq":1"#), "{e}");
    gone.expect_closed();
    // Resuming after 1: command 2 again, then new numbers.
    let mut c = hello_v2(d.tcp, Some(1), 1);
    c.expect(&connect(2, "c2", "a2", "1002"));
    c.acked(r#"{"ev":"call.hangup","call":"c1","at":4000,"seq":6}"#);
    c.call(
        &arrived("c3", 5000, 7),
        &[&connect(3, "c3", "a1", "1001"), r#"{"cmd":"ok","seq":7}"#],
    );
    drop(c);
    // Without `last_cmd`: after the last one acknowledged (1), so 2 and 3 again.
    let mut c = hello_v2(d.tcp, None, 1);
    c.expect(&connect(2, "c2", "a2", "1002"));
    c.expect(&connect(3, "c3", "a1", "1001"));
    c.call(
        r#"{"ev":"ack","seq":8,"upto":3}"#,
        &[r#"{"cmd":"ok","seq":8}"#],
    );
}

/// A `hello` claiming a command never sent, or one no longer kept, and an `ack` past the
/// last command: clear errors; the session is refused and closed at `hello`.
#[test]
fn bad_resume_numbers_are_refused() {
    let (site, data) = site_and_data("acks-bad");
    let d = InProcess::start(&site, &data);
    let mut c = d.connect();
    c.send(r#"{"ev":"hello","seq":7,"platform":"pbx","protocol":2,"last_cmd":5}"#);
    assert_eq!(
        c.recv().as_deref(),
        Some(
            r#"{"cmd":"error","seq":7,"code":"bad_field","message":"bad field `last_cmd`: 5 is past the last command sent to this platform (0)"}"#
        )
    );
    c.expect_closed();

    let mut c = hello_v2(d.tcp, None, 0);
    c.two_agents_in();
    c.call(
        &arrived("c1", 2000, 3),
        &[&connect(1, "c1", "a1", "1001"), r#"{"cmd":"ok","seq":3}"#],
    );
    c.send(r#"{"ev":"ack","seq":4,"upto":2}"#);
    let e = c.expect_error("bad_field");
    assert!(e.contains("`upto`: 2 is past the last command sent"), "{e}");
    c.call(
        r#"{"ev":"ack","seq":5,"upto":1}"#,
        &[r#"{"cmd":"ok","seq":5}"#],
    );
    // An acknowledgement is no hello.
    c.send(r#"{"ev":"ack","upto":"x"}"#);
    c.expect_error("bad_field");
    drop(c);
    let mut c = d.connect();
    c.send(r#"{"ev":"hello","platform":"pbx","protocol":2,"last_cmd":0}"#);
    let e = c.expect_error("resume_gone");
    assert!(
        e.contains("say `hello` without `last_cmd` to start after 1"),
        "{e}"
    );
    c.expect_closed();
    hello_v2(d.tcp, None, 1);
}

/// Version 1 sessions are as before: `welcome` says 1, commands carry no number, an
/// `ack` is refused, and a version 1 platform can follow a version 2 one.
#[test]
fn version_1_sessions_are_unchanged() {
    let (site, data) = site_and_data("acks-v1");
    let d = InProcess::start(&site, &data);
    let mut c = d.platform("pbx");
    c.one_answered_call("+46701");
    c.send(r#"{"ev":"ack","seq":5,"upto":1}"#);
    let e = c.expect_error("invalid_state");
    assert!(e.contains("`ack` needs protocol version 2"), "{e}");
    drop(c);
    // Version 2 after it: numbering went on all along (1 command so far).
    let mut c = hello_v2(d.tcp, None, 1);
    c.acked(r#"{"ev":"agent.login","agent":"a2","at":5000,"seq":1}"#);
    c.call(
        &arrived("c2", 6000, 2),
        &[&connect(2, "c2", "a1", "1001"), r#"{"cmd":"ok","seq":2}"#],
    );
    drop(c);
    // And version 1 again: no number, nothing kept or re-sent.
    let mut c = d.connect();
    c.send(r#"{"ev":"hello","platform":"pbx","protocol":1}"#);
    c.expect(WELCOME_V1);
    c.call(
        &arrived("c3", 8000, 3),
        &[
            r#"{"cmd":"connect","call":"c3","agent":"a2","extension":"1002","ring_s":20}"#,
            r#"{"cmd":"ok","seq":3}"#,
        ],
    );
}

/// A version 2 platform that never acknowledges costs at most `[platform]
/// unacked_bytes`: past it the platform is lost (its calls end `platform_lost`, its
/// connection is closed), counted and logged.
#[test]
fn unacknowledged_commands_are_bounded() {
    let dir = temp_dir("acks-bound");
    let site = write_site(
        &dir,
        &SITE.replace("grace_s = 1\n", "grace_s = 1\nunacked_bytes = 65536\n"),
    );
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut c = hello_v2(d.tcp, None, 0);
    // Nobody logged in: every call is queued (one command each).
    let mut sent = 0u64;
    let mut closed = false;
    for i in 1..=2000u64 {
        c.send(&arrived(&format!("q{i}"), 1000 + i, i));
        sent = i;
        // Read its answer (a queue command and an ok), or the close.
        let mut answered = false;
        while let Some(l) = c.recv() {
            if l == format!(r#"{{"cmd":"ok","seq":{i}}}"#) {
                answered = true;
                break;
            }
            assert!(
                l.starts_with(r#"{"cmd":"queue","cmd_no":"#),
                "unexpected line {l}"
            );
        }
        if !answered {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "still connected after {sent} unacknowledged commands"
    );
    assert!(sent < 2000);
    let recs = wait_records(&dir.join("data"), |r| !r.is_empty());
    assert!(
        recs.iter().all(|(_, outcome)| outcome == "platform_lost"),
        "{recs:?}"
    );
    let m = serve_support::http_get_all(d.http, "/metrics");
    assert!(
        m.contains(r#"vaxel_platform_events_total{type="unacked_overflow"} 1"#),
        "{m}"
    );
    assert!(d.log_text().contains("unacked_overflow"));
    // It may come back, afresh.
    hello_v2(d.tcp, None, sent);
}
