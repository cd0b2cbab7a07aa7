//! Issue 15, a partition: the active node runs in a network namespace of its own, made by
//! the test (`ip netns add`, two veth pairs on private /24s): it reaches the NATS servers
//! over one link and its platform over the other. Taking the NATS link down isolates it
//! from the cluster while the platform still reaches it. Needs root and `ip` (iproute2);
//! the namespace and its links are removed by a guard, also when the test fails.

mod serve_support;

use serve_support::cluster::{Heard, Platform};
use serve_support::nats::{NatsCluster, Place};
use serve_support::{Daemon, SITE, WAIT, daemon_bin, http_get_all, temp_dir, wait_for, write_site};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// Runs `ip ARGS`; a missing `ip` or a refusal fails saying what the test needs.
#[track_caller]
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `ip` ({e}): install iproute2 (`apt-get install -y iproute2`); the \
             partition test makes network namespaces and needs root"
        )
    });
    assert!(
        out.status.success(),
        "ip {}: {} (the partition test makes network namespaces and veth links: it needs \
         root, or CAP_NET_ADMIN and CAP_SYS_ADMIN)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A network namespace and the host's ends of its veth links, removed when dropped.
struct Netns {
    name: String,
    links: Vec<String>,
}

impl Netns {
    fn make(name: &str) -> Netns {
        // What a killed run of the same process id left behind.
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        ip(&["netns", "add", name]);
        ip(&["-n", name, "link", "set", "lo", "up"]);
        Netns {
            name: name.to_owned(),
            links: Vec::new(),
        }
    }

    /// A veth pair: `host` here as `NET.1`, `inside` in the namespace as `NET.2` (`NET` the
    /// first three octets of a private /24).
    fn link(&mut self, host: &str, inside: &str, net: &str) {
        let _ = Command::new("ip").args(["link", "del", host]).output();
        ip(&["link", "add", host, "type", "veth", "peer", "name", inside]);
        self.links.push(host.to_owned());
        ip(&["link", "set", inside, "netns", &self.name]);
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", host]);
        ip(&["link", "set", host, "up"]);
        ip(&[
            "-n",
            &self.name,
            "addr",
            "add",
            &format!("{net}.2/24"),
            "dev",
            inside,
        ]);
        ip(&["-n", &self.name, "link", "set", inside, "up"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// The time of the first line of `log` that contains `what` (the log's own timestamps,
/// the host's clock, as the test's).
fn logged_at(log: &str, what: &str) -> Option<SystemTime> {
    let line = log.lines().find(|l| l.contains(what))?;
    let stamp: jiff::Timestamp = line.split_whitespace().next()?.parse().ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(
        u64::try_from(stamp.as_nanosecond()).ok()?,
    ))
}

/// Milliseconds from `from` to `to` (negative when `to` is earlier).
fn ms(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn arrival(call: &str, at: u64, seq: u64) -> String {
    format!(
        r#"{{"ev":"call.arrived","call":"{call}","to":"+4610100","from":"+46701234567","at":{at},"seq":{seq}}}"#
    )
}

/// Issue 15: a partition that isolates the active from every NATS server. It acknowledges
/// nothing after the standby's take-over was acknowledged (the platform's clock against the
/// standby's log, one host), the standby takes over, the isolated node steps down (exit 1)
/// as its lease lapses, and the platform resumes on the new active, where every
/// acknowledged call is known.
#[test]
fn a_partition_isolating_the_active_from_nats_fences_it_before_the_standby_takes_over() {
    trial(Cut::AllOfNats);
}

/// Issue 15: the same with one of the three NATS servers in the active's namespace: the cut
/// leaves the active with a minority of NATS (whichever server it was connected to, and
/// whichever led the journal stream and the lease), which can commit nothing.
#[test]
fn a_partition_leaving_the_active_with_a_minority_of_nats_fences_it_likewise() {
    trial(Cut::MajorityOfNats);
}

/// What the cut separates the active from.
#[derive(Clone, Copy, PartialEq)]
enum Cut {
    /// Every NATS server is outside the active's namespace.
    AllOfNats,
    /// One NATS server is in the active's namespace, two outside.
    MajorityOfNats,
}

fn trial(cut_off: Cut) {
    let pid = std::process::id();
    let (tag, octet) = match cut_off {
        Cut::AllOfNats => ("a", 213),
        Cut::MajorityOfNats => ("m", 215),
    };
    let net = pid % 250 + 1;
    let ns = format!("vx{tag}part{pid}");
    let mut netns = Netns::make(&ns);
    let (nats_net, platform_net) = (
        format!("10.{octet}.{net}"),
        format!("10.{}.{net}", octet + 1),
    );
    let nats_link = format!("vx{tag}n{pid}h");
    netns.link(&nats_link, &format!("vx{tag}n{pid}n"), &nats_net);
    netns.link(
        &format!("vx{tag}p{pid}h"),
        &format!("vx{tag}p{pid}n"),
        &platform_net,
    );

    let dir = temp_dir(&format!("cluster-partition-{tag}"));
    let outside = || Place {
        wrapper: Vec::new(),
        listen: "0.0.0.0".into(),
        side: String::new(),
        remote: format!("{nats_net}.1"),
    };
    let first = match cut_off {
        Cut::AllOfNats => outside(),
        Cut::MajorityOfNats => Place {
            wrapper: vec!["ip".into(), "netns".into(), "exec".into(), ns.clone()],
            listen: "0.0.0.0".into(),
            side: ns.clone(),
            remote: format!("{nats_net}.2"),
        },
    };
    let nats = NatsCluster::start_placed(&dir.join("nats"), &[first, outside(), outside()]);
    // The active reaches a server in its namespace on loopback, the others over the link;
    // the standby those outside (a standby whose server goes silent is
    // `serve_cluster::a_standby_whose_nats_server_goes_silent_still_takes_over`).
    let host = format!("{nats_net}.1");
    let (urls_a, urls_b) = match cut_off {
        Cut::AllOfNats => (
            nats.url_list_via(&[(0, &host), (1, &host), (2, &host)]),
            nats.url_list(),
        ),
        Cut::MajorityOfNats => (
            nats.url_list_via(&[(0, "127.0.0.1"), (1, &host), (2, &host)]),
            nats.url_list_via(&[(1, "127.0.0.1"), (2, "127.0.0.1")]),
        ),
    };
    let site = write_site(&dir, &SITE.replace("grace_s = 1", "grace_s = 60"));
    // Listening beyond loopback needs tokens.
    let env = [
        ("VAXEL_PLATFORM_TOKENS", "pt"),
        ("VAXEL_OPERATOR_TOKENS", "ot"),
        ("VAXEL_ADMIN_TOKENS", "at"),
    ];
    // Node a, in the namespace (again on its data dir after the partition).
    let start_a = || {
        let mut in_ns = Command::new("ip");
        in_ns.args(["netns", "exec", &ns]).arg(daemon_bin());
        Daemon::spawn(
            in_ns,
            &format!("{platform_net}.2"),
            &site,
            &dir.join("a"),
            &env,
            &["--cluster", "--nats", &urls_a, "--node-id", "a"],
        )
    };
    let mut a = start_a();
    let mut p = Platform::new("pbx", Some("pt"));
    p.hello_any(&[a.tcp], WAIT);
    let b = Daemon::start_with(
        &site,
        &dir.join("b"),
        &env,
        &["--cluster", "--nats", &urls_b, "--node-id", "b"],
    );
    // The standby follows, naming the active.
    let mut probe = Platform::new("probe", Some("pt"));
    wait_for(
        WAIT,
        || format!("b is no standby of a; log:\n{}", b.log_text()),
        || {
            let r = probe.hello(b.tcp).err().unwrap_or_default();
            (r.contains("not_active") && r.contains("the active node is a")).then_some(())
        },
    );

    let (mut seq, mut at) = (0u64, 1_000u64);
    let mut acked: Vec<String> = Vec::new();
    for k in 0..20 {
        seq += 1;
        at += 10;
        let call = format!("c{k}");
        assert!(p.send(&arrival(&call, at, seq)));
        match p.next_answer() {
            Heard::Answer(s, Ok(())) if s == seq => acked.push(call),
            other => panic!("{call}: {other:?}"),
        }
    }

    // The partition: the active's link to NATS goes down; its platform still reaches it.
    let cut = SystemTime::now();
    ip(&["link", "set", &nats_link, "down"]);
    // The platform sends on to the isolated node (a line every 20 ms) until it closes the
    // connection; every ack it still gives is timed.
    p.read_timeout(Duration::from_millis(20));
    let mut unanswered: Vec<(u64, String)> = Vec::new();
    let mut old_acks: Vec<(SystemTime, String)> = Vec::new();
    let mut k = 20;
    let until = Instant::now() + Duration::from_secs(20);
    while p.connected() {
        assert!(
            Instant::now() < until,
            "the isolated node kept its platform for 20 s"
        );
        seq += 1;
        at += 10;
        let call = format!("c{k}");
        k += 1;
        if p.send(&arrival(&call, at, seq)) {
            unanswered.push((seq, call));
        }
        while let Heard::Answer(s, r) = p.next_answer() {
            let i = unanswered
                .iter()
                .position(|(q, _)| *q == s)
                .unwrap_or_else(|| panic!("an answer to seq {s}, not in flight"));
            let (_, c) = unanswered.remove(i);
            assert_eq!(r, Ok(()), "{c}");
            old_acks.push((SystemTime::now(), c.clone()));
            acked.push(c);
        }
    }
    let closed = SystemTime::now();
    // The platform moves to the other node as soon as the isolated one closed: it resumes
    // on the new active; what it has no answer for goes again.
    p.hello_any(&[b.tcp], Duration::from_secs(20));
    let mut first_new_ack = None;
    for (_, call) in std::mem::take(&mut unanswered) {
        seq += 1;
        at += 10;
        assert!(p.send(&arrival(&call, at, seq)));
        match p.next_answer() {
            Heard::Answer(s, Ok(())) if s == seq => {}
            // Its first copy reached the journal, unacknowledged.
            Heard::Answer(s, Err(code)) if s == seq && code == "duplicate_call" => {}
            other => panic!("{call} sent again: {other:?}"),
        }
        first_new_ack.get_or_insert_with(SystemTime::now);
        acked.push(call);
    }
    let status = a.wait();
    let a_log = a.log_text();
    assert_eq!(
        status.code(),
        Some(1),
        "the isolated node steps down with exit 1; log:\n{a_log}"
    );
    assert!(
        a_log.contains("lost the lease") || a_log.contains("fenced"),
        "{a_log}"
    );
    let stepped_down = logged_at(&a_log, "stepping down").map(|t| ms(cut, t));

    // The standby takes over.
    let took_over = wait_for(
        Duration::from_secs(10),
        || format!("the standby never took over; log:\n{}", b.log_text()),
        || logged_at(&b.log_text(), "cluster: took over"),
    );
    assert!(
        http_get_all(b.http, "/healthz")
            .to_ascii_lowercase()
            .contains("vaxel-role: active")
    );
    // Never two nodes acknowledging: the isolated node's last ack came before the take-over.
    let late: Vec<_> = old_acks.iter().filter(|(t, _)| *t >= took_over).collect();
    assert!(
        late.is_empty(),
        "the isolated node acknowledged after the take-over: {late:?}"
    );

    // Every acknowledged call is known to the new active.
    for call in &acked {
        seq += 1;
        at += 10;
        assert!(p.send(&format!(
            r#"{{"ev":"call.hangup","call":"{call}","at":{at},"seq":{seq}}}"#
        )));
        match p.next_answer() {
            Heard::Answer(s, Ok(())) if s == seq => {}
            other => panic!("{call} was lost: {other:?}"),
        }
        first_new_ack.get_or_insert_with(SystemTime::now);
    }
    let last_old = old_acks.last().map(|(t, _)| ms(cut, *t));
    eprintln!(
        "partition timeline ({}; ms from the cut): isolated node's last ack {last_old:?} \
         ({} acks after the cut), its platform connection closed {}, it stepped down {:?}; \
         the standby's take-over acknowledged {}, its first ack {:?}",
        match cut_off {
            Cut::AllOfNats => "every NATS server cut off",
            Cut::MajorityOfNats => "two NATS servers of three cut off",
        },
        old_acks.len(),
        ms(cut, closed),
        stepped_down,
        ms(cut, took_over),
        first_new_ack.map(|t| ms(cut, t))
    );
    // The link comes back; the stepped-down node, started again by its supervisor, joins
    // as a standby of the new active.
    ip(&["link", "set", &nats_link, "up"]);
    let again = start_a();
    wait_for(
        Duration::from_secs(20),
        || format!("a did not rejoin as a standby; log:\n{}", again.log_text()),
        || {
            let r = probe.hello(again.tcp).err().unwrap_or_default();
            (r.contains("not_active") && r.contains("the active node is b")).then_some(())
        },
    );
}
