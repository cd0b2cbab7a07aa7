//! The PostgreSQL sink (docs/postgres.md) against a real PostgreSQL server started by each
//! test (pg_support): the rows equal the call records on disk; a daemon restart sends
//! nothing twice; the database stopped and started again mid-run loses and duplicates
//! nothing, the daemon routing all the while; a wrong password is a clear log line that
//! does not hold the password.

mod pg_support;
mod serve_support;

use pg_support::Postgres;
use serve_support::{Client, Daemon, SITE, http_get_all, temp_dir, write_site};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the sink may take to catch up (it retries a lost database at most every 10 s).
const CATCH_UP: Duration = Duration::from_secs(40);

/// [`SITE`] copying its records to `pg`, the password read from `pg-password` beside it.
fn site_for(dir: &Path, pg: &Postgres, password: &str) -> std::path::PathBuf {
    pg_support::password_file(dir, password);
    write_site(
        dir,
        &format!(
            "{SITE}\n[records]\npostgres = \"{}\"\npostgres_password_file = \"pg-password\"\n",
            pg.url()
        ),
    )
}

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

/// The call records on disk, as rows of text comparable with [`db_rows`]: day, record
/// number, then every column, times as epoch milliseconds and durations as milliseconds.
fn disk_rows(data: &Path) -> Vec<Vec<String>> {
    let mut files: Vec<_> = fs::read_dir(data)
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cdr-") && n.ends_with(".csv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let day = &f["cdr-".len()..f.len() - ".csv".len()];
        let mut r = csv::Reader::from_path(data.join(&f)).expect("read records");
        let header = r.headers().expect("header").clone();
        for (n, rec) in r.records().enumerate() {
            let rec = rec.expect("a record");
            let mut row = vec![day.to_owned(), (n + 1).to_string()];
            for (name, cell) in header.iter().zip(rec.iter()) {
                row.push(normal(name, cell));
            }
            out.push(row);
        }
    }
    out
}

fn normal(column: &str, cell: &str) -> String {
    if cell.is_empty() {
        return String::new();
    }
    match column {
        "arrived" | "queued" | "answered" | "ended" => cell
            .parse::<jiff::Timestamp>()
            .expect("a timestamp")
            .as_millisecond()
            .to_string(),
        c if c.ends_with("_s") && c != "announced_ewt_s" => {
            format!(
                "{}",
                (cell.parse::<f64>().expect("seconds") * 1000.0).round()
            )
        }
        _ => cell.to_owned(),
    }
}

/// The table's rows as [`disk_rows`] writes them.
fn db_rows(pg: &Postgres) -> Vec<Vec<String>> {
    let ms = |c: &str| format!("(extract(epoch from {c}) * 1000)::bigint");
    let dur = |c: &str| format!("({c} * 1000)::bigint");
    pg.query(&format!(
        "SELECT day, line, call_id, entry, \"from\", {}, {}, {}, {}, agent, outcome, {}, {}, {}, \
         groups, digits, case_type, resolved, callback, announced_position, announced_ewt_s \
         FROM vaxel_calls ORDER BY day, line",
        ms("arrived"),
        ms("queued"),
        ms("answered"),
        ms("ended"),
        dur("wait_s"),
        dur("talk_s"),
        dur("wrapup_s"),
    ))
}

/// Waits until the table holds exactly the records on disk, and returns their number.
#[track_caller]
fn wait_equal(pg: &Postgres, d: &Daemon) -> usize {
    let until = Instant::now() + CATCH_UP;
    loop {
        let disk = disk_rows(&d.data);
        if pg.count("SELECT count(*) FROM vaxel_calls") == disk.len() as i64 {
            let db = db_rows(pg);
            assert_eq!(db.len(), disk.len());
            for (a, b) in db.iter().zip(&disk) {
                // psql prints booleans as t/f.
                let a: Vec<String> = a
                    .iter()
                    .map(|c| match c.as_str() {
                        "t" => "true".into(),
                        "f" => "false".into(),
                        _ => c.clone(),
                    })
                    .collect();
                assert_eq!(&a, b, "database row != call record");
            }
            return disk.len();
        }
        assert!(
            Instant::now() < until,
            "the database never caught up: {} rows of {}; log:\n{}",
            pg.count("SELECT count(*) FROM vaxel_calls"),
            disk.len(),
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the unlabelled or first series of `name` in `/metrics`.
fn metric(d: &Daemon, name: &str) -> f64 {
    let text = http_get_all(d.http, "/metrics");
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
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

#[test]
fn rows_equal_the_call_records_and_a_restart_sends_nothing_twice() {
    let dir = temp_dir("pg-rows");
    let pg = Postgres::start("rows");
    let site = site_for(&dir, &pg, pg_support::PASSWORD);
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut s = Script::new(&d, 0, 1_000_000);
    s.ev(r#""ev":"agent.login","agent":"a1""#);
    s.rounds(0, 30);
    let n = wait_equal(&pg, &d);
    assert_eq!(n, 60);
    wait_metric(&d, "vaxel_postgres_rows_written_total", |v| v == 60.0);
    assert_eq!(metric(&d, "vaxel_postgres_connected"), 1.0);
    wait_metric(&d, "vaxel_postgres_backlog_rows", |v| v == 0.0);
    let (seq, at) = (s.seq, s.at);
    drop(s);
    assert!(d.term().success());

    // A restart replays nothing into the database: only the new records are written.
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let mut s = Script::new(&d, seq, at);
    s.rounds(30, 35);
    assert_eq!(wait_equal(&pg, &d), 70);
    wait_metric(&d, "vaxel_postgres_rows_written_total", |v| v == 10.0);
    drop(s);

    // Killed, and its last records lost from the disk (never synced): the next start
    // rebuilds them from the journal, the same lines, and the database keeps one row each.
    d.kill9();
    let file = fs::read_dir(dir.join("data"))
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".csv"))
        .expect("a records file");
    let text = fs::read_to_string(&file).expect("read");
    let keep: Vec<&str> = text.lines().collect();
    fs::write(&file, format!("{}\n", keep[..keep.len() - 3].join("\n"))).expect("cut");
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    assert_eq!(wait_equal(&pg, &d), 70);
    assert_eq!(metric(&d, "vaxel_postgres_rows_written_total"), 0.0);
    assert!(
        d.log_text().contains("records_written_again=3"),
        "{}",
        d.log_text()
    );
    let dup = pg.count("SELECT count(*) - count(DISTINCT (call_id, ended)) FROM vaxel_calls");
    assert_eq!(dup, 0, "a call twice in the table");
    assert!(d.term().success());

    // Positions lost (the table emptied by hand): the sink reads every file again, and
    // the rows' keys keep it from inserting any twice.
    pg.query("DELETE FROM vaxel_sink_positions");
    let d = Daemon::start(&site, &dir.join("data"), &[]);
    let until = Instant::now() + CATCH_UP;
    while pg.count("SELECT count(*) FROM vaxel_sink_positions WHERE lines = 70") != 1 {
        assert!(
            Instant::now() < until,
            "never read again:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(wait_equal(&pg, &d), 70);
    assert_eq!(metric(&d, "vaxel_postgres_rows_written_total"), 0.0);
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
    assert_eq!(wait_equal(&pg, &d), 20);

    pg.stop();
    // The daemon routes on: every event is acknowledged while the database is away.
    s.rounds(10, 40);
    wait_metric(&d, "vaxel_postgres_connected", |v| v == 0.0);
    wait_metric(&d, "vaxel_postgres_backlog_rows", |v| v == 60.0);
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
    assert_eq!(wait_equal(&pg, &d), 90);
    wait_metric(&d, "vaxel_postgres_backlog_rows", |v| v == 0.0);
    assert_eq!(metric(&d, "vaxel_postgres_connected"), 1.0);
    wait_metric(&d, "vaxel_postgres_rows_written_total", |v| v == 90.0);
    let log = d.log_text();
    assert!(log.contains("postgres: working again"), "{log}");
    let until = Instant::now() + CATCH_UP;
    while !d
        .log_text()
        .contains("postgres: caught up with the data dir rows=70")
    {
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
    wait_metric(&d, "vaxel_postgres_backlog_rows", |v| v == 4.0);
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
    assert_eq!(wait_equal(&pg, &d), 4);

    // A line edited in by hand: CSV enough, but no timestamp PostgreSQL takes.
    let file = fs::read_dir(&d.data)
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".csv"))
        .expect("a records file");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .expect("open");
    std::io::Write::write_all(
        &mut f,
        b"hand,main,,not-a-time,,,also-not,,answered,0,0,0,,,,,,,\n",
    )
    .expect("append");
    s.rounds(2, 4);

    let until = Instant::now() + CATCH_UP;
    while pg.count("SELECT count(*) FROM vaxel_sink_positions WHERE lines = 9") != 1 {
        assert!(Instant::now() < until, "stuck:\n{}", d.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
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
    wait_metric(&d, "vaxel_postgres_rows_skipped_total", |v| v == 1.0);
    drop(s);
    assert!(d.term().success());
}
