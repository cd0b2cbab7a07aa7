//! Captured fields ([`Fields`]) into the core's [`Input`] (and `hello`) through their serde
//! derive, with the protocol's error messages.
//!
//! The line is first read whole into [`Fields`] (so a syntax error anywhere is `bad_json`
//! and keeps the `seq` read before it); then the derived `Deserialize` asks for each field
//! in its declared order, which is the protocol's order, and this module answers with the
//! captured value, checked by the field's rule (ids, free text, digits, transfer targets).
//! The first problem found is the one reported, as a `missing_field` or a `bad_field`
//! naming the field.
//!
//! The same deserializer reads the scenario scripts' `key=value` words ([`Lite::Text`]
//! values, parsed on demand): a new field of an input needs no parser code anywhere.

use crate::error::ProtoErrorKind;
use crate::event::{MAX_ID, MAX_TEXT};
use crate::json::{Fields, Key, Lite, bad};
use serde::de::value::{BorrowedStrDeserializer, U64Deserializer};
use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, VariantAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// How values are read and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A platform's line: JSON types are strict, strings are checked by their field's rule,
    /// and `call.arrived` takes no `platform` (the connection's `hello` names it).
    Wire,
    /// A trusted source of text values (scenario scripts): values are parsed into the
    /// type asked for, and no id rule applies (scripts also test the engine's refusals).
    Text,
}

/// The error of this deserializer: the protocol's error kind, already naming the field.
#[derive(Debug)]
pub(crate) struct DeError(pub(crate) ProtoErrorKind);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    /// Only reached if a type asks for a shape an input does not have.
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(bad("ev", msg.to_string()))
    }

    fn unknown_variant(variant: &str, _expected: &'static [&'static str]) -> Self {
        DeError(ProtoErrorKind::UnknownEvent(crate::error::shorten(variant)))
    }
}

impl From<ProtoErrorKind> for DeError {
    fn from(kind: ProtoErrorKind) -> DeError {
        DeError(kind)
    }
}

/// The whole message: the variant named `ev` (an enum), or a struct (`hello`).
pub(crate) struct MessageDe<'f, 'a> {
    pub(crate) ev: &'a str,
    pub(crate) fields: &'f mut Fields<'a>,
    pub(crate) mode: Mode,
}

impl<'de> de::Deserializer<'de> for MessageDe<'_, 'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(de::Error::custom("not a message"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_map(FieldsMap::new(self, names))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

impl<'de, 'f> EnumAccess<'de> for MessageDe<'f, 'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), DeError> {
        let v = seed.deserialize(BorrowedStrDeserializer::<DeError>::new(self.ev))?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for MessageDe<'_, 'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_map(FieldsMap::new(self, names))
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _: S) -> Result<S::Value, DeError> {
        Err(de::Error::custom("not a message"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, DeError> {
        Err(de::Error::custom("not a message"))
    }
}

/// The fields the type names, in its order, each with its captured value (or none).
struct FieldsMap<'f, 'a> {
    msg: MessageDe<'f, 'a>,
    kind: Option<&'static str>,
    names: &'static [&'static str],
    /// The index in `names` of the next key.
    next: usize,
}

impl<'f, 'a> FieldsMap<'f, 'a> {
    fn new(msg: MessageDe<'f, 'a>, names: &'static [&'static str]) -> Self {
        let kind = msg.fields.kind;
        FieldsMap {
            msg,
            kind,
            names,
            next: 0,
        }
    }

    /// The value for the type's field `name`.
    fn value(&mut self, name: &'static str) -> Result<ValueDe<'a>, DeError> {
        let (mode, ev) = (self.msg.mode, self.msg.ev);
        let mut field = name;
        let value = match name {
            "platform" if mode == Mode::Wire && ev != "hello" => Some(Lite::Str(Cow::Borrowed(""))),
            // The engine's boolean is the protocol's `outcome`.
            "connected" => {
                field = "outcome";
                outcome(self.msg.fields.take(Key::Outcome), self.kind)?
            }
            _ => Key::parse(name).and_then(|k| self.msg.fields.take(k)),
        };
        let rule = match mode {
            Mode::Wire if name != "platform" || ev == "hello" => Rule::of(ev, field),
            _ => Rule::Any,
        };
        Ok(ValueDe {
            field,
            kind: self.kind,
            value,
            rule,
        })
    }
}

/// `outcome` as the engine's `connected`.
fn outcome<'a>(
    v: Option<Lite<'a>>,
    kind: Option<&'static str>,
) -> Result<Option<Lite<'a>>, DeError> {
    let s = match v {
        None => {
            return Err(DeError(ProtoErrorKind::MissingField {
                field: "outcome",
                kind,
            }));
        }
        Some(Lite::Str(s)) => s,
        Some(Lite::Text(s)) => Cow::Borrowed(s),
        Some(v) => {
            return Err(DeError(bad(
                "outcome",
                format!("expected a string, found {}", v.describe()),
            )));
        }
    };
    match &*s {
        "connected" => Ok(Some(Lite::Bool(true))),
        "failed" => Ok(Some(Lite::Bool(false))),
        _ => Err(DeError(bad(
            "outcome",
            "expected \"connected\" or \"failed\"",
        ))),
    }
}

impl<'de> MapAccess<'de> for FieldsMap<'_, 'de> {
    type Error = DeError;

    /// Keys are given by their index in the type's own list of fields: the derived
    /// identifier takes an index as well as a name, and matches it without comparing
    /// strings.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if self.next >= self.names.len() {
            return Ok(None);
        }
        let index = self.next as u64;
        self.next += 1;
        seed.deserialize(U64Deserializer::<DeError>::new(index))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        match self.next.checked_sub(1).and_then(|i| self.names.get(i)) {
            Some(&name) => seed.deserialize(self.value(name)?),
            None => Err(de::Error::custom("value before key")),
        }
    }
}

/// What a string field may hold on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// Not empty, at most [`MAX_ID`] bytes, no control characters.
    Id,
    /// As [`Rule::Id`] but may be empty (`from`, `lang`).
    Short,
    /// Free text: at most [`MAX_TEXT`] bytes.
    Text,
    /// DTMF digits: `0-9`, `*`, `#`, `,`; may be empty.
    Digits,
    /// `group:ID`, `agent:ID` or `number:NUMBER` (an id).
    Target,
    /// No check (trusted sources).
    Any,
}

impl Rule {
    fn of(ev: &str, field: &str) -> Rule {
        match field {
            "from" | "lang" => Rule::Short,
            "reason" | "note" | "token" => Rule::Text,
            "digits" => Rule::Digits,
            "to" if ev == "call.transfer" => Rule::Target,
            _ => Rule::Id,
        }
    }

    fn check(self, field: &'static str, s: &str) -> Result<(), ProtoErrorKind> {
        match self {
            Rule::Any => Ok(()),
            Rule::Text if s.len() > MAX_TEXT => {
                Err(bad(field, format!("longer than {MAX_TEXT} bytes")))
            }
            Rule::Text => Ok(()),
            Rule::Digits => check_digits(s),
            Rule::Id | Rule::Target if s.is_empty() => Err(bad(field, "must not be empty")),
            Rule::Id | Rule::Short => check_short(field, s),
            Rule::Target => {
                check_short(field, s)?;
                let rest = ["group:", "agent:", "number:"]
                    .iter()
                    .find_map(|p| s.strip_prefix(p));
                match rest {
                    Some(r) if !r.is_empty() => Ok(()),
                    _ => Err(bad(
                        field,
                        "expected `group:ID`, `agent:ID` or `number:NUMBER`",
                    )),
                }
            }
        }
    }
}

/// At most [`MAX_ID`] bytes, no control characters.
fn check_short(field: &'static str, s: &str) -> Result<(), ProtoErrorKind> {
    if s.len() > MAX_ID {
        return Err(bad(field, format!("longer than {MAX_ID} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(bad(field, "contains a control character"));
    }
    Ok(())
}

fn check_digits(s: &str) -> Result<(), ProtoErrorKind> {
    if s.len() > MAX_ID {
        return Err(bad("digits", format!("longer than {MAX_ID} bytes")));
    }
    match s
        .chars()
        .find(|c| !matches!(c, '0'..='9' | '*' | '#' | ','))
    {
        Some(c) => Err(bad(
            "digits",
            format!("may contain only 0-9, *, # and commas, found {c:?}"),
        )),
        None => Ok(()),
    }
}

/// One field's value.
struct ValueDe<'a> {
    field: &'static str,
    kind: Option<&'static str>,
    value: Option<Lite<'a>>,
    rule: Rule,
}

impl<'a> ValueDe<'a> {
    /// The value of a required field.
    fn present(self) -> Result<(&'static str, Lite<'a>), DeError> {
        match self.value {
            Some(v) => Ok((self.field, v)),
            None => Err(DeError(ProtoErrorKind::MissingField {
                field: self.field,
                kind: self.kind,
            })),
        }
    }

    /// A number: a JSON number, or text parsed as one.
    fn number<T: std::str::FromStr>(
        self,
        json: impl FnOnce(&'static str, &Lite<'a>) -> Result<T, ProtoErrorKind>,
        expected: &str,
    ) -> Result<T, DeError> {
        let (field, v) = self.present()?;
        match v {
            Lite::Text(s) => s
                .parse()
                .map_err(|_| DeError(bad(field, format!("expected {expected}, found {s:?}")))),
            v => Ok(json(field, &v)?),
        }
    }
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(DeError(bad(self.field, "has a type no input uses")))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            None | Some(Lite::Null) => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let rule = self.rule;
        let (field, v) = self.present()?;
        let s = match v {
            Lite::Str(s) => s,
            Lite::Text(s) => Cow::Borrowed(s),
            v => {
                return Err(DeError(bad(
                    field,
                    format!("expected a string, found {}", v.describe()),
                )));
            }
        };
        rule.check(field, &s)?;
        match s {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.number(crate::json::as_u64, "a non-negative integer")?)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u32(self.number(crate::json::as_u32, "a non-negative integer")?)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i32(self.number(crate::json::as_i32, "an integer")?)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let json = |field, v: &Lite<'_>| match v {
            Lite::Bool(b) => Ok(*b),
            v => Err(bad(
                field,
                format!("expected true or false, found {}", v.describe()),
            )),
        };
        visitor.visit_bool(self.number(json, "true or false")?)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i64 i128 u8 u16 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}
