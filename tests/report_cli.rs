//! `vaxel report` through the built binary, over a small data dir written by hand: a
//! missing day, a damaged line, a call that ended after midnight (filed under the next day)
//! and a baseline day.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VAXEL: &str = env!("CARGO_BIN_EXE_vaxel");

const HEAD: &str = "call_id,entry,from,arrived,queued,answered,ended,agent,outcome,wait_s,\
talk_s,wrapup_s,groups,digits,case_type,resolved,callback,announced_position,announced_ewt_s";

/// A fresh scratch directory, removed when dropped (at the test's end, even on a panic).
struct Dir(tempfile::TempDir);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = tempfile::Builder::new()
            .prefix(&format!("vaxel-report-cli-{name}-"))
            .tempdir()
            .unwrap();
        Dir(d)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn file(&self, name: &str, rows: &[&str]) -> PathBuf {
        let p = self.path().join(name);
        let mut text = format!("{HEAD}\n");
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        fs::write(&p, text).unwrap();
        p
    }
}

/// The data dir. Checked by hand, for 2026-03-02..2026-03-04:
/// 5 calls, all offered; answered a1 (wait 10), a3 (40), a4 (5), a5 (25); a2 abandoned
/// after 3 s (a short abandon). Within 20 s: a1, a4. Service level 2 / (5 − 1) = 50 %,
/// answer rate 80 %. a6 arrived on 2026-03-05: the baseline's only call.
fn data_dir(name: &str) -> Dir {
    let d = Dir::new(name);
    d.file(
        "cdr-2026-03-02.csv",
        &[
            "a1,city,,2026-03-02T09:00:00.000+01:00,2026-03-02T09:00:05.000+01:00,2026-03-02T09:00:15.000+01:00,2026-03-02T09:05:15.000+01:00,a1,answered,10,300,30,bygglov,,bygglov:fraga,true,,1,20",
            "a2,city,,2026-03-02T09:10:00.000+01:00,2026-03-02T09:10:05.000+01:00,,2026-03-02T09:10:08.000+01:00,,abandoned,3,0,0,bygglov,,,,,1,20",
            "a3,city,,2026-03-02T09:20:00.000+01:00,2026-03-02T09:20:05.000+01:00,2026-03-02T09:20:45.000+01:00,2026-03-02T09:22:25.000+01:00,a2,answered,40,100,20,forskola,,,false,,2,30",
        ],
    );
    d.file(
        "cdr-2026-03-04.csv",
        &[
            "a4,city,,2026-03-04T10:00:00.000+01:00,2026-03-04T10:00:05.000+01:00,2026-03-04T10:00:10.000+01:00,2026-03-04T10:03:30.000+01:00,a1,answered,5,200,0,bygglov,,,,,1,10",
            "bad,city,,2026-03-04T10:10:00.000+01:00,2026-03-04T10:10:05.000+01:00,,2026-03-04T10:10:08.000+01:00,,answred,3,0,0,bygglov,,,,,1,20",
        ],
    );
    d.file(
        "cdr-2026-03-05.csv",
        &[
            "a5,city,,2026-03-04T23:50:00.000+01:00,2026-03-04T23:50:05.000+01:00,2026-03-04T23:50:30.000+01:00,2026-03-05T00:10:00.000+01:00,a2,answered,25,1170,0,forskola,,,,,1,20",
            "a6,city,,2026-03-05T08:00:00.000+01:00,2026-03-05T08:00:05.000+01:00,2026-03-05T08:01:05.000+01:00,2026-03-05T08:03:05.000+01:00,a1,answered,60,120,0,bygglov,,,,,3,60",
        ],
    );
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(VAXEL).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> (String, String) {
    let out = run(args);
    assert!(
        out.status.success(),
        "vaxel {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_damaged_line_stops_the_run_naming_file_line_and_column() {
    let d = data_dir("damaged");
    let args = [
        "report",
        "--data-dir",
        s(d.path()),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
    ];
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cdr-2026-03-04.csv:3: column 9 (outcome): \"answred\" is not an outcome"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn skip_bad_counts_and_a_missing_day_is_named() {
    let d = data_dir("skip");
    let (text, err) = ok(&[
        "report",
        "--data-dir",
        s(d.path()),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
        "--skip-bad",
    ]);
    for want in [
        "warning: no call records for 1 day(s) of the period: 2026-03-03",
        "warning: 1 damaged line(s) skipped; the first:",
        "cdr-2026-03-04.csv:3: column 9 (outcome)",
    ] {
        assert!(err.contains(want), "{want:?} not in\n{err}");
    }
    for want in [
        "period: 2026-03-02..2026-03-04 (5 calls)",
        "warning: no call records for 1 day(s): 2026-03-03",
        "warning: 1 damaged line(s) skipped",
        "not measured: logged-in time, pause time",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args).0).unwrap()
}

#[test]
fn json_figures_by_hand_and_the_same_from_files_as_from_the_data_dir() {
    let d = data_dir("json");
    let dir = s(d.path()).to_owned();
    let common = [
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
        "--skip-bad",
        "--format",
        "json",
        "--baseline",
        "2026-03-05..2026-03-05",
    ];
    let mut args = vec!["report", "--data-dir", &dir];
    args.extend(common);
    let v = json(&args);
    let t = &v["period"]["report"]["total"];
    assert_eq!(v["period"]["report"]["calls"], 5);
    assert_eq!(t["offered"], 5);
    assert_eq!(t["answered"], 4);
    assert_eq!(t["short_abandoned"], 1);
    assert_eq!(t["answered_within_sl"], 2);
    assert_eq!(t["service_level"], 0.5);
    assert_eq!(t["answer_rate"], 0.8);
    assert_eq!(v["period"]["missing_days"][0], "2026-03-03");
    assert_eq!(v["skipped_lines"], 1);
    let agents = &v["period"]["report"]["tables"]["by_agent"]["rows"];
    assert_eq!(agents[0]["key"], "a1");
    assert_eq!(agents[0]["answered"], 2);
    assert_eq!(agents[0]["aht_s"], 265.0, "(330 + 200) / 2");
    assert_eq!(agents[0]["wrapup_s"], 15.0);
    // The baseline: a6 only, answered after 60 s.
    assert_eq!(v["baseline"]["report"]["calls"], 1);
    let c = &v["comparison"]["total"];
    assert_eq!(c["service_level"]["before"], 0.0);
    assert_eq!(c["service_level"]["after"], 0.5);
    assert_eq!(c["service_level"]["diff"], 0.5);
    assert_eq!(c["asa_s"]["before"], 60.0);
    assert_eq!(c["asa_s"]["after"], 20.0);

    // The same files given as call-record files: the same figures.
    let files: Vec<String> = ["02", "04", "05"]
        .iter()
        .map(|day| format!("{dir}/cdr-2026-03-{day}.csv"))
        .collect();
    let mut args = vec!["report", "--cdr"];
    args.extend(files.iter().map(String::as_str));
    args.extend(common);
    let w = json(&args);
    for key in ["total", "groups", "entries", "breakdowns", "tables"] {
        assert_eq!(
            w["period"]["report"][key], v["period"]["report"][key],
            "{key}"
        );
    }
    assert_eq!(w["comparison"], v["comparison"]);
    // Files read whole: every record, a6 included.
    let mut args = vec!["report", "--skip-bad", "--format", "json", "--cdr"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(json(&args)["period"]["report"]["calls"], 6);
}

#[test]
fn html_is_self_contained_and_holds_the_charts() {
    let d = data_dir("html");
    let out = d.path().join("report.html");
    ok(&[
        "report",
        "--data-dir",
        s(d.path()),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
        "--baseline",
        "2026-03-05..2026-03-05",
        "--skip-bad",
        "--format",
        "html",
        "--out",
        s(&out),
    ]);
    let html = fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let lower = html.to_lowercase();
    for banned in [
        "http",
        "<script",
        "@font-face",
        "url(",
        "<link",
        "<img",
        "<iframe",
    ] {
        assert!(!lower.contains(banned), "the report holds {banned:?}");
    }
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    for title in [
        "Calls by hour of day",
        "Calls by weekday",
        "Service level and answer rate per interval, against the target",
        "Wait-time distribution",
        "Group shares",
        "Zero measurement: before and after",
        "Zero measurement: ASA by group",
    ] {
        let at = html
            .find(title)
            .unwrap_or_else(|| panic!("no chart {title:?}"));
        // The title is drawn inside an SVG.
        let open = html[..at].rfind("<svg").unwrap();
        assert!(
            html[..at].rfind("</svg>").is_none_or(|close| close < open),
            "{title}"
        );
    }
    assert!(html.contains("<rect"), "bars are drawn");
    assert!(html.contains("<polyline"), "lines are drawn");
    assert!(html.contains("<table>"));
    assert!(html.contains("warning: no call records for 1 day(s): 2026-03-03"));
}

#[test]
fn refuses_an_interval_a_period_backwards_and_no_input() {
    let d = data_dir("refuse");
    let dir = s(d.path());
    let err = |args: &[&str]| {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    };
    let e = err(&[
        "report",
        "--data-dir",
        dir,
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
        "--interval",
        "20",
    ]);
    assert!(e.contains("the interval is 15, 30 or 60 minutes"), "{e}");
    let e = err(&[
        "report",
        "--data-dir",
        dir,
        "--from",
        "2026-03-04",
        "--to",
        "2026-03-02",
    ]);
    assert!(
        e.contains("ends (2026-03-02) before it begins (2026-03-04)"),
        "{e}"
    );
    let e = err(&["report", "--data-dir", dir]);
    assert!(e.contains("--from"), "{e}");
    let e = err(&["report"]);
    assert!(e.contains("--data-dir"), "{e}");
}

/// The report of a replay's call records agrees with the replay's own report figure by
/// figure (occupancy aside: the records hold no logged-in time), for the whole file and
/// for its days picked with --from/--to.
#[test]
fn agrees_with_the_replay_report_of_the_same_run() {
    let d = Dir::new("agree");
    let (trace, roster, cdr) = (
        d.path().join("calls.csv"),
        d.path().join("roster.csv"),
        d.path().join("cdr.csv"),
    );
    let traffic = ["--start", "2026-03-02", "--days", "2", "--seed", "3"];
    for (cmd, out) in [("gen-trace", &trace), ("gen-roster", &roster)] {
        let mut a = vec![cmd, "--out", s(out)];
        a.extend(traffic);
        ok(&a);
    }
    let (replayed, _) = ok(&[
        "replay",
        "--trace",
        s(&trace),
        "--roster",
        s(&roster),
        "--cdr",
        s(&cdr),
        "--report",
        "json",
    ]);
    let mut want: serde_json::Value = serde_json::from_str(&replayed).unwrap();
    assert!(want["calls"].as_u64().unwrap() > 1000);
    let without_occupancy = |v: &mut serde_json::Value| {
        v["total"]["occupancy"] = 0.0.into();
        for g in v["groups"].as_object_mut().unwrap().values_mut() {
            g["occupancy"] = 0.0.into();
        }
    };
    without_occupancy(&mut want);
    // The Erlang C references and the first repeated announcement need what the engine
    // knew at the announcement, which cdr.csv does not carry: only the replay scores them
    // (docs/reports.md); from the files every announced caller is `unknown` there.
    let replay_only = ["erlang_c", "erlang_c_load", "repeated"];
    let announced = want["ewt_accuracy"]["total"]["answered"]
        .as_u64()
        .unwrap_or(0)
        + want["ewt_accuracy"]["total"]["abandoned"]
            .as_u64()
            .unwrap_or(0)
        + want["ewt_accuracy"]["total"]["unknown"]
            .as_u64()
            .unwrap_or(0);
    assert!(want["ewt_accuracy"]["erlang_c"]["total"]["answered"].as_u64() > Some(0));
    for key in replay_only {
        want["ewt_accuracy"][key] = serde_json::Value::Null;
    }
    for dates in [&[][..], &["--from", "2026-03-02", "--to", "2026-03-03"]] {
        let mut a = vec!["report", "--format", "json", "--cdr", s(&cdr)];
        a.extend(dates);
        let mut got = json(&a);
        let got = &mut got["period"]["report"];
        let reference = &got["ewt_accuracy"]["erlang_c"]["total"];
        assert_eq!(reference["answered"], 0, "{dates:?}");
        assert_eq!(reference["abandoned"], 0, "{dates:?}");
        // Every announced call, whatever its outcome.
        assert!(
            reference["unknown"].as_u64() >= Some(announced),
            "{dates:?}"
        );
        assert_eq!(got["ewt_accuracy"]["repeated"]["total"]["answered"], 0);
        for key in replay_only {
            got["ewt_accuracy"][key] = serde_json::Value::Null;
        }
        for key in [
            "calls",
            "total",
            "groups",
            "entries",
            "breakdowns",
            "ewt_accuracy",
        ] {
            assert_eq!(got[key], want[key], "{key} {dates:?}");
        }
    }
}
