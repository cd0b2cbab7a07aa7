//! Tests of validation: the typed site, references, duplicates, calendars; the routing
//! graph and the value checks in their own files.

mod graph;
mod values;

use super::*;
use crate::{load_site, stockholm};

/// A small valid site; tests append items or replace text in it.
const BASE: &str = r#"
[site]
name = "Testby"
timezone = "Europe/Stockholm"

[calendars.office]
mon-fri = "08:00-17:00"

[[entries]]
id = "city"
number = "+4685080000"
route = "menu:main"
calendar = "office"
closed = { prompt = "closed-city" }

[[menus]]
id = "main"
prompt = "menu-main"
default = "group:vaxel"
options = { "2" = "group:bygglov", "1" = "group:vaxel", "*" = "callback" }

[[groups]]
id = "vaxel"
requires = { vaxel = 1 }

[[groups]]
id = "bygglov"
name = "Bygglov"
requires = { bygglov = 3 }
widen = [{ after_s = 45, min_level = 2 }]

[[agents]]
id = "a1"
name = "Anna Berg"
extension = "1001"
skills = { vaxel = 2, bygglov = 3, "lang:en" = 2 }
"#;

fn site(text: &str) -> Validated {
    match load_site(text) {
        Ok(v) => v,
        Err(d) => panic!("{d:#?}"),
    }
}

/// All diagnostics of `text` as printed.
fn diags(text: &str) -> Vec<String> {
    match load_site(text) {
        Ok(v) => v.warnings.iter().map(ToString::to_string).collect(),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

fn with(extra: &str) -> Vec<String> {
    diags(&format!("{BASE}{extra}"))
}

fn replaced(from: &str, to: &str) -> Vec<String> {
    assert!(BASE.contains(from), "{from}");
    diags(&BASE.replacen(from, to, 1))
}

#[track_caller]
fn has(diags: &[String], want: &str) {
    assert!(
        diags.iter().any(|d| d == want),
        "missing\n  {want}\nin\n  {}",
        diags.join("\n  ")
    );
}

#[test]
fn base_site_is_valid_and_typed() {
    let v = site(BASE);
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    let s = &v.site;
    assert_eq!(&*s.name, "Testby");
    assert_eq!(s.service_level_ms, 20_000);
    assert!((s.service_level_target - 0.8).abs() < 1e-12);
    assert_eq!(s.default_handle_ms, 180_000);
    // skills interned sorted by name
    let skills: Vec<&str> = s.skills.iter().map(|k| &**k).collect();
    assert_eq!(skills, ["bygglov", "lang:en", "vaxel"]);
    let a = &s.agents[0];
    assert_eq!(
        a.skills,
        vec![(SkillIdx(0), 3), (SkillIdx(1), 2), (SkillIdx(2), 2)]
    );
    // menu options sorted by key, max_digits, defaults
    let m = &s.menus[0];
    let keys: Vec<&str> = m.options.iter().map(|(k, _)| &**k).collect();
    assert_eq!(keys, ["*", "1", "2"]);
    assert_eq!(m.option("2"), Some(&Target::Group(GroupIdx(1))));
    assert_eq!(m.option("*"), Some(&Target::Callback));
    assert_eq!(m.max_digits, 1);
    assert_eq!((m.timeout_s, m.retries), (8, 2));
    assert_eq!(m.invalid_prompt, m.prompt);
    let g = &s.groups[0];
    assert_eq!(&*g.name, "vaxel", "name defaults to id");
    assert_eq!(g.strategy, Strategy::LongestIdle);
    assert_eq!((g.wrapup_ms, g.ring_ms, g.max_no_answer), (0, 20_000, 3));
    assert_eq!(&*g.callback_prompt, "callback-offer");
    assert_eq!(g.announce_every_ms, 0);
    let b = &s.groups[1];
    assert_eq!(b.requires, vec![(SkillIdx(0), 3)]);
    assert_eq!(
        b.widen,
        vec![Widen {
            after_ms: 45_000,
            min_level: 2
        }]
    );
    assert_eq!(s.callbacks.attempts, 3);
    assert_eq!(s.callbacks.retry_delay_ms, 300_000);
    assert_eq!(s.platform.grace_ms, 30_000);
    assert_eq!(s.platform.buffer_commands, 10_000);
    assert_eq!(s.platform.ring_grace_ms, 5_000);
    assert_eq!(s.platform.park_timeout_ms, 300_000);
    assert_eq!(s.entry_by_number.get("+4685080000"), Some(&EntryIdx(0)));
    assert_eq!(s.group_by_id.get("bygglov"), Some(&GroupIdx(1)));
    assert_eq!(s.menu_by_id.get("main"), Some(&MenuIdx(0)));
    assert_eq!(s.agent_by_id.get("a1"), Some(&AgentIdx(0)));
    assert_eq!(s.entry_by_id.get("city"), Some(&EntryIdx(0)));
    assert_eq!(s.entries[0].calendar, Some(CalendarIdx(0)));
    assert_eq!(s.calendars[0].week[0], vec![(480, 1020)]);
    assert!(s.calendars[0].week[5].is_empty());
}

#[test]
fn durations_round_to_whole_milliseconds() {
    let v = site(&BASE.replacen(
        "requires = { vaxel = 1 }",
        "requires = { vaxel = 1 }\nring_s = 12.3456\nwrapup_s = 0.0004\nmax_wait_s = 90",
        1,
    ));
    let g = &v.site.groups[0];
    assert_eq!(
        (g.ring_ms, g.wrapup_ms, g.max_wait_ms),
        (12_346, 0, Some(90_000))
    );
}

#[test]
fn unknown_references_suggest_the_closest_name() {
    let d = replaced("\"2\" = \"group:bygglov\"", "\"2\" = \"group:bygglv\"");
    has(
        &d,
        "error: menus[0].options.\"2\": no group \"bygglv\"; did you mean \"bygglov\"?",
    );
    let d = replaced("route = \"menu:main\"", "route = \"menu:mian\"");
    has(
        &d,
        "error: entries[0].route: no menu \"mian\"; did you mean \"main\"?",
    );
    let d = replaced("route = \"menu:main\"", "route = \"group:main\"");
    has(
        &d,
        "error: entries[0].route: no group \"main\"; did you mean \"menu:main\"?",
    );
    let d = replaced("calendar = \"office\"", "calendar = \"ofice\"");
    has(
        &d,
        "error: entries[0].calendar: no calendar \"ofice\"; did you mean \"office\"?",
    );
    let d = replaced("requires = { bygglov = 3 }", "requires = { bygglv = 3 }");
    has(
        &d,
        "error: groups[1].requires.bygglv: no agent has skill \"bygglv\"; did you mean \"bygglov\"?",
    );
    let d = with("[[directory]]\nname = \"X\"\nagent = \"a2\"\n");
    has(
        &d,
        "error: directory[0].agent: no agent \"a2\"; did you mean \"a1\"?",
    );
    let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"gruop:vaxel\"");
    has(
        &d,
        "error: menus[0].options.\"1\": \"gruop:\" is not a target kind; did you mean \"group:vaxel\"?",
    );
    let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"calback\"");
    has(
        &d,
        "error: menus[0].options.\"1\": \"calback\" is not a target; did you mean \"callback\"?",
    );
}

#[test]
fn agents_and_callbacks_are_not_entry_targets() {
    let d = replaced("route = \"menu:main\"", "route = \"agent:a1\"");
    has(
        &d,
        "error: entries[0].route: \"agent:a1\" is not a config target: agents are reached by transfer; use group:ID or number:+E164",
    );
    let d = replaced("route = \"menu:main\"", "route = \"callback\"");
    has(
        &d,
        "error: entries[0].route: \"callback\" needs a group to serve it; use it in a menu option or in a group's overflow or on_max_wait",
    );
    let d = with("[crisis]\nroute = \"callback\"\n");
    assert!(
        d[0].starts_with("error: crisis.route: \"callback\" needs a group"),
        "{d:?}"
    );
}

#[test]
fn duplicates() {
    let d = with(
        "[[entries]]\nid = \"city\"\nnumber = \"+4685080000\"\nroute = \"group:vaxel\"\n\
         [[menus]]\nid = \"main\"\nprompt = \"p\"\ndefault = \"group:vaxel\"\n\
         [[groups]]\nid = \"vaxel\"\n\
         [[agents]]\nid = \"a1\"\nname = \"B\"\nextension = \"1001\"\n",
    );
    has(
        &d,
        "error: entries[1].id: duplicate entry id \"city\" (first at entries[0])",
    );
    has(
        &d,
        "error: entries[1].number: number +4685080000 is already entry \"city\" (entries[0])",
    );
    has(
        &d,
        "error: menus[1].id: duplicate menu id \"main\" (first at menus[0])",
    );
    has(
        &d,
        "error: groups[2].id: duplicate group id \"vaxel\" (first at groups[0])",
    );
    has(
        &d,
        "error: agents[1].id: duplicate agent id \"a1\" (first at agents[0])",
    );
    has(
        &d,
        "error: agents[1].extension: extension 1001 is already agent \"a1\"'s (agents[0])",
    );
}

#[test]
fn time_zone_and_calendars() {
    let d = replaced("Europe/Stockholm", "Europe/Stokholm");
    has(
        &d,
        "error: site.timezone: unknown time zone \"Europe/Stokholm\"; did you mean \"Europe/Stockholm\"?",
    );
    let d = with(
        "[calendars.extra]\nmon-fre = \"08:00-12:00\"\nsat = \"17:00-08:00\"\nsun = \"8-12\"\n\
         holidays = [\"2026-12-24\", \"2026-02-30\"]\nspecial = { \"2026-12-23\" = \"08:00-13:00\", \"24 dec\" = \"closed\", \"2026-12-22\" = \"25:00-26:00\" }\n\
         [[groups]]\nid = \"g\"\ncalendar = \"extra\"\n",
    );
    has(
        &d,
        "error: calendars.extra.mon-fre: \"mon-fre\" is not a day key; did you mean \"mon-fri\"?",
    );
    has(
        &d,
        "error: calendars.extra.sat: range \"17:00-08:00\" ends before it starts",
    );
    has(
        &d,
        "error: calendars.extra.sun: \"8\" is not a time like \"08:30\"",
    );
    assert!(
        d.iter()
            .any(|x| x
                .starts_with("error: calendars.extra.holidays[1]: \"2026-02-30\" is not a date")),
        "{d:?}"
    );
    assert!(
        d.iter().any(|x| x
            .starts_with("error: calendars.extra.special.\"24 dec\": \"24 dec\" is not a date")),
        "{d:?}"
    );
    has(
        &d,
        "error: calendars.extra.special.\"2026-12-22\": \"25:00\" is not a time like \"08:30\"",
    );
    let d = with(
        "[calendars.x]\nmon-fri = \"08:00-17:00\"\nwed = \"10:00-12:00\"\n[[groups]]\nid = \"g\"\ncalendar = \"x\"\n",
    );
    has(
        &d,
        "error: calendars.x.wed: wednesday is already set by \"mon-fri\"",
    );
    let d = with("[calendars.x]\nholiday = [\"2026-12-24\"]\n");
    has(
        &d,
        "error: calendars.x.holiday (line 38, column 11): invalid type: sequence, expected a string",
    );
}

#[test]
fn agent_tokens_name_a_real_agent_and_have_one_role() {
    let v = site(&format!(
        "{BASE}[auth]\noperator_tokens = [\"op-0123456789abcdef\"]\n\
         [auth.agent_tokens]\na1 = \"desk-anna-0123456789\"\n"
    ));
    assert_eq!(
        v.site.auth.agent_tokens,
        vec![("a1".into(), "desk-anna-0123456789".into())]
    );
    let t = |body: &str| {
        with(&format!(
            "[auth]\noperator_tokens = [\"op-0123456789abcdef\"]\n[auth.agent_tokens]\n{body}"
        ))
    };
    has(
        &t("a11 = \"desk-anna-0123456789\"\n"),
        "error: auth.agent_tokens.a11: no agent \"a11\"; did you mean \"a1\"?",
    );
    has(
        &t("a1 = \"\"\n"),
        "error: auth.agent_tokens.a1: token must not be empty",
    );
    has(
        &t("a1 = \"op-0123456789abcdef\"\n"),
        "error: auth.agent_tokens.a1: this token is also an operator or admin token: give the agent its own",
    );
    has(
        &t("a1 = \"short\"\n"),
        "warning: auth.agent_tokens.a1: token is shorter than 16 characters; use a long random one",
    );
}
