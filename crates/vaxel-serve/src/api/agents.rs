//! The agents' desktops: `POST /api/v1/agents/{id}/state` (the agent's own token, or an
//! operator or admin token). The body says what the agent does:
//!
//! | body | input |
//! |---|---|
//! | `{"state":"ready"}` | `agent.ready` |
//! | `{"state":"pause","reason":"lunch","note":"Lunch, back 13:00","until":…}` | `agent.pause` (all but `state` optional; `until` in epoch ms or RFC 3339) |
//! | `{"state":"logout"}` | `agent.logout` |
//! | `{"state":"login","extension":"1017"}` | `agent.login` (`extension` optional) |
//!
//! Applied at the daemon's time and journaled like the platform's events; the answer is
//! `{"ok":true,"agent":{…the agent's snapshot…}}` once durable.

use crate::api::{ApiError, BODY_LIMIT, Fields, Need, authorize, check_id, ok, read_body};
use crate::http::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use vaxel_core::{Input, Timestamp};

/// `POST /api/v1/agents/{id}/state`.
pub async fn set_state(
    State(s): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = agent_path(&s, &headers, id)?;
    let body = read_body(body, BODY_LIMIT, s.body_timeout).await?;
    let input = parse(&id, &body)?;
    s.engine.apply(input).await?;
    Ok(ok(json!({ "agent": agent_now(&s, &id).await })))
}

/// The agent a request acts for, from its path, once the token may act for it: 401
/// without a valid token, 403 for another agent's token, 400 for a malformed id.
pub(crate) fn agent_path(
    s: &AppState,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let id = id.map(|Path(id)| id);
    authorize(
        &s.tokens.current(),
        headers,
        Need::Agent(id.as_deref().unwrap_or("")),
    )?;
    let id = id.map_err(|e| ApiError::bad_field("id", e.body_text()))?;
    check_id("id", &id)?;
    Ok(id)
}

/// The agent as it is now (the wallboard's view), for an action's answer; `null` if the
/// engine went meanwhile.
pub(crate) async fn agent_now(s: &AppState, id: &str) -> Value {
    match s.engine.snapshot().await {
        Ok(snap) => snap
            .agents
            .iter()
            .find(|a| *a.id == *id)
            .map_or(Value::Null, |a| super::to_value(&a)),
        Err(_) => Value::Null,
    }
}

/// The input a body asks for.
fn parse(id: &str, body: &[u8]) -> Result<Input, ApiError> {
    let mut f = Fields::parse(body)?;
    let agent: vaxel_core::site::Text = id.into();
    let state = f.req_str("state", 32)?;
    let input = match state.as_str() {
        "ready" => Input::AgentReady { agent },
        "logout" => Input::AgentLogout { agent },
        "login" => Input::AgentLogin {
            agent,
            extension: f.opt_id("extension")?.map(Into::into),
        },
        "pause" => Input::AgentPause {
            agent,
            reason: f.opt_id("reason")?.map(Into::into),
            note: f.opt_str("note", vaxel_proto::MAX_TEXT)?.map(Into::into),
            until: until(f.take("until"))?,
        },
        other => {
            return Err(ApiError::bad_field(
                "state",
                format!("\"{other}\": expected \"ready\", \"pause\", \"logout\" or \"login\""),
            ));
        }
    };
    f.finish()?;
    Ok(input)
}

/// `until`: epoch milliseconds (an integer) or an RFC 3339 time with offset.
fn until(v: Option<Value>) -> Result<Option<Timestamp>, ApiError> {
    let expected = "expected epoch milliseconds (an integer) or an RFC 3339 time such as \
                    \"2026-03-02T13:00:00+01:00\"";
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|ms| Some(Timestamp(ms)))
            .ok_or_else(|| ApiError::bad_field("until", expected)),
        Some(Value::String(s)) => s
            .trim()
            .parse::<jiff::Timestamp>()
            .map(|t| Some(Timestamp::from_jiff(t)))
            .map_err(|e| ApiError::bad_field("until", format!("{expected} ({e})"))),
        Some(_) => Err(ApiError::bad_field("until", expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<Input, ApiError>) -> Option<String> {
        r.err().and_then(|e| e.field)
    }

    #[test]
    fn bodies_map_to_inputs() {
        let i = parse("a1", br#"{"state":"ready"}"#).expect("ready");
        assert!(matches!(i, Input::AgentReady { .. }));
        let i = parse(
            "a1",
            br#"{"state":"pause","reason":"lunch","note":"Lunch, back 13:00","until":"2026-03-02T13:00:00+01:00"}"#,
        )
        .expect("pause");
        match i {
            Input::AgentPause {
                reason,
                note,
                until,
                ..
            } => {
                assert_eq!(reason.as_deref(), Some("lunch"));
                assert_eq!(note.as_deref(), Some("Lunch, back 13:00"));
                assert_eq!(until, Some(Timestamp(1_772_452_800_000)));
            }
            other => panic!("{other:?}"),
        }
        let i = parse("a1", br#"{"state":"pause","until":1772452800000}"#).expect("ms");
        assert!(matches!(
            i,
            Input::AgentPause {
                until: Some(Timestamp(1_772_452_800_000)),
                ..
            }
        ));
        let i = parse("a1", br#"{"state":"login","extension":"1017"}"#).expect("login");
        assert!(matches!(
            i,
            Input::AgentLogin {
                extension: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn bad_bodies_name_their_field() {
        assert_eq!(field_of(parse("a1", b"{}")).as_deref(), Some("state"));
        assert_eq!(
            field_of(parse("a1", br#"{"state":"dance"}"#)).as_deref(),
            Some("state")
        );
        assert_eq!(
            field_of(parse("a1", br#"{"state":"pause","until":"tomorrow"}"#)).as_deref(),
            Some("until")
        );
        assert_eq!(
            field_of(parse("a1", br#"{"state":"pause","until":-5}"#)).as_deref(),
            Some("until")
        );
        assert_eq!(
            field_of(parse("a1", br#"{"state":"ready","mood":"good"}"#)).as_deref(),
            Some("mood")
        );
        assert_eq!(
            field_of(parse("a1", br#"{"state":"login","extension":""}"#)).as_deref(),
            Some("extension")
        );
        let e = parse("a1", b"not json").expect_err("bad json");
        assert_eq!(e.code, "bad_json");
        let e = parse("a1", b"[1]").expect_err("not an object");
        assert_eq!(e.code, "bad_json");
    }
}
