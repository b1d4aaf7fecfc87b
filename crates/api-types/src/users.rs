//! API users and their roles.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/users`: a new user; the station answers with its token, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1–64 printable characters, not `station`; entries the user writes carry it.
    pub name: String,
    /// principal, operator, auditor or admin; checked by the station with its own message.
    pub role: String,
    /// The token stops working by itself after this long (e.g. `30d`, `12h`);
    /// left out, it lasts until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// One user as `GET /v1/users` lists it; tokens are never shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Unix ms when the user was added.
    pub created_at: u64,
    /// The name the user's entries and audit lines carry.
    pub name: String,
    /// Unix ms when the token was revoked; `null` while it is active.
    pub revoked_at: Option<u64>,
    /// principal, operator, auditor or admin.
    pub role: String,
    /// Unix ms when the token stops working by itself; left out if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// `GET /v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Users {
    /// Every user ever added, revoked ones included, for the record.
    pub users: Vec<User>,
}

/// `POST /v1/users` answered: the only time the token is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserCreated {
    /// The name as stored (trimmed).
    pub name: String,
    /// The role granted: what the token may do.
    pub role: String,
    /// The bearer token; only its hash is kept, so it cannot be shown again.
    pub token: String,
}

/// `POST /v1/users/{name}/revoke` answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRevoked {
    /// The user whose token no longer works.
    pub name: String,
    /// Always true: the token is refused from now on.
    pub revoked: bool,
}
