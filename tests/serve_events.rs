//! The daemon's event log (`events-YYYY-MM-DD.csv` in the data dir, docs/formats.md): written
//! beside the call records and rebuilt from the journal after a `kill -9`.

mod serve_support;

use serve_support::{Client, Daemon, site_and_data, wait_records};
use std::fs;
use std::path::{Path, PathBuf};

/// The event-log files of a data dir, by name, with their bytes.
fn event_files(data: &Path) -> Vec<(String, Vec<u8>)> {
    serve_support::data_files(data, "events-", ".csv")
        .into_iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (name.unwrap_or_default(), fs::read(&p).expect("event file"))
        })
        .collect()
}

/// The two ringing calls are answered and end; an agent pauses and logs out.
fn second_half(p: &mut Client) {
    p.acked(r#"{"ev":"call.answered","call":"c2","agent":"a2","at":7000,"seq":1}"#);
    p.call(
        r#"{"ev":"call.noanswer","call":"c3","agent":"a1","at":7100,"seq":2}"#,
        // Nobody else is free: offered to a1 again.
        &[
            r#"{"cmd":"connect","call":"c3","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":2}"#,
        ],
    );
    p.acked(r#"{"ev":"call.hangup","call":"c2","reason":"agent","at":8000,"seq":3}"#);
    p.acked(r#"{"ev":"call.hangup","call":"c3","at":9000,"seq":4}"#);
    p.acked(r#"{"ev":"agent.pause","agent":"a1","reason":"lunch","at":10000,"seq":5}"#);
    p.acked(r#"{"ev":"agent.logout","agent":"a1","at":11000,"seq":6}"#);
}

/// Runs both halves on a fresh data dir; with `crash`, the daemon is killed with SIGKILL
/// between them and the event log is damaged (its last line torn, as a crash mid-write
/// leaves it) before the restart.
fn run(name: &str, crash: bool) -> (Vec<(String, Vec<u8>)>, PathBuf, PathBuf) {
    let (site, data) = site_and_data(name);
    let d = Daemon::start(&site, &data, &[]);
    let mut p = d.platform("pbx-1");
    p.three_calls_two_ringing();
    assert_eq!(wait_records(&data, |r| !r.is_empty()).len(), 1);
    drop(p);
    let d = if crash {
        d.kill9();
        for (file, bytes) in event_files(&data) {
            // Cut in the middle of a line: recovery drops the torn line and writes the
            // rest again from the journal.
            let keep = (bytes.len() * 2 / 3) as u64;
            let f = fs::OpenOptions::new()
                .write(true)
                .open(data.join(&file))
                .expect("event file");
            f.set_len(keep).expect("truncate");
        }
        Daemon::start(&site, &data, &[])
    } else {
        d
    };
    let mut p = d.platform("pbx-1");
    second_half(&mut p);
    wait_records(&data, |r| r.len() >= 3);
    drop(p);
    assert!(d.term().success());
    (event_files(&data), site, data)
}

#[test]
fn the_event_log_after_a_kill_9_equals_an_uninterrupted_runs() {
    let (whole, site, data) = run("events-whole", false);
    let (crashed, _, _) = run("events-crash", true);
    assert_eq!(whole.len(), 1, "one day's file: {whole:?}");
    let text = String::from_utf8_lossy(&whole[0].1).into_owned();
    for kind in [
        ",login,",
        ",queued,",
        ",announced,",
        ",offered,",
        ",connected,",
        ",no_answer,",
        ",talk_ended,",
        ",ended,",
        ",paused,",
        ",logout,",
    ] {
        assert!(text.contains(kind), "no {kind} in:\n{text}");
    }
    assert!(
        text.contains(",answered,agent,"),
        "c2 was hung up by the agent:\n{text}"
    );
    assert_eq!(
        whole
            .iter()
            .map(|(n, b)| (n.clone(), String::from_utf8_lossy(b).into_owned()))
            .collect::<Vec<_>>(),
        crashed
            .iter()
            .map(|(n, b)| (n.clone(), String::from_utf8_lossy(b).into_owned()))
            .collect::<Vec<_>>()
    );

    // The data dir's event log as Asterisk's queue_log.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vaxel"));
    cmd.arg("export")
        .args(["--format", "queue_log", "--config"]);
    cmd.arg(&site).arg("--data-dir").arg(&data);
    cmd.args(["--from", "1970-01-01", "--to", "1970-01-01"]);
    let out = serve_support::output_within(&mut cmd, std::time::Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ql = String::from_utf8_lossy(&out.stdout);
    for line in [
        "2|c1|sales|NONE|ENTERQUEUE||+4671|1",
        "3|c1|sales|a1|CONNECT|1|c1-a1|1",
        "6|c1|sales|a1|COMPLETECALLER|1|3|1",
        "7|c3|sales|a1|RINGNOANSWER|1100",
        "8|c2|sales|a2|COMPLETEAGENT|3|1|1",
        "9|c3|sales|NONE|ABANDON|1|1|4",
        "10|NONE|NONE|a1|PAUSEALL|lunch",
        "11|NONE|NONE|a1|AGENTLOGOFF||10",
    ] {
        assert!(ql.lines().any(|l| l == line), "no {line:?} in:\n{ql}");
    }
}
