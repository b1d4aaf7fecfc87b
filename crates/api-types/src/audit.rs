//! The station's own audit log: every action on the API, hash-chained.

use serde::{Deserialize, Serialize};

/// One line of the audit log, as exported. Every field but `id` is covered by
/// `hash`: changing a name or a format here breaks verification of old exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The HTTP status the request got, as digits.
    pub result: String,
    /// The second path segment below `/v1/` (a channel id, a peer or user name), or empty.
    pub target: String,
    /// Who asked: the token's user, or `-` when the token was missing or wrong.
    pub user: String,
}

/// `GET /v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    /// Lines after the requested id, oldest first.
    pub audit: Vec<AuditLine>,
}
