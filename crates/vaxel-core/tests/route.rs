//! The routing rules of `vaxel_core::route` (used by staffing and the traffic generator)
//! against the engine that applies them step by step: for every entry of the built-in city,
//! open and closed, and many ways through its menus, the call lands where the walk says.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use vaxel_core::route::{self, Destination, OpenCache};
use vaxel_core::site::Site;
use vaxel_core::{Command, Engine, Input, Output, Timestamp};

/// Digits a caller may bring: none, options, invalid keys, retries, more levels than menus.
const DIGITS: [&str; 16] = [
    "", "1", "2", "3", "5", "8", "9", "*", "0", "8,1", "8,2", "8,7,7", "7", "7,1", "7,7,1", ",8",
];

/// Monday 2 March 2026 10:05 and Sunday 1 March 03:00, local time: most entries open, then
/// closed.
const INSTANTS: [Timestamp; 2] = [Timestamp(1_772_442_300_000), Timestamp(1_772_330_400_000)];

/// The built-in city without what happens after a call enters a group (overflow, groups'
/// own hours, max wait, the group's own callback offer on a long or unknown expected wait):
/// the walk ends where the call is first queued.
fn city() -> Arc<Site> {
    let mut site = vaxel_config::stockholm().unwrap().site;
    for g in &mut site.groups {
        g.overflow.clear();
        g.calendar = None;
        g.max_wait_ms = None;
        g.callback_offer_ewt_ms = None;
    }
    Arc::new(site)
}

/// Where the engine sends a call to `to` with digits collected beforehand, the caller
/// answering any further menu with no input.
fn engine_destination(site: &Arc<Site>, now: Timestamp, to: &str, digits: &str) -> Destination {
    let mut e = Engine::new(site.clone(), now);
    let arrived = Input::CallArrived {
        call: "c1".into(),
        platform: "p".into(),
        to: to.into(),
        from: "+46701234567".into(),
        digits: Some(digits.to_owned()),
        lang: None,
    };
    e.handle(now, arrived).unwrap();
    loop {
        let commands: Vec<Command> = std::iter::from_fn(|| e.poll_output())
            .filter_map(|out| match out {
                Output::Command { command, .. } => Some(command),
                Output::Record(_) | Output::Event(_) => None,
            })
            .collect();
        let offered = commands
            .iter()
            .any(|c| matches!(c, Command::OfferCallback { .. }));
        for command in &commands {
            match command {
                Command::Queue { group, .. } => {
                    return Destination::Group {
                        group: site.group_by_id[&**group],
                        callback: offered,
                    };
                }
                Command::Forward { number, .. } => return Destination::Number(number.clone()),
                Command::Hangup { .. } => return Destination::Closed,
                _ => {}
            }
        }
        assert!(
            commands.iter().any(|c| matches!(c, Command::Menu { .. })),
            "the engine neither routed nor asked for digits: {commands:?}"
        );
        let no_input = Input::CallDigits {
            call: "c1".into(),
            digits: String::new(),
        };
        e.handle(now, no_input).unwrap();
    }
}

#[test]
fn the_walk_lands_where_the_engine_does() {
    let site = city();
    let mut seen = Vec::new();
    for now in INSTANTS {
        let mut open = OpenCache::new(&site);
        for entry in &site.entries {
            for digits in DIGITS {
                let walked = route::route(&site, &mut open, &entry.number, now, digits);
                let engine = engine_destination(&site, now, &entry.number, digits);
                assert_eq!(
                    walked, engine,
                    "{} at {now:?} with digits {digits:?}",
                    entry.id
                );
                seen.push(walked);
            }
        }
    }
    // The city exercises the kinds of destination its menus have (none is an outside number).
    for kind in [
        |d: &Destination| {
            matches!(
                d,
                Destination::Group {
                    callback: false,
                    ..
                }
            )
        },
        |d: &Destination| matches!(d, Destination::Group { callback: true, .. }),
        |d: &Destination| matches!(d, Destination::Closed),
    ] {
        assert!(seen.iter().any(kind));
    }
}

#[test]
fn an_unknown_number_reaches_nothing() {
    let site = city();
    let mut open = OpenCache::new(&site);
    let d = route::route(&site, &mut open, "+4699", INSTANTS[0], "1");
    assert_eq!(d, Destination::UnknownEntry);
    assert_eq!(d.group(), None);
}
