//! The same site and seed give the same trace, roster, call records and report, byte for
//! byte (the report's `wall_s`, a measurement, left out); another seed gives another trace.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use vaxel_core::site::Site;
use vaxel_sim::generate::{GenConfig, RosterGenerator, TraceGenerator};
use vaxel_sim::{
    CdrWriter, ReportBuilder, RosterReader, RosterWriter, TraceReader, TraceWriter, read_roster,
    replay,
};

/// Everything one seed produces, as bytes.
#[derive(Debug, PartialEq, Eq)]
struct Outputs {
    trace: Vec<u8>,
    roster: Vec<u8>,
    cdr: Vec<u8>,
    report: String,
}

fn config(seed: u64) -> GenConfig {
    GenConfig {
        days: 2,
        start: jiff::civil::date(2026, 3, 2),
        seed,
        ..GenConfig::default()
    }
}

fn trace(site: &Site, seed: u64) -> Vec<u8> {
    let mut w = TraceWriter::new(Vec::new(), "calls.csv", site.timezone.clone()).unwrap();
    TraceGenerator::new(site, config(seed))
        .unwrap()
        .write_all(&mut w)
        .unwrap();
    w.into_inner().unwrap()
}

fn produce(site: &Arc<Site>, seed: u64) -> Outputs {
    let cfg = config(seed);
    let tz = site.timezone.clone();
    let trace = trace(site, seed);
    let mut w = RosterWriter::new(Vec::new(), "roster.csv", tz.clone()).unwrap();
    for s in RosterGenerator::new(site, cfg).unwrap().generate().shifts {
        w.write(&s).unwrap();
    }
    let roster = w.into_inner().unwrap();
    // Replay from the files, as `vaxel replay` does.
    let shifts = read_roster(RosterReader::new(roster.as_slice(), "roster.csv").unwrap()).unwrap();
    let calls = TraceReader::new(trace.as_slice(), "calls.csv").unwrap();
    let mut cdr = CdrWriter::new(Vec::new(), "cdr.csv", tz).unwrap();
    let mut report = ReportBuilder::for_site(site);
    let summary = replay(site.clone(), calls, &shifts, |r| {
        report.add(&r);
        report.add_busy_time(&r.agent, r.talk_ms + r.wrapup_ms);
        cdr.write(&r)
    })
    .unwrap();
    assert_eq!(summary.refused, 0, "{:?}", summary.first_refusals);
    for (agent, ms) in &summary.logged_in_ms {
        report.add_logged_in_time(agent, *ms);
    }
    let mut report = report.finish();
    report.events = summary.events;
    Outputs {
        trace,
        roster,
        cdr: cdr.into_inner().unwrap(),
        report: report.to_json(),
    }
}

#[test]
fn same_seed_same_bytes() {
    let site = Arc::new(vaxel_config::stockholm().unwrap().site);
    let a = produce(&site, 7);
    let b = produce(&site, 7);
    assert!(a.trace.len() > 10_000 && a.cdr.len() > 10_000);
    // Compared one by one, so a failure says which file differs.
    assert!(a.trace == b.trace, "traces differ");
    assert!(a.roster == b.roster, "rosters differ");
    assert!(a.cdr == b.cdr, "call records differ");
    assert_eq!(a.report, b.report);
    assert!(
        a.trace != trace(&site, 8),
        "another seed gives the same trace"
    );
}
