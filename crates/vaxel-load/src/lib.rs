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
//! - `failover.rs`: the connections, made again after a close (`--reconnect`).
//! - `driver.rs`: the platform in front of `vaxel_sim::world`'s callers and agents: `seq`,
//!   acks, flow control, ticks, bookkeeping (no sockets).
//! - `exact.rs`: `--exact`, the replay's own inputs streamed, its commands checked.
//! - `latency.rs`: HdrHistogram percentiles.
//! - `report.rs`: the report, as JSON or text.
//!
//! `load` measures the daemon, not the city: at `--speed max` reactions to commands may be
//! sent later (in simulated time) than the exact replay would, so its call figures differ
//! from `vaxel replay`'s, which is the exact tool (docs/benchmarks.md).

mod conn;
mod driver;
mod exact;
mod failover;
mod latency;
mod report;

use anyhow::{Context as _, bail};
use bytes::BytesMut;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use vaxel_core::site::Site;
use vaxel_sim::{RosterReader, Shift, TraceReader};

use conn::Incoming;
use driver::{Driver, Pacing, Settings, Wait};
use failover::{Links, Peers};
pub use report::LoadReport;
use report::{render_text, report};

/// `--window` by default, `--exact` included: with protocol version 2's numbered commands,
/// 8192 events in flight queued more than the daemon's default `--outbound-limit-bytes`
/// (1 MiB) of answers and commands, and the daemon dropped the tool as a slow consumer.
const WINDOW: usize = 4096;

/// How long the daemon may leave events unanswered before the run stops.
const STALL: Duration = Duration::from_secs(30);

/// `--reconnect` when `--addr` names several daemons (the nodes of a cluster).
const RECONNECT_S: f64 = 10.0;

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

--addr A,B (or --reconnect S) carries a run across a fail-over or a restart of the daemon: a
closed connection is made again, resumed after the last command processed, and what had no
answer is sent again (docs/formats.md, \"`vaxel load` across a fail-over\").

Exit status 1: the daemon refused or closed the connection (and none took it again within
--reconnect), any protocol error, or a call the daemon dropped without a command; with
--strict also late refusals and unfinished calls.";

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
    /// The daemon's platform address (`vaxel serve --listen`), HOST:PORT; several, comma
    /// separated, for the nodes of a cluster: a connection that closes is made again to the
    /// next in turn (--reconnect).
    #[arg(
        long,
        value_name = "ADDR[,ADDR…]",
        value_delimiter = ',',
        required = true
    )]
    pub addr: Vec<String>,
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
    /// Protocol 2: a connection that closes (the daemon killed and started again, a
    /// cluster's active failing over) is made again within this many seconds, to the next
    /// address of --addr in turn; its `hello` resumes after the last command processed and
    /// every event without an answer is sent again (one the daemon had applied is refused
    /// as done and counted as applied). 0: a closed connection ends the run. Default: 10
    /// with several addresses, else 0.
    #[arg(long, value_name = "S", value_parser = parse_secs)]
    pub reconnect: Option<f64>,
    /// Count refusals of late reactions (`unknown_call`, `invalid_state` for an answer, a
    /// hang-up, a reply the daemon's own timers overtook) as errors, and fail when calls
    /// are still in progress at the end.
    #[arg(long)]
    pub strict: bool,
    /// Send the very inputs `vaxel replay` gives its engine (computed here by replaying the
    /// trace on --config), as fast as the daemon takes them within --window, and check
    /// every command against the replay's: a capacity measure of a faithful run. Needs a
    /// fresh daemon on `--clock event` with the same configuration.
    #[arg(long, conflicts_with_all = ["max_lag", "tick", "drain", "live_wrapup", "strict", "reconnect"])]
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
        keep_lines: !peers(args)?.within.is_zero(),
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
    let [addr] = args.addr.as_slice() else {
        bail!("--exact talks to one daemon: give --addr one address");
    };
    let (site, shifts) = exact_inputs(args)?;
    let trace = TraceReader::open(&args.trace)?.without_unique_ids();
    let report = exact::run(exact::ExactRun {
        addr: addr.clone(),
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

/// The daemons and how to reach them again: `--addr`, `--token`, `--protocol`,
/// `--reconnect` (which needs protocol 2: only numbered commands can be resumed).
fn peers(args: &LoadArgs) -> anyhow::Result<Peers> {
    let default = if args.addr.len() > 1 {
        RECONNECT_S
    } else {
        0.0
    };
    let within = Duration::from_secs_f64(args.reconnect.unwrap_or(default));
    if !within.is_zero() && args.protocol != vaxel_proto::PROTOCOL_V2 {
        bail!(
            "--reconnect (or several --addr) needs --protocol 2: only numbered commands can \
             be resumed on a new connection"
        );
    }
    Ok(Peers {
        addrs: args.addr.clone(),
        token: args.token.clone(),
        protocol: args.protocol,
        within,
    })
}

fn secs_to_ms(s: f64) -> u64 {
    (s * 1000.0).round() as u64
}

async fn drive<I>(args: &LoadArgs, mut driver: Driver<I>) -> anyhow::Result<LoadReport>
where
    I: Iterator<Item = Result<vaxel_sim::TraceCall, vaxel_sim::SimError>>,
{
    let (in_tx, mut in_rx) = mpsc::unbounded_channel();
    let mut links = Links::open(peers(args)?, usize::from(args.connections), in_tx).await?;
    let mut bufs: Vec<BytesMut> = (0..links.handles().len())
        .map(|_| BytesMut::with_capacity(64 * 1024))
        .collect();
    let mut last_progress = Instant::now();
    loop {
        // Everything already read first: answers free the window, commands schedule.
        while let Ok(m) = in_rx.try_recv() {
            handle(&mut driver, &mut links, m, &mut bufs).await?;
            last_progress = Instant::now();
        }
        let wait = driver.pump(Instant::now(), &mut bufs)?;
        for (buf, c) in bufs.iter_mut().zip(links.handles()) {
            if !buf.is_empty() {
                let bytes = buf.split().freeze();
                // A writer that stopped has said why (`Incoming::Closed`); with
                // --reconnect what it did not write is written again.
                if c.tx.send(bytes).await.is_err() && !links.reconnecting() {
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
                handle(&mut driver, &mut links, m, &mut bufs).await?;
                last_progress = Instant::now();
            }
            None => bail!("every connection to the daemon closed"),
        }
    }
    Ok(report(args, &driver, &links))
}

/// Hands what a connection read to the driver; version 2: then acknowledges the commands
/// processed (the line goes out with the connection's next bytes). A connection that
/// closed is made again (--reconnect), or ends the run. What a connection made again since
/// still passes on is dropped.
async fn handle<I>(
    driver: &mut Driver<I>,
    links: &mut Links,
    m: Incoming,
    bufs: &mut [BytesMut],
) -> anyhow::Result<()>
where
    I: Iterator<Item = Result<vaxel_sim::TraceCall, vaxel_sim::SimError>>,
{
    match m {
        Incoming::Lines {
            link,
            read_at,
            msgs,
            last_cmd,
        } if links.is_current(link) => {
            for msg in msgs {
                match msg {
                    Ok(msg) => driver.on_message(link.conn, read_at, msg),
                    Err(e) => driver.on_bad_line(link.conn, &e),
                }
            }
            if let (Some(upto), Some(buf)) = (last_cmd, bufs.get_mut(link.conn)) {
                conn::ack_line(upto, buf);
                links.processed(link.conn, upto);
            }
            Ok(())
        }
        Incoming::Closed { link, reason } if links.is_current(link) => {
            let conn = link.conn;
            if !links.reconnecting() {
                bail!(
                    "connection load-{}: {reason} ({} event(s) sent, {} unanswered, {} call(s) \
                     in progress)",
                    conn + 1,
                    driver.stats.events,
                    driver.unacked(),
                    driver.calls_in_progress()
                );
            }
            links.reconnect(conn, &reason).await?;
            if let Some(buf) = bufs.get_mut(conn) {
                driver.resume(conn, buf);
            }
            Ok(())
        }
        Incoming::Lines { .. } | Incoming::Closed { .. } => Ok(()),
    }
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

    fn parse(extra: &[&str]) -> LoadArgs {
        let mut argv = vec!["load", "--trace", "t", "--roster", "r"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().load
    }

    /// One address: a closed connection ends the run unless --reconnect says otherwise;
    /// several (a cluster's nodes): made again within 10 s by default; protocol 1 cannot
    /// resume, so it refuses both.
    #[test]
    fn addresses_and_reconnect() {
        let one = parse(&["--addr", "a:1"]);
        assert_eq!(one.addr, ["a:1"]);
        assert!(peers(&one).unwrap().within.is_zero());
        let two = parse(&["--addr", "a:1,b:2"]);
        assert_eq!(two.addr, ["a:1", "b:2"]);
        assert_eq!(peers(&two).unwrap().within, Duration::from_secs(10));
        let p = peers(&parse(&["--addr", "a:1", "--reconnect", "2.5"])).unwrap();
        assert_eq!(p.within, Duration::from_millis(2_500));
        let off = parse(&["--addr", "a:1,b:2", "--reconnect", "0"]);
        assert!(peers(&off).unwrap().within.is_zero());
        let v1 = parse(&["--addr", "a:1,b:2", "--protocol", "1"]);
        let e = peers(&v1).unwrap_err().to_string();
        assert!(e.contains("needs --protocol 2"), "{e}");
        assert!(peers(&parse(&["--addr", "a:1", "--protocol", "1"])).is_ok());
        assert!(
            Cli::try_parse_from(["load", "--trace", "t", "--roster", "r"]).is_err(),
            "--addr is required"
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
