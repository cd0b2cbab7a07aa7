//! Values: numbers, ranges and enumerations, overflow rules, warnings, order, the built-in city.

use super::*;

#[test]
fn e164_numbers() {
    let d = replaced("number = \"+4685080000\"", "number = \"08-508 000 00\"");
    has(
        &d,
        "error: entries[0].number: \"08-508 000 00\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0); did you mean \"+46850800000\"?",
    );
    let d = replaced("number = \"+4685080000\"", "number = \"+46 8 508 000 00\"");
    has(
        &d,
        "error: entries[0].number: \"+46 8 508 000 00\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0); did you mean \"+46850800000\"?",
    );
    let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"number:+0850\"");
    has(
        &d,
        "error: menus[0].options.\"1\": \"+0850\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0)",
    );
    let d = with("[[directory]]\nname = \"X\"\nnumber = \"+1234567890123456\"\n");
    has(
        &d,
        "error: directory[0].number: \"+1234567890123456\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0)",
    );
    let d = replaced("\"1\" = \"group:vaxel\"", "\"1\" = \"number:+4685080000\"");
    has(
        &d,
        "warning: menus[0].options.\"1\": +4685080000 is this site's own entry \"city\"; the call comes straight back in",
    );
    assert!(e164_problem("+46").is_none());
    assert!(e164_problem("+4").is_some());
    assert!(e164_problem("+123456789012345").is_none());
}

#[test]
fn ranges_and_enumerations() {
    let g = |extra: &str| {
        replaced(
            "requires = { vaxel = 1 }",
            &format!("requires = {{ vaxel = 1 }}\n{extra}"),
        )
    };
    has(
        &g("ring_s = 601"),
        "error: groups[0].ring_s: 601 s is out of range; use 0..=600 seconds",
    );
    has(
        &g("wrapup_s = -1"),
        "error: groups[0].wrapup_s: -1 s is out of range; use 0..=3600 seconds",
    );
    has(
        &g("wrapup_s = nan"),
        "error: groups[0].wrapup_s: NaN s is out of range; use 0..=3600 seconds",
    );
    has(
        &g("max_wait_s = 0"),
        "error: groups[0].max_wait_s: 0 s is out of range; use 1..=86400 seconds",
    );
    has(
        &g("max_no_answer = -1"),
        "error: groups[0].max_no_answer: max_no_answer -1 is out of range; use 0..=100",
    );
    has(
        &g("announce_every_s = 4000"),
        "error: groups[0].announce_every_s: 4000 s is out of range; use 0..=3600 seconds",
    );
    has(
        &g("strategy = \"most_skilled\""),
        "error: groups[0].strategy: no strategy \"most_skilled\"; did you mean \"most-skilled\"?",
    );
    has(
        &g("strategy = \"fastest\""),
        "error: groups[0].strategy: no strategy \"fastest\"; use one of longest-idle, most-skilled, round-robin, fewest-calls, least-talk-time, random",
    );
    has(
        &g("callback = { offer_when_ewt_over_s = -5 }"),
        "error: groups[0].callback.offer_when_ewt_over_s: -5 s is out of range; use 0..=86400 seconds",
    );
    has(
        &g("widen = [{ after_s = 60, min_level = 1 }]"),
        "warning: groups[0].widen[0].min_level: has no effect: 1 lowers no required level",
    );
    let w = |widen: &str| {
        replaced(
            "widen = [{ after_s = 45, min_level = 2 }]",
            &format!("widen = {widen}"),
        )
    };
    has(
        &w("[{ after_s = 45, min_level = 2 }, { after_s = 45, min_level = 1 }]"),
        "error: groups[1].widen[1].after_s: 45 s must be later than the step before (45 s)",
    );
    has(
        &w("[{ after_s = 45, min_level = 1 }, { after_s = 60, min_level = 2 }]"),
        "error: groups[1].widen[1].min_level: 2 must not be above the step before (1): widening only lowers levels",
    );
    has(
        &w("[{ after_s = 90000, min_level = 1 }]"),
        "error: groups[1].widen[0].after_s: 90000 s is out of range; use 0..=86400 seconds",
    );
    has(
        &w("[{ after_s = 5, min_level = 0 }]"),
        "error: groups[1].widen[0].min_level: level 0 is out of range; use 1..=10",
    );
    has(
        &replaced("bygglov = 3 }\nwiden", "bygglov = 11 }\nwiden"),
        "error: groups[1].requires.bygglov: level 11 is out of range; use 1..=10",
    );
    has(
        &replaced(
            "bygglov = 3, \"lang:en\"",
            "bygglov = 3, \"lang:en\" = 0, x",
        ),
        "error: agents[0].skills.\"lang:en\": level 0 is out of range; use 1..=10",
    );
    let m = |extra: &str| {
        replaced(
            "prompt = \"menu-main\"",
            &format!("prompt = \"menu-main\"\n{extra}"),
        )
    };
    has(
        &m("timeout_s = 0"),
        "error: menus[0].timeout_s: 0 s is out of range; use whole seconds 1..=120",
    );
    has(
        &m("timeout_s = 2.5"),
        "error: menus[0].timeout_s: 2.5 s is out of range; use whole seconds 1..=120",
    );
    has(
        &m("retries = 11"),
        "error: menus[0].retries: retries 11 is out of range; use 0..=10",
    );
    has(
        &replaced(
            "\"1\" = \"group:vaxel\"",
            "\"12345\" = \"group:vaxel\", \"a\" = \"group:vaxel\"",
        ),
        "error: menus[0].options.\"12345\": option \"12345\" is not a key choice; use 1-4 of the keys 0-9 * #",
    );
    has(
        &replaced(
            "\"1\" = \"group:vaxel\"",
            "\"1\" = \"group:vaxel\", \"12\" = \"group:vaxel\"",
        ),
        "warning: menus[0].options.\"1\": \"1\" is a prefix of \"12\": callers who press 1 wait for the timeout",
    );
    let s = |extra: &str| replaced("name = \"Testby\"", &format!("name = \"Testby\"\n{extra}"));
    has(
        &s("service_level_s = 0"),
        "error: site.service_level_s: 0 s is out of range; use 1..=3600 seconds",
    );
    has(
        &s("service_level_target = 0"),
        "error: site.service_level_target: 0 is out of range; use a share above 0 and at most 1 (0.8 = 80 %)",
    );
    has(
        &s("default_handle_s = 0"),
        "error: site.default_handle_s: 0 s is out of range; use 1..=86400 seconds",
    );
    has(
        &with("[callbacks]\nattempts = 0\n"),
        "error: callbacks.attempts: attempts 0 is out of range; use 1..=10",
    );
    has(
        &with("[callbacks]\nretry_delay_s = 5\n"),
        "error: callbacks.retry_delay_s: 5 s is out of range; use 10..=86400 seconds",
    );
    has(
        &with("[platform]\ngrace_s = 3601\n"),
        "error: platform.grace_s: 3601 s is out of range; use 0..=3600 seconds",
    );
    has(
        &with("[platform]\nbuffer_commands = 0\n"),
        "error: platform.buffer_commands: buffer_commands 0 is out of range; use 1..=1000000",
    );
    has(
        &replaced(
            "closed = { prompt = \"closed-city\" }",
            "closed = { prompt = \"closed-city\" }\npriority = 3000000000",
        ),
        "error: entries[0].priority: 3000000000 does not fit a 32-bit priority; use -1000..=1000",
    );
    has(
        &replaced(
            "closed = { prompt = \"closed-city\" }",
            "closed = { prompt = \"closed-city\" }\npriority = 5000",
        ),
        "warning: entries[0].priority: 5000 is unusually large; priorities in -1000..=1000 are sensible (transfers add to them)",
    );
    has(
        &replaced("extension = \"1001\"", "extension = \"10 01\""),
        "error: agents[0].extension: \"10 01\" is not an extension; use 1-15 digits",
    );
    has(
        &replaced("prompt = \"menu-main\"", "prompt = \"\""),
        "error: menus[0].prompt: prompt must not be empty",
    );
    has(
        &replaced("id = \"vaxel\"", "id = \"va xel\""),
        "error: groups[0].id: \"va xel\" must not contain spaces",
    );
}

#[test]
fn overflow_rules() {
    let o = |rules: &str| {
        replaced(
            "requires = { vaxel = 1 }",
            &format!("requires = {{ vaxel = 1 }}\noverflow = [{rules}]"),
        )
    };
    let many = vec!["{ when = \"no_agents\", to = \"number:+46850899999\" }"; 33].join(", ");
    has(
        &o(&many),
        "error: groups[0].overflow: 33 rules; a group may have at most 32 (the engine keeps which have been applied to a call in one bit each)",
    );
    let steps: Vec<String> = (1..=33)
        .map(|i| format!("{{ after_s = {i}, min_level = 1 }}"))
        .collect();
    has(
        &replaced(
            "requires = { vaxel = 1 }",
            &format!("requires = {{ vaxel = 1 }}\nwiden = [{}]", steps.join(", ")),
        ),
        "error: groups[0].widen: 33 steps; a group may have at most 32",
    );
    has(
        &o("{ when = \"wait_over_s\", to = \"group:bygglov\" }"),
        "error: groups[0].overflow[0].value: \"wait_over_s\" needs a value",
    );
    has(
        &o("{ when = \"queue_over\", to = \"callback\" }"),
        "error: groups[0].overflow[0].value: \"queue_over\" needs a value",
    );
    has(
        &o("{ when = \"ewt_over_s\", to = \"callback\" }"),
        "error: groups[0].overflow[0].value: \"ewt_over_s\" needs a value",
    );
    has(
        &o("{ when = \"no_agents\", value = 1, to = \"group:bygglov\" }"),
        "error: groups[0].overflow[0].value: \"no_agents\" takes no value",
    );
    has(
        &o("{ when = \"queue_over\", value = 2.5, to = \"callback\" }"),
        "error: groups[0].overflow[0].value: 2.5 is not a queue length; use a whole number of calls 0..=100000",
    );
    has(
        &o("{ when = \"wait_over\", value = 60, to = \"callback\" }"),
        "error: groups[0].overflow[0].when: no condition \"wait_over\"; did you mean \"wait_over_s\"?",
    );
    has(
        &o("{ when = \"wait_over_s\", value = 60, to = \"callback\", mode = \"expnad\" }"),
        "error: groups[0].overflow[0].mode: no mode \"expnad\"; did you mean \"expand\"?",
    );
    has(
        &o(
            "{ when = \"wait_over_s\", value = 60, to = \"number:+46850899999\", mode = \"expand\" }",
        ),
        "error: groups[0].overflow[0].mode: \"expand\" needs a group target, not \"number:+46850899999\"",
    );
    has(
        &o("{ when = \"wait_over_s\", value = 60, to = \"group:kc\" }"),
        "error: groups[0].overflow[0].to: no group \"kc\"",
    );
    let v = site(&BASE.replacen(
        "requires = { vaxel = 1 }",
        "requires = { vaxel = 1 }\noverflow = [\
         { when = \"wait_over_s\", value = 60.5, to = \"group:bygglov\", mode = \"expand\" },\
         { when = \"queue_over\", value = 15, to = \"number:+46850899999\" },\
         { when = \"no_agents\", to = \"callback\" },\
         { when = \"ewt_over_s\", value = 300, to = \"callback\", mode = \"move\" }]",
        1,
    ));
    let rules = &v.site.groups[0].overflow;
    assert_eq!(rules[0].when, Condition::WaitOver(60_500));
    assert_eq!(rules[0].mode, OverflowMode::Expand);
    assert_eq!(rules[0].to, Target::Group(GroupIdx(1)));
    assert_eq!(rules[1].when, Condition::QueueOver(15));
    assert_eq!(rules[1].to, Target::Number("+46850899999".into()));
    assert_eq!(rules[1].mode, OverflowMode::Move);
    assert_eq!(rules[2].when, Condition::NoAgents);
    assert_eq!(rules[3].when, Condition::EwtOver(300_000));
}

#[test]
fn advisory_warnings() {
    assert_eq!(
        replaced("closed = { prompt = \"closed-city\" }", ""),
        vec![
            "warning: entries[0]: has a calendar but no closed prompt or route: callers outside opening hours hear nothing and are hung up"
        ]
    );
    // An always-open calendar never closes: nothing to warn about.
    assert!(
        with("[calendars.always]\nmon-sun = \"00:00-24:00\"\n[[entries]]\nid = \"jour\"\nnumber = \"+46850840000\"\nroute = \"group:vaxel\"\ncalendar = \"always\"\n")
            .is_empty()
    );
    assert_eq!(
        replaced(
            "default = \"group:vaxel\"",
            "default = \"number:+46850899999\""
        ),
        vec![
            "warning: menus[0].options.\"*\": a callback needs a group to be served in, but the menu's default is not a group"
        ]
    );
    assert_eq!(
        with("[auth]\nadmin_tokens = [\"hunter2\", \"0123456789abcdef\"]\n"),
        vec![
            "warning: auth.admin_tokens[0]: token is shorter than 16 characters; use a long random one"
        ]
    );
    assert_eq!(
        with("[calendars.unused]\nmon = \"08:00-09:00\"\n"),
        vec!["warning: calendars.unused: no entry or group uses this calendar"]
    );
}

#[test]
fn all_diagnostics_in_file_order() {
    let text = BASE
        .replacen("Europe/Stockholm", "Mars/Olympus", 1)
        .replacen("extension = \"1001\"", "extension = \"x\"", 1)
        .replacen("\"2\" = \"group:bygglov\"", "\"2\" = \"group:nope\"", 1)
        .replacen("number = \"+4685080000\"", "number = \"123\"", 1)
        .replacen("min_level = 2", "min_level = 2, oops = 1", 1);
    let d = diags(&text);
    let paths: Vec<&str> = d
        .iter()
        .map(|x| x.split(": ").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        paths,
        [
            "site.timezone",
            "entries[0].number",
            "menus[0].options.\"2\"",
            "groups[1].widen[0].oops",
            "agents[0].extension",
        ],
        "{d:#?}"
    );
}

#[test]
fn stockholm_is_valid() {
    let v = match stockholm() {
        Ok(v) => v,
        Err(d) => panic!(
            "{}",
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    assert!(v.warnings.is_empty(), "{:#?}", v.warnings);
    let s = &v.site;
    assert_eq!(&*s.name, "Stockholms stad");
    assert!(s.agents.len() >= 140, "{}", s.agents.len());
    assert!(s.directory.len() >= 35);
    assert!(s.groups.len() >= 12);
    assert!(s.crisis.as_ref().is_some_and(|c| c.route.is_some()));
    let main = &s.menus[s.menu_by_id["main"].ix()];
    assert_eq!(main.option("*"), Some(&Target::Callback));
    assert_eq!(
        main.option("8"),
        Some(&Target::Menu(s.menu_by_id["english"]))
    );
    assert_eq!(main.default, Target::Group(s.group_by_id["vaxel"]));
    let city = &s.entries[s.entry_by_number["+4685080000"].ix()];
    assert_eq!(city.route, Target::Menu(s.menu_by_id["main"]));
    let office = &s.calendars[city.calendar.map_or(0, CalendarIdx::ix)];
    assert_eq!(office.holiday_rule, Some(HolidayRule::Sweden));
    for holiday in [
        "2026-12-24",
        "2026-06-19",
        "2027-03-26",
        "2027-11-06",
        "2028-04-14",
    ] {
        let d = parse_date(holiday).unwrap();
        assert!(
            office.holiday_rule.is_some_and(|r| r.closes(d)),
            "{holiday}"
        );
    }
    let strategies: BTreeSet<&str> = s.groups.iter().map(|g| g.strategy.name()).collect();
    assert_eq!(
        strategies.len(),
        Strategy::ALL.len(),
        "every strategy is shown"
    );
    let english = s.group(s.group_by_id["english"]);
    let en = s.skills.iter().position(|k| &**k == "lang:en").unwrap();
    assert_eq!(english.requires, vec![(SkillIdx(en as u32), 3)]);
    assert!(s.auth.platform_tokens.is_empty() && s.auth.admin_tokens.is_empty());
    assert_eq!(
        s.entries
            .iter()
            .find(|e| &*e.id == "socialjour")
            .map(|e| e.priority),
        Some(10)
    );
}
