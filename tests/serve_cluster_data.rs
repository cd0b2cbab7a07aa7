//! Cluster mode's call records, event log and PostgreSQL sink (docs/operations.md,
//! "Cluster mode"; docs/postgres.md, "Cluster mode") over a real 3-node NATS cluster on
//! loopback and a real PostgreSQL: every node, active or standby, writes the files a single
//! daemon writes for the same inputs, and only the active copies them into the database,
//! each row once across a kill -9 of the active.

mod pg_support;
mod serve_support;

use pg_support::Postgres;
use pg_support::tables::{CALLS, EVENTS, site_for};
use serve_support::nats::{NatsCluster, node, wait_active};
use serve_support::{Client, Daemon, SITE, WAIT, data_files, http_get_all, temp_dir, write_site};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The events of `rounds` rounds of traffic (`at` and `seq` added when sent): agent `a1`
/// logs in; in each round a call to sales is connected to `a1` and answered, a call to
/// support waits behind it and is abandoned, the first is hung up. Two records a round,
/// and the event log's arrivals, queueing, connecting, answers, abandonments and ends.
fn traffic(rounds: usize) -> Vec<String> {
    let mut out = vec![r#""ev":"agent.login","agent":"a1""#.to_owned()];
    for i in 0..rounds {
        let (a, b) = (format!("s{i}"), format!("h{i}"));
        out.push(format!(
            r#""ev":"call.arrived","call":"{a}","to":"+4610100","from":"+4670{i}""#
        ));
        out.push(format!(r#""ev":"call.answered","call":"{a}","agent":"a1""#));
        out.push(format!(
            r#""ev":"call.arrived","call":"{b}","to":"+4610200","from":"+4671{i}""#
        ));
        out.push(format!(r#""ev":"call.hangup","call":"{b}""#));
        out.push(format!(r#""ev":"call.hangup","call":"{a}""#));
    }
    out
}

/// A platform sending events one at a time, `at` one second apart, each waiting for its
/// answer.
struct Sender {
    seq: u64,
    at: u64,
}

impl Sender {
    /// Sends `body` over `c`: `Some(true)` for its `ok`, `Some(false)` for an `error`,
    /// `None` when the connection is lost first. Commands before the answer are passed over.
    fn send(&mut self, c: &mut Client, body: &str) -> Option<bool> {
        self.seq += 1;
        self.at += 1000;
        let line = format!("{{{body},\"at\":{},\"seq\":{}}}", self.at, self.seq);
        if !c.try_send(&line) {
            return None;
        }
        let seq = format!("\"seq\":{}", self.seq);
        loop {
            let l = c.recv()?;
            if l.contains(&seq) && l.contains(r#""cmd":"ok""#) {
                return Some(true);
            }
            if l.contains(&seq) && l.contains(r#""cmd":"error""#) {
                return Some(false);
            }
        }
    }
}

/// The call-record and event-log files in `data`: name and bytes, whole lines only.
fn files(data: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for prefix in ["cdr-", "events-"] {
        for f in data_files(data, prefix, ".csv") {
            let mut bytes = fs::read(&f).unwrap_or_default();
            bytes.truncate(bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1));
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
            out.push((name.unwrap_or_default(), bytes));
        }
    }
    out
}

/// Waits (bounded) until `data`'s files are `want`, byte for byte.
#[track_caller]
fn wait_files(data: &Path, want: &[(String, Vec<u8>)], what: &str) {
    let until = Instant::now() + WAIT;
    loop {
        let got = files(data);
        if got == want {
            return;
        }
        if Instant::now() > until {
            let names = |f: &[(String, Vec<u8>)]| {
                f.iter()
                    .map(|(n, b)| format!("{n} ({} bytes)", b.len()))
                    .collect::<Vec<_>>()
            };
            panic!("{what}: {:?}, expected {:?}", names(&got), names(want));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 15: the active and a standby write the same call-record and event-log files, byte
/// for byte, and they are the files a single daemon writes for the same inputs (the same
/// journal): the event log in cluster mode is the single-node one, so the per-agent
/// figures, the `queue_log` export and the `vaxel_events` table work there too. Before,
/// cluster mode wrote no event log at all.
#[test]
fn every_node_writes_the_files_a_single_daemon_writes() {
    let dir = temp_dir("cluster-data-files");
    let nats = NatsCluster::start(&dir.join("nats"));
    let site = write_site(&dir, SITE);
    let a = node(&site, &dir, &nats, "a");
    wait_active(&a, WAIT);
    let b = node(&site, &dir, &nats, "b");
    let single = Daemon::start(&site, &dir.join("single"), &[]);
    let (mut on_a, mut on_single) = (a.platform("pbx"), single.platform("pbx"));
    let (mut to_a, mut to_single) = (Sender { seq: 0, at: 0 }, Sender { seq: 0, at: 0 });
    for ev in traffic(30) {
        assert_eq!(to_a.send(&mut on_a, &ev), Some(true), "active: {ev}");
        assert_eq!(
            to_single.send(&mut on_single, &ev),
            Some(true),
            "single: {ev}"
        );
    }
    // A single daemon writes its files just after its acks: they stand still once the
    // records are all in (60 and the header) and a poll later the files are the same.
    let until = Instant::now() + WAIT;
    let mut before = Vec::new();
    let want = loop {
        let f = files(&single.data);
        let records = f
            .iter()
            .filter(|(n, _)| n.starts_with("cdr-"))
            .map(|(_, b)| b.iter().filter(|&&c| c == b'\n').count())
            .sum::<usize>();
        if records == 61 && f == before {
            break f;
        }
        assert!(Instant::now() < until, "the single daemon's files: {f:?}");
        before = f;
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        want.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["cdr-1970-01-01.csv", "events-1970-01-01.csv"]
    );
    wait_files(&a.data, &want, "the active's files");
    wait_files(&b.data, &want, "the standby's files");

    // A standby that starts again resumes its files: nothing doubled, nothing dropped,
    // even with its last line torn (a crash mid-write).
    drop(b);
    let events = dir.join("b").join("events-1970-01-01.csv");
    let mut torn = fs::read(&events).expect("the standby's event log");
    torn.truncate(torn.len() - 40);
    fs::write(&events, torn).expect("tear the last line");
    let b = node(&site, &dir, &nats, "b");
    wait_files(&b.data, &want, "the restarted standby's files");
    drop(on_a);
    drop(on_single);
}

/// Issue 15: kill -9 of the active under traffic, with `[records] postgres`. Only the
/// active copies into the database (a standby's sink is not running); the new active's
/// sink resumes from the positions the database confirmed, in its own files, which are
/// byte-identical copies: afterwards `vaxel_calls` and `vaxel_events` hold every call
/// record and event of the new active's files exactly once, each row its line. Before,
/// cluster mode wrote no event log, and every node ran a sink.
#[test]
fn kill9_of_the_active_under_traffic_each_record_and_event_once_in_postgres() {
    let dir = temp_dir("cluster-data-pg");
    let pg = Postgres::start("cluster-data");
    let nats = NatsCluster::start(&dir.join("nats"));
    let site = site_for(&dir, &pg, pg_support::PASSWORD);
    let a = node(&site, &dir, &nats, "a");
    wait_active(&a, WAIT);
    let b = node(&site, &dir, &nats, "b");
    let mut c = a.platform("pbx");
    let events = traffic(120);
    let mut p = Sender { seq: 0, at: 0 };
    let mut next = 0;
    // A third of the traffic, copied by the active alone.
    while next < events.len() / 3 {
        assert_eq!(
            p.send(&mut c, &events[next]),
            Some(true),
            "{}",
            events[next]
        );
        next += 1;
    }
    let until = Instant::now() + CALLS_IN;
    while pg.count("SELECT count(*) FROM vaxel_calls") == 0 {
        assert!(Instant::now() < until, "the active's sink wrote nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    let standby = http_get_all(b.http, "/metrics");
    assert!(
        standby.contains("\nvaxel_postgres_connected 0")
            && standby.contains("\nvaxel_postgres_rows_written_total{kind=\"calls\"} 0"),
        "the standby runs no sink: {standby}"
    );
    assert!(
        http_get_all(a.http, "/metrics").contains("\nvaxel_postgres_connected 1"),
        "the active's sink"
    );

    // The kill, while the platform sends and the sink copies.
    let acked = Arc::new(AtomicUsize::new(0));
    let a_data = a.data.clone();
    let mut killer = Some({
        let acked = acked.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(60);
            while acked.load(Ordering::Relaxed) < 150 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
            a.kill9();
        })
    });
    let mut failed_over = false;
    while next < events.len() {
        match p.send(&mut c, &events[next]) {
            Some(ok) => {
                // Only the line in flight at the kill may have been journaled already: sent
                // again to the new active, it is refused (the call exists, or has ended).
                assert!(ok || failed_over, "{}", events[next]);
                failed_over = false;
                acked.fetch_add(1, Ordering::Relaxed);
                next += 1;
            }
            None => {
                assert!(!failed_over, "the new active dropped the platform");
                if let Some(k) = killer.take() {
                    let _ = k.join();
                }
                wait_active(&b, Duration::from_secs(10));
                c = b.platform("pbx");
                failed_over = true;
            }
        }
    }
    assert!(
        b.log_text().contains("serving as the active node"),
        "the active was never killed"
    );

    // The old active's files are a prefix of the new one's, byte for byte, file by file.
    let theirs = files(&b.data);
    for (name, bytes) in files(&a_data) {
        let new = theirs.iter().find(|(n, _)| *n == name).map(|(_, b)| b);
        assert!(
            new.is_some_and(|n| n.starts_with(&bytes)),
            "{name} of the old active is not a prefix of the new active's"
        );
    }
    let log = || b.log_text();
    let calls = CALLS.wait_equal(&pg, &b.data, &log);
    let logged = EVENTS.wait_equal(&pg, &b.data, &log);
    assert_eq!(calls, 240, "two records a round");
    assert!(logged > calls * 3, "{logged} events");
    let ids: BTreeSet<String> = pg
        .query("SELECT call_id FROM vaxel_calls")
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    assert_eq!(ids.len(), 240, "each call once");
    // The new active's sink began where the database stood, not at the files' start.
    let resumed = b
        .log_text()
        .lines()
        .find(|l| l.contains("postgres: connected"))
        .and_then(|l| l.split("backlog_rows=").nth(1))
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(
        resumed.is_some_and(|n| n < calls + logged),
        "the new active's sink: {resumed:?}"
    );
}

/// How long the active's sink may take to copy its first rows.
const CALLS_IN: Duration = Duration::from_secs(20);

/// `a`'s files, each continued by the lines of `c`'s file of the same name after those
/// they share: `c`'s files began after a checkpoint (their first line is a line of `a`'s,
/// not its first), so this is the whole file a node holding every line would have.
fn whole_files(a: &Path, c: &Path) -> Vec<(String, Vec<u8>)> {
    let lines = |b: &[u8]| -> Vec<Vec<u8>> {
        b.split_inclusive(|&x| x == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    };
    let mine = files(a);
    let mut out = Vec::new();
    for (name, bytes) in files(c) {
        let theirs = mine
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| lines(b))
            .unwrap_or_default();
        let ours = lines(&bytes);
        let Some((header, body)) = theirs.split_first() else {
            out.push((name, bytes));
            continue;
        };
        // Where `c`'s lines begin in `a`'s file: lines from there on are in both.
        let at = (0..=body.len()).find(|&k| {
            let shared = body.len() - k;
            ours.len() > shared && body[k..] == ours[1..=shared]
        });
        let at = at.unwrap_or_else(|| panic!("{name}: c's lines are not a's last ones"));
        let shared = body.len() - at;
        assert!(shared > 0, "{name}: c's file shares no line with a's");
        assert!(
            at > 0,
            "{name}: c's file is a whole copy, not begun at a checkpoint"
        );
        let mut whole = header.clone();
        for l in body.iter().chain(&ours[1 + shared..]) {
            whole.extend_from_slice(l);
        }
        out.push((name, whole));
    }
    out
}

/// Issue 15: a node that joined from a checkpoint mid-day (its files hold only that day's
/// lines after it) takes over after a kill -9 of the active: its sink numbers its lines
/// after the checkpoint's count of that day's rows, so `vaxel_calls` and `vaxel_events`
/// hold every call record and event once, under the keys a whole file gives them. Before,
/// the new active numbered its file from 1: its rows took keys the database had, and
/// were left out.
#[test]
fn a_node_begun_at_a_checkpoint_takes_over_each_record_once_in_postgres_keyed_as_a_whole_file() {
    let dir = temp_dir("cluster-data-pgbase");
    let pg = Postgres::start("cluster-pgbase");
    let nats = NatsCluster::start(&dir.join("nats"));
    let site = site_for(&dir, &pg, pg_support::PASSWORD);
    let urls = nats.url_list();
    let node = |name: &str| {
        Daemon::start_with(
            &site,
            &dir.join(name),
            &[],
            &[
                "--cluster",
                "--nats",
                &urls,
                "--node-id",
                name,
                "--checkpoint-every",
                "8",
            ],
        )
    };
    let a = node("a");
    wait_active(&a, WAIT);
    let events = traffic(90);
    let third = events.len() / 3;
    let mut p = Sender { seq: 0, at: 0 };
    let mut on_a = a.platform("pbx");
    for ev in &events[..third] {
        assert_eq!(p.send(&mut on_a, ev), Some(true), "{ev}");
    }
    // A checkpoint stored: a node with an empty data dir starts from the newest.
    let until = Instant::now() + WAIT;
    while !http_get_all(a.http, "/metrics")
        .lines()
        .any(|l| l.starts_with("vaxel_cluster_checkpoint_sequence ") && !l.ends_with(" 0"))
    {
        assert!(Instant::now() < until, "no checkpoint: {}", a.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let c = node("c");
    for ev in &events[third..2 * third] {
        assert_eq!(p.send(&mut on_a, ev), Some(true), "{ev}");
    }
    assert!(
        c.log_text()
            .contains("cluster: restored the engine from a checkpoint"),
        "c did not start from a checkpoint: {}",
        c.log_text()
    );
    // Everything of a's in the database (what it lacks of a's lines before the
    // checkpoint no other node can send), then the kill.
    let a_data = a.data.clone();
    let log = || a.log_text();
    CALLS.wait_equal(&pg, &a_data, &log);
    EVENTS.wait_equal(&pg, &a_data, &log);
    drop(on_a);
    a.kill9();
    wait_active(&c, Duration::from_secs(10));
    let mut on_c = c.platform("pbx");
    for ev in &events[2 * third..] {
        assert_eq!(p.send(&mut on_c, ev), Some(true), "{ev}");
    }

    // The whole files (a's, then c's lines after them), once they stand still.
    let until = Instant::now() + WAIT;
    let mut before = Vec::new();
    let whole = loop {
        let w = whole_files(&a_data, &c.data);
        let records: usize = w
            .iter()
            .filter(|(n, _)| n.starts_with("cdr-"))
            .map(|(_, b)| b.iter().filter(|&&x| x == b'\n').count() - 1)
            .sum();
        if records == 180 && w == before {
            break w;
        }
        assert!(Instant::now() < until, "c's files: {records} records");
        before = w;
        std::thread::sleep(Duration::from_millis(100));
    };
    let whole_dir = dir.join("whole");
    fs::create_dir_all(&whole_dir).expect("a directory");
    for (name, bytes) in &whole {
        fs::write(whole_dir.join(name), bytes).expect("write a whole file");
    }
    let log = || c.log_text();
    assert_eq!(
        CALLS.wait_equal(&pg, &whole_dir, &log),
        180,
        "two records a round"
    );
    assert!(EVENTS.wait_equal(&pg, &whole_dir, &log) > 180 * 3);
    let ids: BTreeSet<String> = pg
        .query("SELECT call_id FROM vaxel_calls")
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    assert_eq!(ids.len(), 180, "each call once");
}
