use super::*;
use crate::cdr::tests::record;
use std::sync::Arc;

pub(super) fn tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/Stockholm").unwrap()
}

pub(super) fn rec(id: &str, group: &str, outcome: Outcome, wait_s: u64) -> CallRecord {
    let mut r = record(id);
    r.groups = [Arc::from("vaxel"), Arc::from(group)].into_iter().collect();
    r.outcome = outcome;
    r.wait_ms = wait_s * 1000;
    if !outcome.is_answered() {
        r.answered = None;
        r.agent = Arc::from("");
        r.talk_ms = 0;
        r.wrapup_ms = 0;
        r.resolved = None;
        r.case_type = None;
    }
    r
}

/// Ten calls with every kind of ending, checked by hand.
pub(super) fn sample() -> Vec<CallRecord> {
    let mut v = vec![
        rec("1", "bygglov", Outcome::Answered, 0),
        rec("2", "bygglov", Outcome::Answered, 20),
        rec("3", "bygglov", Outcome::Answered, 21),
        rec("4", "bygglov", Outcome::CallbackAnswered, 400),
        rec("5", "bygglov", Outcome::Abandoned, 5),
        rec("6", "bygglov", Outcome::Abandoned, 6),
        rec("7", "bygglov", Outcome::OverflowExternal, 60),
        rec("8", "forskola", Outcome::Timeout, 900),
        rec("9", "forskola", Outcome::Answered, 10),
    ];
    // Ended in the menus: not offered, no groups.
    let mut ivr = rec("10", "x", Outcome::AbandonedIvr, 0);
    ivr.queued = None;
    ivr.groups.clear();
    v.push(ivr);
    v
}

#[test]
fn definitions_on_a_hand_checked_sample() {
    let mut b = ReportBuilder::new(20_000, tz());
    for r in &sample() {
        b.add(r);
    }
    b.add_busy_time("a1", 30_000);
    b.add_logged_in_time("a1", 120_000);
    let rep = b.finish();
    assert_eq!(rep.calls, 10);
    let t = &rep.total;
    assert_eq!(t.offered, 9);
    assert_eq!(t.answered, 5);
    assert_eq!(t.abandoned, 2);
    assert_eq!(t.short_abandoned, 1);
    assert_eq!(t.overflowed, 2);
    assert_eq!(t.answered_within_sl, 3, "waits 0, 20 (inclusive) and 10");
    assert!((t.service_level - 3.0 / 8.0).abs() < 1e-9);
    assert!((t.answer_rate - 5.0 / 9.0).abs() < 1e-6);
    assert!((t.asa_s - (0.0 + 20.0 + 21.0 + 400.0 + 10.0) / 5.0).abs() < 1e-9);
    assert!((t.aht_s - 210.0).abs() < 1e-9);
    assert!((t.max_wait_s - 900.0).abs() < 1e-9);
    assert!((t.occupancy - 0.25).abs() < 1e-9);

    // Attributed to the last group; "vaxel" saw every call first but ends none.
    let names: Vec<_> = rep.groups.0.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["bygglov", "forskola"]);
    let g = rep.groups.get("bygglov").unwrap();
    assert_eq!(
        (g.offered, g.answered, g.abandoned, g.overflowed),
        (7, 4, 2, 1)
    );
    let g = rep.groups.get("forskola").unwrap();
    assert_eq!((g.offered, g.answered, g.overflowed), (2, 1, 1));
    assert!((g.service_level - 0.5).abs() < 1e-9);

    let e = rep.entries.get("city").unwrap();
    assert_eq!((e.calls, e.offered, e.answered), (10, 9, 5));
}

#[test]
fn json_has_exactly_the_formats_keys_in_order() {
    let mut b = ReportBuilder::new(20_000, tz());
    for r in &sample() {
        b.add(r);
    }
    let json = b.finish().to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    // serde_json's map is sorted unless preserve_order: check order on the text instead.
    let order = [
        "\"calls\"",
        "\"events\"",
        "\"wall_s\"",
        "\"total\"",
        "\"groups\"",
        "\"entries\"",
        "\"breakdowns\"",
    ];
    let pos: Vec<_> = order.iter().map(|k| json.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{json}");
    let stat_keys = [
        "offered",
        "answered",
        "abandoned",
        "overflowed",
        "answered_within_sl",
        "service_level",
        "answer_rate",
        "asa_s",
        "aht_s",
        "max_wait_s",
        "occupancy",
    ];
    let total = json.find("\"total\"").unwrap();
    let mut at = total;
    for k in stat_keys {
        let p = json[at..].find(&format!("\"{k}\"")).unwrap() + at;
        at = p;
    }
    for s in [&v["total"], &v["groups"]["bygglov"]] {
        let mut k = keys(s);
        k.sort();
        let mut want: Vec<String> = stat_keys.iter().map(|s| (*s).to_owned()).collect();
        want.push("short_abandoned".into());
        want.sort();
        assert_eq!(k, want);
    }
    let mut k = keys(&v["entries"]["city"]);
    k.sort();
    assert_eq!(k, ["answer_rate", "answered", "calls", "offered"]);
    assert_eq!(
        keys(&v["breakdowns"]).len(),
        6,
        "by_hour, by_weekday, by_month, wait, case_types, resolution"
    );
}

#[test]
fn empty_report_has_zero_ratios() {
    let rep = ReportBuilder::new(20_000, tz()).finish();
    assert_eq!(rep.total.service_level, 0.0);
    assert_eq!(rep.total.asa_s, 0.0);
    let text = rep.to_text();
    assert!(text.contains("total"), "{text}");
    assert!(text.contains('-'), "{text}");
}

#[test]
fn text_is_aligned() {
    let mut b = ReportBuilder::new(20_000, tz());
    for r in &sample() {
        b.add(r);
    }
    let text = b.finish().to_text();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("group")).unwrap();
    let total = lines.iter().position(|l| l.starts_with("total")).unwrap();
    let len = lines[header].chars().count();
    for l in &lines[header..=total] {
        assert_eq!(l.chars().count(), len, "{text}");
    }
    assert!(lines[header + 1].starts_with("bygglov "), "{text}");
    assert!(text.contains("37.5%"), "{text}");
}

#[test]
fn breakdowns_count_local_time_waits_case_types_and_resolution() {
    let mut v = sample();
    // 2026-03-01 is a Sunday; 23:30 UTC is 00:30 on Monday 2 March in Stockholm.
    v[0].arrived = crate::timefmt::parse_timestamp("2026-03-01T23:30:00Z").unwrap();
    v[1].resolved = Some(false);
    v[2].case_type = Some(Arc::from("förskola"));
    let rep = {
        let mut b = ReportBuilder::new(20_000, tz());
        for r in &v {
            b.add(r);
        }
        b.finish()
    };
    let bd = &rep.breakdowns;
    let hour = bd.get("by_hour").unwrap();
    assert_eq!(hour.rows.len(), 24);
    assert_eq!(hour.rows[0].calls, 1);
    assert_eq!(hour.rows[8].calls, 9, "the sample's 08:15 arrivals");
    let wd = bd.get("by_weekday").unwrap();
    assert_eq!(wd.rows[0].key, "mon");
    assert_eq!(wd.rows[0].calls, 10);
    let month = bd.get("by_month").unwrap();
    assert_eq!(month.rows[2].key, "03");
    assert_eq!(month.rows[2].calls, 10);
    assert!((month.rows[2].share - 1.0).abs() < 1e-12);
    let wait = bd.get("wait").unwrap();
    let keys: Vec<_> = wait.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "0", "0-10", "10-20", "20-30", "30-60", "60-120", "120-300", "300-600", "600+"
        ]
    );
    let counts: Vec<_> = wait.rows.iter().map(|r| r.calls).collect();
    // waits: 0, 20, 21, 400, 5, 6, 60, 900, 10
    assert_eq!(counts, [1, 3, 1, 1, 1, 0, 0, 1, 1]);
    let ct = bd.get("case_types").unwrap();
    assert_eq!(ct.rows[0].key, "bygglov, ritning");
    assert_eq!(ct.rows[0].calls, 4);
    assert_eq!(ct.rows[1].key, "förskola");
    let res = bd.get("resolution").unwrap();
    let counts: Vec<_> = res.rows.iter().map(|r| r.calls).collect();
    assert_eq!(counts, [4, 1, 0]);
    assert!(rep.breakdowns_to_text().contains("förskola"));
    // The free function gives the same tables.
    assert_eq!(breakdowns(&v, tz(), 20_000), rep.breakdowns);
}

#[test]
fn site_groups_listed_even_without_calls_and_occupancy_per_group() {
    let mut b = ReportBuilder::new(20_000, tz());
    b.groups.index(&Arc::from("kris"));
    let i = b.groups.index(&Arc::from("bygglov"));
    b.agent_groups.insert(Arc::from("a1"), vec![i]);
    for r in &sample() {
        b.add(r);
    }
    b.add_logged_in_time("a1", 4 * 210_000);
    b.add_logged_in_time("unknown", 1_000);
    let rep = b.finish();
    assert_eq!(rep.groups.0[0].0, "kris");
    assert_eq!(rep.groups.get("kris").unwrap().offered, 0);
    let g = rep.groups.get("bygglov").unwrap();
    assert!((g.occupancy - 1.0).abs() < 1e-9, "{g:?}");
}

#[test]
fn for_site_lists_the_site_in_order_and_maps_agents_to_groups() {
    let site = vaxel_config::stockholm().unwrap().site;
    let mut b = ReportBuilder::for_site(&site);
    let mut r = rec("1", "bygglov", Outcome::Answered, 3);
    r.entry = Arc::from("stadsbyggnad");
    b.add(&r);
    // An agent who can serve bygglov: its logged-in time counts there.
    let g = &site.groups[site.group_by_id["bygglov"].ix()];
    let agent = site
        .agents
        .iter()
        .find(|a| g.qualifying_step(&a.skills).is_some())
        .unwrap();
    b.add_logged_in_time(&agent.id, 420_000);
    b.add_busy_time(&agent.id, 210_000);
    let rep = b.finish();
    let groups: Vec<_> = rep.groups.0.iter().map(|(k, _)| k.as_str()).collect();
    let want: Vec<_> = site.groups.iter().map(|g| &*g.id).collect();
    assert_eq!(groups, want);
    let entries: Vec<_> = rep.entries.0.iter().map(|(k, _)| k.as_str()).collect();
    let want: Vec<_> = site.entries.iter().map(|e| &*e.id).collect();
    assert_eq!(entries, want);
    assert!((rep.groups.get("bygglov").unwrap().occupancy - 0.5).abs() < 1e-9);
    assert!((rep.total.occupancy - 0.5).abs() < 1e-9);
    assert_eq!(rep.entries.get("stadsbyggnad").unwrap().answered, 1);
    assert_eq!(rep.entries.get("city").unwrap().calls, 0);
}
