//! The load generator behind `vaxel load`, as a library so that the binary only parses
//! arguments: [`LoadArgs`] is its whole configuration (a clap `Args` that the binary
//! flattens into its subcommand), [`run`] drives a daemon and writes the report.
//!
//! It plays the telephony platform(s) and the agents of a trace and a roster
//! against a running daemon over TCP, and measures the daemon: sustained events per
//! second, latency from an arriving call to its first command and from an event to its
//! `ok`, protocol errors, and whether every call ended.
//!
//! - `conn.rs`: one connection (`hello`, a reader task and a writer task).
//! - `driver.rs`: the platform in front of `vaxel_sim::world`'s callers and agents: `seq`,
//!   acks, flow control, ticks, bookkeeping (no sockets).
//! - `exact.rs`: `--exact`, the replay's own inputs streamed, its commands checked.
//! - `latency.rs`: HdrHistogram percentiles.
//!
//! `load` measures the daemon, not the city: at `--speed max` reactions to commands may be
//! sent later (in simulated time) than the exact replay would, so its call figures differ
//! from `vaxel replay`'s, which is the exact tool (docs/benchmarks.md).

mod conn;
mod driver;
mod exact;
mod latency;

use anyhow::{Context as _, bail};
use bytes::BytesMut;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use vaxel_core::site::Site;
use vaxel_sim::{RosterReader, Shift, TraceReader};

use conn::{ConnHandle, Incoming};
use driver::{Driver, Pacing, Settings, Wait};
use latency::LatencySummary;

/// `--window` by default, `--exact` included: with protocol version 2's numbered commands,
/// 8192 events in flight queued more than the daemon's default `--outbound-limit-bytes`
/// (1 MiB) of answers and commands, and the daemon dropped the tool as a slow consumer.
const WINDOW: usize = 4096;

/// How long the daemon may leave events unanswered before the run stops.
const STALL: Duration = Duration::from_secs(30);

/// `--speed`: a factor or `max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    Max,
    Factor(f64),
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(Speed::Max);
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Factor(x)),
        _ => Err(format!(
            "{s:?} is not `max` or a positive number (1, 60, 3600)"
        )),
    }
}

/// `--max-lag`: seconds, or `none` (no bound but the window).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxLag(pub Option<f64>);

fn parse_lag(s: &str) -> Result<MaxLag, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(MaxLag(None));
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(MaxLag(Some(x))),
        _ => Err(format!("{s:?} is not `none` or a number of seconds ≥ 0")),
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("{s:?} is not a number of seconds ≥ 0")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    /// The daemon runs `--clock event`: every event carries `at` (simulated time).
    Event,
    /// The daemon runs on its own clock: events carry no `at` (ticks carry the wall time).
    Live,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Shown after the options (`vaxel load --help`).
const AFTER_HELP: &str = "\
Callers and agents behave as in `vaxel replay` (docs/formats.md), but `load` learns what the
engine did only from its commands, after a round trip. At `--speed max` a reaction (an
answer after ring_s, a hang-up after talk or patience, a menu or callback reply) is sent at
its natural simulated time or at the latest `at` already sent, whichever is later: reactions
may lag (at most --max-lag), so call figures differ from `vaxel replay`, the exact tool.
`load` measures the daemon, not the city (docs/benchmarks.md).

--exact sends instead the very inputs `vaxel replay` gives its engine (replayed here on
--config) as fast as the daemon takes them, and checks every command against the replay's:
the capacity of a faithful run, for a fresh daemon on `--clock event`.

Exit status 1: the daemon refused or closed the connection, any protocol error, or a call
the daemon dropped without a command; with --strict also late refusals and unfinished calls.";

/// `vaxel load`: drive a running daemon with a trace and a roster; measure it.
///
/// Plays the telephony platform(s) (callers) and the agents over TCP as `vaxel replay`
/// plays them in process (docs/formats.md). With `--speed max` events are pipelined as fast as
/// the window and `--max-lag` allow; reactions to commands (answers after `ring_s`,
/// hang-ups after talk or patience, menu and callback replies) are sent at their natural
/// simulated time or at the latest `at` already sent, whichever is later, so they may lag
/// and the call figures differ from `vaxel replay` (the exact tool). `load` measures the
/// daemon, not the city.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct LoadArgs {
    /// The daemon's platform address (`vaxel serve --listen`), HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub addr: String,
    /// The trace (calls.csv): what callers do.
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The roster (roster.csv): when agents work.
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// `max` (as fast as the daemon answers), or N: simulated time runs N times as fast as
    /// wall time.
    #[arg(long, value_name = "N|max", default_value = "max", value_parser = parse_speed)]
    pub speed: Speed,
    /// The daemon's clock: `event` (`vaxel serve --clock event`; every event carries `at`)
    /// or `live`.
    #[arg(long, value_enum, default_value_t = ClockArg::Event)]
    pub clock: ClockArg,
    /// Platform connections (`load-1` … `load-K`); calls are spread over them by a hash of
    /// their id, agent events go on the first. With the event clock, events on different
    /// connections only overlap when they share their `at`.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub connections: u16,
    /// The platform token (`hello`'s `token`), when the daemon has platform tokens.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The protocol version to speak: 2 (commands numbered, each acknowledged once
    /// processed, a gap or a repeat is an error) or 1 (no numbers, no acknowledgements).
    #[arg(long, value_name = "1|2", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=2))]
    pub protocol: u64,
    /// Events written and not yet answered at most (default 4096, also with --exact:
    /// deeper, the daemon's default 1 MiB outbound limit drops the tool as slow).
    #[arg(long, value_name = "N")]
    pub window: Option<usize>,
    /// At `--speed max`: how far (simulated seconds) an event may run ahead of the oldest
    /// unanswered one, which bounds how late reactions are; `none`: only the window bounds
    /// it (fastest, least faithful).
    #[arg(long, value_name = "S|none", default_value = "5", value_parser = parse_lag)]
    pub max_lag: MaxLag,
    /// Event clock: while callers wait, a `tick` is sent after this many simulated seconds
    /// without another event, so the engine's timers act on time; 0 = never.
    #[arg(long, value_name = "S", default_value = "1", value_parser = parse_secs)]
    pub tick: f64,
    /// How far past the last trace or roster time the final `tick` moves time on when calls
    /// are still in progress.
    #[arg(long, value_name = "S", default_value = "3600", value_parser = parse_secs)]
    pub drain: f64,
    /// Live clock: the wrap-up (simulated seconds, scaled by --speed) planned when the trace
    /// leaves it empty; the group's default would run in wall time.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_secs)]
    pub live_wrapup: f64,
    /// Count refusals of late reactions (`unknown_call`, `invalid_state` for an answer, a
    /// hang-up, a reply the daemon's own timers overtook) as errors, and fail when calls
    /// are still in progress at the end.
    #[arg(long)]
    pub strict: bool,
    /// Send the very inputs `vaxel replay` gives its engine (computed here by replaying the
    /// trace on --config), as fast as the daemon takes them within --window, and check
    /// every command against the replay's: a capacity measure of a faithful run. Needs a
    /// fresh daemon on `--clock event` with the same configuration.
    #[arg(long, conflicts_with_all = ["max_lag", "tick", "drain", "live_wrapup", "strict"])]
    pub exact: bool,
    /// With --exact: the daemon's site file (the built-in city when absent).
    #[arg(long, value_name = "FILE", requires = "exact")]
    pub config: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The report (`--report json`).
#[derive(Debug, Serialize)]
pub struct LoadReport {
    /// Calls announced.
    pub calls: u64,
    /// Lines sent (events and ticks).
    pub events: u64,
    /// Of which ticks.
    pub ticks: u64,
    /// Wall time from the first event written to the last answer read.
    pub wall_s: f64,
    pub events_per_s: f64,
    /// `call.arrived` written → first command for the call read.
    pub latency_ms: LatencySummary,
    /// Event written → its `ok` (or `error`) read.
    pub ack_latency_ms: LatencySummary,
    /// Errors by code (any → exit status 1).
    pub errors: BTreeMap<String, u64>,
    /// The first errors, for diagnosis.
    pub first_errors: Vec<String>,
    /// Refusals of late reactions by code (not errors unless --strict).
    pub stale: BTreeMap<String, u64>,
    /// Calls that ended (forward, final hangup, or the tool's acknowledged hang-up).
    pub ended_calls: u64,
    /// Calls announced that did not end (callbacks still waiting when the roster ends, …;
    /// exit status 1 with --strict).
    pub unfinished_calls: u64,
    /// Calls still in progress at the end, by the state the tool last knew.
    pub in_progress: BTreeMap<String, u64>,
    /// Of which the daemon stopped knowing without a command ending them (any → exit
    /// status 1).
    pub vanished_calls: u64,
    pub refused_arrivals: u64,
    /// Commands read.
    pub commands: u64,
    /// Commands for calls this run did not announce.
    pub foreign_commands: u64,
    /// Logins turned into `agent.ready` (agent still on from an earlier shift).
    pub relogins: u64,
    pub peak_calls: usize,
    /// Simulated time covered, seconds.
    pub sim_s: f64,
    /// Paced runs: how late (ms) the latest event was sent at worst.
    pub max_behind_ms: u64,
    pub speed: String,
    pub clock: String,
    pub connections: u16,
    pub window: usize,
    pub max_lag_s: Option<f64>,
}

/// What `--exact` replays on: the site (`--config`) and the roster of its agents. The
/// caller reads them, so that `vaxel load` reads site files and rosters as every other
/// command does (its warnings, its error messages).
pub type ExactInputs = (Arc<Site>, Vec<Shift>);

/// Runs `vaxel load`. `exact_inputs` is called only for `--exact`, once its flags are
/// checked.
pub fn run(
    args: &LoadArgs,
    exact_inputs: impl FnOnce(&LoadArgs) -> anyhow::Result<ExactInputs>,
) -> anyhow::Result<ExitCode> {
    if args.exact {
        return run_exact(args, exact_inputs);
    }
    let settings = Settings {
        connections: usize::from(args.connections),
        pacing: match args.speed {
            Speed::Max => Pacing::Max,
            Speed::Factor(x) => Pacing::Speed(x),
        },
        window: args.window.unwrap_or(WINDOW),
        max_lag_ms: args.max_lag.0.map(secs_to_ms),
        event_clock: args.clock == ClockArg::Event,
        tick_ms: secs_to_ms(args.tick),
        drain_ms: secs_to_ms(args.drain),
        live_wrapup_ms: secs_to_ms(args.live_wrapup),
        strict: args.strict,
    };
    settings.check()?;
    let roster = vaxel_sim::read_roster(RosterReader::open(&args.roster)?)?;
    let trace = TraceReader::open(&args.trace)?;
    let driver = Driver::new(settings, trace, &roster)?;

    // One thread: the reader, writer and driver tasks hand lines to each other without
    // waking other threads (the round trip is what a faithful run waits on), and the
    // daemon keeps the other cores.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("vaxel-load")
        .build()
        .context("cannot start the async runtime")?;
    let report = rt.block_on(drive(args, driver))?;
    // Reader tasks may still sit on open sockets: do not wait for them.
    rt.shutdown_background();

    write_report(args, &report, render_text)?;
    let failed = !report.errors.is_empty()
        || report.vanished_calls > 0
        || (args.strict && report.unfinished_calls > 0);
    if failed {
        eprintln!(
            "vaxel load: {} error(s), {} call(s) the daemon dropped without a command, {} \
             unfinished",
            report.errors.values().sum::<u64>(),
            report.vanished_calls,
            report.unfinished_calls
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `vaxel load --exact` (see `exact.rs`).
fn run_exact(
    args: &LoadArgs,
    exact_inputs: impl FnOnce(&LoadArgs) -> anyhow::Result<ExactInputs>,
) -> anyhow::Result<ExitCode> {
    if args.clock != ClockArg::Event || args.speed != Speed::Max || args.connections != 1 {
        bail!("--exact runs on the event clock at --speed max over one connection");
    }
    let (site, shifts) = exact_inputs(args)?;
    let trace = TraceReader::open(&args.trace)?.without_unique_ids();
    let report = exact::run(exact::ExactRun {
        addr: args.addr.clone(),
        platform: "load-1".to_owned(),
        token: args.token.clone(),
        protocol: args.protocol,
        window: args.window.unwrap_or(WINDOW),
        site,
        trace,
        shifts,
    })?;
    write_report(args, &report, exact::ExactReport::text)?;
    if report.failed() {
        eprintln!(
            "vaxel load --exact: {} difference(s) from the replay, {} error(s)",
            report.mismatches,
            report.errors.values().sum::<u64>()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the report as `--report` and `--out` say.
fn write_report<R: Serialize>(
    args: &LoadArgs,
    report: &R,
    text: impl FnOnce(&R) -> String,
) -> anyhow::Result<()> {
    let text = match args.report {
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s
        }
        ReportFormat::Text => text(report),
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

fn secs_to_ms(s: f64) -> u64 {
    (s * 1000.0).round() as u64
}

async fn drive<I>(args: &LoadArgs, mut driver: Driver<I>) -> anyhow::Result<LoadReport>
where
    I: Iterator<Item = Result<vaxel_sim::TraceCall, vaxel_sim::SimError>>,
{
    let (in_tx, mut in_rx) = mpsc::unbounded_channel();
    let mut conns: Vec<ConnHandle> = Vec::new();
    for i in 0..usize::from(args.connections) {
        let platform = format!("load-{}", i + 1);
        conns.push(
            conn::open(
                &args.addr,
                &platform,
                args.token.as_deref(),
                args.protocol,
                i,
                in_tx.clone(),
            )
            .await?,
        );
    }
    drop(in_tx);
    let mut bufs: Vec<BytesMut> = (0..conns.len())
        .map(|_| BytesMut::with_capacity(64 * 1024))
        .collect();
    let mut last_progress = Instant::now();
    loop {
        // Everything already read first: answers free the window, commands schedule.
        while let Ok(m) = in_rx.try_recv() {
            handle(&mut driver, m, &mut bufs)?;
            last_progress = Instant::now();
        }
        let wait = driver.pump(Instant::now(), &mut bufs)?;
        for (buf, c) in bufs.iter_mut().zip(&conns) {
            if !buf.is_empty() {
                let bytes = buf.split().freeze();
                if c.tx.send(bytes).await.is_err() {
                    bail!("{}: the connection's writer stopped", c.platform);
                }
            }
        }
        if let Some(e) = driver.take_fatal() {
            bail!("{e}");
        }
        let deadline = match wait {
            Wait::Done => break,
            Wait::Until(t) => Some(t),
            Wait::Answers => None,
        };
        let stall = last_progress + STALL;
        let m = tokio::select! {
            m = in_rx.recv() => m,
            () = tokio::time::sleep_until(deadline.unwrap_or(stall).into()) => {
                if deadline.is_none() && driver.unacked() > 0 && Instant::now() >= stall {
                    bail!(
                        "the daemon answered nothing for {STALL:?} with {} event(s) \
                         unanswered",
                        driver.unacked()
                    );
                }
                if deadline.is_none() {
                    last_progress = Instant::now();
                }
                continue;
            }
        };
        match m {
            Some(m) => {
                handle(&mut driver, m, &mut bufs)?;
                last_progress = Instant::now();
            }
            None => bail!("every connection to the daemon closed"),
        }
    }
    Ok(report(args, &driver))
}

/// Hands what a connection read to the driver; version 2: then acknowledges the commands
/// processed (the line goes out with the connection's next bytes).
fn handle<I>(driver: &mut Driver<I>, m: Incoming, bufs: &mut [BytesMut]) -> anyhow::Result<()>
where
    I: Iterator<Item = Result<vaxel_sim::TraceCall, vaxel_sim::SimError>>,
{
    match m {
        Incoming::Lines {
            conn,
            read_at,
            msgs,
            last_cmd,
        } => {
            for msg in msgs {
                match msg {
                    Ok(msg) => driver.on_message(conn, read_at, msg),
                    Err(e) => driver.on_bad_line(conn, &e),
                }
            }
            if let (Some(upto), Some(buf)) = (last_cmd, bufs.get_mut(conn)) {
                conn::ack_line(upto, buf);
            }
            Ok(())
        }
        Incoming::Closed { conn, reason } => bail!(
            "connection load-{}: {reason} ({} event(s) sent, {} unanswered, {} call(s) in \
             progress)",
            conn + 1,
            driver.stats.events,
            driver.unacked(),
            driver.calls_in_progress()
        ),
    }
}

fn report<I>(args: &LoadArgs, d: &Driver<I>) -> LoadReport
where
    I: Iterator<Item = Result<vaxel_sim::TraceCall, vaxel_sim::SimError>>,
{
    let s = &d.stats;
    let wall = match (d.first_sent, d.last_answer) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    LoadReport {
        calls: s.calls,
        events: s.events,
        ticks: s.ticks,
        wall_s: wall,
        events_per_s: if wall > 0.0 {
            s.events as f64 / wall
        } else {
            0.0
        },
        latency_ms: d.cmd_latency.summary(),
        ack_latency_ms: d.ack_latency.summary(),
        errors: s.errors.clone(),
        first_errors: s.first_errors.clone(),
        stale: s.stale.clone(),
        ended_calls: s.ended,
        unfinished_calls: d.unfinished(),
        in_progress: d.in_progress(),
        vanished_calls: s.vanished,
        refused_arrivals: s.refused_arrivals,
        commands: s.commands,
        foreign_commands: s.foreign_commands,
        relogins: s.relogins,
        peak_calls: s.peak_calls,
        sim_s: s.sim_ms as f64 / 1000.0,
        max_behind_ms: s.max_behind_ms,
        speed: match args.speed {
            Speed::Max => "max".to_owned(),
            Speed::Factor(x) => format!("{x}"),
        },
        clock: match args.clock {
            ClockArg::Event => "event".to_owned(),
            ClockArg::Live => "live".to_owned(),
        },
        connections: args.connections,
        window: args.window.unwrap_or(WINDOW),
        max_lag_s: match args.speed {
            Speed::Max => args.max_lag.0,
            Speed::Factor(_) => None,
        },
    }
}

fn render_text(r: &LoadReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let lat = |l: &LatencySummary| {
        format!(
            "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3} ms  ({} samples)",
            l.p50, l.p90, l.p99, l.p999, l.max, l.count
        )
    };
    let codes = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let lag = r
        .max_lag_s
        .map_or_else(|| "none".to_owned(), |l| format!("{l} s"));
    let _ = writeln!(
        s,
        "vaxel load: speed {}, {} clock, {} connection(s), window {}, max lag {lag}",
        r.speed, r.clock, r.connections, r.window
    );
    let _ = writeln!(
        s,
        "events        {} ({} ticks) in {:.3} s: {:.0} events/s; {} commands",
        r.events, r.ticks, r.wall_s, r.events_per_s, r.commands
    );
    let _ = writeln!(
        s,
        "calls         {} announced, {} ended, {} unfinished ({} vanished), {} refused; \
         peak {} in progress; {:.0} s simulated",
        r.calls,
        r.ended_calls,
        r.unfinished_calls,
        r.vanished_calls,
        r.refused_arrivals,
        r.peak_calls,
        r.sim_s
    );
    if !r.in_progress.is_empty() {
        let _ = writeln!(s, "in progress   {}", codes(&r.in_progress));
    }
    let _ = writeln!(s, "arrival→cmd   {}", lat(&r.latency_ms));
    let _ = writeln!(s, "event→ok      {}", lat(&r.ack_latency_ms));
    let _ = writeln!(s, "errors        {}", codes(&r.errors));
    for e in &r.first_errors {
        let _ = writeln!(s, "  {e}");
    }
    let _ = writeln!(s, "late refusals {}", codes(&r.stale));
    if r.relogins > 0 || r.foreign_commands > 0 {
        let _ = writeln!(
            s,
            "other         {} relogin(s) as agent.ready, {} command(s) for unknown calls",
            r.relogins, r.foreign_commands
        );
    }
    if r.speed != "max" {
        let _ = writeln!(s, "behind        {} ms at worst", r.max_behind_ms);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    #[test]
    fn arguments() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "load",
            "--addr",
            "127.0.0.1:1",
            "--trace",
            "t.csv",
            "--roster",
            "r.csv",
        ])
        .unwrap();
        assert_eq!(cli.load.speed, Speed::Max);
        assert_eq!(cli.load.max_lag, MaxLag(Some(5.0)));
        let cli = Cli::try_parse_from([
            "load",
            "--addr",
            "a:1",
            "--trace",
            "t",
            "--roster",
            "r",
            "--speed",
            "100",
            "--max-lag",
            "none",
            "--clock",
            "live",
            "--connections",
            "4",
        ])
        .unwrap();
        assert_eq!(cli.load.speed, Speed::Factor(100.0));
        assert_eq!(cli.load.max_lag, MaxLag(None));
        assert_eq!(cli.load.connections, 4);
        assert!(
            Cli::try_parse_from([
                "load",
                "--addr",
                "a",
                "--trace",
                "t",
                "--roster",
                "r",
                "--connections",
                "0"
            ])
            .is_err()
        );
    }

    #[test]
    fn speeds_and_lags() {
        assert_eq!(parse_speed("max"), Ok(Speed::Max));
        assert_eq!(parse_speed("MAX"), Ok(Speed::Max));
        assert_eq!(parse_speed("60"), Ok(Speed::Factor(60.0)));
        assert!(parse_speed("0").is_err());
        assert!(parse_speed("-1").is_err());
        assert!(parse_speed("inf").is_err());
        assert!(parse_speed("fast").is_err());
        assert_eq!(parse_lag("none"), Ok(MaxLag(None)));
        assert_eq!(parse_lag("2.5"), Ok(MaxLag(Some(2.5))));
        assert!(parse_lag("-1").is_err());
        assert_eq!(secs_to_ms(1.2345), 1235);
    }
}
