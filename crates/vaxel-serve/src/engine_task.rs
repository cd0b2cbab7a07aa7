//! The engine task: the only owner of the [`Engine`](vaxel_core::Engine). Everything that
//! reads or changes the engine is a [`Request`] on one bounded channel: platform
//! connections send batches of decoded lines, the HTTP layer goes through the cloneable
//! [`EngineHandle`]. The task applies what is waiting, journals it, hands the batch to the
//! commit thread, and releases acks, commands and replies once the batch is durable.
//! In live-clock mode it also sleeps until the engine's next deadline.
//!
//! Architecture invariant: no input changes the engine without its journal entry being in
//! the same commit, and no ack, command or record leaves before that commit is durable.

use crate::auth::TokenStore;
use crate::clock::ClockMode;
use crate::commit::{Commit, Committed, Rotate};
use crate::journal::Entry;
use crate::machine::{Machine, Made};
use crate::observe::{Observer, PlatformEvent};
use crate::platform;
use crate::registry::{ConnId, Registry, Route};
use sessions::{Hello, numbered};

mod sessions;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use vaxel_config::Diagnostic;
use vaxel_core::site::Text;
use vaxel_core::snapshot::{DirectoryHit, Snapshot};
use vaxel_core::{AgentCall, CallRecord, Command, EngineError, Input, Timestamp};
use vaxel_proto::{Event, PlatformMessage, ProtoError, ProtoErrorKind, ServerMessage};

/// Requests waiting for the engine task at most; senders wait beyond (backpressure on the
/// sockets).
pub const INBOX: usize = 1024;
/// HTTP requests (reads, admin and desktop actions) waiting for the engine task at most.
const HTTP_INBOX: usize = 64;
/// Requests taken per round (one commit each).
const ROUND_MAX: usize = 256;
/// Platform lines taken per round (a round may exceed it by one batch).
const ROUND_LINES: usize = 2048;
/// Rounds not yet durable at most: beyond, the task waits for the commit thread.
const IN_FLIGHT: usize = 64;

// ------------------------------------------------------------------------------ handle

/// The engine task has stopped (the daemon is shutting down or failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineGone;

impl fmt::Display for EngineGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the engine has stopped")
    }
}

impl std::error::Error for EngineGone {}

/// Why a reload did not happen. Either way the running configuration stays.
#[derive(Debug)]
pub enum ReloadError {
    /// The new text does not validate: every error (and warning) found.
    Invalid(Vec<Diagnostic>),
    /// The configuration file could not be read.
    Unreadable(String),
    /// The engine refused it (`EngineError::ReloadRefused` lists every reason).
    Refused(EngineError),
    Gone,
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Invalid(d) => {
                let errors = d.iter().filter(|d| d.is_error()).count();
                write!(f, "the new configuration is invalid ({errors} errors)")
            }
            ReloadError::Unreadable(e) => write!(f, "{e}"),
            ReloadError::Refused(e) => write!(f, "{e}"),
            ReloadError::Gone => write!(f, "{EngineGone}"),
        }
    }
}

impl std::error::Error for ReloadError {}

/// A snapshot is taken again for readers once the clock has moved on this far without a
/// change (waits and occupancy run with time); within it, readers share one.
pub const SNAPSHOT_FRESH: Duration = Duration::from_secs(1);

/// Snapshots published at most this often while the engine changes (the last change is
/// always published, at most this late).
const PUBLISH_EVERY: Duration = Duration::from_millis(200);
/// `/readyz`: an engine task with requests waiting that has not started a round for this
/// long is not ready.
const STALL: Duration = Duration::from_secs(5);

/// The live state the engine task published last, shared by every reader that can take
/// it a fraction of a second late (event streams, `/metrics`): one snapshot per change
/// (at most every [`PUBLISH_EVERY`]), not one per reader.
#[derive(Clone, Debug)]
pub struct Published {
    /// The engine's change counter (bumped after every round that applied something) it
    /// was taken at.
    pub version: u64,
    pub snapshot: Arc<Snapshot>,
}

/// A cloneable handle on the engine task, for the HTTP layer (wallboard, agents' desktops,
/// admin actions, metrics). Every method is a message to the engine task; reads see the
/// latest applied state (possibly a few milliseconds ahead of what is durable), changes
/// return once durable.
#[derive(Clone)]
pub struct EngineHandle {
    /// The platforms' inbox (handed to connections by [`requests`](Self::requests)).
    tx: mpsc::Sender<Request>,
    /// The HTTP layer's requests: served ahead of platform batches, so that an admin's
    /// action or a read never waits behind a flood of platform traffic.
    http: mpsc::Sender<Request>,
    changes: watch::Receiver<u64>,
    published: watch::Receiver<Option<Published>>,
    /// Milliseconds since `base` when the engine task last started a round.
    beat: Arc<AtomicU64>,
    base: Instant,
    /// The `--config` file, re-read by [`reload_config_file`](Self::reload_config_file);
    /// `None` = the built-in city.
    config_path: Option<PathBuf>,
}

impl fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineHandle")
            .field("config_path", &self.config_path)
            .finish_non_exhaustive()
    }
}

impl EngineHandle {
    /// The wallboard view: groups, agents, waiting calls ([`vaxel_core::Engine::snapshot`]),
    /// as of now (after every change applied so far: an action's answer, then this, sees
    /// the action; waits as long as they are at the time of reading). Readers asking
    /// within one change and [`SNAPSHOT_FRESH`] share one.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, EngineGone> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Snapshot(tx)).await?;
        rx.await.map_err(|_| EngineGone)
    }

    /// The live state as of now with its change counter, for a reader that starts (an
    /// event stream's first event): the one published last when no change came since,
    /// so connecting readers share it, otherwise a fresh one (a stream opened right after
    /// an acknowledged input shows it, not the state up to [`PUBLISH_EVERY`] before).
    pub async fn latest(&self) -> Result<Published, EngineGone> {
        let version = *self.changes.borrow();
        if let Some(p) = self.published.borrow().as_ref()
            && p.version == version
        {
            return Ok(p.clone());
        }
        let snapshot = self.snapshot().await?;
        Ok(Published { version, snapshot })
    }

    /// Every snapshot published: `changed().await`, then `borrow_and_update()`.
    #[must_use]
    pub fn published(&self) -> watch::Receiver<Option<Published>> {
        self.published.clone()
    }

    /// Whether the engine task runs and keeps up: it has not stopped, and either nothing
    /// waits for it or it started a round within [`STALL`]. Costs no request.
    #[must_use]
    pub fn ready(&self) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        if self.tx.capacity() == self.tx.max_capacity() {
            return true;
        }
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        let beat = self.beat.load(Ordering::Relaxed);
        Duration::from_millis(now.saturating_sub(beat)) < STALL
    }

    /// The directory (hänvisningsdatabas) with presence ([`vaxel_core::Engine::directory`]).
    pub async fn directory(&self, query: &str) -> Result<Vec<DirectoryHit>, EngineGone> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Directory(query.to_owned(), tx)).await?;
        rx.await.map_err(|_| EngineGone)
    }

    /// Applies an admin or agent-desktop action (`Input::Crisis`, `Input::AgentPause`, …)
    /// at the daemon's time, journaled like a platform event; returns once durable, or the
    /// engine's refusal (`EngineError::code()` is the protocol code). `Input::Reload` is
    /// refused here: use [`reload`](Self::reload), which journals the configuration text.
    /// A stopped engine answers `InvalidState("the engine has stopped")`.
    pub async fn apply(&self, input: Input) -> Result<(), EngineError> {
        let (tx, rx) = oneshot::channel();
        let gone = || EngineError::InvalidState(EngineGone.to_string());
        self.send(Request::Apply(input, tx))
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Applies a desk's action on `agent`'s call (`Input::CallTransfer`, `CallPark`, …,
    /// its call id a placeholder): the engine task finds the call `which` names
    /// ([`vaxel_core::Engine::agent_call`]) and applies the input to it as
    /// [`apply`](Self::apply) does; its commands go to the platform owning the call, once
    /// durable, as a platform event's do.
    pub async fn apply_to_call(
        &self,
        agent: Text,
        which: AgentCall,
        input: Input,
    ) -> Result<(), EngineError> {
        let (tx, rx) = oneshot::channel();
        let gone = || EngineError::InvalidState(EngineGone.to_string());
        self.send(Request::ApplyToCall {
            agent,
            which,
            input,
            tx,
        })
        .await
        .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Validates `config` (a site file's TOML text) and applies it without moving a
    /// waiting call. Returns the warnings, or why nothing changed.
    pub async fn reload(&self, config: String) -> Result<Vec<Diagnostic>, ReloadError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Reload(config, tx))
            .await
            .map_err(|_| ReloadError::Gone)?;
        rx.await.map_err(|_| ReloadError::Gone)?
    }

    /// Re-reads the `--config` file (the built-in city when none was given) and reloads
    /// it, as SIGHUP does.
    pub async fn reload_config_file(&self) -> Result<Vec<Diagnostic>, ReloadError> {
        let text = match &self.config_path {
            None => vaxel_config::STOCKHOLM.to_owned(),
            Some(p) => tokio::fs::read_to_string(p).await.map_err(|e| {
                ReloadError::Unreadable(format!("cannot read site file {}: {e}", p.display()))
            })?,
        };
        self.reload(text).await
    }

    pub(crate) fn requests(&self) -> mpsc::Sender<Request> {
        self.tx.clone()
    }

    async fn send(&self, r: Request) -> Result<(), EngineGone> {
        self.http.send(r).await.map_err(|_| EngineGone)
    }
}

// ------------------------------------------------------------------------------ requests

/// One line read from a platform: its number on the connection and what it decoded to.
#[derive(Debug)]
pub struct Item {
    pub line: u64,
    pub msg: Result<PlatformMessage, ProtoError>,
}

/// Lines for a connection, in order, and when the input that caused them was read.
#[derive(Debug)]
pub struct Outbound {
    pub msgs: Vec<ServerMessage>,
    pub read_at: Option<Instant>,
    /// What the batch counts in its queue's bytes (0 for the commands held for a
    /// platform's return: the registry bounds those).
    pub bytes: usize,
}

/// A connection's outbound queue: the batches, and the bytes they hold (an estimate of
/// the memory, [`platform::queued_bytes`](crate::platform::queued_bytes)), added
/// by the engine task when it queues a batch and taken off by the writer once the batch
/// is written. Past `--outbound-limit-bytes` the connection is a slow consumer.
#[derive(Debug)]
pub struct OutQueue {
    pub tx: mpsc::Sender<Outbound>,
    pub bytes: Arc<AtomicUsize>,
}

/// What the engine task is asked.
pub enum Request {
    /// A connection's `hello` passed its token and protocol checks. The engine task
    /// answers `None` once the session is set up (`welcome` queued), or the error line
    /// to send before closing (a version 2 `last_cmd` it cannot resume from).
    Hello {
        conn: ConnId,
        platform: Text,
        protocol: u64,
        /// Version 2: the last command the platform processed.
        last_cmd: Option<u64>,
        /// The `hello`'s `seq`, for a refusal.
        seq: Option<u64>,
        out: OutQueue,
        kill: CancellationToken,
        answer: oneshot::Sender<Option<ServerMessage>>,
    },
    /// Lines read from a connection after `hello`.
    Batch {
        conn: ConnId,
        items: Vec<Item>,
        read_at: Instant,
        /// The batch's share of the inbox's byte bound, given back once it is applied.
        budget: OwnedSemaphorePermit,
    },
    /// A connection ended; the commands it had not written, with their numbers.
    Closed {
        conn: ConnId,
        undelivered: Vec<(u64, Command)>,
    },
    Snapshot(oneshot::Sender<Arc<Snapshot>>),
    Directory(String, oneshot::Sender<Vec<DirectoryHit>>),
    Apply(Input, oneshot::Sender<Result<(), EngineError>>),
    /// A desk's action on `agent`'s call, which the engine finds ([`EngineHandle::apply_to_call`]).
    ApplyToCall {
        agent: Text,
        which: AgentCall,
        input: Input,
        tx: oneshot::Sender<Result<(), EngineError>>,
    },
    Reload(
        String,
        oneshot::Sender<Result<Vec<Diagnostic>, ReloadError>>,
    ),
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Request::Hello { .. } => "Hello",
            Request::Batch { .. } => "Batch",
            Request::Closed { .. } => "Closed",
            Request::Snapshot(_) => "Snapshot",
            Request::Directory(..) => "Directory",
            Request::Apply(..) => "Apply",
            Request::ApplyToCall { .. } => "ApplyToCall",
            Request::Reload(..) => "Reload",
        };
        f.write_str(name)
    }
}

// ------------------------------------------------------------------------------ the task

/// Something to hand out once its round is durable.
enum Release {
    Reply {
        conn: ConnId,
        msg: ServerMessage,
    },
    Command {
        platform: Text,
        no: u64,
        command: Command,
    },
    Apply(
        oneshot::Sender<Result<(), EngineError>>,
        Result<(), EngineError>,
    ),
    Reload(
        oneshot::Sender<Result<Vec<Diagnostic>, ReloadError>>,
        Result<Vec<Diagnostic>, ReloadError>,
    ),
}

/// A round handed to the commit thread, waiting to be durable.
struct Pending {
    id: u64,
    releases: Vec<Release>,
    read_at: Option<Instant>,
}

/// A connection that said `hello`.
struct Conn {
    platform: Text,
    out: OutQueue,
    kill: CancellationToken,
    /// Closed as a slow consumer already: what is still produced for it is held for the
    /// platform's return without counting it again.
    slow: bool,
}

/// The round being built: what the requests taken so far produced.
#[derive(Default)]
struct Round {
    journal: Vec<u8>,
    entries: usize,
    records: Vec<CallRecord>,
    events: Vec<vaxel_core::Event>,
    releases: Vec<Release>,
    read_at: Option<Instant>,
    changed: bool,
}

/// When to start a new epoch (docs/operations.md, "Checkpoints").
#[derive(Clone, Copy, Debug)]
pub struct CheckpointPolicy {
    /// Inputs in an epoch after which a checkpoint starts a new one.
    pub every_inputs: u64,
    /// No checkpoints at all (cluster mode, until they go to JetStream: a node replays
    /// the stream, and a snapshot nobody writes would only cost the engine's time).
    pub never: bool,
}

/// Everything the task starts with.
pub struct Setup {
    pub machine: Machine,
    pub clock: ClockMode,
    pub observer: Arc<dyn Observer>,
    pub commits: mpsc::Sender<Commit>,
    pub committed: mpsc::UnboundedReceiver<Committed>,
    pub checkpoint: CheckpointPolicy,
    /// On the event clock, how far ahead of the engine's time a message's `at` may be
    /// (`--max-clock-step-s`): beyond, the line is refused and time stays.
    pub max_clock_step: Duration,
    /// What an unknown key in a reloaded site file is (`--allow-unknown-keys`).
    pub unknown_keys: vaxel_config::UnknownKeys,
    /// A connection's outbound queue bound in bytes (`--outbound-limit-bytes`).
    pub outbound_bytes: usize,
    /// Refreshed from every configuration reloaded.
    pub tokens: Arc<TokenStore>,
    pub shutdown: CancellationToken,
}

/// The engine task's state.
pub struct EngineTask {
    machine: Machine,
    clock: ClockMode,
    observer: Arc<dyn Observer>,
    registry: Registry,
    conns: HashMap<ConnId, Conn>,
    rx: mpsc::Receiver<Request>,
    http_rx: mpsc::Receiver<Request>,
    /// Whether some handle may still send HTTP requests.
    http_open: bool,
    commits: mpsc::Sender<Commit>,
    committed: mpsc::UnboundedReceiver<Committed>,
    next_commit: u64,
    pending: VecDeque<Pending>,
    round: Round,
    /// Scratch for the engine's outputs.
    outs: Vec<Made>,
    /// Bytes of unacknowledged commands kept for one version 2 platform at most
    /// (`[platform] unacked_bytes`): past it the platform is lost.
    unacked_bytes: usize,
    changes: watch::Sender<u64>,
    version: u64,
    published: watch::Sender<Option<Published>>,
    /// Journal entries made so far: the engine's state changes with each.
    mutations: u64,
    /// The last snapshot taken, with `mutations` and the clock's time when it was.
    cache: Option<(u64, Timestamp, Arc<Snapshot>)>,
    last_publish: tokio::time::Instant,
    /// A change not published yet is published then.
    publish_due: Option<tokio::time::Instant>,
    beat: Arc<AtomicU64>,
    base: Instant,
    checkpoint: CheckpointPolicy,
    max_clock_step: Duration,
    unknown_keys: vaxel_config::UnknownKeys,
    outbound_bytes: usize,
    tokens: Arc<TokenStore>,
    shutdown: CancellationToken,
}

impl fmt::Debug for EngineTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineTask")
            .field("conns", &self.conns.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// The engine task's receiving ends, made before the task: cluster mode's standby serves
/// the same handle from them until it takes over (`cluster/follow.rs`), then hands them to
/// the engine task, so that the HTTP layer and the connections keep one handle throughout.
pub struct Inbox {
    pub(crate) rx: mpsc::Receiver<Request>,
    pub(crate) http_rx: mpsc::Receiver<Request>,
    pub(crate) changes: watch::Sender<u64>,
    pub(crate) published: watch::Sender<Option<Published>>,
    beat: Arc<AtomicU64>,
    base: Instant,
}

/// A handle and the inbox it sends to.
#[must_use]
pub fn channels(config_path: Option<PathBuf>) -> (EngineHandle, Inbox) {
    let (tx, rx) = mpsc::channel(INBOX);
    let (http, http_rx) = mpsc::channel(HTTP_INBOX);
    let (changes, changes_rx) = watch::channel(0);
    let (published, published_rx) = watch::channel(None);
    let beat = Arc::new(AtomicU64::new(0));
    let base = Instant::now();
    let handle = EngineHandle {
        tx,
        http,
        changes: changes_rx,
        published: published_rx,
        beat: beat.clone(),
        base,
        config_path,
    };
    let inbox = Inbox {
        rx,
        http_rx,
        changes,
        published,
        beat,
        base,
    };
    (handle, inbox)
}

/// Creates the engine task and its handle (on the built-in city's path). Run the task with
/// [`EngineTask::run`].
#[cfg(test)]
pub fn start(setup: Setup) -> (EngineTask, EngineHandle) {
    let (handle, inbox) = channels(None);
    (start_with(setup, inbox), handle)
}

/// Creates the engine task on an inbox made by [`channels`].
pub fn start_with(setup: Setup, inbox: Inbox) -> EngineTask {
    let Inbox {
        rx,
        http_rx,
        changes,
        published,
        beat,
        base,
    } = inbox;
    let version = *changes.borrow();
    let p = &setup.machine.engine.site().platform;
    let mut registry = Registry::new(Duration::from_millis(p.grace_ms), p.buffer_commands);
    let unacked_bytes = p.unacked_bytes;
    let mut machine = setup.machine;
    // Every command recovered is in the journal, durable: a `hello` may resume after any.
    machine.outbox.all_released();
    let owning = machine
        .owning_platforms()
        .into_iter()
        .map(|p| {
            let v2 = machine.outbox.keeps(&p);
            (p, v2)
        })
        .collect();
    registry.restore(owning, Instant::now());
    EngineTask {
        machine,
        unacked_bytes,
        clock: setup.clock,
        observer: setup.observer,
        tokens: setup.tokens,
        registry,
        conns: HashMap::new(),
        rx,
        http_rx,
        http_open: true,
        commits: setup.commits,
        committed: setup.committed,
        next_commit: 1,
        pending: VecDeque::new(),
        round: Round::default(),
        outs: Vec::new(),
        changes,
        version,
        published,
        mutations: 0,
        cache: None,
        last_publish: tokio::time::Instant::now(),
        publish_due: None,
        beat,
        base,
        checkpoint: setup.checkpoint,
        max_clock_step: setup.max_clock_step,
        unknown_keys: setup.unknown_keys,
        outbound_bytes: setup.outbound_bytes,
        shutdown: setup.shutdown,
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl EngineTask {
    /// Runs until shutdown (or until every handle and connection is gone). Returns an
    /// error when the journal could not be written: the daemon must stop.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let result = self.serve().await;
        // Commit what was applied, checkpoint (after a clean stop), then wait for it (and
        // release it, best effort).
        let mut flushed = self.flush_round().await;
        if result.is_ok() && flushed.is_ok() {
            flushed = self.shutdown_checkpoint().await;
        }
        let commits = std::mem::replace(&mut self.commits, mpsc::channel(1).0);
        drop(commits);
        while !self.pending.is_empty() {
            match self.committed.recv().await {
                Some(Committed::Upto(id)) => self.release_upto(id),
                Some(Committed::Failed(e)) => return Err(anyhow::anyhow!(e)),
                None => break,
            }
        }
        result.and(flushed)
    }

    async fn serve(&mut self) -> anyhow::Result<()> {
        self.publish();
        loop {
            let timer = self.timer_deadline();
            let grace = self
                .registry
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            let accept_more = self.pending.len() < IN_FLIGHT;
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return Ok(()),
                done = self.committed.recv() => match done {
                    Some(Committed::Upto(id)) => self.release_upto(id),
                    Some(Committed::Failed(e)) => anyhow::bail!("journal failed: {e}"),
                    None => anyhow::bail!("the commit thread stopped"),
                },
                () = sleep_until(grace) => self.grace_expired(),
                () = sleep_until(timer) => self.on_timer(),
                () = sleep_until(self.publish_due) => self.publish(),
                // Ahead of the platforms' batches (the select is biased).
                r = self.http_rx.recv(), if accept_more && self.http_open => match r {
                    Some(r) => {
                        self.on_request(r);
                        let mut taken = 1;
                        while taken < ROUND_MAX {
                            let Ok(r) = self.http_rx.try_recv() else { break };
                            self.on_request(r);
                            taken += 1;
                        }
                    }
                    None => self.http_open = false,
                },
                r = self.rx.recv(), if accept_more => {
                    let Some(r) = r else { return Ok(()) };
                    let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
                    self.beat.store(ms, Ordering::Relaxed);
                    // A round: what is waiting, up to ROUND_MAX requests or
                    // ROUND_LINES lines, so that acks are not held back by a flood.
                    let mut lines = 0;
                    let mut next = Some(r);
                    let mut taken = 0;
                    while let Some(r) = next.take() {
                        if let Request::Batch { items, .. } = &r {
                            lines += items.len();
                        }
                        self.on_request(r);
                        taken += 1;
                        if taken < ROUND_MAX && lines < ROUND_LINES {
                            // An HTTP request that came meanwhile goes first.
                            next = self
                                .http_rx
                                .try_recv()
                                .ok()
                                .or_else(|| self.rx.try_recv().ok());
                        }
                    }
                }
            }
            self.flush_round().await?;
        }
    }

    /// The engine's next deadline as a tokio instant (live clock only).
    fn timer_deadline(&self) -> Option<tokio::time::Instant> {
        if self.clock != ClockMode::Live {
            return None;
        }
        let at = self.machine.engine.poll_timeout()?;
        let now = crate::clock::wall_now();
        let wait = Duration::from_millis(at.since(now));
        // A deadline too far to represent (an `until` years away) is no deadline.
        tokio::time::Instant::now().checked_add(wait)
    }

    fn now(&self) -> Timestamp {
        self.clock.now(self.machine.engine.now())
    }

    // --------------------------------------------------------------------- requests

    fn on_request(&mut self, r: Request) {
        match r {
            Request::Hello {
                conn,
                platform,
                protocol,
                last_cmd,
                seq,
                out,
                kill,
                answer,
            } => {
                let hello = Hello {
                    conn,
                    platform,
                    protocol,
                    last_cmd,
                    seq,
                };
                let _ = answer.send(self.on_hello(hello, out, kill));
            }
            Request::Batch {
                conn,
                items,
                read_at,
                budget: _budget,
            } => {
                self.round.read_at.get_or_insert(read_at);
                for item in items {
                    self.on_item(conn, item);
                }
            }
            Request::Closed { conn, undelivered } => self.on_closed(conn, undelivered),
            Request::Snapshot(tx) => {
                let _ = tx.send(self.snapshot());
            }
            Request::Directory(q, tx) => {
                let _ = tx.send(self.machine.engine.directory(&q));
            }
            Request::Apply(input, tx) => {
                let at = self.now();
                let r = self.apply(at, input);
                self.round.releases.push(Release::Apply(tx, r));
            }
            Request::ApplyToCall {
                agent,
                which,
                input,
                tx,
            } => {
                // Found and applied in one step: the call cannot move on in between. An
                // agent without such a call is refused (and counted) like an input.
                let r = match self.machine.engine.agent_call(&agent, which) {
                    Ok(call) => {
                        let at = self.now();
                        self.apply(at, input.with_call(call))
                    }
                    Err(e) => {
                        self.observer.input(input.kind(), Some(e.code()));
                        Err(e)
                    }
                };
                self.round.releases.push(Release::Apply(tx, r));
            }
            Request::Reload(text, tx) => {
                let r = self.reload(text);
                self.round.releases.push(Release::Reload(tx, r));
            }
        }
    }

    fn on_closed(&mut self, conn: ConnId, undelivered: Vec<(u64, Command)>) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        tracing::info!(platform = %c.platform, conn, unwritten = undelivered.len(), "platform connection closed");
        self.observer.platform(PlatformEvent::Disconnected);
        if let Some((to, cmds)) =
            self.registry
                .closed(&c.platform, conn, undelivered, Instant::now())
        {
            self.send(to, numbered(cmds), None);
        }
    }

    fn on_item(&mut self, conn: ConnId, item: Item) {
        let Some(platform) = self.conns.get(&conn).map(|c| c.platform.clone()) else {
            return;
        };
        let msg = match item.msg {
            Ok(m) => m,
            Err(e) => {
                let reply = ServerMessage::proto_error(&e, e.seq.is_none().then_some(item.line));
                self.reply(conn, reply);
                return;
            }
        };
        let seq = msg.seq;
        let refuse = |kind: ProtoErrorKind| ProtoError { seq, kind };
        if let Event::Ack { upto } = msg.body {
            let v2 = self.machine.outbox.keeps(&platform);
            let r = if v2 {
                self.on_ack(&platform, upto)
            } else {
                Err(ProtoErrorKind::AckNeedsV2)
            };
            match (r, seq) {
                (Ok(()), Some(seq)) => self.reply(conn, ServerMessage::Ok { seq }),
                (Ok(()), None) => {}
                (Err(kind), _) => {
                    let e = refuse(kind);
                    self.reply(
                        conn,
                        ServerMessage::proto_error(&e, seq.is_none().then_some(item.line)),
                    );
                }
            }
            return;
        }
        if msg.body.hello().is_some() {
            let e = refuse(ProtoErrorKind::DuplicateHello);
            self.reply(
                conn,
                ServerMessage::proto_error(&e, seq.is_none().then_some(item.line)),
            );
            return;
        }
        // Calls belong to the platform that announced them.
        if let Event::Input(input) = &msg.body
            && !matches!(input, Input::CallArrived { .. })
            && let Some(call) = input.call()
            && self.machine.owner(call).is_some_and(|o| *o != platform)
        {
            let e = EngineError::UnknownCall(call.to_string());
            self.reply(
                conn,
                ServerMessage::engine_error(&e, seq, seq.is_none().then_some(item.line)),
            );
            return;
        }
        let at = match self.clock {
            ClockMode::Live => {
                if let Some(at) = msg.at {
                    tracing::trace!(platform = %platform, at = at.0, "platform time");
                }
                self.now()
            }
            ClockMode::Event => match msg.at {
                Some(at) => match self.refuse_clock_jump(at) {
                    None => at,
                    Some(kind) => {
                        let e = refuse(kind);
                        self.reply(
                            conn,
                            ServerMessage::proto_error(&e, seq.is_none().then_some(item.line)),
                        );
                        return;
                    }
                },
                None => {
                    let e = refuse(ProtoErrorKind::AtRequired);
                    self.reply(
                        conn,
                        ServerMessage::proto_error(&e, seq.is_none().then_some(item.line)),
                    );
                    return;
                }
            },
        };
        let Some(input) = msg.into_input(&platform) else {
            return;
        };
        // A call nobody holds is refused before the engine sees it, so that the line's
        // `at` moves no time and fires no timer (the engine judges an input at its `at`,
        // after the timers due by then).
        let unknown = (!matches!(input, Input::CallArrived { .. }))
            .then(|| input.call())
            .flatten()
            .filter(|call| {
                self.machine.owner(call).is_none() && !self.machine.ended_lately(call, &platform)
            })
            .map(|call| EngineError::UnknownCall(call.to_string()));
        if let Some(e) = unknown {
            self.observer.input(input.kind(), Some(e.code()));
            self.reply(
                conn,
                ServerMessage::engine_error(&e, seq, seq.is_none().then_some(item.line)),
            );
            return;
        }
        let r = match &input {
            // The engine ended this call itself (`forward`, a closing `hangup`) or heard
            // of its end already: the platform's report is expected, and only moves time.
            Input::CallHangup { call, .. } if self.machine.ended_lately(call, &platform) => {
                self.observer.input(input.kind(), None);
                self.advance_to(at)
            }
            _ => self.apply(at, input),
        };
        match (r, seq) {
            (Ok(()), Some(seq)) => self.reply(conn, ServerMessage::Ok { seq }),
            (Ok(()), None) => {}
            (Err(e), seq) => self.reply(
                conn,
                ServerMessage::engine_error(&e, seq, seq.is_none().then_some(item.line)),
            ),
        }
    }

    /// Why an event-clock `at` too far ahead of the engine's time is refused: one line
    /// must not be able to fire every timer at once and leave every later line
    /// `time_went_backwards`, for good (the jump would be journaled). A fresh engine
    /// (time 0, the event clock's start) takes its first time from the platform, whatever
    /// it is: there is nothing yet to lose.
    fn refuse_clock_jump(&self, at: Timestamp) -> Option<ProtoErrorKind> {
        let now = self.machine.engine.now();
        if now == Timestamp(0) {
            return None;
        }
        let step = u64::try_from(self.max_clock_step.as_millis()).unwrap_or(u64::MAX);
        let ahead = at.0.checked_sub(now.0)?;
        (ahead > step).then(|| ProtoErrorKind::BadField {
            field: "at",
            reason: format!(
                "{ahead} ms ahead of the engine's time {} (at most {step} ms:                  --max-clock-step-s)",
                now.0
            ),
        })
    }

    fn reply(&mut self, conn: ConnId, msg: ServerMessage) {
        if let ServerMessage::Error { code, .. } = &msg {
            self.observer.protocol_error(code.as_str());
        }
        self.round.releases.push(Release::Reply { conn, msg });
    }

    // --------------------------------------------------------------------- the engine

    /// Applies one input at `at` and journals it (a refusal as an `advance`: due timers
    /// still fired).
    fn apply(&mut self, at: Timestamp, input: Input) -> Result<(), EngineError> {
        let kind = input.kind();
        let entry = Entry::Input {
            at,
            input: input.clone(),
        };
        let r = self.machine.apply(at, input, &mut self.outs);
        match &r {
            Ok(()) => self.journal(&entry),
            Err(EngineError::TimeWentBackwards { .. }) => {}
            Err(_) => self.journal(&Entry::Advance { at }),
        }
        self.observer
            .input(kind, r.as_ref().err().map(EngineError::code));
        self.take_outputs();
        r
    }

    fn reload(&mut self, text: String) -> Result<Vec<Diagnostic>, ReloadError> {
        let v =
            vaxel_config::load_site_with(&text, self.unknown_keys).map_err(ReloadError::Invalid)?;
        let at = self.now();
        let site = Arc::new(v.site);
        let r = self
            .machine
            .reload(at, text.as_str().into(), site.clone(), &mut self.outs);
        match &r {
            Ok(()) => {
                self.journal(&Entry::Reload { at, config: text });
                let p = &site.platform;
                self.registry
                    .set_policy(Duration::from_millis(p.grace_ms), p.buffer_commands);
                self.unacked_bytes = p.unacked_bytes;
                tracing::info!(site = %site.name, "configuration reloaded");
                // Every path (SIGHUP, HTTP, the start's catching up) logs them here.
                for d in &v.warnings {
                    crate::log_diagnostic("reloaded configuration", d);
                }
                if let Err(e) = self.tokens.refresh(&site) {
                    tracing::error!(
                        error = %format!("{e:#}"),
                        "the reloaded configuration's tokens are not usable: the tokens in \
                         force stay"
                    );
                }
            }
            Err(EngineError::TimeWentBackwards { .. }) => {}
            Err(_) => self.journal(&Entry::Advance { at }),
        }
        self.observer
            .input("reload", r.as_ref().err().map(EngineError::code));
        self.take_outputs();
        r.map(|()| v.warnings).map_err(ReloadError::Refused)
    }

    fn on_timer(&mut self) {
        let _ = self.advance_to(self.now());
    }

    /// Time moves to `at` (due timers fire), journaled as an `advance`.
    fn advance_to(&mut self, at: Timestamp) -> Result<(), EngineError> {
        let r = self.machine.advance(at, &mut self.outs);
        if r.is_ok() {
            self.journal(&Entry::Advance { at });
        }
        self.take_outputs();
        r
    }

    fn grace_expired(&mut self) {
        for (platform, dropped) in self.registry.expired(Instant::now()) {
            tracing::warn!(platform = %platform, dropped, "platform did not come back within its grace period: its calls end as platform_lost");
            self.platform_lost(platform);
        }
    }

    fn platform_lost(&mut self, platform: Text) {
        self.observer.platform(PlatformEvent::Lost);
        let at = self.now();
        let _ = self.apply(at, Input::PlatformLost { platform });
    }

    fn journal(&mut self, e: &Entry) {
        e.encode(&mut self.round.journal);
        self.round.entries += 1;
        self.round.changed = true;
        self.mutations += 1;
    }

    /// The engine's snapshot now: the one taken last if nothing changed since.
    /// The live state at the clock's time, so that waits move between events too. Taken
    /// again only after a change or once the clock has moved on by [`SNAPSHOT_FRESH`]:
    /// readers in between share it.
    fn snapshot(&mut self) -> Arc<Snapshot> {
        let now = self.now();
        match &self.cache {
            Some((m, at, snap))
                if *m == self.mutations && now.since(*at) < SNAPSHOT_FRESH.as_millis() as u64 =>
            {
                snap.clone()
            }
            _ => {
                let snap = Arc::new(self.machine.engine.snapshot_at(now));
                self.cache = Some((self.mutations, now, snap.clone()));
                snap
            }
        }
    }

    /// Publishes the snapshot now for the readers that share it ([`Published`]).
    fn publish(&mut self) {
        let snapshot = self.snapshot();
        self.published.send_replace(Some(Published {
            version: self.version,
            snapshot,
        }));
        self.last_publish = tokio::time::Instant::now();
        self.publish_due = None;
    }

    fn take_outputs(&mut self) {
        for o in self.outs.drain(..) {
            match o {
                Made::Command {
                    platform,
                    no,
                    command,
                } => self.round.releases.push(Release::Command {
                    platform,
                    no,
                    command,
                }),
                Made::Record(r) => {
                    self.observer.record(&r);
                    self.round.records.push(*r);
                }
                Made::Event(e) => self.round.events.push(*e),
            }
        }
    }

    // --------------------------------------------------------------------- commits

    /// Hands the round to the commit thread (maybe starting a new epoch after it).
    async fn flush_round(&mut self) -> anyhow::Result<()> {
        self.unacked_overflow();
        if self.round.journal.is_empty()
            && self.round.records.is_empty()
            && self.round.events.is_empty()
            && self.round.releases.is_empty()
        {
            return Ok(());
        }
        let rotate = self.checkpoint_due(false);
        let round = std::mem::take(&mut self.round);
        if round.changed {
            self.version += 1;
            self.changes.send_replace(self.version);
            let next = self.last_publish + PUBLISH_EVERY;
            if tokio::time::Instant::now() >= next {
                self.publish();
            } else {
                self.publish_due.get_or_insert(next);
            }
        }
        let id = self.next_commit;
        self.next_commit += 1;
        let commit = Commit {
            id,
            journal: round.journal,
            entries: round.entries,
            records: round.records,
            events: round.events,
            tz: self.machine.engine.site().timezone.clone(),
            rotate,
        };
        self.pending.push_back(Pending {
            id,
            releases: round.releases,
            read_at: round.read_at,
        });
        self.commits
            .send(commit)
            .await
            .map_err(|_| anyhow::anyhow!("the commit thread stopped"))
    }

    /// A checkpoint is due when the epoch holds `every_inputs` inputs or began on an
    /// earlier local day (or at shutdown, `force`), whatever the engine is doing: the
    /// engine's state is saved as it is now, after the round's last input, and the commit
    /// thread writes it as the snapshot the next epoch starts from.
    fn checkpoint_due(&mut self, force: bool) -> Option<Rotate> {
        let m = &self.machine;
        if m.inputs == 0 || self.checkpoint.never {
            return None;
        }
        if !force && m.inputs < self.checkpoint.every_inputs {
            let tz = &m.engine.site().timezone;
            let day = |t: Timestamp| tz.to_datetime(t.to_jiff()).date();
            if day(m.engine.now()) == day(m.epoch_start) {
                return None;
            }
        }
        Some(Rotate {
            checkpoint: Box::new(self.machine.checkpoint()),
        })
    }

    /// At shutdown: a last checkpoint, so that the next start replays nothing.
    async fn shutdown_checkpoint(&mut self) -> anyhow::Result<()> {
        let Some(rotate) = self.checkpoint_due(true) else {
            return Ok(());
        };
        let id = self.next_commit;
        self.next_commit += 1;
        self.pending.push_back(Pending {
            id,
            releases: Vec::new(),
            read_at: None,
        });
        let commit = Commit {
            id,
            journal: Vec::new(),
            entries: 0,
            records: Vec::new(),
            events: Vec::new(),
            tz: self.machine.engine.site().timezone.clone(),
            rotate: Some(rotate),
        };
        self.commits
            .send(commit)
            .await
            .map_err(|_| anyhow::anyhow!("the commit thread stopped"))
    }

    fn release_upto(&mut self, id: u64) {
        while self.pending.front().is_some_and(|p| p.id <= id) {
            if let Some(p) = self.pending.pop_front() {
                self.release(p);
            }
        }
    }

    fn release(&mut self, p: Pending) {
        let now = Instant::now();
        let mut per_conn: Vec<(ConnId, Vec<ServerMessage>)> = Vec::new();
        let mut push = |conn: ConnId, msg: ServerMessage| match per_conn
            .iter_mut()
            .find(|(c, _)| *c == conn)
        {
            Some((_, v)) => v.push(msg),
            None => per_conn.push((conn, vec![msg])),
        };
        let mut overflowed = Vec::new();
        for rel in p.releases {
            match rel {
                Release::Reply { conn, msg } => {
                    if self.conns.contains_key(&conn) {
                        push(conn, msg);
                    }
                }
                Release::Command {
                    platform,
                    no,
                    command,
                } => {
                    self.machine.outbox.released(&platform, no);
                    match self.registry.route(&platform, (no, command), now) {
                        (Route::Send(conn), Some((no, cmd))) => {
                            push(conn, ServerMessage::Numbered { no, cmd });
                        }
                        (Route::Overflow, _) => overflowed.push(platform),
                        (Route::Dropped, Some((_, cmd))) => tracing::warn!(
                            platform = %platform, kind = cmd.kind(), call = %cmd.call(),
                            "dropped a command for a lost platform"
                        ),
                        _ => {}
                    }
                }
                Release::Apply(tx, r) => {
                    let _ = tx.send(r);
                }
                Release::Reload(tx, r) => {
                    let _ = tx.send(r);
                }
            }
        }
        for (conn, msgs) in per_conn {
            self.send(conn, msgs, p.read_at);
        }
        for platform in overflowed {
            self.buffer_overflow(platform);
        }
    }

    fn buffer_overflow(&mut self, platform: Text) {
        let dropped = self.registry.lose(&platform);
        tracing::warn!(platform = %platform, dropped, "command buffer of a disconnected platform overflowed: declaring it lost");
        self.platform_lost(platform);
    }

    /// Queues lines on a connection; a full queue closes it (`slow_consumer`) and keeps
    /// its commands for the platform.
    fn send(&mut self, conn: ConnId, msgs: Vec<ServerMessage>, read_at: Option<Instant>) {
        self.queue(conn, msgs, read_at, true);
    }

    /// Queues `msgs` for `conn`, counted in its bytes or not (`counted`); a connection
    /// past its bound is closed as a slow consumer, once, and what it did not get is held
    /// for the platform's return.
    fn queue(
        &mut self,
        conn: ConnId,
        msgs: Vec<ServerMessage>,
        read_at: Option<Instant>,
        counted: bool,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // What a platform gets at its `hello` (the commands held for it) is bounded by
        // the registry already; it must not count against the connection's bound, or a
        // platform back from a long absence would be dropped again at once.
        let n = if counted {
            platform::queued_bytes(&msgs)
        } else {
            0
        };
        let ob = Outbound {
            msgs,
            read_at,
            bytes: n,
        };
        let failed = if c.slow {
            ob
        } else {
            // A batch larger than the bound still goes to a connection that has read
            // everything before it.
            let queued = c.out.bytes.load(Ordering::Relaxed);
            let over = queued > 0 && queued + n > self.outbound_bytes;
            let r = if over {
                Err(mpsc::error::TrySendError::Full(ob))
            } else {
                c.out.bytes.fetch_add(n, Ordering::Relaxed);
                c.out.tx.try_send(ob).inspect_err(|_| {
                    c.out.bytes.fetch_sub(n, Ordering::Relaxed);
                })
            };
            match r {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(ob)) => {
                    tracing::warn!(
                        platform = %c.platform,
                        conn,
                        queued_bytes = queued,
                        "slow_consumer: the platform does not read what is sent to it; \
                         closing the connection (its commands are held for its return)"
                    );
                    self.observer.platform(PlatformEvent::SlowConsumer);
                    c.slow = true;
                    c.kill.cancel();
                    ob
                }
                Err(mpsc::error::TrySendError::Closed(ob)) => ob,
            }
        };
        let platform = c.platform.clone();
        self.registry
            .connection_lost(&platform, conn, Instant::now());
        let cmds: Vec<(u64, Command)> = failed
            .msgs
            .into_iter()
            .filter_map(|m| match m {
                ServerMessage::Numbered { no, cmd } => Some((no, cmd)),
                _ => None,
            })
            .collect();
        if self.registry.hold(&platform, cmds) {
            self.buffer_overflow(platform);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    /// An engine task on the built-in city (not running yet), with a commit "thread" that
    /// makes every commit durable at once.
    fn task() -> (EngineTask, EngineHandle, CancellationToken) {
        let Ok(v) = vaxel_config::load_site(vaxel_config::STOCKHOLM) else {
            panic!("the built-in city validates");
        };
        let site = Arc::new(v.site);
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        let Ok(tokens) = TokenStore::new(&site, None, addr, addr) else {
            panic!("the built-in city's tokens");
        };
        let Ok(metrics) = Metrics::new() else {
            panic!("metrics");
        };
        let (commits, mut commit_rx) = mpsc::channel::<Commit>(64);
        let (done, committed) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(c) = commit_rx.recv().await {
                let _ = done.send(Committed::Upto(c.id));
            }
        });
        let shutdown = CancellationToken::new();
        let (task, handle) = start(Setup {
            machine: Machine::new(
                vaxel_config::STOCKHOLM.into(),
                site,
                Timestamp(1_772_434_800_000),
            ),
            clock: ClockMode::Event,
            observer: Arc::new(metrics),
            commits,
            committed,
            checkpoint: CheckpointPolicy {
                every_inputs: u64::MAX,
                never: false,
            },
            max_clock_step: Duration::from_secs(86_400),
            unknown_keys: vaxel_config::UnknownKeys::Error,
            outbound_bytes: platform::OUTBOUND_BYTES,
            tokens: Arc::new(tokens),
            shutdown: shutdown.clone(),
        });
        (task, handle, shutdown)
    }

    fn running() -> (EngineHandle, CancellationToken) {
        let (task, handle, shutdown) = task();
        tokio::spawn(task.run());
        (handle, shutdown)
    }

    /// Issue 12 #9: admin and desktop actions and reads queued behind every platform
    /// batch waiting. A request from the HTTP layer is served before platform requests
    /// that came earlier.
    #[tokio::test]
    async fn http_requests_go_ahead_of_platform_batches() {
        let (task, h, shutdown) = task();
        let Ok(city) = vaxel_config::stockholm() else {
            panic!("the built-in city validates");
        };
        let agent = city.site.agents[0].id.clone();
        let (login, _login_done) = oneshot::channel();
        let queued = h.requests().try_send(Request::Apply(
            Input::AgentLogin {
                agent: agent.clone(),
                extension: None,
            },
            login,
        ));
        assert!(queued.is_ok());
        let (tx, rx) = oneshot::channel();
        assert!(h.http.try_send(Request::Snapshot(tx)).is_ok());
        tokio::spawn(task.run());
        let Ok(snap) = rx.await else {
            panic!("a snapshot")
        };
        let state = snap.agents.iter().find(|x| x.id == agent).map(|x| x.state);
        assert_eq!(
            state,
            Some(vaxel_core::snapshot::AgentState::LoggedOut),
            "served after the platform's login"
        );
        shutdown.cancel();
    }

    /// Issue 12 #9: every reader asked the engine task for a snapshot of its own. Now
    /// readers between two changes share one, the task publishes it for the readers that
    /// need no request, and readiness asks nothing.
    #[tokio::test]
    async fn readers_share_one_snapshot_per_change() {
        let (h, shutdown) = running();
        let Ok(a) = h.snapshot().await else {
            panic!("a snapshot")
        };
        let Ok(b) = h.snapshot().await else {
            panic!("a snapshot")
        };
        assert!(Arc::ptr_eq(&a, &b), "two readers, no change: one snapshot");
        let Ok(p) = h.latest().await else {
            panic!("published")
        };
        assert!(Arc::ptr_eq(&a, &p.snapshot));
        assert!(h.ready());

        let agent = a.agents[0].id.clone();
        let r = h
            .apply(Input::AgentLogin {
                agent: agent.clone(),
                extension: None,
            })
            .await;
        assert!(r.is_ok(), "{r:?}");
        // Read after the answer: the change is in.
        let Ok(c) = h.snapshot().await else {
            panic!("a snapshot")
        };
        assert!(!Arc::ptr_eq(&a, &c));
        let state = |s: &Snapshot| {
            s.agents
                .iter()
                .find(|x| x.id == agent)
                .map(|x| format!("{:?}", x.state))
        };
        assert_ne!(state(&a), state(&c));
        // And published for the streams within a fifth of a second.
        let mut published = h.published();
        while published
            .borrow_and_update()
            .as_ref()
            .is_none_or(|p| !Arc::ptr_eq(&p.snapshot, &c))
        {
            let r = tokio::time::timeout(Duration::from_secs(5), published.changed()).await;
            assert!(matches!(r, Ok(Ok(()))), "never published");
        }
        shutdown.cancel();
    }
}
