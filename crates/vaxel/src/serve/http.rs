//! The HTTP API (docs/operations.md "HTTP API"): the wallboard, the directory, the agents'
//! desktops, admin actions, Prometheus metrics and the probes, all on the one
//! [`EngineHandle`]. Handlers live in `serve/api/`; this file holds the routes and the
//! server.
//!
//! | route | token | |
//! |---|---|---|
//! | `GET /healthz`, `GET /readyz` | none | probes |
//! | `GET /api/v1/snapshot` | operator | live state as JSON |
//! | `GET /api/v1/stream` | operator | server-sent events of the live state |
//! | `GET /api/v1/directory?q=` | operator | directory with presence |
//! | `GET /metrics` | operator | Prometheus text exposition |
//! | `POST /api/v1/agents/{id}/state` | admin | agent ready / pause / logout / login |
//! | `POST /api/v1/crisis` | admin | crisis mode on / off |
//! | `POST /api/v1/reload` | admin | new configuration, or re-read the file |
//! | `GET /`, `/wallboard`, `/assets/*` | none | the screens (they hold no data; their script reads the stream with the viewer's token) |
//!
//! An admin token may do everything an operator token may. A site with neither kind of
//! token is open (allowed on loopback only, see
//! [`check_exposure`](crate::serve::auth::check_exposure)).

use crate::serve::api;
use crate::serve::auth::TokenStore;
use crate::serve::engine_task::EngineHandle;
use crate::serve::metrics::Metrics;
use crate::serve::screens;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

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
}

impl AppState {
    #[must_use]
    pub fn new(
        engine: EngineHandle,
        tokens: Arc<TokenStore>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> AppState {
        AppState {
            engine,
            tokens,
            metrics,
            shutdown,
            streams: Arc::new(Semaphore::new(api::stream::MAX_STREAMS)),
        }
    }
}

/// Serves HTTP on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    engine: EngineHandle,
    tokens: Arc<TokenStore>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(AppState::new(engine, tokens, metrics, shutdown.clone()));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
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
        .route("/api/v1/crisis", post(api::admin::crisis))
        .route("/api/v1/reload", post(api::admin::reload))
        .route("/", get(screens::index))
        .route("/wallboard", get(screens::wallboard))
        .route("/assets/wallboard.css", get(screens::wallboard_css))
        .route("/assets/wallboard.js", get(screens::wallboard_js))
        .route("/assets/stream.js", get(screens::stream_js))
        // Handlers read bodies themselves, each with its bound (api::read_body).
        .fallback(api::not_found)
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the engine task answers within a second.
async fn readyz(State(s): State<AppState>) -> (StatusCode, &'static str) {
    match tokio::time::timeout(Duration::from_secs(1), s.engine.snapshot()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
    }
}
