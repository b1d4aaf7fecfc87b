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
