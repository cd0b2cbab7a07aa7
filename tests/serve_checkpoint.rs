//! Checkpoints of a centre that is never idle (agents always logged in, calls in flight):
//! snapshots bound what a restart replays, and every call goes on across a `kill -9`.
//! And the call-record files, fsynced off the ack path: whatever a crash kept off them is
//! written again from the journal, each record exactly once.

mod serve_support;

use serve_support::{Client, Daemon, records, site_and_data, wait_records};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// The agent a `connect` for `call` among `lines` rings.
fn connected(lines: &[String], call: &str) -> Option<String> {
    let prefix = format!(r#"{{"cmd":"connect","call":"{call}","agent":""#);
    lines.iter().find_map(|l| {
        l.strip_prefix(&prefix)
            .and_then(|r| r.split('"').next())
            .map(str::to_owned)
    })
}

/// Each call id once, and how many records it has.
fn per_call(r: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (id, _) in r {
        *m.entry(id.clone()).or_insert(0) += 1;
    }
    m
}

/// Journal and snapshot files in the data dir (sorted).
fn durable_files(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(data)
        .expect("data dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("journal-") || n.starts_with("snapshot-"))
        .collect();
    v.sort();
    v
}

/// The daemon's log without terminal colours.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `entries=N` of the log's last `journal replayed` line.
fn replayed_entries(log: &str) -> Option<u64> {
    let log = plain(log);
    let line = log.lines().rfind(|l| l.contains("journal replayed"))?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("entries="))
        .and_then(|n| n.parse().ok())
}

/// A little traffic with both agents logged in throughout: `calls` calls, one after the
/// other, arrive, are answered and hang up. Returns the next `at` and `seq`.
fn traffic(p: &mut Client, first: u64, calls: u64, at: &mut u64, seq: &mut u64) {
    for i in first..first + calls {
        let call = format!("c{i}");
        *at += 100;
        *seq += 1;
        let lines = p.until_ok(&format!(
                r#"{{"ev":"call.arrived","call":"{call}","to":"+4610100","from":"+4671","at":{at},"seq":{seq}}}"#
            ));
        let agent = connected(&lines, &call).expect("connected at once");
        *at += 100;
        *seq += 1;
        p.until_ok(&format!(
            r#"{{"ev":"call.answered","call":"{call}","agent":"{agent}","at":{at},"seq":{seq}}}"#
        ));
        *at += 100;
        *seq += 1;
        p.until_ok(&format!(
            r#"{{"ev":"call.hangup","call":"{call}","at":{at},"seq":{seq}}}"#
        ));
    }
}

#[test]
fn checkpoints_with_calls_in_flight_bound_replay_and_every_call_goes_on_after_kill_9() {
    let (site, data) = site_and_data("checkpoint-busy");
    let d = Daemon::start_with(&site, &data, &[], &["--checkpoint-every", "7"]);
    let mut p = d.platform("pbx-1");
    p.two_agents_in();
    let (mut at, mut seq) = (1000, 2);
    traffic(&mut p, 1, 20, &mut at, &mut seq);
    // Calls in flight: one talking, one ringing, one queued.
    at += 100;
    seq += 1;
    let lines = p.until_ok(&format!(
            r#"{{"ev":"call.arrived","call":"t1","to":"+4610100","from":"+4672","at":{at},"seq":{seq}}}"#
        ));
    let talking = connected(&lines, "t1").expect("t1 connected");
    at += 100;
    seq += 1;
    p.until_ok(&format!(
        r#"{{"ev":"call.answered","call":"t1","agent":"{talking}","at":{at},"seq":{seq}}}"#
    ));
    at += 100;
    seq += 1;
    let lines = p.until_ok(&format!(
            r#"{{"ev":"call.arrived","call":"r1","to":"+4610100","from":"+4673","at":{at},"seq":{seq}}}"#
        ));
    let ringing = connected(&lines, "r1").expect("r1 connected");
    assert_ne!(talking, ringing);
    at += 100;
    seq += 1;
    let lines = p.until_ok(&format!(
            r#"{{"ev":"call.arrived","call":"q1","to":"+4610100","from":"+4674","at":{at},"seq":{seq}}}"#
        ));
    assert!(
        lines[0].starts_with(r#"{"cmd":"queue","call":"q1""#),
        "{lines:?}"
    );
    // 66 inputs, a checkpoint every 7: epoch 10 (the last one made after the 63rd input),
    // the previous one kept, older ones removed.
    let until = Instant::now() + Duration::from_secs(5);
    while durable_files(&data)
        != [
            "journal-00000009.log",
            "journal-00000010.log",
            "snapshot-00000009.json",
            "snapshot-00000010.json",
        ]
    {
        assert!(
            Instant::now() < until,
            "{:?}\nlog:\n{}",
            durable_files(&data),
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !d.log_text().contains("checkpoint skipped"),
        "{}",
        d.log_text()
    );
    let before = wait_records(&data, |r| r.len() >= 20);
    assert_eq!(before.len(), 20, "{before:?}");
    d.kill9();
    drop(p);

    // The restart restores the snapshot and replays only the epoch's tail.
    let d = Daemon::start(&site, &data, &[]);
    let log = plain(&d.log_text());
    assert!(
        log.contains(r#"snapshot="snapshot-00000010.json""#),
        "log:\n{log}"
    );
    let replayed = replayed_entries(&log);
    assert!(
        replayed.is_some_and(|n| n <= 4),
        "{replayed:?}\nlog:\n{log}"
    );
    let mut p = d.platform("pbx-1");
    // Every call goes on: the ringing one is answered, the talking one ends and the
    // queued one gets its agent.
    seq = 0;
    at += 100;
    seq += 1;
    p.until_ok(&format!(
        r#"{{"ev":"call.answered","call":"r1","agent":"{ringing}","at":{at},"seq":{seq}}}"#
    ));
    at += 100;
    seq += 1;
    let lines = p.until_ok(&format!(
        r#"{{"ev":"call.hangup","call":"t1","at":{at},"seq":{seq}}}"#
    ));
    assert_eq!(connected(&lines, "q1").as_deref(), Some(talking.as_str()));
    at += 100;
    seq += 1;
    p.until_ok(&format!(
        r#"{{"ev":"call.answered","call":"q1","agent":"{talking}","at":{at},"seq":{seq}}}"#
    ));
    for call in ["r1", "q1"] {
        at += 100;
        seq += 1;
        p.until_ok(&format!(
            r#"{{"ev":"call.hangup","call":"{call}","at":{at},"seq":{seq}}}"#
        ));
    }
    wait_records(&data, |r| r.len() >= 23);
    drop(p);
    assert!(d.term().success());

    // A clean stop checkpoints: the next start replays nothing and writes nothing again.
    let d = Daemon::start(&site, &data, &[]);
    assert_eq!(replayed_entries(&d.log_text()), Some(0), "{}", d.log_text());
    assert!(d.term().success());
    let r = records(&data);
    let n = per_call(&r);
    assert_eq!(n.len(), 23, "{r:?}");
    assert!(n.values().all(|&k| k == 1), "{r:?}");
    assert!(r.iter().all(|(_, o)| o == "answered"), "{r:?}");
}

/// Cuts the last `lines` whole lines off the newest call-record file, and leaves half of
/// the one before: what a power loss may leave of records not yet fsynced.
fn lose_records_tail(data: &Path, lines: usize) {
    let f = serve_support::data_files(data, "cdr-", ".csv")
        .pop()
        .expect("a records file");
    let text = fs::read(&f).expect("read records");
    let mut ends: Vec<usize> = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    ends.truncate(ends.len() - lines);
    let keep = ends[ends.len() - 1];
    let half = keep - (keep - ends[ends.len() - 2]) / 2;
    fs::write(&f, &text[..half]).expect("cut records");
}

#[test]
fn records_kept_off_disk_by_a_crash_are_written_again_exactly_once() {
    let (site, data) = site_and_data("records-async");
    let d = Daemon::start_with(&site, &data, &[], &["--checkpoint-every", "25"]);
    let mut p = d.platform("pbx-1");
    p.two_agents_in();
    let (mut at, mut seq) = (1000, 2);
    traffic(&mut p, 1, 12, &mut at, &mut seq);
    // kill -9 right after the traffic: the last records may not even be written yet.
    d.kill9();
    drop(p);
    let d = Daemon::start(&site, &data, &[]);
    assert!(d.term().success());
    let r = records(&data);
    assert_eq!(r.len(), 12, "{r:?}");
    assert!(per_call(&r).values().all(|&k| k == 1), "{r:?}");

    // Now the records' tail is lost (written to the OS but not fsynced when the power
    // went), while the journal has the calls: they are written again, once.
    let d = Daemon::start_with(&site, &data, &[], &["--checkpoint-every", "25"]);
    let mut p = d.platform("pbx-1");
    traffic(&mut p, 13, 6, &mut at, &mut seq);
    wait_records(&data, |r| r.len() >= 18);
    d.kill9();
    drop(p);
    lose_records_tail(&data, 3);
    assert_eq!(records(&data).len(), 14);
    let d = Daemon::start(&site, &data, &[]);
    let log = plain(&d.log_text());
    assert!(
        log.contains("dropped a torn last line of a call-record file"),
        "{log}"
    );
    assert!(log.contains("records_written_again=4"), "{log}");
    assert!(d.term().success());
    let r = records(&data);
    let n = per_call(&r);
    assert_eq!(n.len(), 18, "{r:?}");
    assert!(n.values().all(|&k| k == 1), "{r:?}");
    let ids: Vec<&str> = r.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<String> = (1..=18).map(|i| format!("c{i}")).collect();
    assert_eq!(ids, want.iter().map(String::as_str).collect::<Vec<_>>());
}
