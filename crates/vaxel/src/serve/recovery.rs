//! Start-up on a data dir: find the current journal epoch, restore the engine from the
//! snapshot it starts from (or start a fresh one for an epoch that begins with `start`),
//! replay the epoch's journal into it (the engine is deterministic, so calls keep their
//! places and timers, agents their states), drop a torn last record, write the call
//! records the crash kept off disk, and hand back the engine and the open files. An empty
//! data dir starts epoch 1.

use crate::serve::journal::{self, CdrMark, Entry, JournalFile, Replayed};
use crate::serve::machine::Machine;
use crate::serve::records::{self, Records};
use crate::serve::snapshot;
use anyhow::Context as _;
use jiff::tz::TimeZone;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use vaxel_core::site::Site;
use vaxel_core::{CallRecord, Output, Timestamp};

/// The engine and files recovery hands to the daemon.
#[derive(Debug)]
pub struct Recovered {
    pub machine: Machine,
    pub journal: JournalFile,
    pub records: Records,
}

/// Opens `dir` (created if missing). `config`/`site` start a fresh epoch when there is
/// no journal; `start` is the engine's time then.
pub fn recover(
    dir: &Path,
    config: &Arc<str>,
    site: &Arc<Site>,
    start: Timestamp,
) -> anyhow::Result<Recovered> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let epochs = journal::list(dir)
        .with_context(|| format!("cannot list the data dir {}", dir.display()))?;
    for (epoch, path) in epochs.iter().rev() {
        let back = journal::read(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
        if !matches!(
            back.entries.first(),
            Some(Entry::Start { .. } | Entry::Checkpoint { .. })
        ) {
            tracing::warn!(
                file = %path.display(),
                "journal file has no valid start entry (a crash while it was created): removing it"
            );
            fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
            continue;
        }
        remove_stray_snapshots(dir, *epoch)?;
        return replay(dir, *epoch, back);
    }
    // A fresh data dir (or records from a daemon run without a journal).
    records::repair(dir, None)?;
    let mut records = Records::new(dir);
    let epoch = epochs.last().map_or(1, |(n, _)| n + 1);
    remove_stray_snapshots(dir, epoch.saturating_sub(1))?;
    let entry = Entry::Start {
        at: start,
        config: config.to_string(),
        cdr: records.mark()?,
    };
    let journal = JournalFile::create(dir, epoch, &entry)
        .with_context(|| format!("cannot create the journal in {}", dir.display()))?;
    tracing::info!(dir = %dir.display(), epoch, "new journal");
    Ok(Recovered {
        machine: Machine::new(config.clone(), site.clone(), start),
        journal,
        records,
    })
}

fn load(config: &str, what: &str) -> anyhow::Result<Arc<Site>> {
    // The journal's copy was accepted when it was written, maybe with unknown keys.
    match vaxel_config::load_site_with(config, vaxel_config::UnknownKeys::Warn) {
        Ok(v) => Ok(Arc::new(v.site)),
        Err(diags) => {
            let list: Vec<String> = diags.iter().map(ToString::to_string).collect();
            anyhow::bail!(
                "the journal's {what} configuration no longer validates: {}",
                list.join("; ")
            )
        }
    }
}

/// Removes snapshots of epochs after `current` (written by a checkpoint that crashed
/// before its journal file was made) and temporary snapshot files.
fn remove_stray_snapshots(dir: &Path, current: u64) -> anyhow::Result<()> {
    for (n, path, tmp) in snapshot::list(dir)? {
        if tmp || n > current {
            tracing::warn!(file = %path.display(), "removing a snapshot no journal epoch starts from (a crash during a checkpoint)");
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The machine an epoch starts from, the records mark, and the snapshot's name if any.
fn epoch_start(
    dir: &Path,
    epoch: u64,
    first: Option<Entry>,
) -> anyhow::Result<(Machine, Option<CdrMark>, Option<String>)> {
    match first {
        Some(Entry::Start { at, config, cdr }) => {
            let site = load(&config, "start")?;
            Ok((Machine::new(config.into(), site, at), cdr, None))
        }
        Some(Entry::Checkpoint {
            at,
            snapshot: name,
            crc32,
        }) => {
            anyhow::ensure!(
                name == snapshot::file_name(epoch),
                "journal epoch {epoch} starts from {name:?}, not from its own snapshot"
            );
            let snap = snapshot::read(&dir.join(&name), crc32)?;
            anyhow::ensure!(
                snap.epoch == epoch && snap.at == at,
                "the snapshot {name} does not belong to journal epoch {epoch}"
            );
            let site = load(&snap.config, "snapshot's")?;
            let m = Machine::restore(snap.config, site, snap.engine, snap.owners)
                .with_context(|| format!("cannot restore the engine from {name}"))?;
            Ok((m, snap.cdr, Some(name)))
        }
        _ => anyhow::bail!("journal epoch {epoch} does not begin with its start entry"),
    }
}

fn replay(dir: &Path, epoch: u64, back: journal::ReadBack) -> anyhow::Result<Recovered> {
    let started = std::time::Instant::now();
    let mut entries = back.entries.into_iter();
    let (mut m, cdr, from) = epoch_start(dir, epoch, entries.next())?;
    let mut produced: Vec<(CallRecord, TimeZone)> = Vec::new();
    let mut outs = Vec::new();
    let mut n = 0u64;
    for e in entries {
        n += 1;
        let (at, what) = e.into_replayed();
        let r = match what {
            Replayed::Start => anyhow::bail!("journal epoch {epoch}: a second start entry"),
            Replayed::Advance => m.advance(at, &mut outs),
            Replayed::Reload { config } => {
                let site = load(&config, "reloaded")?;
                m.reload(at, config.into(), site, &mut outs)
            }
            Replayed::Input(input) => {
                let kind = input.kind();
                m.apply(at, input, &mut outs).inspect_err(|e| {
                    tracing::warn!(kind, error = %e, "replay: an input the engine accepted before is refused now");
                })
            }
        };
        let _ = r;
        let tz = &m.engine.site().timezone;
        for o in outs.drain(..) {
            if let Output::Record(r) = o {
                produced.push((*r, tz.clone()));
            }
        }
    }
    if back.dropped > 0 {
        tracing::warn!(
            epoch,
            bytes = back.dropped,
            reason = back.reason.as_deref().unwrap_or(""),
            "journal: dropped a torn last record"
        );
    }
    let journal = JournalFile::open_at(dir, epoch, back.valid_len)
        .with_context(|| format!("cannot open the journal epoch {epoch}"))?;

    // Records: those on disk since the epoch started are a prefix of what replay produced.
    records::repair(dir, cdr.as_ref())?;
    let on_disk = records::count_since(dir, cdr.as_ref())?;
    let mut recs = Records::new(dir);
    let total = produced.len() as u64;
    if on_disk > total {
        tracing::warn!(
            on_disk,
            produced = total,
            "more call records on disk than the journal produces: writing none again"
        );
    }
    let skip = usize::try_from(on_disk).unwrap_or(usize::MAX);
    let missing = produced.len().saturating_sub(skip);
    for (r, tz) in produced.iter().skip(skip) {
        recs.write(r, tz)?;
    }
    recs.sync()?;
    tracing::info!(
        epoch,
        snapshot = from.as_deref().unwrap_or("none"),
        entries = n,
        calls = m.calls(),
        records_written_again = missing,
        ms = started.elapsed().as_millis() as u64,
        "journal replayed"
    );
    Ok(Recovered {
        machine: m,
        journal,
        records: recs,
    })
}
