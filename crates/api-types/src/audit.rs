//! The station's own audit log: every action on the API, hash-chained.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One line of the audit log, as exported. Every field but `id` is covered by
/// `hash`: changing a name or a format here breaks verification of old exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditLine {
    /// What was asked: method and path below `/v1/` (e.g. `POST channels/…/messages`).
    pub action: String,
    /// Unix ms when it was recorded.
    pub at: u64,
    /// SHA-256 (64 hex) over `prev` and this line's fields: the chain link.
    pub hash: String,
    /// Row id, increasing: the order of the log.
    pub id: i64,
    /// The previous line's hash (zeros for the first line): a dropped line breaks the chain.
    pub prev: String,
    /// The HTTP status the request got, as digits; `attempt` on the line
    /// written before a request that may change something is handled, so that
    /// the attempt is on record before anything it changes.
    pub result: String,
    /// The second path segment below `/v1/` (a channel id, a peer or user name), or empty.
    pub target: String,
    /// Who asked: the token's user, or `-` when the token was missing or wrong.
    pub user: String,
}

/// The audit log's head, signed by the station: an export ends with it as
/// `{"head": …}`, so that a file cut short or with its last lines replaced
/// does not verify. Changing a name or a format here breaks verification of
/// old exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditHead {
    /// How many lines the log held when the head was signed.
    pub count: u64,
    /// The hash of the newest of them (zeros for an empty log), 64 hex.
    pub hash: String,
    /// Ed25519 signature (128 hex) over `"hotline/audit-head/v1" || count (u64
    /// big-endian) || hash`, by the station's identity key.
    pub sig: String,
    /// The signing station's identity token.
    pub signer: String,
}

/// The last line of an audit export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHeadLine {
    /// The head covering every line before it.
    pub head: AuditHead,
}

/// `GET /v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditLog {
    /// Lines after the requested id, oldest first.
    pub audit: Vec<AuditLine>,
    /// The signed head as it was just before the lines were read: it covers
    /// the first `count` lines of the log, which every later read still holds.
    pub head: AuditHead,
}
