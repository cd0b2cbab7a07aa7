//! The `random` strategy picks uniformly among the free agents who qualify, at the moment
//! of each pick: over 10,000 calls to a group of five always-free agents every agent takes
//! about a fifth (chi-square), and about a fifth of the calls go to the agent who took the
//! call before (a pick that ignored the past would give exactly that share).
#![allow(clippy::unwrap_used)]

mod common;

use vaxel_core::{Command, Engine, Input, Output, Timestamp};

const AGENTS: usize = 5;
const CALLS: usize = 10_000;

fn site_toml() -> String {
    let mut s = String::from(
        r#"[site]
name = "Testkommun"
timezone = "Europe/Stockholm"
seed = 7

[[entries]]
id = "main"
number = "+4685080000"
route = "group:g"

[[groups]]
id = "g"
requires = { g = 1 }
strategy = "random"
ring_s = 0
wrapup_s = 0
"#,
    );
    for i in 0..AGENTS {
        s.push_str(&format!(
            "[[agents]]\nid = \"a{i}\"\nname = \"Agent {i}\"\nextension = \"10{i:02}\"\nskills = {{ g = 1 }}\n"
        ));
    }
    s
}

/// The agent each of `CALLS` calls is connected to, each call answered and hung up before
/// the next arrives (so every agent is free at every pick).
fn picks() -> Vec<usize> {
    let site = common::site(&site_toml());
    let mut t = Timestamp(1_772_434_800_000);
    let mut e = Engine::new(site, t);
    for i in 0..AGENTS {
        e.handle(
            t,
            Input::AgentLogin {
                agent: format!("a{i}").into(),
                extension: None,
            },
        )
        .unwrap();
    }
    let mut out = Vec::with_capacity(CALLS);
    for n in 0..CALLS {
        t = t.plus_ms(1_000);
        let call: vaxel_core::CallId = format!("c{n}").into();
        e.handle(
            t,
            Input::CallArrived {
                call: call.clone(),
                platform: "p".into(),
                to: "+4685080000".into(),
                from: "+46701234567".into(),
                digits: None,
                lang: None,
            },
        )
        .unwrap();
        let mut agent = None;
        while let Some(o) = e.poll_output() {
            if let Output::Command {
                command: Command::Connect { agent: a, .. },
                ..
            } = o
            {
                agent = Some(a);
            }
        }
        let agent = agent.unwrap();
        out.push(agent[1..].parse::<usize>().unwrap());
        e.handle(
            t,
            Input::CallAnswered {
                call: call.clone(),
                agent: agent.clone(),
            },
        )
        .unwrap();
        e.handle(t.plus_ms(1), Input::CallHangup { call, reason: None })
            .unwrap();
        while e.poll_output().is_some() {}
    }
    out
}

#[test]
fn random_picks_are_uniform_and_forget_the_previous_pick() {
    let picks = picks();
    let mut counts = [0f64; AGENTS];
    for &a in &picks {
        counts[a] += 1.0;
    }
    let expected = CALLS as f64 / AGENTS as f64;
    let chi2: f64 = counts
        .iter()
        .map(|c| (c - expected).powi(2) / expected)
        .sum();
    // 4 degrees of freedom: P(chi² > 18.47) = 0.001.
    assert!(chi2 < 18.47, "chi² = {chi2:.2} over {counts:?}");
    let same = picks.windows(2).filter(|w| w[0] == w[1]).count() as f64 / (CALLS - 1) as f64;
    // 1/5 expected; the standard error over 9,999 pairs is 0.004.
    assert!(
        (same - 0.2).abs() < 0.02,
        "same agent as the call before: {same:.3}"
    );
    // Seeded: the same inputs give the same picks.
    assert_eq!(picks, self::picks());
}
