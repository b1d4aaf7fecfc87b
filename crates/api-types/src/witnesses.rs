//! Witnesses of this station's logs (SPEC §5 v2): `/v1/witnesses`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/witnesses`: submit this station's log checkpoints to a witness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWitness {
    /// The witness's base URL, `http://HOST:PORT` (`add-checkpoint` is
    /// posted under it).
    pub url: String,
    /// Its verifier key, the last line `hotline witness init` printed
    /// (`NAME+ID+KEY`).
    pub key: String,
}

/// A witness this station submits its checkpoints to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Witness {
    /// Its verifier key.
    pub key: String,
    /// When it last cosigned one of this station's checkpoints (Unix ms),
    /// since the station started; `null` if not yet.
    pub last_cosigned_at: Option<u64>,
    /// Why its last request failed; `null` when it succeeded or none was made.
    pub last_error: Option<String>,
    /// Its name (the key name of its verifier key).
    pub name: String,
    /// Its base URL.
    pub url: String,
}

/// `GET /v1/witnesses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Witnesses {
    /// Every witness configured, in the order added.
    pub witnesses: Vec<Witness>,
}
