//! Issue 15, fail-over with resume: a protocol version 2 platform sends traffic to the
//! active node of a two-node cluster (a 3-server NATS JetStream cluster on loopback,
//! `serve_support::nats`); the active is killed -9 at random moments (seeded:
//! `VAXEL_TEST_SEED`), and each time the platform drops what it had not read, says `hello`
//! to the other node with `last_cmd` and sends again, in order, every line it has no
//! answer for. The killed node starts again as the standby. Checked: the standby serves
//! within 2 s of each kill; every command number comes exactly once, in order, with no
//! gap, across every fail-over; every acknowledged input survives; every call ends once,
//! with one record, in every node's files.

mod serve_support;

use serve_support::cluster::{Heard, Platform, Rng};
use serve_support::nats::NatsCluster;
use serve_support::{Daemon, SITE, WAIT, records, temp_dir, wait_for, write_site};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Kills of the active in one trial.
const KILLS: usize = 10;
/// Calls in one trial (at least: the traffic goes on until the last kill).
const CALLS: usize = 400;
/// Lines sent and not yet answered, at most.
const WINDOW: usize = 16;

/// One event of the platform's traffic.
#[derive(Clone, Debug)]
enum Ev {
    Login(&'static str),
    Arrive(String),
    /// The agent answers the call (after its `connect`).
    Answer(String, String),
    Hangup(String),
}

impl Ev {
    fn line(&self, at: u64, seq: u64) -> String {
        match self {
            Ev::Login(a) => {
                format!(r#"{{"ev":"agent.login","agent":"{a}","at":{at},"seq":{seq}}}"#)
            }
            Ev::Arrive(c) => format!(
                r#"{{"ev":"call.arrived","call":"{c}","to":"+4610100","from":"+46701234567","at":{at},"seq":{seq}}}"#
            ),
            Ev::Answer(c, a) => format!(
                r#"{{"ev":"call.answered","call":"{c}","agent":"{a}","at":{at},"seq":{seq}}}"#
            ),
            Ev::Hangup(c) => {
                format!(r#"{{"ev":"call.hangup","call":"{c}","at":{at},"seq":{seq}}}"#)
            }
        }
    }
}

/// The two nodes' site, data dirs and NATS.
struct Cluster {
    site: PathBuf,
    dir: PathBuf,
    urls: String,
}

const NAMES: [&str; 2] = ["a", "b"];

impl Cluster {
    fn start(&self, i: usize) -> Daemon {
        Daemon::start_with(
            &self.site,
            &self.dir.join(NAMES[i]),
            &[],
            &["--cluster", "--nats", &self.urls, "--node-id", NAMES[i]],
        )
    }
}

/// The call ids in `data`'s records, with how many records each has.
fn records_by_call(data: &Path) -> BTreeMap<String, usize> {
    let mut by_call = BTreeMap::new();
    for (id, _) in records(data) {
        *by_call.entry(id).or_default() += 1;
    }
    by_call
}

/// The median and the largest of `d`.
fn median_max(d: &[Duration]) -> (Duration, Duration) {
    let mut d = d.to_vec();
    d.sort();
    (d[d.len() / 2], d[d.len() - 1])
}

#[test]
fn kill9_of_the_active_at_random_moments_the_platform_resumes_and_nothing_is_lost_or_doubled() {
    let seed: u64 = std::env::var("VAXEL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let mut rng = Rng(seed);
    let dir = temp_dir("cluster-failover");
    let nats = NatsCluster::start(&dir.join("nats"));
    // A grace period far longer than a fail-over: the platform's calls wait for it.
    let site = write_site(&dir, &SITE.replace("grace_s = 1", "grace_s = 60"));
    let cluster = Cluster {
        site,
        dir: dir.clone(),
        urls: nats.url_list(),
    };
    let mut nodes = [Some(cluster.start(0)), None];
    let mut p = Platform::new("pbx", None);
    let tcp = |n: &Option<Daemon>| n.as_ref().map(|d| d.tcp).expect("a running node");
    p.hello_any(&[tcp(&nodes[0])], WAIT);
    nodes[1] = Some(cluster.start(1));
    let mut active = 0;

    // Lines to send before anything new, and whether each is sent again (its first copy's
    // fate unknown: the node that read it was killed before answering).
    let mut pending: VecDeque<(Ev, bool)> =
        VecDeque::from([(Ev::Login("a1"), false), (Ev::Login("a2"), false)]);
    // seq → the event, and whether it is sent again.
    let mut in_flight: BTreeMap<u64, (Ev, bool)> = BTreeMap::new();
    let (mut seq, mut at) = (0u64, 1_000u64);
    let mut calls = 0usize;
    // Calls whose arrival is acknowledged and that have not been hung up.
    let mut live: Vec<String> = Vec::new();
    let mut ended: BTreeSet<String> = BTreeSet::new();
    // Calls whose hang-up is sent (or about to be): no `connect` for them is answered.
    let mut hanging: BTreeSet<String> = BTreeSet::new();
    let mut commands_seen = 0;
    // From each kill to the new active's first ack, and to its `welcome` (it serves).
    let mut failovers: Vec<Duration> = Vec::new();
    let mut served: Vec<Duration> = Vec::new();
    let mut killed: Option<Instant> = None;
    let mut acks_here = 0u64;
    let mut kill_after = 20 + rng.below(130);
    loop {
        let traffic = failovers.len() < KILLS || calls < CALLS;
        while in_flight.len() < WINDOW {
            let (ev, again) = if let Some(e) = pending.pop_front() {
                e
            } else if traffic && (live.is_empty() || rng.below(2) == 0) {
                calls += 1;
                (Ev::Arrive(format!("c{}", calls - 1)), false)
            } else if !live.is_empty() {
                let i = rng.below(live.len() as u64) as usize;
                let c = live.swap_remove(i);
                hanging.insert(c.clone());
                (Ev::Hangup(c), false)
            } else {
                break;
            };
            seq += 1;
            // 100 ms a line: agents' rings time out (20 s) within the trial, so the
            // engine's timers make commands too.
            at += 100;
            assert!(
                p.send(&ev.line(at, seq)),
                "the connection to the active broke"
            );
            in_flight.insert(seq, (ev, again));
        }
        if in_flight.is_empty() {
            break;
        }
        let (s, r) = match p.next_answer() {
            Heard::Answer(s, r) => (s, r),
            other => panic!("the active stopped answering ({other:?})"),
        };
        // The agent answers every call it is connected to, unless the call is hanging up.
        for l in &p.commands[commands_seen..] {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            if let (Some("connect"), Some(c), Some(a)) =
                (v["cmd"].as_str(), v["call"].as_str(), v["agent"].as_str())
                && !hanging.contains(c)
            {
                pending.push_back((Ev::Answer(c.to_owned(), a.to_owned()), false));
            }
        }
        commands_seen = p.commands.len();
        let (ev, again) = in_flight
            .remove(&s)
            .unwrap_or_else(|| panic!("an answer to seq {s}, which is not in flight"));
        match (&ev, &r) {
            (Ev::Arrive(c), Ok(())) => live.push(c.clone()),
            // Sent again after a fail-over: its first copy was journaled.
            (Ev::Arrive(c), Err(code)) if again && code == "duplicate_call" => {
                live.push(c.clone());
            }
            (Ev::Hangup(c), Ok(())) => {
                let first = ended.insert(c.clone());
                assert!(first || again, "{c} hung up twice");
            }
            (Ev::Login(_) | Ev::Answer(..), Ok(())) => {}
            // Sent again after a fail-over: its first copy was journaled (and the call's
            // hang-up, sent after it, too: the call is gone).
            (Ev::Login(_) | Ev::Answer(..), Err(code)) if again && code == "invalid_state" => {}
            (Ev::Answer(c, _), Err(code))
                if again && code == "unknown_call" && hanging.contains(c) => {}
            (ev, Err(code)) => panic!("{ev:?} (seq {s}, sent again: {again}): {code}"),
        }
        if r.is_ok() {
            acks_here += 1;
            if let Some(k) = killed.take() {
                failovers.push(k.elapsed());
                // The killed node starts again on its data dir, as the standby.
                let victim = 1 - active;
                nodes[victim] = Some(cluster.start(victim));
            }
        }
        if acks_here >= kill_after && failovers.len() < KILLS && killed.is_none() {
            if let Some(d) = nodes[active].take() {
                d.kill9();
            }
            killed = Some(Instant::now());
            p.drop_connection();
            // Every line without an answer goes again, in order, before anything new.
            for (_, (e, _)) in std::mem::take(&mut in_flight).into_iter().rev() {
                pending.push_front((e, true));
            }
            active = 1 - active;
            p.hello_any(&[tcp(&nodes[active])], Duration::from_secs(10));
            served.push(killed.map(|k| k.elapsed()).unwrap_or_default());
            acks_here = 0;
            kill_after = 20 + rng.below(130);
        }
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for l in &p.commands {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        *kinds
            .entry(v["cmd"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let (median, max) = median_max(&failovers);
    let (serves_median, serves_max) = median_max(&served);
    eprintln!(
        "seed {seed}: {} kills; from the kill to the new active's welcome: median \
         {serves_median:?}, max {serves_max:?}; to its first ack: median {median:?}, max \
         {max:?}, all {failovers:?}; {} commands ({} brought by a resume; {kinds:?}), {calls} \
         calls",
        failovers.len(),
        p.last_cmd,
        p.resumed
    );
    assert_eq!(failovers.len(), KILLS);
    assert!(
        serves_max < Duration::from_secs(2),
        "a standby took {serves_max:?} to serve: {served:?}"
    );
    assert!(
        p.resumed > 0,
        "no kill left a command unread: the trial did not test resuming"
    );
    assert!(live.is_empty());
    assert_eq!(ended.len(), calls, "every call hung up once");
    // Every call was told something (a `queue` or a `connect`): no call's commands were
    // lost with a node.
    let told: BTreeSet<String> = p
        .commands
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["call"].as_str().map(str::to_owned)
        })
        .collect();
    let untold: Vec<_> = ended.difference(&told).collect();
    assert!(untold.is_empty(), "calls without a command: {untold:?}");

    // One record per call in both nodes' files (each writes the whole journal's).
    for n in nodes.iter().flatten() {
        let by_call = wait_for(
            Duration::from_secs(20),
            || format!("{} holds records of too few calls", n.data.display()),
            || Some(records_by_call(&n.data)).filter(|b| b.len() >= calls),
        );
        let ids: BTreeSet<String> = by_call.keys().cloned().collect();
        assert_eq!(ids, ended, "calls with a record in {}", n.data.display());
        let twice: Vec<_> = by_call.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            twice.is_empty(),
            "calls with more than one record: {twice:?}"
        );
    }
}
