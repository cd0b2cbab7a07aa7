//! `vaxel report`: supervisors' reports from call records (docs/reports.md "vaxel report").
//!
//! ```sh
//! vaxel report --data-dir DIR --from 2026-03-01 --to 2026-03-31 [--baseline FROM..TO]
//! vaxel report --cdr cdr.csv [more.csv …] [--events events.csv …] [--from D --to D] [--baseline FROM..TO]
//!     [--config F] [--interval 15|30|60] [--format text|csv|json|html] [--out FILE] [--skip-bad]
//! ```
//!
//! A daemon's data dir and `vaxel replay --cdr` files go through the same loop: every
//! record is read once, streamed, and counted by the periods its local arrival date falls
//! in ([`vaxel_sim::report::period`]). Memory is one accumulator per table row, whatever
//! the number of calls. The event log (the data dir's `events-*.csv`, or `--events`) adds
//! the per-agent figures ([`vaxel_sim::report::agents`]), streamed the same way.

mod html;

use super::common;
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use vaxel_core::site::Site;
use vaxel_sim::report::period::{self, Days, Skipped, Splitter};
use vaxel_sim::report::{
    AgentBuilder, NOT_MEASURED, NOT_MEASURED_WITH_EVENTS, PeriodReport, SupervisorReport, compare,
};
use vaxel_sim::{CdrReader, EventReader, ReportBuilder};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["data_dir", "cdr"])))]
pub struct ReportArgs {
    /// The site file (TOML) whose zone, service level and groups the report uses; the
    /// built-in city when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A daemon's data dir: reads its daily cdr-YYYY-MM-DD.csv files (needs --from, --to).
    #[arg(long, value_name = "DIR", requires_all = ["from", "to"])]
    pub data_dir: Option<PathBuf>,
    /// Call-record files (cdr.csv, e.g. from `vaxel replay --cdr`), read whole unless
    /// --from/--to pick days.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub cdr: Vec<PathBuf>,
    /// Event-log files (events.csv, e.g. from `vaxel replay --events`) for the per-agent
    /// figures; a data dir's events-YYYY-MM-DD.csv are read without it.
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "cdr")]
    pub events: Vec<PathBuf>,
    /// First local day of the period (YYYY-MM-DD), by the calls' arrival.
    #[arg(long, value_name = "DATE", value_parser = period::parse_date, requires = "to")]
    pub from: Option<jiff::civil::Date>,
    /// Last local day of the period (YYYY-MM-DD), included.
    #[arg(long, value_name = "DATE", value_parser = period::parse_date, requires = "from")]
    pub to: Option<jiff::civil::Date>,
    /// Zero measurement: a period before a change (FROM..TO), shown beside --from/--to
    /// with the differences.
    #[arg(long, value_name = "FROM..TO", value_parser = Days::parse_range, requires_all = ["from", "to"])]
    pub baseline: Option<Days>,
    /// Interval of the per-interval tables, minutes.
    #[arg(long, value_name = "MIN", default_value_t = 30, value_parser = parse_interval)]
    pub interval: u32,
    /// text (a terminal), csv, json, or html (one self-contained file with charts).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Skip damaged lines (counted and reported) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Csv,
    Json,
    Html,
}

fn parse_interval(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(m) if vaxel_sim::report::INTERVAL_MINUTES.contains(&m) => Ok(m),
        _ => Err(format!("{s:?}: the interval is 15, 30 or 60 minutes")),
    }
}

/// The files to read and, per period, its days without a file.
struct Inputs {
    files: Vec<PathBuf>,
    /// Event-log files (none: no per-agent figures).
    events: Vec<PathBuf>,
    missing: Vec<jiff::civil::Date>,
}

fn inputs(args: &ReportArgs, periods: &[Days]) -> anyhow::Result<Inputs> {
    match &args.data_dir {
        Some(dir) => {
            let context = || format!("cannot read the data dir {}", dir.display());
            let found = period::data_dir_files(dir, periods).with_context(context)?;
            let events = period::event_files(dir, periods).with_context(context)?;
            Ok(Inputs {
                files: found.files,
                events: events.files,
                missing: found.missing,
            })
        }
        None => Ok(Inputs {
            files: args.cdr.clone(),
            events: args.events.clone(),
            missing: Vec::new(),
        }),
    }
}

/// The per-agent figures of the event files, for the period and the baseline (`None`
/// without event files). A damaged line stops the run, or is skipped with `--skip-bad`.
fn agent_figures(
    site: &Site,
    input: &Inputs,
    days: Option<Days>,
    baseline: Option<Days>,
    skip_bad: bool,
    skipped: &mut Skipped,
) -> anyhow::Result<[Option<vaxel_sim::report::AgentFigures>; 2]> {
    if input.events.is_empty() {
        return Ok([None, None]);
    }
    let make = |d: Option<Days>| {
        let mut b = AgentBuilder::new(site.timezone.clone(), d);
        for a in &site.agents {
            b.agent(&a.id);
        }
        b
    };
    let mut main = make(days);
    let mut before = baseline.map(|b| make(Some(b)));
    for path in &input.events {
        let name = path.display().to_string();
        let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
        let reader = EventReader::new(BufReader::with_capacity(1 << 16, file), name)?;
        period::feed(reader, skip_bad, skipped, |e| {
            main.add(e);
            if let Some(b) = &mut before {
                b.add(e);
            }
        })?;
    }
    Ok([Some(main.finish()), before.map(AgentBuilder::finish)])
}

fn builder(site: &Site, interval: u32) -> ReportBuilder {
    ReportBuilder::for_site(site).with_tables(site.timezone.clone(), interval)
}

/// A finished period with its missing days.
fn period_report(
    days: Option<Days>,
    missing: &[jiff::civil::Date],
    b: ReportBuilder,
) -> PeriodReport {
    PeriodReport {
        from: days.map(|d| d.from.to_string()),
        to: days.map(|d| d.to.to_string()),
        missing_days: missing
            .iter()
            .filter(|m| days.is_some_and(|d| d.from <= **m && **m <= d.to))
            .map(ToString::to_string)
            .collect(),
        report: b.finish(),
        agents: None,
    }
}

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let (label, site) = common::load_site(args.config.as_deref())?;
    let days = match (args.from, args.to) {
        (Some(from), Some(to)) => Some(Days::new(from, to).map_err(anyhow::Error::msg)?),
        _ => None,
    };
    let periods: Vec<Days> = days.iter().chain(&args.baseline).copied().collect();
    let input = inputs(args, &periods)?;
    let started = Instant::now();
    let total_bytes = input
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = common::byte_bar(total_bytes, "report");
    let mut split = Splitter::new(site.timezone.clone(), days, args.baseline);
    let mut main = builder(&site, args.interval);
    let mut before = args.baseline.map(|_| builder(&site, args.interval));
    let mut skipped = Skipped::default();
    for path in &input.files {
        let name = path.display().to_string();
        let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
        let reader = CdrReader::new(BufReader::with_capacity(1 << 16, bar.wrap_read(file)), name)?;
        common::warn_columns(path, &reader.unknown_columns());
        let fed = period::feed(reader, args.skip_bad, &mut skipped, |r| {
            let to = split.belongs(r);
            if to.period {
                main.add(r);
            }
            if let (true, Some(b)) = (to.baseline, &mut before) {
                b.add(r);
            }
        });
        if let Err(e) = fed {
            bar.finish_and_clear();
            return Err(e.into());
        }
    }
    bar.finish_and_clear();
    let [agents, agents_before] = agent_figures(
        &site,
        &input,
        days,
        args.baseline,
        args.skip_bad,
        &mut skipped,
    )?;
    warn_input(&input, &skipped);
    let mut period = period_report(days, &input.missing, main);
    let measured_agents = agents.is_some();
    period.agents = agents;
    period.report.wall_s = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let baseline = before.map(|b| PeriodReport {
        agents: agents_before,
        ..period_report(args.baseline, &input.missing, b)
    });
    let comparison = baseline
        .as_ref()
        .map(|b| compare(&b.report, &period.report));
    #[allow(clippy::cast_precision_loss)]
    let doc = SupervisorReport {
        site: label,
        interval_min: args.interval,
        service_level_s: site.service_level_ms as f64 / 1000.0,
        service_level_target: site.service_level_target,
        files: input
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        skipped_lines: skipped.count,
        not_measured: if measured_agents {
            NOT_MEASURED_WITH_EVENTS
        } else {
            NOT_MEASURED
        },
        period,
        baseline,
        comparison,
    };
    let mut text = match args.format {
        Format::Text => doc.to_text(),
        Format::Csv => doc.to_csv(),
        Format::Json => doc.to_json(),
        Format::Html => html::render(&doc)?,
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    common::write_output(args.out.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Missing days and skipped lines on stderr, whatever the format (the text report says
/// them too).
fn warn_input(input: &Inputs, skipped: &Skipped) {
    if !input.missing.is_empty() {
        let days: Vec<String> = input.missing.iter().map(ToString::to_string).collect();
        eprintln!(
            "warning: no call records for {} day(s) of the period: {}",
            days.len(),
            days.join(", ")
        );
    }
    if skipped.count > 0 {
        eprintln!(
            "warning: {} damaged line(s) skipped; the first:",
            skipped.count
        );
        for e in &skipped.first {
            eprintln!("  {e}");
        }
    }
}
