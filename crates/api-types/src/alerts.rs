//! Alerts: what the station raised, why, and whether it cleared.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One alert, as the API lists it and the alert hook receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// A sentence saying what happened, for the person on duty.
    pub cause: String,
    /// The channel concerned (64 hex), or `null` for station-wide alerts such as a link down.
    pub channel: Option<String>,
    /// Unix ms when it cleared; `null` while it is open.
    pub cleared_at: Option<u64>,
    /// Row id, increasing: the order alerts were raised in.
    pub id: i64,
    /// Names the cause (e.g. `ack-overdue:` and the entry): a key is open at most once, so one cause alerts once.
    pub key: String,
    /// The kind of alert (e.g. `contact-missed`, `link-down`), for filtering and hooks.
    pub kind: String,
    /// Unix ms when it was raised.
    pub raised_at: u64,
    /// A person's acknowledgement (someone is on it), if any: the alert
    /// stays open until its cause goes. Left out when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<AlertAck>,
}

/// `POST /v1/alerts/{id}/ack`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckAlert {
    /// What the person says: who is on it, what was done (up to 1,000 characters).
    #[serde(default)]
    pub note: String,
}

/// Who acknowledged an alert, when, and what they said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertAck {
    /// Unix ms.
    pub at: u64,
    /// The user.
    pub by: String,
    /// Their note.
    pub note: String,
}

/// Proof that the counterpart signed two different entries with one seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    /// The equivocating author number.
    pub author: u8,
    /// The channel, 64 hex.
    pub channel: String,
    /// The other envelope, standard base64, signed by the same author.
    pub conflicting: String,
    /// SHA-256 of the other envelope, 64 hex.
    pub conflicting_hash: String,
    /// Unix ms when it was found (this station's clock).
    pub found_at: u64,
    /// The seq both envelopes claim.
    pub seq: u64,
    /// The envelope the transcript holds, standard base64 (empty if it was not stored).
    pub stored: String,
    /// SHA-256 of the envelope the transcript holds, 64 hex (empty if none).
    pub stored_hash: String,
}

/// `GET /v1/evidence` and `GET /v1/channels/{id}/evidence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceList {
    /// Oldest first.
    pub evidence: Vec<Evidence>,
}

/// `GET /v1/alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Alerts {
    /// Newest first, up to the requested limit.
    pub alerts: Vec<Alert>,
}
