//! The PostgreSQL sink (docs/postgres.md) against a real PostgreSQL server started by each
//! test (pg_support): the rows of both tables equal the call records and events on disk; a
//! daemon restart (clean or after `kill -9`) sends nothing twice; the database stopped and
//! started again mid-run loses and duplicates nothing, the daemon routing all the while;
//! the docs' example SQL runs; a wrong password is a clear log line that does not hold the
//! password.

mod pg_support;
mod serve_support;

use pg_support::Postgres;
use pg_support::tables::{CALLS, CATCH_UP, EVENTS, Kind, site_for};
use serve_support::{Client, Daemon, http_get_all, temp_dir};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// A platform session's events: each gets the next `seq`, and waits for its `ok`.
struct Script {
    client: Client,
    seq: u64,
    at: u64,
}

impl Script {
    fn new(d: &Daemon, seq: u64, at: u64) -> Script {
        Script {
            client: d.platform("pbx"),
            seq,
            at,
        }
    }

    /// Sends `{body,"at":…,"seq":…}` one second after the last event and waits for its
    /// `ok`.
    #[track_caller]
    fn ev(&mut self, body: &str) {
        self.seq += 1;
        self.at += 1000;
        self.client.send(&format!(
            "{{{body},\"at\":{},\"seq\":{}}}",
            self.at, self.seq
        ));
        let ok = format!("{{\"cmd\":\"ok\",\"seq\":{}}}", self.seq);
        loop {
            let line = self.client.recv().expect("the daemon answers");
            assert!(!line.contains("\"cmd\":\"error\""), "{body}: {line}");
            if line == ok {
                return;
            }
        }
    }

    /// Rounds `from..to`: an answered call with a disposition (its id and case type need
    /// CSV quoting) while a second call waits and hangs up (abandoned). Two records each.
    fn rounds(&mut self, from: u64, to: u64) {
        for i in from..to {
            let (a, b) = (format!("a\\\"{i},x"), format!("b{i}"));
            self.ev(&format!(
                r#""ev":"call.arrived","call":"{a}","to":"+4610100","from":"+4670{i}""#
            ));
            self.ev(&format!(
                r#""ev":"call.answered","call":"{a}","agent":"a1""#
            ));
            self.ev(&format!(
                r#""ev":"call.arrived","call":"{b}","to":"+4610100","from":"+4671{i}""#
            ));
            self.ev(&format!(
                r#""ev":"call.disposition","call":"{a}","agent":"a1","case_type":"bygglov, status","resolved":{}"#,
                i % 2 == 0
            ));
            self.ev(&format!(r#""ev":"call.hangup","call":"{b}""#));
            self.ev(&format!(r#""ev":"call.hangup","call":"{a}""#));
        }
    }
}

/// Waits until both tables hold exactly the call records and events on disk; returns the
/// number of call records.
#[track_caller]
fn wait_equal(pg: &Postgres, d: &Daemon, calls: usize) -> usize {
    let until = Instant::now() + CATCH_UP;
    while CALLS.disk_rows(&d.data).len() < calls {
        assert!(Instant::now() < until, "never {calls} call records on disk");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = || d.log_text();
    let calls = CALLS.wait_equal(pg, &d.data, &log);
    let events = EVENTS.wait_equal(pg, &d.data, &log);
    assert!(events > calls, "every call has events");
    calls
}

/// Cuts the last `n` lines of the kind's (one) file in `data`, as a crash that kept them
/// off the disk.
fn cut_last_lines(data: &Path, kind: &Kind, n: usize) {
    let files = kind.files(data);
    assert_eq!(files.len(), 1, "{files:?}");
    let file = data.join(&files[0]);
    let text = fs::read_to_string(&file).expect("read");
    let keep: Vec<&str> = text.lines().collect();
    fs::write(&file, format!("{}\n", keep[..keep.len() - n].join("\n"))).expect("cut");
}

/// Waits until the positions table says the database has `lines` lines of the kind's file.
#[track_caller]
fn wait_position(pg: &Postgres, d: &Daemon, kind: &Kind, lines: usize) {
    let until = Instant::now() + CATCH_UP;
    let sql = format!(
        "SELECT count(*) FROM vaxel_sink_positions WHERE kind = '{}' AND lines = {lines}",
        kind.label
    );
    while pg.count(&sql) != 1 {
        assert!(
            Instant::now() < until,
            "{} never at line {lines}:\n{}",
            kind.table,
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the series `name` in `/metrics`: a metric's name, with its labels when it
/// has any ([`Kind::series`]).
fn metric(d: &Daemon, name: &str) -> f64 {
    let text = http_get_all(d.http, "/metrics");
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Waits until `pred` holds for the metric `name`.
#[track_caller]
fn wait_metric(d: &Daemon, name: &str, pred: impl Fn(f64) -> bool) -> f64 {
    let until = Instant::now() + CATCH_UP;
    loop {
        let v = metric(d, name);
        if pred(v) {
            return v;
        }
        assert!(
            Instant::now() < until,
            "{name} stayed {v}; log:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every `sql` block of docs/postgres.md: the schema and the example reports.
fn doc_sql() -> Vec<&'static str> {
    include_str!("../docs/postgres.md")
        .split("```sql\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect()
}

#[test]
fn rows_equal_the_records_and_events_and_a_restart_sends_nothing_twice() {
    let dir = temp_dir("pg-rows");
    let pg = Postgres::start("rows");
    let site = site_for(&dir, &pg, pg_support::PASSWORD);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut s = Script::new(&d, 0, 1_000_000);
    s.ev(r#""ev":"agent.login","agent":"a1""#);
    s.rounds(0, 30);
    // An agent's day beyond calls: a ring-no-answer, a pause with a reason.
    s.ev(r#""ev":"call.arrived","call":"r1","to":"+4610100","from":"+4672""#);
    s.ev(r#""ev":"call.noanswer","call":"r1","agent":"a1""#);
    s.ev(r#""ev":"call.hangup","call":"r1""#);
    s.ev(r#""ev":"agent.pause","agent":"a1","reason":"lunch, long""#);
    s.ev(r#""ev":"agent.ready","agent":"a1""#);
    let n = wait_equal(&pg, &d, 61);
    assert_eq!(n, 61);
    let events = EVENTS.disk_rows(&d.data).len();
    for (kind, rows) in [(&CALLS, 61), (&EVENTS, events)] {
        let written = kind.series("vaxel_postgres_rows_written_total");
        wait_metric(&d, &written, |v| v == rows as f64);
        wait_metric(&d, &kind.series("vaxel_postgres_backlog_rows"), |v| {
            v == 0.0
        });
    }
    assert_eq!(metric(&d, "vaxel_postgres_connected"), 1.0);
    for e in [
        "login",
        "offered",
        "no_answer",
        "connected",
        "ended",
        "paused",
    ] {
        let n = pg.count(&format!(
            "SELECT count(*) FROM vaxel_events WHERE event = '{e}'"
        ));
        assert!(n > 0, "no {e} event in the table");
    }
    assert_eq!(
        pg.query("SELECT reason FROM vaxel_events WHERE event = 'paused'"),
        [["lunch, long"]]
    );
    // The docs' SQL runs on these tables (psql stops at an error), and the ring-no-answer
    // report counts a1's one.
    let reports = doc_sql();
    assert!(reports.len() >= 7, "{reports:?}");
    for sql in &reports {
        pg.query(sql);
    }
    let rna = reports
        .iter()
        .find(|q| q.contains("ring_no_answer"))
        .expect("the ring-no-answer report");
    let rows = pg.query(rna);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0][1].as_str(), rows[0][4].as_str()), ("a1", "1"));
    // a1 logged in at the first event and ready again at the last (185 s later, 1 s of it
    // paused); the stretch since is open and left out.
    let presence = reports
        .iter()
        .find(|q| q.contains("logged_in_h"))
        .expect("the presence report");
    let rows = pg.query(presence);
    assert_eq!(rows, [["1970-01-01", "a1", "0.05", "0.00"]]);
    let (seq, at) = (s.seq, s.at);
    drop(s);
    assert!(d.term().success());

    // A restart replays nothing into the database: only the new rows are written.
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut s = Script::new(&d, seq, at);
    s.rounds(30, 35);
    assert_eq!(wait_equal(&pg, &d, 71), 71);
    let new_events = EVENTS.disk_rows(&d.data).len() - events;
    wait_metric(
        &d,
        &CALLS.series("vaxel_postgres_rows_written_total"),
        |v| v == 10.0,
    );
    wait_metric(
        &d,
        &EVENTS.series("vaxel_postgres_rows_written_total"),
        |v| v == new_events as f64,
    );
    drop(s);

    // Killed, and its last records and events lost from the disk (never synced): the next
    // start rebuilds them from the journal, the same lines, and the database keeps one row
    // each.
    d.kill9();
    cut_last_lines(&dir.join("data"), &CALLS, 3);
    cut_last_lines(&dir.join("data"), &EVENTS, 5);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    assert_eq!(wait_equal(&pg, &d, 71), 71);
    for kind in [&CALLS, &EVENTS] {
        let written = kind.series("vaxel_postgres_rows_written_total");
        assert_eq!(metric(&d, &written), 0.0);
    }
    let log = d.log_text();
    assert!(log.contains("records_written_again=3"), "{log}");
    assert!(log.contains("events_written_again=5"), "{log}");
    let dup = pg.count("SELECT count(*) - count(DISTINCT (call_id, ended)) FROM vaxel_calls");
    assert_eq!(dup, 0, "a call twice in the table");
    assert!(d.term().success());

    // Positions lost (the table emptied by hand): the sink reads every file again, and
    // the rows' keys keep it from inserting any twice.
    pg.query("DELETE FROM vaxel_sink_positions");
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    wait_position(&pg, &d, &CALLS, 71);
    wait_position(&pg, &d, &EVENTS, events + new_events);
    assert_eq!(wait_equal(&pg, &d, 71), 71);
    for kind in [&CALLS, &EVENTS] {
        let written = kind.series("vaxel_postgres_rows_written_total");
        assert_eq!(metric(&d, &written), 0.0);
    }
    assert!(d.term().success());
}

#[test]
fn the_database_stopped_mid_run_loses_and_duplicates_nothing() {
    let dir = temp_dir("pg-outage");
    let mut pg = Postgres::start("outage");
    let site = site_for(&dir, &pg, pg_support::PASSWORD);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut s = Script::new(&d, 0, 1_000_000);
    s.ev(r#""ev":"agent.login","agent":"a1""#);
    s.rounds(0, 10);
    assert_eq!(wait_equal(&pg, &d, 20), 20);
    let events_before = EVENTS.disk_rows(&d.data).len();

    pg.stop();
    // The daemon routes on: every event is acknowledged while the database is away.
    s.rounds(10, 40);
    wait_metric(&d, "vaxel_postgres_connected", |v| v == 0.0);
    wait_metric(&d, &CALLS.series("vaxel_postgres_backlog_rows"), |v| {
        v == 60.0
    });
    // The events of the last acknowledged input may reach the disk a moment after its
    // records: the gauge is compared with the files as they are then.
    let meanwhile = || EVENTS.disk_rows(&d.data).len() - events_before;
    wait_metric(&d, &EVENTS.series("vaxel_postgres_backlog_rows"), |v| {
        v == meanwhile() as f64
    });
    assert!(meanwhile() > 60, "{} events", meanwhile());
    assert!(metric(&d, "vaxel_postgres_last_error_timestamp_seconds") > 0.0);
    s.rounds(40, 45);
    let log = d.log_text();
    let outage_lines = log.matches("postgres: cannot").count();
    assert_eq!(
        outage_lines, 1,
        "one line per outage, not per retry:\n{log}"
    );
    assert!(log.contains("stay in the data dir"), "{log}");

    pg.resume();
    assert_eq!(wait_equal(&pg, &d, 90), 90);
    let events = EVENTS.disk_rows(&d.data).len();
    for (kind, rows) in [(&CALLS, 90), (&EVENTS, events)] {
        wait_metric(&d, &kind.series("vaxel_postgres_backlog_rows"), |v| {
            v == 0.0
        });
        let written = kind.series("vaxel_postgres_rows_written_total");
        wait_metric(&d, &written, |v| v == rows as f64);
    }
    assert_eq!(metric(&d, "vaxel_postgres_connected"), 1.0);
    let log = d.log_text();
    assert!(log.contains("postgres: working again"), "{log}");
    // The backlog sent: 70 records and the events since the database stopped.
    let caught_up = format!(
        "postgres: caught up with the data dir rows={}",
        70 + events - events_before
    );
    let until = Instant::now() + CATCH_UP;
    while !d.log_text().contains(&caught_up) {
        assert!(Instant::now() < until, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(log.matches("postgres: cannot").count(), 1, "{log}");
    drop(s);
    assert!(d.term().success());
}

#[test]
fn a_wrong_password_is_logged_clearly_without_the_password() {
    let dir = temp_dir("pg-password");
    let pg = Postgres::start("password");
    let wrong = "not-the-password-71d3";
    let site = site_for(&dir, &pg, wrong);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    // The daemon routes without its database.
    let mut s = Script::new(&d, 0, 1_000_000);
    s.ev(r#""ev":"agent.login","agent":"a1""#);
    s.rounds(0, 2);
    let until = Instant::now() + CATCH_UP;
    while !d.log_text().contains("password authentication failed") {
        assert!(
            Instant::now() < until,
            "no clear line; log:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_metric(&d, &CALLS.series("vaxel_postgres_backlog_rows"), |v| {
        v == 4.0
    });
    let log = d.log_text();
    assert!(
        log.contains("postgres: cannot connect to the database"),
        "{log}"
    );
    assert!(!log.contains(wrong), "the password is in the log:\n{log}");
    let metrics = http_get_all(d.http, "/metrics");
    assert!(!metrics.contains(wrong), "the password is in /metrics");
    assert_eq!(metric(&d, "vaxel_postgres_connected"), 0.0);
    drop(s);
    assert!(d.term().success());
}

#[test]
fn a_record_the_database_refuses_is_left_out_and_named_and_the_rest_goes_in() {
    let dir = temp_dir("pg-refused");
    let pg = Postgres::start("refused");
    let site = site_for(&dir, &pg, pg_support::PASSWORD);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut s = Script::new(&d, 0, 1_000_000);
    s.ev(r#""ev":"agent.login","agent":"a1""#);
    s.rounds(0, 2);
    assert_eq!(wait_equal(&pg, &d, 4), 4);

    // A line edited in by hand: CSV enough, but no timestamp PostgreSQL takes.
    let file = CALLS.files(&d.data).pop().expect("a records file");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(d.data.join(file))
        .expect("open");
    std::io::Write::write_all(
        &mut f,
        b"hand,main,,not-a-time,,,also-not,,answered,0,0,0,,,,,,,\n",
    )
    .expect("append");
    s.rounds(2, 4);

    wait_position(&pg, &d, &CALLS, 9);
    assert_eq!(pg.count("SELECT count(*) FROM vaxel_calls"), 8);
    assert_eq!(
        pg.count("SELECT count(*) FROM vaxel_calls WHERE line = 5"),
        0
    );
    assert_eq!(
        pg.count("SELECT count(*) FROM vaxel_calls WHERE line = 9"),
        1
    );
    let log = d.log_text();
    assert!(
        log.contains("postgres: the database refuses record 5 of cdr-"),
        "{log}"
    );
    assert_eq!(log.matches("postgres: cannot").count(), 0, "{log}");
    wait_metric(
        &d,
        &CALLS.series("vaxel_postgres_rows_skipped_total"),
        |v| v == 1.0,
    );
    assert_eq!(
        metric(&d, &EVENTS.series("vaxel_postgres_rows_skipped_total")),
        0.0
    );
    drop(s);
    assert!(d.term().success());
}
