//! `GET /api/v1/stream`: server-sent events for wallboards. Each event is a full
//! snapshot (not a diff: a snapshot is a few kB even for the city, and a client that
//! missed events needs nothing else to be right):
//!
//! ```text
//! event: snapshot
//! id: 42
//! data: {"at":…,"site":"…","crisis":false,"groups":[…],…}
//! ```
//!
//! One at connect, then one whenever the engine's state changed, at most one a second
//! ([`MIN_INTERVAL`]; changes within the second are folded into the next). `id` is the
//! engine's change counter. Every stream sends the snapshot the engine task published
//! ([`Published`]): one per change for all of them, none asked for by a stream. A comment line (`:keep-alive`) goes out after
//! [`KEEP_ALIVE`] without an event, so that proxies keep the connection. Streams at once
//! are bounded ([`MAX_STREAMS`]; beyond, 503).

use crate::api::{ApiError, Need, authorize};
use crate::engine_task::Published;
use crate::http::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vaxel_core::snapshot::Snapshot;

/// Snapshots sent to one client at most this often.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// A keep-alive comment after this long without an event.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Event streams open at once at most.
pub const MAX_STREAMS: usize = 256;
/// What a client waits before reconnecting after the stream ends (the `retry` field).
const RETRY: Duration = Duration::from_secs(2);

/// One client's stream.
struct Client {
    published: watch::Receiver<Option<Published>>,
    shutdown: CancellationToken,
    /// The snapshot taken at connect, sent first.
    first: Option<Published>,
    last_sent: Instant,
    /// Held while the stream lives: its slot among [`MAX_STREAMS`].
    _slot: OwnedSemaphorePermit,
}

fn event(version: u64, snap: &Snapshot) -> Event {
    let e = Event::default().event("snapshot").id(version.to_string());
    match e.json_data(snap) {
        Ok(e) => e,
        // A snapshot always serializes; were it not to, the client still hears of it.
        Err(_) => Event::default().comment("snapshot unavailable"),
    }
}

impl Client {
    /// The next event, or `None` when the stream ends (shutdown, engine gone).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Client)> {
        if let Some(p) = self.first.take() {
            self.last_sent = Instant::now();
            let e = event(p.version, &p.snapshot).retry(RETRY);
            return Some((Ok(e), self));
        }
        tokio::select! {
            () = self.shutdown.cancelled() => return None,
            r = self.published.changed() => r.ok()?,
        }
        // At most one a second: changes meanwhile are folded into this one.
        tokio::select! {
            () = self.shutdown.cancelled() => return None,
            () = tokio::time::sleep_until(self.last_sent + MIN_INTERVAL) => {}
        }
        let p = self.published.borrow_and_update().clone()?;
        self.last_sent = Instant::now();
        Some((Ok(event(p.version, &p.snapshot)), self))
    }
}

/// `GET /api/v1/stream`.
pub async fn stream(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Read)?;
    let slot = s.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!("{MAX_STREAMS} event streams are open already; try again later"),
        )
    })?;
    // Mark the published snapshot seen before taking it: one published after this is
    // sent, one before it is the first.
    let mut published = s.engine.published();
    published.borrow_and_update();
    let first = s.engine.latest().await?;
    let client = Client {
        published,
        shutdown: s.shutdown.clone(),
        first: Some(first),
        last_sent: Instant::now(),
        _slot: slot,
    };
    let events = futures_util::stream::unfold(client, Client::next);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}
