//! `vaxel serve` over real TCP (docs/protocol.md): bad input is answered and changes
//! nothing; two platforms at once; a slow consumer closed and its commands kept. The
//! daemon runs in process ([`InProcess`]) where the test needs no process, and as a
//! process where it reads the log, sends a signal or restarts it.
//! The engine's scenario files are played over TCP against the daemon in process by
//! `vaxel-serve`'s `tests/scenarios_tcp.rs`, and a platform's grace period (back within it,
//! or not) on tokio's paused clock by its `tests/deadlines.rs`.

mod serve_support;

use serve_support::{Daemon, InProcess, SITE, records, temp_dir, wait_records, write_site};
use std::time::Duration;

/// The daemon in process on [`SITE`] (these tests need no process).
fn daemon(name: &str) -> InProcess {
    let dir = temp_dir(name);
    let site = write_site(&dir, SITE);
    InProcess::start(&site, &dir.join("data"))
}

#[test]
fn bad_input_is_answered_and_changes_nothing() {
    let d = daemon("bad-input");
    let mut p = d.platform("pbx-1"); // line 1
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#); // line 2
    p.send("{not json"); // line 3
    let e = p.expect_error("bad_json");
    assert!(e.contains(r#""line":3"#), "{e}");
    p.send_raw(b"\xff\xfe\x00\x01garbage\x80\n");
    p.expect_error("bad_json");
    let mut huge = vec![b'x'; 1 << 20];
    huge.push(b'\n');
    p.send_raw(&huge);
    let e = p.expect_error("line_too_long");
    assert!(e.contains(r#""line":5"#), "{e}");
    p.send(r#"{"ev":"call.teleport","call":"c1","at":1000}"#);
    p.expect_error("unknown_event");
    p.send(r#"{"ev":"call.arrived","call":"c1","at":1000,"seq":7}"#);
    let e = p.expect_error("missing_field");
    assert!(e.contains(r#""seq":7"#) && !e.contains(r#""line""#), "{e}");
    p.send(r#"{"ev":"call.arrived","call":5,"to":"+4610100","from":"x","at":1000}"#);
    p.expect_error("bad_field");
    p.send(r#"{"ev":"agent.ready","agent":"a1"}"#);
    p.expect_error("missing_field"); // event clock: `at` required
    p.send(r#"{"ev":"call.answered","call":"nope","agent":"a1","at":1000}"#);
    p.expect_error("unknown_call");
    p.send(r#"{"ev":"agent.login","agent":"zz","at":1000}"#);
    p.expect_error("unknown_agent");
    p.send(r#"{"ev":"call.arrived","call":"c0","to":"+4699","from":"x","at":1000}"#);
    p.expect_error("unknown_entry");
    p.call(
        r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+4670","at":2000,"seq":20}"#,
        &[
            r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":20}"#,
        ],
    );
    p.send(
        r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+4670","at":2000,"seq":21}"#,
    );
    p.expect_error("duplicate_call");
    p.send(r#"{"ev":"call.answered","call":"c1","agent":"a2","at":2100,"seq":22}"#);
    p.expect_error("invalid_state");
    p.send(r#"{"ev":"tick","at":1500}"#);
    p.expect_error("time_went_backwards");
    p.send(r#"{"ev":"hello","platform":"pbx-1","protocol":1}"#);
    p.expect_error("invalid_state");
    // Everything above changed nothing: the call still rings a1, who answers.
    p.acked(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":3000,"seq":30}"#);
    p.acked(r#"{"ev":"call.hangup","call":"c1","at":4000,"seq":31}"#);
    assert_eq!(
        wait_records(&d.data, |r| !r.is_empty()),
        vec![("c1".to_owned(), "answered".to_owned())]
    );
}

#[test]
fn refused_before_hello_then_closed() {
    let dir = temp_dir("hello");
    let site = write_site(&dir, SITE);
    let token = "platform-token-for-the-tests";
    let d = Daemon::start(
        &site,
        &dir.join("data"),
        &[("VAXEL_PLATFORM_TOKENS", token)],
    );

    let mut c = d.connect();
    c.send(r#"{"ev":"agent.login","agent":"a1","at":1}"#);
    c.expect_error("unauthorized");
    c.expect_closed();

    let mut c = d.connect();
    c.send("][");
    c.expect_error("bad_json");
    c.expect_closed();

    let mut c = d.connect();
    c.send(r#"{"ev":"hello","platform":"pbx-1","token":"wrong","protocol":1}"#);
    c.expect_error("unauthorized");
    c.expect_closed();

    let mut c = d.connect();
    c.send(r#"{"ev":"hello","platform":"pbx-1","protocol":1}"#);
    c.expect_error("unauthorized");
    c.expect_closed();

    let mut c = d.connect();
    c.send(&format!(
        r#"{{"ev":"hello","platform":"pbx-1","token":"{token}","protocol":3}}"#
    ));
    c.expect_error("unsupported_protocol");
    c.expect_closed();

    let mut c = d.connect();
    c.send(&format!(
        r#"{{"ev":"hello","platform":"pbx-1","token":"{token}","protocol":1}}"#
    ));
    c.expect(r#"{"cmd":"welcome","protocol":1,"server":"vaxel/0.1.0"}"#);
    c.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
}

#[test]
fn two_platforms_at_once_each_get_their_calls() {
    let d = daemon("two");
    let mut p1 = d.platform("pbx-1");
    let mut p2 = d.platform("pbx-2");
    p1.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
    // pbx-2's call rings an agent logged in through pbx-1: the command goes to pbx-2.
    p2.call(
        r#"{"ev":"call.arrived","call":"x1","to":"+4610200","from":"+4671","at":2000,"seq":1}"#,
        &[
            r#"{"cmd":"connect","call":"x1","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":1}"#,
        ],
    );
    // Calls belong to the platform that announced them.
    p1.send(r#"{"ev":"call.answered","call":"x1","agent":"a1","at":2100,"seq":2}"#);
    p1.expect_error("unknown_call");
    p2.acked(r#"{"ev":"call.answered","call":"x1","agent":"a1","at":2200,"seq":2}"#);
    p1.call(
        r#"{"ev":"call.arrived","call":"y1","to":"+4610100","from":"+4672","at":2300,"seq":3}"#,
        &[
            r#"{"cmd":"queue","call":"y1","group":"sales","position":1,"ewt_s":200}"#,
            r#"{"cmd":"ok","seq":3}"#,
        ],
    );
    p2.acked(r#"{"ev":"call.hangup","call":"x1","at":3000,"seq":3}"#);
    p1.expect(r#"{"cmd":"connect","call":"y1","agent":"a1","extension":"1001","ring_s":20}"#);
    p2.expect_silence(Duration::from_millis(100));
}

/// The call id of a `queue` line.
fn queued_call(line: &str) -> Option<String> {
    let rest = line.strip_prefix(r#"{"cmd":"queue","call":""#)?;
    if !line.ends_with('}') {
        return None;
    }
    Some(rest[..rest.find('"')?].to_owned())
}

#[test]
fn slow_consumer_is_closed_and_its_commands_are_kept() {
    use std::io::Read as _;
    let dir = temp_dir("slow");
    // A long greeting prompt makes every call's commands weigh a kilobyte, so that the
    // socket buffers fill quickly; the buffer for a disconnected platform is large.
    let prompt = "g".repeat(1000);
    let text = SITE
        .replace(
            "route = \"group:sales\"",
            &format!("route = \"group:sales\"\ngreeting = \"{prompt}\""),
        )
        .replace("buffer_commands = 100", "buffer_commands = 1000000")
        .replace("grace_s = 1", "grace_s = 30");
    let site = write_site(&dir, &text);
    let d = Daemon::start_with(&site, &dir.join("data"), &[], &["--outbound-limit", "2"]);
    let mut p = d.platform("pbx-1");
    // Each call is greeted, queued and hung up at once; the platform reads nothing.
    const N: usize = 12_000;
    let mut lines = String::new();
    for i in 0..N {
        let at = 1000 + 2 * i;
        lines.push_str(&format!(
            "{{\"ev\":\"call.arrived\",\"call\":\"c{i}\",\"to\":\"+4610100\",\"from\":\"+4670\",\"at\":{at}}}\n\
             {{\"ev\":\"call.hangup\",\"call\":\"c{i}\",\"at\":{}}}\n",
            at + 1
        ));
    }
    p.send_raw(lines.as_bytes());
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !d.log_text().contains("slow_consumer") {
        assert!(std::time::Instant::now() < until, "never a slow consumer");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What the closed connection had received, then what the platform gets back.
    let mut old = Vec::new();
    let r = p.reader_mut().read_to_end(&mut old);
    let old = String::from_utf8_lossy(&old);
    eprintln!(
        "old connection: {r:?}, {} bytes, {:?}",
        old.len(),
        old.lines().nth(1).map(|l| l.len())
    );
    let mut seen: Vec<String> = old.lines().filter_map(queued_call).collect();
    let before = seen.len();
    // Let the daemon finish the lines it had taken before the close (their commands are
    // held too), so that the new connection is not itself flooded past its small bound.
    let mut last = usize::MAX;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = records(&d.data).len();
        if n == last {
            break;
        }
        assert!(std::time::Instant::now() < until, "records keep coming");
        last = n;
        std::thread::sleep(Duration::from_millis(300));
    }
    // Held commands come right after `welcome`, before the answer to anything new. On a
    // loaded host the daemon may still be finishing lines it took and flood this
    // connection past its small bound too: it is closed as a slow consumer again and its
    // commands are kept once more, so the platform comes back until it gets its `ok`.
    let mut closed = 0;
    'reconnect: loop {
        let mut p = d.platform("pbx-1");
        p.send(r#"{"ev":"tick","at":50000000,"seq":1}"#);
        loop {
            let Some(l) = p.recv() else {
                closed += 1;
                assert!(closed < 20, "closed again and again");
                continue 'reconnect;
            };
            if l == r#"{"cmd":"ok","seq":1}"# {
                break 'reconnect;
            }
            if let Some(c) = queued_call(&l) {
                seen.push(c);
            }
        }
    }
    // Every call the daemon took got its command, in order (one may come twice where a
    // write was cut by the close); lines sent after the close were not taken.
    seen.dedup();
    let k = seen.len();
    // (The writer may not even have started on them when its queue filled.)
    assert!(before < k, "closed after {before} of {k} calls");
    let want: Vec<String> = (0..k).map(|i| format!("c{i}")).collect();
    assert!(seen == want, "commands lost or out of order");
    let recorded = records(&d.data);
    assert!(
        recorded.len() <= k && recorded.len() + 1 >= k,
        "{} records, {k} calls",
        recorded.len()
    );
}

#[test]
fn no_tokens_refuses_a_non_loopback_address() {
    let dir = temp_dir("exposure");
    let site = write_site(&dir, SITE);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vaxel"))
        .args(["serve", "--listen", "0.0.0.0:0", "--http", "127.0.0.1:0"])
        .arg("--config")
        .arg(&site)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("VAXEL_PLATFORM_TOKENS")
        .output()
        .expect("run vaxel serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without platform tokens"),
        "{err}"
    );
}

#[test]
fn the_end_of_a_call_the_engine_ended_is_acknowledged_not_refused() {
    let dir = temp_dir("trailing-hangup");
    // A third number whose group sends callers on when nobody is logged in.
    let site = format!(
        "{SITE}\n[[entries]]\nid = \"out\"\nnumber = \"+4610300\"\nroute = \"group:night\"\n\
         calendar = \"always\"\n\n[[groups]]\nid = \"night\"\nname = \"Night\"\n\
         requires = {{ sales = 1 }}\nring_s = 20\n\
         overflow = [ {{ when = \"no_agents\", to = \"number:+4699\" }} ]\n"
    );
    let site = write_site(&dir, &site);
    let d = InProcess::start(&site, &dir.join("data"));
    let mut p = d.platform("pbx-1");
    p.call(
        r#"{"ev":"call.arrived","call":"f1","to":"+4610300","from":"+4671","at":1000,"seq":1}"#,
        &[
            r#"{"cmd":"forward","call":"f1","number":"+4699"}"#,
            r#"{"cmd":"ok","seq":1}"#,
        ],
    );
    // The platform reports the forwarded leg's end: acknowledged, nothing changes.
    p.acked(r#"{"ev":"call.hangup","call":"f1","at":2000,"seq":2}"#);
    // And again (a hang-up reported twice): still fine.
    p.acked(r#"{"ev":"call.hangup","call":"f1","at":2500,"seq":3}"#);
    // A call that never was is still unknown, and so is one for another platform.
    p.send(r#"{"ev":"call.hangup","call":"nope","at":3000,"seq":4}"#);
    p.expect_error("unknown_call");
    let mut other = d.platform("pbx-2");
    other.send(r#"{"ev":"call.hangup","call":"f1","at":3000,"seq":1}"#);
    other.expect_error("unknown_call");
    // An answered call the caller hung up, reported again: acknowledged.
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":4000,"seq":5}"#);
    p.call(
        r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+4672","at":5000,"seq":6}"#,
        &[
            r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":6}"#,
        ],
    );
    p.acked(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":6000,"seq":7}"#);
    p.acked(r#"{"ev":"call.hangup","call":"c1","at":9000,"seq":8}"#);
    p.acked(r#"{"ev":"call.hangup","call":"c1","at":9000,"seq":9}"#);
    let r = wait_records(&d.data, |r| r.len() == 2);
    assert_eq!(
        r,
        vec![
            ("f1".to_owned(), "overflow_external".to_owned()),
            ("c1".to_owned(), "answered".to_owned())
        ]
    );
}

/// Issue 12 #6: on the event clock one line could fire every timer and leave every later
/// line `time_went_backwards`, for good. A refused line moves no time; an `at` too far
/// ahead is refused.
#[test]
fn a_refused_line_never_moves_the_event_clock() {
    let dir = temp_dir("clock-poison");
    let site = write_site(&dir, SITE);
    let d = Daemon::start_with(
        &site,
        &dir.join("data"),
        &[],
        &["--max-clock-step-s", "3600"],
    );
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
    p.call(
        r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+46701112233","at":2000,"seq":2}"#,
        &[
            r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":2}"#,
        ],
    );
    // The issue's line: refused, and far beyond the step.
    p.send(r#"{"ev":"call.hangup","seq":3,"at":18446744073709551615,"call":"nope"}"#);
    let e = p.expect_error("bad_field");
    assert!(
        e.contains(r#""seq":3"#) && e.contains("`at`") && e.contains("--max-clock-step-s"),
        "{e}"
    );
    // Within the step but about a call nobody holds: refused before any timer fires (the
    // ring timeout at 22000 would otherwise end c1's ringing).
    p.send(r#"{"ev":"call.hangup","seq":4,"at":3000000,"call":"nope"}"#);
    p.expect_error("unknown_call");
    // A tick one hour ahead of the engine (2000) is refused, by a millisecond.
    p.send(r#"{"ev":"tick","seq":5,"at":3602001}"#);
    p.expect_error("bad_field");
    // Time still stands at 2000: the agent still rings and may answer.
    p.acked(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":3000,"seq":6}"#);
    p.call(
        r#"{"ev":"tick","seq":7,"at":3603000}"#,
        &[r#"{"cmd":"ok","seq":7}"#],
    );
    drop(p);
    // After a restart, time is where the accepted lines left it.
    assert!(d.term().success());
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"call.hangup","call":"c1","at":3603000,"seq":8}"#);
}

/// The agents a `random` group connects three calls to, after six agents log in, with or
/// without a SIGHUP reload of the identical site file in between.
fn random_picks(name: &str, reload: bool) -> Vec<String> {
    let dir = temp_dir(name);
    let mut text = SITE.replace(
        "requires = { sales = 1 }",
        "requires = { sales = 1 }\nstrategy = \"random\"",
    );
    for i in 3..=6 {
        text.push_str(&format!(
            "\n[[agents]]\nid = \"a{i}\"\nname = \"A{i}\"\nextension = \"100{i}\"\nskills = {{ sales = 1 }}\n"
        ));
    }
    let site = write_site(&dir, &text);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut p = d.platform("pbx-1");
    for i in 1..=6 {
        p.call(
            &format!(r#"{{"ev":"agent.login","agent":"a{i}","at":1000,"seq":{i}}}"#),
            &[&format!(r#"{{"cmd":"ok","seq":{i}}}"#)],
        );
    }
    if reload {
        d.hup();
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !d.log_text().contains("reloaded") {
            assert!(std::time::Instant::now() < until, "never reloaded");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut picks = Vec::new();
    for c in 1..=3 {
        p.send(&format!(
            r#"{{"ev":"call.arrived","call":"c{c}","to":"+4610100","from":"+4670","at":2000,"seq":{}}}"#,
            10 + c
        ));
        let connect = p.recv().unwrap_or_default();
        let agent = connect
            .split(r#""agent":""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned();
        assert!(!agent.is_empty(), "{connect}");
        p.expect(&format!(r#"{{"cmd":"ok","seq":{}}}"#, 10 + c));
        picks.push(agent);
    }
    picks
}

/// Issue 12 #7: a reload of the unchanged site dealt the `random` group's draws again.
#[test]
fn a_reload_of_the_unchanged_site_keeps_the_random_picks() {
    let without = random_picks("random-plain", false);
    let with = random_picks("random-reload", true);
    assert_eq!(with, without);
}

/// Issue 12 #10: `wraup_s` started the daemon with the group's wrap-up silently at 0 s.
#[test]
fn a_site_file_with_an_unknown_key_does_not_start_unless_allowed() {
    let dir = temp_dir("unknown-key");
    let site = write_site(&dir, &SITE.replacen("wrapup_s = 0", "wraup_s = 30", 1));
    let data = dir.join("data");
    serve_support::refuses_to_start(
        &site,
        &data,
        &[
            "error: groups[0].wraup_s: unknown key; did you mean \"wrapup_s\"?",
            "--allow-unknown-keys",
        ],
    );

    let d = Daemon::start_with(&site, &data, &[], &["--allow-unknown-keys"]);
    assert!(
        d.log_text().contains("WARN") && d.log_text().contains("groups[0].wraup_s: unknown key"),
        "{}",
        d.log_text()
    );
    assert!(d.term().success());
}
