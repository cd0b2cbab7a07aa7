//! The engine task's handle: what the HTTP layer, the connections and cluster mode send it
//! (`Request`), and the answers and errors they get back.

use super::*;

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
pub(super) const PUBLISH_EVERY: Duration = Duration::from_millis(200);
/// `/readyz`: an engine task with requests waiting that has not started a round for this
/// long is not ready.
pub(super) const STALL: Duration = Duration::from_secs(5);

/// A snapshot of the live state with its change counter and its JSON text
/// ([`json`](Self::json)), each made once for all its readers: what the engine task hands
/// the readers between two changes ([`EngineHandle::current`]) and publishes for those
/// that can take it a fraction of a second late (event streams, `/metrics`): one
/// snapshot per change (at most every [`PUBLISH_EVERY`]), not one per reader.
#[derive(Clone, Debug)]
pub struct Published {
    /// The engine's change counter (bumped after every round that applied something) it
    /// was taken at.
    pub version: u64,
    pub snapshot: Arc<Snapshot>,
    /// The snapshot serialized, made by the first reader that asks (none when no stream
    /// is open: `/metrics` reads the snapshot itself) and shared by the clones; `None`
    /// inside if it did not serialize.
    json: Arc<OnceLock<Option<String>>>,
}

impl Published {
    #[must_use]
    pub fn new(version: u64, snapshot: Arc<Snapshot>) -> Self {
        Self {
            version,
            snapshot,
            json: Arc::default(),
        }
    }

    /// The snapshot as compact JSON (what `serde_json` writes for it), serialized once for
    /// every reader of this publication: 256 event streams send one text, not 256.
    /// `None` if the snapshot does not serialize (it always does).
    #[must_use]
    pub fn json(&self) -> Option<&str> {
        self.json
            .get_or_init(|| serde_json::to_string(&*self.snapshot).ok())
            .as_deref()
    }
}

/// A cloneable handle on the engine task, for the HTTP layer (wallboard, agents' desktops,
/// admin actions, metrics). Every method is a message to the engine task; reads see the
/// latest applied state (possibly a few milliseconds ahead of what is durable), changes
/// return once durable.
#[derive(Clone)]
pub struct EngineHandle {
    /// The platforms' inbox (handed to connections by [`requests`](Self::requests)).
    pub(super) tx: mpsc::Sender<Request>,
    /// The HTTP layer's requests: served ahead of platform batches, so that an admin's
    /// action or a read never waits behind a flood of platform traffic.
    pub(super) http: mpsc::Sender<Request>,
    pub(super) changes: watch::Receiver<u64>,
    pub(super) published: watch::Receiver<Option<Published>>,
    /// Milliseconds since `base` when the engine task last started a round.
    pub(super) beat: Arc<AtomicU64>,
    pub(super) base: Instant,
    /// The `--config` file, re-read by [`reload_config_file`](Self::reload_config_file);
    /// `None` = the built-in city.
    pub(super) config_path: Option<PathBuf>,
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
        Ok(self.current().await?.snapshot)
    }

    /// The same snapshot with its JSON text, for a reader that sends it as JSON
    /// (`/api/v1/snapshot`): readers within one change share the text with each other and
    /// with the event streams (the task publishes the snapshot it holds).
    pub async fn current(&self) -> Result<Published, EngineGone> {
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
        let mut p = self.current().await?;
        p.version = version;
        Ok(p)
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
    Snapshot(oneshot::Sender<Published>),
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
