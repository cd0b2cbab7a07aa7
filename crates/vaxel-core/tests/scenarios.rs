//! Scenario tests: each file in `tests/scenarios/` holds a site (`--- config`), a timed
//! script of inputs (`--- script`) and the expected transcript (`--- expect`): every input,
//! every command and record it caused, every refusal, each stamped with its time in
//! seconds from the scenario's start (Monday 2026-03-02 08:00 Stockholm, unless
//! `--- start` says otherwise). Timers fire at their own times between inputs.
//!
//! Script lines: `<seconds> <input> key=value …` (values may be "quoted"); inputs are the
//! protocol's events (`call.arrived`, `agent.pause`, …) plus `tick`, `crisis`,
//! `platform.lost`, `reload NAME` (a `--- config NAME` section), `snapshot` and
//! `directory WORDS`. Re-bless after an intended change with `UPDATE_EXPECT=1 cargo test`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{render_output, render_snapshot, secs, site};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use vaxel_core::{Engine, Input, Timestamp};

struct Scenario {
    configs: BTreeMap<String, String>,
    start: Timestamp,
    script: Vec<(usize, String)>,
    expect: String,
    head: String,
}

fn parse(text: &str) -> Scenario {
    let mut configs = BTreeMap::new();
    let mut script = Vec::new();
    let mut expect = String::new();
    let mut head = String::new();
    let mut start = "2026-03-02T08:00:00+01:00".to_owned();
    let mut section: Option<(String, String)> = None;
    let mut body = String::new();
    let mut flush = |section: &Option<(String, String)>, body: &mut String| {
        if let Some((kind, name)) = section {
            match kind.as_str() {
                "config" => {
                    configs.insert(name.clone(), std::mem::take(body));
                }
                "start" => start = body.trim().to_owned(),
                "script" | "expect" => {}
                other => panic!("unknown section {other}"),
            }
        }
    };
    for (n, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("--- ") {
            flush(&section, &mut body);
            body.clear();
            let mut it = rest.split_whitespace();
            let kind = it.next().unwrap_or("").to_owned();
            let name = it.next().unwrap_or("main").to_owned();
            section = Some((kind, name));
            continue;
        }
        match section.as_ref().map(|s| s.0.as_str()) {
            None => {
                head.push_str(line);
                head.push('\n');
            }
            Some("script") => {
                let l = line.trim();
                if !l.is_empty() && !l.starts_with('#') {
                    script.push((n + 1, l.to_owned()));
                }
            }
            Some("expect") => {
                expect.push_str(line);
                expect.push('\n');
            }
            Some(_) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    flush(&section, &mut body);
    let start = Timestamp::from_jiff(
        start
            .parse::<jiff::Timestamp>()
            .expect("--- start is an RFC 3339 time"),
    );
    Scenario {
        configs,
        start,
        script,
        expect,
        head,
    }
}

/// Splits `key=value key="quoted value" word` into words and pairs.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn run(path: &Path) -> (String, Scenario) {
    let text = std::fs::read_to_string(path).unwrap();
    let sc = parse(&text);
    let sites: BTreeMap<String, Arc<vaxel_core::site::Site>> = sc
        .configs
        .iter()
        .map(|(k, v)| (k.clone(), site(v)))
        .collect();
    let base = sc.start;
    let mut engine = Engine::new(sites["main"].clone(), base);
    let mut out = String::new();
    // The agent each call was last offered to, so scripts can answer with `agent=*`.
    let mut ringing: BTreeMap<String, String> = BTreeMap::new();
    for (lineno, line) in &sc.script {
        let toks = tokens(line);
        let at = base.plus_ms(
            (toks[0]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("line {lineno}: time"))
                * 1000.0)
                .round() as u64,
        );
        // Timers due before this input fire first, each at its own time.
        while let Some(t) = engine.poll_timeout().filter(|t| *t <= at) {
            engine.handle_timeout(t).unwrap();
            drain(&mut engine, &mut out, base, &mut ringing);
        }
        let kind = toks[1].as_str();
        let mut kv: BTreeMap<&str, &str> =
            toks[2..].iter().filter_map(|t| t.split_once('=')).collect();
        if kv.get("agent") == Some(&"*") {
            let call = kv.get("call").copied().unwrap_or("");
            kv.insert("agent", ringing.get(call).map_or("nobody", String::as_str));
        }
        let words: Vec<&str> = toks[2..]
            .iter()
            .filter(|t| !t.contains('='))
            .map(String::as_str)
            .collect();
        out.push_str(&format!("{} < {}\n", secs(at, base), toks[1..].join(" ")));
        let g = |k: &str| -> Arc<str> {
            kv.get(k)
                .unwrap_or_else(|| panic!("line {lineno}: {kind} needs {k}="))
                .to_string()
                .into()
        };
        let o = |k: &str| -> Option<Arc<str>> { kv.get(k).map(|v| Arc::from(*v)) };
        let ts = |k: &str| {
            kv.get(k)
                .map(|v| base.plus_ms((v.parse::<f64>().unwrap() * 1000.0) as u64))
        };
        let input = match kind {
            "call.arrived" => Input::CallArrived {
                call: g("call"),
                platform: o("platform").unwrap_or_else(|| "pbx".into()),
                to: g("to"),
                from: o("from").unwrap_or_else(|| "+46701234567".into()),
                digits: kv.get("digits").map(|d| d.to_string()),
                lang: o("lang"),
            },
            "call.digits" => Input::CallDigits {
                call: g("call"),
                digits: kv.get("digits").unwrap_or(&"").to_string(),
            },
            "call.answered" => Input::CallAnswered {
                call: g("call"),
                agent: g("agent"),
            },
            "call.noanswer" => Input::CallNoAnswer {
                call: g("call"),
                agent: g("agent"),
            },
            "call.hangup" => Input::CallHangup {
                call: g("call"),
                reason: o("reason"),
            },
            "call.transfer" => Input::CallTransfer {
                call: g("call"),
                agent: g("agent"),
                to: g("to"),
                priority: kv.get("priority").map(|p| p.parse().unwrap()),
            },
            "call.park" => Input::CallPark {
                call: g("call"),
                agent: g("agent"),
            },
            "call.unpark" => Input::CallUnpark {
                call: g("call"),
                agent: g("agent"),
            },
            "call.requeue" => Input::CallRequeue {
                call: g("call"),
                agent: g("agent"),
                group: o("group"),
                priority: kv.get("priority").map(|p| p.parse().unwrap()),
            },
            "call.disposition" => Input::CallDisposition {
                call: g("call"),
                agent: g("agent"),
                case_type: g("case_type"),
                resolved: kv.get("resolved") == Some(&"true"),
            },
            "callback.result" => Input::CallbackResult {
                callback: g("callback"),
                connected: kv.get("outcome") == Some(&"connected"),
            },
            "agent.login" => Input::AgentLogin {
                agent: g("agent"),
                extension: o("extension"),
            },
            "agent.ready" => Input::AgentReady { agent: g("agent") },
            "agent.logout" => Input::AgentLogout { agent: g("agent") },
            "agent.pause" => Input::AgentPause {
                agent: g("agent"),
                reason: o("reason"),
                note: o("note"),
                until: ts("until"),
            },
            "agent.wrapup_done" => Input::AgentWrapupDone { agent: g("agent") },
            "agent.wrapup_until" => Input::AgentWrapupUntil {
                agent: g("agent"),
                until: ts("until").unwrap(),
            },
            "tick" => Input::Tick,
            "crisis" => Input::Crisis {
                on: words.first() == Some(&"on"),
                prompt: o("prompt"),
                route: o("route"),
            },
            "platform.lost" => Input::PlatformLost {
                platform: g("platform"),
            },
            "reload" => Input::Reload(sites[*words.first().expect("reload NAME")].clone()),
            "snapshot" => {
                engine.handle_timeout(at).unwrap();
                for l in render_snapshot(&engine.snapshot(), base) {
                    out.push_str(&format!("{l}\n"));
                }
                continue;
            }
            "directory" => {
                for hit in engine.directory(&words.join(" ")) {
                    let presence = hit.presence.map(|p| {
                        format!(
                            " presence={}:{}{}",
                            p.agent,
                            p.state.as_str(),
                            p.note.map(|n| format!(" note={n:?}")).unwrap_or_default()
                        )
                    });
                    out.push_str(&format!(
                        "= dir {:?} ext={}{}\n",
                        hit.name,
                        hit.extension.as_deref().unwrap_or("-"),
                        presence.unwrap_or_default()
                    ));
                }
                continue;
            }
            other => panic!("{}:{lineno}: unknown input {other}", path.display()),
        };
        if let Err(e) = engine.handle(at, input) {
            out.push_str(&format!("{} ! {}: {e}\n", secs(at, base), e.code()));
        }
        drain(&mut engine, &mut out, base, &mut ringing);
    }
    (out, sc)
}

fn drain(
    engine: &mut Engine,
    out: &mut String,
    base: Timestamp,
    ringing: &mut BTreeMap<String, String>,
) {
    let now = engine.now();
    while let Some(o) = engine.poll_output() {
        if let vaxel_core::Output::Command { command, .. } = &o {
            match command {
                vaxel_core::Command::Connect { call, agent, .. } => {
                    ringing.insert(call.to_string(), agent.to_string());
                }
                vaxel_core::Command::Dial {
                    callback, agent, ..
                } => {
                    ringing.insert(callback.to_string(), agent.to_string());
                }
                _ => {}
            }
        }
        out.push_str(&format!(
            "{} {}\n",
            secs(now, base),
            render_output(&o, base)
        ));
    }
}

#[test]
fn scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scenarios in {}", dir.display());
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failed = Vec::new();
    for path in &paths {
        let (actual, sc) = run(path);
        if actual == sc.expect {
            continue;
        }
        if update {
            let text = std::fs::read_to_string(path).unwrap();
            let cut = text.find("--- expect").map_or(text.len(), |i| i);
            let mut new = text[..cut].to_owned();
            if !new.ends_with('\n') {
                new.push('\n');
            }
            new.push_str("--- expect\n");
            new.push_str(&actual);
            std::fs::write(path, new).unwrap();
            let _ = &sc.head;
        } else {
            failed.push(format!(
                "{}:\n{}",
                path.display(),
                diff(&sc.expect, &actual)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "scenarios differ (UPDATE_EXPECT=1 re-blesses):\n{}",
        failed.join("\n")
    );
}

/// The first differing lines, with context.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let from = first.saturating_sub(3);
    let mut s = String::new();
    for i in from..(first + 8).min(e.len().max(a.len())) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => s.push_str(&format!("    {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    s.push_str(&format!("  - {x}\n"));
                }
                if let Some(y) = y {
                    s.push_str(&format!("  + {y}\n"));
                }
            }
        }
    }
    s
}
