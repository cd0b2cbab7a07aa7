//! `vaxel gen-trace` and `vaxel gen-roster`: seeded, realistic traffic for a site (the
//! built-in city by default) and a roster staffed for it by Erlang C
//! (`vaxel_sim::generate`). The same site, flags and seed give the same bytes.
//!
//! Both write to `--out` through `OUT.partial`, renamed when complete (`-` = stdout).

use super::common::{self, PartialFile};
use clap::Args;
use jiff::civil::Date;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vaxel_sim::generate::{GenConfig, Patience, RosterGenerator, TraceGenerator};
use vaxel_sim::{RosterWriter, TraceWriter};

/// The traffic to generate (the same flags for the trace and for the roster, so that a
/// roster is staffed for the trace made with the same flags).
#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// The site file (TOML); the built-in city when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Expected calls in 365 days (surges come on top).
    #[arg(long, value_name = "N", default_value_t = 1_800_000.0)]
    pub calls_per_year: f64,
    /// First local day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", default_value = "2026-01-01")]
    pub start: Date,
    /// Number of days.
    #[arg(long, value_name = "D", default_value_t = 365)]
    pub days: u32,
    /// Seed of the generator: the same seed gives the same file.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Multiply one day's volume (a crisis, invoices going out); repeatable.
    #[arg(long = "surge", value_name = "DATE:FACTOR", value_parser = parse_surge)]
    pub surge: Vec<(Date, f64)>,
    /// Callers' patience in queue: exponential with a mean, or Weibull [default: exp:150].
    #[arg(long, value_name = "exp:MEAN_S|weibull:SHAPE:SCALE_S", value_parser = parse_patience)]
    pub patience: Option<Patience>,
}

impl TrafficArgs {
    /// The generator's settings; those without a flag keep `GenConfig::default()`.
    #[must_use]
    pub fn gen_config(&self) -> GenConfig {
        let d = GenConfig::default();
        GenConfig {
            calls_per_year: self.calls_per_year,
            start: self.start,
            days: self.days,
            seed: self.seed,
            surge: self.surge.clone(),
            patience: self.patience.unwrap_or(d.patience),
            ..d
        }
    }
}

fn parse_surge(s: &str) -> Result<(Date, f64), String> {
    let (date, factor) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not DATE:FACTOR (2026-03-02:3)"))?;
    let date: Date = date
        .parse()
        .map_err(|e| format!("{date:?} is not a date (YYYY-MM-DD): {e}"))?;
    let factor: f64 = factor
        .parse()
        .map_err(|_| format!("{factor:?} is not a number"))?;
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(format!("surge factor {factor} is not a number ≥ 0"));
    }
    Ok((date, factor))
}

fn parse_patience(s: &str) -> Result<Patience, String> {
    let num = |v: &str| -> Result<f64, String> {
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(format!("{v:?} is not a positive number")),
        }
    };
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        ["exp", mean] => Ok(Patience::Exponential { mean_s: num(mean)? }),
        ["weibull", shape, scale] => Ok(Patience::Weibull {
            shape: num(shape)?,
            scale_s: num(scale)?,
        }),
        _ => Err(format!(
            "{s:?} is not exp:MEAN_S or weibull:SHAPE:SCALE_S (exp:150, weibull:0.8:150)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct GenTraceArgs {
    #[command(flatten)]
    pub traffic: TrafficArgs,
    /// The trace file to write (calls.csv); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct GenRosterArgs {
    #[command(flatten)]
    pub traffic: TrafficArgs,
    /// The most hours an agent works in a week.
    #[arg(long, value_name = "H", default_value_t = 40.0)]
    pub max_week_hours: f64,
    /// The roster file to write (roster.csv); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Where a generated file goes: a partial file renamed when complete, or stdout (`-`).
enum Sink {
    Stdout(std::io::StdoutLock<'static>),
    File(BufWriter<File>, PartialFile),
}

impl Sink {
    /// The sink for `out` and the name errors give it.
    fn create(out: &Path) -> anyhow::Result<(Sink, String)> {
        if out == Path::new("-") {
            return Ok((Sink::Stdout(std::io::stdout().lock()), "stdout".into()));
        }
        let (file, w) = PartialFile::create(out)?;
        let name = file.partial_path().display().to_string();
        Ok((Sink::File(w, file), name))
    }

    /// Flushes, and gives a file its final name.
    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(mut s) => Ok(s.flush()?),
            Sink::File(w, file) => file.commit(w),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(s) => s.write(buf),
            Sink::File(w, _) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(s) => s.flush(),
            Sink::File(w, _) => w.flush(),
        }
    }
}

pub fn run_trace(args: &GenTraceArgs) -> anyhow::Result<ExitCode> {
    let (label, site) = common::load_site(args.traffic.config.as_deref())?;
    let cfg = args.traffic.gen_config();
    let mut generator = TraceGenerator::new(&site, cfg.clone())?;
    let tz = site.timezone.clone();
    let (sink, name) = Sink::create(&args.out)?;
    let mut tw = TraceWriter::new(sink, name, tz)?;
    let calls = generator.write_all(&mut tw)?;
    tw.into_inner()?.finish()?;
    eprintln!(
        "{label}: {calls} calls from {} over {} day(s), seed {}, written to {}",
        cfg.start,
        cfg.days,
        cfg.seed,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run_roster(args: &GenRosterArgs) -> anyhow::Result<ExitCode> {
    let (label, site) = common::load_site(args.traffic.config.as_deref())?;
    if !(args.max_week_hours.is_finite() && args.max_week_hours > 0.0) {
        anyhow::bail!(
            "--max-week-hours {} is not a positive number",
            args.max_week_hours
        );
    }
    let cfg = args.traffic.gen_config();
    let mut generator = RosterGenerator::new(&site, cfg.clone())?;
    generator.max_week_hours = args.max_week_hours;
    let plan = generator.generate();
    let tz = site.timezone.clone();
    let (sink, name) = Sink::create(&args.out)?;
    let mut rw = RosterWriter::new(sink, name, tz)?;
    for s in &plan.shifts {
        rw.write(s)?;
    }
    rw.into_inner()?.finish()?;
    eprint!("{}", plan_text(&label, &cfg, &plan, &args.out));
    Ok(ExitCode::SUCCESS)
}

/// The roster plan for stderr: per group, its staffing and the shifts no agent could take.
fn plan_text(label: &str, cfg: &GenConfig, plan: &vaxel_sim::RosterPlan, out: &Path) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "group".into(),
        "agents".into(),
        "expected calls".into(),
        "required h".into(),
        "rostered h".into(),
        "unfilled shifts".into(),
    ]];
    for g in &plan.groups {
        rows.push([
            g.group.clone(),
            g.eligible_agents.to_string(),
            format!("{:.0}", g.expected_calls),
            format!("{:.1}", g.required_hours),
            format!("{:.1}", g.rostered_hours),
            g.unfilled_shifts.to_string(),
        ]);
    }
    rows.push([
        "total".into(),
        String::new(),
        format!(
            "{:.0}",
            plan.groups.iter().map(|g| g.expected_calls).sum::<f64>()
        ),
        format!("{:.1}", plan.required_hours),
        format!("{:.1}", plan.rostered_hours),
        plan.unfilled_shifts.to_string(),
    ]);
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = format!(
        "{label}: {} shifts from {} over {} day(s), seed {}, written to {}\n",
        plan.shifts.len(),
        cfg.start,
        cfg.days,
        cfg.seed,
        out.display()
    );
    for r in &rows {
        let mut line = format!("{:<w$}", r[0], w = widths[0]);
        for (c, w) in r.iter().zip(widths).skip(1) {
            line.push_str(&format!("  {c:>w$}"));
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    if plan.unfilled_shifts > 0 {
        s.push_str(&format!(
            "warning: {} shift(s) found no free qualified agent; those intervals are understaffed\n",
            plan.unfilled_shifts
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        traffic: TrafficArgs,
    }

    #[test]
    fn flag_defaults_are_the_generators() {
        let t = T::try_parse_from(["t"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.traffic.gen_config(), GenConfig::default());
    }

    #[test]
    fn flags_parse() {
        let t = T::try_parse_from([
            "t",
            "--surge",
            "2026-03-02:3",
            "--surge",
            "2026-03-03:1.5",
            "--patience",
            "weibull:0.8:150",
            "--start",
            "2026-03-01",
            "--days",
            "7",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let c = t.traffic.gen_config();
        assert_eq!(c.surge.len(), 2);
        assert_eq!(c.surge[1], (jiff::civil::date(2026, 3, 3), 1.5));
        assert_eq!(
            c.patience,
            Patience::Weibull {
                shape: 0.8,
                scale_s: 150.0
            }
        );
        assert_eq!(c.start, jiff::civil::date(2026, 3, 1));
        assert_eq!(
            parse_patience("exp:90"),
            Ok(Patience::Exponential { mean_s: 90.0 })
        );
        assert!(parse_patience("exp:-1").is_err());
        assert!(parse_patience("gamma:1").is_err());
        assert!(parse_surge("2026-02-30:2").is_err());
        assert!(parse_surge("2026-02-03").is_err());
        assert!(parse_surge("2026-02-03:x").is_err());
    }
}
