//! `vaxel serve`'s `/metrics`, end to end: call records feed the counters and histograms
//! (checked by `promtool check metrics`), the Grafana dashboard's queries use only what
//! the daemon exports (the daemon in process), and a real Prometheus scrapes `vaxel serve`
//! run as a process.

mod serve_support;

use serde_json::{Value, json};
use serve_support::api::{ApiDaemon, OPERATOR_TOKEN, T0, site_with_tokens, two_waiting};
use serve_support::http::http;
use serve_support::metrics::{
    assert_sample, check_exposition, dashboard_exprs, promtool_ok, require, series_names,
};
use serve_support::temp_dir;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn call_records_feed_the_counters_and_histograms() {
    let d = ApiDaemon::start(&site_with_tokens());
    let mut p = d.platform();
    // Answered: queued at T0+1 s, answered 5 s later, 60 s of talk, wrap-up ended early.
    p.send(json!({"ev":"agent.login","agent":"a2","at":T0}));
    p.send(json!({"ev":"call.arrived","call":"c3","to":"+4685550100","from":"+46701234563","at":T0 + 1000}));
    assert!(p.command("connect", "c3").is_some(), "{:?}", p.commands);
    p.send(json!({"ev":"call.answered","call":"c3","agent":"a2","at":T0 + 6000}));
    p.send(json!({"ev":"call.hangup","call":"c3","at":T0 + 66_000}));
    p.send(json!({"ev":"agent.wrapup_done","agent":"a2","at":T0 + 70_000}));
    // Abandoned after 9 s in the bygglov queue (a1 logged in but paused).
    p.send(json!({"ev":"agent.login","agent":"a1","at":T0 + 70_000}));
    p.send(json!({"ev":"agent.pause","agent":"a1","at":T0 + 70_000}));
    p.send(json!({"ev":"call.arrived","call":"c4","to":"+4685550000","from":"+46701234564","at":T0 + 71_000}));
    p.send(json!({"ev":"call.hangup","call":"c4","at":T0 + 80_000}));
    // Two protocol errors: a bad line and an unknown call.
    p.write("{not json");
    let e = p.read();
    assert_eq!(e["code"], "bad_json", "{e}");
    let e = p
        .try_send(json!({"ev":"call.hangup","call":"nope","at":T0 + 80_000}))
        .expect_err("unknown call");
    assert_eq!(e["code"], "unknown_call", "{e}");

    let m = d.metrics();
    let w = "vaxel_wait_seconds";
    for (series, want) in [
        (
            r#"vaxel_calls_total{entry="school",outcome="answered"}"#,
            1.0,
        ),
        (
            r#"vaxel_calls_total{entry="main",outcome="abandoned"}"#,
            1.0,
        ),
        (
            r#"vaxel_queue_calls_total{group="forskola",outcome="answered"}"#,
            1.0,
        ),
        (
            r#"vaxel_queue_calls_total{group="bygglov",outcome="abandoned"}"#,
            1.0,
        ),
        (
            r#"vaxel_queue_calls_total{group="bygglov",outcome="answered"}"#,
            0.0,
        ),
        (
            &format!(r#"{w}_bucket{{group="forskola",outcome="answered",le="5"}}"#),
            1.0,
        ),
        (
            &format!(r#"{w}_sum{{group="forskola",outcome="answered"}}"#),
            5.0,
        ),
        (
            &format!(r#"{w}_bucket{{group="bygglov",outcome="abandoned",le="5"}}"#),
            0.0,
        ),
        (
            &format!(r#"{w}_bucket{{group="bygglov",outcome="abandoned",le="10"}}"#),
            1.0,
        ),
        (
            &format!(r#"{w}_count{{group="bygglov",outcome="abandoned"}}"#),
            1.0,
        ),
        (r#"vaxel_talk_seconds_sum{group="forskola"}"#, 60.0),
        (r#"vaxel_talk_seconds_count{group="forskola"}"#, 1.0),
        (r#"vaxel_protocol_errors_total{code="bad_json"}"#, 1.0),
        (r#"vaxel_protocol_errors_total{code="unknown_call"}"#, 1.0),
        (
            r#"vaxel_events_refused_total{code="unknown_call",type="call.hangup"}"#,
            1.0,
        ),
        (r#"vaxel_commands_total{type="connect"}"#, 1.0),
        // Today's service level: 1 of 2 offered answered within 20 s (the abandon took 9 s).
        (r#"vaxel_service_level_ratio{group="forskola"}"#, 1.0),
        ("vaxel_calls_in_progress", 0.0),
    ] {
        assert_sample(&m, series, want);
    }
    check_exposition(&m);
    check_dashboard(&m);
}

/// The Grafana dashboard's queries use only families the daemon exports (`m` has every
/// histogram populated), parse as PromQL (`promtool check rules`), and never add up a
/// gauge across instances: a cluster's nodes export the same engine's figures, so such a
/// sum counted each call and agent once per node (a sum by instance, then the largest, is
/// right in both modes). Platform connections are the one gauge a standby has none of.
fn check_dashboard(m: &str) {
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 15, "{exprs:?}");
    let families: Vec<&str> = m
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for e in &exprs {
        // The cluster row's series: a cluster node's (tests/alerts.rs checks them there).
        for name in series_names(e)
            .into_iter()
            .filter(|n| !n.starts_with("vaxel_cluster_"))
        {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| families.contains(b)))
                .unwrap_or(&name);
            assert!(
                families.contains(&base),
                "the dashboard uses {name}, which the daemon does not export: {e}"
            );
        }
    }
    let gauges: Vec<&str> = m
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" gauge"))
        .filter(|name| *name != "vaxel_platform_connections")
        .collect();
    for e in &exprs {
        for (at, _) in e.match_indices("sum") {
            let rest = e[at + 3..].trim_start();
            let (by, arg) = match rest.strip_prefix("by") {
                Some(r) => {
                    let r = r.trim_start();
                    let close = r.find(')').unwrap_or(0);
                    (&r[..=close], r[close + 1..].trim_start())
                }
                None => ("", rest),
            };
            let summed = arg.trim_start_matches(['(', ' ']);
            let name: String = summed
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                !gauges.contains(&name.as_str()) || by.contains("instance"),
                "the dashboard adds up the gauge {name} across instances (a cluster's nodes \
                 count it once each): {e}"
            );
        }
    }
    let dir = temp_dir("http-dashboard-rules");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: {}\n",
            json!(e)
        ));
    }
    std::fs::write(dir.join("rules.yml"), rules).expect("write rules");
    promtool_ok(&dir, &["check", "rules", "rules.yml"]);
}

#[test]
fn a_real_prometheus_scrapes_the_daemon() {
    let prometheus = require("prometheus");
    let d = ApiDaemon::process(&site_with_tokens());
    let mut p = d.platform();
    two_waiting(&mut p);

    let dir = temp_dir("http-prometheus");
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let yml = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: vaxel\n    scrape_interval: 1s\n    scrape_timeout: 1s\n\
         \x20   authorization:\n      type: Bearer\n      credentials: {OPERATOR_TOKEN}\n\
         \x20   static_configs:\n      - targets: ['{}']\n",
        d.http
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, yml).expect("write prometheus.yml");
    let log_path = dir.join("prometheus.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let prom = KillOnDrop {
        child,
        log: log_path,
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let query = |q: &str| -> Option<Value> {
        let path = format!("/api/v1/query?query={}", percent_encode(q));
        let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        drop(s);
        let r = http(addr, "GET", &path, None, None);
        (r.status == 200).then(|| r.json())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    let q = r#"vaxel_calls_waiting{group="bygglov"}"#;
    loop {
        if let Some(v) = query(q) {
            if v["data"]["result"][0]["value"][1] == "2" {
                break;
            }
            last = Some(v);
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&prom.log).unwrap_or_default();
            panic!(
                "Prometheus never answered {q} = 2 within 20 s; last answer {last:?}\nits log:\n{log}"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // The scrape itself was healthy, and the gauges of the live state are all there.
    let up = query(r#"up{job="vaxel"}"#).expect("up");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    let agents = query(r#"vaxel_agents{group="bygglov",state="paused"}"#).expect("agents");
    assert_eq!(agents["data"]["result"][0]["value"][1], "1", "{agents}");
}

/// A child process killed when dropped (its log printed if the test failed).
struct KillOnDrop {
    child: Child,
    log: PathBuf,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            print_log(&self.log);
        }
    }
}

fn print_log(p: &Path) {
    eprintln!(
        "---- {} ----\n{}",
        p.display(),
        std::fs::read_to_string(p).unwrap_or_default()
    );
}

/// Percent-encodes a URL query value.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
