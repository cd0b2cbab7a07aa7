//! Replays that once went wrong, kept small. Each runs under a watchdog so that an engine
//! that loops fails the test instead of hanging the suite.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use vaxel_sim::{ReplaySummary, RosterReader, TraceReader, read_roster, replay};

/// Replays `trace` and `roster` (CSV text) on the built-in city in a thread; fails if it
/// does not finish within `limit`.
fn replay_city(trace: &'static str, roster: &'static str, limit: Duration) -> ReplaySummary {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let site = Arc::new(vaxel_config::stockholm().unwrap().site);
        let shifts =
            read_roster(RosterReader::new(roster.as_bytes(), "roster.csv").unwrap()).unwrap();
        let calls = TraceReader::new(trace.as_bytes(), "calls.csv").unwrap();
        let summary = replay(site, calls, &shifts, |_| Ok(())).unwrap();
        let _ = tx.send(summary);
    });
    match rx.recv_timeout(limit) {
        Ok(s) => s,
        Err(_) => panic!("the replay did not finish within {limit:?}: the engine loops"),
    }
}

/// Found by `vaxel gen-trace --seed 8 --days 2 --start 2026-03-02` (and the matching
/// `gen-roster`) on the built-in city, reduced to five calls and four shifts: Äldre direkt's
/// agents log out at 16:00 and at 16:05:42 a caller reaches the group (main menu, key 4)
/// and accepts the callback offered at once. No agent will ever serve it again, which is
/// fine (the replay should end with the call counted in `unfinished`), but the replay did
/// not end: the call's queue membership, `CallbackWaiting`, kept a timer for its next
/// announcement (`announce_every_s = 120`), re-armed every 120 s, and the driver fired
/// engine timers for as long as there were any. Fixed twice over: no announcements for a
/// caller not on the line (vaxel-core `membership.rs`), and the driver winds down a day
/// after the last caller or agent event, ending what is left as `platform_lost`.
#[test]
fn aldre_direkt_after_closing_with_a_callback_caller_does_not_loop() {
    const TRACE: &str = "\
call_id,arrival,to,from,digits,patience_s,talk_s,wrapup_s,case_type,resolved,accept_callback
c0015296,2026-03-03T15:35:46.038+01:00,+46850836000,+46760432722,,29.4,373.1,,aldre-direkt:ansokan,true,true
c0015300,2026-03-03T15:35:52.422+01:00,+46850836000,+46730412368,,202.6,453.3,,aldre-direkt:fraga,true,false
c0015336,2026-03-03T15:41:39.643+01:00,+46850836000,+46760081462,,25.8,550.1,,aldre-direkt:arendestatus,true,false
c0015344,2026-03-03T15:42:24.313+01:00,+4685080000,+46768372082,4,51.6,362.5,136.3,aldre-direkt:fraga,true,false
c0015497,2026-03-03T16:05:42.770+01:00,+4685080000,+46730797568,4,82.6,57.2,,aldre-direkt:arendestatus,false,true
";
    const ROSTER: &str = "\
agent,start,end
a2403,2026-03-03T08:00:00.000+01:00,2026-03-03T16:00:00.000+01:00
a2408,2026-03-03T08:00:00.000+01:00,2026-03-03T16:00:00.000+01:00
a2409,2026-03-03T08:00:00.000+01:00,2026-03-03T16:00:00.000+01:00
a2410,2026-03-03T08:00:00.000+01:00,2026-03-03T16:00:00.000+01:00
";
    let s = replay_city(TRACE, ROSTER, Duration::from_secs(20));
    assert_eq!(s.calls, 5);
    // Since Äldre direkt has a `no_agents` rule, the 16:05 caller finds nobody there and
    // is moved to the contact centre (open until 18:00) instead of waiting for a callback
    // nobody would make: every call ends within the replay.
    assert_eq!(s.unfinished, 0);
}
