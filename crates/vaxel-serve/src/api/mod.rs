//! The HTTP API's handlers (docs/operations.md "HTTP API"), by audience:
//! - `read.rs`: the wallboard and the directory (`snapshot`, `directory`) and `/metrics`;
//! - `stream.rs`: server-sent events of the live state;
//! - `agents.rs`: the agents' desktops (`POST /api/v1/agents/{id}/state`);
//! - `desk.rs`: the operator's desk's actions on the agent's call (`.../call/transfer`, …,
//!   `.../wrapup/done`);
//! - `admin.rs`: crisis mode and configuration reload.
//!
//! This file holds what they share: bearer-token checks, bounded body reading, strict
//! JSON field parsing (every 400 names its field), and the JSON error shape
//! `{"code": …, "message": …}` (plus `field` or `reasons` where they apply).
//!
//! Architecture invariant: nothing here panics on request data; every body is read with a
//! bound; every change goes through [`EngineHandle`](crate::EngineHandle) and so is
//! journaled like a platform event.

pub mod admin;
pub mod agents;
pub mod desk;
pub mod read;
pub mod stream;

use crate::auth::{Tokens, ct_eq};
use crate::engine_task::EngineGone;
use axum::Json;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::time::Duration;
use vaxel_core::EngineError;

/// Bytes a JSON request body may have at most.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Bytes a configuration (reload) body may have at most.
pub const RELOAD_LIMIT: usize = 4 * 1024 * 1024;

/// What a request needs to be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need<'a> {
    /// Reading state: any token (operator, admin, or an agent's).
    Read,
    /// Acting for one agent (its state, its call): that agent's token, or an operator or
    /// admin token.
    Agent(&'a str),
    /// Changing the site's state (crisis, reload): an admin token.
    Write,
}

/// A refused request: its status and the JSON body `{"code", "message", …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request field at fault (400s).
    pub field: Option<String>,
    /// Everything else the body carries (`reasons`, `diagnostics`).
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            extra: Map::new(),
        }
    }

    /// 400 about one field of the request.
    pub fn field(code: &'static str, field: &str, message: impl std::fmt::Display) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, code, format!("{field}: {message}"));
        e.field = Some(field.to_owned());
        e
    }

    /// 400: `field` has a wrong value.
    pub fn bad_field(field: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::field("bad_field", field, message)
    }

    /// 400: `field` is required.
    pub fn missing_field(field: &str) -> ApiError {
        ApiError::field("missing_field", field, "is required")
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer <token>)",
        )
    }

    pub fn gone() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            EngineGone.to_string(),
        )
    }

    /// Adds `key: value` to the body.
    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_owned(), value);
        self
    }
}

impl From<EngineGone> for ApiError {
    fn from(_: EngineGone) -> ApiError {
        ApiError::gone()
    }
}

/// A body the protocol's reader refused (a desk's action read as the wire event,
/// [`vaxel_proto::decode_action`]): 400 with the protocol's code and message, naming the
/// field as a platform's `error` does.
impl From<vaxel_proto::ProtoErrorKind> for ApiError {
    fn from(e: vaxel_proto::ProtoErrorKind) -> ApiError {
        use vaxel_proto::ProtoErrorKind as K;
        let mut api = ApiError::new(StatusCode::BAD_REQUEST, e.code().as_str(), e.to_string());
        if let K::MissingField { field, .. } | K::BadField { field, .. } = e {
            api.field = Some(field.to_owned());
        }
        api
    }
}

/// The engine's refusal of an action: 409 with the protocol code; a field the engine
/// names is a 400 about that field; a stopped engine is 503.
impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match &e {
            EngineError::InvalidState(m) if *m == EngineGone.to_string() => ApiError::gone(),
            EngineError::BadField { field, reason } => ApiError::bad_field(field, reason),
            _ => ApiError::new(StatusCode::CONFLICT, e.code(), e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("code".into(), Value::from(self.code));
        body.insert("message".into(), Value::from(self.message));
        if let Some(f) = self.field {
            body.insert("field".into(), Value::from(f));
        }
        body.extend(self.extra);
        let mut resp = (self.status, Json(Value::Object(body))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vaxel\""),
            );
        }
        resp
    }
}

/// Whose token a request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Operator,
    Admin,
    /// An agent's own token (the operator's desk), naming the agent.
    Agent(vaxel_core::site::Text),
}

/// The bearer token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn role(tokens: &Tokens, token: &str) -> Option<Role> {
    // Every comparison is constant-time; the admin list first so that a token in both
    // lists gets the larger role.
    if tokens.admin.iter().any(|t| ct_eq(t, token)) {
        Some(Role::Admin)
    } else if tokens.operator.iter().any(|t| ct_eq(t, token)) {
        Some(Role::Operator)
    } else {
        // Every agent token is compared (no early exit): the time does not say which.
        tokens
            .agent
            .iter()
            .fold(
                None,
                |found, (agent, t)| {
                    if ct_eq(t, token) { Some(agent) } else { found }
                },
            )
            .map(|a| Role::Agent(a.clone()))
    }
}

/// Whether the HTTP API is open: a site without operator, admin and agent tokens (allowed
/// only on loopback, see [`check_exposure`](crate::auth::check_exposure)).
#[must_use]
pub fn open(tokens: &Tokens) -> bool {
    tokens.operator.is_empty() && tokens.admin.is_empty() && tokens.agent.is_empty()
}

/// Checks the request's bearer token: 401 when missing or unknown, 403 when an operator or
/// agent token asks to change the site, or an agent token to act for another agent.
pub fn authorize(tokens: &Tokens, headers: &HeaderMap, need: Need<'_>) -> Result<(), ApiError> {
    if open(tokens) {
        return Ok(());
    }
    let role = bearer(headers)
        .and_then(|t| role(tokens, t))
        .ok_or_else(ApiError::unauthorized)?;
    match (need, role) {
        (Need::Read, _)
        | (Need::Write, Role::Admin)
        | (Need::Agent(_), Role::Admin | Role::Operator) => Ok(()),
        (Need::Agent(id), Role::Agent(a)) if *a == *id => Ok(()),
        (Need::Agent(_), Role::Agent(a)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token acts for agent \"{a}\" only"),
        )),
        (Need::Write, _) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this action needs an admin token; operator and agent tokens may only read \
             (and act for agents)",
        )),
    }
}

/// Reads a request body of at most `limit` bytes: 413 beyond, at once when the
/// `Content-Length` says so (nothing more is read); 408 when it has not all come within
/// `timeout` (a client trickling a body must not hold a connection slot for ever).
pub async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, ApiError> {
    let too_large = |detail: &str| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than {limit} bytes{detail}"),
        )
    };
    let announced = HttpBody::size_hint(&body).lower();
    if usize::try_from(announced).map_or(true, |n| n > limit) {
        return Err(too_large(""));
    }
    // Past the limit, or a connection that broke while sending (nobody sees that answer).
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(r) => r.map_err(|e| too_large(&format!(" or could not be read ({e})"))),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f64()
            ),
        )),
    }
}

/// A JSON object's fields, taken one by one; [`finish`](Fields::finish) refuses any left
/// (a misspelt key is an error, not silently ignored).
#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// Parses a body that must be one JSON object.
    pub fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                format!("the body is not valid JSON: {e}"),
            )
        })?;
        match v {
            Value::Object(map) => Ok(Fields { map }),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                "the body must be a JSON object",
            )),
        }
    }

    /// A field's raw value; `null` counts as absent.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    /// An optional string of at most `max` bytes.
    pub fn opt_str(&mut self, key: &str, max: usize) -> Result<Option<String>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => {
                if s.len() > max {
                    Err(ApiError::bad_field(key, format!("longer than {max} bytes")))
                } else {
                    Ok(Some(s))
                }
            }
            Some(_) => Err(ApiError::bad_field(key, "expected a string")),
        }
    }

    /// An optional identifier-like string: not empty, at most [`vaxel_proto::MAX_ID`]
    /// bytes, no control characters (the protocol's rule for ids).
    pub fn opt_id(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        let Some(s) = self.opt_str(key, vaxel_proto::MAX_ID)? else {
            return Ok(None);
        };
        check_id(key, &s)?;
        Ok(Some(s))
    }

    /// A required string.
    pub fn req_str(&mut self, key: &str, max: usize) -> Result<String, ApiError> {
        self.opt_str(key, max)?
            .ok_or_else(|| ApiError::missing_field(key))
    }

    /// A required boolean.
    pub fn req_bool(&mut self, key: &str) -> Result<bool, ApiError> {
        match self.take(key) {
            None => Err(ApiError::missing_field(key)),
            Some(Value::Bool(b)) => Ok(b),
            Some(_) => Err(ApiError::bad_field(key, "expected true or false")),
        }
    }

    /// Refuses fields nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.map.into_iter().next() {
            None => Ok(()),
            Some((k, _)) => Err(ApiError::bad_field(&k, "unknown field")),
        }
    }
}

/// The protocol's rule for ids: not empty, at most [`vaxel_proto::MAX_ID`] bytes, no
/// control characters.
pub fn check_id(field: &str, s: &str) -> Result<(), ApiError> {
    if s.is_empty() {
        return Err(ApiError::bad_field(field, "must not be empty"));
    }
    if s.len() > vaxel_proto::MAX_ID {
        return Err(ApiError::bad_field(
            field,
            format!("longer than {} bytes", vaxel_proto::MAX_ID),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ApiError::bad_field(field, "contains a control character"));
    }
    Ok(())
}

/// `{"ok": true, …}`.
pub fn ok(extra: Value) -> Response {
    let mut body = Map::new();
    body.insert("ok".into(), Value::Bool(true));
    if let Value::Object(m) = extra {
        body.extend(m);
    }
    Json(Value::Object(body)).into_response()
}

/// 404 for paths the API does not have.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// 405 for a path the API has, with another method (a `GET` on a `POST` route): the same
/// JSON error as every refusal, not an empty body.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// A JSON value of something serializable (`null` if it cannot be, which the types here
/// never do).
pub fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}
