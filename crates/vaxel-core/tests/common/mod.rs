//! Shared by the engine's integration tests: loading a site from TOML text and
//! rendering outputs in the compact, stable form the scenario files use.
#![allow(dead_code, clippy::unwrap_used)]

pub mod invariants;
pub mod script;

use std::fmt::Write as _;
use std::sync::Arc;
use vaxel_core::site::Site;
use vaxel_core::snapshot::Snapshot;
use vaxel_core::{CallRecord, Command, Input, Output, Timestamp};

/// Loads and validates a site, panicking with every diagnostic on failure.
pub fn site(toml: &str) -> Arc<Site> {
    let loaded = match vaxel_config::load(toml) {
        Ok(l) => l,
        Err(d) => panic!("site does not load:\n{}", join(&d)),
    };
    match vaxel_config::validate(&loaded.raw) {
        Ok(v) => Arc::new(v.site),
        Err(d) => panic!("site does not validate:\n{}", join(&d)),
    }
}

/// The smallest site: one entry (`main`, +4685080000) routing to one group `g` that one
/// agent `a1` serves.
pub const ONE_GROUP: &str = r#"[site]
name = "Testkommun"
timezone = "Europe/Stockholm"

[[entries]]
id = "main"
number = "+4685080000"
route = "group:g"

[[groups]]
id = "g"
requires = { g = 1 }

[[agents]]
id = "a1"
name = "Anna Berg"
extension = "1001"
skills = { g = 1 }
"#;

/// A caller from `from` dialling [`ONE_GROUP`]'s entry.
pub fn arrived(call: &str, from: &str) -> Input {
    Input::CallArrived {
        call: call.into(),
        platform: "p".into(),
        to: "+4685080000".into(),
        from: from.into(),
        digits: None,
        lang: None,
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(|d| format!("  {d}\n")).collect()
}

/// Seconds since `base`, printed with up to 3 decimals.
pub fn secs(t: Timestamp, base: Timestamp) -> String {
    let ms = t.0 as i128 - base.0 as i128;
    let s = format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub fn render_output(o: &Output, base: Timestamp) -> String {
    match o {
        Output::Command { platform, command } => {
            let p = if &**platform == "pbx" {
                String::new()
            } else {
                format!(" [{platform}]")
            };
            format!("> {}{p}", render_command(command))
        }
        Output::Record(r) => format!("> {}", render_record(r, base)),
        // The scenarios run with the event log off; shown for completeness.
        Output::Event(e) => format!("~ {e:?}"),
    }
}

pub fn render_command(c: &Command) -> String {
    match c {
        Command::Play {
            call,
            prompt,
            position,
            ewt_s,
        } => {
            let mut s = format!("play {call} {prompt}");
            if let Some(p) = position {
                let _ = write!(s, " position={p}");
            }
            if let Some(e) = ewt_s {
                let _ = write!(s, " ewt_s={e}");
            }
            s
        }
        Command::Menu {
            call,
            menu,
            prompt,
            max_digits,
            timeout_s,
        } => {
            format!(
                "menu {call} {menu} prompt={prompt} max_digits={max_digits} timeout_s={timeout_s}"
            )
        }
        Command::Queue {
            call,
            group,
            position,
            ewt_s,
        } => {
            let mut s = format!("queue {call} {group} position={position}");
            if let Some(e) = ewt_s {
                let _ = write!(s, " ewt_s={e}");
            }
            s
        }
        Command::Connect {
            call,
            agent,
            extension,
            ring_s,
        } => {
            format!("connect {call} {agent} extension={extension} ring_s={ring_s}")
        }
        Command::Forward { call, number } => format!("forward {call} {number}"),
        Command::Hangup { call, prompt } => match prompt {
            Some(p) => format!("hangup {call} prompt={p}"),
            None => format!("hangup {call}"),
        },
        Command::OfferCallback { call, prompt } => format!("offer_callback {call} {prompt}"),
        Command::Dial {
            callback,
            agent,
            extension,
            number,
        } => {
            format!("dial {callback} {agent} extension={extension} number={number}")
        }
    }
}

pub fn render_record(r: &CallRecord, base: Timestamp) -> String {
    let t = |x: Option<Timestamp>| x.map_or("-".to_owned(), |t| secs(t, base));
    let d = |ms: u64| secs(Timestamp(ms), Timestamp(0));
    let mut s = format!(
        "record {} {} entry={} arrived={} queued={} answered={} ended={} agent={} wait={} talk={} wrapup={} groups={} digits={}",
        r.call_id,
        r.outcome.as_str(),
        r.entry,
        secs(r.arrived, base),
        t(r.queued),
        t(r.answered),
        secs(r.ended, base),
        if r.agent.is_empty() { "-" } else { &r.agent },
        d(r.wait_ms),
        d(r.talk_ms),
        d(r.wrapup_ms),
        if r.groups.is_empty() {
            "-".to_owned()
        } else {
            r.groups.iter().map(|g| &**g).collect::<Vec<_>>().join("|")
        },
        if r.digits.is_empty() { "-" } else { &r.digits },
    );
    if let Some(c) = &r.case_type {
        let _ = write!(s, " case={c}");
    }
    if let Some(res) = r.resolved {
        let _ = write!(s, " resolved={res}");
    }
    let cb = r.callback.render();
    if !cb.is_empty() {
        let _ = write!(s, " callback={cb}");
    }
    s
}

/// One line per group with anything to show, one per agent not logged out.
pub fn render_snapshot(s: &Snapshot, base: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    for g in &s.groups {
        let a = &g.agents;
        let t = &g.today;
        if g.waiting == 0
            && t.offered == 0
            && a.ready + a.ringing + a.talking + a.wrapup + a.paused == 0
        {
            continue;
        }
        out.push(format!(
            "= group {} waiting={} oldest={} ewt_s={} ready={} ringing={} talking={} wrapup={} paused={} offered={} answered={} abandoned={} overflowed={} sl={:.2}",
            g.id, g.waiting, g.oldest_wait_s, g.ewt_s.map_or("none".to_owned(), |e| e.to_string()), a.ready, a.ringing, a.talking, a.wrapup, a.paused,
            t.offered, t.answered, t.abandoned, t.overflowed, t.service_level
        ));
    }
    for a in &s.agents {
        if a.state == vaxel_core::snapshot::AgentState::LoggedOut {
            continue;
        }
        let mut line = format!(
            "= agent {} {} since={}",
            a.id,
            a.state.as_str(),
            secs(a.since, base)
        );
        if let Some(c) = &a.call {
            let _ = write!(line, " call={c}");
        }
        if let Some(r) = &a.pause_reason {
            let _ = write!(line, " reason={r}");
        }
        if let Some(n) = &a.note {
            let _ = write!(line, " note={n:?}");
        }
        if a.logout_pending {
            line.push_str(" logout_pending");
        }
        out.push(line);
    }
    for c in &s.calls {
        out.push(format!(
            "= call {} {} groups={} position={} wait={} priority={}",
            c.call,
            c.state,
            c.groups.iter().map(|g| &**g).collect::<Vec<_>>().join("|"),
            c.position,
            c.wait_s,
            c.priority
        ));
    }
    out
}
