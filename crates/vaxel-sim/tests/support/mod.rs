//! Shared by the replay tests: a one-group site, its roster, calls, and a replay that
//! collects the records.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use vaxel_core::site::Site;
use vaxel_core::{CallRecord, Timestamp};
use vaxel_sim::{ReplaySummary, Shift, TraceCall, replay};

/// The number callers dial.
pub const NUMBER: &str = "+4685080000";

/// A site with one first-come-first-served group `g` (`ring_s = 0`, no wrap-up, no
/// calendar, no overflow) served by `agents` identical agents `a0`, `a1`, ...
pub fn one_group_site(agents: usize) -> Arc<Site> {
    one_group_site_ringing(agents, 0)
}

/// [`one_group_site`] with agents who answer after `ring_s`.
pub fn one_group_site_ringing(agents: usize, ring_s: u32) -> Arc<Site> {
    let mut s = format!(
        "[site]\nname = \"One group\"\ntimezone = \"UTC\"\nservice_level_s = 20\n\
         service_level_target = 0.8\n\n\
         [[entries]]\nid = \"e\"\nnumber = \"{NUMBER}\"\nroute = \"group:g\"\n\n\
         [[groups]]\nid = \"g\"\nrequires = {{ g = 1 }}\nring_s = {ring_s}\nwrapup_s = 0\n"
    );
    for i in 0..agents {
        s.push_str(&format!(
            "\n[[agents]]\nid = \"a{i}\"\nname = \"Agent {i}\"\nextension = \"{}\"\n\
             skills = {{ g = 1 }}\n",
            1000 + i
        ));
    }
    match vaxel_config::load_site(&s) {
        Ok(v) => Arc::new(v.site),
        Err(d) => panic!("{d:?}"),
    }
}

/// Every agent logged in from `from` to `to`.
pub fn whole_time_roster(agents: usize, from: Timestamp, to: Timestamp) -> Vec<Shift> {
    (0..agents)
        .map(|i| Shift {
            agent: format!("a{i}"),
            start: from,
            end: to,
        })
        .collect()
}

/// A call to [`NUMBER`] with no menu, no wrap-up of its own, nothing recorded.
pub fn call(i: usize, arrival: Timestamp, talk_ms: u64, patience_ms: Option<u64>) -> TraceCall {
    TraceCall {
        call_id: format!("c{i:07}"),
        arrival,
        to: NUMBER.into(),
        from: "+46701234567".into(),
        patience_ms,
        talk_ms,
        ..TraceCall::default()
    }
}

/// Replays `calls` and returns the records in the order the calls were given (by id).
pub fn replay_records(
    site: &Arc<Site>,
    calls: &[TraceCall],
    roster: &[Shift],
) -> (Vec<CallRecord>, ReplaySummary) {
    let mut records: Vec<Option<CallRecord>> = vec![None; calls.len()];
    let index: std::collections::HashMap<&str, usize> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| (c.call_id.as_str(), i))
        .collect();
    let summary = replay(site.clone(), calls.iter().cloned().map(Ok), roster, |r| {
        let i = index[&*r.call_id];
        assert!(records[i].is_none(), "two records for {}", r.call_id);
        records[i] = Some(*r);
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.refused, 0, "{:?}", summary.first_refusals);
    assert_eq!(summary.unfinished, 0);
    let records = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| panic!("no record for call {i}")))
        .collect();
    (records, summary)
}
