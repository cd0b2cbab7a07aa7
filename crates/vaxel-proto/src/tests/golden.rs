//! Exact lines: docs/protocol.md's examples and one line per event and command.

use crate::*;
use std::sync::Arc;
use vaxel_core::site::Text;
use vaxel_core::{Command, Input, Timestamp};

fn t(s: &str) -> Text {
    Arc::from(s)
}

fn server_line(m: &ServerMessage) -> String {
    let mut buf = Vec::new();
    encode_server(m, &mut buf);
    String::from_utf8(buf).unwrap()
}

fn platform_line(m: &PlatformMessage) -> String {
    let mut buf = Vec::new();
    encode_platform(m, &mut buf);
    String::from_utf8(buf).unwrap()
}

fn msg(body: Event) -> PlatformMessage {
    PlatformMessage::new(body)
}

/// `call.arrived` as decoded: the connection's `hello` names the platform.
fn arrived(call: &str, to: &str, from: &str, digits: Option<&str>, lang: Option<&str>) -> Event {
    Event::Input(Input::CallArrived {
        call: t(call),
        platform: t(""),
        to: t(to),
        from: t(from),
        digits: digits.map(str::to_owned),
        lang: lang.map(t),
    })
}

#[test]
fn protocol_md_examples() {
    let hello =
        decode_platform(r#"{"ev":"hello","platform":"pbx-1","token":"…","protocol":1}"#.as_bytes())
            .unwrap();
    assert_eq!(
        hello.body,
        Event::Hello(Hello {
            platform: t("pbx-1"),
            token: Some(t("…")),
            protocol: 1
        })
    );
    assert_eq!(
        platform_line(&hello),
        "{\"ev\":\"hello\",\"platform\":\"pbx-1\",\"token\":\"…\",\"protocol\":1}\n"
    );
    assert_eq!(
        server_line(&ServerMessage::welcome()),
        "{\"cmd\":\"welcome\",\"protocol\":1,\"server\":\"vaxel/0.1.0\"}\n"
    );
    assert_eq!(
        server_line(&ServerMessage::Cmd(Command::Connect {
            call: t("c1"),
            agent: t("a1017"),
            extension: t("1017"),
            ring_s: 20
        })),
        "{\"cmd\":\"connect\",\"call\":\"c1\",\"agent\":\"a1017\",\"extension\":\"1017\",\"ring_s\":20}\n"
    );
    assert_eq!(
        server_line(&ServerMessage::Ok { seq: 7 }),
        "{\"cmd\":\"ok\",\"seq\":7}\n"
    );
    let tick = decode_platform(br#"{"ev":"tick","at":1772437503250}"#).unwrap();
    assert_eq!(tick.at, Some(Timestamp(1_772_437_503_250)));
    assert_eq!(tick.body, Event::Input(Input::Tick));
}

#[test]
fn every_command_line() {
    let cases = [
        (
            Command::Play {
                call: t("c1"),
                prompt: t("greeting-city"),
                position: None,
                ewt_s: None,
            },
            r#"{"cmd":"play","call":"c1","prompt":"greeting-city"}"#,
        ),
        (
            Command::Play {
                call: t("c1"),
                prompt: t("queue-position"),
                position: Some(3),
                ewt_s: Some(95),
            },
            r#"{"cmd":"play","call":"c1","prompt":"queue-position","position":3,"ewt_s":95}"#,
        ),
        (
            Command::Menu {
                call: t("c1"),
                menu: t("main"),
                prompt: t("menu-main"),
                max_digits: 1,
                timeout_s: 8,
            },
            r#"{"cmd":"menu","call":"c1","menu":"main","prompt":"menu-main","max_digits":1,"timeout_s":8}"#,
        ),
        (
            Command::Queue {
                call: t("c1"),
                group: t("bygglov"),
                position: 2,
                ewt_s: Some(40),
            },
            r#"{"cmd":"queue","call":"c1","group":"bygglov","position":2,"ewt_s":40}"#,
        ),
        (
            // Nobody serving the group is logged in: no estimate, the key is left out.
            Command::Queue {
                call: t("c1"),
                group: t("bygglov"),
                position: 1,
                ewt_s: None,
            },
            r#"{"cmd":"queue","call":"c1","group":"bygglov","position":1}"#,
        ),
        (
            Command::Forward {
                call: t("c1"),
                number: t("+46850899999"),
            },
            r#"{"cmd":"forward","call":"c1","number":"+46850899999"}"#,
        ),
        (
            Command::Hangup {
                call: t("c1"),
                prompt: None,
            },
            r#"{"cmd":"hangup","call":"c1"}"#,
        ),
        (
            Command::Hangup {
                call: t("c1"),
                prompt: Some(t("closed-city")),
            },
            r#"{"cmd":"hangup","call":"c1","prompt":"closed-city"}"#,
        ),
        (
            Command::OfferCallback {
                call: t("c1"),
                prompt: t("offer-callback"),
            },
            r#"{"cmd":"offer_callback","call":"c1","prompt":"offer-callback"}"#,
        ),
        (
            Command::Dial {
                callback: t("c1"),
                agent: t("a1017"),
                extension: t("1017"),
                number: t("+46701234567"),
            },
            r#"{"cmd":"dial","callback":"c1","agent":"a1017","extension":"1017","number":"+46701234567"}"#,
        ),
    ];
    for (cmd, line) in cases {
        let mut direct = Vec::new();
        encode_command(&cmd, &mut direct);
        let m = ServerMessage::Cmd(cmd);
        assert_eq!(server_line(&m), format!("{line}\n"));
        assert_eq!(direct, server_line(&m).into_bytes());
        assert_eq!(decode_server(line.as_bytes()).unwrap(), m);
    }
}

#[test]
fn every_event_line() {
    let cases: Vec<(&str, PlatformMessage)> = vec![
        (
            r#"{"ev":"call.arrived","call":"c1","to":"+4685080000","from":"+46701234567","digits":"8,1","lang":"en","attrs":{"sip":{"x-crm":"42"}}}"#,
            PlatformMessage {
                attrs: Some(serde_json::from_str::<Attrs>(r#"{"sip":{"x-crm":"42"}}"#).unwrap()),
                ..msg(arrived(
                    "c1",
                    "+4685080000",
                    "+46701234567",
                    Some("8,1"),
                    Some("en"),
                ))
            },
        ),
        (
            r#"{"ev":"call.digits","call":"c1","digits":""}"#,
            msg(Event::Input(Input::CallDigits {
                call: t("c1"),
                digits: String::new(),
            })),
        ),
        (
            r#"{"ev":"call.answered","call":"c1","agent":"a1017"}"#,
            msg(Event::Input(Input::CallAnswered {
                call: t("c1"),
                agent: t("a1017"),
            })),
        ),
        (
            r#"{"ev":"call.noanswer","call":"c1","agent":"a1017"}"#,
            msg(Event::Input(Input::CallNoAnswer {
                call: t("c1"),
                agent: t("a1017"),
            })),
        ),
        (
            r#"{"ev":"call.hangup","call":"c1","reason":"caller"}"#,
            msg(Event::Input(Input::CallHangup {
                call: t("c1"),
                reason: Some(t("caller")),
            })),
        ),
        (
            r#"{"ev":"call.transfer","call":"c1","agent":"a1017","to":"group:bygglov","priority":5}"#,
            msg(Event::Input(Input::CallTransfer {
                call: t("c1"),
                agent: t("a1017"),
                to: t("group:bygglov"),
                priority: Some(5),
            })),
        ),
        (
            r#"{"ev":"call.park","call":"c1","agent":"a1017"}"#,
            msg(Event::Input(Input::CallPark {
                call: t("c1"),
                agent: t("a1017"),
            })),
        ),
        (
            r#"{"ev":"call.unpark","call":"c1","agent":"a1017"}"#,
            msg(Event::Input(Input::CallUnpark {
                call: t("c1"),
                agent: t("a1017"),
            })),
        ),
        (
            r#"{"ev":"call.requeue","call":"c1","agent":"a1017","group":"vaxel","priority":-2}"#,
            msg(Event::Input(Input::CallRequeue {
                call: t("c1"),
                agent: t("a1017"),
                group: Some(t("vaxel")),
                priority: Some(-2),
            })),
        ),
        (
            r#"{"ev":"call.disposition","call":"c1","agent":"a1017","case_type":"bygglov-status","resolved":true}"#,
            msg(Event::Input(Input::CallDisposition {
                call: t("c1"),
                agent: t("a1017"),
                case_type: t("bygglov-status"),
                resolved: true,
            })),
        ),
        (
            r#"{"ev":"callback.result","callback":"c1","outcome":"failed"}"#,
            msg(Event::Input(Input::CallbackResult {
                callback: t("c1"),
                connected: false,
            })),
        ),
        (
            r#"{"ev":"agent.login","agent":"a1017","extension":"1017"}"#,
            msg(Event::Input(Input::AgentLogin {
                agent: t("a1017"),
                extension: Some(t("1017")),
            })),
        ),
        (
            r#"{"ev":"agent.ready","agent":"a1017"}"#,
            msg(Event::Input(Input::AgentReady { agent: t("a1017") })),
        ),
        (
            r#"{"ev":"agent.logout","agent":"a1017"}"#,
            msg(Event::Input(Input::AgentLogout { agent: t("a1017") })),
        ),
        (
            r#"{"ev":"agent.pause","agent":"a1017","reason":"lunch","note":"Lunch, back 13:00","until":1772449200000}"#,
            msg(Event::Input(Input::AgentPause {
                agent: t("a1017"),
                reason: Some(t("lunch")),
                note: Some(t("Lunch, back 13:00")),
                until: Some(Timestamp(1_772_449_200_000)),
            })),
        ),
        (
            r#"{"ev":"agent.wrapup_done","agent":"a1017"}"#,
            msg(Event::Input(Input::AgentWrapupDone { agent: t("a1017") })),
        ),
        (
            r#"{"ev":"agent.wrapup_until","agent":"a1017","until":1772437920000}"#,
            msg(Event::Input(Input::AgentWrapupUntil {
                agent: t("a1017"),
                until: Timestamp(1_772_437_920_000),
            })),
        ),
    ];
    assert_eq!(cases.len() + 2, EVENTS.len(), "hello and tick are above");
    for (line, expected) in cases {
        let m = decode_platform(line.as_bytes()).unwrap();
        assert_eq!(m, expected, "{line}");
        assert_eq!(platform_line(&m), format!("{line}\n"));
    }
}

#[test]
fn envelope_order_and_ignored_fields() {
    let line =
        r#"{"x":{"deep":[1,{"a":null}]},"call":5,"ev":"agent.ready","at":12,"agent":"a1","seq":3}"#;
    let m = decode_platform(line.as_bytes()).unwrap();
    assert_eq!(
        m,
        PlatformMessage {
            seq: Some(3),
            at: Some(Timestamp(12)),
            attrs: None,
            body: Event::Input(Input::AgentReady { agent: t("a1") })
        }
    );
    assert_eq!(
        platform_line(&m),
        "{\"ev\":\"agent.ready\",\"seq\":3,\"at\":12,\"agent\":\"a1\"}\n"
    );
    // null = absent for optional fields; the last of duplicate keys wins.
    let m = decode_platform(
        br#"{"ev":"call.hangup","call":"c0","call":"c1","reason":null,"seq":null}"#,
    )
    .unwrap();
    assert_eq!(
        m,
        msg(Event::Input(Input::CallHangup {
            call: t("c1"),
            reason: None
        }))
    );
    // Escapes in strings are decoded.
    let m = decode_platform(br#"{"ev":"agent.ready","agent":"a\u00e5\"1"}"#).unwrap();
    assert_eq!(
        m.body,
        Event::Input(Input::AgentReady { agent: t("aå\"1") })
    );
}

#[test]
fn into_input() {
    let p = t("pbx-1");
    let arrived = msg(arrived("c1", "+4685080000", "", Some(""), None));
    match arrived.into_input(&p) {
        Some(Input::CallArrived {
            platform, digits, ..
        }) => {
            assert_eq!(&*platform, "pbx-1");
            assert_eq!(digits, None, "empty digits = none collected");
        }
        other => panic!("{other:?}"),
    }
    let hello = msg(Event::Hello(Hello {
        platform: p.clone(),
        token: None,
        protocol: 1,
    }));
    assert!(hello.into_input(&p).is_none());
    assert!(matches!(
        msg(Event::Input(Input::Tick)).into_input(&p),
        Some(Input::Tick)
    ));
    let r = Input::CallbackResult {
        callback: t("c1"),
        connected: true,
    };
    assert_eq!(r.call().map(|c| &**c), Some("c1"));
    assert_eq!(Event::from_input(&r), Some(Event::Input(r.clone())));
    // The inputs no platform sends have no event.
    let crisis = Input::Crisis {
        on: true,
        prompt: None,
        route: None,
    };
    assert_eq!(Event::from_input(&crisis), None);
    let e = decode_platform(br#"{"ev":"crisis","on":true}"#).unwrap_err();
    assert_eq!(e.to_string(), r#"unknown event "crisis""#);
    let ev = Event::Input(Input::AgentPause {
        agent: t("a1"),
        reason: None,
        note: None,
        until: None,
    });
    let kind = ev.kind();
    assert_eq!(msg(ev).into_input(&p).map(|i| i.kind()), Some(kind));
}

#[test]
fn encoders_write_into_bytes_mut_too() {
    let mut b = bytes::BytesMut::new();
    encode_server(&ServerMessage::Ok { seq: 1 }, &mut b);
    encode_platform(
        &msg(Event::Input(Input::AgentReady { agent: t("a1") })),
        &mut b,
    );
    assert_eq!(
        &b[..],
        b"{\"cmd\":\"ok\",\"seq\":1}\n{\"ev\":\"agent.ready\",\"agent\":\"a1\"}\n"
    );
}
