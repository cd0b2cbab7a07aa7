//! Daemon → platform: `welcome`, `ok`, `error` and the engine's commands, encoded (the
//! daemon, on its hot path) and decoded (the load generator).

use crate::error::{ErrorCode, ProtoError, ProtoErrorKind, shorten};
use crate::json::{Fields, Key, Writer, bad, key};
use bytes::BufMut;
use vaxel_core::site::Text;
use vaxel_core::{Command, EngineError};

/// One line from the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage {
    /// The answer to an accepted `hello`.
    Welcome { protocol: u64, server: String },
    /// The message with this `seq` was applied.
    Ok { seq: u64 },
    /// A message was refused (state unchanged). `seq` when it carried one; `line` (its
    /// line number on the connection) when the error answers a line.
    Error {
        seq: Option<u64>,
        line: Option<u64>,
        code: ErrorCode,
        message: String,
    },
    /// A command from the engine.
    Cmd(Command),
    /// Version 2: the answer to an accepted `hello` (`protocol` 2): the commands after
    /// `last_cmd` follow, in order, before anything else (docs/protocol.md "Version 2").
    WelcomeV2 { server: String, last_cmd: u64 },
    /// Version 2: a command from the engine with its number (`cmd_no`), per platform,
    /// strictly increasing and gap-free.
    Numbered { no: u64, cmd: Command },
}

impl ServerMessage {
    /// This server's `welcome`.
    #[must_use]
    pub fn welcome() -> ServerMessage {
        ServerMessage::Welcome {
            protocol: crate::PROTOCOL_VERSION,
            server: crate::SERVER.to_owned(),
        }
    }

    /// The answer to a line the codec refused. `seq` comes from the error.
    #[must_use]
    pub fn proto_error(e: &ProtoError, line: Option<u64>) -> ServerMessage {
        ServerMessage::Error {
            seq: e.seq,
            line,
            code: e.code(),
            message: e.kind.to_string(),
        }
    }

    /// The answer to a message the engine refused.
    #[must_use]
    pub fn engine_error(e: &EngineError, seq: Option<u64>, line: Option<u64>) -> ServerMessage {
        ServerMessage::Error {
            seq,
            line,
            code: ErrorCode::from(e),
            message: e.to_string(),
        }
    }
}

/// Appends `msg` as one JSON line (with `\n`), fields in docs/protocol.md's order, absent
/// optional fields left out.
pub fn encode_server<B: BufMut + ?Sized>(msg: &ServerMessage, buf: &mut B) {
    match msg {
        ServerMessage::Welcome { protocol, server } => {
            let mut w = Writer::start(buf, r#"{"cmd":"welcome""#);
            w.u64(key!("protocol"), *protocol);
            w.str(key!("server"), server);
            w.end();
        }
        ServerMessage::Ok { seq } => {
            let mut w = Writer::start(buf, r#"{"cmd":"ok""#);
            w.u64(key!("seq"), *seq);
            w.end();
        }
        ServerMessage::Error {
            seq,
            line,
            code,
            message,
        } => {
            let mut w = Writer::start(buf, r#"{"cmd":"error""#);
            w.opt_u64(key!("seq"), *seq);
            w.opt_u64(key!("line"), *line);
            w.str(key!("code"), code.as_str());
            w.str(key!("message"), message);
            w.end();
        }
        ServerMessage::Cmd(c) => encode_command(c, buf),
        ServerMessage::WelcomeV2 { server, last_cmd } => {
            let mut w = Writer::start(buf, r#"{"cmd":"welcome""#);
            w.u64(key!("protocol"), crate::PROTOCOL_V2);
            w.str(key!("server"), server);
            w.u64(key!("last_cmd"), *last_cmd);
            w.end();
        }
        ServerMessage::Numbered { no, cmd } => encode_numbered(cmd, Some(*no), buf),
    }
}

/// Appends one engine command as a JSON line; the same as
/// `encode_server(&ServerMessage::Cmd(cmd.clone()), buf)` without the clone.
pub fn encode_command<B: BufMut + ?Sized>(cmd: &Command, buf: &mut B) {
    encode_numbered(cmd, None, buf);
}

/// Appends one engine command as a JSON line, with its number `cmd_no` (version 2) right
/// after `cmd` when there is one.
pub fn encode_numbered<B: BufMut + ?Sized>(cmd: &Command, no: Option<u64>, buf: &mut B) {
    match cmd {
        Command::Play {
            call,
            prompt,
            position,
            ewt_s,
        } => {
            let mut w = Writer::start(buf, r#"{"cmd":"play""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("call"), call);
            w.str(key!("prompt"), prompt);
            w.opt_u64(key!("position"), position.map(u64::from));
            w.opt_u64(key!("ewt_s"), *ewt_s);
            w.end();
        }
        Command::Menu {
            call,
            menu,
            prompt,
            max_digits,
            timeout_s,
        } => {
            let mut w = Writer::start(buf, r#"{"cmd":"menu""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("call"), call);
            w.str(key!("menu"), menu);
            w.str(key!("prompt"), prompt);
            w.u64(key!("max_digits"), u64::from(*max_digits));
            w.u64(key!("timeout_s"), u64::from(*timeout_s));
            w.end();
        }
        Command::Queue {
            call,
            group,
            position,
            ewt_s,
        } => {
            let mut w = Writer::start(buf, r#"{"cmd":"queue""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("call"), call);
            w.str(key!("group"), group);
            w.u64(key!("position"), u64::from(*position));
            w.opt_u64(key!("ewt_s"), *ewt_s);
            w.end();
        }
        Command::Connect {
            call,
            agent,
            extension,
            ring_s,
        } => {
            let mut w = Writer::start(buf, r#"{"cmd":"connect""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("call"), call);
            w.str(key!("agent"), agent);
            w.str(key!("extension"), extension);
            w.u64(key!("ring_s"), *ring_s);
            w.end();
        }
        Command::Forward { call, number } => {
            let mut w = Writer::start(buf, r#"{"cmd":"forward""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("call"), call);
            w.str(key!("number"), number);
            w.end();
        }
        Command::Hangup { call, prompt } => {
            let mut w = Writer::start(buf, r#"{"cmd":"hangup""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("call"), call);
            w.opt_str(key!("prompt"), prompt.as_deref());
            w.end();
        }
        Command::OfferCallback { call, prompt } => {
            let mut w = Writer::start(buf, r#"{"cmd":"offer_callback""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("call"), call);
            w.str(key!("prompt"), prompt);
            w.end();
        }
        Command::Dial {
            callback,
            agent,
            extension,
            number,
        } => {
            let mut w = Writer::start(buf, r#"{"cmd":"dial""#);
            w.opt_u64(key!("cmd_no"), no);
            w.str(key!("callback"), callback);
            w.str(key!("agent"), agent);
            w.str(key!("extension"), extension);
            w.str(key!("number"), number);
            w.end();
        }
    }
}

/// Decodes one line from the daemon (the load generator's side). Strings are taken as
/// they are (the daemon is trusted to send sane ids); types are checked; unknown fields are
/// ignored. Unknown `cmd` → `unknown_event` ([`ProtoErrorKind::UnknownCommand`]).
pub fn decode_server(line: &[u8]) -> Result<ServerMessage, ProtoError> {
    let text = std::str::from_utf8(line).map_err(|e| {
        ProtoError::new(ProtoErrorKind::InvalidUtf8 {
            at: e.valid_up_to(),
        })
    })?;
    let (mut f, seq) = crate::json::open(text)?;
    decode_fields(&mut f, seq).map_err(|kind| ProtoError { seq, kind })
}

fn text(f: &mut Fields<'_>, key: Key) -> Result<Text, ProtoErrorKind> {
    Ok(Text::from(&*f.req_str(key)?))
}

/// The `cmd` of a daemon message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CmdKind {
    Welcome,
    Ok,
    Error,
    Play,
    Menu,
    Queue,
    Connect,
    Forward,
    Hangup,
    OfferCallback,
    Dial,
}

impl CmdKind {
    const ALL: [CmdKind; 11] = [
        CmdKind::Welcome,
        CmdKind::Ok,
        CmdKind::Error,
        CmdKind::Play,
        CmdKind::Menu,
        CmdKind::Queue,
        CmdKind::Connect,
        CmdKind::Forward,
        CmdKind::Hangup,
        CmdKind::OfferCallback,
        CmdKind::Dial,
    ];

    fn as_str(self) -> &'static str {
        match self {
            CmdKind::Welcome => "welcome",
            CmdKind::Ok => "ok",
            CmdKind::Error => "error",
            CmdKind::Play => "play",
            CmdKind::Menu => "menu",
            CmdKind::Queue => "queue",
            CmdKind::Connect => "connect",
            CmdKind::Forward => "forward",
            CmdKind::Hangup => "hangup",
            CmdKind::OfferCallback => "offer_callback",
            CmdKind::Dial => "dial",
        }
    }
}

fn decode_fields(f: &mut Fields<'_>, seq: Option<u64>) -> Result<ServerMessage, ProtoErrorKind> {
    let cmd = f.req_str(Key::Cmd)?;
    let kind = CmdKind::ALL
        .into_iter()
        .find(|k| k.as_str() == cmd)
        .ok_or_else(|| ProtoErrorKind::UnknownCommand(shorten(&cmd)))?;
    f.kind = Some(kind.as_str());
    let msg = match kind {
        CmdKind::Welcome => {
            let protocol = f.req_u64(Key::Protocol)?;
            let server = f.req_str(Key::Server)?.into_owned();
            match f.opt_u64(Key::LastCmd)? {
                Some(last_cmd) => ServerMessage::WelcomeV2 { server, last_cmd },
                None => ServerMessage::Welcome { protocol, server },
            }
        }
        CmdKind::Ok => ServerMessage::Ok {
            seq: seq.ok_or(ProtoErrorKind::MissingField {
                field: "seq",
                kind: f.kind,
            })?,
        },
        CmdKind::Error => ServerMessage::Error {
            seq,
            line: f.opt_u64(Key::Line)?,
            code: {
                let code = f.req_str(Key::Code)?;
                ErrorCode::parse(&code)
                    .ok_or_else(|| bad("code", "not an error code of the protocol"))?
            },
            message: f.req_str(Key::Message)?.into_owned(),
        },
        CmdKind::Play => ServerMessage::Cmd(Command::Play {
            call: text(f, Key::Call)?,
            prompt: text(f, Key::Prompt)?,
            position: f.opt_u32(Key::Position)?,
            ewt_s: f.opt_u64(Key::EwtS)?,
        }),
        CmdKind::Menu => ServerMessage::Cmd(Command::Menu {
            call: text(f, Key::Call)?,
            menu: text(f, Key::Menu)?,
            prompt: text(f, Key::Prompt)?,
            max_digits: f.req_u32(Key::MaxDigits)?,
            timeout_s: f.req_u32(Key::TimeoutS)?,
        }),
        CmdKind::Queue => ServerMessage::Cmd(Command::Queue {
            call: text(f, Key::Call)?,
            group: text(f, Key::Group)?,
            position: f.req_u32(Key::Position)?,
            ewt_s: f.opt_u64(Key::EwtS)?,
        }),
        CmdKind::Connect => ServerMessage::Cmd(Command::Connect {
            call: text(f, Key::Call)?,
            agent: text(f, Key::Agent)?,
            extension: text(f, Key::Extension)?,
            ring_s: f.req_u64(Key::RingS)?,
        }),
        CmdKind::Forward => ServerMessage::Cmd(Command::Forward {
            call: text(f, Key::Call)?,
            number: text(f, Key::Number)?,
        }),
        CmdKind::Hangup => ServerMessage::Cmd(Command::Hangup {
            call: text(f, Key::Call)?,
            prompt: f.opt_str(Key::Prompt)?.map(|s| Text::from(&*s)),
        }),
        CmdKind::OfferCallback => ServerMessage::Cmd(Command::OfferCallback {
            call: text(f, Key::Call)?,
            prompt: text(f, Key::Prompt)?,
        }),
        CmdKind::Dial => ServerMessage::Cmd(Command::Dial {
            callback: text(f, Key::Callback)?,
            agent: text(f, Key::Agent)?,
            extension: text(f, Key::Extension)?,
            number: text(f, Key::Number)?,
        }),
    };
    Ok(match (msg, f.opt_u64(Key::CmdNo)?) {
        (ServerMessage::Cmd(cmd), Some(no)) => ServerMessage::Numbered { no, cmd },
        (msg, _) => msg,
    })
}
