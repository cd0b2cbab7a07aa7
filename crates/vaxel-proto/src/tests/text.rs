//! `input_from_text`: the scenario scripts' `key=value` words read into the same model as
//! the wire, values parsed into each field's type, strictly.

use crate::*;
use vaxel_core::{Input, Timestamp};

/// An input's name, its pairs, and what is expected.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

fn read(ev: &str, pairs: &[(&str, &str)]) -> Result<Input, String> {
    input_from_text(ev, pairs.iter().copied())
}

#[test]
fn values_are_parsed_into_each_fields_type() {
    assert_eq!(
        read(
            "call.transfer",
            &[
                ("call", "c1"),
                ("agent", "a1"),
                ("to", "queue:x"),
                ("priority", "-3")
            ]
        ),
        Ok(Input::CallTransfer {
            call: "c1".into(),
            agent: "a1".into(),
            // Trusted: the wire's target rule does not apply (scripts test the engine's).
            to: "queue:x".into(),
            priority: Some(-3),
        })
    );
    assert_eq!(
        read("agent.pause", &[("agent", "a1"), ("until", "12")]),
        Ok(Input::AgentPause {
            agent: "a1".into(),
            reason: None,
            note: None,
            until: Some(Timestamp(12)),
        })
    );
    assert_eq!(
        read(
            "callback.result",
            &[("callback", "c1"), ("outcome", "connected")]
        ),
        Ok(Input::CallbackResult {
            callback: "c1".into(),
            connected: true,
        })
    );
    assert_eq!(
        read("crisis", &[("on", "true"), ("route", "group:g")]),
        Ok(Input::Crisis {
            on: true,
            prompt: None,
            route: Some("group:g".into()),
        })
    );
    assert_eq!(read("tick", &[]), Ok(Input::Tick));
    let arrived = read(
        "call.arrived",
        &[
            ("call", "c1"),
            ("platform", "pbx"),
            ("to", "1"),
            ("from", ""),
        ],
    );
    assert!(
        matches!(&arrived, Ok(Input::CallArrived { platform, .. }) if &**platform == "pbx"),
        "{arrived:?}"
    );
}

#[test]
fn every_mistake_is_an_error() {
    let cases: &[Case<'_>] = &[
        (
            "agent.ready",
            &[("agent", "a1"), ("priorty", "5")],
            "unknown key `priorty`",
        ),
        (
            "agent.ready",
            &[("agent", "a1"), ("group", "g")],
            "`agent.ready` has no field `group`",
        ),
        ("agent.ready", &[], "missing field `agent` for agent.ready"),
        (
            "call.disposition",
            &[
                ("call", "c1"),
                ("agent", "a1"),
                ("case_type", "x"),
                ("resolved", "yes"),
            ],
            "bad field `resolved`: expected true or false, found \"yes\"",
        ),
        (
            "agent.wrapup_until",
            &[("agent", "a1"), ("until", "soon")],
            "bad field `until`: expected a non-negative integer, found \"soon\"",
        ),
        (
            "callback.result",
            &[("callback", "c1"), ("outcome", "busy")],
            "bad field `outcome`: expected \"connected\" or \"failed\"",
        ),
        ("reload", &[], "unknown event \"reload\""),
    ];
    for (ev, pairs, message) in cases {
        assert_eq!(
            read(ev, pairs),
            Err((*message).to_owned()),
            "{ev} {pairs:?}"
        );
    }
}
