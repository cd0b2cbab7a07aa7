//! Admin actions (admin token): crisis mode and configuration reload.

use crate::api::{ApiError, BODY_LIMIT, Fields, Need, RELOAD_LIMIT, authorize, ok, read_body};
use crate::engine_task::ReloadError;
use crate::http::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use vaxel_config::{Diagnostic, Severity};
use vaxel_core::{EngineError, Input};

/// `POST /api/v1/crisis` with `{"on":true,"prompt":"…","route":"group:kris"}` (`prompt`
/// and `route` optional: the site's `[crisis]` section otherwise) or `{"on":false}`.
pub async fn crisis(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Write)?;
    let body = read_body(body, BODY_LIMIT, s.body_timeout).await?;
    let mut f = Fields::parse(&body)?;
    let on = f.req_bool("on")?;
    let prompt = f.opt_id("prompt")?;
    let route = f.opt_id("route")?;
    f.finish()?;
    if !on && (prompt.is_some() || route.is_some()) {
        let field = if prompt.is_some() { "prompt" } else { "route" };
        return Err(ApiError::bad_field(field, "only with \"on\": true"));
    }
    s.engine
        .apply(Input::Crisis {
            on,
            prompt: prompt.map(Into::into),
            route: route.map(Into::into),
        })
        .await?;
    let crisis = s.engine.snapshot().await.map_or(on, |snap| snap.crisis);
    Ok(ok(json!({ "crisis": crisis })))
}

fn diagnostic(d: &Diagnostic) -> Value {
    json!({
        "severity": match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "path": d.path,
        "message": d.message,
    })
}

/// `POST /api/v1/reload`: the body is the new site file (TOML); an empty body re-reads
/// the `--config` file (as SIGHUP does). 200 with the warnings when applied; 422 with
/// every diagnostic when the text does not validate; 409 with every reason when the
/// engine refuses it (a waiting call or a logged-in agent would be stranded). Either way
/// the running configuration stays.
pub async fn reload(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&s.tokens.current(), &headers, Need::Write)?;
    let body = read_body(body, RELOAD_LIMIT, s.body_timeout).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::bad_field("body", format!("not UTF-8 text: {e}")))?;
    let r = if text.trim().is_empty() {
        s.engine.reload_config_file().await
    } else {
        s.engine.reload(text).await
    };
    match r {
        Ok(warnings) => {
            let warnings: Vec<Value> = warnings.iter().map(diagnostic).collect();
            Ok(ok(json!({ "warnings": warnings })))
        }
        Err(ReloadError::Invalid(diags)) => {
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let reasons: Vec<Value> = diags.iter().map(|d| Value::from(d.to_string())).collect();
            let structured: Vec<Value> = diags.iter().map(diagnostic).collect();
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_config",
                format!(
                    "the new configuration is invalid ({errors} {}); the running configuration stays",
                    if errors == 1 { "error" } else { "errors" }
                ),
            )
            .with("reasons", Value::from(reasons))
            .with("diagnostics", Value::from(structured)))
        }
        Err(ReloadError::Refused(EngineError::ReloadRefused(reasons))) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "reload_refused",
            "the engine refused the new configuration; the running configuration stays",
        )
        .with("reasons", Value::from(reasons))),
        Err(ReloadError::Refused(e)) => {
            let message = e.to_string();
            Err(
                ApiError::new(StatusCode::CONFLICT, e.code(), message.clone())
                    .with("reasons", json!([message])),
            )
        }
        Err(ReloadError::Unreadable(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "config_unreadable",
            e,
        )),
        Err(ReloadError::Gone) => Err(ApiError::gone()),
    }
}
