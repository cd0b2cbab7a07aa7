//! Reading `/metrics`: a sample by its series, and the checks by Prometheus's own tools
//! (`promtool`), which a test needs installed: without them it fails and says how to
//! install them, it never passes by skipping.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The value of the series written exactly as `series` (`name{labels}`).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[track_caller]
pub fn assert_sample(text: &str, series: &str, want: f64) {
    match sample(text, series) {
        Some(v) => assert!(
            (v - want).abs() < 1e-9,
            "{series} is {v}, want {want}\n{text}"
        ),
        None => panic!("no {series} in\n{text}"),
    }
}

/// The `vaxel_…` series names written in `text` (a PromQL query, a rule), in order.
pub fn series_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("vaxel_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        names.push(name);
    }
    names
}

/// The path of `name` (a Prometheus tool, Debian's `prometheus` package): a test that
/// needs it fails without it and says how to install it, it never passes by skipping.
pub fn require(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: apt-get install -y prometheus (scripts/test does)")
        })
}

/// Checks the exposition with `promtool check metrics`.
pub fn check_exposition(text: &str) {
    let promtool = require("promtool");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `promtool` with `args` in `dir`, which must succeed (bounded: a minute).
#[track_caller]
pub fn promtool_ok(dir: &Path, args: &[&str]) {
    let out = super::output_within(
        Command::new(require("promtool"))
            .args(args)
            .current_dir(dir),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "promtool {args:?} in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Grafana dashboard's queries (`config/grafana/vaxel-dashboard.json`), its variables
/// given a value; every target on the dashboard's one data source input.
pub fn dashboard_exprs() -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/grafana/vaxel-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("read the dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dash["__inputs"][0]["name"], "DS_PROMETHEUS");
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{t}");
            let e = t["expr"].as_str().expect("expr");
            exprs.push(
                e.replace("$group", ".*")
                    .replace("$sl_target", "0.8")
                    .replace("$__rate_interval", "1m"),
            );
        }
    }
    exprs
}
