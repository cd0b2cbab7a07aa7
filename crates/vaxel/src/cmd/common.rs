//! What the simulation commands (`replay`, `gen-trace`, `gen-roster`, `staffing`,
//! `compare`) share: loading the site, reading a roster, files that only appear under
//! their final name once complete, progress bars, and one replay run turned into a report.

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vaxel_core::site::Site;
use vaxel_core::{CallRecord, Event};
use vaxel_sim::{
    CdrWriter, EventWriter, Preparer, ReplayCall, ReplaySummary, Report, ReportBuilder,
    RosterReader, Shift, SimError, TraceCall, TraceReader,
};

/// Loads and validates the site (`--config`, the built-in city when absent): its label for
/// messages and the site. Warnings go to stderr (unknown keys among them: these commands
/// only read the site); errors list every diagnostic.
pub fn load_site(config: Option<&Path>) -> anyhow::Result<(String, Arc<Site>)> {
    let (label, result) = super::config::load(config, vaxel_config::UnknownKeys::Warn)?;
    match result {
        Ok(v) => {
            for d in &v.warnings {
                eprintln!("{label}: {d}");
            }
            Ok((label, Arc::new(v.site)))
        }
        Err(diags) => {
            let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
            anyhow::bail!("{label} is not a valid site file:\n{}", lines.join("\n"))
        }
    }
}

/// Reads a roster whose agents must all be the site's (an unknown agent is an error naming
/// its file, line and column). Warns about unknown columns.
pub fn read_roster_strict(path: &Path, site: &Site) -> anyhow::Result<Vec<Shift>> {
    let reader = RosterReader::open(path)?.known_agents(site.agents.iter().map(|a| &*a.id));
    warn_columns(path, &reader.unknown_columns());
    Ok(vaxel_sim::read_roster(reader)?)
}

/// Reads a roster whatever its agents (for `compare`, where one site may lack an agent
/// the other has). Sorted by start, then agent.
pub fn read_roster_any(path: &Path) -> anyhow::Result<Vec<Shift>> {
    let reader = RosterReader::open(path)?;
    warn_columns(path, &reader.unknown_columns());
    Ok(vaxel_sim::read_roster(reader)?)
}

/// The shifts of agents the site knows, and the ids of those it does not (sorted, once).
pub fn shifts_for_site(shifts: &[Shift], site: &Site) -> (Vec<Shift>, Vec<String>) {
    let mut unknown: Vec<String> = Vec::new();
    let kept = shifts
        .iter()
        .filter(|s| {
            let known = site.agent_by_id.contains_key(s.agent.as_str());
            if !known {
                unknown.push(s.agent.clone());
            }
            known
        })
        .cloned()
        .collect();
    unknown.sort();
    unknown.dedup();
    (kept, unknown)
}

/// Warns about header columns the format does not know (perhaps misspelt).
pub fn warn_columns(path: &Path, unknown: &[String]) {
    if !unknown.is_empty() {
        eprintln!(
            "warning: {}: ignoring unknown column(s) {}",
            path.display(),
            unknown.join(", ")
        );
    }
}

/// A file written under `NAME.partial` and renamed to `NAME` only by [`commit`], so a run
/// that fails half-way never leaves a file that looks complete under the final name. The
/// partial file stays behind on failure, for diagnosis. A path that exists and is not a
/// regular file (`/dev/null`, a named pipe) is written directly: renaming over it would
/// replace the device or pipe with a plain file.
///
/// [`commit`]: PartialFile::commit
#[derive(Debug)]
pub struct PartialFile {
    path: PathBuf,
    partial: PathBuf,
    /// Writing straight to `path` (not a regular file): no rename, no sync.
    direct: bool,
}

impl PartialFile {
    /// Creates (truncates) `path.partial` and returns it buffered.
    pub fn create(path: &Path) -> anyhow::Result<(PartialFile, BufWriter<File>)> {
        if std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_file()) {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let file = PartialFile {
                path: path.to_owned(),
                partial: path.to_owned(),
                direct: true,
            };
            return Ok((file, BufWriter::with_capacity(1 << 16, f)));
        }
        let mut name = path
            .file_name()
            .with_context(|| format!("{} is not a file name", path.display()))?
            .to_os_string();
        name.push(".partial");
        let partial = path.with_file_name(name);
        let f = File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok((
            PartialFile {
                path: path.to_owned(),
                partial,
                direct: false,
            },
            BufWriter::with_capacity(1 << 16, f),
        ))
    }

    /// The name written to until [`commit`](Self::commit).
    #[must_use]
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    /// Flushes `w` and renames the partial file to its final name.
    pub fn commit(self, w: BufWriter<File>) -> anyhow::Result<()> {
        let f = w
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .with_context(|| format!("cannot write {}", self.partial.display()))?;
        if self.direct {
            return Ok(());
        }
        f.sync_all()
            .with_context(|| format!("cannot write {}", self.partial.display()))?;
        drop(f);
        std::fs::rename(&self.partial, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.partial.display(),
                self.path.display()
            )
        })
    }
}

/// Writes `text` to `out` (atomically, through a partial file) or to stdout.
pub fn write_output(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            let (file, mut w) = PartialFile::create(path)?;
            w.write_all(text.as_bytes())
                .with_context(|| format!("cannot write {}", file.partial_path().display()))?;
            file.commit(w)
        }
        None => {
            let mut stdout = io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // The reader went away (`| head`): not an error of ours.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => Ok(r?),
            }
        }
    }
}

/// Whether `e` is a write to a closed pipe (`vaxel ... | head`).
#[must_use]
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Whether progress bars may be drawn: only when stderr is a terminal.
#[must_use]
pub fn progress_wanted() -> bool {
    io::stderr().is_terminal()
}

/// A bar over `len` bytes of input, labelled `what`; hidden unless stderr is a terminal.
#[must_use]
pub fn byte_bar(len: u64, what: &str) -> ProgressBar {
    if !progress_wanted() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(what.to_owned());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta} left)",
    ) {
        bar.set_style(style);
    }
    bar
}

/// One replay of a trace file: the report (with `events` and `wall_s` filled in) and the
/// driver's summary.
#[derive(Debug)]
pub struct Run {
    pub report: Report,
    pub summary: ReplaySummary,
}

/// Calls (or records) per batch handed between the replay's threads.
const BATCH: usize = 4096;

/// Parses the trace on a thread of its own and prepares its calls for the engine
/// ([`Preparer`]), in batches over a bounded channel, so that reading overlaps the replay;
/// emptied batches come back for reuse. Memory stays bounded: at most a few batches are in
/// flight. Stops at the first error, which is passed on after the calls before it.
fn read_ahead<'scope, I>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    site: &Site,
    reader: I,
) -> Batches
where
    I: Iterator<Item = Result<TraceCall, SimError>> + Send + 'scope,
{
    const IN_FLIGHT: usize = 8;
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<ReplayCall>, Option<SimError>)>(IN_FLIGHT);
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<ReplayCall>>(IN_FLIGHT + 2);
    let mut prep = Preparer::for_site(site);
    scope.spawn(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for item in reader {
            match item {
                Ok(call) => batch.push(prep.prepare(call)),
                Err(e) => {
                    let _ = tx.send((batch, Some(e)));
                    return;
                }
            }
            if batch.len() == BATCH {
                let next = back_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                // A closed channel means the replay stopped: so do we.
                if tx
                    .send((std::mem::replace(&mut batch, next), None))
                    .is_err()
                {
                    return;
                }
            }
        }
        let _ = tx.send((batch, None));
    });
    Batches {
        rx,
        back: back_tx,
        batch: VecDeque::new(),
        err: None,
    }
}

/// The replay's side of [`read_ahead`]: the calls of each batch, then its error if any.
struct Batches {
    rx: std::sync::mpsc::Receiver<(Vec<ReplayCall>, Option<SimError>)>,
    back: std::sync::mpsc::SyncSender<Vec<ReplayCall>>,
    batch: VecDeque<ReplayCall>,
    /// The error that ended the current batch.
    err: Option<SimError>,
}

impl Iterator for Batches {
    type Item = Result<ReplayCall, SimError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(call) = self.batch.pop_front() {
                return Some(Ok(call));
            }
            if let Some(e) = self.err.take() {
                return Some(Err(e));
            }
            let (batch, err) = self.rx.recv().ok()?;
            let used = Vec::from(std::mem::replace(&mut self.batch, VecDeque::from(batch)));
            // Only an optimisation: a full return channel drops the batch instead.
            let _ = self.back.try_send(used);
            self.err = err;
        }
    }
}

/// Where call records go during a replay: the report and, with `--cdr`, the call-record
/// file; with `--events`, the event log. Runs on a thread of its own, fed in batches, so
/// that neither counting nor formatting records nor freeing them slows the engine's thread.
struct RecordSink {
    report: ReportBuilder,
    cdr: Option<CdrWriter<BufWriter<File>>>,
    events: Option<EventWriter<BufWriter<File>>>,
}

/// One batch for the sink: records, and events when the log is on (else empty, never
/// allocated).
#[expect(
    clippy::vec_box,
    reason = "records and events come boxed from the engine; unboxing would copy each one"
)]
#[derive(Default)]
struct Batch {
    records: Vec<Box<CallRecord>>,
    events: Vec<Box<Event>>,
}

impl Batch {
    #[expect(clippy::vec_box, reason = "records come boxed from the engine")]
    fn records(records: Vec<Box<CallRecord>>) -> Batch {
        Batch {
            records,
            events: Vec::new(),
        }
    }
}

/// The replay with the event log on: records and events go to the sink in batches, sent
/// when either half is full. Kept apart from the plain replay, whose loop stays as lean as
/// it was.
fn replay_logged(
    site: &Arc<Site>,
    calls: impl Iterator<Item = Result<ReplayCall, SimError>>,
    shifts: &[Shift],
    tx: &std::sync::mpsc::SyncSender<Batch>,
) -> Result<ReplaySummary, SimError> {
    let batch = std::cell::RefCell::new(Batch::records(Vec::with_capacity(BATCH)));
    let send_full = |force: bool| -> Result<(), SimError> {
        let full = {
            let b = batch.borrow();
            force || b.records.len() >= BATCH || b.events.len() >= BATCH
        };
        if full {
            let full = batch.replace(Batch::records(Vec::with_capacity(BATCH)));
            // A closed channel means the sink failed: its error is reported below.
            if tx.send(full).is_err() {
                return Err(SimError::Stopped);
            }
        }
        Ok(())
    };
    let on_record = |r| {
        batch.borrow_mut().records.push(r);
        send_full(false)
    };
    let mut on_event = |e| {
        batch.borrow_mut().events.push(e);
        send_full(false)
    };
    let replayed =
        vaxel_sim::replay_prepared_events(site.clone(), calls, shifts, on_record, &mut on_event);
    let _ = send_full(true);
    replayed
}

impl RecordSink {
    fn take(&mut self, batch: Batch) -> Result<(), SimError> {
        if let Some(w) = &mut self.events {
            for e in &batch.events {
                w.write(e)?;
            }
        }
        for r in batch.records {
            if let Some(w) = &mut self.cdr {
                w.write(&r)?;
            }
            self.report.add(&r);
            if !r.agent.is_empty() {
                self.report.add_busy_time(&r.agent, r.talk_ms + r.wrapup_ms);
            }
        }
        Ok(())
    }
}

/// Replays the trace at `trace` (streamed: memory holds the calls in flight) on `site` with
/// `shifts`, writing call records to `cdr` (through `cdr.partial`) and the event log to
/// `events` (likewise) when given. `bar` follows
/// the bytes of the trace read. `wall_s` is the time of the replay proper, trace reading
/// and call-record writing included, site and roster loading excluded.
///
/// Three threads: one reads and prepares the trace, one runs the engine and the simulated
/// callers and agents, one takes the records (report, call-record file).
pub fn run_replay(
    site: &Arc<Site>,
    trace: &Path,
    shifts: &[Shift],
    cdr: Option<&Path>,
    events: Option<&Path>,
    bar: &ProgressBar,
) -> anyhow::Result<Run> {
    let name = trace.display().to_string();
    let file = File::open(trace).with_context(|| format!("cannot open trace {name}"))?;
    if let Ok(meta) = file.metadata() {
        bar.set_length(meta.len());
    }
    let reader = TraceReader::new(BufReader::with_capacity(1 << 16, bar.wrap_read(file)), name)?
        .without_unique_ids();
    warn_columns(trace, &reader.unknown_columns());
    let (cdr, cdr_file) = match cdr {
        Some(path) => {
            let (file, w) = PartialFile::create(path)?;
            let name = file.partial_path().display().to_string();
            (
                Some(CdrWriter::new(w, name, site.timezone.clone())?),
                Some(file),
            )
        }
        None => (None, None),
    };
    let (events, events_file) = match events {
        Some(path) => {
            let (file, w) = PartialFile::create(path)?;
            let name = file.partial_path().display().to_string();
            (
                Some(EventWriter::new(w, name, site.timezone.clone())?),
                Some(file),
            )
        }
        None => (None, None),
    };
    let logging = events.is_some();
    let mut sink = RecordSink {
        report: ReportBuilder::for_site(site),
        cdr,
        events,
    };
    let started = Instant::now();
    let (replayed, sunk) = std::thread::scope(|scope| {
        let calls = read_ahead(scope, site, reader);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
        let sink_thread = scope.spawn(move || -> Result<RecordSink, SimError> {
            for batch in rx {
                sink.take(batch)?;
            }
            Ok(sink)
        });
        let replayed = if logging {
            replay_logged(site, calls, shifts, &tx)
        } else {
            let mut batch = Vec::with_capacity(BATCH);
            let replayed = vaxel_sim::replay_prepared(site.clone(), calls, shifts, |r| {
                batch.push(r);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // A closed channel means the sink failed: its error is reported below.
                    if tx.send(Batch::records(full)).is_err() {
                        return Err(SimError::Stopped);
                    }
                }
                Ok(())
            });
            let _ = tx.send(Batch::records(batch));
            replayed
        };
        drop(tx);
        let sunk = sink_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the call-record thread panicked"));
        (replayed, sunk)
    });
    let wall_s = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    // The sink's own error (a full disk) explains a stopped replay: it goes first.
    let sink = sunk??;
    let summary = replayed?;
    let RecordSink {
        mut report,
        cdr,
        events,
    } = sink;
    if let (Some(w), Some(file)) = (cdr, cdr_file) {
        file.commit(w.into_inner()?)?;
    }
    if let (Some(w), Some(file)) = (events, events_file) {
        file.commit(w.into_inner()?)?;
    }
    for (agent, ms) in &summary.logged_in_ms {
        report.add_logged_in_time(agent, *ms);
    }
    let mut report = report.finish();
    report.events = summary.events;
    report.wall_s = (wall_s * 1000.0).round() / 1000.0;
    Ok(Run { report, summary })
}

/// Warns (on stderr) when the engine refused inputs or calls were left in flight: the trace
/// and roster do not fit the site (unknown numbers, duplicate ids ...).
pub fn warn_summary(label: &str, s: &ReplaySummary) {
    if s.refused > 0 {
        eprintln!(
            "warning: {label}: the engine refused {} input(s); the first:",
            s.refused
        );
        for r in &s.first_refusals {
            eprintln!("  {r}");
        }
    }
    if s.unfinished > 0 {
        eprintln!(
            "warning: {label}: {} call(s) were still in flight at the end of the replay",
            s.unfinished
        );
    }
}
