//! Checkpoints in cluster mode (docs/operations.md, "Cluster mode"): the engine's snapshot,
//! the same as single-node mode's (`snapshot.rs`), as one object of the JetStream object
//! store `NAME_checkpoints`, so that a node starting needs no disk of another node.
//!
//! An object's name is its [`Mark`]: the stream sequence whose state it holds and how many
//! call records and events the stream had produced up to it (`logs.rs`: a node restarting
//! with its own files picks the checkpoint its files are past, so that it neither doubles
//! nor drops a row).
//! The active writes one only once its sequence is acknowledged, keeps the newest
//! [`KEEP`] and then purges the stream below the oldest kept: the stream stays bounded, and
//! the `start` entry's content (the site file's text) lives on in every checkpoint.

use super::Status;
use super::follow::Follower;
use super::logs::{Counts, Logs};
use super::nats::{self, Nats};
use crate::machine::Machine;
use crate::snapshot::{self, Checkpoint, DayRows};
use anyhow::Context as _;
use async_nats::jetstream::object_store::{ObjectInfo, ObjectStore};
use async_nats::jetstream::stream;
use futures_util::StreamExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::AsyncReadExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Checkpoints kept in the store: the newest, and two before it for a node whose files
/// are a little behind (and for a checkpoint that turns out damaged, see docs).
pub const KEEP: usize = 3;

/// A checkpoint object larger than this is refused at load (the built-in city's is about
/// 110 KB; a site's a few MB at most).
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// How long one write to or read from the store may take.
const PATIENCE: Duration = Duration::from_secs(10);

/// Where a node may start following the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    /// The last stream sequence the state includes (0: the stream's very start).
    pub seq: u64,
    /// Call records and events the stream had produced up to `seq`.
    pub rows: Counts,
}

impl Mark {
    /// The stream's start: no checkpoint, every message from the first.
    pub const ORIGIN: Mark = Mark {
        seq: 0,
        rows: Counts {
            records: 0,
            events: 0,
        },
    };

    /// The object's name: the three numbers zero-padded, so that names sort as marks do.
    #[must_use]
    pub fn name(self) -> String {
        format!(
            "ckpt-{:020}-{:020}-{:020}",
            self.seq, self.rows.records, self.rows.events
        )
    }

    /// The mark an object's name stands for; `None` for any other name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Mark> {
        let mut parts = name.strip_prefix("ckpt-")?.split('-');
        let mut number = || {
            let s = parts.next()?;
            (s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        let mark = Mark {
            seq: number()?,
            rows: Counts {
                records: number()?,
                events: number()?,
            },
        };
        parts.next().is_none().then_some(mark)
    }
}

/// Where a node whose files reach the stream's rows `reached` starts, among `starts`: the
/// newest whose rows its files hold already (it writes those after them), else the newest
/// (a new node, or files the trimmed stream has left behind: rows before it are not
/// written).
#[must_use]
pub fn choose(starts: &[Mark], reached: Counts) -> Option<Mark> {
    let newest = starts.iter().max().copied();
    starts
        .iter()
        .filter(|m| reached.holds(m.rows))
        .max()
        .copied()
        .filter(|m| !reached.is_zero() || Some(*m) == newest)
        .or(newest)
}

/// The marks of the checkpoints in `store`, oldest first. Objects not named as checkpoints
/// are left alone (and said once).
pub async fn marks(store: &ObjectStore) -> anyhow::Result<Vec<Mark>> {
    let read = async {
        let mut list = store.list().await?;
        let mut out = Vec::new();
        while let Some(info) = list.next().await {
            let info = info?;
            match Mark::parse(&info.name) {
                Some(m) => out.push(m),
                None => tracing::warn!(
                    object = %info.name,
                    "an object of the checkpoint store that is not a checkpoint: left alone"
                ),
            }
        }
        out.sort();
        anyhow::Ok(out)
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")))
        .context("cannot list the checkpoints")
}

/// The engine restored from the checkpoint `mark`, its rows per day, and the object's size
/// and age. A
/// checkpoint that cannot be read or does not decode is an error naming it: a node never
/// starts from anything else silently.
pub async fn load(
    store: &ObjectStore,
    bucket: &str,
    mark: Mark,
) -> anyhow::Result<(Machine, DayRows, usize, SystemTime)> {
    let name = mark.name();
    let what = || format!("the checkpoint {name} of {bucket}");
    let read = async {
        let mut object = store.get(&name).await?;
        let made = stored_at(&object.info);
        anyhow::ensure!(
            (object.info.size as u64) <= MAX_BYTES,
            "it is {} bytes, more than {MAX_BYTES}",
            object.info.size
        );
        let mut bytes = Vec::with_capacity(object.info.size);
        (&mut object)
            .take(MAX_BYTES)
            .read_to_end(&mut bytes)
            .await?;
        anyhow::Ok((bytes, made))
    };
    let (bytes, made) = tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")))
        .with_context(|| format!("cannot read {}", what()))?;
    let snap = snapshot::decode(&bytes).with_context(|| {
        format!(
            "{} does not decode: stopping (delete it to start from an older one; see \
             docs/operations.md, \"Cluster mode\")",
            what()
        )
    })?;
    anyhow::ensure!(
        snap.format <= snapshot::FORMAT && snap.epoch == mark.seq,
        "{} is not one this daemon wrote for sequence {} (format {}, sequence {}): stopping",
        what(),
        mark.seq,
        snap.format,
        snap.epoch
    );
    let site = crate::recovery::load(&snap.config, "checkpoint's")?;
    let machine = Machine::restore(snap.config, site, snap.engine, snap.owners, snap.outbox)
        .with_context(|| format!("cannot restore the engine from {}", what()))?;
    Ok((machine, snap.day_rows, bytes.len(), made))
}

/// One checkpoint to write: the state after the message `mark.seq`, acknowledged.
#[derive(Debug)]
pub struct Job {
    pub mark: Mark,
    /// The rows up to `mark` per recent day ([`Logs::day_rows`]).
    pub day_rows: DayRows,
    pub checkpoint: Box<Checkpoint>,
}

/// Jobs waiting at most: a checkpoint due while one is still written is skipped (the next
/// day's, or `--checkpoint-every`'s, comes).
pub const QUEUE: usize = 1;

/// Where a deleted checkpoint leaves its tombstone (a metadata message saying it was
/// deleted, kept by the store for good): purged, so that the store holds the kept
/// checkpoints only, however many were made.
pub struct Tombstones {
    /// The stream under the store (`OBJ_<bucket>`).
    pub stream: stream::Stream,
    pub bucket: String,
}

impl Tombstones {
    async fn purge(&self, mark: Mark) -> anyhow::Result<()> {
        let subject = metadata_subject(&self.bucket, mark);
        self.stream.purge().filter(subject).await?;
        Ok(())
    }
}

/// The subject of `mark`'s metadata in `bucket`: the name in URL-safe base64, as
/// async-nats (and every NATS client) writes it.
fn metadata_subject(bucket: &str, mark: Mark) -> String {
    use base64::Engine as _;
    let name = base64::engine::general_purpose::URL_SAFE.encode(mark.name());
    format!("$O.{bucket}.M.{name}")
}

/// When the store says an object was stored (the epoch when it does not say).
fn stored_at(info: &ObjectInfo) -> SystemTime {
    info.modified.map_or(SystemTime::UNIX_EPOCH, |t| {
        SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp().max(0).unsigned_abs())
    })
}

/// A standby's view of the checkpoints the active stores while it follows: each one new
/// in the store sets this node's `vaxel_cluster_checkpoint_*` figures, which would
/// otherwise stay those of the checkpoint it started from (an alert on their age would
/// fire on every standby). Runs until `stop` (at take-over the writer sets them) or the
/// store's watch ends.
pub async fn watch(store: ObjectStore, status: Arc<Status>, stop: CancellationToken) {
    let mut stored = match store.watch().await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the checkpoint store: this standby's checkpoint figures stay those it started from");
            return;
        }
    };
    let mut warned = false;
    loop {
        let object = tokio::select! {
            () = stop.cancelled() => return,
            object = stored.next() => match object {
                Some(o) => o,
                None => return,
            },
        };
        match object {
            Ok(info) if !info.deleted => {
                if let Some(mark) = Mark::parse(&info.name) {
                    status.checkpoint(mark.seq, info.size, stored_at(&info));
                }
            }
            Ok(_) => {}
            Err(e) if !warned => {
                tracing::warn!(error = %e, "watching the checkpoint store");
                warned = true;
            }
            Err(_) => {}
        }
    }
}

/// The active's checkpoint writer: each job's snapshot into the store, then the store
/// pruned to [`KEEP`] and the stream purged below the oldest kept. Failures are warnings:
/// the stream still holds everything after the last checkpoint that was made.
pub async fn write(
    store: ObjectStore,
    tombstones: Tombstones,
    stream: stream::Stream,
    mut rx: mpsc::Receiver<Job>,
    status: Arc<Status>,
) {
    while let Some(job) = rx.recv().await {
        let seq = job.mark.seq;
        let started = std::time::Instant::now();
        match write_one(&store, &tombstones, &stream, job).await {
            Ok((bytes, purged_below)) => {
                status.checkpoint(seq, bytes, SystemTime::now());
                tracing::info!(
                    seq,
                    bytes,
                    purged_below,
                    ms = started.elapsed().as_millis() as u64,
                    "checkpoint: snapshot stored, the journal stream trimmed below the oldest kept"
                );
            }
            Err(e) => tracing::warn!(
                seq,
                error = %format!("{e:#}"),
                "checkpoint not completed (stored or not): the journal stream still holds \
                 everything after the oldest checkpoint kept"
            ),
        }
    }
}

async fn write_one(
    store: &ObjectStore,
    tombstones: &Tombstones,
    stream: &stream::Stream,
    job: Job,
) -> anyhow::Result<(usize, u64)> {
    let Job {
        mark,
        day_rows,
        checkpoint,
    } = job;
    // No records marks: each node's files are its own (their counts are in the name).
    let mut file = checkpoint.into_file(mark.seq, None, None);
    file.day_rows = day_rows;
    let bytes = tokio::task::block_in_place(|| snapshot::encode(&file))?;
    let size = bytes.len();
    let within = |what: &'static str| {
        move |r: Result<anyhow::Result<()>, tokio::time::error::Elapsed>| {
            r.unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")))
                .context(what)
        }
    };
    let put = async {
        store
            .put(mark.name().as_str(), &mut bytes.as_slice())
            .await?;
        anyhow::Ok(())
    };
    within("cannot store the snapshot")(tokio::time::timeout(PATIENCE, put).await)?;
    let kept = marks(store).await?;
    let old = kept.len().saturating_sub(KEEP);
    let prune = async {
        for m in &kept[..old] {
            store.delete(m.name()).await?;
            tombstones.purge(*m).await?;
        }
        anyhow::Ok(())
    };
    within("cannot delete older checkpoints")(tokio::time::timeout(PATIENCE, prune).await)?;
    let oldest = kept.get(old).copied().unwrap_or(mark);
    // Messages up to the oldest kept checkpoint's sequence are in it (and in the newer).
    let below = oldest.seq + 1;
    let purge = async {
        stream.purge().sequence(below).await?;
        anyhow::Ok(())
    };
    within("cannot trim the journal stream")(tokio::time::timeout(PATIENCE, purge).await)?;
    Ok((size, below))
}

/// This node's follower: restored from the checkpoint [`choose`] picks for where its
/// call-record and event-log files reach ([`Logs::reached`]), or at the stream's start
/// while the stream still begins there; its files then resume after that checkpoint's rows
/// ([`Logs::start_at`]). A stream trimmed past every checkpoint, or one that does not
/// decode, stops the node.
pub async fn follower(
    nats: &Nats,
    cluster: &str,
    data_dir: &Path,
    status: &Status,
) -> anyhow::Result<Follower> {
    let mut logs = Logs::open(data_dir)?;
    let reached = logs.reached();
    let bucket = nats::checkpoints_name(cluster);
    let stream = nats::stream_name(cluster);
    // Refusals are retried as the subscription's are (`follow::subscribe`): a node started
    // just after a partition healed may reach a server still catching up
    // (`tests/serve_cluster_partition.rs` saw "JetStream system temporarily unavailable").
    let (mut starts, state) = nats::patiently(
        "cannot read the checkpoints or the journal stream's state yet: retrying",
        || async {
            let starts = marks(&nats.checkpoints).await?;
            let state = tokio::time::timeout(PATIENCE, nats.stream.get_info())
                .await
                .map_err(|_| anyhow::anyhow!("timed out"))
                .and_then(|r| Ok(r?))
                .context("cannot read the journal stream's state")?
                .state;
            anyhow::Ok((starts, state))
        },
    )
    .await?;
    let (first, last) = (state.first_sequence, state.last_sequence);
    if first <= 1 {
        starts.push(Mark::ORIGIN);
    }
    let Some(mark) = choose(&starts, reached) else {
        anyhow::bail!(
            "the journal stream {stream} begins at sequence {first} and {bucket} holds no \
             checkpoint: the messages before are lost (see docs/operations.md, \"Cluster mode\")"
        );
    };
    if mark == Mark::ORIGIN {
        return Ok(Follower::new(logs));
    }
    // A stream deleted and made again under a store that was kept: its sequences are not
    // the checkpoints' (appends would never match the expected last sequence).
    anyhow::ensure!(
        mark.seq <= last,
        "the checkpoint {} of {bucket} is of sequence {}, past the journal stream {stream}'s \
         last ({last}): the stream is not the one it was made from; restore the stream, or \
         delete {bucket} too to start afresh",
        mark.name(),
        mark.seq
    );
    anyhow::ensure!(
        first <= mark.seq + 1,
        "the journal stream {stream} begins at sequence {first}, after the checkpoint {} \
         (sequence {}): the messages between are lost",
        mark.name(),
        mark.seq
    );
    let started = std::time::Instant::now();
    let (machine, day_rows, bytes, made) = load(&nats.checkpoints, &bucket, mark).await?;
    // The next rows written are the stream's numbers after `mark.rows`.
    let missing = logs.start_at(mark.rows, &day_rows)?;
    if reached.is_zero() {
        tracing::info!(
            seq = mark.seq,
            "a node without call records or events starts from the checkpoint: its files \
             hold the rows made after it"
        );
    } else if !missing.is_zero() {
        tracing::warn!(
            seq = mark.seq,
            records = missing.records,
            events = missing.events,
            "this node's call-record or event-log files are behind the oldest checkpoint the \
             trimmed stream can replay from: the rows between are not in them (another \
             node's files, or the report database, hold them)"
        );
    }
    tracing::info!(
        seq = mark.seq,
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "cluster: restored the engine from a checkpoint"
    );
    let mut f = Follower::new(logs);
    f.machine = Some(machine);
    f.applied = mark.seq;
    status.checkpoint(mark.seq, bytes, made);
    status.applied(mark.seq, 0);
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(seq: u64, records: u64, events: u64) -> Mark {
        Mark {
            seq,
            rows: c(records, events),
        }
    }

    fn c(records: u64, events: u64) -> Counts {
        Counts { records, events }
    }

    #[test]
    fn names_round_trip_and_sort_as_marks() {
        let a = m(7, 3, 12);
        assert_eq!(
            a.name(),
            "ckpt-00000000000000000007-00000000000000000003-00000000000000000012"
        );
        assert_eq!(Mark::parse(&a.name()), Some(a));
        let big = m(u64::MAX, 12_345, u64::MAX);
        assert_eq!(Mark::parse(&big.name()), Some(big));
        assert!(m(9, 100, 900).name() < m(10, 0, 0).name());
        for other in [
            "ckpt-7-3-12",
            "snapshot-00000001.json",
            "ckpt-00000000000000000007",
            "ckpt-00000000000000000007-00000000000000000003",
            "ckpt-0000000000000000000x-00000000000000000003-00000000000000000012",
            "ckpt-99999999999999999999-00000000000000000003-00000000000000000012",
            "ckpt-00000000000000000007-00000000000000000003-00000000000000000012-\
             00000000000000000001",
        ] {
            assert_eq!(Mark::parse(other), None, "{other}");
        }
    }

    /// The subject async-nats gives an object's metadata (`$O.<bucket>.M.<base64url name>`).
    #[test]
    fn a_tombstone_is_purged_from_its_objects_metadata_subject() {
        assert_eq!(
            metadata_subject("vaxel_checkpoints", m(7, 3, 12)),
            "$O.vaxel_checkpoints.M.\
             Y2twdC0wMDAwMDAwMDAwMDAwMDAwMDAwNy0wMDAwMDAwMDAwMDAwMDAwMDAwMy0wMDAwMDAwMDAwMDAwMDAwMDAxMg=="
        );
    }

    #[test]
    fn a_new_node_starts_from_the_newest() {
        let starts = [m(10, 4, 20), m(20, 9, 41), m(30, 15, 70)];
        assert_eq!(choose(&starts, c(0, 0)), Some(m(30, 15, 70)));
        // The stream untrimmed: still the newest (nothing to replay before it).
        let mut with_origin = starts.to_vec();
        with_origin.push(Mark::ORIGIN);
        assert_eq!(choose(&with_origin, c(0, 0)), Some(m(30, 15, 70)));
        assert_eq!(choose(&[], c(0, 0)), None);
        assert_eq!(choose(&[Mark::ORIGIN], c(0, 0)), Some(Mark::ORIGIN));
    }

    #[test]
    fn a_restarting_node_starts_where_its_files_hold_every_row() {
        let starts = [m(10, 4, 20), m(20, 9, 41), m(30, 15, 70)];
        // Files at 12 records and 50 events: checkpoint 20 and the rows after it are
        // written again only once.
        assert_eq!(choose(&starts, c(12, 50)), Some(m(20, 9, 41)));
        assert_eq!(choose(&starts, c(15, 70)), Some(m(30, 15, 70)));
        assert_eq!(choose(&starts, c(99, 999)), Some(m(30, 15, 70)));
        // Both kinds must be held: events behind checkpoint 30's pick checkpoint 20.
        assert_eq!(choose(&starts, c(15, 69)), Some(m(20, 9, 41)));
        assert_eq!(choose(&starts, c(8, 999)), Some(m(10, 4, 20)));
        // Files behind every checkpoint the trimmed stream keeps: the newest.
        assert_eq!(choose(&starts, c(2, 90)), Some(m(30, 15, 70)));
        // Untrimmed, the start covers any files, events alone too.
        assert_eq!(
            choose(&[Mark::ORIGIN, m(10, 4, 20)], c(2, 5)),
            Some(Mark::ORIGIN)
        );
        assert_eq!(
            choose(&[Mark::ORIGIN, m(10, 4, 20)], c(0, 5)),
            Some(Mark::ORIGIN)
        );
    }
}
