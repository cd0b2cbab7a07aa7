//! Figures read from the engine between events: waits run to the time of reading (they
//! froze at the last input or timer before, so an alert on the oldest wait fired late).
#![allow(clippy::unwrap_used)]

mod common;

use vaxel_core::{Engine, Input, Timestamp};

#[test]
fn waits_run_to_the_time_of_reading() {
    let t0 = Timestamp(1_772_434_800_000);
    let mut e = Engine::new(common::site(common::ONE_GROUP), t0);
    e.handle(t0, common::arrived("c1", "+46701234567")).unwrap();
    let at = t0.plus_ms(52_000);
    let snap = e.snapshot_at(at);
    assert!(
        (snap.groups[0].oldest_wait_s - 52.0).abs() < 1e-9,
        "{snap:?}"
    );
    assert!((snap.calls[0].wait_s - 52.0).abs() < 1e-9, "{snap:?}");
    assert_eq!(snap.at, at);
    // Reading changes nothing, and a time before the engine's reads at the engine's.
    assert_eq!(e.now(), t0);
    assert!(e.snapshot_at(Timestamp(0)).groups[0].oldest_wait_s.abs() < 1e-9);
}

/// Occupancy: busy (ringing, talking, wrap-up) over staffed time, today and over the last
/// 15 minutes, per group and for the site, up to the time of reading.
#[test]
fn occupancy_today_and_last_quarter_hour() {
    let t0 = Timestamp(1_772_434_800_000); // 2026-03-02 08:00 Stockholm
    let mut e = Engine::new(common::site(common::ONE_GROUP), t0);
    e.handle(
        t0,
        Input::AgentLogin {
            agent: "a1".into(),
            extension: None,
        },
    )
    .unwrap();
    let t1 = t0.plus_ms(300_000);
    e.handle(t1, common::arrived("c1", "+46701234567")).unwrap();
    e.handle(
        t1,
        Input::CallAnswered {
            call: "c1".into(),
            agent: "a1".into(),
        },
    )
    .unwrap();
    let snap = e.snapshot_at(t0.plus_ms(600_000));
    let g = snap.groups[0].occupancy;
    assert!((g.today - 0.5).abs() < 1e-9, "{g:?}");
    assert!((g.last_15_min - 0.5).abs() < 1e-9, "{g:?}");
    assert_eq!(snap.occupancy, g);
    // 30 min in: 25 of 30 min busy today, all of the last 15.
    let snap = e.snapshot_at(t0.plus_ms(1_800_000));
    assert!(
        (snap.occupancy.today - 25.0 / 30.0).abs() < 1e-9,
        "{:?}",
        snap.occupancy
    );
    assert!((snap.occupancy.last_15_min - 1.0).abs() < 1e-9);
}
