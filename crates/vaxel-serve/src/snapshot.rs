//! Checkpoint snapshots: `snapshot-<epoch>.json` in the data dir, the state a journal epoch
//! starts from (docs/operations.md, "Checkpoints").
//!
//! A snapshot is one JSON object ([`SnapshotFile`]): the engine's state
//! ([`vaxel_core::EngineState`], the site excluded), what [`Machine`](super::machine::Machine)
//! keeps beside it (which platform owns each call, each platform's command numbers and
//! unacknowledged commands: `outbox`, absent in snapshots written before protocol
//! version 2), the configuration text in force (the
//! site is rebuilt from it) and where the call-record files stood ([`CdrMark`]: the records
//! of the epoch are the lines after it, so none is written twice).
//!
//! Written by the commit thread before the epoch's journal file exists: to a temporary
//! file, fsynced, renamed, directory fsynced. The epoch's first journal entry
//! ([`Entry::Checkpoint`](super::journal::Entry::Checkpoint)) names it, so a snapshot
//! without its journal file (a crash in between) is never used.

use crate::journal::{self, CdrMark, TMP_SUFFIX};
use crate::outbox::Log;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vaxel_core::site::Text;
use vaxel_core::{CallId, EngineState, Timestamp};

/// The snapshot format's version (a newer daemon may read older ones).
pub const FORMAT: u32 = 1;

/// One snapshot file's content.
#[derive(Debug)]
pub struct SnapshotFile {
    pub format: u32,
    /// The epoch this snapshot starts.
    pub epoch: u64,
    /// The engine's time.
    pub at: Timestamp,
    /// The configuration text in force (the site is rebuilt from it).
    pub config: Arc<str>,
    /// Where the call-record files stood: the epoch's records are the lines after it.
    pub cdr: Option<CdrMark>,
    /// Where the event-log files stood (the same rule as `cdr`).
    pub events: Option<CdrMark>,
    /// The platform owning each call the engine holds, sorted by call.
    pub owners: Vec<(CallId, Text)>,
    pub engine: EngineState,
    /// Each platform's command numbers and kept commands.
    pub outbox: Vec<(Text, Log)>,
    /// In cluster mode, the call records and events of each recent day the stream had
    /// produced up to the checkpoint (`cluster/logs.rs`): a node starting from it numbers
    /// its files' lines after them, as a whole file would (docs/postgres.md). Empty
    /// elsewhere and in checkpoints written before it was recorded.
    pub day_rows: DayRows,
}

/// Rows of each kind per site-local day (`YYYY-MM-DD`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRows {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub records: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, u64>,
}

impl DayRows {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.events.is_empty()
    }
}

/// What the engine task hands the commit thread for a checkpoint: the state after the
/// last input of the commit that carries it.
#[derive(Debug)]
pub struct Checkpoint {
    pub at: Timestamp,
    pub config: Arc<str>,
    pub owners: Vec<(CallId, Text)>,
    pub engine: EngineState,
    pub outbox: Vec<(Text, Log)>,
}

impl Checkpoint {
    /// The file's content for `epoch`, with the records mark.
    #[must_use]
    pub fn into_file(
        self,
        epoch: u64,
        cdr: Option<CdrMark>,
        events: Option<CdrMark>,
    ) -> SnapshotFile {
        SnapshotFile {
            format: FORMAT,
            epoch,
            at: self.at,
            config: self.config,
            cdr,
            events,
            owners: self.owners,
            engine: self.engine,
            outbox: self.outbox,
            day_rows: DayRows::default(),
        }
    }
}

/// The name of the snapshot starting epoch `n`.
#[must_use]
pub fn file_name(epoch: u64) -> String {
    format!("snapshot-{epoch:08}.json")
}

/// The snapshot files in `dir`, by epoch, oldest first; leftover temporary files (a crash
/// while one was written) are listed with `tmp = true`.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf, bool)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let (name, tmp) = match name.strip_suffix(TMP_SUFFIX) {
            Some(n) => (n, true),
            None => (name, false),
        };
        let Some(n) = name
            .strip_prefix("snapshot-")
            .and_then(|r| r.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((n, e.path(), tmp));
    }
    out.sort();
    Ok(out)
}

/// The file as written. Floats (a group's handle-time average) read back to the very same
/// bits: serde_json's `float_roundtrip` feature is on in the workspace, and `encode`
/// checks the round trip anyway.
#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    epoch: u64,
    at: Timestamp,
    config: Arc<str>,
    cdr: Option<CdrMark>,
    /// Absent in snapshots written before the event log existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    events: Option<CdrMark>,
    owners: Vec<(CallId, Text)>,
    engine: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    outbox: Vec<(Text, Log)>,
    #[serde(default, skip_serializing_if = "DayRows::is_empty")]
    day_rows: DayRows,
}

/// Serializes `snap` and checks that it reads back to exactly the same state (a state
/// that would not come back bit for bit is refused, and the caller skips the checkpoint).
pub fn encode(snap: &SnapshotFile) -> anyhow::Result<Vec<u8>> {
    let engine = serde_json::to_value(&snap.engine).context("cannot serialize the engine state")?;
    let disk = OnDisk {
        format: snap.format,
        epoch: snap.epoch,
        at: snap.at,
        config: snap.config.clone(),
        cdr: snap.cdr.clone(),
        events: snap.events.clone(),
        owners: snap.owners.clone(),
        engine,
        outbox: snap.outbox.clone(),
        day_rows: snap.day_rows.clone(),
    };
    let bytes = serde_json::to_vec(&disk).context("cannot serialize the engine state")?;
    let back = decode(&bytes).context("the serialized engine state does not read back")?;
    let b = serde_json::to_value(&back.engine).context("cannot serialize the engine state")?;
    anyhow::ensure!(
        disk.engine == b
            && back.owners == snap.owners
            && back.cdr == snap.cdr
            && back.events == snap.events
            && back.day_rows == snap.day_rows
            && serde_json::to_value(&back.outbox).ok() == serde_json::to_value(&snap.outbox).ok(),
        "the engine state does not read back exactly from JSON"
    );
    Ok(bytes)
}

/// Parses a snapshot file's bytes.
pub fn decode(bytes: &[u8]) -> anyhow::Result<SnapshotFile> {
    let disk: OnDisk = serde_json::from_slice(bytes)?;
    let engine: EngineState = serde_json::from_value(disk.engine)?;
    Ok(SnapshotFile {
        format: disk.format,
        epoch: disk.epoch,
        at: disk.at,
        config: disk.config,
        cdr: disk.cdr,
        events: disk.events,
        owners: disk.owners,
        engine,
        outbox: disk.outbox,
        day_rows: disk.day_rows,
    })
}

/// Writes `bytes` as epoch `epoch`'s snapshot, durably: a temporary file, fsynced, renamed,
/// the directory fsynced. Returns the path.
pub fn write(dir: &Path, epoch: u64, bytes: &[u8]) -> io::Result<PathBuf> {
    journal::replace_durably(dir, &file_name(epoch), bytes)
}

/// Reads a snapshot file, checking it against the checksum its journal recorded (when it
/// did): a damaged snapshot is refused, never restored from.
pub fn read(path: &Path, crc32: Option<u32>) -> anyhow::Result<SnapshotFile> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .with_context(|| format!("cannot read the snapshot {}", path.display()))?;
    if let Some(expected) = crc32 {
        let actual = journal::crc32(&data);
        anyhow::ensure!(
            actual == expected,
            "the snapshot {} is damaged: its checksum is {actual:08x}, its journal recorded \
             {expected:08x}; restore the data dir from a backup (docs/operations.md, Backup)",
            path.display()
        );
    }
    let snap = decode(&data)
        .with_context(|| format!("the snapshot {} does not decode", path.display()))?;
    anyhow::ensure!(
        snap.format <= FORMAT,
        "the snapshot {} has format {}, newer than this daemon's {FORMAT}",
        path.display(),
        snap.format
    );
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_core::{Engine, Input};

    #[test]
    fn a_snapshot_round_trips_and_the_engine_goes_on_from_it() {
        let Ok(v) = vaxel_config::load_site(vaxel_config::STOCKHOLM) else {
            panic!("the built-in city validates");
        };
        let site = Arc::new(v.site);
        let mut e = Engine::new(site.clone(), Timestamp(1_772_434_800_000));
        let agent = site.agents[0].id.clone();
        let _ = e.handle(
            Timestamp(1_772_434_801_000),
            Input::AgentLogin {
                agent,
                extension: None,
            },
        );
        while e.poll_output().is_some() {}
        let snap = SnapshotFile {
            format: FORMAT,
            epoch: 3,
            at: e.now(),
            config: vaxel_config::STOCKHOLM.into(),
            cdr: Some(CdrMark {
                file: "cdr-2026-03-02.csv".into(),
                len: 99,
                earlier: vec![("cdr-2026-03-01.csv".into(), 7)],
            }),
            events: Some(CdrMark {
                file: "events-2026-03-02.csv".into(),
                len: 120,
                earlier: Vec::new(),
            }),
            owners: vec![("c1".into(), "pbx".into())],
            engine: e.save(),
            outbox: Vec::new(),
            day_rows: DayRows {
                records: BTreeMap::from([("2026-03-02".into(), 12)]),
                events: BTreeMap::new(),
            },
        };
        let bytes = encode(&snap).map_err(|e| format!("{e:#}"));
        let Ok(bytes) = bytes else {
            panic!("{bytes:?}");
        };
        let tmp = crate::scratch::fresh_dir("snapshot");
        let dir = tmp.path();
        let path = write(dir, 3, &bytes).ok();
        assert_eq!(path, Some(dir.join("snapshot-00000003.json")));
        let listed = list(dir).ok();
        assert_eq!(listed.map(|l| l.len()), Some(1));
        let crc = journal::crc32(&bytes);
        let back = read(&dir.join(file_name(3)), Some(crc)).map_err(|e| format!("{e:#}"));
        let Ok(back) = back else {
            panic!("{back:?}");
        };
        assert_eq!((back.epoch, back.at, back.owners.len()), (3, e.now(), 1));
        assert_eq!(back.day_rows, snap.day_rows);
        let restored = Engine::restore(site, back.engine);
        assert!(restored.is_ok());

        // One changed digit still decodes, but no longer matches its checksum.
        let mut damaged = bytes.clone();
        if let Some(d) = damaged.iter().rposition(u8::is_ascii_digit) {
            damaged[d] = if damaged[d] == b'9' {
                b'8'
            } else {
                damaged[d] + 1
            };
        }
        assert!(
            decode(&damaged).is_ok(),
            "still a valid snapshot by its shape"
        );
        fs::write(dir.join(file_name(3)), &damaged).ok();
        let err = read(&dir.join(file_name(3)), Some(crc))
            .map(|_| ())
            .map_err(|e| format!("{e:#}"));
        assert!(
            err.as_ref().is_err_and(|e| e.contains("is damaged")),
            "{err:?}"
        );
    }
}
