//! Values: the three stored formats ([`Format`]), a dynamic [`Value`] that every
//! stratacache language reads and writes the same way (docs/envelope.md, "Shared
//! MessagePack ext types"), and serde helpers for typed values.
//!
//! MessagePack: integers in their smallest encoding, floats as float64, strings str,
//! bytes bin, maps with string keys, date-time / date / UUID / decimal as ext 1-4.
//! JSON: only null, bool, integers, floats, strings, arrays and maps.
use std::os::raw::c_int;

use serde::de::DeserializeOwned;
use serde::Serialize;
use stratacache_sys as sys;

use crate::error::{Error, ErrorKind, Result};

/// The format a value is stored in; readers get it back with the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Opaque bytes.
    Raw,
    /// UTF-8 JSON text.
    Json,
    /// One MessagePack object.
    MsgPack,
}

impl Format {
    pub(crate) fn code(self) -> c_int {
        match self {
            Format::Raw => sys::STRATACACHE_FORMAT_RAW,
            Format::Json => sys::STRATACACHE_FORMAT_JSON,
            Format::MsgPack => sys::STRATACACHE_FORMAT_MSGPACK,
        }
    }

    pub(crate) fn from_code(code: c_int) -> Result<Format> {
        match code {
            sys::STRATACACHE_FORMAT_RAW => Ok(Format::Raw),
            sys::STRATACACHE_FORMAT_JSON => Ok(Format::Json),
            sys::STRATACACHE_FORMAT_MSGPACK => Ok(Format::MsgPack),
            other => Err(Error::new(ErrorKind::Unsupported, format!("unknown value format {other}"))),
        }
    }
}

/// Stored bytes and their format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Vec<u8>,
    pub format: Format,
}

impl Entry {
    pub fn new(value: impl Into<Vec<u8>>, format: Format) -> Entry {
        Entry { value: value.into(), format }
    }

    pub fn raw(value: impl Into<Vec<u8>>) -> Entry {
        Entry::new(value, Format::Raw)
    }

    /// `value` serialized to MessagePack (structs as maps with field names).
    pub fn msgpack<T: Serialize + ?Sized>(value: &T) -> Result<Entry> {
        let bytes = rmp_serde::to_vec_named(value).map_err(|e| Error::new(ErrorKind::InvalidArgument, e.to_string()))?;
        Ok(Entry::new(bytes, Format::MsgPack))
    }

    /// The entry deserialized into `T` (JSON or MessagePack; raw bytes are `WrongType`).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let corrupt = |e: String| Error::new(ErrorKind::Corrupt, e);
        match self.format {
            Format::MsgPack => rmp_serde::from_slice(&self.value).map_err(|e| corrupt(e.to_string())),
            Format::Json => serde_json::from_slice(&self.value).map_err(|e| corrupt(e.to_string())),
            Format::Raw => Err(Error::new(ErrorKind::WrongType, "raw bytes have no structure to deserialize")),
        }
    }

    /// The entry as a dynamic [`Value`] (raw bytes are `Value::Bytes`).
    pub fn to_value(&self) -> Result<Value> {
        Value::decode(&self.value, self.format)
    }
}

/// MessagePack ext type ids shared by every stratacache language.
pub mod ext {
    pub const DATETIME: i8 = 1;
    pub const DATE: i8 = 2;
    pub const UUID: i8 = 3;
    pub const DECIMAL: i8 = 4;
}

/// A value any stratacache language reads back as its natural type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    /// Every integer that fits an i64.
    Int(i64),
    /// Integers above i64::MAX (decoders never produce it for smaller ones).
    UInt(u64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// A map with string keys, in order.
    Map(Vec<(String, Value)>),
    /// ISO-8601 date-time text, offset kept (`2026-11-25T12:34:56.789+02:00`); ext 1.
    DateTime(String),
    /// ISO-8601 date (`2026-11-25`); ext 2.
    Date(String),
    /// A UUID's 16 bytes in RFC 4122 order; ext 3.
    Uuid([u8; 16]),
    /// Decimal text (`12.50`); ext 4.
    Decimal(String),
    /// Another MessagePack ext type, kept as it is.
    Ext(i8, Vec<u8>),
}

fn corrupt(e: impl ToString) -> Error {
    Error::new(ErrorKind::Corrupt, e.to_string())
}

impl Value {
    /// An unsigned integer in its canonical variant (Int when it fits).
    pub fn from_u64(n: u64) -> Value {
        i64::try_from(n).map(Value::Int).unwrap_or(Value::UInt(n))
    }

    /// `bytes` in `format` as a value (raw: `Value::Bytes`). Unreadable bytes: `Corrupt`.
    pub fn decode(bytes: &[u8], format: Format) -> Result<Value> {
        match format {
            Format::Raw => Ok(Value::Bytes(bytes.to_vec())),
            Format::Json => Value::from_json(serde_json::from_slice(bytes).map_err(corrupt)?),
            Format::MsgPack => {
                let mut rest = bytes;
                let v = rmpv::decode::read_value(&mut rest).map_err(corrupt)?;
                if !rest.is_empty() {
                    return Err(corrupt(format!("{} bytes after the MessagePack value", rest.len())));
                }
                Value::from_msgpack(v)
            }
        }
    }

    /// The value's bytes in `format`. Raw takes only `Value::Bytes`; JSON has no bytes or
    /// ext types (`WrongType`); NaN and infinities are `InvalidArgument` in JSON.
    pub fn encode(&self, format: Format) -> Result<Vec<u8>> {
        match (format, self) {
            (Format::Raw, Value::Bytes(b)) => Ok(b.clone()),
            (Format::Raw, _) => Err(Error::new(ErrorKind::WrongType, "the raw format stores only bytes")),
            (Format::Json, _) => serde_json::to_vec(&self.to_json()?).map_err(|e| Error::new(ErrorKind::InvalidArgument, e.to_string())),
            (Format::MsgPack, _) => {
                let mut out = Vec::new();
                rmpv::encode::write_value(&mut out, &self.to_msgpack()).map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
                Ok(out)
            }
        }
    }

    pub fn from_msgpack(v: rmpv::Value) -> Result<Value> {
        use rmpv::Value as M;
        Ok(match v {
            M::Nil => Value::Nil,
            M::Boolean(b) => Value::Bool(b),
            M::Integer(i) => match (i.as_i64(), i.as_u64()) {
                (Some(n), _) => Value::Int(n),
                (None, Some(n)) => Value::UInt(n),
                _ => return Err(corrupt("integer out of range")),
            },
            M::F32(f) => Value::Float(f64::from(f)),
            M::F64(f) => Value::Float(f),
            M::String(s) => Value::Str(s.into_str().ok_or_else(|| corrupt("string is not UTF-8"))?),
            M::Binary(b) => Value::Bytes(b),
            M::Array(items) => Value::Array(items.into_iter().map(Value::from_msgpack).collect::<Result<_>>()?),
            M::Map(pairs) => Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| match k {
                        M::String(s) => Ok((s.into_str().ok_or_else(|| corrupt("map key is not UTF-8"))?, Value::from_msgpack(v)?)),
                        other => Err(corrupt(format!("map key {other} is not a string"))),
                    })
                    .collect::<Result<_>>()?,
            ),
            M::Ext(ext::DATETIME, data) => Value::DateTime(ext_text(data)?),
            M::Ext(ext::DATE, data) => Value::Date(ext_text(data)?),
            M::Ext(ext::DECIMAL, data) => Value::Decimal(ext_text(data)?),
            M::Ext(ext::UUID, data) => {
                Value::Uuid(data.as_slice().try_into().map_err(|_| corrupt(format!("UUID ext of {} bytes", data.len())))?)
            }
            M::Ext(id, data) => Value::Ext(id, data),
        })
    }

    pub fn to_msgpack(&self) -> rmpv::Value {
        use rmpv::Value as M;
        match self {
            Value::Nil => M::Nil,
            Value::Bool(b) => M::Boolean(*b),
            Value::Int(n) => M::from(*n),
            Value::UInt(n) => M::from(*n),
            Value::Float(f) => M::F64(*f),
            Value::Str(s) => M::from(s.as_str()),
            Value::Bytes(b) => M::Binary(b.clone()),
            Value::Array(items) => M::Array(items.iter().map(Value::to_msgpack).collect()),
            Value::Map(pairs) => M::Map(pairs.iter().map(|(k, v)| (M::from(k.as_str()), v.to_msgpack())).collect()),
            Value::DateTime(t) => M::Ext(ext::DATETIME, t.as_bytes().to_vec()),
            Value::Date(t) => M::Ext(ext::DATE, t.as_bytes().to_vec()),
            Value::Uuid(u) => M::Ext(ext::UUID, u.to_vec()),
            Value::Decimal(t) => M::Ext(ext::DECIMAL, t.as_bytes().to_vec()),
            Value::Ext(id, data) => M::Ext(*id, data.clone()),
        }
    }

    pub fn from_json(v: serde_json::Value) -> Result<Value> {
        use serde_json::Value as J;
        Ok(match v {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(b),
            J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Value::Int(i),
                (None, Some(u), _) => Value::UInt(u),
                (None, None, Some(f)) => Value::Float(f),
                _ => return Err(corrupt(format!("number {n} out of range"))),
            },
            J::String(s) => Value::Str(s),
            J::Array(items) => Value::Array(items.into_iter().map(Value::from_json).collect::<Result<_>>()?),
            J::Object(map) => Value::Map(map.into_iter().map(|(k, v)| Ok((k, Value::from_json(v)?))).collect::<Result<_>>()?),
        })
    }

    /// The value as JSON; bytes and ext types have no JSON form (`WrongType`).
    pub fn to_json(&self) -> Result<serde_json::Value> {
        use serde_json::Value as J;
        Ok(match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::UInt(n) => J::from(*n),
            Value::Float(f) => J::Number(
                serde_json::Number::from_f64(*f).ok_or_else(|| Error::new(ErrorKind::InvalidArgument, format!("{f} has no JSON form")))?,
            ),
            Value::Str(s) => J::String(s.clone()),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect::<Result<_>>()?),
            Value::Map(pairs) => J::Object(pairs.iter().map(|(k, v)| Ok((k.clone(), v.to_json()?))).collect::<Result<_>>()?),
            other => return Err(Error::new(ErrorKind::WrongType, format!("{other:?} has no JSON form"))),
        })
    }
}

fn ext_text(data: Vec<u8>) -> Result<String> {
    String::from_utf8(data).map_err(|_| corrupt("ext text is not UTF-8"))
}

/// Canonical lower-case UUID text (`1b4e28ba-2fa1-11d2-883f-0016d3cca427`).
pub fn uuid_to_string(u: &[u8; 16]) -> String {
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A UUID's 16 bytes from its text form (hyphens optional, any case).
pub fn uuid_from_str(text: &str) -> Result<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let bad = || Error::new(ErrorKind::InvalidArgument, format!("{text:?} is not a UUID"));
    if hex.len() != 32 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}
