//! One node's life in cluster mode: a standby following the stream until it wins the
//! lease; then the take-over (catch up with the stream, append a take-over entry expecting
//! its last sequence, serve only once that is acknowledged); then the active, renewing the
//! lease, until it stops, is fenced or loses the lease. A node that stepped down exits
//! with an error (its supervisor restarts it, as a standby): it never acknowledges again.

use super::args::ClusterConfig;
use super::checkpoints;
use super::follow::{self, Follower};
use super::lease::Lease;
use super::nats::{self, Nats};
use super::stream::{self, AppendError, Appender, KIND_TAKEOVER};
use super::{NodeInfo, Role};
use crate::commit::{self, Commit, Committed};
use crate::engine_task::{self, EngineHandle, Inbox, Setup};
use crate::journal::Entry;
use crate::machine::Machine;
use anyhow::Context as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vaxel_core::Timestamp;

/// Builds the engine task's setup once the node is active.
pub type MakeSetup = Box<
    dyn FnOnce(Machine, mpsc::Sender<Commit>, mpsc::UnboundedReceiver<Committed>) -> Setup + Send,
>;

/// What a node starts with.
pub struct Node {
    pub config: ClusterConfig,
    pub me: NodeInfo,
    pub nats: Nats,
    pub data_dir: PathBuf,
    /// The site file's text: the stream's start when it is empty, and reloaded after a
    /// take-over when the journal's differs.
    pub text: String,
    pub label: String,
    /// The engine's time at the stream's start (when this node starts it).
    pub start: Timestamp,
    /// What drives the engine's time (standbys read at it too).
    pub clock: crate::clock::ClockMode,
    pub role: Arc<Role>,
    pub make_setup: MakeSetup,
    pub handle: EngineHandle,
    /// The PostgreSQL sink, when `[records] postgres` is set: only the active runs it
    /// (started once it serves, stopped before it steps down), resuming from the
    /// positions the database confirmed, which mean the same in every node's files.
    pub sink: Option<crate::pgsink::Prepared>,
    /// The daemon's metrics hooks (the journal's figures count the stream's appends).
    pub observer: Arc<dyn crate::observe::Observer>,
    pub shutdown: CancellationToken,
}

/// Standbys publish their state for readers at most this often.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Runs the node until shutdown (`Ok`) or until it steps down or fails (`Err`).
pub async fn run_node(node: Node, mut inbox: Inbox) -> anyhow::Result<()> {
    let Node {
        config,
        me,
        nats,
        data_dir,
        text,
        label,
        start,
        clock,
        role,
        make_setup,
        handle,
        sink,
        observer,
        shutdown,
    } = node;
    let stream_name = nats::stream_name(&config.name);
    let status = role.status.clone();
    let mut f = checkpoints::follower(&nats, &config.name, &data_dir, &status).await?;
    let mut messages = follow::subscribe(&nats.stream, f.applied + 1, config.lease).await?;
    let lease = Arc::new(Lease {
        kv: nats.kv.clone(),
        me: me.clone(),
        ttl: config.lease,
    });
    role.set_standby(None);
    tracing::info!(node = %me.node, "cluster: following the journal as a standby");
    let watch_stop = shutdown.child_token();
    tokio::spawn(checkpoints::watch(
        nats.checkpoints.clone(),
        status.clone(),
        watch_stop.clone(),
    ));
    // Stops the watch when dropped: at take-over, or as the node ends however it ends.
    let watching = watch_stop.drop_guard();

    // ---- standby
    let acquiring = shutdown.child_token();
    let mut won = tokio::spawn({
        let (lease, role, stop) = (lease.clone(), role.clone(), acquiring.clone());
        async move { lease.acquire(&role, &stop).await }
    });
    let mut published = tokio::time::Instant::now();
    let rev = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                acquiring.cancel();
                return Ok(());
            }
            r = &mut won => match r {
                Ok(Some(rev)) => break rev,
                _ => return Ok(()),
            },
            m = messages.next() => {
                next_message(&mut f, m, &stream_name, &role)?;
                if published.elapsed() >= PUBLISH_EVERY {
                    follow::publish(&f, &inbox, clock);
                    published = tokio::time::Instant::now();
                }
            }
            Some(r) = inbox.http_rx.recv() => follow::on_request(&f, r, &role, clock),
            Some(r) = inbox.rx.recv() => follow::on_request(&f, r, &role, clock),
        }
    };

    // ---- take-over
    // The checkpoint writer keeps the figures from now on.
    drop(watching);
    tracing::info!(node = %me.node, applied = f.applied, "cluster: won the lease; taking over");
    // The lease is renewed from now on: a take-over (and later an append) waits out a NATS
    // re-election for as long as it holds.
    let lease_lost = CancellationToken::new();
    let holding = CancellationToken::new();
    let mut hold = tokio::spawn({
        let (lease, status, lost, holding) = (
            lease.clone(),
            status.clone(),
            lease_lost.clone(),
            holding.clone(),
        );
        async move {
            let why = lease.hold(rev, &status, &holding).await;
            lost.cancel();
            why
        }
    });
    let mut appender = Appender {
        js: nats.js.clone(),
        subject: nats::subject(&config.name),
        node: me.node.clone(),
        last: 0,
        patience: config.lease,
        lease_lost: lease_lost.clone(),
        status: status.clone(),
    };
    let info = Bytes::from(serde_json::to_vec(&me).unwrap_or_default());
    let took_at = loop {
        let state = tokio::time::timeout(config.lease, nats.stream.get_info()).await;
        let last = match state {
            Ok(Ok(i)) => i.state.last_sequence,
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".into(),
                };
                if lease_lost.is_cancelled() {
                    anyhow::bail!(
                        "cannot read the journal stream's state ({why}); the lease is lost"
                    );
                }
                tracing::warn!(error = %why, "cannot read the journal stream's state: retrying while the lease is held");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut stalled = false;
        while f.applied < last {
            let Ok(m) = tokio::time::timeout(config.lease, messages.next()).await else {
                stalled = true;
                break;
            };
            next_message(&mut f, m, &stream_name, &role)?;
        }
        if stalled {
            if lease_lost.is_cancelled() {
                anyhow::bail!("the journal stream stopped delivering; the lease is lost");
            }
            tracing::warn!(
                "the journal stream stopped delivering: retrying while the lease is held"
            );
            continue;
        }
        appender.last = f.applied;
        let genesis = f.machine.is_none();
        let mut payload = Vec::new();
        if genesis {
            Entry::Start {
                at: start,
                config: text.clone(),
                cdr: None,
                events: None,
            }
            .encode(&mut payload);
        }
        let payload = Bytes::from(payload);
        let node_header = String::from_utf8_lossy(&info).into_owned();
        match appender
            .append(payload.clone(), KIND_TAKEOVER, Some(&node_header))
            .await
        {
            Ok(seq) => {
                if genesis {
                    f.apply(seq, &payload, &stream_name)?;
                } else {
                    f.applied = seq;
                }
                break seq;
            }
            // The old active appended once more: catch up and try again (this node holds
            // the lease, so the old one is fenced by the next take-over entry).
            Err(AppendError::Fenced { .. }) => {}
            Err(e) => return Err(anyhow::anyhow!("{e}")),
        }
    };
    drop(messages);
    let machine = f
        .machine
        .take()
        .context("the journal stream holds no start entry")?;
    let extra = f.logs.stop_skipping();
    if !extra.is_zero() {
        tracing::warn!(
            records = extra.records,
            events = extra.events,
            "the data dir holds more call records or events than the journal stream \
             produced: is it another cluster's? New ones are written after them"
        );
    }
    role.set_active();
    status.took_over();
    status.applied(took_at, 0);
    tracing::info!(node = %me.node, seq = took_at, "cluster: took over; serving as the active node");

    // ---- active
    let config_changed = *machine.config != *text;
    let (commit_tx, commit_rx) = mpsc::channel(commit::QUEUE);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let (ckpt_tx, ckpt_rx) = mpsc::channel(checkpoints::QUEUE);
    let writer = tokio::spawn(checkpoints::write(
        nats.checkpoints.clone(),
        checkpoints::Tombstones {
            stream: nats.checkpoint_stream.clone(),
            bucket: nats::checkpoints_name(&config.name),
        },
        nats.stream.clone(),
        ckpt_rx,
        status.clone(),
    ));
    let outputs = stream::Outputs {
        logs: f.logs,
        checkpoints: ckpt_tx,
        observer,
    };
    let committer = tokio::spawn(stream::run(appender, commit_rx, done_tx, outputs));
    let task = engine_task::start_with(make_setup(machine, commit_tx, done_rx), inbox);
    let mut engine = tokio::spawn(task.run());
    let sink = sink.map(|s| s.start(&shutdown));
    if config_changed {
        tracing::info!("{label} differs from the journal's configuration: reloading it");
        tokio::spawn(async move {
            if let Err(e) = handle.reload(text).await {
                tracing::error!("{label}: reload after the take-over failed: {e}");
            }
        });
    } else {
        drop(handle);
    }
    let lost = tokio::select! {
        r = &mut engine => {
            stop_sink(sink).await;
            holding.cancel();
            let _ = (&mut hold).await;
            let written = committer.await.unwrap_or(false);
            // The shutdown's checkpoint is stored before the lease is let go.
            let _ = writer.await;
            let r = r.context("engine task failed")?;
            if r.is_ok() && written {
                lease.release().await;
            }
            return r.and_then(|()| if written { Ok(()) } else { anyhow::bail!("the journal committer failed") });
        }
        lost = &mut hold => lost.ok().flatten(),
    };
    let why = lost.unwrap_or_else(|| "stopped".into());
    tracing::error!(node = %me.node, "cluster: lost the lease ({why}): stepping down");
    stop_sink(sink).await;
    shutdown.cancel();
    let _ = engine.await;
    let _ = committer.await;
    anyhow::bail!("stepped down: lost the lease ({why})")
}

/// Stops the active's sink: a node no longer active copies nothing more into the database
/// (the next active's sink resumes from what it confirmed).
async fn stop_sink(sink: Option<crate::pgsink::Running>) {
    if let Some(s) = sink {
        s.stop().await;
    }
}

/// Applies the consumer's next message (or reports why the stream ended).
fn next_message(
    f: &mut Follower,
    m: Option<
        Result<async_nats::jetstream::Message, async_nats::jetstream::consumer::pull::OrderedError>,
    >,
    stream: &str,
    role: &Role,
) -> anyhow::Result<()> {
    match m {
        Some(Ok(msg)) => follow::on_message(f, &msg, stream, role),
        Some(Err(e)) => {
            // The ordered consumer makes itself again where it was.
            tracing::warn!(error = %e, "journal stream consumer: recreating");
            Ok(())
        }
        None => anyhow::bail!("the journal stream's consumer ended"),
    }
}
