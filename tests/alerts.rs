//! `config/prometheus/alerts.yml`: valid for Prometheus (`promtool check rules`), its unit
//! tests pass (`promtool test rules alerts_test.yml`), and every `vaxel_` series it reads
//! is exported by a fresh daemon (so no alert waits for a series that never comes).
//! promtool missing fails the test with the way to install it.

mod serve_support;

use serve_support::http::http;
use serve_support::metrics::{promtool_ok, series_names};
use serve_support::{Daemon, SITE, temp_dir};
use std::path::{Path, PathBuf};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prometheus")
}

#[test]
fn the_alert_rules_check_and_pass_their_unit_tests() {
    promtool_ok(&rules_dir(), &["check", "rules", "alerts.yml"]);
    promtool_ok(&rules_dir(), &["test", "rules", "alerts_test.yml"]);
}

#[test]
fn every_series_the_alerts_read_exists_on_a_fresh_daemon() {
    let tmp = temp_dir("alerts-series");
    let site = tmp.join("site.toml");
    std::fs::write(&site, SITE).expect("write the site");
    let d = Daemon::start(&site, &tmp.join("data"), &[]);
    let metrics = http(d.http, "GET", "/metrics", None, None).text();
    let present: Vec<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let rules = std::fs::read_to_string(rules_dir().join("alerts.yml")).expect("read the rules");
    let used: Vec<String> = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(series_names)
        .collect();
    assert!(used.len() >= 8, "{used:?}");
    for name in used {
        // A histogram is named by its family in the descriptions, by `_bucket` in PromQL.
        let bucket = format!("{name}_bucket");
        assert!(
            present.contains(&name.as_str()) || present.contains(&bucket.as_str()),
            "alerts.yml reads {name}, which a fresh daemon does not export:\n{metrics}"
        );
    }
}
