//! The simulation commands through the built binary: `gen-trace`, `gen-roster`, `replay`,
//! `staffing` and `compare`.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VAXEL: &str = env!("CARGO_BIN_EXE_vaxel");

/// A fresh scratch directory for one test, removed when dropped (at the test's end, even on
/// a panic).
struct Dir(tempfile::TempDir);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = tempfile::Builder::new()
            .prefix(&format!("vaxel-sim-cli-{name}-"))
            .tempdir()
            .unwrap();
        Dir(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, text).unwrap();
        p
    }
}

fn vaxel(args: &[&str]) -> Output {
    Command::new(VAXEL).args(args).output().unwrap()
}

/// Runs and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = vaxel(args);
    assert!(
        out.status.success(),
        "vaxel {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and expects exit status 1; returns stderr.
fn fails(args: &[&str]) -> String {
    let out = vaxel(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "vaxel {args:?}: stdout {}\nstderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The arguments of `vaxel replay` on `site`, `trace` and `roster`, then `more`.
fn replay<'a>(site: &'a Path, trace: &'a Path, roster: &'a Path, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "replay",
        "--config",
        s(site),
        "--trace",
        s(trace),
        "--roster",
        s(roster),
    ];
    args.extend_from_slice(more);
    args
}

/// A site with one group `g` (ring 0, no wrap-up) and `agents` agents, 20 s / 80 %.
fn one_group_site(agents: usize) -> String {
    let mut t = String::from(
        "[site]\nname = \"One group\"\ntimezone = \"Europe/Stockholm\"\nservice_level_s = 20\n\
         service_level_target = 0.8\n\n[[entries]]\nid = \"e\"\nnumber = \"+4685080000\"\n\
         route = \"group:g\"\n\n[[groups]]\nid = \"g\"\nrequires = { g = 1 }\nring_s = 0\n\
         wrapup_s = 0\n",
    );
    for i in 0..agents {
        t.push_str(&format!(
            "\n[[agents]]\nid = \"a{i}\"\nname = \"Agent {i}\"\nextension = \"{}\"\n\
             skills = {{ g = 1 }}\n",
            1000 + i
        ));
    }
    t
}

const TRACE_HEAD: &str = "call_id,arrival,to,from,digits,patience_s,talk_s,wrapup_s,case_type,resolved,accept_callback\n";

/// `n` calls to the one-group site, one every `gap_s` seconds from 08:00, each talking
/// `talk_s`, patience 60 s.
fn steady_trace(n: usize, gap_s: u64, talk_s: u64) -> String {
    let mut t = String::from(TRACE_HEAD);
    let start = 1_772_434_800_000u64; // 2026-03-02T08:00:00+01:00
    for i in 0..n {
        t.push_str(&format!(
            "c{i},{},+4685080000,+46701234567,,60,{talk_s},,,,\n",
            start + i as u64 * gap_s * 1000
        ));
    }
    t
}

fn roster_all_day(agents: &[&str]) -> String {
    let mut t = String::from("agent,start,end\n");
    for a in agents {
        t.push_str(&format!(
            "{a},2026-03-02T07:00:00+01:00,2026-03-02T23:00:00+01:00\n"
        ));
    }
    t
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn same_seed_same_files_and_report() {
    let d = Dir::new("seed");
    let traffic = ["--start", "2026-03-02", "--days", "2", "--seed", "5"];
    let gen_files = |n: &str| {
        let trace = d.path(&format!("calls{n}.csv"));
        let roster = d.path(&format!("roster{n}.csv"));
        let mut a = vec!["gen-trace", "--out", s(&trace)];
        a.extend(traffic);
        ok(&a);
        let mut a = vec!["gen-roster", "--out", s(&roster)];
        a.extend(traffic);
        ok(&a);
        (trace, roster)
    };
    let (t1, r1) = gen_files("1");
    let (t2, r2) = gen_files("2");
    assert_eq!(
        fs::read(&t1).unwrap(),
        fs::read(&t2).unwrap(),
        "traces differ"
    );
    assert_eq!(
        fs::read(&r1).unwrap(),
        fs::read(&r2).unwrap(),
        "rosters differ"
    );
    let replay = |n: &str| {
        let cdr = d.path(&format!("cdr{n}.csv"));
        let out = ok(&[
            "replay",
            "--trace",
            s(&t1),
            "--roster",
            s(&r1),
            "--cdr",
            s(&cdr),
            "--report",
            "json",
        ]);
        let mut report = json(&out);
        let wall = report
            .as_object_mut()
            .unwrap()
            .remove("wall_s")
            .and_then(|v| v.as_f64());
        assert!(wall.is_some_and(|w| w > 0.0), "wall_s {wall:?}");
        (fs::read(&cdr).unwrap(), report)
    };
    let (cdr1, rep1) = replay("1");
    let (cdr2, rep2) = replay("2");
    assert!(cdr1.len() > 10_000);
    assert!(cdr1 == cdr2, "call records differ");
    assert_eq!(rep1, rep2);
    assert!(rep1["calls"].as_u64().unwrap() > 1000);
    assert!(rep1["events"].as_u64().unwrap() > rep1["calls"].as_u64().unwrap());
    assert!(rep1["total"]["occupancy"].as_f64().unwrap() > 0.0);
    // Nothing left half-written.
    for e in fs::read_dir(d.0.path()).unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            !name.to_string_lossy().ends_with(".partial"),
            "{name:?} left behind"
        );
    }
    // Another seed, another trace.
    let t3 = d.path("calls3.csv");
    ok(&[
        "gen-trace",
        "--out",
        s(&t3),
        "--start",
        "2026-03-02",
        "--days",
        "2",
        "--seed",
        "6",
    ]);
    assert_ne!(fs::read(&t1).unwrap(), fs::read(&t3).unwrap());
}

#[test]
fn text_report_by_default_and_to_a_file() {
    let d = Dir::new("text");
    let site = d.write("site.toml", &one_group_site(2));
    let trace = d.write("calls.csv", &steady_trace(50, 60, 90));
    let roster = d.write("roster.csv", &roster_all_day(&["a0", "a1"]));
    let out = ok(&replay(&site, &trace, &roster, &[]));
    assert!(out.starts_with("50 calls, "), "{out}");
    assert!(out.contains("answer rate"), "{out}");
    let file = d.path("report.json");
    let printed = ok(&replay(
        &site,
        &trace,
        &roster,
        &["--report", "json", "--out", s(&file)],
    ));
    assert_eq!(printed, "");
    let r = json(&fs::read_to_string(&file).unwrap());
    // Two agents, one call a minute talking 90 s: never more than two at once.
    assert_eq!(r["total"]["answered"], 50);
    assert_eq!(r["groups"]["g"]["service_level"], 1.0);
}

/// Regression: `--out /dev/null` used to write `/dev/null.partial` and rename it over the
/// device, leaving a plain file that broke every later reader of /dev/null on the machine.
#[test]
#[cfg(unix)]
fn output_to_a_device_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt as _;
    let d = Dir::new("devnull");
    let site = d.write("site.toml", &one_group_site(1));
    let trace = d.write("calls.csv", &steady_trace(3, 60, 30));
    let roster = d.write("roster.csv", &roster_all_day(&["a0"]));
    let printed = ok(&replay(
        &site,
        &trace,
        &roster,
        &[
            "--report",
            "json",
            "--out",
            "/dev/null",
            "--cdr",
            "/dev/null",
        ],
    ));
    assert_eq!(printed, "");
    let kind = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "/dev/null is no longer a device: {kind:?}"
    );
}

#[test]
fn malformed_trace_names_file_line_and_column_and_leaves_no_cdr() {
    let d = Dir::new("badtrace");
    let site = d.write("site.toml", &one_group_site(2));
    let roster = d.write("roster.csv", &roster_all_day(&["a0", "a1"]));
    let cdr = d.path("cdr.csv");
    // A bad timestamp on line 3.
    let mut text = steady_trace(2, 60, 30);
    text.push_str("c9,2026-13-02T08:10:00+01:00,+4685080000,,,,30,,,,\n");
    let trace = d.write("calls.csv", &text);
    let err = fails(&replay(&site, &trace, &roster, &["--cdr", s(&cdr)]));
    let name = s(&trace);
    assert!(
        err.contains(&format!(
            "{name}:4: column 2 (arrival): \"2026-13-02T08:10:00+01:00\" is not a timestamp"
        )),
        "{err}"
    );
    assert!(!cdr.exists(), "a CDR was left under its final name");
    // An error far into a long trace, after records were written: still no final CDR.
    let mut text = steady_trace(3000, 2, 30);
    text.push_str("late,1772434800000,+4685080000,,,,-5,,,,\n");
    let trace = d.write("long.csv", &text);
    let err = fails(&replay(&site, &trace, &roster, &["--cdr", s(&cdr)]));
    assert!(
        err.contains(&format!(
            "{}:3002: column 7 (talk_s): \"-5\" is a negative duration",
            s(&trace)
        )),
        "{err}"
    );
    assert!(!cdr.exists(), "a CDR was left under its final name");
    assert!(d.path("cdr.csv.partial").exists());
    // Out of order arrivals.
    let mut text = steady_trace(3, 60, 30);
    text.push_str("c8,1772434800000,+4685080000,,,,30,,,,\n");
    let trace = d.write("order.csv", &text);
    let err = fails(&replay(&site, &trace, &roster, &[]));
    assert!(
        err.contains(&format!("{}:5: column 2 (arrival)", s(&trace))),
        "{err}"
    );
    assert!(err.contains("must be sorted by arrival"), "{err}");
}

#[test]
fn malformed_roster_names_file_line_and_column_and_leaves_no_cdr() {
    let d = Dir::new("badroster");
    let site = d.write("site.toml", &one_group_site(2));
    let trace = d.write("calls.csv", &steady_trace(5, 60, 30));
    let cdr = d.path("cdr.csv");
    let cases = [
        (
            "agent,start,end\na0,2026-03-02T07:00:00+01:00,2026-03-02T06:00:00+01:00\n",
            ":2: column 3 (end): 2026-03-02T06:00:00+01:00 is not after the shift's start",
        ),
        (
            "agent,start,end\na0,2026-03-02T07:00:00+01:00,2026-03-02T09:00:00+01:00\n\
             zz,2026-03-02T07:00:00+01:00,2026-03-02T09:00:00+01:00\n",
            ":3: column 1 (agent): no agent \"zz\" in the site",
        ),
        (
            "agent,start,end\na0,07:00,2026-03-02T09:00:00+01:00\n",
            ":2: column 2 (start): \"07:00\" is not a timestamp",
        ),
    ];
    for (text, want) in cases {
        let roster = d.write("roster.csv", text);
        let err = fails(&replay(&site, &trace, &roster, &["--cdr", s(&cdr)]));
        assert!(err.contains(&format!("{}{want}", s(&roster))), "{err}");
        assert!(!cdr.exists());
    }
    // A missing file is named too.
    let err = fails(&[
        "replay",
        "--trace",
        s(&trace),
        "--roster",
        s(&d.path("nope.csv")),
    ]);
    assert!(err.contains("nope.csv"), "{err}");
}

/// The staffing CSV as rows of named cells.
fn csv_rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            head.iter()
                .zip(l.split(','))
                .map(|(h, c)| ((*h).to_owned(), c.to_owned()))
                .collect()
        })
        .collect()
}

#[test]
fn staffing_gives_the_known_erlang_c_values() {
    // 200 calls an hour, AHT 180 s: 10 Erlangs. The built-in city aims at 80 % within
    // 20 s: Erlang C needs 14 agents, whose service level is 0.888350 and ASA 7.836 s
    // (published textbook example; erlang.rs's tests hold the same values).
    let out = ok(&[
        "staffing", "--rate", "200", "--aht-s", "180", "--format", "csv",
    ]);
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 1, "{out}");
    let r = &rows[0];
    assert_eq!(r["traffic_erl"], "10.0000");
    assert_eq!(r["agents"], "14");
    assert_eq!(r["service_level"], "0.888350");
    assert_eq!(r["asa_s"], "7.836");
    // With patience: Erlang A needs fewer agents, as the library computes.
    let out = ok(&[
        "staffing",
        "--rate",
        "200",
        "--aht-s",
        "180",
        "--patience-s",
        "120",
        "--format",
        "csv",
    ]);
    let r = &csv_rows(&out)[0];
    let want =
        vaxel_sim::erlang::ErlangA::agents_needed(200.0 / 3600.0, 180.0, 120.0, 20.0, 0.8).unwrap();
    assert_eq!(r["agents_a"], want.to_string());
    assert!(want < 14);
    let abandon: f64 = r["abandon_a"].parse().unwrap();
    assert!(abandon > 0.0 && abandon < 0.2, "{abandon}");
    // The table says the same.
    let table = ok(&["staffing", "--rate", "200", "--aht-s", "180"]);
    assert!(table.contains("88.8%"), "{table}");
    // Bad combinations are refused by the parser (exit status 2).
    let out = vaxel(&["staffing", "--rate", "200"]);
    assert_eq!(out.status.code(), Some(2));
    let out = vaxel(&[
        "staffing",
        "--rate",
        "200",
        "--aht-s",
        "180",
        "--interval",
        "20",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn staffing_from_a_trace_follows_the_menus() {
    let d = Dir::new("staffing");
    let site = d.write(
        "site.toml",
        "[site]\nname = \"Menus\"\ntimezone = \"Europe/Stockholm\"\nservice_level_s = 20\n\
         service_level_target = 0.8\n\n[[entries]]\nid = \"e\"\nnumber = \"+4685080000\"\n\
         route = \"menu:m\"\n\n[[menus]]\nid = \"m\"\nprompt = \"p\"\nretries = 1\n\
         default = \"group:a\"\n[menus.options]\n\"1\" = \"group:a\"\n\"2\" = \"group:b\"\n\n\
         [[groups]]\nid = \"a\"\nrequires = { a = 1 }\nwrapup_s = 10\n\n\
         [[groups]]\nid = \"b\"\nrequires = { b = 1 }\nwrapup_s = 0\n\n\
         [[agents]]\nid = \"x\"\nname = \"X\"\nextension = \"1\"\nskills = { a = 1, b = 1 }\n",
    );
    // 08:00-08:30: digits 2 → b; 7 then 2 (invalid, retried) → b; empty → a; 1 → a.
    // 08:30-09:00: one call to b with its own wrap-up. Another number: no group.
    let mut t = String::from(TRACE_HEAD);
    for (id, at, digits, talk, wrapup) in [
        ("c1", "2026-03-02T08:00:00+01:00", "2", "100", ""),
        ("c2", "2026-03-02T08:10:00+01:00", "\"7,2\"", "200", ""),
        ("c3", "2026-03-02T08:20:00+01:00", "", "50", ""),
        ("c4", "2026-03-02T08:25:00+01:00", "1", "70", ""),
        ("c5", "2026-03-02T08:40:00+01:00", "2", "60", "30"),
    ] {
        t.push_str(&format!(
            "{id},{at},+4685080000,,{digits},,{talk},{wrapup},,,\n"
        ));
    }
    t.push_str("c6,2026-03-02T08:50:00+01:00,+4685089999,,,,60,,,,\n");
    let trace = d.write("calls.csv", &t);
    let out = ok(&[
        "staffing",
        "--config",
        s(&site),
        "--trace",
        s(&trace),
        "--format",
        "csv",
    ]);
    let rows = csv_rows(&out);
    let cells: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["interval_start"].as_str(),
                r["group"].as_str(),
                r["calls"].as_str(),
                r["aht_s"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("2026-03-02T08:00:00.000+01:00", "a", "2", "70.000"), // (50+10 + 70+10) / 2
            ("2026-03-02T08:00:00.000+01:00", "b", "2", "150.000"),
            ("2026-03-02T08:30:00.000+01:00", "b", "1", "90.000"),
        ],
        "{out}"
    );
    assert_eq!(rows[0]["rate_per_hour"], "4.000");
    // --group keeps one group; --interval 60 merges the half hours.
    let out = ok(&[
        "staffing",
        "--config",
        s(&site),
        "--trace",
        s(&trace),
        "--format",
        "csv",
        "--group",
        "b",
        "--interval",
        "60",
    ]);
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["calls"], "3");
    let err = fails(&[
        "staffing",
        "--config",
        s(&site),
        "--trace",
        s(&trace),
        "--group",
        "zz",
    ]);
    assert!(err.contains("no group \"zz\""), "{err}");
}

#[test]
fn compare_one_more_agent_answers_at_least_as_many() {
    let d = Dir::new("compare");
    let a = d.write("a.toml", &one_group_site(2));
    let b = d.write("b.toml", &one_group_site(3));
    // One call every 40 s talking 120 s: three agents' worth of work for two.
    let trace = d.write("calls.csv", &steady_trace(400, 40, 120));
    let roster = d.write("roster.csv", &roster_all_day(&["a0", "a1", "a2"]));
    let out = vaxel(&[
        "compare",
        "--trace",
        s(&trace),
        "--roster",
        s(&roster),
        s(&a),
        s(&b),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a2"), "the left-out shift is reported: {err}");
    let r = json(&String::from_utf8_lossy(&out.stdout));
    let g = &r["groups"]["g"];
    let (ra, rb) = (
        g["a"]["answer_rate"].as_f64().unwrap(),
        g["b"]["answer_rate"].as_f64().unwrap(),
    );
    assert!(rb >= ra, "B {rb} < A {ra}");
    assert!(
        rb > ra + 0.05,
        "a third agent should help a lot: {ra} → {rb}"
    );
    assert!((g["diff"]["answer_rate"].as_f64().unwrap() - (rb - ra)).abs() < 1e-5);
    assert!(g["diff"]["asa_s"].as_f64().unwrap() < 0.0);
    assert_eq!(r["total"]["a"]["offered"], 400);
    assert_eq!(r["a"]["calls"], 400);
    // The text table for supervisors.
    let text = ok(&[
        "compare",
        "--trace",
        s(&trace),
        "--roster",
        s(&roster),
        s(&a),
        s(&b),
    ]);
    assert!(
        text.contains("answer rate") && text.contains("B−A"),
        "{text}"
    );
    let line = text.lines().find(|l| l.starts_with("g ")).unwrap();
    assert!(line.contains('+'), "{line}");
    assert!(text.lines().any(|l| l.starts_with("total ")), "{text}");
}
