//! The built-in city through the replay: a generated stretch of traffic with its generated
//! roster ends every call exactly once, with no refused input, and reaches a plausible
//! service level. (The full-year figures are in docs/benchmarks.md, made with `vaxel replay`.)
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use vaxel_sim::generate::{GenConfig, RosterGenerator, TraceGenerator};
use vaxel_sim::{ReportBuilder, replay};

#[test]
fn two_weeks_of_the_city() {
    let site = Arc::new(vaxel_config::stockholm().unwrap().site);
    let cfg = GenConfig {
        days: 14,
        start: jiff::civil::date(2026, 3, 2),
        ..GenConfig::default()
    };
    let roster = RosterGenerator::new(&site, cfg.clone())
        .unwrap()
        .generate()
        .shifts;
    let trace = TraceGenerator::new(&site, cfg).unwrap().map(Ok);
    let mut report = ReportBuilder::for_site(&site);
    let mut ids = BTreeSet::new();
    let summary = replay(site.clone(), trace, &roster, |r| {
        assert!(
            ids.insert(r.call_id.to_string()),
            "two records for {}",
            r.call_id
        );
        report.add(&r);
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.refused, 0, "{:?}", summary.first_refusals);
    assert_eq!(summary.unfinished, 0);
    assert_eq!(ids.len() as u64, summary.calls);
    for (agent, ms) in &summary.logged_in_ms {
        report.add_logged_in_time(agent, *ms);
    }
    let r = report.finish();
    eprintln!("{}", r.to_text());
    assert!(
        r.total.answer_rate > 0.7,
        "answer rate {}",
        r.total.answer_rate
    );
}
