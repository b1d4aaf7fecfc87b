//! The transcript entry (SPEC §4) and its canonical CBOR encoding.
//!
//! An entry is a CBOR map with integer keys 0..=8 in this order:
//! `channel, author, seq, prev, seen, lamport, time, by, body`.
//! The body is a map whose key 0 is the kind number and keys 1.. are the
//! kind's fields in the order declared below. Optional fields are `null`.
//! Changing any number or order here breaks every signature ever made.

use crate::cbor::{self, Fields};
use crate::error::ProtoError;
use crate::{Hash, ZERO_HASH};
use ciborium::Value;
use std::ops::RangeInclusive;

/// How urgent a message is, highest first (after the ACP 121 precedence ladder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precedence {
    /// Highest: an emergency that overrides everything.
    Flash = 0,
    /// Needs attention within minutes.
    Immediate = 1,
    /// Needs attention within hours.
    Priority = 2,
    /// Normal traffic.
    Routine = 3,
}

impl Precedence {
    /// All precedences, highest first; index = wire number.
    pub const ALL: [Precedence; 4] = [
        Precedence::Flash,
        Precedence::Immediate,
        Precedence::Priority,
        Precedence::Routine,
    ];

    /// The lowercase name used in the CLI and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Precedence::Flash => "flash",
            Precedence::Immediate => "immediate",
            Precedence::Priority => "priority",
            Precedence::Routine => "routine",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, ProtoError> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ProtoError::UnknownName {
                what: "precedence",
                value: s.to_owned(),
            })
    }

    fn from_wire(n: u64) -> Result<Self, ProtoError> {
        Self::ALL
            .get(n as usize)
            .copied()
            .ok_or(ProtoError::Shape("precedence"))
    }
}

/// What a requester's station does when a decision deadline passes unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnMiss {
    /// Raise a `deadline-missed` alert only.
    Alert = 0,
    /// Author a `Suspend` citing the request.
    Suspend = 1,
    /// Author a `Terminate` citing the request.
    Terminate = 2,
}

impl OnMiss {
    /// The lowercase name used in the CLI and JSON.
    pub fn name(self) -> &'static str {
        match self {
            OnMiss::Alert => "alert",
            OnMiss::Suspend => "suspend",
            OnMiss::Terminate => "terminate",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, ProtoError> {
        [OnMiss::Alert, OnMiss::Suspend, OnMiss::Terminate]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ProtoError::UnknownName {
                what: "on-miss action",
                value: s.to_owned(),
            })
    }

    fn from_wire(n: u64) -> Result<Self, ProtoError> {
        match n {
            0 => Ok(OnMiss::Alert),
            1 => Ok(OnMiss::Suspend),
            2 => Ok(OnMiss::Terminate),
            _ => Err(ProtoError::Shape("on_miss")),
        }
    }
}

/// TLP 2.0 marking of a shared report (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marking {
    /// TLP:CLEAR — no limit on disclosure.
    Clear = 0,
    /// TLP:GREEN — the community.
    Green = 1,
    /// TLP:AMBER — the recipient organisation and its clients.
    Amber = 2,
    /// TLP:AMBER+STRICT — the recipient organisation only.
    AmberStrict = 3,
    /// TLP:RED — named recipients only; never released automatically.
    Red = 4,
}

impl Marking {
    const ALL: [Marking; 5] = [
        Marking::Clear,
        Marking::Green,
        Marking::Amber,
        Marking::AmberStrict,
        Marking::Red,
    ];

    /// The TLP 2.0 label, e.g. `TLP:AMBER+STRICT`.
    pub fn name(self) -> &'static str {
        match self {
            Marking::Clear => "TLP:CLEAR",
            Marking::Green => "TLP:GREEN",
            Marking::Amber => "TLP:AMBER",
            Marking::AmberStrict => "TLP:AMBER+STRICT",
            Marking::Red => "TLP:RED",
        }
    }

    /// Parses `TLP:AMBER` or `amber`, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, ProtoError> {
        let t = s.trim();
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(t) || m.name()[4..].eq_ignore_ascii_case(t))
            .ok_or_else(|| ProtoError::UnknownName {
                what: "TLP marking",
                value: s.to_owned(),
            })
    }

    fn from_wire(n: u64) -> Result<Self, ProtoError> {
        Self::ALL
            .get(n as usize)
            .copied()
            .ok_or(ProtoError::Shape("marking"))
    }
}

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
        Ok(())
    }

    fn to_value(&self) -> Value {
        let (every, at) = match &self.contact {
            ContactSchedule::Every(ms) => (cbor::uint(*ms), Value::Array(vec![])),
            ContactSchedule::At(mins) => (
                Value::Null,
                Value::Array(mins.iter().map(|m| cbor::uint(*m as u64)).collect()),
            ),
        };
        cbor::imap(vec![
            every,
            at,
            cbor::uint(self.contact_grace_permille as u64),
            Value::Array(self.ack_windows_ms.iter().map(|w| cbor::uint(*w)).collect()),
            cbor::uint(self.max_entry_bytes),
            cbor::texts(&self.languages),
        ])
    }

    fn from_value(v: Value) -> Result<Self, ProtoError> {
        const W: &str = "terms";
        let mut f = Fields::open(v, 6, W)?;
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
        f.done()?;
        Ok(Terms {
            contact,
            contact_grace_permille: grace,
            ack_windows_ms,
            max_entry_bytes,
            languages,
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

/// The kind of an entry body, without its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Kind {
    Open = 0,
    Accept = 1,
    Message = 2,
    Ack = 3,
    Translation = 4,
    ContactCheck = 5,
    Request = 6,
    Decision = 7,
    Suspend = 8,
    Resume = 9,
    Terminate = 10,
    Report = 11,
    SharingPause = 12,
    SharingResume = 13,
}

impl Kind {
    /// The snake_case name used in JSON and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Accept => "accept",
            Kind::Message => "message",
            Kind::Ack => "ack",
            Kind::Translation => "translation",
            Kind::ContactCheck => "contact_check",
            Kind::Request => "request",
            Kind::Decision => "decision",
            Kind::Suspend => "suspend",
            Kind::Resume => "resume",
            Kind::Terminate => "terminate",
            Kind::Report => "report",
            Kind::SharingPause => "sharing_pause",
            Kind::SharingResume => "sharing_resume",
        }
    }

    /// Every kind, in wire order.
    pub const ALL: [Kind; 14] = [
        Kind::Open,
        Kind::Accept,
        Kind::Message,
        Kind::Ack,
        Kind::Translation,
        Kind::ContactCheck,
        Kind::Request,
        Kind::Decision,
        Kind::Suspend,
        Kind::Resume,
        Kind::Terminate,
        Kind::Report,
        Kind::SharingPause,
        Kind::SharingResume,
    ];

    /// Parses a snake_case name.
    pub fn parse(s: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The body of an entry: one of the kinds of SPEC §4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Genesis of a channel, by author 0.
    Open {
        /// The proposed terms.
        terms: Terms,
        /// Identity token of the opening station (author 0).
        initiator: String,
        /// Identity token of the invited station (author 1).
        responder: String,
        /// The ended channel this one continues, if any.
        reopens: Option<Hash>,
    },
    /// Author 1 agrees to the terms; the channel becomes Active.
    Accept {
        /// SHA-256 of the canonical bytes of the accepted terms.
        terms_hash: Hash,
    },
    /// A message from a person.
    Message {
        /// How urgent it is; sets its acknowledgement window.
        precedence: Precedence,
        /// One-line subject.
        subject: String,
        /// The message text.
        text: String,
        /// Free labels for filing.
        labels: Vec<String>,
        /// The entry this answers, if any.
        reply_to: Option<Hash>,
    },
    /// A person read and acknowledged a counterpart entry.
    Ack {
        /// The acknowledged entry's hash.
        of: Hash,
    },
    /// A rendering of an entry in another language.
    Translation {
        /// The translated entry's hash.
        of: Hash,
        /// BCP 47 language tag of the rendering.
        lang: String,
        /// The rendering.
        text: String,
    },
    /// The scheduled test message.
    ContactCheck,
    /// A decision asked of the counterpart by a deadline.
    Request {
        /// The question.
        question: String,
        /// Offered answers; empty means free text.
        options: Vec<String>,
        /// Deadline, Unix milliseconds, by the requester's clock.
        deadline: u64,
        /// What the requester's station does when the deadline passes unanswered.
        on_miss: OnMiss,
    },
    /// The answer to a request.
    Decision {
        /// The request's hash.
        request: Hash,
        /// The chosen option (or free text).
        choice: String,
        /// Explanation.
        text: String,
    },
    /// The author stops substantive traffic until it resumes.
    Suspend {
        /// Why.
        reason: String,
    },
    /// Lifts the author's own suspension.
    Resume,
    /// Ends the channel for good.
    Terminate {
        /// Why.
        reason: String,
    },
    /// Shared intelligence (SPEC §7).
    Report {
        /// Title.
        title: String,
        /// TLP 2.0 marking.
        marking: Marking,
        /// Releasability codes this report may go to.
        rel_to: Vec<String>,
        /// Media type of `content`, e.g. `application/stix+json;version=2.1`.
        content_type: String,
        /// The report itself.
        content: Vec<u8>,
    },
    /// The provider pauses its reports to this partner.
    SharingPause {
        /// Why.
        reason: String,
    },
    /// The provider resumes its reports to this partner.
    SharingResume {
        /// Whether reports held during the pause are released.
        backfill: bool,
    },
}

impl Body {
    /// The kind of this body.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Open { .. } => Kind::Open,
            Body::Accept { .. } => Kind::Accept,
            Body::Message { .. } => Kind::Message,
            Body::Ack { .. } => Kind::Ack,
            Body::Translation { .. } => Kind::Translation,
            Body::ContactCheck => Kind::ContactCheck,
            Body::Request { .. } => Kind::Request,
            Body::Decision { .. } => Kind::Decision,
            Body::Suspend { .. } => Kind::Suspend,
            Body::Resume => Kind::Resume,
            Body::Terminate { .. } => Kind::Terminate,
            Body::Report { .. } => Kind::Report,
            Body::SharingPause { .. } => Kind::SharingPause,
            Body::SharingResume { .. } => Kind::SharingResume,
        }
    }

    /// A report's id (SPEC §7 v2): SHA-256 of the canonical CBOR of its
    /// title, marking, rel_to, content type and content, the same for every
    /// partner it goes to. `None` for other kinds.
    pub fn report_id(&self) -> Option<Hash> {
        let Body::Report {
            title,
            marking,
            rel_to,
            content_type,
            content,
        } = self
        else {
            return None;
        };
        let v = cbor::imap(vec![
            cbor::text(title),
            cbor::uint(*marking as u64),
            cbor::texts(rel_to),
            cbor::text(content_type),
            cbor::bytes(content),
        ]);
        Some(crate::sha256(&cbor::to_bytes(&v)))
    }

    /// The entry this body refers to, if its kind refers to one.
    pub fn reference(&self) -> Option<Hash> {
        match self {
            Body::Ack { of } | Body::Translation { of, .. } => Some(*of),
            Body::Decision { request, .. } => Some(*request),
            Body::Message { reply_to, .. } => *reply_to,
            _ => None,
        }
    }

    fn to_value(&self) -> Value {
        use cbor::{bytes, opt_hash, text, texts, uint};
        let mut f = vec![uint(self.kind() as u64)];
        match self {
            Body::Open {
                terms,
                initiator,
                responder,
                reopens,
            } => f.extend([
                terms.to_value(),
                text(initiator),
                text(responder),
                opt_hash(reopens),
            ]),
            Body::Accept { terms_hash } => f.push(bytes(terms_hash)),
            Body::Message {
                precedence,
                subject,
                text: t,
                labels,
                reply_to,
            } => f.extend([
                uint(*precedence as u64),
                text(subject),
                text(t),
                texts(labels),
                opt_hash(reply_to),
            ]),
            Body::Ack { of } => f.push(bytes(of)),
            Body::Translation { of, lang, text: t } => f.extend([bytes(of), text(lang), text(t)]),
            Body::ContactCheck | Body::Resume => {}
            Body::Request {
                question,
                options,
                deadline,
                on_miss,
            } => f.extend([
                text(question),
                texts(options),
                uint(*deadline),
                uint(*on_miss as u64),
            ]),
            Body::Decision {
                request,
                choice,
                text: t,
            } => f.extend([bytes(request), text(choice), text(t)]),
            Body::Suspend { reason }
            | Body::Terminate { reason }
            | Body::SharingPause { reason } => f.push(text(reason)),
            Body::Report {
                title,
                marking,
                rel_to,
                content_type,
                content,
            } => f.extend([
                text(title),
                uint(*marking as u64),
                texts(rel_to),
                text(content_type),
                bytes(content),
            ]),
            Body::SharingResume { backfill } => f.push(Value::Bool(*backfill)),
        }
        cbor::imap(f)
    }

    fn from_value(v: Value) -> Result<Self, ProtoError> {
        const W: &str = "body";
        let (mut f, len) = Fields::open_any(v, W)?;
        let kind = Kind::ALL
            .get(f.uint()? as usize)
            .copied()
            .ok_or(ProtoError::Shape("unknown entry kind"))?;
        let expected = match kind {
            Kind::ContactCheck | Kind::Resume => 0,
            Kind::Accept
            | Kind::Ack
            | Kind::Suspend
            | Kind::Terminate
            | Kind::SharingPause
            | Kind::SharingResume => 1,
            Kind::Translation | Kind::Decision => 3,
            Kind::Open | Kind::Request => 4,
            Kind::Message | Kind::Report => 5,
        };
        if len != expected + 1 {
            return Err(ProtoError::Shape(W));
        }
        let body = match kind {
            Kind::Open => Body::Open {
                terms: Terms::from_value(f.next()?)?,
                initiator: f.text()?,
                responder: f.text()?,
                reopens: f.opt_hash()?,
            },
            Kind::Accept => Body::Accept {
                terms_hash: f.hash()?,
            },
            Kind::Message => Body::Message {
                precedence: Precedence::from_wire(f.uint()?)?,
                subject: f.text()?,
                text: f.text()?,
                labels: f.texts()?,
                reply_to: f.opt_hash()?,
            },
            Kind::Ack => Body::Ack { of: f.hash()? },
            Kind::Translation => Body::Translation {
                of: f.hash()?,
                lang: f.text()?,
                text: f.text()?,
            },
            Kind::ContactCheck => Body::ContactCheck,
            Kind::Request => Body::Request {
                question: f.text()?,
                options: f.texts()?,
                deadline: f.uint()?,
                on_miss: OnMiss::from_wire(f.uint()?)?,
            },
            Kind::Decision => Body::Decision {
                request: f.hash()?,
                choice: f.text()?,
                text: f.text()?,
            },
            Kind::Suspend => Body::Suspend { reason: f.text()? },
            Kind::Resume => Body::Resume,
            Kind::Terminate => Body::Terminate { reason: f.text()? },
            Kind::Report => Body::Report {
                title: f.text()?,
                marking: Marking::from_wire(f.uint()?)?,
                rel_to: f.texts()?,
                content_type: f.text()?,
                content: f.bytes()?,
            },
            Kind::SharingPause => Body::SharingPause { reason: f.text()? },
            Kind::SharingResume => Body::SharingResume {
                backfill: f.bool()?,
            },
        };
        f.done()?;
        Ok(body)
    }
}

/// One transcript entry, as its author wrote it (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// SHA-256 of the channel's `Open` envelope; zero in `Open` itself.
    pub channel: Hash,
    /// 0 = the station that sent `Open`, 1 = the other.
    pub author: u8,
    /// The author's counter: 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Hash of the author's previous entry; zeros at seq 1.
    pub prev: Hash,
    /// `(seq, hash)` of the newest entry of the other author the author had stored; `(0, zeros)` if none.
    pub seen: (u64, Hash),
    /// `max(lamport(prev), lamport(seen)) + 1`: gives the merged order.
    pub lamport: u64,
    /// Author's clock, Unix milliseconds; informative only.
    pub time: u64,
    /// The local user who wrote it (`station` for automatic entries).
    pub by: String,
    /// What the entry says.
    pub body: Body,
}

/// The `by` of entries written by the station itself (contact checks, deadline actions).
pub const BY_STATION: &str = "station";

impl Entry {
    /// The canonical bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::to_bytes(&cbor::imap(vec![
            cbor::bytes(&self.channel),
            cbor::uint(self.author as u64),
            cbor::uint(self.seq),
            cbor::bytes(&self.prev),
            cbor::head(self.seen.0, &self.seen.1),
            cbor::uint(self.lamport),
            cbor::uint(self.time),
            cbor::text(&self.by),
            self.body.to_value(),
        ]))
    }

    /// Decodes canonical entry bytes; anything else is rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtoError> {
        const W: &str = "entry";
        let v = cbor::from_canonical(bytes)?;
        let mut f = Fields::open(v, 9, W)?;
        let channel = f.hash()?;
        let author = match f.uint()? {
            0 => 0u8,
            1 => 1u8,
            _ => return Err(ProtoError::Shape("author must be 0 or 1")),
        };
        let seq = f.uint()?;
        let prev = f.hash()?;
        let seen = cbor::as_head(f.next()?, W)?;
        let lamport = f.uint()?;
        let time = f.uint()?;
        let by = f.text()?;
        let body = Body::from_value(f.next()?)?;
        f.done()?;
        Ok(Entry {
            channel,
            author,
            seq,
            prev,
            seen,
            lamport,
            time,
            by,
            body,
        })
    }

    /// Whether this entry is a channel's genesis.
    pub fn is_open(&self) -> bool {
        matches!(self.body, Body::Open { .. })
            && self.channel == ZERO_HASH
            && self.author == 0
            && self.seq == 1
    }
}
