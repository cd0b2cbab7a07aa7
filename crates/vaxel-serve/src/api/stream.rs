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
//! ([`Published`]): one per change for all of them, none asked for by a stream, and
//! serialized once for all of them. A comment line (`:keep-alive`) goes out after
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

/// The event for a publication: its JSON text is made once and shared by every stream
/// ([`Published::json`]), the bytes those of `Event::json_data` on the snapshot.
fn event(p: &Published) -> Event {
    match p.json() {
        Some(json) => Event::default()
            .event("snapshot")
            .id(p.version.to_string())
            .data(json),
        // A snapshot always serializes; were it not to, the client still hears of it.
        None => Event::default().comment("snapshot unavailable"),
    }
}

impl Client {
    /// The next event, or `None` when the stream ends (shutdown, engine gone).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Client)> {
        if let Some(p) = self.first.take() {
            self.last_sent = Instant::now();
            let e = event(&p).retry(RETRY);
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
        Some((Ok(event(&p)), self))
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use std::sync::Arc;
    use vaxel_core::{Engine, Input, Timestamp};

    /// What an `Sse` response carrying `events` puts on the wire.
    async fn wire(events: Vec<Event>) -> Vec<u8> {
        let body = Sse::new(futures_util::stream::iter(
            events.into_iter().map(Ok::<_, Infallible>),
        ))
        .into_response()
        .into_body();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b.to_vec(),
            Err(e) => panic!("the body: {e}"),
        }
    }

    /// The city with an agent logged in, as a publication.
    fn published() -> Published {
        let Ok(v) = vaxel_config::load_site(vaxel_config::STOCKHOLM) else {
            panic!("the built-in city validates");
        };
        let site = Arc::new(v.site);
        let mut e = Engine::new(site.clone(), Timestamp(1_772_434_800_000));
        let _ = e.handle(
            Timestamp(1_772_434_801_000),
            Input::AgentLogin {
                agent: site.agents[0].id.clone(),
                extension: None,
            },
        );
        while e.poll_output().is_some() {}
        Published::new(42, Arc::new(e.snapshot_at(Timestamp(1_772_434_802_000))))
    }

    #[tokio::test]
    async fn the_shared_text_puts_the_bytes_of_a_serialization_per_stream_on_the_wire() {
        let p = published();
        // What each stream sent before the text was shared.
        let own = |retry: bool| {
            let e = Event::default().event("snapshot").id("42");
            let e = match e.json_data(&*p.snapshot) {
                Ok(e) => e,
                Err(e) => panic!("the snapshot serializes: {e}"),
            };
            if retry { e.retry(RETRY) } else { e }
        };
        let before = wire(vec![own(true), own(false)]).await;
        let after = wire(vec![event(&p).retry(RETRY), event(&p.clone())]).await;
        assert_eq!(
            String::from_utf8_lossy(&after),
            String::from_utf8_lossy(&before)
        );
        assert!(before.starts_with(b"event: snapshot\nid: 42\ndata: {"));
    }

    #[test]
    fn the_clones_of_a_publication_share_one_serialization() {
        let p = published();
        let q = p.clone();
        let (Some(a), Some(b)) = (p.json(), q.json()) else {
            panic!("the snapshot serializes");
        };
        assert!(std::ptr::eq(a, b), "serialized once for both");
        assert!(!a.contains('\n'), "one `data:` line");
    }
}
