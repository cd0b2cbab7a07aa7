//! The journal on the JetStream stream: the active's committer, in place of the commit
//! thread's local file (the engine task sees the same [`Commit`]/[`Committed`] seam).
//!
//! Group commit as with a file: the commits waiting are joined into one message (their
//! journal records, the local format, back to back) and published once; when JetStream
//! acknowledges it (a majority of the replicas has it) the engine task releases their
//! acks and commands, and only then are their call records and events written to this
//! node's data dir. Every publish carries `Nats-Expected-Last-Sequence`: the sequence this node
//! appended or took over at last. If another node appended meanwhile (it took over), the
//! stream refuses the message and this node stops at once, having acknowledged nothing of
//! it (*fencing*). A publish that fails otherwise (NATS re-electing the stream's leader,
//! a server lost) is retried, with the same message id (a retry of a message that did
//! land is answered as a duplicate), for as long as this node holds the lease, so that the
//! active rides out the NATS cluster's own re-election; once the lease is lost it gives
//! up, acknowledging nothing more.
//!
//! A commit carrying a checkpoint ends its group: once that message is acknowledged and
//! its rows written, the checkpoint goes to the writer of `checkpoints.rs`, marked with
//! the message's sequence and the rows produced up to it.

use super::Status;
use super::checkpoints::{Job, Mark};
use super::logs::Logs;
use crate::commit::{Commit, Committed};
use crate::observe::Observer;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Bytes of journal joined into one message at most (a NATS message is at most 1 MiB by
/// default; one commit larger than that is published alone and may be refused).
pub const MESSAGE_BYTES: usize = 512 * 1024;

/// The header naming what a message of the stream is: [`KIND_ENTRIES`] or [`KIND_TAKEOVER`].
pub const KIND: &str = "Vaxel-Kind";
pub const KIND_ENTRIES: &str = "entries";
/// A node took over: the header [`NODE`] says which (its [`super::NodeInfo`] as JSON).
pub const KIND_TAKEOVER: &str = "takeover";
pub const NODE: &str = "Vaxel-Node";

/// Why an append failed.
#[derive(Debug)]
pub enum AppendError {
    /// The stream moved past the expected sequence: another node appended.
    Fenced { expected: u64 },
    /// JetStream did not acknowledge within the time allowed.
    Unavailable(String),
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppendError::Fenced { expected } => write!(
                f,
                "fenced: the journal stream has moved past sequence {expected} (another node \
                 took over); this node stops acknowledging and steps down"
            ),
            AppendError::Unavailable(e) => write!(
                f,
                "JetStream did not acknowledge the journal ({e}) and the lease is lost; \
                 this node stops acknowledging and steps down"
            ),
        }
    }
}

/// Appends to the stream as one writer.
pub struct Appender {
    pub js: jetstream::Context,
    pub subject: String,
    /// This node's id (in message ids).
    pub node: String,
    /// The stream's last sequence as this node knows it: every append expects it.
    pub last: u64,
    /// How long one publish may wait for its ack (the lease).
    pub patience: Duration,
    /// Cancelled once this node no longer holds the lease: appends stop being retried.
    pub lease_lost: tokio_util::sync::CancellationToken,
    pub status: Arc<Status>,
}

impl Appender {
    /// Publishes one message expecting the stream's last sequence to be `self.last`;
    /// returns its sequence (then `self.last`).
    pub async fn append(
        &mut self,
        payload: Bytes,
        kind: &str,
        node: Option<&str>,
    ) -> Result<u64, AppendError> {
        let id = format!("{}:{}", self.node, self.last);
        let mut warned = false;
        loop {
            let mut msg = PublishMessage::build()
                .payload(payload.clone())
                .expected_last_sequence(self.last)
                .message_id(&id)
                .header(KIND, kind);
            if let Some(n) = node {
                msg = msg.header(NODE, n);
            }
            let r = tokio::time::timeout(self.patience, async {
                self.js.send_publish(self.subject.clone(), msg).await?.await
            })
            .await;
            let why = match r {
                Ok(Ok(ack)) => {
                    self.last = ack.sequence;
                    self.status.applied(ack.sequence, 0);
                    return Ok(ack.sequence);
                }
                Ok(Err(e)) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    self.status.fenced();
                    return Err(AppendError::Fenced {
                        expected: self.last,
                    });
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_owned(),
            };
            if self.lease_lost.is_cancelled() {
                return Err(AppendError::Unavailable(why));
            }
            if !warned {
                tracing::warn!(error = %why, "journal append failed: retrying while the lease is held");
                warned = true;
            }
            tokio::select! {
                () = self.lease_lost.cancelled() => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }
}

/// Where the active's committer writes: this node's call-record and event-log files
/// (whose counts of the rows the stream has produced mark its checkpoints), and the
/// checkpoint writer.
pub struct Outputs {
    pub logs: Logs,
    pub checkpoints: mpsc::Sender<Job>,
    /// The daemon's journal figures: here the stream is the journal, and an append is
    /// durable once JetStream acknowledged it.
    pub observer: Arc<dyn Observer>,
}

/// The active's committer: runs until `rx` closes or an append fails (reported as
/// [`Committed::Failed`]). Returns whether every write succeeded.
pub async fn run(
    mut appender: Appender,
    mut rx: mpsc::Receiver<Commit>,
    done: mpsc::UnboundedSender<Committed>,
    out: Outputs,
) -> bool {
    let Outputs {
        mut logs,
        checkpoints,
        observer,
    } = out;
    let mut group: Vec<Commit> = Vec::new();
    let mut ok = true;
    while let Some(first) = rx.recv().await {
        let mut bytes = first.journal.len();
        group.push(first);
        // A checkpoint ends a group: its state is that of the message it ends.
        while bytes < MESSAGE_BYTES && group.last().is_some_and(|c| c.rotate.is_none()) {
            match rx.try_recv() {
                Ok(c) => {
                    bytes += c.journal.len();
                    group.push(c);
                }
                Err(_) => break,
            }
        }
        if bytes > 0 {
            let mut payload = Vec::with_capacity(bytes);
            for c in &group {
                payload.extend_from_slice(&c.journal);
            }
            let started = Instant::now();
            if let Err(e) = appender
                .append(Bytes::from(payload), KIND_ENTRIES, None)
                .await
            {
                tracing::error!("{e}");
                let _ = done.send(Committed::Failed(e.to_string()));
                ok = false;
                break;
            }
            let entries = group.iter().map(|c| c.entries).sum();
            observer.commit(entries, bytes, started.elapsed());
        }
        let last = group.last().map_or(0, |c| c.id);
        let _ = done.send(Committed::Upto(last));
        // Call records and events after the journal, as with a file.
        let written =
            tokio::task::block_in_place(|| logs.write_commits(&group).and_then(|()| logs.flush()));
        if let Err(e) = written {
            tracing::error!(error = %format!("{e:#}"), "cannot write the call records or events");
            let _ = done.send(Committed::Failed(format!(
                "cannot write the call records or events: {e:#}"
            )));
            ok = false;
            break;
        }
        // The checkpoint covers the message just acknowledged (or, with no journal of
        // its own, the last one): the writer stores it off this path.
        if let Some(rot) = group.last_mut().and_then(|c| c.rotate.take()) {
            let job = Job {
                mark: Mark {
                    seq: appender.last,
                    rows: logs.produced(),
                },
                day_rows: logs.day_rows(),
                checkpoint: rot.checkpoint,
            };
            if checkpoints.try_send(job).is_err() {
                tracing::warn!(
                    seq = appender.last,
                    "checkpoint skipped: the previous one is still being stored"
                );
            }
        }
        group.clear();
    }
    let synced = tokio::task::block_in_place(|| logs.sync());
    if let Err(e) = synced {
        tracing::error!(error = %format!("{e:#}"), "final sync of the call records and events failed");
        ok = false;
    }
    ok
}
