//! Entries: writing one (messages, acks, requests, decisions, translations,
//! lifecycle) and reading them back with their delivery state.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /v1/channels/{id}/messages`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// flash, immediate, priority or routine; ROUTINE when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precedence: Option<String>,
    /// One-line subject; may be empty.
    #[serde(default)]
    pub subject: String,
    /// The message, signed as written: neither station can alter it later.
    pub text: String,
    /// Free labels the sender attaches, e.g. for routing at the receiving end.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The entry (64 hex) this message answers, so the record threads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// `POST /v1/channels/{id}/acks`: a person has read a counterpart entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAck {
    /// The acknowledged entry's hash, 64 hex.
    pub of: String,
}

/// `POST /v1/channels/{id}/requests`: ask for a decision by a deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// What the counterpart is asked to decide; must not be blank.
    pub question: String,
    /// Answers to choose from; empty means a free answer.
    #[serde(default)]
    pub options: Vec<String>,
    /// A duration (`10m`), an RFC 3339 time, or Unix ms. Left as any JSON
    /// value so that the station can explain each wrong shape in its own words.
    #[schema(schema_with = deadline_schema)]
    pub deadline: Value,
    /// alert, suspend or terminate: what this station does if no decision comes; alert when left out.
    #[serde(default)]
    pub on_miss: Option<String>,
}

/// The shapes a request's `deadline` may take, for the OpenAPI document.
fn deadline_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    let shapes = OneOfBuilder::new()
        .description(Some(
            "A duration from now (`10m`, `48h`) or an RFC 3339 time, as a string; or Unix ms.",
        ))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .build();
    Schema::OneOf(shapes)
}

/// `POST /v1/channels/{id}/decisions`: answer a counterpart's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecision {
    /// The request answered (64 hex); its options decide what `choice` may be.
    pub request: String,
    /// One of the request's options (by text or 1-based number), or free text if it offered none.
    pub choice: String,
    /// An explanation to go with the choice.
    #[serde(default)]
    pub text: String,
}

/// `POST /v1/channels/{id}/translations`: how an entry reads in another language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTranslation {
    /// The translated entry's hash, 64 hex.
    pub of: String,
    /// Language tag, e.g. en, ru, uk.
    pub lang: String,
    /// The entry's text in `lang`, recorded beside the original, never replacing it.
    pub text: String,
}

/// `POST /v1/channels/{id}/notices`: a structured notice of one of the
/// channel's agreed notice types, checked against that type's JSON Schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNotice {
    /// `name/version`, one of the channel's agreed notice types, e.g. `incident-report/1`.
    #[serde(rename = "type")]
    pub notice_type: String,
    /// The notice: a JSON object matching the type's schema.
    #[schema(value_type = Object)]
    pub notice: Value,
}

/// `POST /v1/channels/{id}/suspend`, `…/resume`, `…/terminate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why, for the record and the counterpart; resume ignores it.
    #[serde(default)]
    pub reason: String,
}

/// The body of a POST that carries nothing (accept, resume, revoke): `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Any POST that wrote one entry, answered with 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Created {
    /// Only when accepting a channel: whether the proposer held the acceptance before the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<bool>,
    /// The new entry's hash, 64 hex: what acks, decisions and replies cite.
    pub hash: String,
    /// The entry's kind (message, ack, request, …).
    pub kind: String,
    /// Its Lamport time across both sides of the channel.
    pub lamport: u64,
    /// Its number in this station's transcript of the channel.
    pub seq: u64,
}

/// How far an entry got. Our entries go queued → sent → delivered →
/// (messages) acknowledged; the peer's are received, then (messages) acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Ours, committed here, not yet handed to the link.
    Queued,
    /// Ours, handed to the link, not yet covered by the peer's checkpoint.
    Sent,
    /// Ours, covered by the peer's checkpoint: durable at both ends.
    Delivered,
    /// A message read by a person at the other end (ours) or here (theirs).
    Acknowledged,
    /// The peer's, durably stored here.
    Received,
}

impl DeliveryState {
    /// The word shown to people, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Acknowledged => "acknowledged",
            DeliveryState::Received => "received",
        }
    }
}

/// A stored entry with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    /// Author number: 0 for the channel's proposer, 1 for the acceptor.
    pub author: u8,
    /// The decoded body with `kind` alongside; its fields depend on the kind,
    /// and the export verifier holds the same view to the signed bytes.
    #[schema(value_type = Object)]
    pub body: Value,
    /// The user who wrote it, or `station` for entries the station wrote itself.
    pub by: String,
    /// Only from `GET /v1/entries/{hash}` (and `inbox --json`): the channel (64 hex), which the hash alone does not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Only when true: the entry reached this station in a courier bundle
    /// (`hotline bundle import`) rather than over the link.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub courier: bool,
    /// This station's storage order across both authors: page with `?after=`.
    pub cursor: u64,
    /// Whether it is durable at both ends (always true for the peer's entries).
    pub delivered: bool,
    /// How far it got; `delivered` alone says whether it is safe at both ends.
    pub delivery: DeliveryState,
    /// SHA-256 of the signed envelope, 64 hex: what acks, decisions and replies cite.
    pub hash: String,
    /// A counterpart message above ROUTINE that arrived before the
    /// counterpart's fingerprint was verified here: stored and held, not yet
    /// verified traffic, with no acknowledgement clock until it is verified.
    /// Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// The body's kind (message, ack, request, …), repeated here for filtering.
    pub kind: String,
    /// Lamport time across both sides of the channel.
    pub lamport: u64,
    /// Whether this station wrote it.
    pub own: bool,
    /// Its number in its author's transcript.
    pub seq: u64,
    /// Unix ms when it was stored here (this station's clock).
    pub stored_at: u64,
    /// For a report with STIX content from the counterpart: whether it passes
    /// this station's STIX 2.1 check. An invalid one is kept as received,
    /// flagged here, and not served over TAXII (SPEC §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stix_valid: Option<bool>,
    /// Unix ms its author put in it (the author's clock, signed).
    pub time: u64,
}

impl Entry {
    /// The body of a message entry, read as one; `None` for other kinds.
    pub fn message(&self) -> Result<Option<MessageBody>, serde_json::Error> {
        if self.kind != "message" {
            return Ok(None);
        }
        MessageBody::deserialize(&self.body).map(Some)
    }
}

/// The body view of a message entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBody {
    /// Free labels the sender attached.
    pub labels: Vec<String>,
    /// flash, immediate, priority or routine: orders the inbox and the ack clock.
    pub precedence: String,
    /// The entry (64 hex) it answers, if any.
    pub reply_to: Option<String>,
    /// One-line subject; may be empty.
    pub subject: String,
    /// The message as signed; show it with control characters escaped.
    pub text: String,
}

/// `GET /v1/channels/{id}/entries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entries {
    /// In storage order after the requested cursor; an empty page is the end.
    pub entries: Vec<Entry>,
}
