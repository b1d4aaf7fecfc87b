//! The station itself and the caller: `/v1/health`, `/v1/identity`, `/v1/whoami`.

use super::R;
use crate::api::auth::Authed;
use crate::api::Api;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hotline_api_types::{Health, StationIdentity, WhoAmI};

/// `GET /v1/health`: open, so that monitors need no token. 503 once a commit
/// of this station has failed, until it is restarted from disk.
pub async fn health(State(api): State<Api>) -> (StatusCode, Json<Health>) {
    let e = &api.engine;
    let (code, status) = if e.storage_failed() {
        (StatusCode::SERVICE_UNAVAILABLE, "storage-failed")
    } else {
        (StatusCode::OK, "ok")
    };
    let health = Health {
        identity: e.identity().token(),
        name: e.name().to_owned(),
        status: status.into(),
    };
    (code, Json(health))
}

/// `GET /v1/identity`.
pub async fn identity(State(api): State<Api>, _: Authed) -> R<Json<StationIdentity>> {
    let id = api.engine.identity();
    Ok(Json(StationIdentity {
        fingerprint: id.fingerprint().to_string(),
        name: api.engine.name().to_owned(),
        token: id.token(),
    }))
}

/// `GET /v1/whoami`.
pub async fn whoami(Authed(u, _): Authed) -> R<Json<WhoAmI>> {
    Ok(Json(WhoAmI {
        name: u.name,
        role: u.role.name().into(),
    }))
}
