//! The routing rules of `vaxel_core::route` (used by staffing and the traffic generator)
//! against the engine that applies them step by step: for every way through the menus the
//! call lands where the walk says.
#![allow(clippy::unwrap_used)]

mod common;

use vaxel_core::route::{self, Destination, OpenCache};
use vaxel_core::site::{Site, Target};
use vaxel_core::{Command, Engine, Input, Output, Timestamp};

const SITE: &str = r#"
[site]
name = "Testkommun"
timezone = "Europe/Stockholm"

[calendars.never]
mon-sun = "closed"

[[entries]]
id = "main"
number = "+4685080000"
route = "menu:main"

[[entries]]
id = "shut"
number = "+4685080001"
route = "group:vaxel"
calendar = "never"
closed = { prompt = "closed" }

[[entries]]
id = "night"
number = "+4685080002"
route = "group:vaxel"
calendar = "never"
closed = { prompt = "closed", route = "menu:english" }

[[menus]]
id = "main"
prompt = "menu-main"
retries = 1
default = "group:vaxel"
[menus.options]
"1" = "group:forskola"
"5" = "callback"
"8" = "menu:english"

[[menus]]
id = "english"
prompt = "menu-english"
default = "group:english"
[menus.options]
"1" = "group:english"
"2" = "number:+46850899999"

[[groups]]
id = "vaxel"
requires = { vaxel = 1 }
[[groups]]
id = "forskola"
requires = { forskola = 1 }
[[groups]]
id = "english"
requires = { "lang:en" = 1 }

[[agents]]
id = "a1"
name = "Anna Berg"
extension = "1001"
skills = { vaxel = 1, forskola = 1, "lang:en" = 1 }
"#;

const DIGITS: [&str; 12] = [
    "", "1", "5", "8", "8,1", "8,2", "8,7,7", "7", "7,1", "7,7", "7,7,1", ",8",
];

fn group(site: &Site, id: &str) -> Destination {
    Destination::Group {
        group: site.group_by_id[id],
        callback: false,
    }
}

/// Where the engine sends a call to `to` with digits collected beforehand, the caller
/// answering any further menu with no input.
fn engine_destination(site: &std::sync::Arc<Site>, to: &str, digits: &str) -> Destination {
    let now = Timestamp(1_775_000_000_000);
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
                Output::Record(_) => None,
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
    let site = common::site(SITE);
    let mut open = OpenCache::new(&site);
    for to in ["+4685080000", "+4685080002"] {
        for digits in DIGITS {
            let walked = route::route(&site, &mut open, to, Timestamp(0), digits);
            let engine = engine_destination(&site, to, digits);
            assert_eq!(walked, engine, "{to} with digits {digits:?}");
        }
    }
}

#[test]
fn menu_rules() {
    let site = common::site(SITE);
    let walk = |digits| route::walk(&site, &Target::Menu(site.menu_by_id["main"]), digits);
    assert_eq!(walk(""), group(&site, "vaxel"), "no input: the default");
    assert_eq!(walk("1"), group(&site, "forskola"));
    assert_eq!(walk("8,1"), group(&site, "english"));
    assert_eq!(walk("8,2"), Destination::Number("+46850899999".into()));
    // One retry: the second invalid choice takes the default.
    assert_eq!(walk("7,1"), group(&site, "forskola"));
    assert_eq!(walk("7,7,1"), group(&site, "vaxel"));
    assert_eq!(
        walk("5"),
        Destination::Group {
            group: site.group_by_id["vaxel"],
            callback: true
        },
        "the callback option queues in the menu's default"
    );
}

#[test]
fn closed_entries_and_unknown_numbers() {
    let site = common::site(SITE);
    let mut open = OpenCache::new(&site);
    let at = Timestamp(1_775_000_000_000);
    let mut route = |to| route::route(&site, &mut open, to, at, "1");
    assert_eq!(route("+4685080001"), Destination::Closed);
    assert_eq!(
        route("+4685080002"),
        group(&site, "english"),
        "the closed route"
    );
    assert_eq!(route("+4699"), Destination::UnknownEntry);
}
