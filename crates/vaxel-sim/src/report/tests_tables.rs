//! The tables and the zero measurement of `vaxel report` on the hand-checked sample of
//! `tests.rs` (ten calls, all arriving 2026-03-02 08:15:03 in Stockholm, every answered one
//! by agent `a1017` with 180 s talk and 30 s wrap-up).

use super::tests::{sample, tz};
use super::*;
use crate::cdr::tests::record;
use vaxel_core::Timestamp;

fn with_tables(records: &[CallRecord], minutes: u32) -> Report {
    let mut b = ReportBuilder::new(20_000, tz()).with_tables(tz(), minutes);
    for r in records {
        b.add(r);
    }
    b.finish()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn rows_carry_service_level_overflow_short_abandons_and_handling_times() {
    let rep = with_tables(&sample(), 15);
    let t = rep.tables.as_ref().unwrap();
    let total = &t.total.rows[0];
    // The same figures as the report's total (same definitions, same code path).
    assert_eq!(
        (
            total.offered,
            total.answered,
            total.abandoned,
            total.short_abandoned,
            total.overflowed,
            total.answered_within_sl
        ),
        (9, 5, 2, 1, 2, 3)
    );
    assert!(close(total.service_level, rep.total.service_level));
    assert!(close(total.service_level, 3.0 / 8.0));
    assert!(close(total.aht_s, 210.0));
    assert!(close(total.talk_s, 180.0));
    assert!(close(total.wrapup_s, 30.0));
    assert!(close(total.max_wait_s, 900.0));

    let by_group: Vec<_> = t.by_group.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(by_group, ["bygglov", "forskola"]);
    let g = &t.by_group.rows[0];
    // bygglov: waits 0, 20, 21, 400 answered; 5 and 6 abandoned; 60 overflowed.
    assert_eq!(
        (g.offered, g.answered, g.short_abandoned, g.overflowed),
        (7, 4, 1, 1)
    );
    assert_eq!(g.answered_within_sl, 2, "0 s and 20 s (inclusive)");
    assert!(close(g.service_level, 2.0 / 6.0));
    assert!(close(g.max_wait_s, 400.0));
    let stats = rep.groups.get("bygglov").unwrap();
    assert!(close(g.service_level, stats.service_level));
    assert_eq!(g.overflowed, stats.overflowed);

    // The breakdowns gained the same columns: the 08 hour holds every call.
    let hour = &rep.breakdowns.get("by_hour").unwrap().rows[8];
    assert_eq!(
        (hour.calls, hour.overflowed, hour.short_abandoned),
        (10, 2, 1)
    );
    assert!(close(hour.service_level, 3.0 / 8.0));

    assert_eq!(t.by_interval.rows.len(), 96);
    let slot = &t.by_interval.rows[33];
    assert_eq!(
        (slot.key.as_str(), slot.calls, slot.offered),
        ("08:15", 10, 9)
    );
    assert_eq!(t.by_interval.rows.iter().map(|r| r.calls).sum::<u64>(), 10);

    let e = &t.by_entry.rows[0];
    assert_eq!(
        (e.key.as_str(), e.calls, e.offered, e.answered),
        ("city", 10, 9, 5)
    );

    // Agents: only answered calls, with talk and wrap-up apart.
    assert_eq!(t.by_agent.rows.len(), 1);
    let a = &t.by_agent.rows[0];
    assert_eq!(
        (a.key.as_str(), a.calls, a.answered, a.resolved),
        ("a1017", 5, 5, 5)
    );
    assert!(close(a.aht_s, 210.0) && close(a.talk_s, 180.0) && close(a.wrapup_s, 30.0));

    let gi = t.group_by_interval.get("bygglov").unwrap();
    assert_eq!(gi.rows[33].offered, 7);
    assert_eq!(gi.rows.iter().map(|r| r.calls).sum::<u64>(), 7);
}

#[test]
fn intervals_follow_the_wall_clock_on_the_day_clocks_go_forward() {
    let mut r = record("c");
    // 2026-03-29T01:30:00Z = 03:30 summer time in Stockholm (02:00-03:00 never happened).
    r.arrived = Timestamp(1_774_747_800_000);
    for (minutes, key, ix) in [(60, "03:00", 3), (30, "03:30", 7), (15, "03:30", 14)] {
        let rep = with_tables(std::slice::from_ref(&r), minutes);
        let rows = &rep.tables.as_ref().unwrap().by_interval.rows;
        assert_eq!(rows.len(), 24 * 60 / minutes as usize);
        assert_eq!(
            (rows[ix].key.as_str(), rows[ix].calls),
            (key, 1),
            "{minutes}"
        );
    }
}

#[test]
fn the_replay_report_has_no_tables() {
    let mut b = ReportBuilder::new(20_000, tz());
    for r in &sample() {
        b.add(r);
    }
    let rep = b.finish();
    assert!(rep.tables.is_none());
    assert!(!rep.to_json().contains("\"tables\""));
}

#[test]
fn zero_measurement_differences_by_hand() {
    let before = with_tables(&sample(), 60);
    // After: the caller who hung up at 6 s does not call (one abandon fewer).
    let after_records: Vec<_> = sample()
        .into_iter()
        .filter(|r| &*r.call_id != "6")
        .collect();
    let after = with_tables(&after_records, 60);
    let c = compare(&before, &after);
    let t = &c.total;
    assert_eq!(
        (t.offered.before, t.offered.after, t.offered.diff),
        (9.0, 8.0, -1.0)
    );
    assert!(close(t.answer_rate.before, 5.0 / 9.0));
    assert!(close(t.answer_rate.after, 5.0 / 8.0));
    assert!(close(t.answer_rate.diff, 5.0 / 8.0 - 5.0 / 9.0));
    // 3 within 20 s over (9 - 1) then (8 - 1) offered, short abandons left out.
    assert!(close(t.service_level.diff, 3.0 / 7.0 - 3.0 / 8.0));
    assert!(close(t.answered_within_sl_share.before, 3.0 / 9.0));
    assert!(close(t.answered_within_sl_share.after, 3.0 / 8.0));
    assert!(close(t.abandon_rate.after, 1.0 / 8.0));
    assert!(close(t.asa_s.diff, 0.0));
    assert!(close(t.max_wait_s.after, 900.0));
    let names: Vec<_> = c.groups.0.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["bygglov", "forskola"]);
    let g = c.groups.get("forskola").unwrap();
    assert!(close(g.answer_rate.diff, 0.0));
}

fn document(baseline: bool) -> SupervisorReport {
    let period = |report: Report| PeriodReport {
        from: Some("2026-03-02".into()),
        to: Some("2026-03-02".into()),
        missing_days: vec!["2026-03-03".into()],
        report,
        agents: None,
    };
    let after = with_tables(&sample(), 60);
    let before = with_tables(&sample()[..6], 60);
    let comparison = baseline.then(|| compare(&before, &after));
    SupervisorReport {
        site: "city".into(),
        interval_min: 60,
        service_level_s: 20.0,
        service_level_target: 0.8,
        files: vec![],
        skipped_lines: 2,
        not_measured: NOT_MEASURED,
        period: period(after),
        baseline: baseline.then(|| period(before)),
        comparison,
    }
}

#[test]
fn text_names_definitions_missing_days_skipped_lines_and_what_is_not_measured() {
    let text = document(true).to_text();
    for want in [
        "service level = answered within 20 s / (offered - abandoned within 5 s); target 80%",
        "warning: no call records for 1 day(s): 2026-03-03",
        "warning: 2 damaged line(s) skipped",
        "not measured: logged-in time, pause time",
        "by_interval: calls by local interval of arrival (60 minutes)",
        "by_agent: answered calls by the agent who answered",
        "group_by_interval: service level by group and local interval",
        "zero measurement: baseline 2026-03-02..2026-03-02 (before)",
        // The same expected-wait accuracy table as the replay's report.
        "expected wait: first announcement against the real wait",
        "position 3",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    // The total line of the comparison: 5/9 answered before and after (the first six
    // calls: 4 answered of 6 offered).
    assert!(text.contains("answer_rate"), "{text}");
}

#[test]
fn csv_has_one_line_per_row_of_each_period() {
    let doc = document(true);
    let csv = doc.to_csv();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 24);
    assert_eq!(&header[..4], ["period", "table", "group", "key"]);
    let rows_of = |p: &PeriodReport| {
        let t = p.report.tables.as_ref().unwrap();
        t.named().iter().map(|(_, b)| b.rows.len()).sum::<usize>()
            + t.group_by_interval
                .0
                .iter()
                .map(|(_, b)| b.rows.len())
                .sum::<usize>()
            + p.report
                .breakdowns
                .0
                .iter()
                .map(|(_, b)| b.rows.len())
                .sum::<usize>()
    };
    let want = rows_of(&doc.period) + rows_of(doc.baseline.as_ref().unwrap());
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), want);
    assert!(body.iter().all(|l| l.split(',').count() >= 24));
    assert!(body.contains(&"period,group_by_interval,bygglov,08:00,7,1,7,4,0.571429,2,1,1,2,0.333333,110.25,400,210,180,30,4,0,,,"), "{csv}");
    assert!(
        body.iter()
            .any(|l| l.starts_with("baseline,total,,total,6,"))
    );
    // A case type with a comma is quoted.
    assert!(csv.contains("\"bygglov, ritning\""));
}

#[test]
fn csv_has_the_agents_figures_in_their_columns() {
    use crate::report::Keyed;
    use crate::report::agents::{AgentFigures, AgentRow};
    let mut doc = document(false);
    doc.period.agents = Some(AgentFigures {
        what: "per agent",
        rows: vec![AgentRow {
            agent: "a1".into(),
            calls: 2,
            aht_s: 90.0,
            talk_s: 150.0,
            wrapup_s: 30.0,
            no_answers: 1,
            logged_in_s: 3600.0,
            paused_s: 600.0,
            pause_by_reason: Keyed(vec![("lunch, long".into(), 600.0)]),
        }],
    });
    let csv = doc.to_csv();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let agent = csv
        .lines()
        .find(|l| l.starts_with("period,agents,"))
        .unwrap();
    let cells: Vec<&str> = agent.split(',').collect();
    assert_eq!(cells.len(), header.len(), "{agent}");
    for (name, want) in [
        ("key", "a1"),
        ("calls", "2"),
        ("aht_s", "90"),
        ("talk_s", "150"),
        ("wrapup_s", "30"),
        ("no_answers", "1"),
        ("logged_in_s", "3600"),
        ("paused_s", "600"),
        ("offered", ""),
    ] {
        assert_eq!(cells[col(name)], want, "{name} in {agent}");
    }
    let pause = csv
        .lines()
        .find(|l| l.starts_with("period,agent_pauses,"))
        .unwrap();
    assert_eq!(
        pause,
        format!(
            "period,agent_pauses,\"lunch, long\",a1{}600",
            ",".repeat(20)
        )
    );
    // The text shows the table with a column per reason.
    let text = doc.to_text();
    assert!(text.contains("agents: per agent"), "{text}");
    assert!(text.contains("pause lunch, long s"), "{text}");
}
