//! The courier transport: a bundle written for a peer, and one from a peer
//! taken in (`engine/bundle.rs`).

use super::{parse, R};
use crate::api::auth::Authed;
use crate::api::{Act, Api};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_api_types::{ApiError, BundleChannel, BundleImported, BundleRequest};
use hotline_proto::{hex, Precedence};

/// The header that says how many of our entries a bundle carries.
pub const ENTRIES_HEADER: &str = "hotline-bundle-entries";
/// The header that names a bundle: SHA-256 of the file, 64 hex.
pub const HASH_HEADER: &str = "hotline-bundle-hash";

/// The body limit of `POST /v1/bundles`: a whole bundle, up to
/// [`BUNDLE_MAX_BYTES`](crate::engine::bundle::BUNDLE_MAX_BYTES), rather
/// than the API's 2 MiB.
pub fn body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(crate::engine::bundle::BUNDLE_MAX_BYTES as usize)
}

/// `POST /v1/peers/{name}/bundle`: a bundle sealed to the peer.
#[utoipa::path(
    post, path = "/v1/peers/{name}/bundle", tag = "peers", operation_id = "export_bundle",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The peer's local name.")),
    request_body = Option<BundleRequest>,
    responses(
        (status = 200,
            description = "The bundle file, sealed to the peer's key: our entries of every \
                channel with it that it has not proven it holds (or those after `since`), and a \
                fresh checkpoint of ours over each. The `hotline-bundle-entries` header says how \
                many entries it carries, `hotline-bundle-hash` names it.",
            body = Vec<u8>,
            content_type = "application/octet-stream"),
        (status = 400, description = "`since` is not a cursor.", body = ApiError),
        (status = 403, description = "Not an operator, a principal or the admin.", body = ApiError),
        (status = 404, description = "No peer of that name.", body = ApiError),
        (status = 409, description = "The bundle would be over 128 MiB: write it in parts with `since`.", body = ApiError),
    ),
)]
pub async fn export(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Response> {
    u.need(Act::Send(Precedence::Routine))?;
    let r: BundleRequest = parse(&body)?;
    // Cursors are what storage counts with: a signed 64-bit number.
    if r.since.is_some_and(|c| c > i64::MAX as u64) {
        return Err(crate::error::StationError::BadRequest(
            "since is a cursor, at most 9223372036854775807".into(),
        ));
    }
    let b = api.engine.bundle_export(&name, r.since).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static(ENTRIES_HEADER),
                b.entries.to_string(),
            ),
            (header::HeaderName::from_static(HASH_HEADER), hex(&b.hash)),
        ],
        b.bytes,
    )
        .into_response())
}

/// `POST /v1/bundles`: takes in a bundle a peer sealed to this station.
#[utoipa::path(
    post, path = "/v1/bundles", tag = "peers", operation_id = "import_bundle",
    security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The bundle file as the peer's station wrote it."),
    responses(
        (status = 200,
            description = "What it did: entries new here and already held, per channel. \
                Taking the same bundle again, or an older one, adds nothing.",
            body = BundleImported),
        (status = 400,
            description = "Not a bundle, sealed to another station or by one not pinned here, \
                damaged, or refused by validation (a bad-input or equivocation alert says why).",
            body = ApiError),
        (status = 403, description = "Not an operator, a principal or the admin.", body = ApiError),
    ),
)]
pub async fn import(State(api): State<Api>, u: Authed, body: Bytes) -> R<Json<BundleImported>> {
    u.need(Act::Send(Precedence::Routine))?;
    let r = api.engine.bundle_import(&body).await?;
    Ok(Json(BundleImported {
        bundle: hex(&r.hash),
        channels: r
            .channels
            .into_iter()
            .map(|c| BundleChannel {
                channel: hex(&c.channel),
                gap_from: c.gap_from,
                held: c.held,
                new: c.new,
                peer_holds: c.peer_holds,
            })
            .collect(),
        duplicates: r.duplicates,
        new: r.new,
        peer: r.peer,
    }))
}
