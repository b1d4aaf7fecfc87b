//! Witnesses of this station's logs (SPEC §5 v2, `engine/logs.rs`).

use super::{parse, CreatedJson, R};
use crate::api::auth::Authed;
use crate::api::{Act, Api};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hotline_api_types::{ApiError, NewWitness, Witness, Witnesses};

/// `GET /v1/witnesses`.
#[utoipa::path(
    get, path = "/v1/witnesses", tag = "peers", operation_id = "list_witnesses",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every witness this station submits its checkpoints to.",
            body = Witnesses),
    ),
)]
pub async fn list(State(api): State<Api>, _: Authed) -> R<Json<Witnesses>> {
    let ws = api.engine.witnesses().await?;
    Ok(Json(Witnesses {
        witnesses: ws
            .into_iter()
            .map(|(w, s)| Witness {
                key: w.key,
                last_cosigned_at: s.last_cosigned_at,
                last_error: s.last_error,
                name: w.name,
                url: w.url,
            })
            .collect(),
    }))
}

/// `POST /v1/witnesses`: submit this station's log checkpoints there; admin only.
#[utoipa::path(
    post, path = "/v1/witnesses", tag = "peers", operation_id = "add_witness",
    security(("bearer" = [])),
    request_body = NewWitness,
    responses(
        (status = 201, description = "Added (or, for a witness of that name, its URL and key \
            replaced): from the next log round on, each log's checkpoints go to it.",
            body = Witness),
        (status = 400, description = "Not an http:// URL, or not a witness verifier key.",
            body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
)]
pub async fn add(State(api): State<Api>, u: Authed, body: Bytes) -> R<CreatedJson<Witness>> {
    u.need(Act::Admin)?;
    let w: NewWitness = parse(&body)?;
    let row = api.engine.add_witness(&w.url, &w.key).await?;
    Ok((
        StatusCode::CREATED,
        Json(Witness {
            key: row.key,
            last_cosigned_at: None,
            last_error: None,
            name: row.name,
            url: row.url,
        }),
    ))
}
