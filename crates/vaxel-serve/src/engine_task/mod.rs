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

mod handle;
mod rounds;
mod sessions;
#[cfg(test)]
mod tests;

pub use handle::*;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
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
    /// Cluster mode: what a reloaded file's `[cluster]` is compared with (its settings
    /// are read at start only).
    pub cluster: Option<crate::cluster::ClusterStart>,
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
    /// The last snapshot taken (with its JSON text, made once for every reader), with
    /// `mutations` and the clock's time when it was.
    cache: Option<(u64, Timestamp, Published)>,
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
    cluster: Option<crate::cluster::ClusterStart>,
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
    registry.restore(owning, tokio::time::Instant::now());
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
        cluster: setup.cluster,
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
            let grace = self.registry.next_deadline();
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
                .closed(&c.platform, conn, undelivered, tokio::time::Instant::now())
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
                if let Some(c) = &self.cluster {
                    c.reloaded(v.cluster.as_ref());
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
        for (platform, dropped) in self.registry.expired(tokio::time::Instant::now()) {
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
    fn snapshot(&mut self) -> Published {
        let now = self.now();
        match &self.cache {
            Some((m, at, p))
                if *m == self.mutations && now.since(*at) < SNAPSHOT_FRESH.as_millis() as u64 =>
            {
                p.clone()
            }
            _ => {
                let snap = Arc::new(self.machine.engine.snapshot_at(now));
                let p = Published::new(self.version, snap);
                self.cache = Some((self.mutations, now, p.clone()));
                p
            }
        }
    }

    /// Publishes the snapshot now for the readers that share it ([`Published`]), with the
    /// change counter as of now (a snapshot taken after a change's entry but before its
    /// round ended carries the counter before it).
    fn publish(&mut self) {
        let mut p = self.snapshot();
        p.version = self.version;
        self.published.send_replace(Some(p));
        self.last_publish = tokio::time::Instant::now();
        self.publish_due = None;
    }
}
