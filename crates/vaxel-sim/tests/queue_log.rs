//! `queue_log` export against a golden file: a scenario with an answered call, a
//! ring-no-answer, an abandoned call, a timeout, a blind transfer, a call the agent hung
//! up, pauses, logins and logouts, run through the engine with its event log on. The
//! golden file was written from app_queue's formats (docs/formats.md, "queue_log export")
//! and checked line by line; re-bless with `UPDATE_EXPECT=1` only after checking the diff.

use std::path::Path;
use std::sync::Arc;
use vaxel_core::{Engine, Event, Input, Output, Timestamp};
use vaxel_sim::queue_log::QueueLog;

/// The scenario's site, a data file beside the golden output it shapes: one entry to
/// `sales` (with a 60 s `max_wait_s` for the timeout), `a2` with `sales` only.
const SITE: &str = include_str!("golden/queue_log-site.toml");

/// 2026-03-02 08:00:00 UTC.
const T0: u64 = 1_772_438_400_000;

/// `(seconds after T0, input as serde's JSON)`.
const SCRIPT: &[(u64, &str)] = &[
    (0, r#"{"agent.login":{"agent":"a1"}}"#),
    (0, r#"{"agent.login":{"agent":"a2"}}"#),
    (1, r#"{"agent.pause":{"agent":"a2","reason":"lunch"}}"#),
    // Rings a1, who lets it ring out; offered to a1 again and answered.
    (
        2,
        r#"{"call.arrived":{"call":"c1","platform":"pbx","to":"+4610100","from":"+46701"}}"#,
    ),
    (5, r#"{"call.noanswer":{"call":"c1","agent":"a1"}}"#),
    (8, r#"{"call.answered":{"call":"c1","agent":"a1"}}"#),
    // Nobody free: waits, and hangs up after ten seconds.
    (
        10,
        r#"{"call.arrived":{"call":"c2","platform":"pbx","to":"+4610100","from":"+46702"}}"#,
    ),
    (20, r#"{"call.hangup":{"call":"c2"}}"#),
    // Waits past max_wait_s (60 s): timeout at 85 s.
    (
        25,
        r#"{"call.arrived":{"call":"c3","platform":"pbx","to":"+4610100","from":""}}"#,
    ),
    (
        100,
        r#"{"call.transfer":{"call":"c1","agent":"a1","to":"number:+4681234"}}"#,
    ),
    (110, r#"{"agent.ready":{"agent":"a2"}}"#),
    // Straight to a free agent; the agent hangs up.
    (
        120,
        r#"{"call.arrived":{"call":"c4","platform":"pbx","to":"+4610100","from":"+46704"}}"#,
    ),
    (125, r#"{"call.answered":{"call":"c4","agent":"a1"}}"#),
    (185, r#"{"call.hangup":{"call":"c4","reason":"agent"}}"#),
    (200, r#"{"agent.logout":{"agent":"a1"}}"#),
    (200, r#"{"agent.logout":{"agent":"a2"}}"#),
];

fn events() -> Vec<Event> {
    let site = vaxel_config::load_site(SITE)
        .expect("the test site is valid")
        .site;
    let mut engine = Engine::new(Arc::new(site), Timestamp(T0));
    engine.set_events(true);
    let mut out = Vec::new();
    for (s, json) in SCRIPT {
        let input: Input = serde_json::from_str(json).expect("a valid input");
        engine
            .handle(Timestamp(T0 + s * 1000), input)
            .unwrap_or_else(|e| panic!("{json}: {e}"));
        while let Some(o) = engine.poll_output() {
            if let Output::Event(e) = o {
                out.push(*e);
            }
        }
    }
    out
}

#[test]
fn queue_log_export_matches_the_golden_file() {
    let site = vaxel_config::load_site(SITE).expect("valid").site;
    let mut ql = QueueLog::for_site(&site);
    let mut got = String::new();
    for e in events() {
        ql.event(&e, &mut got);
    }
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/queue_log.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&golden, &got).expect("write the golden file");
        return;
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    if got != want {
        let diff = similar::TextDiff::from_lines(&want, &got);
        panic!(
            "queue_log differs from {} (- golden, + got):\n{}",
            golden.display(),
            diff.unified_diff()
        );
    }
}
