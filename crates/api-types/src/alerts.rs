//! Alerts: what the station raised, why, and whether it cleared.

use serde::{Deserialize, Serialize};

/// One alert, as the API lists it and the alert hook receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// `GET /v1/alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alerts {
    /// Newest first, up to the requested limit.
    pub alerts: Vec<Alert>,
}
