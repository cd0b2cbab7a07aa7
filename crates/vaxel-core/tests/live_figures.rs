//! Figures read from the engine between events: waits run to the time of reading (they
//! froze at the last input or timer before, so an alert on the oldest wait fired late).
#![allow(clippy::unwrap_used)]

mod common;

use vaxel_core::{Engine, Input, Timestamp};

const SITE: &str = r#"[site]
name = "Testkommun"
timezone = "Europe/Stockholm"

[[entries]]
id = "main"
number = "+4685080000"
route = "group:g"

[[groups]]
id = "g"
requires = { g = 1 }

[[agents]]
id = "a1"
name = "Anna Berg"
extension = "1001"
skills = { g = 1 }
"#;

fn arrived(call: &str) -> Input {
    Input::CallArrived {
        call: call.into(),
        platform: "p".into(),
        to: "+4685080000".into(),
        from: "+46701234567".into(),
        digits: None,
        lang: None,
    }
}

#[test]
fn waits_run_to_the_time_of_reading() {
    let t0 = Timestamp(1_772_434_800_000);
    let mut e = Engine::new(common::site(SITE), t0);
    e.handle(t0, arrived("c1")).unwrap();
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
