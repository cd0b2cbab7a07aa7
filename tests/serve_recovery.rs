//! `vaxel serve` on a data dir across a `kill -9`, checkpoints, and SIGHUP reloads.

mod serve_support;

use serve_support::{
    Daemon, SITE, records, site_and_data, site_plus, temp_dir, wait_records, write_site,
};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

fn count(records: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (id, _) in records {
        *m.entry(id.clone()).or_insert(0) += 1;
    }
    m
}

/// The newest journal file.
fn journal(data: &Path) -> std::path::PathBuf {
    serve_support::data_files(data, "journal-", ".log")
        .pop()
        .expect("a journal file")
}

#[test]
fn kill_9_then_restart_continues_every_call_and_writes_each_record_once() {
    let (site, data) = site_and_data("crash");

    let d = Daemon::start(&site, &data, &[]);
    let mut p = d.platform("pbx-1");
    p.three_calls_two_ringing();
    assert_eq!(wait_records(&data, |r| !r.is_empty()).len(), 1);
    d.kill9();
    drop(p);

    // A torn write at the end of the journal, as a crash mid-append leaves it.
    fs::OpenOptions::new()
        .append(true)
        .open(journal(&data))
        .and_then(|mut f| f.write_all(&[0x40, 0, 0, 0, 1, 2, 3]))
        .expect("append torn bytes");

    let d = Daemon::start(&site, &data, &[]);
    assert!(
        d.log_text().contains("dropped a torn last record"),
        "log:\n{}",
        d.log_text()
    );
    let mut p = d.platform("pbx-1");
    // Both ringing calls are still there, with their agents.
    p.acked(r#"{"ev":"call.answered","call":"c2","agent":"a2","at":7000,"seq":1}"#);
    p.acked(r#"{"ev":"call.answered","call":"c3","agent":"a1","at":7100,"seq":2}"#);
    // The time went on from where it was.
    p.send(r#"{"ev":"tick","at":6500}"#);
    p.expect_error("time_went_backwards");
    p.acked(r#"{"ev":"call.hangup","call":"c2","at":8000,"seq":3}"#);
    p.acked(r#"{"ev":"call.hangup","call":"c3","at":9000,"seq":4}"#);
    let r = wait_records(&data, |r| r.len() >= 3);
    drop(p);
    assert!(d.term().success());

    // And once more, cleanly: nothing is written again.
    let d = Daemon::start(&site, &data, &[]);
    assert!(d.term().success());
    assert_eq!(records(&data), r);
    let n = count(&r);
    assert_eq!(n.len(), 3, "{r:?}");
    assert!(n.values().all(|&k| k == 1), "{r:?}");
    assert!(r.iter().all(|(_, o)| o == "answered"), "{r:?}");
}

#[test]
fn checkpoint_after_every_input_and_recovery_from_it() {
    let dir = temp_dir("checkpoint");
    let site = write_site(&dir, SITE);
    let data = dir.join("data");
    let d = Daemon::start_with(&site, &data, &[], &["--checkpoint-every", "1"]);
    let mut p = d.platform("pbx-1");
    p.one_answered_call("+4671");
    p.acked(r#"{"ev":"agent.logout","agent":"a1","at":5000,"seq":5}"#);
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":6000,"seq":6}"#);
    p.call(
        r#"{"ev":"call.arrived","call":"c2","to":"+4610100","from":"+4672","at":7000,"seq":7}"#,
        &[
            r#"{"cmd":"connect","call":"c2","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":7}"#,
        ],
    );
    // A checkpoint after every input: a snapshot and a new epoch each time (the last one
    // is made right after the ack), the previous epoch kept, older ones removed.
    // The new epoch's file appears before the older files are removed: wait for both.
    let until = Instant::now() + Duration::from_secs(5);
    while !journal(&data)
        .to_string_lossy()
        .ends_with("journal-00000008.log")
        || data.join("snapshot-00000006.json").exists()
    {
        assert!(Instant::now() < until, "{:?}", journal(&data));
        std::thread::sleep(Duration::from_millis(10));
    }
    // The older epochs are removed right after the new journal is made: wait for that
    // too (bounded), or a busy machine sees them still there.
    let want = [
        "LOCK",
        "journal-00000007.log",
        "journal-00000008.log",
        "snapshot-00000007.json",
        "snapshot-00000008.json",
    ];
    loop {
        let mut files: Vec<String> = fs::read_dir(&data)
            .expect("data dir")
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with("cdr-") && !n.starts_with("events-"))
            .collect();
        files.sort();
        if files == want {
            break;
        }
        assert!(Instant::now() < until, "{files:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    d.kill9();
    drop(p);
    let d = Daemon::start(&site, &data, &[]);
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"call.answered","call":"c2","agent":"a1","at":8000,"seq":1}"#);
    p.acked(r#"{"ev":"call.hangup","call":"c2","at":9000,"seq":2}"#);
    let r = wait_records(&data, |r| r.len() >= 2);
    drop(p);
    assert!(d.term().success());
    assert_eq!(
        records(&data),
        vec![
            ("c1".to_owned(), "answered".to_owned()),
            ("c2".to_owned(), "answered".to_owned())
        ],
        "{r:?}"
    );
}

#[test]
fn sighup_reloads_a_valid_config_and_keeps_the_old_one_otherwise() {
    let dir = temp_dir("reload");
    let site = write_site(&dir, SITE);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut p = d.platform("pbx-1");
    p.call(
        r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+4671","at":1000,"seq":1}"#,
        &[
            r#"{"cmd":"queue","call":"c1","group":"sales","position":1}"#,
            r#"{"cmd":"ok","seq":1}"#,
        ],
    );
    p.send(r#"{"ev":"agent.login","agent":"a3","at":1100,"seq":2}"#);
    p.expect_error("unknown_agent");

    // Valid: a new agent; the waiting call stays and is offered to her.
    write_site(&dir, &site_plus());
    d.hup();
    d.wait_log(": reloaded", 1);
    let at = 1110;
    p.call(
        r#"{"ev":"agent.login","agent":"a3","at":1110,"seq":3}"#,
        &[
            r#"{"cmd":"connect","call":"c1","agent":"a3","extension":"1003","ring_s":20}"#,
            r#"{"cmd":"ok","seq":3}"#,
        ],
    );

    // Invalid: refused, the running configuration stays.
    write_site(&dir, "[site]\nname = \n");
    d.hup();
    d.wait_log("reload refused", 1);
    // Refused by the engine: a3 is logged in and would be missing.
    write_site(&dir, SITE);
    d.hup();
    d.wait_log("reload refused", 2);
    let log = d.log_text();
    assert!(log.contains("the configuration is invalid"), "{log}");
    assert!(log.contains("reload refused by the engine"), "{log}");
    // Still the configuration with a3, and c1 still ringing her.
    p.acked(&format!(
        r#"{{"ev":"call.answered","call":"c1","agent":"a3","at":{},"seq":100}}"#,
        at + 10
    ));
    drop(p);
    assert!(d.term().success());
}

#[test]
fn a_second_daemon_on_a_data_dir_in_use_refuses_to_start() {
    let dir = temp_dir("locked");
    let site = write_site(&dir, SITE);
    let data = dir.join("data");
    let d = Daemon::start(&site, &data, &[]);

    serve_support::refuses_to_start(&site, &data, &["is in use by another vaxel serve"]);

    // Once the first has stopped (even by kill -9), the dir is free again.
    d.kill9();
    let d = Daemon::start(&site, &data, &[]);
    assert!(d.term().success());
}

/// Issue 12 #8: deleting `LOCK` under a running daemon let a second one start on the same
/// data dir.
#[test]
fn the_lock_holds_when_lock_is_deleted() {
    let (site, data) = site_and_data("lock-deleted");
    let d = Daemon::start(&site, &data, &[]);
    std::fs::remove_file(data.join("LOCK")).expect("delete LOCK");

    serve_support::refuses_to_start(&site, &data, &["is in use by another vaxel serve"]);
    assert!(d.term().success());
    let d = Daemon::start(&site, &data, &[]);
    assert!(d.term().success());
}

#[test]
fn a_damaged_snapshot_is_refused_not_restored_from() {
    let (site, data) = site_and_data("damaged");
    let d = Daemon::start_with(&site, &data, &[], &["--checkpoint-every", "1"]);
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
    p.acked(r#"{"ev":"agent.logout","agent":"a1","at":2000,"seq":2}"#);
    drop(p);
    assert!(d.term().success());

    // Bit rot in the newest snapshot: one digit changed, still valid JSON.
    let newest = serve_support::data_files(&data, "snapshot-", ".json")
        .pop()
        .expect("a snapshot");
    let mut bytes = fs::read(&newest).expect("read the snapshot");
    let d = bytes.iter().rposition(u8::is_ascii_digit).expect("a digit");
    bytes[d] = if bytes[d] == b'9' { b'8' } else { bytes[d] + 1 };
    fs::write(&newest, &bytes).expect("write the snapshot");

    serve_support::refuses_to_start(&site, &data, &["is damaged"]);
}
