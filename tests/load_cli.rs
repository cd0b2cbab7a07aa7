//! `vaxel load` as a user runs it: a real `vaxel serve --clock event` on a small test site,
//! a generated trace and roster, and the report. Every daemon is killed when its test
//! ends, passing or not.

mod serve_support;

use serve_support::nats::{self, NatsCluster};
use serve_support::{Daemon, records, wait_for, write_site};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A menu with precollected and missing digits, an invalid choice, two groups that ring,
/// wrap up, offer callbacks and overflow; three agents.
const SITE: &str = r#"
[site]
name = "Lasttorp"
timezone = "Europe/Stockholm"

[calendars.always]
mon-sun = "00:00-24:00"

[[entries]]
id = "main"
number = "+4610100"
route = "menu:main"
calendar = "always"

[[entries]]
id = "direct"
number = "+4610200"
route = "group:support"
calendar = "always"

[[menus]]
id = "main"
prompt = "menu-main"
invalid_prompt = "menu-main-invalid"
timeout_s = 5
retries = 1
default = "group:sales"
[menus.options]
"1" = "group:sales"
"2" = "group:support"

[[groups]]
id = "sales"
name = "Sales"
requires = { sales = 1 }
wrapup_s = 10
ring_s = 5
callback = { offer_when_ewt_over_s = 120 }
max_wait_s = 900
on_max_wait = "number:+4699"

[[groups]]
id = "support"
name = "Support"
requires = { support = 1 }
wrapup_s = 0
ring_s = 0
overflow = [ { when = "no_agents", to = "number:+4698" } ]

[[agents]]
id = "a1"
name = "Anna"
extension = "1001"
skills = { sales = 1, support = 1 }

[[agents]]
id = "a2"
name = "Bo"
extension = "1002"
skills = { sales = 1 }

[[agents]]
id = "a3"
name = "Cecilia"
extension = "1003"
skills = { sales = 1, support = 1 }

[platform]
grace_s = 5
buffer_commands = 1000
ring_grace_s = 3
"#;

/// 2026-03-02T08:00:00Z.
const START_MS: u64 = 1_772_438_400_000;
const MIN: u64 = 60_000;

/// `n` calls over `span_min` minutes from a small deterministic generator: both entries,
/// all kinds of digits, patience or none, callbacks accepted or not, some with their own
/// wrap-up.
fn write_trace(path: &Path, n: u64, span_min: u64) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let mut s = String::from(
        "call_id,arrival,to,from,digits,patience_s,talk_s,wrapup_s,case_type,resolved,accept_callback\n",
    );
    let span = span_min * MIN;
    let mut times: Vec<u64> = (0..n).map(|_| START_MS + rnd(span)).collect();
    times.sort_unstable();
    for (i, t) in times.into_iter().enumerate() {
        let to = if rnd(4) == 0 { "+4610200" } else { "+4610100" };
        let digits = ["", "1", "2", "9", "1"][rnd(5) as usize];
        let patience = if rnd(6) == 0 {
            String::new()
        } else {
            format!("{}", 5 + rnd(300))
        };
        let talk = 30 + rnd(240);
        let wrapup = if rnd(3) == 0 {
            format!("{}", rnd(30))
        } else {
            String::new()
        };
        let (case, resolved) = if rnd(2) == 0 {
            ("order", if rnd(2) == 0 { "true" } else { "false" })
        } else {
            ("", "")
        };
        let accept = if rnd(2) == 0 { "true" } else { "false" };
        s.push_str(&format!(
            "c{i:04},{t},{to},+4670{i:06},{digits},{patience},{talk}.5,{wrapup},{case},{resolved},{accept}\n"
        ));
    }
    fs::write(path, s).expect("write trace");
}

/// Three agents over a trace of `span_min` minutes: a1 all along, a2 on two back-to-back
/// shifts (one stretch), a3 on two shifts with a gap (logs out, maybe while in a call, and
/// in again). Times are given for a two-hour trace and scaled.
fn write_roster(path: &Path, span_min: u64) {
    let at = |m: u64| START_MS + m * MIN * span_min / 120;
    let row = |a: &str, s: u64, e: u64| format!("{a},{},{}\n", at(s), at(e));
    let mut s = String::from("agent,start,end\n");
    s.push_str(&row("a1", 0, 130));
    s.push_str(&row("a2", 10, 60));
    s.push_str(&row("a2", 60, 125));
    s.push_str(&row("a3", 0, 40));
    s.push_str(&row("a3", 42, 135));
    fs::write(path, s).expect("write roster");
}

/// A fresh directory for one test (beside the daemon tests', so named apart from them).
fn temp_dir(name: &str) -> PathBuf {
    serve_support::temp_dir(&format!("load-{name}"))
}

/// `vaxel serve --clock event` on this file's site, data in `dir`; killed on drop.
fn start_daemon(dir: &Path) -> (Daemon, String) {
    let site = write_site(dir, SITE);
    let daemon = Daemon::start(&site, &dir.join("data"), &[]);
    let tcp = daemon.tcp.to_string();
    (daemon, tcp)
}

/// Runs `vaxel load` (killed after 60 s at most).
fn load(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaxel"));
    cmd.arg("load").args(args);
    serve_support::output_within(&mut cmd, Duration::from_secs(60))
}

/// Runs `vaxel load` with `extra` on `calls` calls over `span_min` minutes against a fresh
/// daemon and checks its report: no error, every call accounted for, and with
/// `all_end` every call ended.
fn run_scenario(
    name: &str,
    calls: u64,
    span_min: u64,
    all_end: bool,
    extra: &[&str],
) -> serde_json::Value {
    let dir = temp_dir(name);
    let trace = dir.join("calls.csv");
    let roster = dir.join("roster.csv");
    write_trace(&trace, calls, span_min);
    write_roster(&roster, span_min);
    let (_daemon, tcp) = start_daemon(&dir);
    let report = load_report(name, &dir, &tcp, extra);
    check_report(&report, calls, all_end);
    report
}

/// Runs `vaxel load` with `extra` against `addr` on the trace and roster in `dir`, and
/// returns its JSON report (it must succeed).
fn load_report(name: &str, dir: &Path, addr: &str, extra: &[&str]) -> serde_json::Value {
    let (trace, roster) = (dir.join("calls.csv"), dir.join("roster.csv"));
    let (t, r) = (trace.to_string_lossy(), roster.to_string_lossy());
    let mut args = vec!["--addr", addr, "--trace", &t, "--roster", &r];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--report", "json"]);
    let out = load(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "vaxel load failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{stdout}"));
    eprintln!("{name}: {report}\n{stderr}");
    report
}

/// A load report of `calls` calls: no error, every call accounted for, and with
/// `all_end` every call ended.
fn check_report(report: &serde_json::Value, calls: u64, all_end: bool) {
    assert_eq!(report["calls"], calls, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert_eq!(report["vanished_calls"], 0, "{report}");
    let ended = report["ended_calls"].as_u64().unwrap_or(0);
    let unfinished = report["unfinished_calls"].as_u64().unwrap_or(u64::MAX);
    let in_progress: u64 = report["in_progress"].as_object().map_or(0, |m| {
        m.values().filter_map(serde_json::Value::as_u64).sum()
    });
    assert_eq!(ended + unfinished, calls, "{report}");
    assert_eq!(unfinished, in_progress, "{report}");
    if all_end {
        assert_eq!(ended, calls, "{report}");
    }
    assert!(
        report["events"].as_u64().is_some_and(|e| e > 2 * calls),
        "{report}"
    );
    assert!(
        report["events_per_s"].as_f64().is_some_and(|e| e > 0.0),
        "{report}"
    );
    assert!(
        report["commands"].as_u64().is_some_and(|c| c > calls),
        "{report}"
    );
    for key in ["latency_ms", "ack_latency_ms"] {
        let l = &report[key];
        for p in ["p50", "p90", "p99", "p999", "max"] {
            assert!(l[p].as_f64().is_some(), "{key}.{p} in {report}");
        }
        assert!(l["p50"].as_f64() <= l["max"].as_f64(), "{report}");
    }
    assert_eq!(report["latency_ms"]["count"], calls, "{report}");
}

#[test]
fn max_speed_against_an_event_clock_daemon() {
    let report = run_scenario("max", 200, 120, true, &["--speed", "max"]);
    assert_eq!(report["speed"], "max");
}

#[test]
fn max_speed_window_only_over_three_connections() {
    // Reactions lag far behind here: calls may still wait (callbacks when the roster
    // ends), but nothing is refused or lost.
    let extra = [
        "--speed",
        "max",
        "--max-lag",
        "none",
        "--window",
        "64",
        "--connections",
        "3",
    ];
    run_scenario("window", 200, 120, false, &extra);
}

#[test]
fn paced_against_an_event_clock_daemon() {
    // Half an hour in about three seconds.
    let report = run_scenario("paced", 60, 30, false, &["--speed", "600"]);
    assert_eq!(report["speed"], "600");
}

#[test]
fn text_report_and_a_refused_connection() {
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = temp_dir("refused");
    let trace = dir.join("calls.csv");
    let roster = dir.join("roster.csv");
    write_trace(&trace, 5, 120);
    write_roster(&roster, 120);
    let addr = format!("127.0.0.1:{port}");
    let (t, r) = (trace.to_string_lossy(), roster.to_string_lossy());
    let out = load(&["--addr", &addr, "--trace", &t, "--roster", &r]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect to the daemon"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let (_daemon, tcp) = start_daemon(&dir);
    let out = load(&["--addr", &tcp, "--trace", &t, "--roster", &r]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("events/s"), "{stdout}");
    assert!(stdout.contains("errors        none"), "{stdout}");
    assert!(stdout.contains("0 unfinished"), "{stdout}");
}

/// `vaxel load --exact` on this file's site against a fresh daemon, or the one given.
fn run_exact(dir: &Path, tcp: &str, window: &str) -> Output {
    let site = dir.join("site.toml");
    let (t, r) = (dir.join("calls.csv"), dir.join("roster.csv"));
    let (site, t, r) = (
        site.to_string_lossy(),
        t.to_string_lossy(),
        r.to_string_lossy(),
    );
    load(&[
        "--addr", tcp, "--trace", &t, "--roster", &r, "--exact", "--config", &site, "--window",
        window, "--report", "json",
    ])
}

#[test]
fn exact_gives_the_daemon_the_replays_inputs_and_gets_its_commands_back() {
    let dir = temp_dir("exact");
    write_trace(&dir.join("calls.csv"), 300, 120);
    write_roster(&dir.join("roster.csv"), 120);
    let (_daemon, tcp) = start_daemon(&dir);
    // A small window: the writer waits for answers many times.
    let out = run_exact(&dir, &tcp, "16");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    eprintln!("exact: {report}");
    assert_eq!(report["mode"], "exact");
    assert_eq!(report["calls"], 300, "{report}");
    assert_eq!(report["mismatches"], 0, "{report}");
    assert_eq!(report["refused_by_replay"], 0, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert_eq!(report["commands"], report["expected_commands"], "{report}");
    assert!(report["commands"].as_u64().unwrap() > 300, "{report}");
    assert!(report["events"].as_u64().unwrap() > 3 * 300, "{report}");
    assert_eq!(report["latency_ms"]["count"], 300, "{report}");
    assert_eq!(
        report["ack_latency_ms"]["count"], report["events"],
        "{report}"
    );

    // The same run again: the daemon is no longer fresh (its agents are logged in, its
    // time is past the trace), and the tool says so instead of measuring something else.
    let out = run_exact(&dir, &tcp, "4096");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("difference(s) from the replay"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["first_mismatch"]
            .as_str()
            .is_some_and(|m| m.contains("is the daemon fresh")),
        "{report}"
    );
}

/// `vaxel` with `args` (killed after 60 s at most); its stdout, after checking it succeeded.
fn vaxel_ok(args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaxel"));
    cmd.args(args);
    let out = serve_support::output_within(&mut cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "vaxel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `vaxel report --format json` document without what differs by nature between runs
/// and inputs (the files read, the reading time).
fn report_json(args: &[&str]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&vaxel_ok(args)).expect("JSON report");
    v["files"] = serde_json::Value::Null;
    v["period"]["report"]["wall_s"] = serde_json::Value::Null;
    v
}

#[test]
fn a_daemon_runs_report_equals_the_replays_figure_by_figure() {
    let dir = temp_dir("report-agree");
    write_trace(&dir.join("calls.csv"), 300, 120);
    write_roster(&dir.join("roster.csv"), 120);
    let (daemon, tcp) = start_daemon(&dir);
    let out = run_exact(&dir, &tcp, "64");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Stopped cleanly: every record and event is on disk.
    assert!(daemon.term().success());

    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (site, data) = (p("site.toml"), p("data"));
    let (cdr, events) = (p("replay-cdr.csv"), p("replay-events.csv"));
    vaxel_ok(&[
        "replay",
        "--config",
        &site,
        "--trace",
        &p("calls.csv"),
        "--roster",
        &p("roster.csv"),
        "--cdr",
        &cdr,
        "--events",
        &events,
    ]);
    let days = [
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-02",
        "--format",
        "json",
    ];
    let mut daemon_args = vec!["report", "--config", &site, "--data-dir", &data];
    daemon_args.extend(days);
    let mut replay_args = vec![
        "report", "--config", &site, "--cdr", &cdr, "--events", &events,
    ];
    replay_args.extend(days);
    let from_daemon = report_json(&daemon_args);
    let from_replay = report_json(&replay_args);

    let agents = &from_daemon["period"]["agents"]["rows"];
    assert_eq!(agents.as_array().map(Vec::len), Some(3), "{from_daemon}");
    assert!(
        agents[0]["calls"].as_u64().is_some_and(|c| c > 0)
            && agents[0]["logged_in_s"].as_f64().is_some_and(|s| s > 0.0),
        "{agents}"
    );
    assert_eq!(from_daemon["period"]["report"]["calls"], 300);
    // Figure by figure: the whole documents, tables and agents alike.
    assert_eq!(from_daemon, from_replay);
}

/// Issue 12's `kill -9` trials with protocol version 2: `vaxel load --exact` streams a
/// trace, the daemon is killed at pseudo-random points (once its journal has grown past a
/// size drawn per trial), restarted, and the platform resumes after the last command the
/// load checked. Every command reaches the platform exactly once: the load checked 1..=N
/// in order (byte for byte against the replay, numbers included), the resumed `hello`
/// gets N+1..=M, gap-free, and M is the last one the daemon has. Then the platform stays
/// away, its calls end `platform_lost`, and every call the journal holds has exactly one
/// record.
#[test]
fn kill_9_trials_under_exact_load_lose_and_repeat_no_command() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for trial in 0..5 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let threshold = 20_000 + x % 400_000;
        let dir = temp_dir(&format!("kill9-{trial}"));
        write_trace(&dir.join("calls.csv"), 3000, 120);
        write_roster(&dir.join("roster.csv"), 120);
        let (daemon, tcp) = start_daemon(&dir);
        let load = {
            let (dir, tcp) = (dir.clone(), tcp.clone());
            std::thread::spawn(move || run_exact(&dir, &tcp, "256"))
        };
        let data = dir.join("data");
        let until = std::time::Instant::now() + Duration::from_secs(60);
        while journals(&data).iter().map(Vec::len).sum::<usize>() < threshold as usize
            && !load.is_finished()
            && std::time::Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        daemon.kill9();
        let out = load.join().expect("the load thread");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // Cut short (the usual case) the error says where to resume; a run that ended
        // before the kill says it in its report.
        let last_cmd: u64 = match stderr.split("last_cmd ").nth(1) {
            Some(rest) => {
                assert!(
                    rest.contains("; 0 difference(s) from the replay"),
                    "{stderr}"
                );
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("no number after last_cmd: {stderr}"))
            }
            None => {
                let report: serde_json::Value = serde_json::from_str(&stdout)
                    .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
                assert_eq!(report["mismatches"], 0, "{report}");
                report["last_cmd"].as_u64().expect("last_cmd in the report")
            }
        };

        let site = dir.join("site.toml");
        let daemon = Daemon::start(&site, &dir.join("data"), &[]);
        let mut c = daemon.connect();
        c.send(&format!(
            r#"{{"ev":"hello","platform":"load-1","protocol":2,"last_cmd":{last_cmd}}}"#
        ));
        c.expect(&format!(
            r#"{{"cmd":"welcome","protocol":2,"server":"vaxel/0.1.0","last_cmd":{last_cmd}}}"#
        ));
        // Everything owed comes before the answer to this.
        c.send(&format!(r#"{{"ev":"ack","seq":1,"upto":{last_cmd}}}"#));
        let mut next = last_cmd + 1;
        loop {
            let line = c.recv().expect("a line before the ack's ok");
            if line == r#"{"cmd":"ok","seq":1}"# {
                break;
            }
            let want = format!(r#","cmd_no":{next},"#);
            assert!(
                line.contains(&want),
                "trial {trial}: expected command {next}, got {line}"
            );
            next += 1;
        }
        let last = next - 1;
        // Nothing was sent past it.
        c.send(&format!(r#"{{"ev":"ack","seq":2,"upto":{}}}"#, last + 1));
        let e = c.expect_error("bad_field");
        assert!(
            e.contains(&format!("sent to this platform ({last})")),
            "{e}"
        );
        // Time moves past the trace (the event clock moves only with events): the
        // timers still pending (wrap-ups) fire and their calls get their records.
        c.send(&format!(
            r#"{{"ev":"tick","seq":3,"at":{}}}"#,
            START_MS + 240 * MIN
        ));
        while c.recv().is_some_and(|l| l != r#"{"cmd":"ok","seq":3}"#) {}
        drop(c);
        assert!(
            last > last_cmd || stderr.contains("last_cmd"),
            "trial {trial}: the load ended before the kill: not a trial"
        );
        eprintln!(
            "trial {trial}: killed past {threshold} journal bytes; the load checked commands \
             1..={last_cmd}, the resume gave {}..={last}",
            last_cmd + 1
        );

        // The platform stays away: its calls end `platform_lost` after the grace period.
        // Every epoch's journal is still there (a fresh engine's first checkpoint starts
        // epoch 2 at once; no later one in a trace of one morning).
        let arrived: Vec<String> = journals(&data)
            .iter()
            .flat_map(|j| arrived_calls(j))
            .collect();
        assert!(!arrived.is_empty(), "trial {trial}: nothing journaled");
        let has_all =
            |r: &[(String, String)]| arrived.iter().all(|id| r.iter().any(|(rid, _)| rid == id));
        let until = std::time::Instant::now() + Duration::from_secs(30);
        let recs = loop {
            let r = records(&data);
            if has_all(&r) || std::time::Instant::now() > until {
                break r;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let missing: Vec<&String> = arrived
            .iter()
            .filter(|id| !recs.iter().any(|(rid, _)| rid == *id))
            .collect();
        assert!(
            missing.is_empty(),
            "trial {trial}: calls the journal holds without a record: {missing:?}; log:\n{}",
            daemon.log_text()
        );
        let mut ids: Vec<&str> = recs.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            recs.len(),
            "trial {trial}: a record written twice"
        );
        eprintln!(
            "trial {trial}: {} calls journaled, {} records, each once",
            arrived.len(),
            recs.len()
        );
    }
}

/// `vaxel load` across a fail-over: two cluster nodes (on a 3-server NATS JetStream cluster
/// on loopback) and `--addr` naming both; the active is killed -9 while the load runs.
/// The load makes its connection again to the node that took over, resumes after the last
/// command it processed and sends again what had no answer: it ends without an error, no
/// call vanished, and the new active's files hold one record for each call that ended.
#[test]
fn a_cluster_fail_over_under_load_is_resumed_on_the_new_active() {
    let dir = temp_dir("failover");
    let calls = 400;
    write_trace(&dir.join("calls.csv"), calls, 90);
    write_roster(&dir.join("roster.csv"), 90);
    // A grace period far longer than the fail-over: the platform's calls wait for it.
    let site = write_site(&dir, &SITE.replace("grace_s = 5", "grace_s = 60"));
    let nats = NatsCluster::start(&dir.join("nats"));
    let a = nats::node(&site, &dir, &nats, "a");
    nats::wait_active(&a, Duration::from_secs(30));
    let b = nats::node(&site, &dir, &nats, "b");
    let addrs = format!("{},{}", a.tcp, b.tcp);
    // An hour and a half in about nine seconds.
    let run = {
        let (dir, addrs) = (dir.clone(), addrs.clone());
        std::thread::spawn(move || load_report("failover", &dir, &addrs, &["--speed", "600"]))
    };
    // Killed once calls have ended on it: well into the run.
    wait_for(
        Duration::from_secs(30),
        || format!("no call ended on the active; log:\n{}", a.log_text()),
        || (records(&a.data).len() >= 20).then_some(()),
    );
    a.kill9();
    let report = run.join().expect("the load thread");
    check_report(&report, calls, false);
    assert_eq!(report["reconnects"], 1, "{report}");
    assert!(
        report["longest_reconnect_s"]
            .as_f64()
            .is_some_and(|s| s < 10.0),
        "{report}"
    );
    let ended = report["ended_calls"].as_u64().unwrap_or(0);
    let by_call = wait_for(
        Duration::from_secs(20),
        || format!("{ended} calls ended, not as many records on the new active"),
        || {
            let recs = records(&b.data);
            (recs.len() as u64 >= ended).then_some(recs)
        },
    );
    let mut ids: Vec<&str> = by_call.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), by_call.len(), "a record written twice");
    assert_eq!(by_call.len() as u64, ended, "{report}");
}

/// The content of every journal file in `data`, oldest epoch first.
fn journals(data: &Path) -> Vec<Vec<u8>> {
    serve_support::data_files(data, "journal-", ".log")
        .iter()
        .filter_map(|p| fs::read(p).ok())
        .collect()
}

/// The ids of the calls whose `call.arrived` the journal file holds in whole records
/// (`len`, `crc32`, payload: docs/operations.md, "Journal format"); a torn last record,
/// never acknowledged, is left out as recovery leaves it out.
fn arrived_calls(journal: &[u8]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut at = 0;
    while let Some(head) = journal.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(payload) = journal.get(at + 8..at + 8 + len) else {
            break;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
            break;
        };
        if v["k"] == "call.arrived"
            && let Some(id) = v["call"].as_str()
        {
            ids.push(id.to_owned());
        }
        at += 8 + len;
    }
    ids
}
