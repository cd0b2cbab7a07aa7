//! The commit thread: the only writer of the journal and the records files. The engine
//! task hands it one [`Commit`] per batch and carries on; the thread takes every commit
//! waiting, writes their journal bytes, fsyncs once, writes their call records, fsyncs
//! them, and reports the last commit id made durable. The engine task releases acks and
//! commands only then. This is the group commit: there is no artificial wait; inputs
//! arriving during an fsync simply join the next group.
//!
//! Ordering invariant: a record reaches the CSV files only after the journal entries that
//! produced it are durable, so replay always re-produces at least the records on disk.

use crate::serve::journal::{Entry, JournalFile, file_name, list, sync_dir};
use crate::serve::observe::Observer;
use crate::serve::records::Records;
use jiff::tz::TimeZone;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use vaxel_core::{CallRecord, Timestamp};

/// Commits queued for the thread at most (the engine task waits beyond).
pub const QUEUE: usize = 256;

/// Start a new epoch after this commit (see docs/operations.md, "Checkpoints").
#[derive(Debug)]
pub struct Rotate {
    pub at: Timestamp,
    pub config: Arc<str>,
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
}

/// Starts the thread. It stops when `rx` closes, after syncing.
pub fn spawn(
    mut files: Files,
    mut rx: mpsc::Receiver<Commit>,
    done: mpsc::UnboundedSender<Committed>,
    observer: Arc<dyn Observer>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("vaxel-commit".into())
        .spawn(move || {
            let mut group = Vec::new();
            while let Some(first) = rx.blocking_recv() {
                group.push(first);
                // Take what is waiting, up to (and including) a rotation.
                while group.last().is_some_and(|c| c.rotate.is_none()) {
                    match rx.try_recv() {
                        Ok(c) => group.push(c),
                        Err(_) => break,
                    }
                }
                let last = group.last().map_or(0, |c| c.id);
                match commit_group(&mut files, &mut group, &*observer) {
                    Ok(()) => {
                        if done.send(Committed::Upto(last)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "journal commit failed");
                        let _ = done.send(Committed::Failed(format!("{e:#}")));
                        return;
                    }
                }
                group.clear();
            }
            if let Err(e) = files
                .journal
                .sync()
                .map_err(anyhow::Error::from)
                .and_then(|()| files.records.sync())
            {
                tracing::error!(error = %format!("{e:#}"), "final sync failed");
            }
        })
}

fn commit_group(
    files: &mut Files,
    group: &mut [Commit],
    observer: &dyn Observer,
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
    }
    let mut wrote = false;
    for c in group.iter() {
        for r in &c.records {
            files.records.write(r, &c.tz)?;
            wrote = true;
        }
    }
    if wrote {
        files.records.sync()?;
    }
    if bytes > 0 || wrote {
        observer.commit(entries, bytes, started.elapsed());
    }
    if let Some(rot) = group.last_mut().and_then(|c| c.rotate.take()) {
        rotate(files, rot)?;
    }
    Ok(())
}

/// Starts the next epoch: its file with a `Start` entry, durably, then removes epochs
/// older than the previous one (kept for inspection and backups).
fn rotate(files: &mut Files, rot: Rotate) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let epoch = files.journal.epoch + 1;
    let start = Entry::Start {
        at: rot.at,
        config: rot.config.to_string(),
        cdr: files.records.mark()?,
    };
    files.journal = JournalFile::create(&files.dir, epoch, &start)
        .with_context(|| format!("cannot create {}", file_name(epoch)))?;
    for (n, path) in list(&files.dir)? {
        if n + 1 < epoch {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    sync_dir(&files.dir)?;
    tracing::info!(epoch, "journal checkpoint: new epoch started");
    Ok(())
}
