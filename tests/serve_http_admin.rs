//! `vaxel serve`'s HTTP admin actions, end to end against the daemon in process (over
//! loopback TCP and HTTP): crisis mode on and off, a reload of
//! the site (valid, invalid, refused for stranding calls, from the file) and a reload
//! that rotates the tokens, each seen through the snapshot, `/metrics` and the platform's
//! TCP protocol.

mod serve_support;

use serde_json::json;
use serve_support::api::{
    ADMIN_TOKEN, ApiDaemon, OPERATOR_TOKEN, PLATFORM_TOKEN, Platform, SITE, T0, group,
    site_with_tokens, two_waiting,
};
use serve_support::metrics::assert_sample;

#[test]
fn crisis_on_and_off_shows_in_snapshot_and_metrics() {
    let d = ApiDaemon::start(&site_with_tokens());
    let crisis = |body: &str| d.post("/api/v1/crisis", Some(ADMIN_TOKEN), body);
    let r = crisis(r#"{"on":true,"prompt":"crisis-storm","route":"group:forskola"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["crisis"], true);
    assert_eq!(d.snapshot()["crisis"], true);
    assert_sample(&d.metrics(), "vaxel_crisis_active", 1.0);

    // A caller now hears the crisis prompt first.
    let mut p = d.platform();
    p.send(
        json!({"ev":"call.arrived","call":"k1","to":"+4685550000","from":"+46701234565","at":T0}),
    );
    let play = p.command("play", "k1").expect("a play command");
    assert_eq!(play["prompt"], "crisis-storm", "{:?}", p.commands);

    let r = crisis(r#"{"on":true,"route":"group:nowhere"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["field"], "route");
    let r = crisis(r#"{"on":"yes"}"#);
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("on")));
    let r = crisis(r#"{"prompt":"x"}"#);
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("missing_field"))
    );

    let r = crisis(r#"{"on":false}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["crisis"], false);
    assert_eq!(d.snapshot()["crisis"], false);
    let m = d.metrics();
    assert_sample(&m, "vaxel_crisis_active", 0.0);
    // On, the refused route, off: refused inputs count too, and apart.
    assert_sample(&m, r#"vaxel_events_total{type="crisis"}"#, 3.0);
    assert_sample(
        &m,
        r#"vaxel_events_refused_total{code="bad_field",type="crisis"}"#,
        1.0,
    );
}

#[test]
fn reload_applies_valid_changes_and_refuses_others_with_reasons() {
    let d = ApiDaemon::start(&site_with_tokens());
    let mut p = d.platform();
    two_waiting(&mut p);
    let before = d.snapshot();
    let reload = |body: &str| d.post("/api/v1/reload", Some(ADMIN_TOKEN), body);

    // A valid change applies; the waiting calls keep their places and waits.
    let renamed = site_with_tokens().replace("name = \"Bygglov\"", "name = \"Bygglov och lov\"");
    let r = reload(&renamed);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], true);
    let after = d.snapshot();
    assert_eq!(group(&after, "bygglov")["name"], "Bygglov och lov");
    assert_eq!(after["calls"], before["calls"], "the waiting calls moved");
    assert_eq!(group(&after, "bygglov")["waiting"], 2);

    // Invalid: 422 with every reason, the running configuration stays.
    let broken = renamed.replace(
        "route = \"group:bygglov\"\ncalendar",
        "route = \"group:bygglv\"\ncalendar",
    );
    assert_ne!(broken, renamed);
    let r = reload(&broken);
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json();
    assert_eq!(v["code"], "invalid_config", "{v}");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .is_some_and(|s| s.contains("bygglv") && s.contains("did you mean"))),
        "{v}"
    );
    assert!(
        v["diagnostics"][0]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("entries[0]")),
        "{v}"
    );
    let r = reload("[site\nname = ");
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(group(&d.snapshot(), "bygglov")["name"], "Bygglov och lov");

    // Valid, but it would strand the waiting calls: 409 with the reasons.
    let without = site_with_tokens()
        .replace(
            "[[groups]]\nid = \"bygglov\"\nname = \"Bygglov\"\nrequires = { bygglov = 1 }\n",
            "[[groups]]\nid = \"bygglov-old\"\nname = \"Bygglov\"\nrequires = { bygglov = 1 }\n",
        )
        .replace("route = \"group:bygglov\"", "route = \"group:bygglov-old\"");
    assert!(!without.contains("id = \"bygglov\""));
    let r = reload(&without);
    assert_eq!(r.status, 409, "{}", r.text());
    let v = r.json();
    assert_eq!(v["code"], "reload_refused", "{v}");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .is_some_and(|s| s.contains("\"c1\"") && s.contains("bygglov"))),
        "{v}"
    );
    assert_eq!(group(&d.snapshot(), "bygglov")["waiting"], 2);

    // An empty body re-reads the file: back to the original name, calls still in place.
    let r = reload("");
    assert_eq!(r.status, 200, "{}", r.text());
    let again = d.snapshot();
    assert_eq!(group(&again, "bygglov")["name"], "Bygglov");
    assert_eq!(again["calls"], before["calls"]);
    // ...and a changed file is picked up the same way.
    std::fs::write(&d.config, &renamed).expect("rewrite site");
    assert_eq!(reload("").status, 200);
    assert_eq!(group(&d.snapshot(), "bygglov")["name"], "Bygglov och lov");
    let m = d.metrics();
    assert_sample(&m, r#"vaxel_calls_waiting{group="bygglov"}"#, 2.0);
}

#[test]
fn a_reload_rotates_the_tokens_without_a_restart() {
    let d = ApiDaemon::start(&site_with_tokens());
    let (platform, operator, admin) = (
        "platform-token-rotated-000001",
        "operator-token-rotated-000001",
        "admin-token-rotated-000000001",
    );
    let rotated = format!(
        "{SITE}\n[auth]\nplatform_tokens = [\"{platform}\"]\n\
         operator_tokens = [\"{operator}\"]\nadmin_tokens = [\"{admin}\"]\n"
    );
    let r = d.post("/api/v1/reload", Some(ADMIN_TOKEN), &rotated);
    assert_eq!(r.status, 200, "{}", r.text());

    // The old tokens are out, the new ones in, on both ports.
    assert_eq!(d.get("/api/v1/snapshot", Some(OPERATOR_TOKEN)).status, 401);
    assert_eq!(d.get("/api/v1/snapshot", Some(operator)).status, 200);
    let body = r#"{"state":"login"}"#;
    assert_eq!(
        d.post("/api/v1/agents/a1/state", Some(ADMIN_TOKEN), body)
            .status,
        401
    );
    assert_eq!(
        d.post("/api/v1/agents/a1/state", Some(admin), body).status,
        200
    );
    let (_old, refused) = Platform::hello(d.tcp, PLATFORM_TOKEN);
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    let _new = Platform::connect(d.tcp, platform);
}
