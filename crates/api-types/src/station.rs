//! The station itself and the caller: health, identity, who is asking, errors.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/health`: answered without a token so that monitors need none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// The identity token, so a monitor can tell which station answered.
    pub identity: String,
    /// The name the station was created with, for people.
    pub name: String,
    /// `"ok"` while the station serves; `"storage-failed"` (with HTTP 503) once a
    /// commit has failed: reads are still answered, writes are refused, and
    /// `hotline serve` restarts the station from disk after a short back-off.
    pub status: String,
    /// For a caller with a token: where the station keeps its data and,
    /// on a shared database, which process leads. Left out for a caller
    /// without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreHealth>,
}

/// `GET /v1/identity`: what the counterpart needs to pin this station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StationIdentity {
    /// The 12×5 digits read aloud to the counterpart to confirm the token out of band.
    pub fingerprint: String,
    /// The name the station was created with, for people.
    pub name: String,
    /// The public identity token (`hotline1…`) the counterpart pins.
    pub token: String,
}

/// `GET /v1/whoami`: whose token this is, so a console can show what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The user the token belongs to; entries it writes carry this name.
    pub name: String,
    /// principal, operator, auditor or admin: decides what the token may do.
    pub role: String,
}

/// The body of every refusal (4xx) and failure (5xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// A sentence for the person at the keyboard, saying what to do.
    pub error: String,
}

/// Part of `GET /v1/health` for a caller with a token: the storage backend
/// and, on a shared PostgreSQL database, the leader's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoreHealth {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// `leader` (writes, runs the link) or `standby` (serves reads, refuses
    /// writes with 503 and the leader's address). A station alone leads.
    pub role: String,
    /// The lease's epoch: grows by one on every takeover (0 alone).
    pub epoch: u64,
    /// The process holding the lease (`host:pid:tag`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_holder: Option<String>,
    /// The leader's API address, as it advertised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_api: Option<String>,
    /// Milliseconds until the lease expires unless renewed, on the
    /// database's clock when it was last read (negative: expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_in_ms: Option<i64>,
    /// This process's name in the lease row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub this_process: Option<String>,
}
