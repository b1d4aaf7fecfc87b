//! The lines of an export read strictly, as typed values.
//!
//! A JSON object with a repeated key means whatever its reader decides (most
//! keep the last value, some the first), so two readers of one file could see
//! two different records: a repeated key is refused at any depth. A field
//! this version does not write is refused too, rather than carried along
//! unverified.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The header, line 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Header {
    /// The format version; checked before the rest so that a file of another
    /// kind is named as such rather than by its first odd field.
    #[serde(rename = "hotline_export")]
    _version: u64,
    /// The channel id, hex; must be the hash of the `Open`.
    pub channel: String,
    /// Both identity tokens; must be the ones the `Open` names.
    pub identities: Vec<String>,
    /// 0 or 1: whose fresh checkpoint covers the file.
    pub exported_by: u64,
    /// The exporter's clock at export time; informative, like every time.
    pub exported_at: u64,
    /// How many entry lines follow.
    pub entries: u64,
}

/// One entry: its signed bytes and two conveniences that must agree with them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EntryLine {
    /// The envelope, standard base64.
    pub envelope: String,
    /// SHA-256 of the envelope, hex.
    pub hash: String,
    /// The decoded view, for readers without the decoder.
    pub entry: Value,
}

/// An entry line as hotline writes it, borrowed from the text: the view is
/// kept as its JSON text, for [`super::fast`] to compare with the view it
/// derives. A line this does not read (an escaped string, say) is read by
/// [`line`] instead, which decides.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntryLine<'a> {
    /// The envelope, standard base64.
    pub envelope: &'a str,
    /// SHA-256 of the envelope, hex.
    pub hash: &'a str,
    /// The decoded view, as written.
    #[serde(borrow)]
    pub entry: &'a serde_json::value::RawValue,
}

/// One signed checkpoint and two conveniences that must agree with it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckpointLine {
    /// The signed checkpoint, standard base64.
    pub checkpoint: String,
    /// SHA-256 of the signed bytes, hex.
    pub hash: String,
    /// The decoded view.
    pub view: Value,
}

/// An evidence line: two different envelopes of one author with one seq.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EvidenceLine {
    /// The conflicting envelope, base64.
    pub evidence: String,
    /// The envelope the transcript holds, base64.
    pub stored: String,
    /// The equivocating author.
    pub author: u64,
    /// The seq both claim.
    pub seq: u64,
}

/// A checkpoint of one author's log as a C2SP signed note (SPEC §5 v2),
/// with the cosignatures the exporter holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogNoteLine {
    /// The note, as text.
    pub log_note: String,
    /// Whose log: 0 or 1.
    pub author: u64,
}

/// A line after the header.
pub(super) enum Line {
    /// An entry line.
    Entry(EntryLine),
    /// A checkpoint line.
    Checkpoint(CheckpointLine),
    /// An evidence line.
    Evidence(EvidenceLine),
    /// A log checkpoint note.
    LogNote(LogNoteLine),
}

/// Reads the header: version first, then every field of version 1 and no other.
pub(super) fn header(raw: &str) -> Result<Header, String> {
    let v = strict(raw).map_err(|e| format!("the header is not JSON: {e}"))?;
    if v.get("hotline_export").and_then(Value::as_u64) != Some(crate::export::EXPORT_VERSION) {
        return Err("not a hotline export (version 1 header missing)".into());
    }
    serde_json::from_value(v).map_err(|e| format!("header: {e}"))
}

/// Reads an entry or checkpoint line.
pub(super) fn line(raw: &str) -> Result<Line, String> {
    let v = strict(raw).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("envelope").is_some() {
        serde_json::from_value(v)
            .map(Line::Entry)
            .map_err(|e| format!("entry line: {e}"))
    } else if v.get("checkpoint").is_some() {
        serde_json::from_value(v)
            .map(Line::Checkpoint)
            .map_err(|e| format!("checkpoint line: {e}"))
    } else if v.get("evidence").is_some() {
        serde_json::from_value(v)
            .map(Line::Evidence)
            .map_err(|e| format!("evidence line: {e}"))
    } else if v.get("log_note").is_some() {
        serde_json::from_value(v)
            .map(Line::LogNote)
            .map_err(|e| format!("log note line: {e}"))
    } else {
        Err("neither an entry, a checkpoint, evidence nor a log note".into())
    }
}

/// Parses one line of JSON, refusing a repeated key in any object.
fn strict(raw: &str) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let v = Strict::deserialize(&mut de)
        .and_then(|s| de.end().map(|()| s.0))
        .map_err(|e| {
            // The position serde_json reports is within this line; the caller names the line.
            let column = e.column();
            let text = e.to_string();
            let what = text.split(" at line ").next().unwrap_or(&text).to_owned();
            format!("{what} (column {column})")
        })?;
    Ok(v)
}

/// A JSON value whose objects have unique keys, at any depth.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if m.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key \"{key}\"")));
            }
            let Strict(v) = map.next_value()?;
            m.insert(key, v);
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        assert!(strict(r#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        let e = strict(r#"{"a":1,"a":2}"#).unwrap_err();
        assert!(e.contains("duplicate key \"a\""), "{e}");
        let e = strict(r#"{"a":{"b":[{"c":1,"c":1}]}}"#).unwrap_err();
        assert!(e.contains("duplicate key \"c\""), "{e}");
    }

    #[test]
    fn trailing_text_is_refused() {
        assert!(strict(r#"{"a":1} {"a":2}"#).is_err());
    }
}
