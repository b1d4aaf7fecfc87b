//! This station's keys: `/v1/keys` and `/v1/keys/rotate` (SPEC §4 v2).

use super::R;
use crate::api::auth::Authed;
use crate::api::{Act, Api};
use crate::engine::keys::ChannelRotation;
use axum::extract::State;
use axum::Json;
use hotline_api_types::{
    ApiError, ChannelRotated, KeysRotated, RotationEntry, StationKey, StationKeys,
};
use hotline_proto::hex;

/// `GET /v1/keys`: current and past keys, with the entries that rotated to each.
#[utoipa::path(
    get, path = "/v1/keys", tag = "station", operation_id = "list_keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "This station's keys, oldest first.", body = StationKeys),
    ),
)]
pub async fn list(State(api): State<Api>, _: Authed) -> R<Json<StationKeys>> {
    let e = &api.engine;
    let ring = e.keyring();
    let rotations = e.own_rotations().await;
    let current = ring.identity();
    let keys = ring
        .identities()
        .iter()
        .map(|id| StationKey {
            current: *id == current,
            fingerprint: id.fingerprint().to_string(),
            rotations: rotations
                .iter()
                .filter(|r| r.to == *id)
                .map(|r| RotationEntry {
                    channel: hex(&r.channel),
                    entry: hex(&r.entry),
                    seq: r.seq,
                    time: r.time,
                })
                .collect(),
            token: id.token(),
        })
        .collect();
    Ok(Json(StationKeys { keys }))
}

/// `POST /v1/keys/rotate`: new keys, and a `KeyRotation` on every channel
/// not ended; admin only.
#[utoipa::path(
    post, path = "/v1/keys/rotate", tag = "station", operation_id = "rotate_keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rotated: the new keys sign from now on.", body = KeysRotated),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
)]
pub async fn rotate(State(api): State<Api>, u: Authed) -> R<Json<KeysRotated>> {
    u.need(Act::Admin)?;
    let r = api.engine.rotate_keys(&u.0.name).await?;
    let channels = r
        .channels
        .iter()
        .map(|c| match c {
            ChannelRotation::Rotated {
                channel,
                entry,
                seq,
            } => ChannelRotated {
                channel: hex(channel),
                entry: Some(hex(entry)),
                pending: None,
                seq: Some(*seq),
            },
            ChannelRotation::Pending { channel, reason } => ChannelRotated {
                channel: hex(channel),
                entry: None,
                pending: Some(reason.clone()),
                seq: None,
            },
        })
        .collect();
    Ok(Json(KeysRotated {
        channels,
        fingerprint: r.new.fingerprint().to_string(),
        previous_fingerprint: r.old.fingerprint().to_string(),
        token: r.new.token(),
    }))
}
