//! The engine's scenario files (`crates/vaxel-core/tests/scenarios/*.scn`) played over TCP
//! against the daemon in process (`vaxel_serve::serve` on loopback, event clock), one test
//! per file: each script line goes out as the protocol event a platform sends (with `seq`
//! and `at`), and what the platform gets back (commands, refusals) is compared, as a full
//! diff, with the same lines of the file's `--- expect`.
//!
//! Over the wire a platform sees neither records, snapshots nor the directory, and a timer's
//! commands arrive with the next event rather than at their own time: so the comparison is
//! of the commands (records left out) and refusal codes in their order, without times. A
//! harness word (`snapshot`, `directory`) is a `tick` at its time, as timers due by then
//! fire before it in process too. What no platform sends (`reload`, `crisis`,
//! `platform.lost`, a call of another platform) ends the play: a `tick` at its time, and
//! the transcript up to that line is compared.
#![allow(clippy::unwrap_used)]

#[path = "../../vaxel-core/tests/common/mod.rs"]
mod common;

use common::render_command;
use common::script::{Step, diff, files, parse, read_line, time_of};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;
use vaxel_core::{Command, Input, Timestamp};
use vaxel_proto::{Event, PlatformMessage, ServerMessage, decode_server, encode_platform};
use vaxel_serve::in_process::{Daemon, serve_args};

/// How long one answer may take before the test fails (the daemon answers in
/// milliseconds; this only bounds a hang).
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

fn main() {
    let args = Arguments::from_args();
    let trials: Vec<Trial> = files()
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || check(&path))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn check(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path)?;
    let sc = parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    // Removed when this returns, the daemon stopped by then (or never started).
    let dir = tempfile::Builder::new()
        .prefix(&format!("vaxel-scn-tcp-{name}-"))
        .tempdir()?;
    let site = dir.path().join("site.toml");
    std::fs::write(&site, &sc.configs["main"])?;
    let (site, data) = (
        site.display().to_string(),
        dir.path().join("data").display().to_string(),
    );
    // The scenarios start in 2026 and the event clock at 0: no bound on the first step.
    let args = serve_args(&[
        "--config",
        &site,
        "--data-dir",
        &data,
        "--max-clock-step-s",
        "10000000000",
    ])?;
    let daemon = Daemon::start(args)?;
    let played = play(&daemon, &sc);
    daemon.stop()?;
    let (actual, cut_before) = played.map_err(|e| format!("{}:{e}", path.display()))?;
    let expected = wire_lines(&sc.expect, cut_before.as_deref());
    if actual == expected {
        return Ok(());
    }
    Err(format!(
        "{} over TCP differs from its --- expect:\n{}",
        path.display(),
        diff(&expected, &actual)
    )
    .into())
}

/// What a platform sees of an in-process transcript: commands (not records) and refusal
/// codes, without times; up to the echo of the line `cut_before` (`TIME < ECHO`).
fn wire_lines(expect: &str, cut_before: Option<&str>) -> String {
    let mut out = String::new();
    for line in expect.lines() {
        if cut_before == Some(line) {
            break;
        }
        let Some((_, rest)) = line.split_once(' ') else {
            continue;
        };
        if let Some(cmd) = rest.strip_prefix("> ") {
            if !cmd.starts_with("record ") {
                out.push_str(&format!("> {cmd}\n"));
            }
        } else if let Some(refusal) = rest.strip_prefix("! ") {
            let code = refusal.split(':').next().unwrap_or(refusal);
            out.push_str(&format!("! {code}\n"));
        }
    }
    out
}

/// Plays the script over one connection; returns what came back and, when the play ended
/// early, the expect line it ended before.
fn play(
    daemon: &Daemon,
    sc: &common::script::Scenario,
) -> Result<(String, Option<String>), String> {
    let mut p = Platform::connect(daemon.at.tcp)?;
    let base = sc.start;
    let mut ringing: BTreeMap<String, String> = BTreeMap::new();
    let mut out = String::new();
    // The latest time the daemon accepted: a tick never goes back before it.
    let mut now = Timestamp(0);
    for (n, text) in &sc.script {
        let at = time_of(text, base).map_err(|e| format!("{n}: {e}"))?;
        let line = read_line(text, base, &ringing).map_err(|e| format!("{n}: {e}"))?;
        let event = match &line.step {
            Step::Input(input) => Some(input)
                .filter(
                    |i| !matches!(i, Input::CallArrived { platform, .. } if &**platform != "pbx"),
                )
                .and_then(Event::from_input),
            Step::Snapshot | Step::Directory(_) => {
                if at > now {
                    p.send(Event::Input(Input::Tick), at, &mut out, &mut ringing)?;
                    now = at;
                }
                continue;
            }
            Step::Reload(_) => None,
        };
        let Some(event) = event else {
            if at > now {
                p.send(Event::Input(Input::Tick), at, &mut out, &mut ringing)?;
            }
            let cut = format!("{} < {}", common::secs(at, base), line.echo);
            return Ok((out, Some(cut)));
        };
        if p.send(event, at, &mut out, &mut ringing)? {
            now = now.max(at);
        }
    }
    Ok((out, None))
}

/// One platform connection (`pbx`), answers read with a deadline.
struct Platform {
    w: TcpStream,
    r: BufReader<TcpStream>,
    seq: u64,
}

impl Platform {
    fn connect(addr: std::net::SocketAddr) -> Result<Platform, String> {
        let w = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        w.set_read_timeout(Some(ANSWER_WITHIN))
            .map_err(|e| e.to_string())?;
        let r = BufReader::new(w.try_clone().map_err(|e| e.to_string())?);
        let mut p = Platform { w, r, seq: 0 };
        p.write(b"{\"ev\":\"hello\",\"platform\":\"pbx\",\"protocol\":1}\n")?;
        match p.read()? {
            ServerMessage::Welcome { .. } => Ok(p),
            other => Err(format!("expected a welcome, got {other:?}")),
        }
    }

    fn write(&mut self, line: &[u8]) -> Result<(), String> {
        self.w.write_all(line).map_err(|e| format!("write: {e}"))
    }

    fn read(&mut self) -> Result<ServerMessage, String> {
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) => Err("the daemon closed the connection".into()),
            Ok(_) => decode_server(line.trim_end().as_bytes())
                .map_err(|e| format!("undecodable line {line:?}: {e:?}")),
            Err(e) => Err(format!("no answer within {ANSWER_WITHIN:?}: {e}")),
        }
    }

    /// Sends one event at `at` and writes what comes back until its answer; returns
    /// whether it was accepted.
    fn send(
        &mut self,
        body: Event,
        at: Timestamp,
        out: &mut String,
        ringing: &mut BTreeMap<String, String>,
    ) -> Result<bool, String> {
        self.seq += 1;
        let msg = PlatformMessage {
            seq: Some(self.seq),
            at: Some(at),
            attrs: None,
            body,
        };
        let mut buf = Vec::new();
        encode_platform(&msg, &mut buf);
        self.write(&buf)?;
        loop {
            match self.read()? {
                ServerMessage::Ok { seq } if seq == self.seq => return Ok(true),
                ServerMessage::Error { seq, code, .. } if seq == Some(self.seq) => {
                    out.push_str(&format!("! {}\n", code.as_str()));
                    return Ok(false);
                }
                ServerMessage::Cmd(c) => {
                    match &c {
                        Command::Connect { call, agent, .. } => {
                            ringing.insert(call.to_string(), agent.to_string());
                        }
                        Command::Dial {
                            callback, agent, ..
                        } => {
                            ringing.insert(callback.to_string(), agent.to_string());
                        }
                        _ => {}
                    }
                    out.push_str(&format!("> {}\n", render_command(&c)));
                }
                other => return Err(format!("unexpected answer {other:?}")),
            }
        }
    }
}
