//! Writes a [`Input`] as one flat JSON object: `{"<tag>":"<name>"`, a few envelope
//! numbers (`seq`, `at`), then the input's own fields in their declared order.
//!
//! The input's `Serialize` (derived in the core) is driven through a small serializer that
//! accepts only what an input is (a unit or struct variant) and writes each field's value
//! with serde_json, so the wire codec and the daemon's journal share one writer and a new
//! field needs no code here. No intermediate `Value` is built: this runs for every event
//! the load generator sends and for every input the daemon journals.

use bytes::BufMut;
use serde::Serialize;
use serde::ser::{self, Impossible, SerializeStructVariant};
use std::fmt;
use vaxel_core::Input;

/// Which spelling of an input to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Every field as the core names it (the daemon's journal).
    Full,
    /// The platform's protocol: `call.arrived` carries no `platform` (the connection's
    /// `hello` named it) and `callback.result` says `outcome` (`connected`/`failed`)
    /// where the engine has a boolean `connected`.
    Wire,
}

/// Appends `input` as `{"<tag>":"<name>"`, then `,"<key>":<n>` for each present envelope
/// number, then its fields, without the closing brace (the caller may add more fields).
pub fn write_input<B: BufMut + ?Sized>(
    buf: &mut B,
    tag: &str,
    envelope: &[(&str, Option<u64>)],
    input: &Input,
    dialect: Dialect,
) {
    let mut w = FlatWriter {
        buf,
        tag,
        envelope,
        dialect,
    };
    // Cannot fail: an input is a unit or struct variant of plain values, and a `BufMut`
    // never refuses bytes.
    let _ = input.serialize(&mut w);
}

/// Writes `"<key>":` after a comma.
fn put_key<B: BufMut + ?Sized>(buf: &mut B, key: &str) {
    buf.put_slice(b",\"");
    buf.put_slice(key.as_bytes());
    buf.put_slice(b"\":");
}

/// Writes an unsigned integer in decimal.
pub(crate) fn put_u64<B: BufMut + ?Sized>(buf: &mut B, n: u64) {
    buf.put_slice(itoa::Buffer::new().format(n).as_bytes());
}

struct FlatWriter<'b, 'e, B: BufMut + ?Sized> {
    buf: &'b mut B,
    tag: &'e str,
    envelope: &'e [(&'e str, Option<u64>)],
    dialect: Dialect,
}

impl<B: BufMut + ?Sized> FlatWriter<'_, '_, B> {
    fn head(&mut self, name: &str) {
        self.buf.put_slice(b"{\"");
        self.buf.put_slice(self.tag.as_bytes());
        self.buf.put_slice(b"\":\"");
        self.buf.put_slice(name.as_bytes());
        self.buf.put_u8(b'"');
        for (key, value) in self.envelope {
            if let Some(n) = value {
                put_key(self.buf, key);
                put_u64(self.buf, *n);
            }
        }
    }
}

/// The only error: something that is not an input was given to the writer.
#[derive(Debug)]
pub struct NotAnInput;

impl fmt::Display for NotAnInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an input")
    }
}

impl std::error::Error for NotAnInput {}

impl ser::Error for NotAnInput {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotAnInput
    }
}

impl<B: BufMut + ?Sized> SerializeStructVariant for &mut FlatWriter<'_, '_, B> {
    type Ok = ();
    type Error = NotAnInput;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), NotAnInput> {
        if self.dialect == Dialect::Wire {
            match key {
                "platform" => return Ok(()),
                "connected" => {
                    let connected = matches!(serde_json::to_value(value), Ok(v) if v == true);
                    put_key(self.buf, "outcome");
                    self.buf.put_slice(if connected {
                        b"\"connected\""
                    } else {
                        b"\"failed\""
                    });
                    return Ok(());
                }
                _ => {}
            }
        }
        put_key(self.buf, key);
        serde_json::to_writer((&mut *self.buf).writer(), value).map_err(|_| NotAnInput)
    }

    fn end(self) -> Result<(), NotAnInput> {
        Ok(())
    }
}

/// Refuses every shape but the two an input has.
macro_rules! refuse {
    ($($name:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<$ret, NotAnInput> { Err(NotAnInput) })*
    };
}

impl<B: BufMut + ?Sized> ser::Serializer for &mut FlatWriter<'_, '_, B> {
    type Ok = ();
    type Error = NotAnInput;
    type SerializeSeq = Impossible<(), NotAnInput>;
    type SerializeTuple = Impossible<(), NotAnInput>;
    type SerializeTupleStruct = Impossible<(), NotAnInput>;
    type SerializeTupleVariant = Impossible<(), NotAnInput>;
    type SerializeMap = Impossible<(), NotAnInput>;
    type SerializeStruct = Impossible<(), NotAnInput>;
    type SerializeStructVariant = Self;

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
    ) -> Result<(), NotAnInput> {
        self.head(name);
        Ok(())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        _: usize,
    ) -> Result<Self, NotAnInput> {
        self.head(name);
        Ok(self)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotAnInput> {
        Err(NotAnInput)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotAnInput> {
        Err(NotAnInput)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), NotAnInput> {
        Err(NotAnInput)
    }

    refuse! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_core::Timestamp;

    fn full(input: &Input) -> String {
        let mut v = Vec::new();
        write_input(&mut v, "k", &[("at", Some(7))], input, Dialect::Full);
        v.push(b'}');
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn fields_follow_the_envelope_and_absent_options_are_left_out() {
        let pause = Input::AgentPause {
            agent: "a\"1".into(),
            reason: Some("lunch".into()),
            note: None,
            until: Some(Timestamp(9)),
        };
        assert_eq!(
            full(&pause),
            r#"{"k":"agent.pause","at":7,"agent":"a\"1","reason":"lunch","until":9}"#
        );
        assert_eq!(full(&Input::Tick), r#"{"k":"tick","at":7}"#);
    }

    #[test]
    fn integers() {
        for n in [0, 1, 9, 10, 99, 1234567890, u64::MAX] {
            let mut v = Vec::new();
            put_u64(&mut v, n);
            assert_eq!(v, n.to_string().into_bytes());
        }
    }
}
