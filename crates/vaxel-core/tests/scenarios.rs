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
use common::script::{Scenario, Step, diff, parse, read_line, time_of};
use common::{render_output, render_snapshot, secs, site};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use vaxel_core::{Engine, Output, Timestamp};

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = common::script::files()
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
        let at = time_of(line, self.base)?;
        // Timers due before this input fire first, each at its own time; then time moves
        // to the input's (as `handle` does first: a refusal is then compared with the state
        // the input met). Time going backwards is the input's refusal, written below.
        while let Some(t) = self.engine.poll_timeout().filter(|t| *t <= at) {
            self.engine.handle_timeout(t).map_err(|e| e.to_string())?;
            self.drain();
        }
        let _ = self.engine.handle_timeout(at);
        let base = self.base;
        let line = read_line(line, base, &self.ringing)?;
        self.out
            .push_str(&format!("{} < {}\n", secs(at, base), line.echo));
        let input = match line.step {
            Step::Snapshot => {
                self.engine.handle_timeout(at).map_err(|e| e.to_string())?;
                for l in render_snapshot(&self.engine.snapshot(), base) {
                    self.out.push_str(&format!("{l}\n"));
                }
                return Ok(());
            }
            Step::Directory(query) => {
                self.directory(&query);
                return Ok(());
            }
            Step::Reload(name) => {
                let site = sites
                    .get(name.as_str())
                    .ok_or_else(|| format!("no `--- config {name}` section"))?;
                let r = self.engine.reload(at, site.clone());
                self.answer(at, r);
                return Ok(());
            }
            Step::Input(input) => input,
        };
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
