//! The routing graph: loops, cycles, what cannot be served or reached.

use super::*;

#[test]
fn menu_loops() {
    let d = with(
        "[[menus]]\nid = \"a\"\nprompt = \"p\"\ndefault = \"menu:b\"\noptions = { \"1\" = \"group:vaxel\" }\n\
         [[menus]]\nid = \"b\"\nprompt = \"p\"\ndefault = \"menu:a\"\noptions = { \"1\" = \"group:vaxel\" }\n",
    );
    has(
        &d,
        "error: menus[1].default: menu loop through defaults: a → b → a; a caller who presses nothing goes round forever",
    );
    // Through a key press: only a warning.
    let d = replaced(
        "\"*\" = \"callback\"",
        "\"*\" = \"callback\", \"0\" = \"menu:sub\" }\n\
         [[menus]]\nid = \"sub\"\nprompt = \"p\"\ndefault = \"group:vaxel\"\noptions = { \"0\" = \"menu:main\"",
    );
    assert_eq!(
        d,
        vec![
            "warning: menus[0].options.\"0\": menu loop: main → sub → main; callers can go round by pressing keys"
        ]
    );
    // A menu that is its own default.
    let d = replaced("default = \"group:vaxel\"", "default = \"menu:main\"");
    has(
        &d,
        "error: menus[0].default: menu loop through defaults: main → main; a caller who presses nothing goes round forever",
    );
}

#[test]
fn overflow_cycles_of_move_rules() {
    let d = with(
        "[[groups]]\nid = \"kc-allman\"\nrequires = { vaxel = 1 }\nmax_wait_s = 60\non_max_wait = \"group:bygglov\"\n",
    )
    .into_iter()
    .chain(std::iter::empty())
    .collect::<Vec<_>>();
    assert!(
        d.iter().all(|x| !x.contains("cycle")),
        "one direction only: {d:?}"
    );
    let text = BASE.replacen(
        "widen = [{ after_s = 45, min_level = 2 }]",
        "widen = [{ after_s = 45, min_level = 2 }]\n\
         overflow = [{ when = \"wait_over_s\", value = 60, to = \"group:vaxel\", mode = \"expand\" }, { when = \"no_agents\", to = \"group:kc-allman\" }]",
        1,
    ) + "[[groups]]\nid = \"kc-allman\"\nrequires = { vaxel = 1 }\nmax_wait_s = 60\non_max_wait = \"group:bygglov\"\n";
    let d = diags(&text);
    assert_eq!(
        d,
        vec![
            "error: groups[1].overflow[1].to: overflow cycle: bygglov → kc-allman → bygglov; a call could move between these groups forever"
        ]
    );
    // Expand edges do not count; moving to itself does.
    let d = replaced(
        "requires = { vaxel = 1 }",
        "requires = { vaxel = 1 }\noverflow = [{ when = \"queue_over\", value = 5, to = \"group:vaxel\" }]",
    );
    has(
        &d,
        "error: groups[0].overflow[0].to: overflow cycle: vaxel → vaxel; a call could move between these groups forever",
    );
    let d = replaced(
        "requires = { vaxel = 1 }",
        "requires = { vaxel = 1 }\noverflow = [{ when = \"queue_over\", value = 5, to = \"group:vaxel\", mode = \"expand\" }]",
    );
    has(
        &d,
        "error: groups[0].overflow[0].to: expands to its own group",
    );
}

#[test]
fn groups_no_agent_can_serve() {
    // Widening caps every required level at its min_level: lang:en 4 → 3.
    let d = replaced(
        "requires = { bygglov = 3 }\nwiden = [{ after_s = 45, min_level = 2 }]",
        "requires = { bygglov = 3, \"lang:en\" = 4 }\nwiden = [{ after_s = 45, min_level = 3 }]",
    );
    has(
        &d,
        "error: groups[1].requires: no agent can ever serve this group, even after widening: the best lang:en level is 2 (needs 3)",
    );
    // Widening far enough makes it servable.
    let v = site(&BASE.replacen(
        "requires = { bygglov = 3 }\nwiden = [{ after_s = 45, min_level = 2 }]",
        "requires = { bygglov = 5 }\nwiden = [{ after_s = 45, min_level = 4 }, { after_s = 90, min_level = 3 }]",
        1,
    ));
    assert!(v.warnings.is_empty());
    let d = with(
        "[[agents]]\nid = \"a2\"\nname = \"B\"\nextension = \"1002\"\nskills = { kc = 5 }\n\
         [[groups]]\nid = \"both\"\nrequires = { kc = 1, bygglov = 1 }\n[[entries]]\nid = \"e\"\nnumber = \"+4685080001\"\nroute = \"group:both\"\n",
    );
    has(
        &d,
        "error: groups[2].requires: no agent can ever serve this group, even after widening: nobody has all of bygglov >= 1, kc >= 1",
    );
    let d = diags(&BASE.replace(
        "[[agents]]\nid = \"a1\"\nname = \"Anna Berg\"\nextension = \"1001\"\nskills = { vaxel = 2, bygglov = 3, \"lang:en\" = 2 }\n",
        "",
    ));
    has(
        &d,
        "error: groups[0].requires.vaxel: no agent has skill \"vaxel\"",
    );
}

#[test]
fn unreachable_groups_and_menus_warn() {
    let d = with(
        "[[groups]]\nid = \"backoffice\"\n[[menus]]\nid = \"old\"\nprompt = \"p\"\ndefault = \"group:vaxel\"\noptions = { \"1\" = \"group:vaxel\" }\n",
    );
    assert_eq!(
        d,
        vec![
            "warning: menus[1]: unreachable: no entry, menu, overflow or crisis route leads to menu \"old\"",
            "warning: groups[2]: unreachable: no entry, menu, overflow, on_max_wait or crisis route leads to group \"backoffice\" (only transfers can)",
        ]
    );
    // Reached through the crisis route or an expand overflow: fine.
    assert!(with("[[groups]]\nid = \"kris\"\n[crisis]\nroute = \"group:kris\"\n").is_empty());
}
