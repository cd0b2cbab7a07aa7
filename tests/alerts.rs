//! `config/prometheus/alerts.yml`: valid for Prometheus (`promtool check rules`), its unit
//! tests pass (`promtool test rules alerts_test.yml`), and every `vaxel_` series it reads
//! is exported by a fresh daemon (so no alert waits for a series that never comes).
//! promtool missing fails the test with the way to install it.

mod serve_support;

use serve_support::{Daemon, SITE, output_within, temp_dir};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn promtool() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "promtool is not installed: run scripts/test, or `apt-get install -y \
                 prometheus` (Debian)"
            )
        })
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prometheus")
}

fn promtool_ok(args: &[&str]) {
    let out = output_within(
        Command::new(promtool()).args(args).current_dir(rules_dir()),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_alert_rules_check_and_pass_their_unit_tests() {
    promtool_ok(&["check", "rules", "alerts.yml"]);
    promtool_ok(&["test", "rules", "alerts_test.yml"]);
}

/// `GET path` on `addr`, the body.
fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[test]
fn every_series_the_alerts_read_exists_on_a_fresh_daemon() {
    let tmp = temp_dir("alerts-series");
    let site = tmp.join("site.toml");
    std::fs::write(&site, SITE).expect("write the site");
    let d = Daemon::start(&site, &tmp.join("data"), &[]);
    let metrics = get(d.http, "/metrics");
    let present: Vec<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let rules = std::fs::read_to_string(rules_dir().join("alerts.yml")).expect("read the rules");
    let mut used: Vec<String> = Vec::new();
    for line in rules.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find("vaxel_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            used.push(name);
        }
    }
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
