//! The station itself and the caller: `/v1/health`, `/v1/identity`,
//! `/v1/whoami`, and the API's own contract, `/v1/openapi.json`.

use super::R;
use crate::api::auth::Authed;
use crate::api::Api;
use crate::ha::Role;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use hotline_api_types::{Health, StationIdentity, StoreHealth, WhoAmI};

/// `GET /v1/health`: open, so that monitors need no token. 503 once a commit
/// of this station has failed, until it is restarted from disk. A caller
/// with a token also gets `store`: the backend and, on a shared database,
/// the role, epoch, lease holder and expiry.
#[utoipa::path(
    get, path = "/v1/health", tag = "station", operation_id = "health",
    responses(
        (status = 200, description = "The station serves.", body = Health),
        (status = 503,
            description = "A commit has failed: reads are answered, writes refused, until the \
                station restarts from disk.",
            body = Health),
    ),
)]
pub async fn health(
    State(api): State<Api>,
    headers: axum::http::HeaderMap,
) -> (StatusCode, Json<Health>) {
    let e = &api.engine;
    let standby = api.ha.as_ref().is_some_and(|h| h.role != Role::Leader);
    let (code, status) = if standby {
        (StatusCode::OK, "standby")
    } else if e.storage_failed() {
        (StatusCode::SERVICE_UNAVAILABLE, "storage-failed")
    } else {
        (StatusCode::OK, "ok")
    };
    let authed = crate::api::auth::bearer(&headers).is_some_and(|t| api.user(t).is_ok());
    let health = Health {
        identity: e.identity().token(),
        name: e.name().to_owned(),
        status: status.into(),
        store: authed.then(|| store_health(&api)),
    };
    (code, Json(health))
}

/// The backend and, on a shared database, the lease as last read.
fn store_health(api: &Api) -> StoreHealth {
    let backend = api.engine.db().backend().name().to_owned();
    let Some(ha) = &api.ha else {
        return StoreHealth {
            backend,
            role: "leader".into(),
            epoch: 0,
            lease_holder: None,
            leader_api: None,
            lease_expires_in_ms: None,
            this_process: None,
        };
    };
    let view = ha.keeper.view();
    let lease = view.lease.as_ref();
    // The expiry as the database said, less the time since it said so.
    let since = view.read_at.elapsed().as_millis() as i64;
    // The role as it is now: a leader whose lease lapsed is on its way
    // to being the standby, and writes nothing meanwhile.
    let epoch = api.engine.epoch();
    let role = match ha.role {
        Role::Leader if view.leads(epoch, std::time::Instant::now()) => Role::Leader,
        _ => Role::Standby,
    };
    StoreHealth {
        backend,
        role: role.name().into(),
        epoch: lease.map_or(0, |l| l.epoch),
        lease_holder: lease.map(|l| l.holder.clone()),
        leader_api: lease.map(|l| l.api.clone()),
        lease_expires_in_ms: lease.map(|l| l.expires_in_ms.saturating_sub(since)),
        this_process: Some(ha.keeper.holder().to_owned()),
    }
}

/// `GET /v1/identity`: what the counterpart needs to pin this station.
#[utoipa::path(
    get, path = "/v1/identity", tag = "station", operation_id = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "This station's identity.", body = StationIdentity),
    ),
)]
pub async fn identity(State(api): State<Api>, _: Authed) -> R<Json<StationIdentity>> {
    let id = api.engine.identity();
    Ok(Json(StationIdentity {
        fingerprint: id.fingerprint().to_string(),
        name: api.engine.name().to_owned(),
        token: id.token(),
    }))
}

/// `GET /v1/whoami`: whose token this is.
#[utoipa::path(
    get, path = "/v1/whoami", tag = "station", operation_id = "whoami",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token's user and role.", body = WhoAmI),
    ),
)]
pub async fn whoami(Authed(u, _): Authed) -> R<Json<WhoAmI>> {
    Ok(Json(WhoAmI {
        name: u.name,
        role: u.role.name().into(),
    }))
}

/// `GET /v1/openapi.json`: this document, the API's contract. Open, like
/// `/v1/health`: it says what the API answers, not what the station holds.
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "station", operation_id = "openapi",
    responses(
        (status = 200,
            description = "The OpenAPI 3.1 document (`docs/openapi.json`).",
            body = Object,
            content_type = "application/json"),
    ),
)]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::api::openapi::document(),
    )
}
