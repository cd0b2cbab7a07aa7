//! The operator's desk's actions on the agent's own call, for the agent's token (or an
//! operator or admin token):
//!
//! | route | body | input |
//! |---|---|---|
//! | `POST /api/v1/agents/{id}/call/transfer` | `{"to":"group:ID"\|"agent:ID"\|"number:E164","priority":N}` | `call.transfer` |
//! | `POST /api/v1/agents/{id}/call/park` | none or `{}` | `call.park` |
//! | `POST /api/v1/agents/{id}/call/unpark` | none or `{}` | `call.unpark` |
//! | `POST /api/v1/agents/{id}/call/requeue` | `{"group":ID,"priority":N}` (both optional) | `call.requeue` |
//! | `POST /api/v1/agents/{id}/call/disposition` | `{"case_type":ID,"resolved":bool}` | `call.disposition` |
//! | `POST /api/v1/agents/{id}/wrapup/done` | none or `{}` | `agent.wrapup_done` |
//!
//! The body is read as the wire event (`vaxel_proto::decode_action`: the same serde model,
//! field rules and error codes as a platform's line) without `agent`, which the path
//! names, and `call`, which the engine finds: the call the agent talks on, the one it
//! parked (unpark), or the one it answered and has not finished (disposition). Fields the
//! event does not have are refused, as everywhere in the HTTP API. The input is applied
//! and journaled like the platform's event, and its commands (`connect`, `forward`,
//! `park`, …) go to the platform that owns the call once durable. The answer is
//! `{"ok":true,"agent":{…}}`.

use crate::api::agents::{agent_now, agent_path};
use crate::api::{ApiError, BODY_LIMIT, Fields, ok, read_body};
use crate::http::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use vaxel_core::{AgentCall, Input};

/// One action on the agent's call: its path word, the wire event, which call, and the
/// body's fields (the event's own but `agent` and `call`).
struct Action {
    path: &'static str,
    ev: &'static str,
    which: AgentCall,
    fields: &'static [&'static str],
}

const ACTIONS: [Action; 5] = [
    Action {
        path: "transfer",
        ev: "call.transfer",
        which: AgentCall::Talking,
        fields: &["to", "priority"],
    },
    Action {
        path: "park",
        ev: "call.park",
        which: AgentCall::Talking,
        fields: &[],
    },
    Action {
        path: "unpark",
        ev: "call.unpark",
        which: AgentCall::Parked,
        fields: &[],
    },
    Action {
        path: "requeue",
        ev: "call.requeue",
        which: AgentCall::Talking,
        fields: &["group", "priority"],
    },
    Action {
        path: "disposition",
        ev: "call.disposition",
        which: AgentCall::Answered,
        fields: &["case_type", "resolved"],
    },
];

/// `POST /api/v1/agents/{id}/call/{action}`.
pub async fn call_action(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let (id, action) = match path {
        Ok(Path((id, action))) => (Ok(Path(id)), action),
        Err(e) => (Err(e), String::new()),
    };
    let id = agent_path(&s, &headers, id)?;
    let Some(action) = ACTIONS.iter().find(|a| a.path == action) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such call action: transfer, park, unpark, requeue or disposition",
        ));
    };
    let body = read_body(body, BODY_LIMIT, s.body_timeout).await?;
    let input = parse(action, &id, &body)?;
    s.engine
        .apply_to_call(id.as_str().into(), action.which, input)
        .await?;
    Ok(ok(json!({ "agent": agent_now(&s, &id).await })))
}

/// `POST /api/v1/agents/{id}/wrapup/done`: the agent's after-call work is over.
pub async fn wrapup_done(
    State(s): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = agent_path(&s, &headers, id)?;
    let body = read_body(body, BODY_LIMIT, s.body_timeout).await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        Fields::parse(&body)?.finish()?;
    }
    s.engine
        .apply(Input::AgentWrapupDone {
            agent: id.as_str().into(),
        })
        .await?;
    Ok(ok(json!({ "agent": agent_now(&s, &id).await })))
}

/// The input a body asks for, its call a placeholder the engine replaces. An empty body is
/// `{}`.
fn parse(action: &Action, agent: &str, body: &[u8]) -> Result<Input, ApiError> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        "{}"
    } else {
        // The HTTP API's rule: a key the action does not take is refused, not ignored.
        let mut f = Fields::parse(body)?;
        for name in action.fields {
            f.take(name);
        }
        f.finish()?;
        // Fields::parse read it as JSON, so it is UTF-8.
        std::str::from_utf8(body).map_err(|e| ApiError::bad_field("body", e))?
    };
    Ok(vaxel_proto::decode_action(action.ev, text, agent)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(path: &str) -> &'static Action {
        ACTIONS
            .iter()
            .find(|a| a.path == path)
            .unwrap_or_else(|| panic!("{path}"))
    }

    fn refusal(path: &str, body: &str) -> (&'static str, Option<String>) {
        match parse(action(path), "a1", body.as_bytes()) {
            Ok(i) => panic!("{i:?}"),
            Err(e) => (e.code, e.field),
        }
    }

    #[test]
    fn bodies_read_as_the_wire_events() {
        let i = parse(
            action("transfer"),
            "a1",
            br#"{"to":"agent:b2","priority":3}"#,
        )
        .unwrap();
        assert_eq!(
            i,
            Input::CallTransfer {
                call: vaxel_proto::ACTION_CALL.into(),
                agent: "a1".into(),
                to: "agent:b2".into(),
                priority: Some(3),
            }
        );
        assert!(matches!(
            parse(action("park"), "a1", b"").unwrap(),
            Input::CallPark { .. }
        ));
        assert!(matches!(
            parse(action("requeue"), "a1", br#"{"group":"g"}"#).unwrap(),
            Input::CallRequeue {
                group: Some(_),
                priority: None,
                ..
            }
        ));
    }

    #[test]
    fn refusals_carry_the_protocols_codes_and_fields() {
        let f = |s: &str| Some(s.to_owned());
        assert_eq!(refusal("transfer", "{}"), ("missing_field", f("to")));
        assert_eq!(
            refusal("transfer", r#"{"to":"somewhere"}"#),
            ("bad_field", f("to"))
        );
        assert_eq!(
            refusal("transfer", r#"{"to":"group:g","priority":"high"}"#),
            ("bad_field", f("priority"))
        );
        assert_eq!(
            refusal("disposition", r#"{"case_type":"x"}"#),
            ("missing_field", f("resolved"))
        );
        assert_eq!(
            refusal("park", r#"{"call":"c1"}"#),
            ("bad_field", f("call"))
        );
        assert_eq!(
            refusal("requeue", r#"{"prio":1}"#),
            ("bad_field", f("prio"))
        );
        assert_eq!(refusal("park", "{"), ("bad_json", None));
    }
}
