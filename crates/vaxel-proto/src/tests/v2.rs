//! Version 2 lines (docs/protocol.md "Version 2"), beside the version 1 golden lines,
//! which stay as they are.

use crate::*;
use std::sync::Arc;
use vaxel_core::Command;

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

fn connect() -> Command {
    Command::Connect {
        call: Arc::from("c1"),
        agent: Arc::from("a1017"),
        extension: Arc::from("1017"),
        ring_s: 20,
    }
}

#[test]
fn numbered_commands_and_the_v2_welcome_round_trip() {
    let cases = [
        (
            ServerMessage::Numbered {
                no: 17,
                cmd: connect(),
            },
            r#"{"cmd":"connect","cmd_no":17,"call":"c1","agent":"a1017","extension":"1017","ring_s":20}"#,
        ),
        (
            ServerMessage::WelcomeV2 {
                server: "vaxel/0.1.0".into(),
                last_cmd: 17,
            },
            r#"{"cmd":"welcome","protocol":2,"server":"vaxel/0.1.0","last_cmd":17}"#,
        ),
    ];
    for (m, line) in cases {
        assert_eq!(server_line(&m), format!("{line}\n"));
        assert_eq!(decode_server(line.as_bytes()), Ok(m));
    }
    // The same command without a number is version 1's line, byte for byte.
    let mut v1 = Vec::new();
    encode_numbered(&connect(), None, &mut v1);
    assert_eq!(v1, server_line(&ServerMessage::Cmd(connect())).into_bytes());
}

#[test]
fn a_resuming_hello_and_an_ack_round_trip() {
    let hello = Hello {
        platform: Arc::from("pbx-1"),
        token: Some(Arc::from("s3cret")),
        protocol: 2,
    };
    let cases = [
        (
            PlatformMessage::new(Event::Resume {
                hello: hello.clone(),
                last_cmd: 17,
            }),
            r#"{"ev":"hello","platform":"pbx-1","token":"s3cret","protocol":2,"last_cmd":17}"#,
        ),
        (
            PlatformMessage::new(Event::Hello(hello)),
            r#"{"ev":"hello","platform":"pbx-1","token":"s3cret","protocol":2}"#,
        ),
        (
            PlatformMessage::new(Event::Ack { upto: 17 }),
            r#"{"ev":"ack","upto":17}"#,
        ),
    ];
    for (m, line) in cases {
        assert_eq!(platform_line(&m), format!("{line}\n"));
        assert_eq!(decode_platform(line.as_bytes()), Ok(m));
    }
    let e = decode_platform(br#"{"ev":"ack","seq":3}"#).unwrap_err();
    assert_eq!(e.seq, Some(3));
    assert_eq!(e.to_string(), "missing field `upto` for ack");
    let e = decode_platform(br#"{"ev":"hello","platform":"p","protocol":2,"last_cmd":-1}"#)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadField);
}

#[test]
fn resume_errors_say_what_to_do() {
    let e = ProtoError::new(ProtoErrorKind::ResumeGone {
        got: 0,
        kept_from: 1,
    });
    assert_eq!(e.code().as_str(), "resume_gone");
    assert_eq!(
        e.to_string(),
        "bad field `last_cmd`: commands after 0 up to 1 are no longer kept (acknowledged, or \
         the platform was lost); say `hello` without `last_cmd` to start after 1"
    );
    let e = ProtoError::new(ProtoErrorKind::ResumeAhead { got: 5, last: 0 });
    assert_eq!(e.code().as_str(), "bad_field");
}
