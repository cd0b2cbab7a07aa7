//! The commit thread: the only writer of the journal and the records files. The engine
//! task hands it one [`Commit`] per batch and carries on; the thread takes every commit
//! waiting, writes their journal bytes, fsyncs once, and reports the last commit id made
//! durable: the engine task releases acks and commands then. Only then does the thread
//! append the group's call records (handed to the OS at once, fsynced by a companion
//! thread at most every [`RECORDS_SYNC`], and at checkpoints and shutdown). This is the
//! group commit: there is no artificial wait; inputs arriving during an fsync simply join
//! the next group.
//!
//! Ordering invariant: a record reaches the CSV files only after the journal entries that
//! produced it are durable, so replay always re-produces at least the records on disk, and
//! recovery writes those the crash kept off disk (records are deterministic outputs of the
//! journaled inputs: the CSV files can always be rebuilt from the journal since the mark).

use crate::journal::{self, Entry, JournalFile, file_name, sync_dir};
use crate::observe::Observer;
use crate::records::{EventFiles, Records};
use crate::snapshot::{self, Checkpoint};
use jiff::tz::TimeZone;
use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use vaxel_core::{CallRecord, Event};

/// The call-record files are fsynced at most this often (off the ack path).
pub const RECORDS_SYNC: Duration = Duration::from_millis(100);

/// Commits queued for the thread at most (the engine task waits beyond).
pub const QUEUE: usize = 256;

/// Write a snapshot and start a new epoch after this commit (see docs/operations.md,
/// "Checkpoints").
#[derive(Debug)]
pub struct Rotate {
    pub checkpoint: Box<Checkpoint>,
}

/// One batch's durable work.
#[derive(Debug)]
pub struct Commit {
    pub id: u64,
    /// Whole journal records.
    pub journal: Vec<u8>,
    /// Journal entries in `journal` (for metrics).
    pub entries: usize,
    pub records: Vec<CallRecord>,
    /// The event log's events of the batch, in order.
    pub events: Vec<Event>,
    /// The site's time zone (for the records' day and times).
    pub tz: TimeZone,
    pub rotate: Option<Rotate>,
}

/// What the thread tells the engine task.
#[derive(Debug)]
pub enum Committed {
    /// Every commit up to this id is durable.
    Upto(u64),
    /// Writing failed: nothing more will be durable. The daemon must stop.
    Failed(String),
}

/// The thread's files.
#[derive(Debug)]
pub struct Files {
    pub dir: PathBuf,
    pub journal: JournalFile,
    pub records: Records,
    pub events: EventFiles,
}

/// Starts the thread. It stops when `rx` closes, after syncing; it returns whether every
/// write succeeded.
pub fn spawn(
    mut files: Files,
    mut rx: mpsc::Receiver<Commit>,
    done: mpsc::UnboundedSender<Committed>,
    observer: Arc<dyn Observer>,
) -> std::io::Result<std::thread::JoinHandle<bool>> {
    let syncer = Syncer::spawn(done.clone())?;
    std::thread::Builder::new()
        .name("vaxel-commit".into())
        .spawn(move || {
            let mut group = Vec::new();
            let mut ok = true;
            while let Some(first) = rx.blocking_recv() {
                group.push(first);
                // Take what is waiting, up to (and including) a rotation.
                while group.last().is_some_and(|c| c.rotate.is_none()) {
                    match rx.try_recv() {
                        Ok(c) => group.push(c),
                        Err(_) => break,
                    }
                }
                if let Err(e) = commit_group(&mut files, &mut group, &*observer, &done, &syncer) {
                    tracing::error!(error = %format!("{e:#}"), "journal commit failed");
                    let _ = done.send(Committed::Failed(format!("{e:#}")));
                    ok = false;
                    break;
                }
                group.clear();
            }
            let synced = syncer.stop();
            if let Err(e) = files
                .journal
                .sync()
                .map_err(anyhow::Error::from)
                .and_then(|()| files.records.sync())
                .and_then(|()| files.events.sync())
            {
                tracing::error!(error = %format!("{e:#}"), "final sync failed");
                ok = false;
            }
            ok && synced
        })
}

/// The companion thread that fsyncs the call-record files, at most every
/// [`RECORDS_SYNC`], off the ack path. The commit thread hands it each file it wrote to
/// (already written to the OS).
struct Syncer {
    tx: std_mpsc::Sender<Arc<File>>,
    thread: std::thread::JoinHandle<bool>,
}

impl Syncer {
    fn spawn(done: mpsc::UnboundedSender<Committed>) -> std::io::Result<Syncer> {
        let (tx, rx) = std_mpsc::channel::<Arc<File>>();
        let thread = std::thread::Builder::new()
            .name("vaxel-cdr-sync".into())
            .spawn(move || {
                let mut last: Option<Instant> = None;
                while let Ok(first) = rx.recv() {
                    let mut files = vec![first];
                    // Wait out the interval since the last sync, gathering requests; a
                    // closed channel (shutdown) syncs at once.
                    if let Some(due) = last.map(|l| l + RECORDS_SYNC) {
                        loop {
                            let now = Instant::now();
                            if now >= due {
                                break;
                            }
                            match rx.recv_timeout(due - now) {
                                Ok(f) => files.push(f),
                                Err(_) => break,
                            }
                        }
                    }
                    files.extend(rx.try_iter());
                    let mut synced: Vec<Arc<File>> = Vec::new();
                    for f in files {
                        if synced.iter().any(|s| Arc::ptr_eq(s, &f)) {
                            continue;
                        }
                        if let Err(e) = f.sync_data() {
                            tracing::error!(error = %e, "cannot sync a call-record file");
                            let _ = done.send(Committed::Failed(format!(
                                "cannot sync a call-record file: {e}"
                            )));
                            return false;
                        }
                        synced.push(f);
                    }
                    last = Some(Instant::now());
                }
                true
            })?;
        Ok(Syncer { tx, thread })
    }

    fn request(&self, file: Arc<File>) {
        // A stopped syncer has reported its failure already.
        let _ = self.tx.send(file);
    }

    /// Syncs what was requested and stops; whether every sync succeeded.
    fn stop(self) -> bool {
        drop(self.tx);
        self.thread.join().unwrap_or(false)
    }
}

fn commit_group(
    files: &mut Files,
    group: &mut [Commit],
    observer: &dyn Observer,
    done: &mpsc::UnboundedSender<Committed>,
    syncer: &Syncer,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let started = Instant::now();
    let mut bytes = 0;
    let mut entries = 0;
    for c in group.iter() {
        if !c.journal.is_empty() {
            files
                .journal
                .append(&c.journal)
                .context("cannot append to the journal")?;
            bytes += c.journal.len();
            entries += c.entries;
        }
    }
    if bytes > 0 {
        files.journal.sync().context("cannot sync the journal")?;
        observer.commit(entries, bytes, started.elapsed());
    }
    // Durable: the engine task may release the group's acks and commands now.
    let last = group.last().map_or(0, |c| c.id);
    if done.send(Committed::Upto(last)).is_err() {
        tracing::debug!("the engine task is gone; finishing the commit");
    }
    let mut wrote = false;
    for c in group.iter() {
        for r in &c.records {
            files.records.write(r, &c.tz)?;
            wrote = true;
        }
    }
    if wrote && let Some(f) = files.records.flush()? {
        syncer.request(f);
    }
    // The event log after the records, the same way: rebuilt from the journal when a
    // crash keeps it off disk.
    let mut logged = false;
    for c in group.iter() {
        for e in &c.events {
            files.events.write(e, &c.tz)?;
            logged = true;
        }
    }
    if logged && let Some(f) = files.events.flush()? {
        syncer.request(f);
    }
    if let Some(rot) = group.last_mut().and_then(|c| c.rotate.take()) {
        rotate(files, *rot.checkpoint)?;
    }
    Ok(())
}

/// A checkpoint: the next epoch's journal file with its `Checkpoint` entry under its
/// temporary name (durably), the snapshot file (durably), then the journal renamed into
/// place; then epochs and snapshots older than the previous one are removed (the previous
/// one is kept for inspection and backups; those older hold nothing the snapshot lacks).
/// A snapshot that cannot be made (it does not serialize exactly, or cannot be written) is
/// skipped with a warning: the current epoch simply goes on. The order lets recovery tell
/// a crash during a checkpoint (a temporary journal file is left) from a lost journal (a
/// snapshot with no journal at all), see `recovery.rs`.
fn rotate(files: &mut Files, checkpoint: Checkpoint) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let started = Instant::now();
    let epoch = files.journal.epoch + 1;
    let snap = checkpoint.into_file(epoch, files.records.mark()?, files.events.mark()?);
    let size = match begin_epoch(&files.dir, &snap)? {
        Some((journal, size)) => {
            files.journal = journal;
            size
        }
        None => return Ok(()),
    };
    for (n, path) in journal::list(&files.dir)? {
        if n + 1 < epoch {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for (n, path, _) in snapshot::list(&files.dir)? {
        if n + 1 < epoch {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    sync_dir(&files.dir)?;
    tracing::info!(
        epoch,
        calls = snap.owners.len(),
        bytes = size,
        ms = started.elapsed().as_millis() as u64,
        "checkpoint: snapshot written, new journal epoch started"
    );
    Ok(())
}

/// Starts epoch `snap.epoch` from the snapshot `snap`, in the order `rotate` describes.
/// `Ok(None)` when the snapshot could not be made (warned: the caller's epoch goes on);
/// an error when the journal could not be (the daemon must stop). Returns the new journal
/// and the snapshot's size.
pub fn begin_epoch(
    dir: &std::path::Path,
    snap: &snapshot::SnapshotFile,
) -> anyhow::Result<Option<(JournalFile, usize)>> {
    use anyhow::Context as _;
    let epoch = snap.epoch;
    let bytes = match snapshot::encode(snap) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), epoch, "checkpoint skipped: the current journal epoch goes on");
            return Ok(None);
        }
    };
    let start = Entry::Checkpoint {
        at: snap.at,
        snapshot: snapshot::file_name(epoch),
        crc32: Some(journal::crc32(&bytes)),
    };
    let mut first = Vec::new();
    start.encode(&mut first);
    let prepared = JournalFile::prepare(dir, epoch, &first)
        .with_context(|| format!("cannot create {}", journal::tmp_name(epoch)))?;
    if let Err(e) = snapshot::write(dir, epoch, &bytes) {
        // Nothing refers to the prepared file (it holds only its first entry): drop it.
        let _ = fs::remove_file(dir.join(journal::tmp_name(epoch)));
        tracing::warn!(error = %e, epoch, "checkpoint skipped (cannot write {}): the current journal epoch goes on", snapshot::file_name(epoch));
        return Ok(None);
    }
    let journal = prepared
        .install()
        .with_context(|| format!("cannot create {}", file_name(epoch)))?;
    Ok(Some((journal, bytes.len())))
}
