//! The daemon behind `vaxel serve` (docs/operations.md), as a library so that the binary
//! only parses arguments: [`ServeArgs`] is its whole configuration (a clap `Args` that the
//! binary flattens into its subcommand), [`run`] serves until SIGTERM or SIGINT. [`serve`]
//! is the same daemon on the caller's runtime, stopped by a token as well, for tests and
//! embedders that run it in process.
//!
//! Code map, from the socket in:
//! - `platform.rs`: one TCP connection: `hello`, framing and decoding, writing.
//! - `engine_task/`: the only owner of the engine; its `EngineHandle` for the HTTP layer.
//! - `registry.rs`: platform sessions, the grace period, commands kept for a platform.
//! - `machine.rs`: the engine and its bookkeeping, shared by live service and replay.
//! - `journal.rs`, `commit.rs`, `records.rs`, `snapshot.rs`: durability (journal, group
//!   commit, CSV, checkpoints).
//! - `recovery.rs`: start-up on a data dir.
//! - `salvage.rs`: damage found at start-up: refused, or set aside with `--salvage`.
//! - `clock.rs`, `auth.rs`, `observe.rs`, `http.rs`: time, tokens, metrics hook, HTTP.
//! - `pgsink/`: the PostgreSQL copy of the call records, read from their files.
//! - `busy.rs`: the engine task's working time (`vaxel_engine_busy_seconds_total`).
//! - `cluster/`: cluster mode (`--cluster`): the journal on a JetStream stream, the lease,
//!   standbys.

mod api;
mod auth;
mod busy;
mod clock;
mod cluster;
mod commit;
mod engine_task;
mod http;
#[doc(hidden)]
pub mod in_process;
mod journal;
mod limits;
mod lock;
mod machine;
mod metrics;
mod observe;
mod outbox;
mod pending;
mod pgsink;
mod platform;
mod records;
mod recovery;
mod registry;
mod salvage;
mod screens;
mod snapshot;

pub use clock::ClockMode;
pub use cluster::ClusterArgs;
use engine_task::ReloadError;
use observe::Observer;

use anyhow::Context as _;
use clap::Args;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Site file (TOML); the built-in city (config/stockholm.toml) when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address for the platforms' TCP protocol (`HOST:PORT`; a host name is resolved at
    /// start); port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7070", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Address for the HTTP API (as `--listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7080", value_parser = parse_addr)]
    pub http: SocketAddr,
    /// Journal and call records.
    #[arg(long, value_name = "DIR", default_value = "./vaxel-data")]
    pub data_dir: PathBuf,
    /// `live`: the daemon's clock drives time; `event`: the messages' `at` does.
    #[arg(long, value_enum, default_value_t = ClockMode::Live)]
    pub clock: ClockMode,
    /// Log lines on stderr: `human` or `json`. Filter with RUST_LOG (default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Journal inputs after which a checkpoint (snapshot + new journal epoch) is made.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub checkpoint_every: u64,
    /// On `--clock event`, how far (seconds) a message's `at` may be ahead of the engine's
    /// time; a line beyond is refused (`bad_field` naming `at`) and moves no time.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    pub max_clock_step_s: u64,
    /// Unknown keys in the site file are warnings, not errors (here and in every reload).
    #[arg(long)]
    pub allow_unknown_keys: bool,
    /// Platform sessions (connections past `hello`) at once at most.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_connections: usize,
    /// Connections that have not said `hello` yet at once at most; when full, the oldest
    /// is closed to make room.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_pending_hellos: usize,
    /// Seconds a connection may take to say `hello`.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    pub hello_timeout_s: u64,
    /// HTTP connections at once (event streams included); more wait in the listen
    /// backlog.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub http_max_connections: usize,
    /// Seconds an HTTP connection may take to send a request's headers, from its start
    /// or the end of its last response (the idle timeout of a kept-alive connection).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub http_header_timeout_s: u64,
    /// Seconds an HTTP request's body may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub http_body_timeout_s: u64,
    /// Bytes (of the daemon's memory) queued for a platform connection before it is
    /// closed as a slow consumer.
    #[arg(long, value_name = "BYTES", default_value_t = platform::OUTBOUND_BYTES)]
    pub outbound_limit_bytes: usize,
    /// Batches of lines queued for a platform connection before it is closed as a slow
    /// consumer (tests lower it).
    #[arg(long, value_name = "N", default_value_t = platform::OUTBOUND, hide = true)]
    pub outbound_limit: usize,
    /// Start even when the data dir is damaged: move the damaged files into
    /// `damaged-<time>/` in the data dir (never delete them), start from what is intact
    /// and log what was lost (docs/operations.md, "Failure modes").
    #[arg(long)]
    pub salvage: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `HOST:PORT` or `IP:PORT`: a host name (`localhost:7070`) resolves to its first IPv4
/// address, or its first address when it has none (one socket is bound).
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let all: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(s)
        .map_err(|e| format!("not an address (HOST:PORT or IP:PORT): {e}"))?
        .collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| format!("{s} resolves to no address"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Where a started daemon listens: the ports it picked when asked for port 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listening {
    pub tcp: SocketAddr,
    pub http: SocketAddr,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vaxel")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args, CancellationToken::new(), None))
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a log file or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => b.try_init(),
        LogFormat::Json => b.json().try_init(),
    };
}

/// The site's text: the file, or the built-in city.
fn read_config(path: Option<&Path>) -> anyhow::Result<String> {
    match path {
        None => Ok(vaxel_config::STOCKHOLM.to_owned()),
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read site file {}", p.display())),
    }
}

/// Serves until SIGTERM, SIGINT or `stop` is cancelled, then shuts down cleanly. Logging is
/// the caller's. `listening` is told where the daemon listens once it serves (when
/// `listening tcp=… http=…` is printed), which lets an in-process caller use port 0.
pub async fn serve(
    args: &ServeArgs,
    stop: CancellationToken,
    listening: Option<oneshot::Sender<Listening>>,
) -> anyhow::Result<ExitCode> {
    let label = args
        .config
        .as_ref()
        .map_or_else(|| "built-in city".to_owned(), |p| p.display().to_string());
    let text = read_config(args.config.as_deref())?;
    let unknown_keys = vaxel_config::unknown_keys(args.allow_unknown_keys);
    let validated = match vaxel_config::load_site_with(&text, unknown_keys) {
        Ok(v) => v,
        Err(diags) => {
            // Through the log, so that `--log-format json` stays JSON and each line has
            // its level.
            for d in &diags {
                log_diagnostic(&label, d);
            }
            if vaxel_config::refused_for_unknown_keys(&diags) {
                tracing::error!("{label}: {}", vaxel_config::UNKNOWN_KEYS_HINT);
            }
            tracing::error!("{label}: the configuration is invalid; not starting");
            return Ok(ExitCode::FAILURE);
        }
    };
    for d in &validated.warnings {
        log_diagnostic(&label, d);
    }
    let site = Arc::new(validated.site);
    let base = args.config.as_deref().and_then(Path::parent);
    // Before anything is opened: the cluster flags over the site's `[cluster]`.
    let cluster_config = args.cluster.resolve(validated.cluster.as_ref(), base)?;
    if cluster_config.is_none() && validated.cluster.is_some() {
        tracing::warn!(
            "{label}: the [cluster] section is ignored without --cluster: this daemon runs \
             single-node"
        );
    }
    let cluster_start = cluster_config
        .as_ref()
        .map(|c| cluster::ClusterStart::new(&args.cluster, base, c));
    let tokens = Arc::new(auth::TokenStore::new(&site, base, args.listen, args.http)?);
    // Before anything is opened: a password file that cannot be read stops the start.
    let postgres = validated
        .records
        .postgres
        .as_ref()
        .map(|t| pgsink::Target::new(t, base))
        .transpose()?;

    // Before anything is opened for clients: every connection cap, and the files the
    // daemon must always be able to open, fit under the open-file limit.
    limits::Budget::raise().check(&[
        ("--max-connections", args.max_connections),
        ("--max-pending-hellos", args.max_pending_hellos),
        ("--http-max-connections", args.http_max_connections),
    ])?;
    // Cluster mode: NATS must answer before anything is opened (a clear error otherwise).
    let nats = match &cluster_config {
        Some(c) => Some(cluster::connect(c).await?),
        None => None,
    };
    // Held until the daemon exits: one daemon per data dir.
    let fresh = !args.data_dir.exists();
    let lock = lock::lock_data_dir(&args.data_dir)?;
    let bound = async {
        let tcp = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let http = TcpListener::bind(args.http)
            .await
            .with_context(|| format!("cannot listen on {} (http)", args.http))?;
        anyhow::Ok((tcp, http))
    };
    let (tcp, http) = match bound.await {
        Ok(b) => b,
        Err(e) => {
            // A daemon that never served leaves no empty data dir behind.
            if fresh {
                drop(lock);
                let _ = std::fs::remove_file(args.data_dir.join(lock::LOCK_FILE));
                let _ = std::fs::remove_dir(&args.data_dir);
            }
            return Err(e);
        }
    };
    let _lock = lock;

    // METRICS: the daemon's observer. metrics.rs plugs its registry in here (and hands it
    // to http.rs for `/metrics`); every hook call site is in the engine task, the
    // connections and the commit thread.
    let metrics = Arc::new(metrics::Metrics::new().context("cannot set up the metrics")?);
    let observer: Arc<dyn Observer> = metrics.clone();
    let mut sink = postgres
        .map(|t| pgsink::prepare(t, &args.data_dir, metrics.registry()))
        .transpose()
        .context("cannot set up the PostgreSQL sink")?;
    // A child: cancelling `stop` stops every piece, the daemon's own shutdown leaves the
    // caller's token alone.
    let shutdown = stop.child_token();
    let (handle, inbox) = engine_task::channels(args.config.clone());
    let make_setup: cluster::MakeSetup = {
        let (observer, tokens, shutdown) = (observer.clone(), tokens.clone(), shutdown.clone());
        let (clock, every, step, outbound) = (
            args.clock,
            args.checkpoint_every.max(1),
            args.max_clock_step_s,
            args.outbound_limit_bytes.max(1),
        );
        Box::new(move |machine, commits, committed| engine_task::Setup {
            machine,
            clock,
            observer,
            commits,
            committed,
            checkpoint: engine_task::CheckpointPolicy {
                every_inputs: every,
            },
            max_clock_step: std::time::Duration::from_secs(step),
            unknown_keys,
            outbound_bytes: outbound,
            tokens,
            cluster: cluster_start,
            shutdown,
        })
    };
    let tcp_addr = tcp.local_addr()?;
    let http_addr = http.local_addr()?;

    let (engine, committer, role) = match (cluster_config, nats) {
        (Some(cc), Some(nats)) => {
            let status = Arc::new(
                cluster::Status::new(metrics.registry())
                    .context("cannot set up the cluster metrics")?,
            );
            let role = Arc::new(cluster::Role::new(status));
            let me = cluster::NodeInfo {
                node: cc.node.clone(),
                tcp: args
                    .cluster
                    .advertise_tcp
                    .clone()
                    .unwrap_or_else(|| tcp_addr.to_string()),
                http: args
                    .cluster
                    .advertise_http
                    .clone()
                    .unwrap_or_else(|| http_addr.to_string()),
            };
            let node = cluster::Node {
                config: cc,
                me,
                nats,
                data_dir: args.data_dir.clone(),
                text: text.clone(),
                label: label.clone(),
                start: args.clock.start_time(),
                clock: args.clock,
                role: role.clone(),
                make_setup,
                handle: handle.clone(),
                sink: sink.take(),
                observer: observer.clone(),
                shutdown: shutdown.clone(),
            };
            (
                tokio::spawn(cluster::run_node(node, inbox)),
                None,
                Some(role),
            )
        }
        _ => {
            let config: Arc<str> = text.as_str().into();
            let dir = args.data_dir.clone();
            let start = args.clock.start_time();
            let salvage = args.salvage;
            let rec = {
                let (config, site) = (config.clone(), site.clone());
                tokio::task::spawn_blocking(move || {
                    recovery::recover(&dir, &config, &site, start, salvage)
                })
                .await
                .context("recovery panicked")??
            };
            let config_changed = *rec.machine.config != *text;
            metrics.records_lost(rec.records_lost);
            let (commit_tx, commit_rx) = mpsc::channel(commit::QUEUE);
            let (done_tx, done_rx) = mpsc::unbounded_channel();
            let files = commit::Files {
                dir: args.data_dir.clone(),
                journal: rec.journal,
                records: rec.records,
                events: rec.events,
            };
            let committer = commit::spawn(files, commit_rx, done_tx, observer.clone())
                .context("cannot start the commit thread")?;
            let task = engine_task::start_with(make_setup(rec.machine, commit_tx, done_rx), inbox);
            let engine = tokio::spawn(busy::Timed::new(task.run(), metrics.engine_busy()));
            // The journal may have been written under another configuration: bring it in
            // line.
            if config_changed {
                tracing::info!("{label} differs from the journal's configuration: reloading it");
                if let Err(e) = handle.reload(text.clone()).await {
                    log_reload_error(&label, &e);
                }
            }
            (engine, Some(committer), None)
        }
    };
    // After recovery (the files are whole): the sink only reads them. In cluster mode the
    // node has taken it: it starts it once active and stops it before it steps down.
    let sink = sink.map(|s| s.start(&shutdown));

    // Signals are handled from before the daemon says it listens.
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    // HTTP: the call site of http.rs, served on the same engine handle until shutdown.
    let http_task = tokio::spawn(http::serve(
        http,
        handle.clone(),
        tokens.clone(),
        metrics,
        shutdown.clone(),
        http::HttpLimits {
            max_connections: args.http_max_connections.max(1),
            header_timeout: std::time::Duration::from_secs(args.http_header_timeout_s.max(1)),
            body_timeout: std::time::Duration::from_secs(args.http_body_timeout_s.max(1)),
        },
        role.clone(),
    ));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening tcp={tcp_addr} http={http_addr}")?;
        out.flush()?;
    }
    if let Some(tx) = listening {
        // A caller that stopped waiting does not stop the daemon.
        let _ = tx.send(Listening {
            tcp: tcp_addr,
            http: http_addr,
        });
    }
    tracing::info!(%tcp_addr, %http_addr, clock = ?args.clock, data_dir = %args.data_dir.display(), "vaxel serving");

    let ctx = Arc::new(platform::ConnCtx {
        engine: handle.requests(),
        tokens,
        outbound: args.outbound_limit.max(1),
        observer,
        shutdown: shutdown.clone(),
        pending: pending::PendingHellos::new(args.max_pending_hellos),
        hello_timeout: std::time::Duration::from_secs(args.hello_timeout_s.max(1)),
        sessions: Arc::new(Semaphore::new(args.max_connections.max(1))),
        inbox: Arc::new(Semaphore::new(platform::INBOX_BYTES)),
        role,
    });
    let accept = tokio::spawn(accept_loop(tcp, ctx, shutdown.clone()));

    let mut engine = engine;
    let engine_result = loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break None; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break None; }
            () = stop.cancelled() => { tracing::info!("stop requested: shutting down"); break None; }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading {label}");
                match handle.reload_config_file().await {
                    // Its warnings are logged by the engine task, as for every reload.
                    Ok(_) => tracing::info!("{label}: reloaded"),
                    Err(e) => log_reload_error(&label, &e),
                }
            }
            r = &mut engine => break Some(r),
        }
    };
    shutdown.cancel();
    let engine_result = match engine_result {
        Some(r) => r,
        None => engine.await,
    };
    drop(handle);
    let _ = accept.await;
    // Long-lived HTTP responses (event streams) must not hold the exit up for long.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), http_task).await;
    let joined = match committer {
        Some(c) => tokio::task::spawn_blocking(move || c.join()).await,
        // Cluster mode: the node's task awaited its committer.
        None => Ok(Ok(true)),
    };
    if let Some(sink) = sink {
        // It only reads; what it had not sent is sent by the next start.
        sink.stop().await;
    }
    match engine_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "engine stopped");
            return Err(e);
        }
        Err(e) => anyhow::bail!("engine task failed: {e}"),
    }
    if !matches!(joined, Ok(Ok(true))) {
        anyhow::bail!("the commit thread failed");
    }
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// A site file's finding, at its own level: a warning at WARN, an error at ERROR.
pub fn log_diagnostic(label: &str, d: &vaxel_config::Diagnostic) {
    if d.is_error() {
        tracing::error!("{label}: {d}");
    } else {
        tracing::warn!("{label}: {d}");
    }
}

fn log_reload_error(label: &str, e: &ReloadError) {
    match e {
        ReloadError::Invalid(diags) => {
            for d in diags {
                log_diagnostic(label, d);
            }
            tracing::error!(
                "{label}: reload refused, the configuration is invalid; the running one stays"
            );
        }
        ReloadError::Refused(vaxel_core::EngineError::ReloadRefused(reasons)) => {
            for r in reasons {
                tracing::error!("{label}: reload refused: {r}");
            }
            tracing::error!(
                "{label}: reload refused by the engine; the running configuration stays"
            );
        }
        other => tracing::error!("{label}: reload failed: {other}"),
    }
}

/// Accepts every platform connection at once: those without `hello` are bounded by the
/// pending set (the oldest pushed out), sessions by their slots ([`platform::serve`]), so
/// that a flood of connections never queues ahead of a platform in the listen backlog.
async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<platform::ConnCtx>,
    shutdown: CancellationToken,
) {
    let mut next: registry::ConnId = 0;
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        next += 1;
        tracing::debug!(%peer, conn = next, "platform connection");
        let ctx = ctx.clone();
        let conn = next;
        tokio::spawn(async move {
            platform::serve(stream, conn, ctx).await;
        });
    }
}

#[cfg(test)]
mod scratch;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// The library's entry point runs in process: it reports the ports it picked, answers
    /// over HTTP, and a cancelled token stops it cleanly (what in-process tests rely on).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_in_process_until_stopped() {
        let tmp = scratch::fresh_dir("serve-lib");
        let dir = tmp.path().join("data");
        let dir_arg = dir.display().to_string();
        let args = in_process::serve_args(&["--data-dir", &dir_arg]).expect("arguments");
        let stop = CancellationToken::new();
        let (tx, rx) = oneshot::channel();
        let daemon = tokio::spawn({
            let stop = stop.clone();
            async move { serve(&args, stop, Some(tx)).await }
        });
        let at = rx.await.expect("the daemon says where it listens");
        assert_ne!(at.http.port(), 0);
        assert_ne!(at.tcp.port(), 0);

        let mut http = tokio::net::TcpStream::connect(at.http)
            .await
            .expect("connect");
        http.write_all(b"GET /healthz HTTP/1.1\r\nHost: vaxel\r\nConnection: close\r\n\r\n")
            .await
            .expect("request");
        let mut reply = String::new();
        http.read_to_string(&mut reply).await.expect("response");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

        stop.cancel();
        let code = daemon.await.expect("no panic").expect("a clean stop");
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(dir.join(lock::LOCK_FILE).exists(), "the data dir was used");
    }
}
