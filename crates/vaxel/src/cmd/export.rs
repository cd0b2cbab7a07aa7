//! `vaxel export`: the event log in another tool's format (docs/formats.md, "queue_log
//! export").
//!
//! ```sh
//! vaxel export --format queue_log --data-dir DIR --from 2026-03-01 --to 2026-03-31 [--out FILE]
//! vaxel export --format queue_log --events events.csv [more.csv …] [--out FILE]
//! ```
//!
//! Streams: events are read one at a time and their lines written at once; memory holds
//! the calls in flight and the agents logged in.

use super::common::{self, PartialFile};
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use vaxel_sim::EventReader;
use vaxel_sim::queue_log::QueueLog;
use vaxel_sim::report::period::{self, Days};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["data_dir", "events"])))]
pub struct ExportArgs {
    /// The output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The site file (TOML) whose agents' groups the member lines name; the built-in city
    /// when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A daemon's data dir: reads its daily events-YYYY-MM-DD.csv files (needs --from, --to).
    #[arg(long, value_name = "DIR", requires_all = ["from", "to"])]
    pub data_dir: Option<PathBuf>,
    /// Event-log files (events.csv, e.g. from `vaxel replay --events`), read whole, in order.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub events: Vec<PathBuf>,
    /// First local day (YYYY-MM-DD) of the data dir's files.
    #[arg(long, value_name = "DATE", value_parser = period::parse_date, requires = "to")]
    pub from: Option<jiff::civil::Date>,
    /// Last local day, included.
    #[arg(long, value_name = "DATE", value_parser = period::parse_date, requires = "from")]
    pub to: Option<jiff::civil::Date>,
    /// Write to this file (complete or not at all) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Asterisk app_queue's queue_log.
    #[value(name = "queue_log")]
    QueueLog,
}

pub fn run(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let (_, site) = common::load_site(args.config.as_deref())?;
    let files = match (&args.data_dir, args.from, args.to) {
        (Some(dir), Some(from), Some(to)) => {
            let days = Days::new(from, to).map_err(anyhow::Error::msg)?;
            let found = period::event_files(dir, &[days])
                .with_context(|| format!("cannot read the data dir {}", dir.display()))?;
            if !found.missing.is_empty() {
                let days: Vec<String> = found.missing.iter().map(ToString::to_string).collect();
                eprintln!(
                    "warning: no event log for {} day(s) of the period: {}",
                    days.len(),
                    days.join(", ")
                );
            }
            found.files
        }
        _ => args.events.clone(),
    };
    let ExportFormat::QueueLog = args.format;
    let mut ql = QueueLog::for_site(&site);
    match &args.out {
        Some(path) => {
            let (file, mut w) = PartialFile::create(path)?;
            export(&files, &mut ql, &mut w)?;
            file.commit(w)?;
        }
        None => {
            let mut w = BufWriter::new(io::stdout().lock());
            match export(&files, &mut ql, &mut w) {
                // The reader went away (`| head`): not an error of ours.
                Err(e) if common::is_broken_pipe(&e) => {}
                r => r?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `files` in order and writes their `queue_log` lines to `out`.
fn export(files: &[PathBuf], ql: &mut QueueLog, out: &mut impl io::Write) -> anyhow::Result<()> {
    let mut buf = String::new();
    for path in files {
        let name = path.display().to_string();
        let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
        for e in EventReader::new(BufReader::with_capacity(1 << 16, file), name)? {
            ql.event(&e?, &mut buf);
            out.write_all(buf.as_bytes())?;
            buf.clear();
        }
    }
    out.flush()?;
    Ok(())
}
