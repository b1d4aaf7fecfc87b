//! The terms a channel's `Open` proposes and its `Accept` agrees to (SPEC §4):
//! the contact schedule, acknowledgement windows, entry size, languages, and
//! the bounds a station accepts for each.

use super::Precedence;
use crate::cbor::{self, Fields};
use crate::error::ProtoError;
use crate::Hash;
use ciborium::Value;
use std::ops::RangeInclusive;

/// When the scheduled contact checks fall due (SPEC §4 terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactSchedule {
    /// A contact check whenever a station has written nothing for this many milliseconds.
    Every(u64),
    /// Fixed UTC times of day, as minutes after midnight, ascending.
    At(Vec<u32>),
}

/// The terms of a channel, proposed in `Open` and agreed by `Accept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// The contact schedule.
    pub contact: ContactSchedule,
    /// Grace factor in thousandths (1500 = 1.5 ×): integers keep the encoding exact.
    pub contact_grace_permille: u32,
    /// Acknowledgement window in milliseconds per precedence, indexed by wire number.
    pub ack_windows_ms: [u64; 4],
    /// Largest envelope, in bytes, either side may send on this channel.
    pub max_entry_bytes: u64,
    /// Languages the two sides agreed to use (BCP 47 tags), informative.
    pub languages: Vec<String>,
    /// The structured notice types agreed for this channel (SPEC §4 v2),
    /// each with the JSON Schema both ends validate its notices against.
    /// Empty for a channel with none: its terms encode, and hash, exactly as
    /// before notices existed.
    pub notice_types: Vec<NoticeType>,
}

/// One agreed notice type: its `name/version`, and the JSON Schema that
/// its notices must match, carried whole so that both ends and any
/// verifier of an export judge a notice by the same text. The terms name
/// it by hash as well; [`NoticeType::hash`] is that hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeType {
    /// `name/version`, e.g. `incident-report/1`.
    pub name: String,
    /// The JSON Schema, as JSON text.
    pub schema: String,
}

impl NoticeType {
    /// SHA-256 of the schema's text: the hash the terms carry.
    pub fn hash(&self) -> Hash {
        crate::sha256(self.schema.as_bytes())
    }

    /// Whether `name` is a well-formed `name/version`: a lowercase name of
    /// letters, digits and inner hyphens (1 to 64 bytes), a slash, and a
    /// version number of 1 to 9 digits without a leading zero.
    pub fn valid_name(name: &str) -> bool {
        let Some((n, v)) = name.split_once('/') else {
            return false;
        };
        let name_ok = (1..=64).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-');
        let version_ok = (1..=9).contains(&v.len())
            && v.bytes().all(|b| b.is_ascii_digit())
            && !v.starts_with('0');
        name_ok && version_ok
    }
}

/// Default contact interval: one hour (SPEC §4).
pub const DEFAULT_CONTACT_EVERY_MS: u64 = 3_600_000;
/// Default grace factor 1.5 (SPEC §4), in thousandths.
pub const DEFAULT_CONTACT_GRACE_PERMILLE: u32 = 1500;
/// Default acknowledgement windows (SPEC §4): FLASH 10 min, IMMEDIATE 30 min, PRIORITY 3 h, ROUTINE 6 h.
pub const DEFAULT_ACK_WINDOWS_MS: [u64; 4] = [600_000, 1_800_000, 10_800_000, 21_600_000];
/// Default largest entry: 1 MiB (SPEC §4).
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 1024 * 1024;

const DAY_MS: u64 = 86_400_000;

/// Bounds on `contact_every` (ms): from the policy clock's 100 ms resolution
/// to a week, beyond which a line is no longer "always tested" (SPEC §1).
pub const CONTACT_EVERY_MS_RANGE: RangeInclusive<u64> = 100..=7 * DAY_MS;
/// Bounds on the grace factor, in thousandths: 1× (no grace) to 1000×, as the API accepts.
pub const CONTACT_GRACE_PERMILLE_RANGE: RangeInclusive<u32> = 1000..=1_000_000;
/// Bounds on each acknowledgement window (ms): the clock's resolution to a week.
pub const ACK_WINDOW_MS_RANGE: RangeInclusive<u64> = 100..=7 * DAY_MS;
/// Bounds on `max_entry_bytes`: room for an `Open` up to the protocol's cap.
pub const MAX_ENTRY_BYTES_RANGE: RangeInclusive<u64> = 1024..=crate::MAX_ENTRY_BYTES_CAP;
/// How many language tags the terms may list: none (unsaid) up to 32.
pub const LANGUAGES_RANGE: RangeInclusive<u64> = 0..=32;
/// Length of one language tag in bytes: RFC 5646 §4.4.1 asks implementations to take 35.
pub const LANGUAGE_TAG_BYTES: RangeInclusive<u64> = 1..=35;
/// How many notice types the terms may agree: none up to 32.
pub const NOTICE_TYPES_RANGE: RangeInclusive<u64> = 0..=32;
/// Size of one notice type's schema text in bytes: up to 64 KiB.
pub const NOTICE_SCHEMA_BYTES: RangeInclusive<u64> = 2..=65_536;

/// `Ok` if `value` lies in `range`, else the typed fault naming the term.
fn within<T: Copy + PartialOrd + Into<u64>>(
    term: &'static str,
    value: T,
    range: &RangeInclusive<T>,
) -> Result<(), ProtoError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ProtoError::TermOutOfRange {
            term,
            value: value.into(),
            min: (*range.start()).into(),
            max: (*range.end()).into(),
        })
    }
}

impl Default for Terms {
    fn default() -> Self {
        Terms {
            contact: ContactSchedule::Every(DEFAULT_CONTACT_EVERY_MS),
            contact_grace_permille: DEFAULT_CONTACT_GRACE_PERMILLE,
            ack_windows_ms: DEFAULT_ACK_WINDOWS_MS,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            languages: vec!["en".into()],
            notice_types: vec![],
        }
    }
}

impl Terms {
    /// The acknowledgement window of a precedence.
    pub fn ack_window(&self, p: Precedence) -> u64 {
        self.ack_windows_ms[p as usize]
    }

    /// Checks every term against the bounds above, so that no window can
    /// overflow the policy's clock arithmetic and no schedule is absurd.
    /// A station checks the terms it proposes and the terms proposed to it;
    /// a stored or exported transcript is not re-judged by today's bounds.
    pub fn check(&self) -> Result<(), ProtoError> {
        match &self.contact {
            ContactSchedule::Every(ms) => within("contact_every_ms", *ms, &CONTACT_EVERY_MS_RANGE)?,
            ContactSchedule::At(mins) => {
                within("contact_at_utc", mins.len() as u64, &(1..=24 * 60))?;
                for m in mins {
                    within("contact_at_utc_minute", *m, &(0..=24 * 60 - 1))?;
                }
            }
        }
        within(
            "contact_grace_permille",
            self.contact_grace_permille,
            &CONTACT_GRACE_PERMILLE_RANGE,
        )?;
        const NAMES: [&str; 4] = [
            "ack_window_ms.flash",
            "ack_window_ms.immediate",
            "ack_window_ms.priority",
            "ack_window_ms.routine",
        ];
        for (name, w) in NAMES.into_iter().zip(self.ack_windows_ms) {
            within(name, w, &ACK_WINDOW_MS_RANGE)?;
        }
        within(
            "max_entry_bytes",
            self.max_entry_bytes,
            &MAX_ENTRY_BYTES_RANGE,
        )?;
        within("languages", self.languages.len() as u64, &LANGUAGES_RANGE)?;
        for l in &self.languages {
            within("language_tag_bytes", l.len() as u64, &LANGUAGE_TAG_BYTES)?;
        }
        within(
            "notice_types",
            self.notice_types.len() as u64,
            &NOTICE_TYPES_RANGE,
        )?;
        for t in &self.notice_types {
            within(
                "notice_schema_bytes",
                t.schema.len() as u64,
                &NOTICE_SCHEMA_BYTES,
            )?;
        }
        Ok(())
    }

    /// The agreed notice type named `name`, if any.
    pub fn notice_type(&self, name: &str) -> Option<&NoticeType> {
        self.notice_types.iter().find(|t| t.name == name)
    }

    pub(super) fn to_value(&self) -> Value {
        let (every, at) = match &self.contact {
            ContactSchedule::Every(ms) => (cbor::uint(*ms), Value::Array(vec![])),
            ContactSchedule::At(mins) => (
                Value::Null,
                Value::Array(mins.iter().map(|m| cbor::uint(*m as u64)).collect()),
            ),
        };
        let mut fields = vec![
            every,
            at,
            cbor::uint(self.contact_grace_permille as u64),
            Value::Array(self.ack_windows_ms.iter().map(|w| cbor::uint(*w)).collect()),
            cbor::uint(self.max_entry_bytes),
            cbor::texts(&self.languages),
        ];
        // Field 6 only when there are notice types: terms without any
        // encode (and hash) as they did before the field existed.
        if !self.notice_types.is_empty() {
            fields.push(Value::Array(
                self.notice_types
                    .iter()
                    .map(|t| {
                        Value::Array(vec![
                            cbor::text(&t.name),
                            cbor::bytes(&t.hash()),
                            cbor::text(&t.schema),
                        ])
                    })
                    .collect(),
            ));
        }
        cbor::imap(fields)
    }

    pub(super) fn from_value(v: Value) -> Result<Self, ProtoError> {
        const W: &str = "terms";
        let (mut f, len) = Fields::open_any(v, W)?;
        if len != 6 && len != 7 {
            return Err(ProtoError::Shape(W));
        }
        let every = f.next()?;
        let at = f.array()?;
        let contact = match every {
            Value::Null => {
                let mins: Vec<u32> = at
                    .into_iter()
                    .map(|m| {
                        cbor::as_uint(m, W)
                            .and_then(|m| u32::try_from(m).map_err(|_| ProtoError::Shape(W)))
                    })
                    .collect::<Result<_, _>>()?;
                let ascending = mins.windows(2).all(|w| w[0] < w[1]);
                if mins.is_empty() || !ascending || mins.iter().any(|m| *m >= 24 * 60) {
                    return Err(ProtoError::Shape(W));
                }
                ContactSchedule::At(mins)
            }
            v => {
                if !at.is_empty() {
                    return Err(ProtoError::Shape(W));
                }
                let ms = cbor::as_uint(v, W)?;
                if ms == 0 {
                    return Err(ProtoError::Shape(W));
                }
                ContactSchedule::Every(ms)
            }
        };
        let grace = u32::try_from(f.uint()?).map_err(|_| ProtoError::Shape(W))?;
        let windows = f.array()?;
        if windows.len() != 4 {
            return Err(ProtoError::Shape(W));
        }
        let mut ack_windows_ms = [0u64; 4];
        for (slot, w) in ack_windows_ms.iter_mut().zip(windows) {
            *slot = cbor::as_uint(w, W)?;
        }
        let max_entry_bytes = f.uint()?;
        if max_entry_bytes == 0 || max_entry_bytes > crate::MAX_ENTRY_BYTES_CAP || grace < 1000 {
            return Err(ProtoError::Shape(W));
        }
        let languages = f.texts()?;
        let notice_types = if len == 7 {
            let types = notice_types_from(f.array()?)?;
            // An empty list is written by leaving the field out: one value, one encoding.
            if types.is_empty() {
                return Err(ProtoError::Shape(W));
            }
            types
        } else {
            vec![]
        };
        f.done()?;
        Ok(Terms {
            contact,
            contact_grace_permille: grace,
            ack_windows_ms,
            max_entry_bytes,
            languages,
            notice_types,
        })
    }

    /// The canonical bytes of the terms; `Accept` carries their SHA-256.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::to_bytes(&self.to_value())
    }

    /// SHA-256 of the canonical bytes, as cited by `Accept`.
    pub fn hash(&self) -> Hash {
        crate::sha256(&self.to_bytes())
    }
}

/// Reads the terms' notice types: `[name, hash, schema]` each, the hash
/// that of the schema, the names well-formed and each named once.
fn notice_types_from(items: Vec<Value>) -> Result<Vec<NoticeType>, ProtoError> {
    const W: &str = "notice type";
    let mut out: Vec<NoticeType> = Vec::with_capacity(items.len());
    for item in items {
        let mut parts = cbor::as_array(item, W)?.into_iter();
        let (Some(name), Some(hash), Some(schema), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ProtoError::Shape(W));
        };
        let t = NoticeType {
            name: cbor::as_text(name, W)?,
            schema: cbor::as_text(schema, W)?,
        };
        if cbor::as_hash(hash, W)? != t.hash() {
            return Err(ProtoError::Shape("notice type: hash is not the schema's"));
        }
        if !NoticeType::valid_name(&t.name) || out.iter().any(|o| o.name == t.name) {
            return Err(ProtoError::Shape("notice type: bad or repeated name"));
        }
        out.push(t);
    }
    Ok(out)
}
