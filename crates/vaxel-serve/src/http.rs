//! The HTTP API (docs/operations.md "HTTP API"): the wallboard, the directory, the agents'
//! desktops, admin actions, Prometheus metrics and the probes, all on the one
//! [`EngineHandle`]. Handlers live in `api/`; this file holds the routes and the
//! server.
//!
//! | route | token | |
//! |---|---|---|
//! | `GET /healthz`, `GET /readyz`, `GET /activez` | none | probes |
//! | `GET /api/v1/snapshot` | operator | live state as JSON |
//! | `GET /api/v1/stream` | operator | server-sent events of the live state |
//! | `GET /api/v1/directory?q=` | operator | directory with presence |
//! | `GET /metrics` | operator | Prometheus text exposition |
//! | `POST /api/v1/agents/{id}/state` | agent | agent ready / pause / logout / login |
//! | `POST /api/v1/agents/{id}/call/{transfer,park,unpark,requeue,disposition}` | agent | the desk's actions on the agent's call |
//! | `POST /api/v1/agents/{id}/wrapup/done` | agent | end of after-call work |
//! | `POST /api/v1/crisis` | admin | crisis mode on / off |
//! | `POST /api/v1/reload` | admin | new configuration, or re-read the file |
//! | `GET /`, `/wallboard`, `/desk`, `/assets/*` | none | the screens (they hold no data; their script reads the stream with the viewer's token) |
//!
//! "operator" means any token (an agent's too); "agent" means the agent's own token or an
//! operator or admin token. An admin token may do everything. A site with no operator,
//! admin or agent token is open (allowed on loopback only, see
//! [`check_exposure`](crate::auth::check_exposure)).

use crate::api;
use crate::auth::TokenStore;
use crate::engine_task::EngineHandle;
use crate::metrics::Metrics;
use crate::screens;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The HTTP server's bounds (`vaxel serve --http-*`): an HTTP client holds a descriptor
/// and a task, so none may hold them without sending.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Connections at once, event streams included; more wait in the listen backlog.
    pub max_connections: usize,
    /// From a connection's start, or the end of its last response, to the end of the next
    /// request's headers: the header and keep-alive idle timeout.
    pub header_timeout: Duration,
    /// For a request's whole body.
    pub body_timeout: Duration,
}

/// What every handler gets.
#[derive(Clone, Debug)]
pub struct AppState {
    pub engine: EngineHandle,
    /// Operator and admin bearer tokens.
    pub tokens: Arc<TokenStore>,
    /// The registry `/metrics` renders (also the daemon's observer).
    pub metrics: Arc<Metrics>,
    /// Ends the event streams at shutdown (graceful shutdown waits for open responses).
    pub shutdown: CancellationToken,
    /// Slots for event streams ([`api::stream::MAX_STREAMS`]).
    pub streams: Arc<Semaphore>,
    /// How long a request's body may take ([`HttpLimits::body_timeout`]).
    pub body_timeout: Duration,
}

impl AppState {
    #[must_use]
    pub fn new(
        engine: EngineHandle,
        tokens: Arc<TokenStore>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        body_timeout: Duration,
    ) -> AppState {
        AppState {
            engine,
            tokens,
            metrics,
            shutdown,
            streams: Arc::new(Semaphore::new(api::stream::MAX_STREAMS)),
            body_timeout,
        }
    }
}

/// Serves HTTP on `listener` until `shutdown`, within `limits`. Our own accept loop over
/// hyper rather than `axum::serve`, which has neither a connection cap nor a header
/// timeout.
pub async fn serve(
    listener: TcpListener,
    engine: EngineHandle,
    tokens: Arc<TokenStore>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    limits: HttpLimits,
    role: Option<Arc<crate::cluster::Role>>,
) -> anyhow::Result<()> {
    let state = AppState::new(
        engine,
        tokens,
        metrics,
        shutdown.clone(),
        limits.body_timeout,
    );
    let routes = router(state).route("/activez", get(activez).with_state(role.clone()));
    let routes = match role {
        // Cluster mode: every answer says whose it is, and a standby's how far behind.
        Some(role) => routes.layer(axum::middleware::map_response_with_state(role, mark_role)),
        None => routes,
    };
    let app = TowerToHyperService::new(routes);
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let conn = graceful.watch(http1.serve_connection(TokioIo::new(stream), app.clone()));
        tokio::spawn(async move {
            // A client that goes away, or is timed out, is no error of ours.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    // Open responses end (event streams see `shutdown`); the caller bounds the wait.
    graceful.shutdown().await;
    Ok(())
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(api::read::metrics))
        .route("/api/v1/snapshot", get(api::read::snapshot))
        .route("/api/v1/directory", get(api::read::directory))
        .route("/api/v1/stream", get(api::stream::stream))
        .route("/api/v1/agents/{id}/state", post(api::agents::set_state))
        .route(
            "/api/v1/agents/{id}/call/{action}",
            post(api::desk::call_action),
        )
        .route(
            "/api/v1/agents/{id}/wrapup/done",
            post(api::desk::wrapup_done),
        )
        .route("/api/v1/crisis", post(api::admin::crisis))
        .route("/api/v1/reload", post(api::admin::reload))
        .route("/", get(screens::index))
        .route("/wallboard", get(screens::wallboard))
        .route("/assets/wallboard.css", get(screens::wallboard_css))
        .route("/assets/wallboard.js", get(screens::wallboard_js))
        .route("/assets/stream.js", get(screens::stream_js))
        .route("/desk", get(screens::desk))
        .route("/assets/desk.css", get(screens::desk_css))
        .route("/assets/desk.js", get(screens::desk_js))
        // Handlers read bodies themselves, each with its bound (api::read_body).
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(state)
}

/// Cluster mode: `Vaxel-Role: active` or `standby`; a standby's answers (reads: its
/// writes are refused) also carry `Vaxel-Lag` (journal stream messages not applied yet)
/// and `Vaxel-Active` (who is active, and where).
async fn mark_role(
    State(role): State<Arc<crate::cluster::Role>>,
    mut res: axum::response::Response,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    let h = res.headers_mut();
    match role.not_active() {
        None => {
            h.insert("vaxel-role", HeaderValue::from_static("active"));
        }
        Some(active) => {
            h.insert("vaxel-role", HeaderValue::from_static("standby"));
            h.insert("vaxel-lag", HeaderValue::from(role.status.lag()));
            if let Ok(v) = HeaderValue::from_str(&active) {
                h.insert("vaxel-active", v);
            }
        }
    }
    res
}

/// `/activez`: `200 active` on the node serving the platforms (a single node always),
/// `503 standby` on a cluster's others, for a load balancer in front of the platforms' port.
async fn activez(
    State(role): State<Option<Arc<crate::cluster::Role>>>,
) -> (StatusCode, &'static str) {
    match role.and_then(|r| r.not_active()) {
        None => (StatusCode::OK, "active\n"),
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "standby\n"),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the engine task runs and keeps up ([`EngineHandle::ready`]): no request to
/// it, so a busy, healthy daemon is ready.
async fn readyz(State(s): State<AppState>) -> (StatusCode, &'static str) {
    if s.engine.ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}
