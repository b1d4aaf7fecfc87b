//! The transcript entry (SPEC §4) and its canonical CBOR encoding.
//!
//! An entry is a CBOR map with integer keys 0..=8 in this order:
//! `channel, author, seq, prev, seen, lamport, time, by, body`.
//! The body is a map whose key 0 is the kind number and keys 1.. are the
//! kind's fields in the order declared below. Optional fields are `null`.
//! Changing any number or order here breaks every signature ever made.

use crate::cbor;
use crate::error::ProtoError;
use crate::{Hash, ZERO_HASH};
use ciborium::Value;
mod decode;
mod terms;

pub use terms::*;

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
    KeyRotation = 14,
    Notice = 15,
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
            Kind::KeyRotation => "key_rotation",
            Kind::Notice => "notice",
        }
    }

    /// Every kind, in wire order.
    pub const ALL: [Kind; 16] = [
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
        Kind::KeyRotation,
        Kind::Notice,
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
    /// The author's station changes its keys (SPEC §4 v2). The envelope is
    /// signed by the old key; `new_sig` is the new key's signature over the
    /// entry's bytes up to `new_sig` itself ([`crate::rotation`]). From the
    /// author's next entry on, only the new key signs.
    KeyRotation {
        /// Identity token of the author's new keys.
        new_token: String,
        /// The new Ed25519 key's signature binding it to this place in the chain.
        new_sig: [u8; 64],
    },
    /// A structured notice (SPEC §4 v2): JSON that must match the schema
    /// the channel's terms agreed under `notice_type`.
    Notice {
        /// `name/version`, one of the terms' notice types.
        notice_type: String,
        /// The notice, as compact JSON text.
        notice: String,
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
            Body::KeyRotation { .. } => Kind::KeyRotation,
            Body::Notice { .. } => Kind::Notice,
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
            // `new_sig` is the last field of the body, which is the last field
            // of the entry: the entry's bytes end with it (`rotation.rs`).
            Body::KeyRotation { new_token, new_sig } => f.extend([text(new_token), bytes(new_sig)]),
            Body::Notice {
                notice_type,
                notice,
            } => f.extend([text(notice_type), text(notice)]),
        }
        cbor::imap(f)
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
    ///
    /// Written straight to CBOR: the entry's fields, and a message's body
    /// (the kind nearly every entry is), without building a value tree;
    /// any other body goes through its tree, appended in place. The bytes
    /// are the tree's, shortest heads and definite lengths (a test compares
    /// the two): through the tree, a message cost some fourteen
    /// allocations to encode, on the author's path and again wherever the
    /// entry is encoded anew.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body_hint = match &self.body {
            Body::Message {
                subject,
                text,
                labels,
                ..
            } => {
                64 + subject.len() + text.len() + labels.iter().map(|l| 9 + l.len()).sum::<usize>()
            }
            _ => 256,
        };
        let mut out = Vec::with_capacity(128 + self.by.len() + body_hint);
        self.write_fields(&mut out)
            .expect("writing CBOR to a Vec cannot fail");
        match &self.body {
            Body::Message {
                precedence,
                subject,
                text,
                labels,
                reply_to,
            } => write_message(&mut out, *precedence, subject, text, labels, reply_to)
                .expect("writing CBOR to a Vec cannot fail"),
            other => ciborium::into_writer(&other.to_value(), &mut out)
                .expect("writing CBOR to a Vec cannot fail"),
        }
        out
    }

    /// The entry's map head and its fields 0..=7, then the key of its body.
    fn write_fields(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        use ciborium_ll::{Encoder, Header};
        let mut enc = Encoder::from(out);
        enc.push(Header::Map(Some(9)))?;
        enc.push(Header::Positive(0))?;
        enc.bytes(&self.channel, None)?;
        enc.push(Header::Positive(1))?;
        enc.push(Header::Positive(self.author as u64))?;
        enc.push(Header::Positive(2))?;
        enc.push(Header::Positive(self.seq))?;
        enc.push(Header::Positive(3))?;
        enc.bytes(&self.prev, None)?;
        enc.push(Header::Positive(4))?;
        enc.push(Header::Array(Some(2)))?;
        enc.push(Header::Positive(self.seen.0))?;
        enc.bytes(&self.seen.1, None)?;
        enc.push(Header::Positive(5))?;
        enc.push(Header::Positive(self.lamport))?;
        enc.push(Header::Positive(6))?;
        enc.push(Header::Positive(self.time))?;
        enc.push(Header::Positive(7))?;
        enc.text(&self.by, None)?;
        enc.push(Header::Positive(8))
    }

    /// The bytes through the value tree, as every other structure: what
    /// [`Entry::to_bytes`] must equal.
    #[cfg(test)]
    fn tree_bytes(&self) -> Vec<u8> {
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

    /// Whether this entry is a channel's genesis.
    pub fn is_open(&self) -> bool {
        matches!(self.body, Body::Open { .. })
            && self.channel == ZERO_HASH
            && self.author == 0
            && self.seq == 1
    }
}

/// A `Message` body, as [`Body::to_value`] encodes it, written straight.
fn write_message(
    out: &mut Vec<u8>,
    precedence: Precedence,
    subject: &str,
    text: &str,
    labels: &[String],
    reply_to: &Option<Hash>,
) -> std::io::Result<()> {
    use ciborium_ll::{simple, Encoder, Header};
    let mut enc = Encoder::from(out);
    enc.push(Header::Map(Some(6)))?;
    enc.push(Header::Positive(0))?;
    enc.push(Header::Positive(Kind::Message as u64))?;
    enc.push(Header::Positive(1))?;
    enc.push(Header::Positive(precedence as u64))?;
    enc.push(Header::Positive(2))?;
    enc.text(subject, None)?;
    enc.push(Header::Positive(3))?;
    enc.text(text, None)?;
    enc.push(Header::Positive(4))?;
    enc.push(Header::Array(Some(labels.len())))?;
    for l in labels {
        enc.text(l, None)?;
    }
    enc.push(Header::Positive(5))?;
    match reply_to {
        Some(h) => enc.bytes(h, None),
        None => enc.push(Header::Simple(simple::NULL)),
    }
}

#[cfg(test)]
mod direct_tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(body: Body, by: String, nums: (u64, u64, u64, u64)) -> Entry {
        Entry {
            channel: [7; 32],
            author: (nums.0 % 2) as u8,
            seq: nums.0,
            prev: [1; 32],
            seen: (nums.1, [2; 32]),
            lamport: nums.2,
            time: nums.3,
            by,
            body,
        }
    }

    /// Lengths where CBOR heads change size, and some between.
    fn sized_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            prop::sample::select(vec![0usize, 1, 23, 24, 255, 256, 65_535, 65_536])
                .prop_map(|n| "é".repeat(n / 2) + &"x".repeat(n % 2)),
        ]
    }

    proptest! {
        /// A message written straight is byte for byte its value tree.
        #[test]
        fn a_message_written_directly_equals_the_value_tree(
            nums in (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
            by in sized_text(),
            precedence in prop::sample::select(vec![
                Precedence::Flash, Precedence::Immediate, Precedence::Priority, Precedence::Routine,
            ]),
            subject in sized_text(),
            text in sized_text(),
            labels in prop::collection::vec(any::<String>(), 0..30),
            reply_to in prop::option::of(any::<[u8; 32]>()),
        ) {
            let e = entry(Body::Message { precedence, subject, text, labels, reply_to }, by, nums);
            prop_assert_eq!(e.to_bytes(), e.tree_bytes());
        }

        /// Any other body goes through its tree behind the fields written
        /// straight: the whole is the tree's too.
        #[test]
        fn other_bodies_equal_the_value_tree(
            nums in (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
            by in sized_text(),
            reason in sized_text(),
        ) {
            for body in [
                Body::Ack { of: [3; 32] },
                Body::ContactCheck,
                Body::Suspend { reason: reason.clone() },
                Body::Open {
                    terms: Terms::default(),
                    initiator: reason.clone(),
                    responder: by.clone(),
                    reopens: None,
                },
            ] {
                let e = entry(body, by.clone(), nums);
                prop_assert_eq!(e.to_bytes(), e.tree_bytes());
            }
        }
    }
}
