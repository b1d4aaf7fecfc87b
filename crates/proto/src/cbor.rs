//! Small helpers over `ciborium::Value` for strict, canonical encoding.
//!
//! hotline encodes every structure as a CBOR map with small integer keys in
//! ascending order, every field always present (absent options are `null`).
//! Decoding checks the exact key sequence, so there is one shape per type,
//! and callers that need canonical bytes re-encode and compare.

pub(crate) mod reader;

use crate::error::ProtoError;
use crate::Hash;
use ciborium::Value;

/// Serializes a value to bytes; ciborium writes definite lengths and shortest integers.
pub(crate) fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// Parses exactly one CBOR item from `bytes`, rejecting trailing bytes.
pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Value, ProtoError> {
    let mut rest = bytes;
    let v: Value = ciborium::from_reader(&mut rest).map_err(|_| ProtoError::Cbor)?;
    if !rest.is_empty() {
        return Err(ProtoError::Cbor);
    }
    Ok(v)
}

/// Parses bytes that must be the canonical encoding of their value.
pub(crate) fn from_canonical(bytes: &[u8]) -> Result<Value, ProtoError> {
    let v = from_bytes(bytes)?;
    if to_bytes(&v) != bytes {
        return Err(ProtoError::NotCanonical);
    }
    Ok(v)
}

/// Builds an integer-keyed map from values in key order 0, 1, 2, ….
pub(crate) fn imap(fields: Vec<Value>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Value::Integer((i as u64).into()), v))
            .collect(),
    )
}

pub(crate) fn uint(n: u64) -> Value {
    Value::Integer(n.into())
}

pub(crate) fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

pub(crate) fn opt_hash(h: &Option<Hash>) -> Value {
    match h {
        Some(h) => bytes(h),
        None => Value::Null,
    }
}

pub(crate) fn texts(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| text(s)).collect())
}

/// Reads the fields of an integer-keyed map, in order, checking the keys.
pub(crate) struct Fields {
    items: std::vec::IntoIter<(Value, Value)>,
    next_key: u64,
    what: &'static str,
}

impl Fields {
    /// Opens a map that must have exactly `len` fields with keys 0..len
    /// (the value-tree readers the tests hold the strict reader to).
    #[cfg(test)]
    pub(crate) fn open(v: Value, len: usize, what: &'static str) -> Result<Self, ProtoError> {
        match v {
            Value::Map(m) if m.len() == len => Ok(Fields {
                items: m.into_iter(),
                next_key: 0,
                what,
            }),
            _ => Err(ProtoError::Shape(what)),
        }
    }

    /// Opens a map whose length the caller checks field by field (first key 0 is read here).
    pub(crate) fn open_any(v: Value, what: &'static str) -> Result<(Self, usize), ProtoError> {
        match v {
            Value::Map(m) => {
                let n = m.len();
                Ok((
                    Fields {
                        items: m.into_iter(),
                        next_key: 0,
                        what,
                    },
                    n,
                ))
            }
            _ => Err(ProtoError::Shape(what)),
        }
    }

    pub(crate) fn next(&mut self) -> Result<Value, ProtoError> {
        let (k, v) = self.items.next().ok_or(ProtoError::Shape(self.what))?;
        match k {
            Value::Integer(i) if u64::try_from(i).ok() == Some(self.next_key) => {
                self.next_key += 1;
                Ok(v)
            }
            _ => Err(ProtoError::Shape(self.what)),
        }
    }

    pub(crate) fn uint(&mut self) -> Result<u64, ProtoError> {
        as_uint(self.next()?, self.what)
    }

    pub(crate) fn hash(&mut self) -> Result<Hash, ProtoError> {
        as_hash(self.next()?, self.what)
    }

    pub(crate) fn opt_hash(&mut self) -> Result<Option<Hash>, ProtoError> {
        match self.next()? {
            Value::Null => Ok(None),
            v => Ok(Some(as_hash(v, self.what)?)),
        }
    }

    pub(crate) fn text(&mut self) -> Result<String, ProtoError> {
        as_text(self.next()?, self.what)
    }

    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, ProtoError> {
        match self.next()? {
            Value::Bytes(b) => Ok(b),
            _ => Err(ProtoError::Shape(self.what)),
        }
    }

    pub(crate) fn bool(&mut self) -> Result<bool, ProtoError> {
        match self.next()? {
            Value::Bool(b) => Ok(b),
            _ => Err(ProtoError::Shape(self.what)),
        }
    }

    pub(crate) fn texts(&mut self) -> Result<Vec<String>, ProtoError> {
        let what = self.what;
        as_array(self.next()?, what)?
            .into_iter()
            .map(|v| as_text(v, what))
            .collect()
    }

    pub(crate) fn array(&mut self) -> Result<Vec<Value>, ProtoError> {
        as_array(self.next()?, self.what)
    }

    /// Ends reading; every field must have been consumed.
    pub(crate) fn done(mut self) -> Result<(), ProtoError> {
        if self.items.next().is_some() {
            return Err(ProtoError::Shape(self.what));
        }
        Ok(())
    }
}

pub(crate) fn as_uint(v: Value, what: &'static str) -> Result<u64, ProtoError> {
    match v {
        Value::Integer(i) => u64::try_from(i).map_err(|_| ProtoError::Shape(what)),
        _ => Err(ProtoError::Shape(what)),
    }
}

pub(crate) fn as_hash(v: Value, what: &'static str) -> Result<Hash, ProtoError> {
    match v {
        Value::Bytes(b) => b.try_into().map_err(|_| ProtoError::Shape(what)),
        _ => Err(ProtoError::Shape(what)),
    }
}

pub(crate) fn as_text(v: Value, what: &'static str) -> Result<String, ProtoError> {
    match v {
        Value::Text(s) => Ok(s),
        _ => Err(ProtoError::Shape(what)),
    }
}

pub(crate) fn as_array(v: Value, what: &'static str) -> Result<Vec<Value>, ProtoError> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(ProtoError::Shape(what)),
    }
}

/// A `(seq, hash)` pair as a two-element array.
pub(crate) fn head(seq: u64, h: &Hash) -> Value {
    Value::Array(vec![uint(seq), bytes(h)])
}

#[cfg(test)]
pub(crate) fn as_head(v: Value, what: &'static str) -> Result<(u64, Hash), ProtoError> {
    let mut a = as_array(v, what)?.into_iter();
    match (a.next(), a.next(), a.next()) {
        (Some(s), Some(h), None) => Ok((as_uint(s, what)?, as_hash(h, what)?)),
        _ => Err(ProtoError::Shape(what)),
    }
}
