//! One test per error code, with the exact message text the platform receives.

use crate::*;
use vaxel_core::{EngineError, Timestamp};

/// Decodes `line`, expecting an error; returns (seq, code, message).
fn err(line: &str) -> (Option<u64>, &'static str, String) {
    match decode_platform(line.as_bytes()) {
        Ok(m) => panic!("decoded {line}: {m:?}"),
        Err(e) => (e.seq, e.code().as_str(), e.to_string()),
    }
}

fn check(line: &str, code: &str, message: &str) {
    let (_, c, m) = err(line);
    assert_eq!((c, m.as_str()), (code, message), "{line}");
}

/// The encoded answer to a refused line.
fn answer(e: &ProtoError, line: u64) -> String {
    let mut buf = Vec::new();
    encode_server(&ServerMessage::proto_error(e, Some(line)), &mut buf);
    String::from_utf8(buf).unwrap()
}

#[test]
fn bad_json() {
    check(
        r#"{"ev":"tick","at":1"#,
        "bad_json",
        "invalid JSON at column 19: EOF while parsing an object",
    );
    check(
        r#"{"ev":"tick" "at":1}"#,
        "bad_json",
        "invalid JSON at column 14: expected `,` or `}`",
    );
    check(
        r#"{"ev":"tick","at":1} {}"#,
        "bad_json",
        "invalid JSON at column 22: trailing characters",
    );
    check(
        "{ev:1}",
        "bad_json",
        "invalid JSON at column 2: key must be a string",
    );
    check(
        "[1,2]",
        "bad_json",
        "expected a JSON object, found an array",
    );
    check(
        r#""tick""#,
        "bad_json",
        "expected a JSON object, found a string",
    );
    check("42", "bad_json", "expected a JSON object, found a number");
    check("null", "bad_json", "expected a JSON object, found null");
    check(
        "true",
        "bad_json",
        "expected a JSON object, found a boolean",
    );
    let e = decode_platform(b"{\"ev\":\"t\xffick\"}").unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadJson);
    assert_eq!(e.to_string(), "invalid UTF-8 at column 9");
}

#[test]
fn bad_json_keeps_the_seq_read_before_the_break() {
    let (seq, code, _) = err(r#"{"seq":17,"ev":"call.hangup","call":"c1""#);
    assert_eq!((seq, code), (Some(17), "bad_json"));
    let (seq, _, _) = err(r#"{"ev":"call.hangup","call":"c1" "seq":17}"#);
    assert_eq!(seq, None, "seq after the break is not read");
    let e = decode_platform(br#"{"seq":3,"ev":"tick","at":1"#).unwrap_err();
    assert_eq!(
        answer(&e, 12),
        "{\"cmd\":\"error\",\"seq\":3,\"line\":12,\"code\":\"bad_json\",\
         \"message\":\"invalid JSON at column 27: EOF while parsing an object\"}\n"
    );
}

#[test]
fn line_too_long() {
    let mut f = Framer::new();
    f.push(&vec![b'x'; MAX_LINE + 2]);
    let e = f.next_line().unwrap().unwrap_err();
    assert_eq!(e.line(), 1);
    let e = ProtoError::from(e);
    assert_eq!(e.code(), ErrorCode::LineTooLong);
    assert_eq!(
        answer(&e, 1),
        "{\"cmd\":\"error\",\"line\":1,\"code\":\"line_too_long\",\
         \"message\":\"line longer than 65536 bytes\"}\n"
    );
}

#[test]
fn unknown_event() {
    check(
        r#"{"ev":"call.teleport","call":"c1"}"#,
        "unknown_event",
        r#"unknown event "call.teleport""#,
    );
    let long = format!(r#"{{"ev":"{}"}}"#, "x".repeat(100));
    check(
        &long,
        "unknown_event",
        &format!("unknown event \"{}…\"", "x".repeat(64)),
    );
    check(
        r#"{"ev":"say \"hi\""}"#,
        "unknown_event",
        r#"unknown event "say \"hi\"""#,
    );
    let (seq, _, _) = err(r#"{"seq":9,"ev":"nope"}"#);
    assert_eq!(seq, Some(9));
}

#[test]
fn missing_field() {
    check(r#"{"seq":1}"#, "missing_field", "missing field `ev`");
    check(
        r#"{"ev":"call.arrived","call":"c1","from":"+46701234567"}"#,
        "missing_field",
        "missing field `to` for call.arrived",
    );
    check(
        r#"{"ev":"tick"}"#,
        "missing_field",
        "missing field `at` for tick",
    );
    check(
        r#"{"ev":"call.digits","call":"c1"}"#,
        "missing_field",
        "missing field `digits` for call.digits",
    );
    check(
        r#"{"ev":"hello","platform":"pbx-1","token":"t"}"#,
        "missing_field",
        "missing field `protocol` for hello",
    );
    check(
        r#"{"ev":"call.disposition","call":"c1","agent":"a1","case_type":"bygglov"}"#,
        "missing_field",
        "missing field `resolved` for call.disposition",
    );
    check(
        r#"{"ev":"agent.wrapup_until","agent":"a1"}"#,
        "missing_field",
        "missing field `until` for agent.wrapup_until",
    );
    let e = ProtoError::new(ProtoErrorKind::AtRequired);
    assert_eq!(e.code(), ErrorCode::MissingField);
    assert_eq!(
        e.to_string(),
        "missing field `at`: the server runs on the event clock"
    );
}

#[test]
fn bad_field() {
    let cases: &[(&str, &str)] = &[
        (r#"{"ev":5}"#, "bad field `ev`: expected a string, found 5"),
        (
            r#"{"ev":"tick","at":1,"seq":-1}"#,
            "bad field `seq`: expected a non-negative integer, found -1",
        ),
        (
            r#"{"ev":"tick","at":"now"}"#,
            "bad field `at`: expected a non-negative integer, found a string",
        ),
        (
            r#"{"ev":"tick","at":1.5}"#,
            "bad field `at`: expected a non-negative integer, found 1.5",
        ),
        (
            r#"{"ev":"hello","platform":"pbx-1","token":"t","protocol":"1"}"#,
            "bad field `protocol`: expected a non-negative integer, found a string",
        ),
        (
            r#"{"ev":"call.hangup","call":""}"#,
            "bad field `call`: must not be empty",
        ),
        (
            r#"{"ev":"call.hangup","call":null}"#,
            "bad field `call`: expected a string, found null",
        ),
        (
            r#"{"ev":"call.hangup","call":["c1"]}"#,
            "bad field `call`: expected a string, found an array",
        ),
        (
            r#"{"ev":"call.hangup","call":"c\u0001"}"#,
            "bad field `call`: contains a control character",
        ),
        (
            r#"{"ev":"call.digits","call":"c1","digits":"12a"}"#,
            "bad field `digits`: may contain only 0-9, *, # and commas, found 'a'",
        ),
        (
            r#"{"ev":"call.arrived","call":"c1","to":"+4685080000","from":"","digits":"8,1 "}"#,
            "bad field `digits`: may contain only 0-9, *, # and commas, found ' '",
        ),
        (
            r#"{"ev":"call.arrived","call":"c1","to":"","from":""}"#,
            "bad field `to`: must not be empty",
        ),
        (
            r#"{"ev":"call.arrived","call":"c1","to":"1","from":"","attrs":[1]}"#,
            "bad field `attrs`: expected an object, found an array",
        ),
        (
            r#"{"ev":"call.arrived","call":"c1","to":"1","from":"","attrs":"x"}"#,
            "bad field `attrs`: expected an object, found a string",
        ),
        (
            r#"{"ev":"call.transfer","call":"c1","agent":"a1","to":"group:x","priority":"high"}"#,
            "bad field `priority`: expected an integer, found a string",
        ),
        (
            r#"{"ev":"call.requeue","call":"c1","agent":"a1","priority":3000000000}"#,
            "bad field `priority`: expected an integer from -2147483648 to 2147483647, found 3000000000",
        ),
        (
            r#"{"ev":"call.requeue","call":"c1","agent":"a1","priority":2.0}"#,
            "bad field `priority`: expected an integer, found 2.0",
        ),
        (
            r#"{"ev":"call.transfer","call":"c1","agent":"a1","to":"queue:x"}"#,
            "bad field `to`: expected `group:ID`, `agent:ID` or `number:NUMBER`",
        ),
        (
            r#"{"ev":"call.transfer","call":"c1","agent":"a1","to":"group:"}"#,
            "bad field `to`: expected `group:ID`, `agent:ID` or `number:NUMBER`",
        ),
        (
            r#"{"ev":"call.disposition","call":"c1","agent":"a1","case_type":"x","resolved":"yes"}"#,
            "bad field `resolved`: expected true or false, found a string",
        ),
        (
            r#"{"ev":"callback.result","callback":"c1","outcome":"busy"}"#,
            r#"bad field `outcome`: expected "connected" or "failed""#,
        ),
        (
            r#"{"ev":"agent.pause","agent":"a1","until":-5}"#,
            "bad field `until`: expected a non-negative integer, found -5",
        ),
        (
            r#"{"ev":"agent.login","agent":"a1","extension":""}"#,
            "bad field `extension`: must not be empty",
        ),
    ];
    for (line, message) in cases {
        check(line, "bad_field", message);
    }
    let long_id = format!(r#"{{"ev":"agent.ready","agent":"{}"}}"#, "a".repeat(257));
    check(
        &long_id,
        "bad_field",
        "bad field `agent`: longer than 256 bytes",
    );
    let max_id = format!(r#"{{"ev":"agent.ready","agent":"{}"}}"#, "å".repeat(128));
    assert!(
        decode_platform(max_id.as_bytes()).is_ok(),
        "256 bytes is fine"
    );
    let long_note = format!(
        r#"{{"ev":"agent.pause","agent":"a1","note":"{}"}}"#,
        "n".repeat(1025)
    );
    check(
        &long_note,
        "bad_field",
        "bad field `note`: longer than 1024 bytes",
    );
    // The seq is answered when the rest is wrong, but not when it is the seq that is wrong.
    let (seq, _, _) = err(r#"{"seq":4,"ev":"call.hangup","call":""}"#);
    assert_eq!(seq, Some(4));
    let (seq, _, _) = err(r#"{"seq":"4","ev":"call.hangup","call":"c1"}"#);
    assert_eq!(seq, None);
}

#[test]
fn engine_codes_and_messages() {
    let cases = [
        (
            EngineError::UnknownCall("c9".into()),
            "unknown_call",
            r#"unknown call "c9""#,
        ),
        (
            EngineError::DuplicateCall("c1".into()),
            "duplicate_call",
            r#"call "c1" already exists"#,
        ),
        (
            EngineError::UnknownAgent("a9".into()),
            "unknown_agent",
            r#"unknown agent "a9""#,
        ),
        (
            EngineError::UnknownEntry("+4600".into()),
            "unknown_entry",
            r#"no entry for dialed number "+4600""#,
        ),
        (
            EngineError::InvalidState("agent a1 is not ringing for call c1".into()),
            "invalid_state",
            "agent a1 is not ringing for call c1",
        ),
        (
            EngineError::ReloadRefused(vec!["x".into()]),
            "invalid_state",
            "reload refused: x",
        ),
        (
            EngineError::BadField {
                field: "to",
                reason: "no group \"x\"".into(),
            },
            "bad_field",
            r#"bad field `to`: no group "x""#,
        ),
        (
            EngineError::TimeWentBackwards {
                at: Timestamp(5),
                now: Timestamp(9),
            },
            "time_went_backwards",
            "time went backwards: 5 is before the engine's time 9",
        ),
    ];
    for (e, code, message) in cases {
        assert_eq!(ErrorCode::from(&e).as_str(), code);
        assert_eq!(e.code(), code);
        let mut buf = Vec::new();
        encode_server(&ServerMessage::engine_error(&e, Some(4), None), &mut buf);
        let expected = format!(
            "{{\"cmd\":\"error\",\"seq\":4,\"code\":\"{code}\",\"message\":{}}}\n",
            serde_json::to_string(message).unwrap()
        );
        assert_eq!(String::from_utf8(buf).unwrap(), expected);
    }
}

#[test]
fn session_codes() {
    let cases = [
        (
            ProtoErrorKind::HelloFirst,
            "unauthorized",
            "expected `hello` before any other message",
        ),
        (
            ProtoErrorKind::BadToken,
            "unauthorized",
            "unknown platform token",
        ),
        (
            ProtoErrorKind::UnsupportedProtocol { got: 3 },
            "unsupported_protocol",
            "unsupported protocol version 3; this server speaks versions 1 and 2",
        ),
        (
            ProtoErrorKind::DuplicateHello,
            "invalid_state",
            "`hello` already received on this connection",
        ),
    ];
    for (kind, code, message) in cases {
        let e = ProtoError::new(kind);
        assert_eq!((e.code().as_str(), e.to_string().as_str()), (code, message));
    }
}

#[test]
fn every_code_parses_back() {
    for c in ErrorCode::ALL {
        assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
        assert_eq!(c.to_string(), c.as_str());
    }
    assert_eq!(ErrorCode::parse("slow_consumer"), None);
}

#[test]
fn server_side_decode_errors() {
    let e = decode_server(br#"{"cmd":"teleport","call":"c1"}"#).unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownEvent);
    assert_eq!(e.to_string(), r#"unknown command "teleport""#);
    let e = decode_server(br#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1"}"#)
        .unwrap_err();
    assert_eq!(e.to_string(), "missing field `ring_s` for connect");
    let e = decode_server(br#"{"cmd":"play","call":"c1","prompt":"p","position":4294967296}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad field `position`: expected an integer from 0 to 4294967295, found 4294967296"
    );
    let e = decode_server(br#"{"cmd":"error","code":"oops","message":"m"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad field `code`: not an error code of the protocol"
    );
    let e = decode_server(br#"{"cmd":"ok"}"#).unwrap_err();
    assert_eq!(e.to_string(), "missing field `seq` for ok");
}

#[test]
fn nesting_is_bounded() {
    let nested = |depth: usize, field: &str| {
        format!(
            r#"{{"ev":"call.arrived","call":"c1","to":"1","from":"","{field}":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    // Known fields are read recursively, within serde_json's limit.
    for field in ["attrs", "call"] {
        let e = decode_platform(nested(127, field).as_bytes()).unwrap_err();
        assert_eq!(
            (
                e.code(),
                e.to_string().ends_with("recursion limit exceeded")
            ),
            (ErrorCode::BadJson, true),
            "{e}"
        );
        let e = decode_platform(nested(126, field).as_bytes()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::BadField, "{e}");
    }
    // Unknown fields are skipped without recursion: any depth a line can hold.
    assert!(decode_platform(nested(30_000, "x").as_bytes()).is_ok());
}

/// A desk's action body reads as the wire's event, with the wire's messages.
#[test]
fn desk_actions_read_as_the_wire_events() {
    use vaxel_core::Input;
    let i = decode_action("call.transfer", r#"{"to":"group:x","priority":5}"#, "a1").unwrap();
    assert_eq!(
        i,
        Input::CallTransfer {
            call: ACTION_CALL.into(),
            agent: "a1".into(),
            to: "group:x".into(),
            priority: Some(5),
        }
    );
    let i = i.with_call("c9".into());
    assert_eq!(i.call().map(|c| &**c), Some("c9"));
    let i = decode_action("call.park", "{}", "a1").unwrap();
    assert!(matches!(i, Input::CallPark { .. }));
    let msg = |ev: &str, body: &str| {
        decode_action(ev, body, "a1")
            .map(|i| format!("{i:?}"))
            .unwrap_or_else(|e| format!("{}: {e}", e.code()))
    };
    assert_eq!(
        msg("call.transfer", r#"{"to":"queue:x"}"#),
        "bad_field: bad field `to`: expected `group:ID`, `agent:ID` or `number:NUMBER`"
    );
    assert_eq!(
        msg("call.transfer", "{}"),
        "missing_field: missing field `to` for call.transfer"
    );
    assert_eq!(
        msg("call.disposition", r#"{"case_type":"x","resolved":"yes"}"#),
        "bad_field: bad field `resolved`: expected true or false, found a string"
    );
    assert_eq!(
        msg("call.requeue", r#"{"priority":1.5}"#),
        "bad_field: bad field `priority`: expected an integer, found 1.5"
    );
    assert!(msg("call.park", r#"{"call":"c1"}"#).starts_with("bad_field: bad field `call`"));
    assert!(msg("call.park", "[1]").starts_with("bad_json"));
    assert!(msg("hello", "{}").starts_with("unknown_event"));
}
