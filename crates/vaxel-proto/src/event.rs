//! Platform → daemon: `hello` and the events of the protocol (the engine's [`Input`]s in
//! an envelope), decoded with precise errors (the daemon) and encoded (the load generator).

use crate::de::{MessageDe, Mode};
use crate::error::{ProtoError, ProtoErrorKind, shorten};
use crate::flat::{self, Dialect};
use crate::json::{Fields, Key, Writer, key};
use bytes::BufMut;
use serde::Deserialize;
use serde_json::{Map, Value};
use vaxel_core::site::Text;
use vaxel_core::{Input, Timestamp};

/// Longest id (`call`, `agent`, `platform`, `group`, …), dialed or calling number, `lang`,
/// `case_type` and `digits`, in bytes.
pub const MAX_ID: usize = 256;
/// Longest free text (`reason`, `note`, `token`), in bytes.
pub const MAX_TEXT: usize = 1024;

/// `call.arrived`'s `attrs`: whatever JSON object the platform attached (SIP headers, CRM
/// ids). Kept as sent; the engine does not route on it.
pub type Attrs = Map<String, Value>;

/// The `ev` of every platform message, in the protocol's order (`hello` first; the
/// extension `agent.wrapup_until` after `agent.wrapup_done`). Every other name is an
/// `unknown_event`, the engine inputs no platform sends (`crisis`, `platform.lost`)
/// included.
pub const EVENTS: [&str; 19] = [
    "hello",
    "call.arrived",
    "call.digits",
    "call.answered",
    "call.noanswer",
    "call.hangup",
    "call.transfer",
    "call.park",
    "call.unpark",
    "call.requeue",
    "call.disposition",
    "callback.result",
    "agent.login",
    "agent.ready",
    "agent.logout",
    "agent.pause",
    "agent.wrapup_done",
    "agent.wrapup_until",
    "tick",
];

/// `hello`: the first line of every connection.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Hello {
    /// The platform instance; calls belong to it across reconnections.
    pub platform: Text,
    /// Absent only where the server runs without platform tokens.
    #[serde(default)]
    pub token: Option<Text>,
    /// Protocol version asked for ([`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION) = 1).
    pub protocol: u64,
}

/// One platform message, without its envelope: `hello`, or the engine's own [`Input`]
/// (`call.arrived`'s `platform` is the one the connection's `hello` named: see
/// [`PlatformMessage::into_input`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Hello(Hello),
    Input(Input),
    /// Version 2: a `hello` carrying `last_cmd`, the number of the last command the
    /// platform processed (docs/protocol.md "Version 2"): the daemon re-sends every
    /// command after it. A version 2 `hello` without it is [`Event::Hello`].
    Resume {
        hello: Hello,
        last_cmd: u64,
    },
    /// Version 2: `{"ev":"ack","upto":N}`, the platform processed every command up to
    /// number `N`.
    Ack {
        upto: u64,
    },
}

/// One line from the platform: the envelope around an [`Event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformMessage {
    /// Asks for an `ok`/`error` answer carrying it.
    pub seq: Option<u64>,
    /// Milliseconds since the Unix epoch: logged (live clock) or the engine's time (event
    /// clock).
    pub at: Option<Timestamp>,
    /// `call.arrived`'s attached object, kept as sent (read on no other event).
    pub attrs: Option<Attrs>,
    pub body: Event,
}

impl PlatformMessage {
    /// A message without envelope fields.
    #[must_use]
    pub fn new(body: Event) -> PlatformMessage {
        PlatformMessage {
            seq: None,
            at: None,
            attrs: None,
            body,
        }
    }

    /// The engine input, `None` for `hello` (the daemon's own business). `platform` is the
    /// id the connection said `hello` with: it owns the calls it announces. Empty
    /// `digits` on `call.arrived` means none collected.
    #[must_use]
    pub fn into_input(self, platform: &Text) -> Option<Input> {
        // `hello`, its resuming form and `ack` are the session's, not the engine's.
        let Event::Input(mut input) = self.body else {
            return None;
        };
        if let Input::CallArrived {
            platform: p,
            digits,
            ..
        } = &mut input
        {
            p.clone_from(platform);
            if digits.as_deref() == Some("") {
                *digits = None;
            }
        }
        Some(input)
    }
}

impl Event {
    /// The event a platform sends for `input`; `None` for inputs no platform sends (crisis
    /// switches and lost platforms come from the daemon itself). A driver that knows the
    /// engine inputs it wants (`vaxel load --exact`) sends them this way.
    #[must_use]
    pub fn from_input(input: &Input) -> Option<Event> {
        EVENTS
            .contains(&input.kind())
            .then(|| Event::Input(input.clone()))
    }

    /// The wire name (`ev`).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Hello(_) | Event::Resume { .. } => "hello",
            Event::Input(i) => i.kind(),
            Event::Ack { .. } => ACK,
        }
    }

    /// The `hello` (either form) and the `last_cmd` it resumes after.
    #[must_use]
    pub fn hello(&self) -> Option<(&Hello, Option<u64>)> {
        match self {
            Event::Hello(h) => Some((h, None)),
            Event::Resume { hello, last_cmd } => Some((hello, Some(*last_cmd))),
            _ => None,
        }
    }
}

/// The `ev` of a version 2 acknowledgement. Not in [`EVENTS`] (the version 1 list).
pub const ACK: &str = "ack";

// ---------------------------------------------------------------- decoding

/// Decodes one line (without its `\n`) from the platform. Checks UTF-8 first; a line from
/// the [`Framer`](crate::Framer) is already checked: use [`decode_platform_str`].
pub fn decode_platform(line: &[u8]) -> Result<PlatformMessage, ProtoError> {
    let text = std::str::from_utf8(line).map_err(|e| {
        ProtoError::new(ProtoErrorKind::InvalidUtf8 {
            at: e.valid_up_to(),
        })
    })?;
    decode_platform_str(text)
}

/// Decodes one line from the platform. The error carries the message's `seq` whenever it
/// could be read, even from a line that is otherwise broken. Unknown fields are ignored;
/// `null` in an optional field is the same as leaving it out. The first problem found is
/// reported: JSON, `seq`, `ev`, `at`, then the event's fields in the protocol's order.
pub fn decode_platform_str(line: &str) -> Result<PlatformMessage, ProtoError> {
    let (mut f, seq) = crate::json::open(line)?;
    decode_event(&mut f, seq).map_err(|kind| ProtoError { seq, kind })
}

fn decode_event(f: &mut Fields<'_>, seq: Option<u64>) -> Result<PlatformMessage, ProtoErrorKind> {
    let ev = f.req_str(Key::Ev)?;
    if ev == ACK {
        f.kind = Some(ACK);
        let at = f.opt_u64(Key::At)?.map(Timestamp);
        let upto = f.req_u64(Key::Upto)?;
        return Ok(PlatformMessage {
            seq,
            at,
            attrs: None,
            body: Event::Ack { upto },
        });
    }
    let Some(&kind) = EVENTS.iter().find(|k| **k == ev) else {
        return Err(ProtoErrorKind::UnknownEvent(shorten(&ev)));
    };
    f.kind = Some(kind);
    let at = f.opt_u64(Key::At)?.map(Timestamp);
    let de = MessageDe {
        ev: kind,
        fields: f,
        mode: Mode::Wire,
    };
    let body = if kind == "hello" {
        let hello = Hello::deserialize(de).map_err(|e| e.0)?;
        match f.opt_u64(Key::LastCmd)? {
            Some(last_cmd) => Event::Resume { hello, last_cmd },
            None => Event::Hello(hello),
        }
    } else {
        Event::Input(Input::deserialize(de).map_err(|e| e.0)?)
    };
    let attrs = match body {
        Event::Input(Input::CallArrived { .. }) => f.opt_object(Key::Attrs)?,
        _ => None,
    };
    if kind == "tick" && at.is_none() {
        return Err(ProtoErrorKind::MissingField {
            field: "at",
            kind: f.kind,
        });
    }
    Ok(PlatformMessage {
        seq,
        at,
        attrs,
        body,
    })
}

/// Reads an input from `key=value` text (a scenario script's words): the same model and
/// field names as the wire, values parsed into the type each field has. Trusted: no id
/// rule applies, and `call.arrived` takes its `platform` from the text. Unlike the wire,
/// strict: a key the input does not have is an error. `outcome=connected|failed` gives
/// `callback.result`'s `connected`.
pub fn input_from_text<'a>(
    ev: &'a str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Input, String> {
    let (mut fields, keys) = Fields::from_text(pairs).map_err(|k| format!("unknown key `{k}`"))?;
    fields.kind = EVENTS.iter().find(|k| **k == ev).copied();
    let de = MessageDe {
        ev,
        fields: &mut fields,
        mode: Mode::Text,
    };
    let input = Input::deserialize(de).map_err(|e| e.to_string())?;
    match keys.into_iter().find(|k| fields.has(*k)) {
        Some(k) => Err(format!("`{ev}` has no field `{}`", k.name())),
        None => Ok(input),
    }
}

/// The call id [`decode_action`] puts in an input until the engine names the agent's call.
pub const ACTION_CALL: &str = "-";

/// An agent's action from the operator's desk (the HTTP API's
/// `POST /api/v1/agents/{id}/call/transfer` with `{"to":"group:x","priority":5}`): a JSON
/// object holding the event `ev`'s fields but `agent`, which the path names, and `call`,
/// which the engine finds (the input carries [`ACTION_CALL`] until
/// [`Input::with_call`] sets it). Read by the same serde model, rules and error messages
/// as the platform's lines, so a desk's refusal names the field as the protocol does.
/// Fields the event does not have are ignored here, as on the wire (the HTTP layer
/// refuses them first); `agent` or `call` in the body is a `bad_field`.
pub fn decode_action(ev: &str, body: &str, agent: &str) -> Result<Input, ProtoErrorKind> {
    let Some(&kind) = EVENTS.iter().find(|k| **k == ev && **k != "hello") else {
        return Err(ProtoErrorKind::UnknownEvent(shorten(ev)));
    };
    let (mut f, read) = Fields::read(body);
    read.map_err(|e| e.kind)?;
    for key in [Key::Agent, Key::Call] {
        if f.has(key) {
            return Err(crate::json::bad(
                key.name(),
                "is not part of the body: the path names the agent and the engine finds its call",
            ));
        }
    }
    f.set_str(Key::Agent, agent);
    f.set_str(Key::Call, ACTION_CALL);
    f.kind = Some(kind);
    let de = MessageDe {
        ev: kind,
        fields: &mut f,
        mode: Mode::Wire,
    };
    Input::deserialize(de).map_err(|e| e.0)
}

// ---------------------------------------------------------------- encoding

/// Appends `msg` as one JSON line (with `\n`): `ev` first, then `seq`, `at` and the fields
/// in the protocol's order; absent optional fields are left out.
pub fn encode_platform<B: BufMut + ?Sized>(msg: &PlatformMessage, buf: &mut B) {
    let envelope = [("seq", msg.seq), ("at", msg.at.map(|t| t.0))];
    match &msg.body {
        Event::Hello(_) | Event::Resume { .. } => {
            let Some((h, last_cmd)) = msg.body.hello() else {
                return;
            };
            let mut w = Writer::start(buf, "{\"ev\":\"hello\"");
            w.opt_u64(key!("seq"), msg.seq);
            w.opt_u64(key!("at"), msg.at.map(|t| t.0));
            w.str(key!("platform"), &h.platform);
            w.opt_str(key!("token"), h.token.as_deref());
            w.u64(key!("protocol"), h.protocol);
            w.opt_u64(key!("last_cmd"), last_cmd);
            w.end();
        }
        Event::Ack { upto } => {
            let mut w = Writer::start(buf, "{\"ev\":\"ack\"");
            w.opt_u64(key!("seq"), msg.seq);
            w.opt_u64(key!("at"), msg.at.map(|t| t.0));
            w.u64(key!("upto"), *upto);
            w.end();
        }
        Event::Input(input) => {
            flat::write_input(buf, "ev", &envelope, input, Dialect::Wire);
            if let (Input::CallArrived { .. }, Some(attrs)) = (input, &msg.attrs) {
                let mut w = Writer::resume(buf);
                w.object(key!("attrs"), attrs);
                w.end();
            } else {
                buf.put_slice(b"}\n");
            }
        }
    }
}
