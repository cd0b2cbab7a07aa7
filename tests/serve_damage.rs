//! `vaxel serve` on a damaged data dir (issue 12 #2): only a torn tail is dropped; other
//! damage refuses to start naming the file and offset; `--salvage` sets the damaged files
//! aside and starts from what is intact; call-record files are rebuilt from the journal.

mod serve_support;

use serve_support::{Daemon, data_files, records, refuses_to_start, site_and_data};
use std::fs;
use std::path::{Path, PathBuf};

/// Logs a1 in and out `n` times (2n acknowledged inputs), then kills the daemon (a clean
/// stop would checkpoint into a new epoch).
fn journal_with_inputs(site: &Path, data: &Path, n: u64, args: &[&str]) {
    let d = Daemon::start_with(site, data, &[], args);
    let mut p = d.platform("pbx-1");
    for i in 0..n {
        let (seq, at) = (2 * i + 1, 1000 + 10 * i);
        p.call(
            &format!(r#"{{"ev":"agent.login","agent":"a1","at":{at},"seq":{seq}}}"#),
            &[&format!(r#"{{"cmd":"ok","seq":{seq}}}"#)],
        );
        p.call(
            &format!(
                r#"{{"ev":"agent.logout","agent":"a1","at":{},"seq":{}}}"#,
                at + 5,
                seq + 1
            ),
            &[&format!(r#"{{"cmd":"ok","seq":{}}}"#, seq + 1)],
        );
    }
    drop(p);
    d.kill9();
}

/// The byte offsets of the records of a journal file.
fn record_offsets(path: &Path) -> Vec<usize> {
    let data = fs::read(path).expect("read the journal");
    let mut at = 0;
    let mut out = Vec::new();
    while at + 8 <= data.len() {
        out.push(at);
        let len = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        at += 8 + len as usize;
    }
    out
}

/// Changes one byte inside the payload of the record at `offset`.
fn flip_payload_byte(path: &Path, offset: usize) {
    let mut data = fs::read(path).expect("read the journal");
    data[offset + 12] ^= 0x01;
    fs::write(path, data).expect("write the journal");
}

/// The dirs `--salvage` set damaged files aside in.
fn damaged_dirs(data: &Path) -> Vec<PathBuf> {
    data_files(data, "damaged-", "")
}

#[track_caller]
fn refuses(site: &Path, data: &Path, wants: &[&str]) -> String {
    let stderr = refuses_to_start(site, data, wants);
    assert!(stderr.contains("--salvage"), "{stderr}");
    stderr
}

#[test]
fn a_byte_flipped_mid_journal_refuses_then_salvage_sets_it_aside() {
    let (site, data) = site_and_data("damage-mid");
    journal_with_inputs(&site, &data, 20, &[]);
    let path = data.join("journal-00000001.log");
    let offsets = record_offsets(&path);
    let before = fs::read(&path).expect("read");
    let mid = offsets[offsets.len() / 2];
    let after = (offsets.len() - offsets.len() / 2 - 1) as u64;
    flip_payload_byte(&path, mid);
    let flipped = fs::read(&path).expect("read");

    refuses(
        &site,
        &data,
        &[
            "journal-00000001.log",
            &format!("byte offset {mid}"),
            &format!("{after} valid entries after the damage"),
        ],
    );
    // Nothing was changed: not cut, not removed.
    assert_eq!(fs::read(&path).expect("read"), flipped);
    assert_ne!(flipped, before);

    let d = Daemon::start_with(&site, &data, &[], &["--salvage"]);
    let log = d.log_text();
    assert!(
        log.contains(&format!(
            "journal epoch 1, the {after} entries after byte offset {mid}"
        )),
        "{log}"
    );
    let aside = damaged_dirs(&data);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        fs::read(aside[0].join("journal-00000001.log")).expect("set aside"),
        flipped,
        "the damaged file is kept whole"
    );
    // A new epoch starts from what was intact, and the daemon serves.
    assert!(data.join("journal-00000002.log").exists());
    assert!(data.join("snapshot-00000002.json").exists());
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"agent.login","agent":"a2","at":5000,"seq":1}"#);
    drop(p);
    assert!(d.term().success());
    // And it starts again without --salvage.
    let d = Daemon::start(&site, &data, &[]);
    assert!(d.term().success());
}

#[test]
fn a_torn_tail_is_dropped_with_its_offset_and_the_daemon_serves_on() {
    let (site, data) = site_and_data("damage-tail");
    journal_with_inputs(&site, &data, 3, &[]);
    let path = data.join("journal-00000001.log");
    let len = fs::metadata(&path).expect("journal").len();
    // A record cut short, as a crash mid-append leaves it.
    let mut data_bytes = fs::read(&path).expect("read");
    let last = *record_offsets(&path).last().expect("records");
    let torn: Vec<u8> = data_bytes[last..].to_vec();
    data_bytes.extend_from_slice(&torn[..torn.len() - 3]);
    fs::write(&path, &data_bytes).expect("write");

    let d = Daemon::start(&site, &data, &[]);
    let log = d.log_text();
    assert!(log.contains("dropped a torn last record"), "{log}");
    assert!(log.contains(&format!("offset={len}")), "{log}");
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":5000,"seq":1}"#);
    drop(p);
    assert!(d.term().success());
    assert!(damaged_dirs(&data).is_empty());
}

#[test]
fn a_damaged_first_entry_refuses_to_start() {
    let (site, data) = site_and_data("damage-first");
    journal_with_inputs(&site, &data, 3, &[]);
    let path = data.join("journal-00000001.log");
    flip_payload_byte(&path, 0);
    let flipped = fs::read(&path).expect("read");
    refuses(
        &site,
        &data,
        &[
            "journal-00000001.log",
            "byte offset 0",
            "6 valid entries after it",
        ],
    );
    assert_eq!(fs::read(&path).expect("still there"), flipped);

    // Salvage: nothing before epoch 1, so a fresh epoch; the file is kept aside.
    let d = Daemon::start_with(&site, &data, &[], &["--salvage"]);
    let log = d.log_text();
    assert!(
        log.contains("journal epoch 1, all its entries (6 readable)"),
        "{log}"
    );
    assert!(d.term().success());
    let aside = damaged_dirs(&data);
    assert_eq!(aside.len(), 1);
    assert_eq!(
        fs::read(aside[0].join("journal-00000001.log")).expect("kept"),
        flipped
    );
}

#[test]
fn an_emptied_newest_journal_refuses_to_start() {
    let (site, data) = site_and_data("damage-empty");
    journal_with_inputs(&site, &data, 2, &["--checkpoint-every", "1"]);
    let mut journals = data_files(&data, "journal-", ".log");
    let newest = journals.pop().expect("a journal");
    fs::write(&newest, b"").expect("empty it");
    let name = newest.file_name().and_then(|n| n.to_str()).expect("name");
    refuses(&site, &data, &[name, "is empty"]);
    assert!(newest.exists(), "not removed");
}

#[test]
fn a_deleted_newest_journal_refuses_to_start_and_salvage_falls_back() {
    let (site, data) = site_and_data("damage-deleted");
    journal_with_inputs(&site, &data, 2, &["--checkpoint-every", "1"]);
    let mut journals = data_files(&data, "journal-", ".log");
    let newest = journals.pop().expect("a journal");
    let name = newest
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_owned();
    let snap = newest.with_extension("json");
    let snap = snap.with_file_name(
        snap.file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .replace("journal-", "snapshot-"),
    );
    assert!(snap.exists(), "{snap:?}");
    fs::remove_file(&newest).expect("delete it");
    refuses(&site, &data, &[&name, "is missing"]);
    assert!(snap.exists(), "the snapshot is not removed");

    let d = Daemon::start_with(&site, &data, &[], &["--salvage"]);
    assert!(d.log_text().contains("all its entries"), "{}", d.log_text());
    assert!(d.term().success());
    let aside = damaged_dirs(&data);
    assert_eq!(aside.len(), 1);
    assert!(aside[0].join(snap.file_name().expect("name")).exists());
}

/// Two calls ending on two days (two records files); one call per day.
fn two_days_of_calls(site: &Path, data: &Path, args: &[&str]) {
    let d = Daemon::start_with(site, data, &[], args);
    let mut p = d.platform("pbx-1");
    let day2 = 23 * 3_600_000;
    p.one_answered_call("+4671");
    p.call(
        &format!(
            r#"{{"ev":"call.arrived","call":"c2","to":"+4610100","from":"+4672","at":{},"seq":5}}"#,
            day2
        ),
        &[
            r#"{"cmd":"connect","call":"c2","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":5}"#,
        ],
    );
    p.acked(&format!(
        r#"{{"ev":"call.answered","call":"c2","agent":"a1","at":{},"seq":6}}"#,
        day2 + 1000
    ));
    p.acked(&format!(
        r#"{{"ev":"call.hangup","call":"c2","at":{},"seq":7}}"#,
        day2 + 2000
    ));
    serve_support::wait_records(data, |r| r.len() >= 2);
    drop(p);
    d.kill9();
}

#[test]
fn a_deleted_records_file_is_rebuilt_from_the_journal() {
    let (site, data) = site_and_data("damage-records");
    two_days_of_calls(&site, &data, &[]);
    let files = data_files(&data, "cdr-", ".csv");
    assert_eq!(files.len(), 2, "{files:?}");
    let want = records(&data);
    // The first day's file is deleted; the second is whole.
    fs::remove_file(&files[0]).expect("delete");

    let d = Daemon::start(&site, &data, &[]);
    let log = d.log_text();
    assert!(log.contains("rebuilt from the journal"), "{log}");
    assert!(d.term().success());
    assert_eq!(records(&data), want, "each record once, in its day's file");
}

#[test]
fn records_lost_with_no_journal_holding_them_are_reported() {
    let (site, data) = site_and_data("damage-records-lost");
    two_days_of_calls(&site, &data, &["--checkpoint-every", "1"]);
    let files = data_files(&data, "cdr-", ".csv");
    // The first day's records were written two epochs back: no journal kept holds them.
    fs::remove_file(&files[0]).expect("delete");
    let d = Daemon::start(&site, &data, &[]);
    let log = d.log_text();
    assert!(log.contains("ERROR"), "{log}");
    assert!(
        log.contains("call records of earlier journal epochs are lost"),
        "{log}"
    );
    let m = serve_support::http_get_all(d.http, "/metrics");
    assert!(m.lines().any(|l| l == "vaxel_records_files_lost 1"), "{m}");
    assert!(d.term().success());
}

/// A crash during a checkpoint (the new epoch's journal not yet installed) is not damage:
/// the temporary journal and its snapshot are cleared and the previous epoch goes on.
#[test]
fn an_interrupted_checkpoint_is_not_damage() {
    let (site, data) = site_and_data("damage-interrupted");
    journal_with_inputs(&site, &data, 1, &[]);
    // As `rotate` leaves it when killed between the snapshot and the rename.
    fs::copy(
        data.join("journal-00000001.log"),
        data.join("journal-00000002.log.tmp"),
    )
    .expect("temporary journal");
    fs::write(data.join("snapshot-00000002.json"), b"{}").expect("snapshot");
    let d = Daemon::start(&site, &data, &[]);
    let log = d.log_text();
    assert!(log.contains("interrupted by a crash"), "{log}");
    assert!(!data.join("journal-00000002.log.tmp").exists());
    let mut p = d.platform("pbx-1");
    // a1 logged in and out: the epoch's inputs are all there.
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":5000,"seq":1}"#);
    drop(p);
    assert!(d.term().success());
    assert!(damaged_dirs(&data).is_empty());
}

/// A journal cut at a record boundary looks whole, but the call records written after its
/// lost entries say otherwise: refused, not served from silently.
#[test]
fn a_journal_cut_short_of_its_call_records_refuses_to_start() {
    let (site, data) = site_and_data("damage-cut");
    let d = Daemon::start(&site, &data, &[]);
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
    p.call(
        r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+4671","at":2000,"seq":2}"#,
        &[
            r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":2}"#,
        ],
    );
    p.acked(r#"{"ev":"call.hangup","call":"c1","at":3000,"seq":3}"#);
    serve_support::wait_records(&data, |r| r.len() == 1);
    drop(p);
    d.kill9();
    let path = data.join("journal-00000001.log");
    let last = *record_offsets(&path).last().expect("records");
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_len(last as u64).expect("cut");
    drop(f);
    refuses(
        &site,
        &data,
        &[
            "journal-00000001.log",
            &format!("up to byte offset {last}"),
            "acknowledged entries were cut",
        ],
    );
    let d = Daemon::start_with(&site, &data, &[], &["--salvage"]);
    d.kill9();
    // The salvage began a new epoch: a plain start (even after a crash) needs no salvage.
    let d = Daemon::start(&site, &data, &[]);
    assert!(d.term().success());
    assert_eq!(
        records(&data),
        vec![("c1".to_owned(), "abandoned".to_owned())],
        "the record stays, once"
    );
}
