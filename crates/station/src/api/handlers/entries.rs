//! Reading entries back: `/v1/channels/{id}/entries`, `/v1/entries/{hash}`.

use super::{chan, hash_arg, R};
use crate::api::auth::Authed;
use crate::api::Api;
use crate::error::StationError;
use crate::views;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use hotline_api_types::{ApiError, Entries, Entry};
use hotline_proto::hex;
use serde::Deserialize;

/// A page of a channel's entries in storage order.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// The cursor of the last entry already seen; 0 starts at the beginning.
    #[serde(default)]
    // All of u64: the generator's `int64` would stop at 2^63 - 1.
    #[param(format = "uint64")]
    after: u64,
    /// Entries per page, 1–1000 (100 when left out).
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /v1/channels/{id}/entries?after=&limit=`.
#[utoipa::path(
    get, path = "/v1/channels/{id}/entries", tag = "entries", operation_id = "list_entries",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
        Page,
    ),
    responses(
        (status = 200,
            description = "A page of entries; an empty page is the end.",
            body = Entries),
        (status = 400,
            description = "Not a 64-hex channel id, or a query that cannot be read.",
            body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
    ),
)]
pub async fn list(
    State(api): State<Api>,
    Path(id): Path<String>,
    _: Authed,
    q: Result<Query<Page>, QueryRejection>,
) -> R<Json<Entries>> {
    // Taken as a `Result` so that a bad query is refused after the token
    // check, in the station's words.
    let Query(q) = q.map_err(|e| StationError::BadRequest(format!("bad query: {e}")))?;
    let id = chan(&id)?;
    api.engine.channel(&id)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q.after;
    let rows = api
        .engine
        .db()
        .read(move |s| s.entries_after(&id, after, limit))
        .await?;
    Ok(Json(Entries {
        entries: views::entries(&api.engine, &id, rows).await?,
    }))
}

/// `GET /v1/entries/{hash}`: one entry, with the channel it belongs to.
#[utoipa::path(
    get, path = "/v1/entries/{hash}", tag = "entries", operation_id = "show_entry",
    security(("bearer" = [])),
    params(
        ("hash" = String, Path,
            description = "The entry's hash, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    responses(
        (status = 200, description = "The entry, with its channel.", body = Entry),
        (status = 400, description = "Not a 64-hex entry hash.", body = ApiError),
        (status = 404, description = "No such entry here.", body = ApiError),
    ),
)]
pub async fn show(State(api): State<Api>, Path(hash): Path<String>, _: Authed) -> R<Json<Entry>> {
    let hh = hash_arg("entry", &hash)?;
    let row = api
        .engine
        .entry_by_hash(&hh)
        .await?
        .ok_or_else(|| StationError::NotFound(format!("no entry {hash} here")))?;
    let ch = row.channel;
    let mut entry = views::entries(&api.engine, &ch, vec![row]).await?.remove(0);
    entry.channel = Some(hex(&ch));
    Ok(Json(entry))
}
