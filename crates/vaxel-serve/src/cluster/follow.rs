//! A standby: follows the journal stream with an ordered consumer and applies every entry
//! to its own engine (so that a take-over replays only the last few), while serving the
//! engine handle's requests: reads from its engine, writes refused with the active's
//! address.

use super::logs::Logs;
use super::stream::{KIND, KIND_TAKEOVER};
use super::{Role, nats};
use crate::clock::ClockMode;
use crate::engine_task::{Inbox, Published, Request};
use crate::journal::{self, Entry};
use crate::machine::Machine;
use crate::recovery;
use anyhow::Context as _;
use async_nats::jetstream::{consumer, stream};
use std::sync::Arc;
use std::time::Duration;
use vaxel_core::EngineError;

/// The engine built from the stream so far, and this node's call-record and event-log
/// files kept up with it.
pub struct Follower {
    /// `None` until the stream's first entry (its start) is applied.
    pub machine: Option<Machine>,
    /// The last stream sequence applied.
    pub applied: u64,
    outs: Vec<crate::machine::Made>,
    /// This node's files: every node writes every record and event the journal
    /// produces, in the journal's order, so each node's files are a whole copy.
    pub logs: Logs,
}

impl Follower {
    /// A follower without an engine yet (the stream's start builds one, or a checkpoint's
    /// is given it), writing into `logs`.
    pub fn new(logs: Logs) -> Follower {
        Follower {
            machine: None,
            applied: 0,
            outs: Vec::new(),
            logs,
        }
    }

    /// Applies the message at `seq`. Entries that do not decode stop the node, naming
    /// the sequence: nothing is skipped.
    pub fn apply(&mut self, seq: u64, payload: &[u8], stream: &str) -> anyhow::Result<()> {
        let entries = journal::decode_records(payload).map_err(|e| {
            anyhow::anyhow!(
                "journal stream {stream}, sequence {seq}, does not decode ({e}): stopping \
                 (nothing is skipped; see docs/operations.md, \"Cluster mode\")"
            )
        })?;
        for e in entries {
            match (&mut self.machine, e) {
                (None, Entry::Start { at, config, .. }) => {
                    let site = recovery::load(&config, "start")?;
                    self.machine = Some(Machine::new(config.into(), site, at));
                }
                (None, _) => anyhow::bail!(
                    "journal stream {stream}, sequence {seq}: an entry before the stream's start"
                ),
                (Some(m), e) => {
                    if !recovery::replay_entry(m, e, &mut self.outs)
                        .with_context(|| format!("journal stream {stream}, sequence {seq}"))?
                    {
                        anyhow::bail!("journal stream {stream}, sequence {seq}: a second start");
                    }
                    // Records and events go to this node's files, each entry's in the
                    // site's zone after it (as recovery files them); commands are the
                    // active's to send.
                    let tz = &m.engine.site().timezone;
                    for o in self.outs.drain(..) {
                        self.logs.write_made(o, tz)?;
                    }
                }
            }
        }
        self.logs.flush()?;
        self.applied = seq;
        Ok(())
    }
}

/// The stream's messages from `from` on, in order. Refusals are retried as at start
/// ([`nats::patiently`]): a node started just after a partition healed may be connected to
/// a server still catching up with the others (issue 15, `tests/serve_cluster_partition.rs`:
/// such a node exited at start with "JetStream system temporarily unavailable").
pub async fn subscribe(
    stream: &stream::Stream,
    from: u64,
    lease: Duration,
) -> anyhow::Result<consumer::pull::Ordered> {
    nats::patiently("cannot follow the journal stream yet: retrying", || {
        follow_from(stream, from, lease)
    })
    .await
}

/// How long one pull of the journal stream waits for messages. The client asks for an
/// idle heartbeat every half of it and makes the consumer again after four heartbeats
/// missed, so a consumer on a server gone silent is replaced within about four leases: at
/// the client's default (30 s) a node taking over waited a minute for the journal's end.
fn pull_expiry(lease: Duration) -> Duration {
    (lease * 2).max(Duration::from_secs(1))
}

/// One try of [`subscribe`].
async fn follow_from(
    stream: &stream::Stream,
    from: u64,
    lease: Duration,
) -> anyhow::Result<consumer::pull::Ordered> {
    let c = stream
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            max_expires: pull_expiry(lease),
            ..Default::default()
        })
        .await
        .context("cannot follow the journal stream")?;
    c.messages()
        .await
        .context("cannot follow the journal stream")
}

/// Applies one message from the consumer.
pub fn on_message(
    f: &mut Follower,
    msg: &async_nats::jetstream::Message,
    stream: &str,
    role: &Role,
) -> anyhow::Result<()> {
    let info = msg
        .info()
        .map_err(|e| anyhow::anyhow!("a journal message without its metadata: {e}"))?;
    let (seq, pending) = (info.stream_sequence, info.pending);
    if seq <= f.applied {
        return Ok(());
    }
    if seq != f.applied + 1 {
        anyhow::bail!(
            "journal stream {stream}: sequence {seq} follows {} (a gap): stopping",
            f.applied
        );
    }
    let takeover = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(KIND))
        .is_some_and(|k| k.as_str() == KIND_TAKEOVER);
    if takeover {
        tracing::info!(seq, "journal: a node took over");
    }
    f.apply(seq, &msg.payload, stream)?;
    role.status.applied(seq, pending);
    Ok(())
}

/// Answers a request of the engine handle as a standby (reads at `clock`'s time, as the
/// active's).
pub fn on_request(f: &Follower, r: Request, role: &Role, clock: ClockMode) {
    let refusal = || {
        EngineError::InvalidState(format!(
            "not_active: {}",
            role.not_active().unwrap_or_default()
        ))
    };
    match r {
        Request::Snapshot(tx) => {
            if let Some(m) = &f.machine {
                let snap = Arc::new(m.engine.snapshot_at(clock.now(m.engine.now())));
                let _ = tx.send(Published::new(f.applied, snap));
            }
        }
        Request::Directory(q, tx) => {
            if let Some(m) = &f.machine {
                let _ = tx.send(m.engine.directory(&q));
            }
        }
        Request::Apply(_, tx) | Request::ApplyToCall { tx, .. } => {
            let _ = tx.send(Err(refusal()));
        }
        Request::Reload(_, tx) => {
            let _ = tx.send(Err(crate::engine_task::ReloadError::Refused(refusal())));
        }
        // Connections are refused before `hello` on a standby.
        Request::Hello { kill, .. } => kill.cancel(),
        Request::Batch { .. } | Request::Closed { .. } => {}
    }
}

/// Publishes the standby's state for the event streams and `/metrics`.
pub fn publish(f: &Follower, inbox: &Inbox, clock: ClockMode) {
    let Some(m) = &f.machine else { return };
    let now = clock.now(m.engine.now());
    let version = f.applied;
    inbox.changes.send_replace(version);
    inbox.published.send_replace(Some(Published::new(
        version,
        Arc::new(m.engine.snapshot_at(now)),
    )));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use vaxel_core::Timestamp;

    /// A follower writing its logs in `dir` (a test's [`crate::scratch::fresh_dir`], kept
    /// for as long as the follower).
    fn follower(dir: &Path) -> Follower {
        Follower::new(Logs::open(dir).unwrap_or_else(|e| panic!("{e:#}")))
    }

    fn start() -> Vec<u8> {
        let mut b = Vec::new();
        Entry::Start {
            at: Timestamp(1_000),
            config: vaxel_config::STOCKHOLM.to_owned(),
            cdr: None,
            events: None,
        }
        .encode(&mut b);
        b
    }

    /// Issue 15: a journal message that does not decode stops the standby with its stream
    /// sequence named; it is never skipped, and nothing after it is applied.
    #[test]
    fn an_undecodable_message_stops_naming_its_sequence() {
        let dir = crate::scratch::fresh_dir("follow-undecodable");
        let mut f = follower(dir.path());
        assert!(f.apply(1, &start(), "vaxel_journal").is_ok());
        let mut next = Vec::new();
        Entry::Advance {
            at: Timestamp(2_000),
        }
        .encode(&mut next);
        let last = next.len() - 1;
        next[last] ^= 0x20;
        let e = f
            .apply(2, &next, "vaxel_journal")
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(
            e.contains("journal stream vaxel_journal, sequence 2, does not decode"),
            "{e}"
        );
        assert_eq!(f.applied, 1);
    }

    /// The stream's first message must start it: an entry before a start is refused.
    #[test]
    fn entries_before_the_start_are_refused() {
        let dir = crate::scratch::fresh_dir("follow-before-start");
        let mut f = follower(dir.path());
        let mut b = Vec::new();
        Entry::Advance {
            at: Timestamp(2_000),
        }
        .encode(&mut b);
        let e = f.apply(1, &b, "s").err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("an entry before the stream's start")),
            "{e:?}"
        );
    }

    #[test]
    fn a_pull_waits_two_leases_and_at_least_a_second() {
        let ms = Duration::from_millis;
        assert_eq!(pull_expiry(ms(1000)), ms(2000));
        assert_eq!(pull_expiry(ms(60_000)), ms(120_000));
        assert_eq!(pull_expiry(ms(200)), ms(1000));
    }
}
