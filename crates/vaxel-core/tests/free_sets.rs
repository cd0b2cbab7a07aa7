//! An agent joins the free set of every group it serves ranked by that group's own figures:
//! its `most-skilled` score there (the skills the group requires), whatever it scores in the
//! others. Three agents serve two `most-skilled` groups with their skills crossed; a call to
//! either group goes to the agent most skilled in what that group requires.
#![allow(clippy::unwrap_used)]

mod common;

use vaxel_core::{Command, Engine, Input, Output, Timestamp};

const SITE: &str = r#"[site]
name = "Testkommun"
timezone = "Europe/Stockholm"

[[entries]]
id = "s"
number = "+4685080001"
route = "group:gs"

[[entries]]
id = "t"
number = "+4685080002"
route = "group:gt"

[[groups]]
id = "gs"
requires = { s = 1 }
strategy = "most-skilled"

[[groups]]
id = "gt"
requires = { t = 1 }
strategy = "most-skilled"

[[agents]]
id = "a1"
name = "Anna Berg"
extension = "1001"
skills = { s = 1, t = 3 }

[[agents]]
id = "a2"
name = "Bo Ek"
extension = "1002"
skills = { s = 3, t = 1 }

[[agents]]
id = "a3"
name = "Cecilia Lind"
extension = "1003"
skills = { s = 2, t = 2 }
"#;

/// The agent rung for a call to `number`, all three agents logged in and free.
fn rung(number: &str) -> String {
    let t = Timestamp(1_772_434_800_000);
    let mut e = Engine::new(common::site(SITE), t);
    for agent in ["a1", "a2", "a3"] {
        let login = Input::AgentLogin {
            agent: agent.into(),
            extension: None,
        };
        e.handle(t, login).unwrap();
    }
    let arrived = Input::CallArrived {
        call: "c1".into(),
        platform: "p".into(),
        to: number.into(),
        from: "+46701234567".into(),
        digits: None,
        lang: None,
    };
    e.handle(t.plus_ms(1_000), arrived).unwrap();
    std::iter::from_fn(|| e.poll_output())
        .find_map(|o| match o {
            Output::Command {
                command: Command::Connect { agent, .. },
                ..
            } => Some(agent.to_string()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn each_group_ranks_its_free_agents_by_its_own_score() {
    assert_eq!(rung("+4685080001"), "a2");
    assert_eq!(rung("+4685080002"), "a1");
}
