//! The JSON underneath both directions: a hand-written writer (no intermediate `Value`,
//! fields in a fixed order) and a reader that captures the protocol's known fields of one
//! object in a single pass, borrowing strings from the line where it can.

use crate::error::{ProtoError, ProtoErrorKind};
use bytes::BufMut;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

// ---------------------------------------------------------------- writing

/// Writes one JSON object: `{"tag":"value"` first, then fields, then `}\n`.
pub(crate) struct Writer<'b, B: BufMut + ?Sized> {
    buf: &'b mut B,
}

/// `,"name":` as one static slice.
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}
pub(crate) use key;

impl<'b, B: BufMut + ?Sized> Writer<'b, B> {
    /// Starts the object with its discriminator; `head` is e.g. `{"cmd":"connect"`.
    pub(crate) fn start(buf: &'b mut B, head: &'static str) -> Self {
        buf.put_slice(head.as_bytes());
        Writer { buf }
    }

    /// Goes on with an object whose start was written by other means.
    pub(crate) fn resume(buf: &'b mut B) -> Self {
        Writer { buf }
    }

    pub(crate) fn str(&mut self, key: &'static str, value: &str) {
        self.buf.put_slice(key.as_bytes());
        write_str(self.buf, value);
    }

    pub(crate) fn opt_str(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    pub(crate) fn u64(&mut self, key: &'static str, value: u64) {
        self.buf.put_slice(key.as_bytes());
        crate::flat::put_u64(self.buf, value);
    }

    pub(crate) fn opt_u64(&mut self, key: &'static str, value: Option<u64>) {
        if let Some(v) = value {
            self.u64(key, v);
        }
    }

    /// A JSON object value (rare: `attrs`), through serde_json.
    pub(crate) fn object(&mut self, key: &'static str, value: &Map<String, Value>) {
        self.buf.put_slice(key.as_bytes());
        // Cannot fail: a `Map` of `Value`s has string keys and finite numbers, and a
        // `BufMut` writer never refuses bytes.
        let _ = serde_json::to_writer((&mut *self.buf).writer(), value);
    }

    pub(crate) fn end(self) {
        self.buf.put_slice(b"}\n");
    }
}

/// Writes `s` as a JSON string, escaping `"`, `\` and control characters.
pub(crate) fn write_str<B: BufMut + ?Sized>(buf: &mut B, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    buf.put_u8(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => continue,
        };
        buf.put_slice(&bytes[start..i]);
        buf.put_slice(esc);
        start = i + 1;
    }
    buf.put_slice(&bytes[start..]);
    buf.put_u8(b'"');
}

// ---------------------------------------------------------------- reading

/// Every field name of the protocol, both directions (and of the engine inputs the scenario
/// scripts send). Other names are skipped unread, at any depth; a known name's value is read
/// whole (within serde_json's nesting limit), so that it can be checked by its type. A new
/// field of [`Input`](vaxel_core::Input) with a new name is added here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Ev,
    Cmd,
    Seq,
    At,
    Platform,
    Token,
    Protocol,
    Call,
    To,
    From,
    Digits,
    Lang,
    Attrs,
    Agent,
    Reason,
    Priority,
    Group,
    CaseType,
    Resolved,
    Callback,
    Outcome,
    Extension,
    Note,
    Until,
    Prompt,
    Position,
    EwtS,
    Menu,
    MaxDigits,
    TimeoutS,
    RingS,
    Number,
    Server,
    Line,
    Code,
    Message,
    On,
    Route,
    LastCmd,
    Upto,
    CmdNo,
}

const N_KEYS: usize = Key::CmdNo as usize + 1;

impl Key {
    pub(crate) fn parse(s: &str) -> Option<Key> {
        Some(match s {
            "ev" => Key::Ev,
            "cmd" => Key::Cmd,
            "seq" => Key::Seq,
            "at" => Key::At,
            "platform" => Key::Platform,
            "token" => Key::Token,
            "protocol" => Key::Protocol,
            "call" => Key::Call,
            "to" => Key::To,
            "from" => Key::From,
            "digits" => Key::Digits,
            "lang" => Key::Lang,
            "attrs" => Key::Attrs,
            "agent" => Key::Agent,
            "reason" => Key::Reason,
            "priority" => Key::Priority,
            "group" => Key::Group,
            "case_type" => Key::CaseType,
            "resolved" => Key::Resolved,
            "callback" => Key::Callback,
            "outcome" => Key::Outcome,
            "extension" => Key::Extension,
            "note" => Key::Note,
            "until" => Key::Until,
            "prompt" => Key::Prompt,
            "position" => Key::Position,
            "ewt_s" => Key::EwtS,
            "menu" => Key::Menu,
            "max_digits" => Key::MaxDigits,
            "timeout_s" => Key::TimeoutS,
            "ring_s" => Key::RingS,
            "number" => Key::Number,
            "server" => Key::Server,
            "line" => Key::Line,
            "code" => Key::Code,
            "message" => Key::Message,
            "on" => Key::On,
            "route" => Key::Route,
            "last_cmd" => Key::LastCmd,
            "upto" => Key::Upto,
            "cmd_no" => Key::CmdNo,
            _ => return None,
        })
    }

    /// The wire name (for error messages).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::Ev => "ev",
            Key::Cmd => "cmd",
            Key::Seq => "seq",
            Key::At => "at",
            Key::Platform => "platform",
            Key::Token => "token",
            Key::Protocol => "protocol",
            Key::Call => "call",
            Key::To => "to",
            Key::From => "from",
            Key::Digits => "digits",
            Key::Lang => "lang",
            Key::Attrs => "attrs",
            Key::Agent => "agent",
            Key::Reason => "reason",
            Key::Priority => "priority",
            Key::Group => "group",
            Key::CaseType => "case_type",
            Key::Resolved => "resolved",
            Key::Callback => "callback",
            Key::Outcome => "outcome",
            Key::Extension => "extension",
            Key::Note => "note",
            Key::Until => "until",
            Key::Prompt => "prompt",
            Key::Position => "position",
            Key::EwtS => "ewt_s",
            Key::Menu => "menu",
            Key::MaxDigits => "max_digits",
            Key::TimeoutS => "timeout_s",
            Key::RingS => "ring_s",
            Key::Number => "number",
            Key::Server => "server",
            Key::Line => "line",
            Key::Code => "code",
            Key::Message => "message",
            Key::On => "on",
            Key::Route => "route",
            Key::LastCmd => "last_cmd",
            Key::Upto => "upto",
            Key::CmdNo => "cmd_no",
        }
    }
}

/// A captured field value: scalars as they are (strings borrowed from the line unless they
/// had escapes), anything nested as a `Value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lite<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Nested(Box<Value>),
    /// A text value from a trusted source (a scenario script's `key=value`), parsed into
    /// the type asked for.
    Text(&'a str),
}

impl Lite<'_> {
    /// What the value is, for "expected …, found …" messages. Numbers are shown (short);
    /// strings and nested values only by kind (they may be long).
    pub(crate) fn describe(&self) -> String {
        match self {
            Lite::Null => "null".into(),
            Lite::Bool(b) => b.to_string(),
            Lite::U64(n) => n.to_string(),
            Lite::I64(n) => n.to_string(),
            Lite::F64(x) => format!("{x:?}"),
            Lite::Str(_) | Lite::Text(_) => "a string".into(),
            Lite::Nested(v) if v.is_array() => "an array".into(),
            Lite::Nested(_) => "an object".into(),
        }
    }
}

/// The known fields of one object, last occurrence winning.
pub(crate) struct Fields<'a> {
    values: [Option<Lite<'a>>; N_KEYS],
    /// Set when the line held valid JSON that is not an object.
    not_object: Option<&'static str>,
    /// The event or command being read, named by "missing field" errors.
    pub(crate) kind: Option<&'static str>,
}

impl<'a> Fields<'a> {
    /// Takes the value of `key`, if present.
    pub(crate) fn take(&mut self, key: Key) -> Option<Lite<'a>> {
        self.values[key as usize].take()
    }

    /// Reads one line's JSON object. On a syntax error the fields read before it are kept
    /// (so that `seq` can still be answered) and the error is returned beside them.
    pub(crate) fn read(line: &'a str) -> (Fields<'a>, Result<(), ProtoError>) {
        let mut fields = Fields {
            values: [const { None }; N_KEYS],
            not_object: None,
            kind: None,
        };
        let mut de = serde_json::Deserializer::from_str(line);
        let result = Capture(&mut fields)
            .deserialize(&mut de)
            .and_then(|()| de.end());
        let result = match result {
            Ok(()) => Ok(()),
            Err(e) => Err(ProtoError::new(match fields.not_object {
                Some(found) => ProtoErrorKind::NotAnObject { found },
                None => invalid_json(&e),
            })),
        };
        (fields, result)
    }
}

impl<'a> Fields<'a> {
    /// Fields from `key=value` text pairs (a scenario script), values parsed on demand.
    /// A key the protocol does not know is refused (returned); the last of duplicates wins.
    pub(crate) fn from_text(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(Fields<'a>, Vec<Key>), &'a str> {
        let mut fields = Fields {
            values: [const { None }; N_KEYS],
            not_object: None,
            kind: None,
        };
        let mut keys = Vec::new();
        for (k, v) in pairs {
            let key = Key::parse(k).ok_or(k)?;
            fields.values[key as usize] = Some(Lite::Text(v));
            keys.push(key);
        }
        Ok((fields, keys))
    }

    /// Sets `key` to the string `value` (a field that comes from elsewhere than the line:
    /// the desk's path names the agent).
    pub(crate) fn set_str(&mut self, key: Key, value: &'a str) {
        self.values[key as usize] = Some(Lite::Str(Cow::Borrowed(value)));
    }

    /// Whether `key` holds a value nobody took.
    pub(crate) fn has(&self, key: Key) -> bool {
        self.values[key as usize].is_some()
    }
}

/// Typed access. `req_*` fail with `missing_field` when the field is absent and
/// `bad_field` when it has another type (`null` included); `opt_*` read `null` as absent.
impl<'a> Fields<'a> {
    /// The value of a field that must be present.
    pub(crate) fn req(&mut self, key: Key) -> Result<Lite<'a>, ProtoErrorKind> {
        self.take(key).ok_or(ProtoErrorKind::MissingField {
            field: key.name(),
            kind: self.kind,
        })
    }

    /// The value of an optional field; `null` is the same as absent.
    pub(crate) fn opt(&mut self, key: Key) -> Option<Lite<'a>> {
        match self.take(key) {
            None | Some(Lite::Null) => None,
            v => v,
        }
    }

    pub(crate) fn req_str(&mut self, key: Key) -> Result<Cow<'a, str>, ProtoErrorKind> {
        let v = self.req(key)?;
        as_str(key.name(), v)
    }

    pub(crate) fn opt_str(&mut self, key: Key) -> Result<Option<Cow<'a, str>>, ProtoErrorKind> {
        self.opt(key).map(|v| as_str(key.name(), v)).transpose()
    }

    pub(crate) fn req_u64(&mut self, key: Key) -> Result<u64, ProtoErrorKind> {
        let v = self.req(key)?;
        as_u64(key.name(), &v)
    }

    pub(crate) fn opt_u64(&mut self, key: Key) -> Result<Option<u64>, ProtoErrorKind> {
        self.opt(key).map(|v| as_u64(key.name(), &v)).transpose()
    }

    pub(crate) fn req_u32(&mut self, key: Key) -> Result<u32, ProtoErrorKind> {
        let v = self.req(key)?;
        as_u32(key.name(), &v)
    }

    pub(crate) fn opt_u32(&mut self, key: Key) -> Result<Option<u32>, ProtoErrorKind> {
        self.opt(key).map(|v| as_u32(key.name(), &v)).transpose()
    }

    pub(crate) fn opt_object(
        &mut self,
        key: Key,
    ) -> Result<Option<Map<String, Value>>, ProtoErrorKind> {
        match self.opt(key) {
            None => Ok(None),
            Some(Lite::Nested(v)) => match *v {
                Value::Object(m) => Ok(Some(m)),
                _ => Err(bad(key.name(), "expected an object, found an array")),
            },
            Some(v) => Err(bad(
                key.name(),
                format!("expected an object, found {}", v.describe()),
            )),
        }
    }
}

/// A `bad_field` error.
pub(crate) fn bad(field: &'static str, reason: impl Into<String>) -> ProtoErrorKind {
    ProtoErrorKind::BadField {
        field,
        reason: reason.into(),
    }
}

fn as_str<'a>(key: &'static str, v: Lite<'a>) -> Result<Cow<'a, str>, ProtoErrorKind> {
    match v {
        Lite::Str(s) => Ok(s),
        v => Err(bad(
            key,
            format!("expected a string, found {}", v.describe()),
        )),
    }
}

pub(crate) fn as_u64(key: &'static str, v: &Lite<'_>) -> Result<u64, ProtoErrorKind> {
    match v {
        Lite::U64(n) => Ok(*n),
        v => Err(bad(
            key,
            format!("expected a non-negative integer, found {}", v.describe()),
        )),
    }
}

pub(crate) fn as_u32(key: &'static str, v: &Lite<'_>) -> Result<u32, ProtoErrorKind> {
    match v {
        Lite::U64(n) => u32::try_from(*n).map_err(|_| {
            bad(
                key,
                format!("expected an integer from 0 to {}, found {n}", u32::MAX),
            )
        }),
        v => Err(bad(
            key,
            format!("expected a non-negative integer, found {}", v.describe()),
        )),
    }
}

pub(crate) fn as_i32(key: &'static str, v: &Lite<'_>) -> Result<i32, ProtoErrorKind> {
    let range = || {
        bad(
            key,
            format!(
                "expected an integer from {} to {}, found {}",
                i32::MIN,
                i32::MAX,
                v.describe()
            ),
        )
    };
    match v {
        Lite::U64(n) => i32::try_from(*n).map_err(|_| range()),
        Lite::I64(n) => i32::try_from(*n).map_err(|_| range()),
        v => Err(bad(
            key,
            format!("expected an integer, found {}", v.describe()),
        )),
    }
}

/// Reads a line's object and its `seq`. A broken line's error carries the `seq` if one
/// was read before the break.
pub(crate) fn open(line: &str) -> Result<(Fields<'_>, Option<u64>), ProtoError> {
    let (mut fields, parsed) = Fields::read(line);
    let seq = fields.opt_u64(Key::Seq);
    match (parsed, seq) {
        (Err(mut e), seq) => {
            e.seq = seq.ok().flatten();
            Err(e)
        }
        (Ok(()), Err(kind)) => Err(ProtoError::new(kind)),
        (Ok(()), Ok(seq)) => Ok((fields, seq)),
    }
}

/// serde_json's message without its " at line L column C" suffix (the line is always 1
/// here; the connection's line number is reported separately).
fn invalid_json(e: &serde_json::Error) -> ProtoErrorKind {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let reason = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ProtoErrorKind::InvalidJson {
        column: e.column(),
        reason,
    }
}

/// Deserializes a top-level object into [`Fields`].
struct Capture<'f, 'a>(&'f mut Fields<'a>);

impl<'de> DeserializeSeed<'de> for Capture<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Capture<'_, '_> {
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<(), E> {
        self.0.not_object = Some(found);
        Err(E::custom("not an object"))
    }
}

impl<'de> Visitor<'de> for Capture<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeySeed>()? {
            match key.0 {
                Some(k) => {
                    let v = map.next_value::<Lite<'de>>()?;
                    self.0.values[k as usize] = Some(v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_object("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_object("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_object("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_object("a number")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_object("a string")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_object("null")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_object("an array")
    }
}

/// A field name, resolved without allocating; `None` for names the protocol does not know.
struct KeySeed(Option<Key>);

impl<'de> de::Deserialize<'de> for KeySeed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeySeed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeySeed, E> {
                Ok(KeySeed(Key::parse(s)))
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> de::Deserialize<'de> for Lite<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lite<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lite<'de>, E> {
                Ok(Lite::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Lite<'de>, E> {
                Ok(Lite::Bool(b))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Lite<'de>, E> {
                Ok(Lite::U64(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Lite<'de>, E> {
                Ok(Lite::I64(n))
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Lite<'de>, E> {
                Ok(Lite::F64(x))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lite<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(Lite::Nested(Box::new(Value::Array(items))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lite<'de>, A::Error> {
                let mut m = Map::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    m.insert(k, v);
                }
                Ok(Lite::Nested(Box::new(Value::Object(m))))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(s: &str) -> String {
        let mut v = Vec::new();
        write_str(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escaping_matches_serde_json() {
        for s in [
            "",
            "plain",
            "q\"b\\s",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "åäö ☎ 𝄞",
        ] {
            assert_eq!(escaped(s), serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn every_key_round_trips_its_name() {
        let keys = all_keys();
        assert_eq!(keys.len(), N_KEYS);
        for (i, k) in keys.into_iter().enumerate() {
            assert_eq!(k as usize, i);
            assert_eq!(Key::parse(k.name()), Some(k));
        }
    }

    fn all_keys() -> Vec<Key> {
        use Key::*;
        vec![
            Ev, Cmd, Seq, At, Platform, Token, Protocol, Call, To, From, Digits, Lang, Attrs,
            Agent, Reason, Priority, Group, CaseType, Resolved, Callback, Outcome, Extension, Note,
            Until, Prompt, Position, EwtS, Menu, MaxDigits, TimeoutS, RingS, Number, Server, Line,
            Code, Message, On, Route, LastCmd, Upto, CmdNo,
        ]
    }

    #[test]
    fn seq_survives_a_syntax_error() {
        let (mut f, r) = Fields::read(r#"{"seq":7,"ev":"call.arrived","call":"x"#);
        assert!(r.is_err());
        assert_eq!(f.take(Key::Seq), Some(Lite::U64(7)));
    }

    proptest! {
        #[test]
        fn escaping_matches_serde_json_everywhere(s in any::<String>()) {
            prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }
    }
}
