//! `vaxel staffing (--trace T | --rate CALLS_PER_HOUR --aht-s S) [--config F]
//! [--interval 15|30|60] [--group G] [--patience-s P] [--format table|csv]`: how many agents
//! the traffic needs to meet the site's service level (`service_level_s`,
//! `service_level_target`), by Erlang C, with the expected service level, ASA and
//! occupancy; with `--patience-s`, Erlang A (exponential patience) figures as well,
//! abandonment included.
//!
//! From a trace: per local interval and per answer group, the calls, the arrival rate and
//! the AHT (talk + wrap-up, the group's default when the trace leaves it empty). A call
//! belongs to the group its entry and menu digits route to (opening hours at its arrival
//! included; overflow later on is not followed). The trace is streamed and each interval
//! printed once it is complete: constant memory for a year of calls.

use super::common::{self, byte_bar};
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use vaxel_core::site::Site;
use vaxel_sim::staffing::{Goal, Interval, Staffing, TraceTraffic, staff};
use vaxel_sim::{TimeFormatter, TraceReader};

#[derive(Debug, Args)]
pub struct StaffingArgs {
    /// The site file (TOML); the built-in city when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A trace (calls.csv) to staff interval by interval and group by group.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "rate",
        conflicts_with = "rate"
    )]
    pub trace: Option<PathBuf>,
    /// A steady arrival rate (calls per hour) instead of a trace; needs --aht-s.
    #[arg(long, value_name = "CALLS_PER_HOUR", requires = "aht_s")]
    pub rate: Option<f64>,
    /// Average handling time (talk + wrap-up) in seconds, with --rate.
    #[arg(long, value_name = "S", requires = "rate")]
    pub aht_s: Option<f64>,
    /// Interval length in minutes (15, 30 or 60), with --trace.
    #[arg(long, value_name = "MIN", default_value_t = 30, value_parser = parse_interval)]
    pub interval: u32,
    /// Only this answer group (with --trace).
    #[arg(long, value_name = "G", requires = "trace")]
    pub group: Option<String>,
    /// Callers' mean patience in seconds (exponential): adds Erlang A figures.
    #[arg(long, value_name = "P")]
    pub patience_s: Option<f64>,
    /// Override the site's service level threshold ("answered within S seconds").
    #[arg(long, value_name = "S")]
    pub service_level_s: Option<f64>,
    /// Override the site's service level target (a share, 0 to 1).
    #[arg(long, value_name = "SHARE")]
    pub target: Option<f64>,
    /// Output: an aligned table or CSV.
    #[arg(long, value_enum, default_value_t = StaffingFormat::Table)]
    pub format: StaffingFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StaffingFormat {
    Table,
    Csv,
}

fn parse_interval(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(m @ (15 | 30 | 60)) => Ok(m),
        _ => Err(format!("{s:?} is not 15, 30 or 60 (minutes)")),
    }
}

/// One line of output.
struct Row<'a> {
    /// Local start of the interval (table) and as RFC 3339 (CSV); `None` for a steady rate.
    interval: Option<(String, String)>,
    /// `None` for a steady rate.
    group: Option<&'a str>,
    calls: Option<u64>,
    rate_per_h: f64,
    aht_s: f64,
    s: Staffing,
}

/// Writes rows as a fixed-width table or as CSV, streaming.
struct Printer {
    format: StaffingFormat,
    erlang_a: bool,
    group_width: usize,
    out: String,
}

const INTERVAL_WIDTH: usize = 16;

impl Printer {
    fn header(&mut self) {
        match self.format {
            StaffingFormat::Csv => {
                self.out.push_str(
                    "interval_start,group,calls,rate_per_hour,aht_s,traffic_erl,agents,\
                     service_level,asa_s,occupancy",
                );
                if self.erlang_a {
                    self.out
                        .push_str(",agents_a,service_level_a,abandon_a,asa_a_s");
                }
                self.out.push('\n');
            }
            StaffingFormat::Table => {
                let _ = write!(
                    self.out,
                    "{:<iw$}  {:<gw$}  {:>6}  {:>8}  {:>6}  {:>7}  {:>6}  {:>6}  {:>7}  {:>9}",
                    "interval",
                    "group",
                    "calls",
                    "calls/h",
                    "AHT s",
                    "Erlangs",
                    "agents",
                    "SL",
                    "ASA s",
                    "occupancy",
                    iw = INTERVAL_WIDTH,
                    gw = self.group_width,
                );
                if self.erlang_a {
                    let _ = write!(
                        self.out,
                        "  {:>8}  {:>6}  {:>9}  {:>7}",
                        "agents A", "SL A", "abandon A", "ASA A s"
                    );
                }
                self.out.push('\n');
            }
        }
    }

    fn row(&mut self, r: &Row<'_>) {
        let s = &r.s;
        match self.format {
            StaffingFormat::Csv => {
                let _ = write!(
                    self.out,
                    "{},{},{},{:.3},{:.3},{:.4},{},{:.6},{:.3},{:.6}",
                    r.interval.as_ref().map_or("", |i| &i.1),
                    r.group.map(csv_cell).unwrap_or_default(),
                    r.calls.map(|c| c.to_string()).unwrap_or_default(),
                    r.rate_per_h,
                    r.aht_s,
                    s.traffic,
                    s.agents,
                    s.service_level,
                    s.asa_s,
                    s.occupancy,
                );
                if self.erlang_a {
                    match &s.erlang_a {
                        Some(a) => {
                            let _ = write!(
                                self.out,
                                ",{},{:.6},{:.6},{:.3}",
                                a.agents, a.service_level, a.abandon, a.asa_s
                            );
                        }
                        None => self.out.push_str(",,,,"),
                    }
                }
                self.out.push('\n');
            }
            StaffingFormat::Table => {
                let _ = write!(
                    self.out,
                    "{:<iw$}  {:<gw$}  {:>6}  {:>8.1}  {:>6.1}  {:>7.2}  {:>6}  {:>6}  {:>7.1}  {:>9}",
                    r.interval.as_ref().map_or("-", |i| &i.0),
                    r.group.unwrap_or("-"),
                    r.calls.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    r.rate_per_h,
                    r.aht_s,
                    s.traffic,
                    s.agents,
                    pct(s.service_level),
                    s.asa_s,
                    pct(s.occupancy),
                    iw = INTERVAL_WIDTH,
                    gw = self.group_width,
                );
                if self.erlang_a {
                    match &s.erlang_a {
                        Some(a) => {
                            let _ = write!(
                                self.out,
                                "  {:>8}  {:>6}  {:>9}  {:>7.1}",
                                a.agents,
                                pct(a.service_level),
                                pct(a.abandon),
                                a.asa_s
                            );
                        }
                        None => {
                            let _ = write!(
                                self.out,
                                "  {:>8}  {:>6}  {:>9}  {:>7}",
                                "-", "-", "-", "-"
                            );
                        }
                    }
                }
                // Trailing spaces of a short last column are of no use.
                let trimmed = self.out.trim_end_matches(' ').len();
                self.out.truncate(trimmed);
                self.out.push('\n');
            }
        }
    }

    /// Writes what is buffered to stdout.
    fn flush(&mut self) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(self.out.as_bytes())?;
        stdout.flush()?;
        self.out.clear();
        Ok(())
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Quotes a CSV cell when it needs it (RFC 4180).
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn run(args: &StaffingArgs) -> anyhow::Result<ExitCode> {
    match staffing(args) {
        // The reader of the output went away (`| head`): nothing more to say.
        Err(e) if common::is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        r => r,
    }
}

fn staffing(args: &StaffingArgs) -> anyhow::Result<ExitCode> {
    let (label, site) = common::load_site(args.config.as_deref())?;
    let within_s = args
        .service_level_s
        .unwrap_or(site.service_level_ms as f64 / 1000.0);
    let target = args.target.unwrap_or(site.service_level_target);
    if !(within_s.is_finite() && within_s >= 0.0) {
        anyhow::bail!("--service-level-s {within_s} is not a number of seconds ≥ 0");
    }
    if !(0.0..1.0).contains(&target) {
        anyhow::bail!("the service level target {target} is not a share in [0, 1)");
    }
    if let Some(p) = args.patience_s
        && !(p.is_finite() && p > 0.0)
    {
        anyhow::bail!("--patience-s {p} is not a positive number of seconds");
    }
    let goal = Goal { within_s, target };
    let mut printer = Printer {
        format: args.format,
        erlang_a: args.patience_s.is_some(),
        group_width: site
            .groups
            .iter()
            .map(|g| g.id.chars().count())
            .chain([5])
            .max()
            .unwrap_or(5),
        out: String::new(),
    };
    if args.format == StaffingFormat::Table {
        let _ = writeln!(
            printer.out,
            "{label}: target {} answered within {within_s} s; Erlang C{}\n",
            pct(target),
            match args.patience_s {
                Some(p) => format!(", and Erlang A with a mean patience of {p} s"),
                None => String::new(),
            }
        );
    }
    printer.header();
    match (&args.trace, args.rate, args.aht_s) {
        (Some(trace), _, _) => from_trace(args, &site, goal, trace, &mut printer)?,
        (None, Some(rate), Some(aht_s)) => {
            if !(rate.is_finite() && rate >= 0.0) {
                anyhow::bail!("--rate {rate} is not a number of calls per hour ≥ 0");
            }
            if !(aht_s.is_finite() && aht_s > 0.0) {
                anyhow::bail!("--aht-s {aht_s} is not a positive number of seconds");
            }
            let s = staff(rate / 3600.0, aht_s, goal, args.patience_s);
            printer.row(&Row {
                interval: None,
                group: None,
                calls: None,
                rate_per_h: rate,
                aht_s,
                s,
            });
        }
        _ => anyhow::bail!("give --trace, or --rate with --aht-s"),
    }
    printer.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn from_trace(
    args: &StaffingArgs,
    site: &Site,
    goal: Goal,
    trace: &std::path::Path,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let only = match &args.group {
        Some(g) => Some(site.group_by_id.get(g.as_str()).copied().with_context(|| {
            let ids: Vec<&str> = site.groups.iter().map(|g| &*g.id).collect();
            format!("no group {g:?} in the site (it has {})", ids.join(", "))
        })?),
        None => None,
    };
    let name = trace.display().to_string();
    let file = File::open(trace).with_context(|| format!("cannot open trace {name}"))?;
    let bar = byte_bar(file.metadata().map_or(0, |m| m.len()), "staffing");
    let reader = TraceReader::new(BufReader::with_capacity(1 << 16, bar.wrap_read(file)), name)?;
    common::warn_columns(trace, &reader.unknown_columns());
    let interval_ms = u64::from(args.interval) * 60_000;
    let mut traffic = TraceTraffic::new(site, interval_ms, only);
    let mut fmt = TimeFormatter::new(site.timezone.clone());
    for call in reader {
        if let Some(done) = traffic.add(&call?) {
            emit(site, goal, args, &done, interval_ms, printer, &mut fmt);
            printer.flush()?;
        }
    }
    if let Some(done) = traffic.finish() {
        emit(site, goal, args, &done, interval_ms, printer, &mut fmt);
    }
    let (calls, unrouted) = (traffic.calls, traffic.unrouted);
    bar.finish_and_clear();
    if args.format == StaffingFormat::Table {
        let _ = writeln!(
            printer.out,
            "\n{calls} calls; {unrouted} reached no answer group (unknown number, closed \
             without a closed route, or forwarded to an outside number)"
        );
    }
    Ok(())
}

/// Prints the rows of interval `done` (groups with calls, in site order).
fn emit(
    site: &Site,
    goal: Goal,
    args: &StaffingArgs,
    done: &Interval,
    interval_ms: u64,
    printer: &mut Printer,
    fmt: &mut TimeFormatter,
) {
    let (label, rfc) = (done.label(), fmt.format(done.utc_start));
    let period_s = interval_ms as f64 / 1000.0;
    for (g, a) in done.loads.iter().enumerate() {
        if a.calls == 0 {
            continue;
        }
        let calls = a.calls as f64;
        let aht_s = a.handle_ms as f64 / calls / 1000.0;
        let s = staff(calls / period_s, aht_s, goal, args.patience_s);
        printer.row(&Row {
            interval: Some((label.clone(), rfc.clone())),
            group: Some(&site.groups[g].id),
            calls: Some(a.calls),
            rate_per_h: calls / period_s * 3600.0,
            aht_s,
            s,
        });
    }
}
