//! The PostgreSQL sink (docs/postgres.md): with `[records] postgres = "postgresql://…"` the
//! daemon also copies every call record and every event of its event log into a database,
//! for the city's BI tools (one table per kind of record: kind.rs).
//!
//! Never in the engine's way: the sink is a task of its own that reads the records and
//! event files the commit thread has already written ([`source`]), so nothing on the path
//! of a call waits for it or queues for it, and the engine does not know it exists. The files
//! are the durable backlog: while the database is down the daemon routes as ever, the
//! records stay on its disk, and the sink catches up from the position the database has
//! confirmed when it is back ([`db`] for how a row is never written twice). It says so
//! once per outage in the log and all along in `/metrics` ([`gauges`]).
//!
//! Memory is bounded by one batch (source.rs) and the positions (one per day file).

mod db;
mod gauges;
pub mod kind;
mod source;

pub use db::Target;

use crate::cluster::records_base;
use gauges::Gauges;
use kind::KINDS;
use source::Position;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

/// How often the data dir is looked at for new records when everything is in.
const POLL: Duration = Duration::from_millis(250);
/// The first wait after a failure; it doubles up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// How often the backlog gauges are recounted at most (a scan of the unsent bytes) while
/// the sink waits, and while it is sending: a scan of a long backlog would otherwise slow
/// the catch-up it measures.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);
const BACKLOG_EVERY_BUSY: Duration = Duration::from_secs(5);
/// How long connecting (with the schema and the positions) or one batch may take: a
/// server cut off without a reset (a network partition) would otherwise hold the sink,
/// reported as connected, until the kernel gives the connection up hours later.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// How long a stopping sink may take to finish the batch it is writing before it is
/// dropped (its transaction then rolls back, or commits whole: either way each row once).
const STOP_WITHIN: Duration = Duration::from_secs(2);

/// Sets the sink up on `dir`, its metrics registered, not started yet: a standby in
/// cluster mode holds it until it becomes the active.
pub fn prepare(
    target: Target,
    dir: &Path,
    registry: &prometheus::Registry,
) -> anyhow::Result<Prepared> {
    let gauges = Gauges::new(registry)?;
    // Every series from the start, at 0, so that a dashboard sees "none yet".
    for kind in KINDS {
        let label = [kind.name()];
        gauges.rows_written.with_label_values(&label);
        gauges.rows_skipped.with_label_values(&label);
        gauges.backlog_rows.with_label_values(&label);
        gauges.backlog_bytes.with_label_values(&label);
    }
    for op in ["connect", "write", "read"] {
        gauges.errors.with_label_values(&[op]);
    }
    Ok(Prepared(Sink {
        target,
        dir: dir.to_owned(),
        gauges,
        confirmed: KINDS.iter().map(|_| BTreeMap::new()).collect(),
        first_lines: BTreeMap::new(),
        failing: None,
        backlog_at: None,
        catching_up: None,
    }))
}

/// A sink set up and not started.
pub struct Prepared(Sink);

impl Prepared {
    /// Starts copying (after recovery, or the take-over: the files are whole). It reads
    /// the positions the database confirmed first, so it resumes where the last sink to
    /// write there, on this node or another, stopped.
    #[must_use]
    pub fn start(self, shutdown: &CancellationToken) -> Running {
        let stop = shutdown.child_token();
        Running {
            task: tokio::spawn(self.0.run(stop.clone())),
            stop,
        }
    }
}

/// A sink copying.
pub struct Running {
    task: JoinHandle<()>,
    stop: CancellationToken,
}

impl Running {
    /// Stops the sink and waits until it has (at most [`STOP_WITHIN`], then it is
    /// dropped); whatever it had not sent is sent by the next sink to start.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if tokio::time::timeout(STOP_WITHIN, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
            let _ = self.task.await;
        }
    }
}

struct Sink {
    target: Target,
    dir: PathBuf,
    gauges: Gauges,
    /// Per kind (in [`KINDS`] order), what the database has of each file.
    confirmed: Vec<BTreeMap<String, Position>>,
    /// Lines a whole copy holds before this node's first, of each file it began after a
    /// cluster checkpoint (`cluster/records_base.rs`).
    first_lines: BTreeMap<String, u64>,
    /// What failed since the last success, when something did: the log says it once.
    failing: Option<&'static str>,
    /// When the backlog gauges were last counted.
    backlog_at: Option<tokio::time::Instant>,
    /// Since when, and how many records behind, the sink has been catching up after a
    /// failure: the log says when it is done.
    catching_up: Option<(tokio::time::Instant, u64)>,
}

/// Why a session with the database ended.
enum Ended {
    Shutdown,
    Failed,
}

impl Sink {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut retry = RETRY_MIN;
        loop {
            let session = tokio::select! {
                () = shutdown.cancelled() => break,
                r = self.open() => r,
            };
            if let Some(client) = session {
                retry = RETRY_MIN;
                if let Ended::Shutdown = self.copy(client, &shutdown).await {
                    break;
                }
            }
            // The backlog grows while the sink waits: recounted as often as when it runs.
            let until = tokio::time::Instant::now() + retry;
            while tokio::time::Instant::now() < until {
                self.count_backlog().await;
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep_until(until.min(tokio::time::Instant::now() + BACKLOG_EVERY)) => {}
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
            retry = (retry * 2).min(RETRY_MAX);
        }
        self.gauges.connected.set(0);
    }

    /// Connects, creates the schema if missing and reads the positions.
    async fn open(&mut self) -> Option<Client> {
        let client = match within(self.target.connect()).await {
            Ok(c) => c,
            Err(e) => {
                self.failed("connect to the database", "connect", &e);
                return None;
            }
        };
        for (i, kind) in KINDS.iter().enumerate() {
            match within(db::positions(&client, *kind)).await {
                Ok(p) => self.confirmed[i] = p,
                Err(e) => {
                    self.failed("read the positions", "connect", &e);
                    return None;
                }
            }
        }
        if let Err(e) = self.begun_after_a_checkpoint() {
            self.failed("read the data dir", "read", &e);
            return None;
        }
        self.gauges.connected.set(1);
        let (rows, _) = self.count_backlog().await;
        if rows > 0 {
            self.catching_up = Some((tokio::time::Instant::now(), rows));
        }
        if let Some(what) = self.failing.take() {
            tracing::info!(
                backlog_rows = rows,
                "postgres: working again (after failing to {what}); sending the records kept in the data dir meanwhile"
            );
        } else {
            tracing::info!(
                backlog_rows = rows,
                "postgres: connected; copying the call records and events"
            );
        }
        Some(client)
    }

    /// Files this node began after a cluster checkpoint are read again from their first
    /// line, whatever the database confirmed of them: its bytes are another node's, and
    /// rows already in are skipped by their key. A position before the file's first line
    /// means rows no file here holds are not in the database: said, not guessed.
    fn begun_after_a_checkpoint(&mut self) -> anyhow::Result<()> {
        self.first_lines = records_base::read_first_lines(&self.dir)?;
        for (kind, confirmed) in KINDS.iter().zip(&mut self.confirmed) {
            for (file, &before) in &self.first_lines {
                if kind.day_of_file(file).is_none() {
                    continue;
                }
                let lines = confirmed.remove(file).unwrap_or_default().lines;
                if lines < before {
                    tracing::error!(
                        file,
                        lines,
                        before,
                        "postgres: the database lacks lines of this file that only the node \
                         that was active when they were made has: copy them from its data dir"
                    );
                }
            }
        }
        Ok(())
    }

    /// Copies batches while there are any, then looks again every [`POLL`].
    async fn copy(&mut self, mut client: Client, shutdown: &CancellationToken) -> Ended {
        loop {
            let mut wrote = false;
            for (i, kind) in KINDS.iter().enumerate() {
                let batch = {
                    let (dir, confirmed, first_lines, kind) = (
                        self.dir.clone(),
                        self.confirmed[i].clone(),
                        self.first_lines.clone(),
                        *kind,
                    );
                    tokio::task::spawn_blocking(move || {
                        source::next_batch(&dir, kind, &confirmed, &first_lines)
                    })
                    .await
                    .unwrap_or_else(|e| Err(anyhow::anyhow!("the reader panicked: {e}")))
                };
                let batch = match batch {
                    Ok(Some(b)) => b,
                    Ok(None) => continue,
                    Err(e) => {
                        self.failed("read the data dir", "read", &e);
                        return Ended::Failed;
                    }
                };
                let written = match within(db::write(&mut client, *kind, &batch)).await {
                    Err(e) if db::refused_a_value(&e) => {
                        within(db::write_each(&mut client, *kind, &batch)).await
                    }
                    other => other.map(|n| (n, Vec::new())),
                };
                match written {
                    Ok((n, refused)) => {
                        for (line, why) in &refused {
                            tracing::error!(
                                "postgres: the database refuses record {line} of {}, left out: {why}",
                                batch.file
                            );
                        }
                        for s in &batch.skipped {
                            tracing::error!("postgres: cannot read a record, left out: {s}");
                        }
                        let label = [kind.name()];
                        self.gauges
                            .rows_skipped
                            .with_label_values(&label)
                            .inc_by((batch.skipped.len() + refused.len()) as u64);
                        self.gauges.rows_written.with_label_values(&label).inc_by(n);
                        self.confirmed[i].insert(batch.file, batch.end);
                        wrote = true;
                    }
                    Err(e) => {
                        self.failed("write to the database", "write", &e);
                        return Ended::Failed;
                    }
                }
            }
            if wrote {
                self.count_backlog_every(BACKLOG_EVERY_BUSY).await;
            } else {
                self.count_backlog_every(BACKLOG_EVERY).await;
            }
            if !wrote && let Some((since, rows)) = self.catching_up.take() {
                tracing::info!(
                    rows,
                    ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "postgres: caught up with the data dir"
                );
            }
            if !wrote {
                tokio::select! {
                    () = shutdown.cancelled() => return Ended::Shutdown,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            // A server gone while there was nothing to write is noticed now, not at the
            // next record: the gauge says so at once.
            if client.is_closed() {
                let e = anyhow::anyhow!("the server closed the connection");
                self.failed("stay connected to the database", "connect", &e);
                return Ended::Failed;
            } else if shutdown.is_cancelled() {
                return Ended::Shutdown;
            }
        }
    }

    /// Notes a failure: counted and timed in the metrics always, logged once until the
    /// next success (an outage of an hour is one line, not one per retry).
    fn failed(&mut self, what: &'static str, op: &'static str, e: &anyhow::Error) {
        self.gauges.connected.set(0);
        self.gauges.errors.with_label_values(&[op]).inc();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.gauges
            .last_error
            .set(i64::try_from(now).unwrap_or(i64::MAX));
        if self.failing.is_none() {
            tracing::warn!(
                error = %format!("{e:#}"),
                "postgres: cannot {what}; the call records and events stay in the data dir and are sent when it works again (retrying, not logged again until then)"
            );
            self.failing = Some(what);
        } else {
            tracing::debug!(error = %format!("{e:#}"), "postgres: cannot {what} (still)");
        }
    }

    /// Recounts the backlog gauges unless they were counted less than `every` ago.
    async fn count_backlog_every(&mut self, every: Duration) {
        if self.backlog_at.is_none_or(|t| t.elapsed() >= every) {
            self.count_backlog().await;
        }
    }

    /// Recounts the backlog gauges; returns the rows and bytes (all kinds).
    async fn count_backlog(&mut self) -> (u64, u64) {
        self.backlog_at = Some(tokio::time::Instant::now());
        let (mut all_rows, mut all_bytes) = (0, 0);
        for (i, kind) in KINDS.iter().enumerate() {
            let (dir, confirmed, k) = (self.dir.clone(), self.confirmed[i].clone(), *kind);
            let counted =
                tokio::task::spawn_blocking(move || source::backlog(&dir, k, &confirmed)).await;
            if let Ok(Ok((rows, bytes))) = counted {
                let label = [kind.name()];
                self.gauges
                    .backlog_rows
                    .with_label_values(&label)
                    .set(i64::try_from(rows).unwrap_or(i64::MAX));
                self.gauges
                    .backlog_bytes
                    .with_label_values(&label)
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
                all_rows += rows;
                all_bytes += bytes;
            }
        }
        (all_rows, all_bytes)
    }
}

/// `f`, or an error when it takes longer than [`ANSWER_WITHIN`].
async fn within<T>(f: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(ANSWER_WITHIN, f)
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "no answer from the server within {} s",
                ANSWER_WITHIN.as_secs()
            ))
        })
}
