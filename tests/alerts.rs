//! `config/prometheus/alerts.yml` and `alerts_cluster.yml`: valid for Prometheus (`promtool
//! check rules`), their unit tests pass (`promtool test rules`), and every `vaxel_` series
//! they read is exported by a fresh daemon, a single node for the first and a cluster node
//! for the second and for the Grafana dashboard's cluster row (so no alert or panel waits
//! for a series that never comes). promtool or nats-server missing fails the test with the
//! way to install it.

mod serve_support;

use serve_support::http::http;
use serve_support::metrics::{dashboard_exprs, promtool_ok, series_names};
use serve_support::nats::{NatsCluster, node_with, wait_active};
use serve_support::{Daemon, SITE, WAIT, temp_dir, wait_for, write_site};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prometheus")
}

#[test]
fn the_alert_rules_check_and_pass_their_unit_tests() {
    for (rules, tests) in [
        ("alerts.yml", "alerts_test.yml"),
        ("alerts_cluster.yml", "alerts_cluster_test.yml"),
    ] {
        promtool_ok(&rules_dir(), &["check", "rules", rules]);
        promtool_ok(&rules_dir(), &["test", "rules", tests]);
    }
}

/// Every `vaxel_` series `rules` reads is in the `/metrics` of the daemon at `http` (and,
/// with `dashboard`, every `vaxel_cluster_` series the Grafana dashboard reads).
fn series_exist(rules: &str, http_addr: SocketAddr, dashboard: bool) {
    let metrics = http(http_addr, "GET", "/metrics", None, None).text();
    let present: Vec<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let text = std::fs::read_to_string(rules_dir().join(rules)).expect("read the rules");
    let mut used: Vec<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(series_names)
        .collect();
    if dashboard {
        let cluster = dashboard_exprs()
            .iter()
            .flat_map(|e| series_names(e))
            .filter(|n| n.starts_with("vaxel_cluster_"))
            .collect::<Vec<_>>();
        assert!(cluster.len() >= 4, "{cluster:?}");
        used.extend(cluster);
    }
    assert!(used.len() >= 4, "{used:?}");
    for name in used {
        // A histogram is named by its family in the descriptions, by `_bucket` in PromQL.
        let bucket = format!("{name}_bucket");
        assert!(
            present.contains(&name.as_str()) || present.contains(&bucket.as_str()),
            "{rules} reads {name}, which a fresh daemon does not export:\n{metrics}"
        );
    }
}

#[test]
fn every_series_the_alerts_read_exists_on_a_fresh_daemon() {
    let tmp = temp_dir("alerts-series");
    let site = tmp.join("site.toml");
    std::fs::write(&site, SITE).expect("write the site");
    let d = Daemon::start(&site, &tmp.join("data"), &[]);
    series_exist("alerts.yml", d.http, false);
}

#[test]
fn every_series_the_cluster_alerts_and_dashboard_read_exists_on_a_cluster_node() {
    let dir = temp_dir("alerts-cluster-series");
    let nats = NatsCluster::start(&dir.join("nats"));
    let site = write_site(&dir, SITE);
    let a = node_with(&site, &dir, &nats, "a", &["--checkpoint-every", "1"]);
    wait_active(&a, WAIT);
    // The checkpoint's age exists once there is a checkpoint: one input makes one.
    let mut p = a.platform("pbx");
    p.call(
        r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#,
        &[r#"{"cmd":"ok","seq":1}"#],
    );
    wait_for(
        WAIT,
        || format!("no checkpoint stored; log:\n{}", a.log_text()),
        || {
            let m = http(a.http, "GET", "/metrics", None, None).text();
            m.contains("\nvaxel_cluster_checkpoint_age_seconds ")
                .then_some(())
        },
    );
    series_exist("alerts_cluster.yml", a.http, true);
}
