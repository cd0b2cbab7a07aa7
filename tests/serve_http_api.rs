//! `vaxel serve`'s HTTP reads, end to end: the daemon runs in process on a thread of its
//! own (`vaxel_serve::serve`, `--clock event`, ports picked by the OS), a platform speaks
//! the TCP protocol to it over loopback, and the checks go through real HTTP: the wallboard snapshot, server-sent events, the
//! directory with presence, and the tokens that guard reads and the agents' desktop.
//!
//! No mocks and no HTTP client library (`serve_support::http`). Every wait is bounded.

mod serve_support;

use serde_json::{Value, json};
use serve_support::api::{
    ADMIN_TOKEN, ApiDaemon, OPERATOR_TOKEN, PLATFORM_TOKEN, SITE, T0, agent, group,
    site_with_tokens, two_waiting,
};
use serve_support::http::{SseClient, connect, http, request_head};
use serve_support::metrics::{assert_sample, check_exposition, sample};
use std::io::{Read as _, Write as _};
use std::time::Duration;

#[test]
fn snapshot_stream_directory_and_metrics_follow_the_calls() {
    let d = ApiDaemon::start(&site_with_tokens());
    let mut sse = SseClient::open(d.http, Some(OPERATOR_TOKEN));
    assert_eq!(sse.status, 200);
    assert!(
        sse.content_type.starts_with("text/event-stream"),
        "{}",
        sse.content_type
    );
    // A snapshot at connect: nobody waits yet.
    let first = sse.until(Duration::from_secs(5), "the first snapshot", |_| true);
    assert_eq!(group(&first, "bygglov")["waiting"], 0, "{first}");

    let mut p = d.platform();
    two_waiting(&mut p);
    assert!(p.command("queue", "c2").is_some(), "{:?}", p.commands);

    // Another snapshot after the change.
    let later = sse.until(Duration::from_secs(5), "two calls waiting", |s| {
        group(s, "bygglov")["waiting"] == 2
    });
    assert_eq!(agent(&later, "a1")["state"], "paused");

    let snap = d.snapshot();
    let g = group(&snap, "bygglov");
    assert_eq!(g["waiting"], 2, "{snap}");
    assert_eq!(g["oldest_wait_s"], 30.0, "{snap}");
    assert_eq!(g["agents"]["paused"], 1, "{snap}");
    let calls: Vec<(&str, u64)> = snap["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["call"].as_str().unwrap_or_default(),
                c["position"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(calls, [("c1", 1), ("c2", 2)], "{snap}");
    assert_eq!(snap["at"], T0 + 31_000);

    // Directory: presence follows the linked agent's pause note.
    let r = d.get("/api/v1/directory?q=ritning", Some(OPERATOR_TOKEN));
    assert_eq!(r.status, 200, "{}", r.text());
    let hits = r.json();
    let hit = &hits["hits"][0];
    assert_eq!(hit["name"], "Anna Berg", "{hits}");
    assert_eq!(hit["presence"]["state"], "paused", "{hits}");
    assert_eq!(hit["presence"]["note"], "Lunch, back 13:00", "{hits}");
    assert_eq!(hits["hits"].as_array().map(Vec::len), Some(1), "{hits}");
    // Percent-encoded UTF-8 in the query; an entry without an agent has no presence.
    let r = d.get("/api/v1/directory?q=f%C3%B6rskola", Some(OPERATOR_TOKEN));
    let hits = r.json();
    assert_eq!(hits["hits"][0]["name"], "Förskoleenheten", "{hits}");
    assert_eq!(hits["hits"][0]["presence"], Value::Null, "{hits}");
    let r = d.get("/api/v1/directory?q=nobody-here", Some(OPERATOR_TOKEN));
    assert_eq!(r.json()["hits"], json!([]));

    let m = d.metrics();
    assert_sample(&m, r#"vaxel_calls_waiting{group="bygglov"}"#, 2.0);
    assert_sample(&m, r#"vaxel_calls_waiting{group="forskola"}"#, 0.0);
    assert_sample(&m, r#"vaxel_oldest_wait_seconds{group="bygglov"}"#, 30.0);
    assert_sample(&m, r#"vaxel_agents{group="bygglov",state="paused"}"#, 1.0);
    assert_sample(
        &m,
        r#"vaxel_agents{group="forskola",state="logged_out"}"#,
        1.0,
    );
    assert_sample(&m, "vaxel_crisis_active", 0.0);
    assert_sample(&m, "vaxel_platform_connections", 1.0);
    assert_sample(&m, r#"vaxel_events_total{type="call.arrived"}"#, 2.0);
    assert_sample(&m, r#"vaxel_commands_total{type="queue"}"#, 2.0);
    // The group's only agent is paused: nobody serves it, so the expected wait is unknown.
    assert!(sample(&m, r#"vaxel_expected_wait_seconds{group="bygglov"}"#).is_some_and(f64::is_nan));
    assert!(sample(&m, r#"vaxel_service_level_ratio{group="bygglov"}"#).is_some());
    assert!(sample(&m, "vaxel_journal_sync_seconds_count").is_some_and(|v| v >= 1.0));
    assert!(sample(&m, "vaxel_decision_seconds_count").is_some_and(|v| v >= 1.0));
    check_exposition(&m);
}

#[test]
fn tokens_guard_reads_and_writes() {
    let d = ApiDaemon::start(&site_with_tokens());
    // Probes are open. A single node is always the active one.
    assert_eq!(d.get("/healthz", None).status, 200);
    assert_eq!(d.get("/readyz", None).status, 200);
    let active = d.get("/activez", None);
    assert_eq!((active.status, &active.body[..]), (200, &b"active\n"[..]));
    // No token, a wrong token: 401 and nothing of the state.
    for token in [None, Some("wrong-token-0123456789"), Some(PLATFORM_TOKEN)] {
        for path in [
            "/api/v1/snapshot",
            "/api/v1/directory?q=anna",
            "/metrics",
            "/api/v1/stream",
        ] {
            let r = d.get(path, token);
            assert_eq!(r.status, 401, "{path} with {token:?}: {}", r.text());
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Bearer"))
            );
            let body = r.text();
            assert_eq!(r.json()["code"], "unauthorized", "{body}");
            for secret in ["Anna", "bygglov", "vaxel_", "groups"] {
                assert!(!body.contains(secret), "{path}: {body}");
            }
        }
        let r = d.post("/api/v1/agents/a1/state", token, r#"{"state":"login"}"#);
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let r = http(d.http, "GET", "/api/v1/snapshot", None, None);
    assert_eq!(r.status, 401);

    // An operator reads and acts for agents (tests/serve_desk.rs), but may not change the
    // site: 403.
    assert_eq!(d.get("/api/v1/snapshot", Some(OPERATOR_TOKEN)).status, 200);
    for (path, body) in [("/api/v1/crisis", r#"{"on":true}"#), ("/api/v1/reload", "")] {
        let r = d.post(path, Some(OPERATOR_TOKEN), body);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.json()["code"], "forbidden");
    }
    assert_eq!(agent(&d.snapshot(), "a1")["state"], "logged_out");

    // An admin drives an agent's desktop.
    let post = |body: &str| d.post("/api/v1/agents/a1/state", Some(ADMIN_TOKEN), body);
    let r = post(r#"{"state":"login","extension":"1001"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["agent"]["state"], "ready", "{}", r.text());
    let r = post(
        r#"{"state":"pause","reason":"meeting","note":"Möte, tillbaka 13:00","until":"2026-01-01T13:00:00+01:00"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let a = &r.json()["agent"];
    assert_eq!(a["state"], "paused", "{a}");
    assert_eq!(a["note"], "Möte, tillbaka 13:00", "{a}");
    assert_eq!(a["until"], 1_767_268_800_000_u64, "{a}");
    let r = d.get("/api/v1/directory?q=anna", Some(ADMIN_TOKEN));
    assert_eq!(
        r.json()["hits"][0]["presence"]["note"],
        "Möte, tillbaka 13:00"
    );
    let r = post(r#"{"state":"pause","until":1767268800000}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(r#"{"state":"ready"}"#);
    assert_eq!(r.json()["agent"]["state"], "ready", "{}", r.text());
    let r = post(r#"{"state":"logout"}"#);
    assert_eq!(r.json()["agent"]["state"], "logged_out", "{}", r.text());

    // Bad requests name their field; engine refusals are 409 with the protocol code.
    let cases = [
        (
            r#"{"state":"pause","until":"after lunch"}"#,
            400,
            "bad_field",
            Some("until"),
        ),
        (r#"{"state":"nap"}"#, 400, "bad_field", Some("state")),
        (r#"{}"#, 400, "missing_field", Some("state")),
        (
            r#"{"state":"ready","colour":"blue"}"#,
            400,
            "bad_field",
            Some("colour"),
        ),
        (
            r#"{"state":"login","extension":7}"#,
            400,
            "bad_field",
            Some("extension"),
        ),
        ("{\"state\":", 400, "bad_json", None),
        ("", 400, "bad_json", None),
    ];
    for (body, status, code, field) in cases {
        let r = post(body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let v = r.json();
        assert_eq!(v["code"], code, "{body}: {v}");
        assert_eq!(v["field"].as_str(), field, "{body}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    let r = d.post(
        "/api/v1/agents/zz9/state",
        Some(ADMIN_TOKEN),
        r#"{"state":"ready"}"#,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["code"], "unknown_agent");
    // A body past the bound: 413 from its Content-Length alone (nothing more is read),
    // and the daemon still answers.
    let mut s = connect(d.http);
    let head = request_head(
        d.http,
        "POST",
        "/api/v1/agents/a1/state",
        Some(ADMIN_TOKEN),
        1024 * 1024 + 1,
    );
    s.write_all(head.as_bytes()).expect("write head");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"too_large\""), "{raw}");
    assert_eq!(d.get("/readyz", None).status, 200);
    let r = d.get("/api/v1/nothing-here", Some(OPERATOR_TOKEN));
    assert_eq!(r.status, 404);
}

#[test]
fn a_site_without_tokens_is_open_on_loopback() {
    let d = ApiDaemon::start(SITE);
    let r = d.get("/api/v1/snapshot", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = d.post("/api/v1/crisis", None, r#"{"on":true}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_sample(&d.get("/metrics", None).text(), "vaxel_crisis_active", 1.0);
}
