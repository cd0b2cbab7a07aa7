//! The scenario files (`tests/scenarios/*.scn`): their sections and their script lines,
//! read the same way whether a scenario is played in process (`tests/scenarios.rs`) or over
//! TCP against a daemon (`vaxel-serve`'s `tests/scenarios_tcp.rs`).

use std::collections::BTreeMap;
use vaxel_core::{Input, Timestamp};

/// A scenario file's sections.
pub struct Scenario {
    pub configs: BTreeMap<String, String>,
    pub start: Timestamp,
    /// Script lines with their line numbers in the file.
    pub script: Vec<(usize, String)>,
    pub expect: String,
}

/// The scenario files, sorted.
pub fn files() -> Vec<std::path::PathBuf> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vaxel-core/tests/scenarios");
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scenarios in {}", dir.display());
    paths
}

/// Splits a file into its sections. Errors are `LINE: what`.
pub fn parse(text: &str) -> Result<Scenario, String> {
    let mut configs = BTreeMap::new();
    let mut script = Vec::new();
    let mut expect = String::new();
    let mut start = "2026-03-02T08:00:00+01:00".to_owned();
    // The open section: (kind, name, its first line) and its body.
    let mut section: Option<(String, String, usize)> = None;
    let mut body = String::new();
    let mut close = |section: &Option<(String, String, usize)>, body: &mut String| {
        let Some((kind, name, n)) = section else {
            return Ok(());
        };
        match kind.as_str() {
            "config" => {
                configs.insert(name.clone(), std::mem::take(body));
            }
            "start" => start = body.trim().to_owned(),
            "script" | "expect" => {}
            other => return Err(format!("{n}: unknown section `{other}`")),
        }
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(rest) = line.strip_prefix("--- ") {
            close(&section, &mut body)?;
            body.clear();
            let mut it = rest.split_whitespace();
            let kind = it.next().unwrap_or("").to_owned();
            let name = it.next().unwrap_or("main").to_owned();
            section = Some((kind, name, n));
            continue;
        }
        match section.as_ref().map(|s| s.0.as_str()) {
            // The description above the first section.
            None => {}
            Some("script") => {
                let l = line.trim();
                if !l.is_empty() && !l.starts_with('#') {
                    script.push((n, l.to_owned()));
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
    close(&section, &mut body)?;
    let start = start
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("0: --- start is not an RFC 3339 time: {e}"))?;
    if !configs.contains_key("main") {
        return Err("0: no `--- config` section".into());
    }
    Ok(Scenario {
        configs,
        start: Timestamp::from_jiff(start),
        script,
        expect,
    })
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

/// Values a script may leave out, per input.
const DEFAULTS: &[(&str, &str, &str)] = &[
    ("call.arrived", "platform", "pbx"),
    ("call.arrived", "from", "+46701234567"),
    ("call.digits", "digits", ""),
    ("call.disposition", "resolved", "false"),
    ("callback.result", "outcome", "failed"),
];

/// Seconds from the scenario's start (`12.5`) as a time.
fn at_secs(base: Timestamp, s: &str, round: bool) -> Result<Timestamp, String> {
    let x: f64 = s
        .parse()
        .map_err(|_| format!("expected seconds, found {s:?}"))?;
    let ms = x * 1000.0;
    Ok(base.plus_ms(if round { ms.round() } else { ms } as u64))
}

/// What a script line asks for.
pub enum Step {
    /// The engine's snapshot, printed.
    Snapshot,
    /// A directory search.
    Directory(String),
    /// A reload with the `--- config NAME` section.
    Reload(String),
    Input(Input),
}

/// One script line, read.
pub struct Line {
    pub at: Timestamp,
    /// The line as the transcript echoes it (without its time).
    pub echo: String,
    pub step: Step,
}

/// The time of a script line (to fire the timers due before it first: `agent=*` then sees
/// the calls they offered).
pub fn time_of(line: &str, base: Timestamp) -> Result<Timestamp, String> {
    let toks = tokens(line);
    let (Some(time), Some(_)) = (toks.first(), toks.get(1)) else {
        return Err("expected `<seconds> <input> key=value …`".into());
    };
    at_secs(base, time, true)
}

/// Reads a script line `<seconds> <input> key=value …`. `ringing`: the agent each call was
/// last offered to, for `agent=*`.
pub fn read_line(
    line: &str,
    base: Timestamp,
    ringing: &BTreeMap<String, String>,
) -> Result<Line, String> {
    let toks = tokens(line);
    let (Some(time), Some(kind)) = (toks.first(), toks.get(1)) else {
        return Err("expected `<seconds> <input> key=value …`".into());
    };
    let at = at_secs(base, time, true)?;
    let echo = toks[1..].join(" ");
    let (pairs, words): (Vec<&str>, Vec<&str>) = toks[2..]
        .iter()
        .map(String::as_str)
        .partition(|t| t.contains('='));
    let words_only = |what: &str| match pairs.first() {
        Some(p) => Err(format!("`{kind}` takes {what}, not `{p}`")),
        None => Ok(()),
    };
    let harness = match kind.as_str() {
        "snapshot" => {
            words_only("nothing")?;
            Some(Step::Snapshot)
        }
        "directory" => {
            words_only("words")?;
            Some(Step::Directory(words.join(" ")))
        }
        "reload" => {
            words_only("a configuration's name")?;
            let [name] = words[..] else {
                return Err("expected `reload NAME`".into());
            };
            Some(Step::Reload(name.to_owned()))
        }
        _ => None,
    };
    if let Some(step) = harness {
        return Ok(Line { at, echo, step });
    }
    let mut kv: Vec<(&str, String)> = Vec::new();
    for p in &pairs {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let v = match (k, v) {
            ("agent", "*") => {
                let call = pairs
                    .iter()
                    .find_map(|p| p.strip_prefix("call="))
                    .unwrap_or("");
                ringing
                    .get(call)
                    .map_or("nobody", String::as_str)
                    .to_owned()
            }
            ("until", v) => at_secs(base, v, false)?.0.to_string(),
            _ => v.to_owned(),
        };
        kv.push((k, v));
    }
    match (kind.as_str(), &words[..]) {
        ("crisis", [on @ ("on" | "off")]) => kv.push(("on", (*on == "on").to_string())),
        ("crisis", _) => return Err("expected `crisis on|off key=value …`".into()),
        (_, []) => {}
        (_, [w, ..]) => return Err(format!("`{kind}` takes key=value words, not `{w}`")),
    }
    for (_, k, v) in DEFAULTS.iter().filter(|d| d.0 == kind) {
        if !kv.iter().any(|(key, _)| key == k) {
            kv.push((k, (*v).to_owned()));
        }
    }
    let input = vaxel_proto::input_from_text(kind, kv.iter().map(|(k, v)| (*k, v.as_str())))?;
    Ok(Line {
        at,
        echo,
        step: Step::Input(input),
    })
}

/// A unified diff of every difference, three lines of context.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}
