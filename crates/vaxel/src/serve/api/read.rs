//! Reading: the wallboard's snapshot, the directory (hänvisningsdatabas) with presence,
//! and the Prometheus exposition. Operator or admin token.

use crate::serve::api::{ApiError, Need, authorize};
use crate::serve::http::AppState;
use crate::serve::metrics;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// Directory hits returned at most (`truncated` says when there were more).
pub const DIRECTORY_MAX_HITS: usize = 200;

/// `GET /api/v1/snapshot`: the engine's live state ([`vaxel_core::snapshot::Snapshot`]).
pub async fn snapshot(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Read)?;
    let snap = s.engine.snapshot().await?;
    Ok(Json(snap).into_response())
}

#[derive(Debug, Deserialize)]
pub struct DirectoryQuery {
    q: Option<String>,
}

/// `GET /api/v1/directory?q=WORDS`: entries matching every word (name, department,
/// extension, keywords; case-insensitive), with the linked agent's presence. No `q` lists
/// every entry.
pub async fn directory(
    State(s): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<DirectoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Read)?;
    let Query(query) = query.map_err(|e| ApiError::bad_field("q", e.body_text()))?;
    let q = query.q.unwrap_or_default();
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

/// `GET /metrics`: the Prometheus text exposition, live-state gauges from a fresh
/// snapshot.
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
