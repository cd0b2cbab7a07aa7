//! Reading: the wallboard's snapshot, the directory (hänvisningsdatabas) with presence,
//! and the Prometheus exposition. Operator or admin token.

use crate::api::{ApiError, Need, authorize};
use crate::http::AppState;
use crate::metrics;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Directory hits returned at most (`truncated` says when there were more).
pub const DIRECTORY_MAX_HITS: usize = 200;

/// `GET /api/v1/snapshot`: the engine's live state ([`vaxel_core::snapshot::Snapshot`]),
/// as the JSON text serialized once for every reader of that snapshot
/// ([`Published::json`](crate::engine_task::Published::json)): the bytes `Json` would
/// write.
pub async fn snapshot(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Read)?;
    let p = s.engine.current().await?;
    Ok(match p.json() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            text.to_owned(),
        )
            .into_response(),
        // A snapshot always serializes; `Json` answers the error if it does not.
        None => Json(p.snapshot).into_response(),
    })
}

/// `GET /api/v1/directory?q=WORDS`: entries matching every word (name, department,
/// extension, keywords; case-insensitive), with the linked agent's presence. No `q` lists
/// every entry.
pub async fn directory(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Read)?;
    let q = query_param(raw.as_deref().unwrap_or(""), "q")
        .map_err(|e| ApiError::bad_field("q", e))?
        .unwrap_or_default();
    if q.len() > vaxel_proto::MAX_ID {
        return Err(ApiError::bad_field(
            "q",
            format!("longer than {} bytes", vaxel_proto::MAX_ID),
        ));
    }
    let mut hits = s.engine.directory(&q).await?;
    let truncated = hits.len() > DIRECTORY_MAX_HITS;
    hits.truncate(DIRECTORY_MAX_HITS);
    Ok(Json(json!({ "q": q, "hits": hits, "truncated": truncated })).into_response())
}

/// The last value of `key` in a query string, URL-decoded (`+` is a space). Decoded bytes
/// that are not UTF-8 are an error: a lenient decoder would search for U+FFFD instead.
fn query_param(raw: &str, key: &str) -> Result<Option<String>, String> {
    let mut found = None;
    for pair in raw.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == key {
            found = Some(v);
        }
    }
    let Some(v) = found else { return Ok(None) };
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut bytes = Vec::with_capacity(v.len());
    let mut it = v.bytes();
    while let Some(b) = it.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => match (it.next().and_then(hex), it.next().and_then(hex)) {
                (Some(h), Some(l)) => bytes.push(h << 4 | l),
                _ => return Err("a `%` not followed by two hex digits".to_owned()),
            },
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        format!(
            "not UTF-8 (byte {} of the decoded value)",
            e.utf8_error().valid_up_to() + 1
        )
    })
}

/// `GET /metrics`: the Prometheus text exposition, live-state gauges from the snapshot as
/// of the scrape (the published one when nothing changed since: no request then).
pub async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Read)?;
    let snap = s.engine.snapshot().await?;
    let text = s.metrics.render(&snap);
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::query_param;

    #[test]
    fn query_values_are_decoded_and_invalid_utf8_is_refused() {
        assert_eq!(
            query_param("x=1&q=r%C3%A5d+hus", "q"),
            Ok(Some("råd hus".to_owned()))
        );
        assert_eq!(query_param("x=1", "q"), Ok(None));
        assert_eq!(query_param("q", "q"), Ok(Some(String::new())));
        assert!(query_param("q=%FF%FE", "q").is_err_and(|e| e.contains("UTF-8")));
        assert!(query_param("q=%F", "q").is_err());
    }
}
