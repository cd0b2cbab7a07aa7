//! Start-up on a data dir: find the current journal epoch, restore the engine from the
//! snapshot it starts from (or start a fresh one for an epoch that begins with `start`),
//! replay the epoch's journal into it (the engine is deterministic, so calls keep their
//! places and timers, agents their states), drop a torn last record, write the call
//! records the crash kept off disk, and hand back the engine and the open files. An empty
//! data dir starts epoch 1.
//!
//! Only a torn *tail* is ever dropped: bad bytes at the end of the newest journal with no
//! valid record after them (a crash mid-append, never acknowledged). Any other damage (a
//! bad record with valid ones after it, a journal without its first entry, a journal a
//! snapshot or the call records say existed and is gone, a snapshot a journal names that
//! is missing or damaged) holds acknowledged input: recovery refuses to start, naming the
//! file and byte offset. With `--salvage` it moves the damaged files into
//! `damaged-<time>/` (never deletes them), starts from what is intact, logs what was lost
//! and begins a new epoch from a fresh snapshot. See docs/operations.md, "Failure modes".

use crate::commit;
use crate::journal::{self, CdrMark, Entry, JournalFile, Replayed};
use crate::machine::{Machine, Made};
use crate::records::{self, Cdr, DayFiles, DayLog, EventFiles, Events, Records};
use crate::salvage::Aside;
use crate::snapshot::{self, SnapshotFile};
use anyhow::Context as _;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use vaxel_core::Timestamp;
use vaxel_core::site::Site;

/// The engine and files recovery hands to the daemon.
#[derive(Debug)]
pub struct Recovered {
    pub machine: Machine,
    pub journal: JournalFile,
    pub records: Records,
    pub events: EventFiles,
    /// Call-record files found deleted or cut below what earlier epochs wrote (their
    /// records are lost: no journal kept holds them). Logged at ERROR and exported.
    pub records_lost: u64,
}

/// Opens `dir` (created if missing). `config`/`site` start a fresh epoch when there is
/// no journal; `start` is the engine's time then. `salvage` sets damaged files aside
/// instead of refusing to start.
pub fn recover(
    dir: &Path,
    config: &Arc<str>,
    site: &Arc<Site>,
    start: Timestamp,
    salvage: bool,
) -> anyhow::Result<Recovered> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let mut aside = Aside::new(dir, salvage);
    clear_interrupted_checkpoints(dir)?;
    let epochs = journal::list(dir)
        .with_context(|| format!("cannot list the data dir {}", dir.display()))?;
    let snaps = snapshot::list(dir)?;
    let newest = epochs.last().map_or(0, |(n, _)| *n);
    let highest = snaps.iter().map(|(n, _, _)| *n).fold(newest, u64::max);

    // A snapshot starts the epoch of the same number: newer than every journal, that
    // epoch's journal was deleted (an interrupted checkpoint leaves its temporary file).
    for (n, path, _) in snaps.iter().filter(|(n, _, _)| *n > newest) {
        aside.refuse_or_set_aside(
            std::slice::from_ref(path),
            &format!(
                "the snapshot {} starts journal epoch {n}, but {} is missing (deleted or lost)",
                path.display(),
                journal::file_name(*n)
            ),
            &format!("journal epoch {n}, all its entries"),
        )?;
    }
    for (epoch, path) in epochs.iter().rev() {
        let back = journal::read(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
        let snap_path = dir.join(snapshot::file_name(*epoch));
        if !matches!(
            back.entries.first(),
            Some(Entry::Start { .. } | Entry::Checkpoint { .. })
        ) {
            let what = if back.dropped == 0 && back.entries.is_empty() {
                format!(
                    "the journal {} is empty: its first entry is missing",
                    path.display()
                )
            } else {
                format!(
                    "the journal {} is damaged at byte offset 0, its first entry ({}), with {} valid entries after it",
                    path.display(),
                    back.reason.as_deref().unwrap_or("not a start entry"),
                    back.valid_after,
                )
            };
            aside.refuse_or_set_aside(
                &[path.clone(), snap_path],
                &what,
                &format!(
                    "journal epoch {epoch}, all its entries ({} readable)",
                    back.entries.len() as u64 + back.valid_after
                ),
            )?;
            continue;
        }
        let mut back = back;
        if back.damaged_mid_file() {
            let prefix = fs::read(path)
                .with_context(|| format!("cannot read the journal {}", path.display()))?;
            aside.refuse_or_set_aside(
                std::slice::from_ref(path),
                &format!(
                    "the journal {} is damaged at byte offset {} ({}), with {} valid entries after the damage",
                    path.display(),
                    back.valid_len,
                    back.reason.as_deref().unwrap_or(""),
                    back.valid_after
                ),
                &format!(
                    "journal epoch {epoch}, the {} entries after byte offset {} ({} bytes)",
                    back.valid_after, back.valid_len, back.dropped
                ),
            )?;
            // Salvaging: the intact prefix is the epoch's journal again.
            let keep = usize::try_from(back.valid_len)
                .unwrap_or(usize::MAX)
                .min(prefix.len());
            JournalFile::create_with(dir, *epoch, &prefix[..keep])
                .with_context(|| format!("cannot write {}", path.display()))?;
            back.dropped = 0;
        }
        let snap = match start_snapshot(dir, *epoch, back.entries.first()) {
            Ok(s) => s,
            Err(e) => {
                aside.refuse_or_set_aside(
                    &[path.clone(), snap_path],
                    &format!("{e:#}"),
                    &format!(
                        "journal epoch {epoch}, all its {} entries",
                        back.entries.len()
                    ),
                )?;
                continue;
            }
        };
        let (mut rec, diverged) = replay(dir, *epoch, back, snap, !salvage)?;
        if aside.salvaged() || diverged {
            // Start clean after a salvage: a new epoch from the state recovered, whose
            // records mark is where the files stand now.
            let next = highest.max(*epoch) + 1;
            let snap =
                rec.machine
                    .checkpoint()
                    .into_file(next, rec.records.mark()?, rec.events.mark()?);
            let Some((j, _)) = commit::begin_epoch(dir, &snap)? else {
                anyhow::bail!("salvage: cannot write the snapshot starting epoch {next}");
            };
            rec.journal = j;
            tracing::warn!(
                epoch = next,
                "salvage: a new journal epoch starts from what was recovered"
            );
        }
        return Ok(rec);
    }
    // No journal: a fresh data dir, unless call records say a journal was here.
    if !aside.salvaged()
        && let Some((name, _)) = records::list::<Cdr>(dir)?.first()
    {
        aside.refuse_or_set_aside(
            &[],
            &format!(
                "the data dir {} holds call records ({name}, …) but no journal: it was deleted",
                dir.display()
            ),
            "every journal entry (the call records are kept; calls in progress are forgotten)",
        )?;
    }
    records::repair::<Cdr>(dir, None)?;
    records::repair::<Events>(dir, None)?;
    let mut records = Records::new(dir);
    let mut events = EventFiles::new(dir);
    let epoch = highest + 1;
    let entry = Entry::Start {
        at: start,
        config: config.to_string(),
        cdr: records.mark()?,
        events: events.mark()?,
    };
    let journal = JournalFile::create(dir, epoch, &entry)
        .with_context(|| format!("cannot create the journal in {}", dir.display()))?;
    tracing::info!(dir = %dir.display(), epoch, "new journal");
    Ok(Recovered {
        machine: Machine::new(config.clone(), site.clone(), start),
        journal,
        records,
        events,
        records_lost: 0,
    })
}

/// A journaled configuration text as a site (`what` names it in the error).
pub fn load(config: &str, what: &str) -> anyhow::Result<Arc<Site>> {
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

/// Clears what a crash during a checkpoint leaves: a temporary journal file (it holds only
/// its first entry, never an input) with the snapshot written for it when its journal was
/// never installed (the snapshot is the state at the end of the previous epoch, whose
/// journal is intact), and temporary snapshot files. Nothing removed holds input: a
/// temporary journal holding inputs (a salvage's intact prefix, the damaged original
/// already set aside) is installed instead.
fn clear_interrupted_checkpoints(dir: &Path) -> anyhow::Result<()> {
    for (n, path) in journal::list_tmp(dir)? {
        let installed = dir.join(journal::file_name(n));
        let back =
            journal::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if back.entries.len() > 1 {
            if installed.exists() {
                tracing::warn!(file = %path.display(), "a temporary journal file holding inputs beside its installed journal: left in place");
            } else {
                tracing::warn!(file = %path.display(), "installing the journal a salvage interrupted by a crash had written");
                fs::rename(&path, &installed)
                    .with_context(|| format!("cannot rename {}", path.display()))?;
                journal::sync_dir(dir)?;
            }
            continue;
        }
        let snap = dir.join(snapshot::file_name(n));
        if !dir.join(journal::file_name(n)).exists() && snap.exists() {
            tracing::warn!(file = %snap.display(), "removing the snapshot of a checkpoint interrupted by a crash");
            fs::remove_file(&snap).with_context(|| format!("cannot remove {}", snap.display()))?;
        }
        tracing::warn!(file = %path.display(), "removing the journal file of a checkpoint interrupted by a crash");
        fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    for (_, path, tmp) in snapshot::list(dir)? {
        if tmp {
            tracing::warn!(file = %path.display(), "removing a temporary snapshot file (a crash during a checkpoint)");
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The snapshot epoch `epoch` starts from, when its first entry names one: read and
/// checked against the checksum the journal recorded.
fn start_snapshot(
    dir: &Path,
    epoch: u64,
    first: Option<&Entry>,
) -> anyhow::Result<Option<SnapshotFile>> {
    let Some(Entry::Checkpoint {
        at,
        snapshot: name,
        crc32,
    }) = first
    else {
        return Ok(None);
    };
    anyhow::ensure!(
        *name == snapshot::file_name(epoch),
        "journal epoch {epoch} starts from {name:?}, not from its own snapshot"
    );
    let snap = snapshot::read(&dir.join(name), *crc32)
        .with_context(|| format!("{} names the snapshot {name}", journal::file_name(epoch)))?;
    anyhow::ensure!(
        snap.epoch == epoch && snap.at == *at,
        "the snapshot {name} does not belong to journal epoch {epoch}"
    );
    Ok(Some(snap))
}

/// The machine an epoch starts from, and the marks of the records and of the event log.
fn epoch_start(
    epoch: u64,
    first: Option<Entry>,
    snap: Option<SnapshotFile>,
) -> anyhow::Result<(Machine, Marks)> {
    match (first, snap) {
        (
            Some(Entry::Start {
                at,
                config,
                cdr,
                events,
            }),
            _,
        ) => {
            let site = load(&config, "start")?;
            Ok((Machine::new(config.into(), site, at), Marks { cdr, events }))
        }
        (Some(Entry::Checkpoint { snapshot: name, .. }), Some(snap)) => {
            let site = load(&snap.config, "snapshot's")?;
            let m = Machine::restore(snap.config, site, snap.engine, snap.owners, snap.outbox)
                .with_context(|| format!("cannot restore the engine from {name}"))?;
            Ok((
                m,
                Marks {
                    cdr: snap.cdr,
                    events: snap.events,
                },
            ))
        }
        _ => anyhow::bail!("journal epoch {epoch} does not begin with its start entry"),
    }
}

/// Where the two kinds of daily files stood when an epoch began.
struct Marks {
    cdr: Option<CdrMark>,
    events: Option<CdrMark>,
}

/// Writes the rows of `produced` (everything since `mark`) that are not on disk: in
/// each day's file, the lines on disk are a prefix of what was produced for it. Returns
/// the writer and how many were written.
fn write_missing<L: DayLog>(
    dir: &Path,
    mark: Option<&CdrMark>,
    produced: &Produced<L::Row>,
) -> anyhow::Result<(DayFiles<L>, u64)> {
    let on_disk = records::count_since::<L>(dir, mark)?;
    let mut recs = DayFiles::<L>::new(dir);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut missing = 0u64;
    let mut rebuilt: Vec<String> = Vec::new();
    for (r, tz) in produced {
        let file = records::file_name::<L>(&records::day_of::<L>(r, tz));
        let k = seen.entry(file.clone()).or_default();
        *k += 1;
        let have = on_disk.get(&file).copied();
        if *k > have.unwrap_or(0) {
            if have.is_none() && !rebuilt.contains(&file) {
                rebuilt.push(file);
            }
            recs.write(r, tz)?;
            missing += 1;
        }
    }
    recs.sync()?;
    if !rebuilt.is_empty() {
        tracing::warn!(
            files = rebuilt.join(", "),
            "{} files missing (deleted, or a crash before they were made): rebuilt from the journal",
            L::WHAT
        );
    }
    Ok((recs, missing))
}

/// The records files holding more records since `mark` than `produced` has for them:
/// `(file, on disk, produced)`.
fn records_beyond(
    dir: &Path,
    mark: Option<&CdrMark>,
    produced: &Produced<vaxel_core::CallRecord>,
) -> anyhow::Result<Vec<(String, u64, u64)>> {
    let mut made: BTreeMap<String, u64> = BTreeMap::new();
    for (r, tz) in produced {
        *made
            .entry(records::file_name::<Cdr>(&records::day_of::<Cdr>(r, tz)))
            .or_default() += 1;
    }
    Ok(records::count_since::<Cdr>(dir, mark)?
        .into_iter()
        .filter_map(|(file, n)| {
            let m = made.get(&file).copied().unwrap_or(0);
            (n > m).then_some((file, n, m))
        })
        .collect())
}

/// Rows (records or events) an epoch's replay produced, each with its site's time zone.
type Produced<R> = Vec<(R, TimeZone)>;

/// What an epoch's replay produced: its call records and its event log.
struct Epoch {
    marks: Marks,
    records: Produced<vaxel_core::CallRecord>,
    events: Produced<vaxel_core::Event>,
}

/// Replays an epoch's entries (the first one its start): the machine after them, the
/// marks the epoch began at and the records and events it produced.
fn run_epoch(
    epoch: u64,
    entries: Vec<Entry>,
    snap: Option<SnapshotFile>,
) -> anyhow::Result<(Machine, Epoch)> {
    let mut entries = entries.into_iter();
    let (mut m, marks) = epoch_start(epoch, entries.next(), snap)?;
    let mut produced = Vec::new();
    let mut events = Vec::new();
    let mut outs = Vec::new();
    for e in entries {
        if !replay_entry(&mut m, e, &mut outs)? {
            anyhow::bail!("journal epoch {epoch}: a second start entry");
        }
        let tz = &m.engine.site().timezone;
        for o in outs.drain(..) {
            // Commands are numbered and kept by the machine as they were live; records
            // and events are the caller's.
            match o {
                Made::Record(r) => produced.push((*r, tz.clone())),
                Made::Event(e) => events.push((*e, tz.clone())),
                Made::Command { .. } => {}
            }
        }
    }
    let epoch = Epoch {
        marks,
        records: produced,
        events,
    };
    Ok((m, epoch))
}

/// Applies one journal entry after an epoch's start, as it was applied live (an input
/// refused now is only warned about: the engine is deterministic, so it was refused then
/// too, and its entry still moved time). `Ok(false)` for a start entry, which only begins
/// an epoch. Shared with cluster mode's standbys, which apply the stream's entries.
pub fn replay_entry(m: &mut Machine, e: Entry, outs: &mut Vec<Made>) -> anyhow::Result<bool> {
    let (at, what) = e.into_replayed();
    let _ = match what {
        Replayed::Start => return Ok(false),
        Replayed::Advance => m.advance(at, outs),
        Replayed::Reload { config } => {
            let site = load(&config, "reloaded")?;
            m.reload(at, config.into(), site, outs)
        }
        Replayed::Input(input) => {
            let kind = input.kind();
            m.apply(at, input, outs).inspect_err(|e| {
                tracing::warn!(kind, error = %e, "replay: an input the engine accepted before is refused now");
            })
        }
        Replayed::Session {
            platform,
            protocol,
            last_cmd,
        } => {
            m.session(&platform, protocol, last_cmd);
            Ok(())
        }
        Replayed::Ack { platform, upto } => {
            m.ack(&platform, upto);
            Ok(())
        }
    };
    Ok(true)
}

/// The previous epoch's records, when its journal is still kept and whole: the mark it
/// began at and what its replay produces. Used to rebuild a records file cut below the
/// current epoch's mark.
fn previous_records(
    dir: &Path,
    epoch: u64,
) -> Option<(Option<CdrMark>, Produced<vaxel_core::CallRecord>)> {
    let prev = epoch.checked_sub(1)?;
    let back = journal::read(&dir.join(journal::file_name(prev))).ok()?;
    if back.dropped > 0 {
        return None;
    }
    let snap = start_snapshot(dir, prev, back.entries.first()).ok()?;
    let (_, e) = run_epoch(prev, back.entries, snap).ok()?;
    Some((e.marks.cdr, e.records))
}

/// Replays epoch `epoch` and brings the call records in line with it. `strict`: call
/// records the journal no longer produces (entries cut off its end) refuse the start;
/// otherwise (salvaging) they are warned about, and the second value says so: the caller
/// starts a new epoch, whose records mark is past them.
fn replay(
    dir: &Path,
    epoch: u64,
    back: journal::ReadBack,
    snap: Option<SnapshotFile>,
    strict: bool,
) -> anyhow::Result<(Recovered, bool)> {
    let started = std::time::Instant::now();
    let from = snap.as_ref().map(|_| snapshot::file_name(epoch));
    let n = back.entries.len().saturating_sub(1) as u64;
    let (
        m,
        Epoch {
            marks,
            records: produced,
            events,
        },
    ) = run_epoch(epoch, back.entries, snap)?;
    let cdr = marks.cdr;

    // Records: in each day's file, those on disk since the epoch started are a prefix of
    // what replay produced for that file; the rest are written (again). A file cut below
    // the epoch's mark is rebuilt from the previous epoch's journal when it is kept.
    let mut base = cdr;
    let mut produced = produced;
    if !records::lost_below(dir, base.as_ref())?.is_empty()
        && let Some((mark, mut before)) = previous_records(dir, epoch)
    {
        base = mark;
        before.append(&mut produced);
        produced = before;
    }
    // Records reach the files only after the entries producing them are durable: more
    // on disk than replay produces means acknowledged entries are gone from the journal.
    let beyond = records_beyond(dir, base.as_ref(), &produced)?;
    let diverged = !beyond.is_empty();
    for (file, on_disk, made) in beyond {
        let what = format!(
            "{file} holds {on_disk} call records of journal epoch {epoch}, but the journal \
             {} (up to byte offset {}) produces only {made}: acknowledged entries were cut \
             off its end",
            dir.join(journal::file_name(epoch)).display(),
            back.valid_len
        );
        if strict {
            anyhow::bail!(
                "{what}. The daemon does not start; nothing was changed. Restore the data \
                 dir from a backup (docs/operations.md, Backup), or start once with `vaxel \
                 serve --salvage` to go on from what the journal holds (the calls of the lost \
                 entries keep their records, once)"
            );
        }
        tracing::warn!(damage = %what, "salvage: going on from what the journal holds");
    }
    if back.dropped > 0 {
        tracing::warn!(
            epoch,
            offset = back.valid_len,
            bytes = back.dropped,
            reason = back.reason.as_deref().unwrap_or(""),
            "journal: dropped a torn last record (a crash mid-write, never acknowledged; nothing valid after it)"
        );
    }
    let journal = JournalFile::open_at(dir, epoch, back.valid_len)
        .with_context(|| format!("cannot open the journal epoch {epoch}"))?;

    records::repair::<Cdr>(dir, base.as_ref())?;
    let lost = records::lost_below(dir, base.as_ref())?;
    let records_lost = lost.len() as u64;
    for lost in lost {
        tracing::error!(
            damage = %lost,
            "call records of earlier journal epochs are lost: no journal kept holds those \
             calls (restore the file from a backup; the records the journal holds are rebuilt)"
        );
    }
    let (recs, missing) = write_missing::<Cdr>(dir, base.as_ref(), &produced)?;
    // The event log by the same rule, from its own mark (an event file cut below the
    // mark is reported like a records file; its lines are not in the journal any more).
    records::repair::<Events>(dir, marks.events.as_ref())?;
    for lost in records::lost_below(dir, marks.events.as_ref())? {
        tracing::error!(damage = %lost, "event-log lines of earlier journal epochs are lost");
    }
    let (events, events_missing) = write_missing::<Events>(dir, marks.events.as_ref(), &events)?;
    tracing::info!(
        epoch,
        snapshot = from.as_deref().unwrap_or("none"),
        entries = n,
        calls = m.calls(),
        records_written_again = missing,
        events_written_again = events_missing,
        ms = started.elapsed().as_millis() as u64,
        "journal replayed"
    );
    Ok((
        Recovered {
            machine: m,
            journal,
            records: recs,
            events,
            records_lost,
        },
        diverged,
    ))
}
