//! Cluster mode's checkpoints and `--nats-wait` over real NATS (docs/operations.md,
//! "Cluster mode"; issue 15): the active stores the engine's snapshot in the object store
//! `vaxel_checkpoints` and trims the journal stream below the oldest kept; a node with an
//! empty data dir starts from the newest, reaches the active's state and takes over losing
//! nothing acknowledged; a checkpoint that does not decode stops the node naming it; a
//! node waits for NATS when told to, and gives up clearly.

mod serve_support;

use futures_util::StreamExt as _;
use serve_support::nats::{NatsCluster, node_with, wait_active};
use serve_support::{
    Client, Daemon, SITE, WAIT, data_files, http_get_all, serve_expecting_failure_with, temp_dir,
    wait_for, wait_records, write_site,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STREAM: &str = "vaxel_journal";
const BUCKET: &str = "vaxel_checkpoints";

/// How long a node may take to become the active one.
const ACTIVE: Duration = Duration::from_secs(20);

/// A cluster node `name` on `nats`, checkpointing every 4 inputs (each call of the traffic
/// below is 3 or 4).
fn node(site: &Path, dir: &Path, nats: &NatsCluster, name: &str) -> Daemon {
    node_with(site, dir, nats, name, &["--checkpoint-every", "4"])
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A figure of `d`'s `/metrics` (`None` when absent).
fn metric(d: &Daemon, name: &str) -> Option<f64> {
    http_get_all(d.http, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The JSON body of `d`'s `/api/v1/snapshot`.
fn snapshot(d: &Daemon) -> serde_json::Value {
    let answer = http_get_all(d.http, "/api/v1/snapshot");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// Waits (bounded) until `b`'s engine state is `a`'s; returns it.
#[track_caller]
fn same_state(a: &Daemon, b: &Daemon) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let (sa, sb) = (snapshot(a), snapshot(b));
        if sa == sb && !sa.is_null() {
            return sa;
        }
        assert!(
            Instant::now() < until,
            "the states differ:\nactive  {sa}\nstandby {sb}\nlog:\n{}",
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The test's own NATS client: what an operator's tools see of the stream and the store.
struct Js {
    rt: tokio::runtime::Runtime,
    js: async_nats::jetstream::Context,
}

impl Js {
    fn connect(nats: &NatsCluster) -> Js {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let urls: Vec<async_nats::ServerAddr> = nats
            .urls
            .iter()
            .map(|u| u.parse().expect("a NATS URL"))
            .collect();
        let js = rt.block_on(async {
            let client = async_nats::connect(urls).await.expect("connect to NATS");
            async_nats::jetstream::new(client)
        });
        Js { rt, js }
    }

    /// The checkpoint objects' names, oldest first. A listing that fails (its request timed
    /// out on a loaded host) is made again, for up to half a minute.
    fn checkpoints(&self) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            match self.rt.block_on(self.list_checkpoints()) {
                Ok(names) => return names,
                Err(e) => assert!(Instant::now() < until, "list the checkpoints: {e}"),
            }
        }
    }

    async fn list_checkpoints(&self) -> Result<Vec<String>, String> {
        let Ok(store) = self.js.get_object_store(BUCKET).await else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        let mut list = store.list().await.map_err(|e| e.to_string())?;
        while let Some(o) = list.next().await {
            names.push(o.map_err(|e| e.to_string())?.name);
        }
        names.sort();
        Ok(names)
    }

    /// The journal stream's first sequence (past 1 once it is trimmed).
    fn first_seq(&self) -> u64 {
        self.rt.block_on(async {
            let stream = self.js.get_stream(STREAM).await.expect("the stream");
            let info = stream.get_info().await.expect("the stream's state");
            info.state.first_sequence
        })
    }

    /// Messages in the stream under the checkpoint store (each checkpoint of the test site
    /// is one chunk and its metadata).
    fn store_messages(&self) -> u64 {
        self.rt.block_on(async {
            let stream = self
                .js
                .get_stream(format!("OBJ_{BUCKET}"))
                .await
                .expect("the store's stream");
            let info = stream.get_info().await.expect("its state");
            info.state.messages
        })
    }

    /// Deletes the journal stream (as an operator's mistake would).
    fn delete_stream(&self) {
        self.rt
            .block_on(self.js.delete_stream(STREAM))
            .expect("delete the stream");
    }

    /// Replaces the checkpoint `name` with bytes that are no snapshot.
    fn damage(&self, name: &str) {
        self.rt.block_on(async {
            let store = self.js.get_object_store(BUCKET).await.expect("the store");
            store
                .put(name, &mut &b"{\"format\":1,\"epoch\":"[..])
                .await
                .expect("overwrite the checkpoint");
        });
    }
}

/// The test platform's next `seq` and `at`.
struct Clock {
    seq: u64,
    at: u64,
}

impl Clock {
    /// `line` (a JSON event missing its `seq` and `at`) sent on `p`, `want` expected,
    /// followed by its `ok`.
    #[track_caller]
    fn send(&mut self, p: &mut Client, line: &str, want: &[&str]) {
        self.seq += 1;
        self.at += 1000;
        let (seq, at) = (self.seq, self.at);
        let ok = format!(r#"{{"cmd":"ok","seq":{seq}}}"#);
        let mut all = want.to_vec();
        all.push(&ok);
        p.call(&format!(r#"{line},"at":{at},"seq":{seq}}}"#), &all);
    }

    /// `line` sent on `p`; whatever commands come before its `ok` are let by.
    #[track_caller]
    fn post(&mut self, p: &mut Client, line: &str) {
        self.seq += 1;
        self.at += 1000;
        let (seq, at) = (self.seq, self.at);
        p.send(&format!(r#"{line},"at":{at},"seq":{seq}}}"#));
        let ok = format!(r#"{{"cmd":"ok","seq":{seq}}}"#);
        while let Some(l) = p.recv() {
            if l == ok {
                return;
            }
            assert!(!l.contains(r#""cmd":"error""#), "{l}");
        }
        panic!("no answer to {line}");
    }

    /// Call `id` arrives and rings `agent` (who must be ready).
    #[track_caller]
    fn ring(&mut self, p: &mut Client, id: &str, agent: &str, ext: &str) {
        self.send(
            p,
            &format!(r#"{{"ev":"call.arrived","call":"{id}","to":"+4610100","from":"+46701""#),
            &[&format!(
                r#"{{"cmd":"connect","call":"{id}","agent":"{agent}","extension":"{ext}","ring_s":20}}"#
            )],
        );
        self.send(
            p,
            &format!(r#"{{"ev":"call.answered","call":"{id}","agent":"{agent}""#),
            &[],
        );
    }

    #[track_caller]
    fn hangup(&mut self, p: &mut Client, id: &str) {
        self.send(p, &format!(r#"{{"ev":"call.hangup","call":"{id}""#), &[]);
    }
}

/// An active node `a` whose journal stream has been trimmed below its three kept
/// checkpoints, with `a1` talking on call `c100` (begun after the last checkpoint).
struct Trimmed {
    dir: PathBuf,
    nats: NatsCluster,
    js: Js,
    site: PathBuf,
    a: Daemon,
    p: Client,
    clock: Clock,
}

fn trimmed(name: &str) -> Trimmed {
    let dir = temp_dir(name);
    let nats = NatsCluster::start(&dir.join("nats"));
    let js = Js::connect(&nats);
    let site = write_site(&dir, SITE);
    let a = node(&site, &dir, &nats, "a");
    wait_active(&a, ACTIVE);
    let mut p = a.platform("pbx");
    let mut clock = Clock { seq: 0, at: 0 };
    clock.send(&mut p, r#"{"ev":"agent.login","agent":"a1""#, &[]);
    let mut n = 0;
    // Checkpoints are stored off the ack path: wait for the store to hold its three and
    // the stream to start past them, making calls meanwhile.
    let until = Instant::now() + Duration::from_secs(30);
    while n < 6 || js.checkpoints().len() < 3 || js.first_seq() <= 1 {
        assert!(
            Instant::now() < until,
            "no three checkpoints and a trimmed stream after {n} calls: {:?}, first sequence \
             {}; log:\n{}",
            js.checkpoints(),
            js.first_seq(),
            a.log_text()
        );
        n += 1;
        let id = format!("c{n}");
        clock.ring(&mut p, &id, "a1", "1001");
        clock.hangup(&mut p, &id);
    }
    // A new checkpoint is stored before the oldest is deleted: the store may hold a
    // fourth for a moment.
    let until = Instant::now() + WAIT;
    while js.checkpoints().len() != 3 {
        assert!(
            Instant::now() < until,
            "the store keeps three, not {:?}",
            js.checkpoints()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // And nothing of those it deleted (their tombstones purged): bounded however many are
    // made.
    let until = Instant::now() + WAIT;
    while js.store_messages() > 2 * 3 {
        assert!(
            Instant::now() < until,
            "the checkpoint store holds {} messages",
            js.store_messages()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    clock.ring(&mut p, "c100", "a1", "1001");
    Trimmed {
        dir,
        nats,
        js,
        site,
        a,
        p,
        clock,
    }
}

/// Issue 15: a node with an empty data dir joins a cluster whose stream no longer holds
/// its start: it loads the newest checkpoint, follows the stream from the next sequence
/// and reaches the active's engine state; it writes the records of what it applies after.
#[test]
fn a_new_node_starts_from_a_checkpoint_of_a_trimmed_stream_and_matches_the_active() {
    let mut t = trimmed("ckpt-join");
    let first = t.js.first_seq();
    let b = node(&t.site, &t.dir, &t.nats, "b");
    same_state(&t.a, &b);
    let log = b.log_text();
    assert!(
        log.contains("restored the engine from a checkpoint"),
        "{log}"
    );
    let newest = t.js.checkpoints().pop().unwrap_or_default();
    let seq = metric(&b, "vaxel_cluster_checkpoint_sequence").unwrap_or(0.0) as u64;
    assert!(
        seq + 1 >= first && newest.starts_with(&format!("ckpt-{seq:020}-")),
        "b started from {seq}, the newest is {newest}, the stream begins at {first}"
    );
    // The active's figures: the last checkpoint's sequence, size and age.
    assert!(metric(&t.a, "vaxel_cluster_checkpoint_sequence").unwrap_or(0.0) >= seq as f64);
    assert!(metric(&t.a, "vaxel_cluster_checkpoint_bytes").unwrap_or(0.0) > 1000.0);
    let age = metric(&t.a, "vaxel_cluster_checkpoint_age_seconds");
    assert!(age.is_some_and(|s| (0.0..60.0).contains(&s)), "{age:?}");

    // Calls ended after its checkpoint are in the new node's files, once; none before.
    t.clock.hangup(&mut t.p, "c100");
    same_state(&t.a, &b);
    let records = wait_records(&b.data, |r| r.iter().any(|(c, _)| c == "c100"));
    let ids: Vec<&str> = records.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(ids.iter().filter(|c| **c == "c100").count(), 1, "{ids:?}");
    assert!(!ids.contains(&"c1"), "{ids:?}");

    // The standby's checkpoint figures follow those the active stores after it started
    // (before, they stayed those of the checkpoint it started from). Calls until the
    // active has stored a newer one, then the two agree.
    let figures = |d: &Daemon| {
        (
            metric(d, "vaxel_cluster_checkpoint_sequence").unwrap_or(0.0),
            metric(d, "vaxel_cluster_checkpoint_bytes").unwrap_or(0.0),
        )
    };
    let until = Instant::now() + Duration::from_secs(30);
    let mut k = 100;
    while figures(&t.a).0 <= seq as f64 {
        assert!(
            Instant::now() < until,
            "the active stored no checkpoint past {seq}"
        );
        k += 1;
        let id = format!("c{k}");
        t.clock.ring(&mut t.p, &id, "a1", "1001");
        t.clock.hangup(&mut t.p, &id);
    }
    wait_for(
        WAIT,
        || {
            format!(
                "the standby's checkpoint figures {:?}, the active's {:?}",
                figures(&b),
                figures(&t.a)
            )
        },
        || (figures(&b) == figures(&t.a)).then_some(()),
    );
    let age = metric(&b, "vaxel_cluster_checkpoint_age_seconds");
    assert!(age.is_some_and(|s| (0.0..60.0).contains(&s)), "{age:?}");
}

/// Issue 15: a take-over by a node that started from a checkpoint (no disk of its
/// predecessor) loses no acknowledged input: its engine is the old active's as of its last
/// ack, and the calls go on there.
#[test]
fn a_takeover_by_a_node_started_from_a_checkpoint_loses_no_acknowledged_input() {
    let mut t = trimmed("ckpt-takeover");
    let b = node(&t.site, &t.dir, &t.nats, "b");
    same_state(&t.a, &b);
    // More after b joined: a call queues, a2 logs in and takes it.
    t.clock.post(
        &mut t.p,
        r#"{"ev":"call.arrived","call":"c200","to":"+4610100","from":"+46702""#,
    );
    t.clock.send(
        &mut t.p,
        r#"{"ev":"agent.login","agent":"a2""#,
        &[r#"{"cmd":"connect","call":"c200","agent":"a2","extension":"1002","ring_s":20}"#],
    );
    let want = snapshot(&t.a);
    t.a.kill9();
    wait_active(&b, ACTIVE);
    assert_eq!(snapshot(&b), want, "the new active's state");
    let mut p = b.platform("pbx");
    t.clock.send(
        &mut p,
        r#"{"ev":"call.answered","call":"c200","agent":"a2""#,
        &[],
    );
    t.clock.hangup(&mut p, "c200");
    t.clock.hangup(&mut p, "c100");
    let records = wait_records(&b.data, |r| {
        ["c100", "c200"]
            .iter()
            .all(|id| r.iter().any(|(c, _)| c == id))
    });
    let ids: Vec<&str> = records.iter().map(|(c, _)| c.as_str()).collect();
    for id in ["c100", "c200"] {
        assert_eq!(ids.iter().filter(|c| **c == id).count(), 1, "{ids:?}");
    }
}

/// Issue 15: a node that started from a checkpoint (its files begin there) restarts with
/// its own files after the stream was trimmed again: it starts from the checkpoint its files
/// have reached and writes every record after them once, none twice, none dropped.
#[test]
fn a_node_restarting_with_its_files_after_a_trim_writes_each_record_once() {
    let mut t = trimmed("ckpt-restart");
    let b = node(&t.site, &t.dir, &t.nats, "b");
    same_state(&t.a, &b);
    t.clock
        .send(&mut t.p, r#"{"ev":"agent.login","agent":"a2""#, &[]);
    for id in ["c7", "c8", "c9"] {
        t.clock.ring(&mut t.p, id, "a2", "1002");
        t.clock.hangup(&mut t.p, id);
    }
    wait_records(&b.data, |r| r.iter().any(|(c, _)| c == "c9"));
    b.kill9();
    // While it is down: one more call, and checkpoints (the stream trimmed past where b
    // stopped).
    let before = t.js.first_seq();
    t.clock.ring(&mut t.p, "c10", "a2", "1002");
    t.clock.hangup(&mut t.p, "c10");
    t.clock.hangup(&mut t.p, "c100");
    // A checkpoint after those records (every fourth input): b must not start from it.
    t.clock.ring(&mut t.p, "c11", "a2", "1002");
    t.clock.hangup(&mut t.p, "c11");
    let until = Instant::now() + WAIT;
    while t.js.first_seq() == before {
        assert!(Instant::now() < until, "the stream was not trimmed again");
        std::thread::sleep(Duration::from_millis(20));
    }
    let b = node(&t.site, &t.dir, &t.nats, "b");
    same_state(&t.a, &b);
    let records = wait_records(&b.data, |r| {
        ["c10", "c100", "c11"]
            .iter()
            .all(|id| r.iter().any(|(c, _)| c == id))
    });
    let ids: Vec<&str> = records.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(ids, ["c7", "c8", "c9", "c10", "c100", "c11"], "b's records");
}

/// The event-log lines of `data`, day files in order, headers left out (whole lines only:
/// the node may be writing the last).
fn event_lines(data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in data_files(data, "events-", ".csv") {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |i| &text[..i]);
        out.extend(whole.lines().skip(1).map(str::to_owned));
    }
    out
}

/// The numbers of call records and events before `data`'s files, from its
/// `cluster-records-base` (0 and 0 without it).
fn records_base(data: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(data.join("cluster-records-base")).unwrap_or_default();
    let n: Vec<usize> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(usize::MAX))
        .collect();
    match n[..] {
        [records, events] => (records, events),
        _ => (0, 0),
    }
}

/// Waits (bounded) until `b`'s event lines are `a`'s after the first `skip`.
#[track_caller]
fn wait_events_after(a: &Daemon, b: &Daemon, skip: usize) {
    let until = Instant::now() + WAIT;
    loop {
        let (la, lb) = (event_lines(&a.data), event_lines(&b.data));
        if la.get(skip..) == Some(&lb[..]) {
            return;
        }
        assert!(
            Instant::now() < until,
            "{}'s event lines are not the active's after its first {skip} ({} lines): {} \
             lines\nfirst {:?}\nthe active's there {:?}",
            b.tcp,
            la.len(),
            lb.len(),
            lb.first(),
            la.get(skip)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 15: the event log follows the call records' rules under checkpoints. A node with
/// an empty data dir starts from a checkpoint of a trimmed stream and writes the events of
/// what it applies after it; killed, the stream trimmed again past where it stopped, and
/// restarted with its files, it writes each later event once: its event lines are the
/// active's after the checkpoint, none doubled, none dropped.
#[test]
fn a_node_from_a_checkpoint_restarted_after_a_trim_has_each_event_line_once() {
    let mut t = trimmed("ckpt-events");
    let b = node(&t.site, &t.dir, &t.nats, "b");
    same_state(&t.a, &b);
    // Its files begin at the checkpoint it started from: the events the stream had
    // produced up to it are the last number of its name.
    let seq = metric(&b, "vaxel_cluster_checkpoint_sequence").unwrap_or(0.0) as u64;
    let names = t.js.checkpoints();
    let name = names
        .iter()
        .find(|n| n.starts_with(&format!("ckpt-{seq:020}-")))
        .unwrap_or_else(|| panic!("b started from {seq}, not one of {names:?}"));
    let counts: Vec<usize> = name
        .split('-')
        .skip(2)
        .map(|n| n.parse().unwrap_or_default())
        .collect();
    let (records, events) = (counts[0], counts[1]);
    assert!(events > records && records > 0, "{name}");
    wait_events_after(&t.a, &b, events);
    t.clock
        .send(&mut t.p, r#"{"ev":"agent.login","agent":"a2""#, &[]);
    for id in ["c7", "c8"] {
        t.clock.ring(&mut t.p, id, "a2", "1002");
        t.clock.hangup(&mut t.p, id);
    }
    wait_events_after(&t.a, &b, events);
    b.kill9();
    // While it is down: events without records (a log-out and in), calls, and checkpoints
    // (the stream trimmed past where b stopped).
    let before = t.js.first_seq();
    t.clock
        .send(&mut t.p, r#"{"ev":"agent.logout","agent":"a2""#, &[]);
    t.clock
        .send(&mut t.p, r#"{"ev":"agent.login","agent":"a2""#, &[]);
    t.clock.hangup(&mut t.p, "c100");
    let mut n = 0;
    let until = Instant::now() + WAIT;
    while t.js.first_seq() == before {
        assert!(Instant::now() < until, "the stream was not trimmed again");
        n += 1;
        let id = format!("d{n}");
        t.clock.ring(&mut t.p, &id, "a2", "1002");
        t.clock.hangup(&mut t.p, &id);
    }
    let b = node(&t.site, &t.dir, &t.nats, "b");
    same_state(&t.a, &b);
    wait_events_after(&t.a, &b, events);
    assert_eq!(
        records_base(&b.data),
        (records, events),
        "the rows before its files, noted at its first start"
    );
}

/// A trimmed cluster's active stopped (cleanly), NATS spoilt by `spoil` (given the newest
/// checkpoint's name), then a new node started, which must fail: that name and its stderr.
fn a_start_after(name: &str, spoil: impl FnOnce(&Js, &str)) -> (String, String) {
    let t = trimmed(name);
    assert!(t.a.term().success());
    let newest = t.js.checkpoints().pop().unwrap_or_default();
    spoil(&t.js, &newest);
    let args = t.nats.node_args("b", &[]);
    let out = serve_expecting_failure_with(&t.site, &t.dir.join("b"), &strs(&args));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    (newest, err)
}

/// Issue 15: a checkpoint object that does not decode stops a node starting from it,
/// naming it; the node never falls back silently.
#[test]
fn a_checkpoint_that_does_not_decode_stops_the_node_naming_it() {
    let (newest, err) = a_start_after("ckpt-damaged", |js, newest| js.damage(newest));
    assert!(
        err.contains(&format!(
            "the checkpoint {newest} of {BUCKET} does not decode"
        )),
        "{err}"
    );
}

/// Issue 15: `--nats-wait` keeps trying to reach NATS while it is down at start, and the
/// node serves once NATS comes up within the wait.
#[test]
fn nats_wait_reaches_nats_that_comes_up_within_the_wait() {
    let dir = temp_dir("ckpt-nats-wait");
    let mut nats = NatsCluster::start(&dir.join("nats"));
    let site = write_site(&dir, SITE);
    let args = nats.node_args("a", &["--nats-wait", "60"]);
    for i in 0..3 {
        nats.kill(i);
    }
    let log = dir.join("a.log");
    let restarter = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("trying again for")
        {
            assert!(Instant::now() < until, "the node never said it waits");
            std::thread::sleep(Duration::from_millis(20));
        }
        for i in 0..3 {
            nats.restart(i);
        }
        nats
    });
    let a = Daemon::start_with(&site, &dir.join("a"), &[], &strs(&args));
    let _nats = restarter.join().expect("NATS restarted");
    wait_active(&a, ACTIVE);
    let mut p = a.platform("pbx");
    Clock { seq: 0, at: 0 }.send(&mut p, r#"{"ev":"agent.login","agent":"a1""#, &[]);
}

/// Issue 15: checkpoints kept while the journal stream was deleted (and is made again,
/// empty) are not the new stream's: a node starting stops saying so, rather than start
/// from a state the stream's sequences do not continue.
#[test]
fn checkpoints_past_the_stream_stop_the_node() {
    let (newest, err) = a_start_after("ckpt-no-stream", |js, _| js.delete_stream());
    assert!(
        err.contains(&format!(
            "the checkpoint {newest} of {BUCKET} is of sequence"
        )) && err.contains("past the journal stream vaxel_journal's last (0)"),
        "{err}"
    );
}

/// Issue 15: NATS unreachable at start is a clear error naming the servers, at once
/// without `--nats-wait`, after the wait with it (each attempt logged); nothing serves and
/// no data dir is left behind.
#[test]
fn nats_unreachable_at_start_is_a_clear_error() {
    let dir = temp_dir("ckpt-no-nats");
    let site = write_site(&dir, SITE);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("nats://127.0.0.1:{port}");
    for wait in ["0", "2"] {
        let started = Instant::now();
        let args = [
            "--cluster",
            "--nats",
            &url,
            "--node-id",
            "a",
            "--nats-wait",
            wait,
        ];
        let out = serve_expecting_failure_with(&site, &dir.join("a"), &args);
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("cannot reach NATS") && err.contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        if wait == "0" {
            assert!(!err.contains("trying again"), "{err}");
            assert!(took < Duration::from_secs(2) + WAIT, "{took:?}");
        } else {
            assert!(err.contains("after waiting 2 s (--nats-wait)"), "{err}");
            assert!(err.contains("trying again for"), "{err}");
            assert!(took >= Duration::from_secs(2), "{took:?}");
        }
        assert!(!dir.join("a").exists(), "no data dir left behind");
    }
}
