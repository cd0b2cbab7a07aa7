//! The operator's desk's HTTP endpoints, end to end: the daemon runs in process on a thread
//! of its own (`--clock event`) with operator, admin and per-agent tokens, a platform speaks
//! the TCP protocol to it over loopback, and an agent acts on its call over HTTP: park and take back, register
//! the case, transfer to an agent, requeue to another group with a priority, transfer to a
//! number, end the wrap-up. The platform must receive each resulting command; every
//! refusal carries the protocol's code and names its field; an agent token acts only for
//! its own agent.

mod serve_support;

use serde_json::Value;
use serve_support::http::http;
use serve_support::{Client, InProcess, SITE, WAIT, temp_dir, write_site};
use std::time::Instant;

const OPERATOR: &str = "desk-operator-0123456789";
const ADMIN: &str = "desk-admin-0123456789";
const A1: &str = "desk-agent-a1-0123456789";
const A2: &str = "desk-agent-a2-0123456789";

/// The shared test site with a minute's wrap-up and the tokens of every role.
fn site() -> String {
    format!(
        "{}\n[auth]\noperator_tokens = [\"{OPERATOR}\"]\nadmin_tokens = [\"{ADMIN}\"]\n\
         [auth.agent_tokens]\na1 = \"{A1}\"\na2 = \"{A2}\"\n",
        SITE.replace("wrapup_s = 0", "wrapup_s = 60")
    )
}

struct Desk {
    d: InProcess,
}

impl Desk {
    fn start(name: &str) -> Desk {
        let dir = temp_dir(name);
        let site = write_site(&dir, &site());
        Desk {
            d: InProcess::start(&site, &dir.join("data")),
        }
    }

    /// `POST path` with `token` and `body`: the status and the JSON answer.
    fn post(&self, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let r = http(self.d.http, "POST", path, token, Some(body.as_bytes()));
        let (status, text) = (r.status, r.text());
        let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        (status, v)
    }

    /// An action of `agent`'s desk with its own token, which must succeed: the agent after.
    #[track_caller]
    fn act(&self, agent: &str, token: &str, action: &str, body: &str) -> Value {
        let (status, v) = self.post(
            &format!("/api/v1/agents/{agent}/{action}"),
            Some(token),
            body,
        );
        assert_eq!(status, 200, "{action} {body}: {v}");
        assert_eq!(v["ok"], true, "{v}");
        v["agent"].clone()
    }

    /// A refused action: its status, code and field.
    #[track_caller]
    fn refused(
        &self,
        agent: &str,
        token: Option<&str>,
        action: &str,
        body: &str,
    ) -> (u16, String, Option<String>) {
        let (status, v) = self.post(&format!("/api/v1/agents/{agent}/{action}"), token, body);
        assert_ne!(status, 200, "{action} {body}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        (
            status,
            v["code"].as_str().unwrap_or_default().to_owned(),
            v["field"].as_str().map(str::to_owned),
        )
    }

    fn snapshot(&self) -> Value {
        let r = http(self.d.http, "GET", "/api/v1/snapshot", Some(A1), None);
        let (status, text) = (r.status, r.text());
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("snapshot JSON")
    }

    fn agent(&self, id: &str) -> Value {
        let snap = self.snapshot();
        snap["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no agent {id} in {snap}"))
    }
}

/// Reads the platform's lines until one has all of `parts` (within [`WAIT`]); returns it.
#[track_caller]
fn command_with(p: &mut Client, parts: &[&str]) -> String {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match p.recv() {
            Some(l) if parts.iter().all(|x| l.contains(x)) => return l,
            Some(l) => seen.push(l),
            None => break,
        }
    }
    panic!("no line with {parts:?}; got {seen:#?}");
}

/// a1 logged in from its desk, the platform's call `c1` connected to it and answered.
fn a1_talking(desk: &Desk) -> Client {
    let a = desk.act("a1", A1, "state", r#"{"state":"login"}"#);
    assert_eq!(a["state"], "ready", "{a}");
    let mut p = desk.d.platform("pbx");
    p.call(
        r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+46701234567","digits":"","at":2000,"seq":1}"#,
        &[
            r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#,
            r#"{"cmd":"ok","seq":1}"#,
        ],
    );
    p.acked(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":5000,"seq":2}"#);
    p
}

#[test]
fn an_agent_parks_registers_transfers_and_requeues_its_call_from_the_desk() {
    let desk = Desk::start("desk-actions");
    let mut p = a1_talking(&desk);

    // The desk sees the call: caller, entry, group, the wait before the answer (arrived at
    // 2 s, answered at 5 s).
    let a = desk.agent("a1");
    assert_eq!(a["state"], "talking", "{a}");
    let c = &a["call_detail"];
    assert_eq!(c["call"], "c1", "{a}");
    assert_eq!(c["from"], "+46701234567", "{a}");
    assert_eq!(c["entry"], "main", "{a}");
    assert_eq!(c["group"], "sales", "{a}");
    assert_eq!(c["wait_s"], 3.0, "{a}");

    // Park: the agent is free, the call waits as parked by it; then taken back.
    let a = desk.act("a1", A1, "call/park", "");
    assert_eq!(a["state"], "ready", "{a}");
    let snap = desk.snapshot();
    let parked = &snap["calls"][0];
    assert_eq!(
        (&parked["call"], &parked["state"], &parked["parked_by"]),
        (&"c1".into(), &"parked".into(), &"a1".into()),
        "{snap}"
    );
    let a = desk.act("a1", A1, "call/unpark", "{}");
    assert_eq!(a["state"], "talking", "{a}");
    let (status, code, _) = desk.refused("a1", Some(A1), "call/unpark", "");
    assert_eq!((status, code.as_str()), (409, "invalid_state"));

    // The case, registered while talking.
    let a = desk.act(
        "a1",
        A1,
        "call/disposition",
        r#"{"case_type":"bygglov","resolved":false}"#,
    );
    assert_eq!(a["call_detail"]["case_type"], "bygglov", "{a}");
    assert_eq!(a["call_detail"]["resolved"], false, "{a}");

    // Transfer to a colleague (logged in by an operator): the platform is told to connect.
    let b = desk.act("a2", OPERATOR, "state", r#"{"state":"login"}"#);
    assert_eq!(b["state"], "ready", "{b}");
    let a = desk.act(
        "a1",
        A1,
        "call/transfer",
        r#"{"to":"agent:a2","priority":5}"#,
    );
    assert_eq!(a["state"], "wrapup", "{a}");
    command_with(
        &mut p,
        &[r#"{"cmd":"connect","call":"c1","agent":"a2","extension":"1002""#],
    );
    let a = desk.act("a1", A1, "wrapup/done", "");
    assert_eq!(a["state"], "ready", "{a}");
    p.acked(r#"{"ev":"call.answered","call":"c1","agent":"a2","at":9000,"seq":3}"#);

    // a2 puts it back in the other group's queue with a priority: a1 gets it again.
    let b = desk.act(
        "a2",
        A2,
        "call/requeue",
        r#"{"group":"support","priority":3}"#,
    );
    assert_eq!(b["state"], "wrapup", "{b}");
    command_with(&mut p, &[r#""cmd":"connect","call":"c1","agent":"a1""#]);
    p.acked(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":12000,"seq":4}"#);
    assert_eq!(desk.agent("a1")["call_detail"]["group"], "support");

    // Out to a number: the platform forwards it; the case is registered in the wrap-up.
    let a = desk.act("a1", A1, "call/transfer", r#"{"to":"number:+46850000000"}"#);
    assert_eq!(a["state"], "wrapup", "{a}");
    command_with(
        &mut p,
        &[r#"{"cmd":"forward","call":"c1","number":"+46850000000"}"#],
    );
    let a = desk.act(
        "a1",
        A1,
        "call/disposition",
        r#"{"case_type":"bygglov","resolved":true}"#,
    );
    assert_eq!(a["call_detail"]["resolved"], true, "{a}");
    let a = desk.act("a1", A1, "wrapup/done", "{}");
    assert_eq!(a["state"], "ready", "{a}");
    let (status, code, _) = desk.refused("a1", Some(A1), "wrapup/done", "");
    assert_eq!((status, code.as_str()), (409, "invalid_state"));
}

#[test]
fn refusals_name_the_protocols_code_and_field() {
    let desk = Desk::start("desk-refusals");
    let _p = a1_talking(&desk);
    let f = |s: &str| Some(s.to_owned());
    let cases: [(&str, &str, u16, &str, Option<String>); 12] = [
        ("call/transfer", "{}", 400, "missing_field", f("to")),
        (
            "call/transfer",
            r#"{"to":"queue:x"}"#,
            400,
            "bad_field",
            f("to"),
        ),
        (
            "call/transfer",
            r#"{"to":"group:nope"}"#,
            400,
            "bad_field",
            f("to"),
        ),
        (
            "call/transfer",
            r#"{"to":"group:sales","priority":"high"}"#,
            400,
            "bad_field",
            f("priority"),
        ),
        (
            "call/transfer",
            r#"{"to":"agent:a2"}"#,
            409,
            "invalid_state",
            None,
        ),
        (
            "call/requeue",
            r#"{"group":"nope"}"#,
            400,
            "bad_field",
            f("group"),
        ),
        (
            "call/requeue",
            r#"{"queue":"sales"}"#,
            400,
            "bad_field",
            f("queue"),
        ),
        ("call/park", r#"{"call":"c1"}"#, 400, "bad_field", f("call")),
        (
            "call/disposition",
            r#"{"case_type":"x"}"#,
            400,
            "missing_field",
            f("resolved"),
        ),
        ("call/park", "{", 400, "bad_json", None),
        ("call/unpark", "", 409, "invalid_state", None),
        ("call/hold", "", 404, "not_found", None),
    ];
    for (action, body, status, code, field) in cases {
        let got = desk.refused("a1", Some(A1), action, body);
        assert_eq!(got, (status, code.to_owned(), field), "{action} {body}");
    }
    // Nothing changed: a1 still talks on c1.
    assert_eq!(desk.agent("a1")["call_detail"]["call"], "c1");
    // An agent without a call; an agent the site does not have.
    let (status, code, _) = desk.refused("a2", Some(A2), "call/park", "");
    assert_eq!((status, code.as_str()), (409, "invalid_state"));
    let (status, code, _) = desk.refused("zz9", Some(ADMIN), "call/park", "");
    assert_eq!((status, code.as_str()), (409, "unknown_agent"));
}

#[test]
fn an_agent_token_acts_only_for_its_own_agent() {
    let desk = Desk::start("desk-tokens");
    let _p = a1_talking(&desk);
    // Another agent's token, or none, or a wrong one: refused, nothing changed.
    for action in ["call/park", "call/transfer", "wrapup/done", "state"] {
        let body = if action == "state" {
            r#"{"state":"logout"}"#
        } else if action == "call/transfer" {
            r#"{"to":"group:sales"}"#
        } else {
            ""
        };
        let (status, code, _) = desk.refused("a1", Some(A2), action, body);
        assert_eq!((status, code.as_str()), (403, "forbidden"), "{action}");
        let (status, code, _) = desk.refused("a1", None, action, body);
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{action}");
        let (status, _, _) = desk.refused("a1", Some("nobody-0123456789abcdef"), action, body);
        assert_eq!(status, 401, "{action}");
    }
    assert_eq!(desk.agent("a1")["state"], "talking");
    // An agent token reads (the desk's colleagues, queues, directory) but changes no site.
    let status = http(desk.d.http, "GET", "/api/v1/directory?q=bo", Some(A2), None).status;
    assert_eq!(status, 200);
    let (status, v) = desk.post("/api/v1/crisis", Some(A1), r#"{"on":true}"#);
    assert_eq!((status, &v["code"]), (403, &"forbidden".into()), "{v}");
    // An operator token acts for any agent; an admin's too.
    let a = desk.act("a1", OPERATOR, "call/park", "");
    assert_eq!(a["state"], "ready", "{a}");
    let a = desk.act("a1", ADMIN, "call/unpark", "");
    assert_eq!(a["state"], "talking", "{a}");
}
