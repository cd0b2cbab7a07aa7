//! `vaxel replay --trace T --roster R [--config F] [--cdr OUT] [--events OUT] [--report text|json]
//! [--out FILE]`: runs a trace through the engine in simulated time with agents following
//! the roster (docs/formats.md "Replay semantics"), writes the call records if asked and prints
//! the report.
//!
//! The trace is streamed; the call records are written to `OUT.partial` and renamed to
//! `OUT` only when the replay succeeded. A malformed trace or roster stops the replay with
//! an error naming the file, line and column (exit status 1).

use super::common;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The site file (TOML); the built-in city when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The trace (calls.csv): what callers do.
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The roster (roster.csv): when agents work.
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// Write one call record per call (cdr.csv) to this file.
    #[arg(long, value_name = "OUT")]
    pub cdr: Option<PathBuf>,
    /// Write the event log (events.csv, docs/formats.md) to this file: every call's and
    /// agent's events, as the daemon writes them.
    #[arg(long, value_name = "OUT")]
    pub events: Option<PathBuf>,
    /// Report format: aligned text tables or the JSON of docs/formats.md.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// With the text report, also print the supervisors' breakdowns (by hour, weekday,
    /// month, wait, case type, resolution); the JSON report always has them.
    #[arg(long)]
    pub breakdowns: bool,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let (label, site) = common::load_site(args.config.as_deref())?;
    let shifts = common::read_roster_strict(&args.roster, &site)?;
    let bar = common::byte_bar(0, "replay");
    let run = common::run_replay(
        &site,
        &args.trace,
        &shifts,
        args.cdr.as_deref(),
        args.events.as_deref(),
        &bar,
    )?;
    common::warn_summary(&label, &run.summary);
    let mut text = match args.report {
        ReportFormat::Json => run.report.to_json(),
        ReportFormat::Text => {
            let mut t = run.report.to_text();
            if args.breakdowns {
                t.push('\n');
                t.push_str(&run.report.breakdowns_to_text());
            }
            t
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    common::write_output(args.out.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
