//! A call's record is built from the call in its slot, which is then emptied in place: the
//! record carries the call's own figures, and the id and slot serve a new call at once.
#![allow(clippy::unwrap_used)]

mod common;

use vaxel_core::{CallRecord, Engine, Input, Outcome, Output, Timestamp};

fn hangup(call: &str) -> Input {
    Input::CallHangup {
        call: call.into(),
        reason: None,
    }
}

fn records(e: &mut Engine) -> Vec<CallRecord> {
    std::iter::from_fn(|| e.poll_output())
        .filter_map(|o| match o {
            Output::Record(r) => Some(*r),
            _ => None,
        })
        .collect()
}

#[test]
fn a_record_carries_its_call_and_frees_the_id_and_slot() {
    let t0 = Timestamp(1_772_434_800_000);
    let mut e = Engine::new(common::site(common::ONE_GROUP), t0);
    e.handle(t0, common::arrived("c1", "+46701111111")).unwrap();
    let t1 = t0.plus_ms(40_000);
    e.handle(t1, hangup("c1")).unwrap();
    let first = records(&mut e);
    assert_eq!(first.len(), 1, "{first:?}");
    let r = &first[0];
    assert_eq!(
        (&*r.call_id, &*r.entry, &*r.from),
        ("c1", "main", "+46701111111")
    );
    assert_eq!(
        (r.outcome, r.arrived, r.ended),
        (Outcome::Abandoned, t0, t1)
    );
    assert_eq!((r.queued, r.wait_ms), (Some(t0), 40_000));
    assert_eq!(r.groups.iter().map(|g| &**g).collect::<Vec<_>>(), ["g"]);
    assert!(r.announced.is_some(), "{r:?}");
    // The same id again is a new call with its own figures, not the old one's.
    let t2 = t1.plus_ms(1_000);
    e.handle(t2, common::arrived("c1", "+46702222222")).unwrap();
    e.handle(t2.plus_ms(5_000), hangup("c1")).unwrap();
    let second = records(&mut e);
    assert_eq!(second.len(), 1, "{second:?}");
    let r = &second[0];
    assert_eq!((&*r.call_id, &*r.from), ("c1", "+46702222222"));
    assert_eq!((r.arrived, r.wait_ms), (t2, 5_000));
}
