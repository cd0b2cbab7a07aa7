//! Scenario tests, one test per file in `tests/scenarios/`: each file holds a site
//! (`--- config`), a timed script of inputs (`--- script`) and the expected transcript
//! (`--- expect`): every input, every command and record it caused, every refusal, each
//! stamped with its time in seconds from the scenario's start (Monday 2026-03-02 08:00
//! Stockholm, unless `--- start` says otherwise). Timers fire at their own times between
//! inputs. After the last line every call is ended and the engine's invariants are checked
//! (`common::invariants`, shared with the property tests).
//!
//! Script lines: `<seconds> <input> key=value …` (values may be "quoted"). Inputs are the
//! engine's, named and spelled as on the wire (`call.arrived`, `agent.pause`, …, `tick`,
//! `crisis on|off`, `platform.lost`), read through the same serde model as the protocol
//! (`vaxel_proto::input_from_text`): an unknown key or a bad value is an error naming the
//! file and line. Script conveniences: `agent=*` is the agent the call last rang;
//! `until=` is in seconds from the start; `call.arrived` defaults `platform=pbx` and
//! `from=+46701234567`, `call.digits` `digits=` (none), `call.disposition`
//! `resolved=false`, `callback.result` `outcome=failed`. Harness words: `reload NAME` (a
//! `--- config NAME` section), `snapshot` and `directory WORDS`.
//!
//! A difference is shown as a full unified diff. Re-bless after an intended change with
//! `UPDATE_EXPECT=1 cargo test -p vaxel-core --test scenarios`.
#![allow(clippy::unwrap_used)]

mod common;

use common::invariants::{self, Arrivals};
use common::{render_output, render_snapshot, secs, site};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vaxel_core::{Engine, Output, Timestamp};

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scenarios in {}", dir.display());
    let mut trials: Vec<Trial> = paths
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || check(&path))
        })
        .collect();
    trials.push(Trial::test("harness::script_lines_are_strict", strict));
    trials.push(Trial::test("harness::diffs_show_every_hunk", every_hunk));
    libtest_mimic::run(&args, trials).exit();
}

/// A typo in a key, a value of the wrong type, a word where a pair is expected and a key
/// the input does not have are errors naming the line, not silently ignored.
fn strict() -> Result<(), Failed> {
    let head = "--- config\n[site]\nname = \"S\"\ntimezone = \"Europe/Stockholm\"\n\
                [[entries]]\nid = \"main\"\nnumber = \"+4685080000\"\nroute = \"group:g\"\n\
                [[groups]]\nid = \"g\"\nrequires = { g = 1 }\n\
                [[agents]]\nid = \"a1\"\nname = \"A\"\nextension = \"1\"\nskills = { g = 1 }\n\
                --- script\n";
    let n = head.lines().count() + 1;
    let cases = [
        (
            "0 call.arrived call=c1 to=1 priorty=5",
            "unknown key `priorty`",
        ),
        (
            "0 call.transfer call=c1 agent=a1 to=group:g priority=high",
            "bad field `priority`: expected an integer, found \"high\"",
        ),
        (
            "0 call.hangup c1",
            "`call.hangup` takes key=value words, not `c1`",
        ),
        (
            "0 agent.ready agent=a1 group=g",
            "`agent.ready` has no field `group`",
        ),
        ("0 agent.ready", "missing field `agent` for agent.ready"),
        ("0 crisis maybe", "expected `crisis on|off key=value …`"),
        ("0 call.teleport call=c1", "unknown event \"call.teleport\""),
    ];
    for (line, expected) in cases {
        let text = format!("{head}{line}\n");
        let got = parse(&text).and_then(|sc| run(&sc).map(|_| ()));
        let expected = format!("{n}: {expected}");
        if got.as_ref() != Err(&expected) {
            return Err(format!("{line}: expected {expected:?}, got {got:?}").into());
        }
    }
    Ok(())
}

fn every_hunk() -> Result<(), Failed> {
    let expected: String = (0..40).map(|i| format!("line {i}\n")).collect();
    let actual = expected
        .replace("line 2\n", "line two\n")
        .replace("line 37\n", "line thirty-seven\n");
    let d = diff(&expected, &actual);
    for change in [
        "-line 2\n",
        "+line two\n",
        "-line 37\n",
        "+line thirty-seven\n",
    ] {
        if !d.contains(change) {
            return Err(format!("{change:?} missing from:\n{d}").into());
        }
    }
    Ok(())
}

/// A unified diff of every difference, three lines of context.
fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

/// Runs one file and compares (or, with `UPDATE_EXPECT`, re-blesses) its transcript.
fn check(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path)?;
    let sc = parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
    let actual = run(&sc).map_err(|e| format!("{}:{e}", path.display()))?;
    if actual == sc.expect {
        return Ok(());
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let cut = text.find("--- expect").unwrap_or(text.len());
        let mut new = text[..cut].to_owned();
        if !new.ends_with('\n') {
            new.push('\n');
        }
        new.push_str("--- expect\n");
        new.push_str(&actual);
        std::fs::write(path, new)?;
        return Ok(());
    }
    Err(format!(
        "{} differs (UPDATE_EXPECT=1 re-blesses):\n{}",
        path.display(),
        diff(&sc.expect, &actual)
    )
    .into())
}

struct Scenario {
    configs: BTreeMap<String, String>,
    start: Timestamp,
    /// Script lines with their line numbers in the file.
    script: Vec<(usize, String)>,
    expect: String,
}

/// Splits a file into its sections. Errors are `LINE: what`.
fn parse(text: &str) -> Result<Scenario, String> {
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

/// The engine and what the script has seen so far.
struct Run {
    engine: Engine,
    base: Timestamp,
    out: String,
    outputs: Vec<Output>,
    arrivals: Arrivals,
    platforms: BTreeSet<String>,
    /// The agent each call was last offered to, for `agent=*`.
    ringing: BTreeMap<String, String>,
}

/// Plays the script; returns the transcript. Errors are `LINE: what`.
fn run(sc: &Scenario) -> Result<String, String> {
    let sites: BTreeMap<&str, Arc<vaxel_core::site::Site>> = sc
        .configs
        .iter()
        .map(|(k, v)| (k.as_str(), site(v)))
        .collect();
    let base = sc.start;
    let mut r = Run {
        engine: Engine::new(sites["main"].clone(), base),
        base,
        out: String::new(),
        outputs: Vec::new(),
        arrivals: Arrivals::new(),
        platforms: BTreeSet::new(),
        ringing: BTreeMap::new(),
    };
    for (n, line) in &sc.script {
        r.line(line, &sites).map_err(|e| format!("{n}: {e}"))?;
        invariants::check_step(&r.engine, &r.outputs, &r.arrivals);
    }
    let now = r.engine.now();
    invariants::end_everything(
        &mut r.engine,
        now,
        r.platforms.iter().map(String::as_str),
        &mut r.outputs,
        &r.arrivals,
    );
    Ok(r.out)
}

impl Run {
    fn line(
        &mut self,
        line: &str,
        sites: &BTreeMap<&str, Arc<vaxel_core::site::Site>>,
    ) -> Result<(), String> {
        let toks = tokens(line);
        let (Some(time), Some(kind)) = (toks.first(), toks.get(1)) else {
            return Err("expected `<seconds> <input> key=value …`".into());
        };
        let at = at_secs(self.base, time, true)?;
        // Timers due before this input fire first, each at its own time; then time moves
        // to the input's (as `handle` does first: a refusal is then compared with the state
        // the input met). Time going backwards is the input's refusal, written below.
        while let Some(t) = self.engine.poll_timeout().filter(|t| *t <= at) {
            self.engine.handle_timeout(t).map_err(|e| e.to_string())?;
            self.drain();
        }
        let _ = self.engine.handle_timeout(at);
        let (pairs, words): (Vec<&str>, Vec<&str>) = toks[2..]
            .iter()
            .map(String::as_str)
            .partition(|t| t.contains('='));
        let base = self.base;
        self.out
            .push_str(&format!("{} < {}\n", secs(at, base), toks[1..].join(" ")));
        let words_only = |what: &str| match pairs.first() {
            Some(p) => Err(format!("`{kind}` takes {what}, not `{p}`")),
            None => Ok(()),
        };
        match kind.as_str() {
            "snapshot" => {
                words_only("nothing")?;
                self.engine.handle_timeout(at).map_err(|e| e.to_string())?;
                for l in render_snapshot(&self.engine.snapshot(), base) {
                    self.out.push_str(&format!("{l}\n"));
                }
                return Ok(());
            }
            "directory" => {
                words_only("words")?;
                self.directory(&words.join(" "));
                return Ok(());
            }
            "reload" => {
                words_only("a configuration's name")?;
                let [name] = words[..] else {
                    return Err("expected `reload NAME`".into());
                };
                let site = sites
                    .get(name)
                    .ok_or_else(|| format!("no `--- config {name}` section"))?;
                let r = self.engine.reload(at, site.clone());
                self.answer(at, r);
                return Ok(());
            }
            _ => {}
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
                    self.ringing
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
        if let vaxel_core::Input::CallArrived { platform, .. } = &input {
            self.platforms.insert(platform.to_string());
        }
        let r = invariants::handle(&mut self.engine, at, input, &mut self.arrivals);
        self.answer(at, r);
        Ok(())
    }

    /// Writes a refusal, then what the engine said.
    fn answer(&mut self, at: Timestamp, r: Result<(), vaxel_core::EngineError>) {
        if let Err(e) = r {
            self.out
                .push_str(&format!("{} ! {}: {e}\n", secs(at, self.base), e.code()));
        }
        self.drain();
    }

    fn directory(&mut self, query: &str) {
        for hit in self.engine.directory(query) {
            let presence = hit.presence.map(|p| {
                format!(
                    " presence={}:{}{}",
                    p.agent,
                    p.state.as_str(),
                    p.note.map(|n| format!(" note={n:?}")).unwrap_or_default()
                )
            });
            self.out.push_str(&format!(
                "= dir {:?} ext={}{}\n",
                hit.name,
                hit.extension.as_deref().unwrap_or("-"),
                presence.unwrap_or_default()
            ));
        }
    }

    fn drain(&mut self) {
        let now = self.engine.now();
        while let Some(o) = self.engine.poll_output() {
            if let Output::Command { command, .. } = &o {
                match command {
                    vaxel_core::Command::Connect { call, agent, .. } => {
                        self.ringing.insert(call.to_string(), agent.to_string());
                    }
                    vaxel_core::Command::Dial {
                        callback, agent, ..
                    } => {
                        self.ringing.insert(callback.to_string(), agent.to_string());
                    }
                    _ => {}
                }
            }
            self.out.push_str(&format!(
                "{} {}\n",
                secs(now, self.base),
                render_output(&o, self.base)
            ));
            self.outputs.push(o);
        }
    }
}
