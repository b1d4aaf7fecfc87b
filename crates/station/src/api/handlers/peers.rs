//! Counterpart stations: `/v1/peers` and `/v1/peers/{name}/…` (verify,
//! unverify, set, remove, repin).

use super::{parse, CreatedJson, R};
use crate::api::auth::Authed;
use crate::api::{Act, Api};
use crate::error::StationError;
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hotline_api_types::{
    ApiError, NewPeer, Peer, PeerRemoved, PeerVerified, Peers, RemovePeer, RepinPeer, SetPeer,
    VerifyPeer,
};
use hotline_proto::hex;

/// `GET /v1/peers`, oldest first.
#[utoipa::path(
    get, path = "/v1/peers", tag = "peers", operation_id = "list_peers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every pinned peer.", body = Peers),
    ),
)]
pub async fn list(State(api): State<Api>, _: Authed) -> R<Json<Peers>> {
    let e = &api.engine;
    let mut ps = e.peers();
    ps.sort_by_key(|p| p.row.id);
    Ok(Json(Peers {
        peers: ps.iter().map(|p| views::peer(e, p)).collect(),
    }))
}

/// `POST /v1/peers`: pin a key; admin only.
#[utoipa::path(
    post, path = "/v1/peers", tag = "peers", operation_id = "add_peer",
    security(("bearer" = [])),
    request_body = NewPeer,
    responses(
        (status = 201, description = "Pinned, not yet verified.", body = Peer),
        (status = 400, description = "A bad name, key or address.", body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 409, description = "The name or the key is pinned already.", body = ApiError),
    ),
)]
pub async fn add(State(api): State<Api>, u: Authed, body: Bytes) -> R<CreatedJson<Peer>> {
    u.need(Act::Admin)?;
    let p: NewPeer = parse(&body)?;
    let mut addrs = p.addrs;
    if let Some(a) = p.addr {
        addrs.insert(0, a);
    }
    let psk = p.psk.as_deref().map(parse_psk).transpose()?;
    let e = &api.engine;
    let row = e.add_peer(&p.name, &p.key, addrs, p.rel).await?;
    if let Some(k) = psk {
        e.set_out_of_band_psk(row.id, k).await?;
    }
    let rt = e.peer(row.id)?;
    Ok((StatusCode::CREATED, Json(views::peer(e, &rt))))
}

/// `POST /v1/peers/{name}/verify`: confirm the fingerprint read out of band; admin only.
#[utoipa::path(
    post, path = "/v1/peers/{name}/verify", tag = "peers", operation_id = "verify_peer",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The peer's local name.")),
    request_body = VerifyPeer,
    responses(
        (status = 200, description = "The fingerprint matched: verified.", body = PeerVerified),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No peer of that name.", body = ApiError),
        (status = 409,
            description = "The fingerprint does not match the pinned key.",
            body = ApiError),
    ),
)]
pub async fn verify(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Json<PeerVerified>> {
    u.need(Act::Admin)?;
    let v: VerifyPeer = parse(&body)?;
    if api.engine.verify_peer(&name, &v.fingerprint).await? {
        Ok(Json(PeerVerified {
            name,
            verified: true,
        }))
    } else {
        Err(StationError::Conflict(format!(
            "the fingerprint does not match the key pinned for {name}: do not verify; check the key with the counterpart"
        )))
    }
}

/// `POST /v1/peers/{name}/set`: new addresses or releasability code; admin only.
#[utoipa::path(
    post, path = "/v1/peers/{name}/set", tag = "peers", operation_id = "set_peer",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The peer's local name.")),
    request_body = Option<SetPeer>,
    responses(
        (status = 200, description = "The peer as it is now.", body = Peer),
        (status = 400, description = "A bad address or code.", body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No peer of that name.", body = ApiError),
    ),
)]
pub async fn set(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Json<Peer>> {
    u.need(Act::Admin)?;
    let b: SetPeer = parse(&body)?;
    let psk = b.psk.as_deref().map(parse_psk).transpose()?;
    let e = &api.engine;
    let row = if psk.is_some() && b.addrs.is_none() && b.rel.is_none() {
        e.peer_by_name(&name)?.row
    } else {
        e.set_peer(&name, b.addrs, b.rel).await?
    };
    if let Some(k) = psk {
        e.set_out_of_band_psk(row.id, k).await?;
    }
    let rt = e.peer(row.id)?;
    Ok(Json(views::peer(e, &rt)))
}

/// `POST /v1/peers/{name}/unverify`: withdraw a fingerprint confirmation; admin only.
#[utoipa::path(
    post, path = "/v1/peers/{name}/unverify", tag = "peers", operation_id = "unverify_peer",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The peer's local name.")),
    responses(
        (status = 200, description = "No longer verified.", body = PeerVerified),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No peer of that name.", body = ApiError),
    ),
)]
pub async fn unverify(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
) -> R<Json<PeerVerified>> {
    u.need(Act::Admin)?;
    api.engine.unverify_peer(&name).await?;
    Ok(Json(PeerVerified {
        name,
        verified: false,
    }))
}

/// `POST /v1/peers/{name}/remove`: unpin a peer; admin only. An empty body
/// is `{"force": false}`.
#[utoipa::path(
    post, path = "/v1/peers/{name}/remove", tag = "peers", operation_id = "remove_peer",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The peer's local name.")),
    request_body = Option<RemovePeer>,
    responses(
        (status = 200, description = "Unpinned; its channels keep their record.", body = PeerRemoved),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No peer of that name.", body = ApiError),
        (status = 409,
            description = "A channel with it is not terminated (remove with force).",
            body = ApiError),
    ),
)]
pub async fn remove(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Json<PeerRemoved>> {
    u.need(Act::Admin)?;
    let b: RemovePeer = parse(&body)?;
    let left = api.engine.remove_peer(&name, b.force).await?;
    Ok(Json(PeerRemoved {
        name,
        removed: true,
        left_open: left.iter().map(|c| hex(c)).collect(),
    }))
}

/// `POST /v1/peers/{name}/repin`: replace the peer's key outside rotation;
/// admin only. The new key is pinned unverified.
#[utoipa::path(
    post, path = "/v1/peers/{name}/repin", tag = "peers", operation_id = "repin_peer",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The peer's local name.")),
    request_body = RepinPeer,
    responses(
        (status = 200, description = "The new key, pinned unverified.", body = Peer),
        (status = 400, description = "Not an identity token, or this station's own key.", body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No peer of that name.", body = ApiError),
        (status = 409,
            description = "The key is the one pinned already, or pinned for another peer.",
            body = ApiError),
    ),
)]
pub async fn repin(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Json<Peer>> {
    u.need(Act::Admin)?;
    let b: RepinPeer = parse(&body)?;
    let e = &api.engine;
    let row = e.repin_peer(&name, &b.key).await?;
    let rt = e.peer(row.id)?;
    Ok(Json(views::peer(e, &rt)))
}

/// An out-of-band pre-shared key as the API takes it: 64 hex digits.
fn parse_psk(hex: &str) -> Result<[u8; 32], StationError> {
    let bad = || {
        StationError::BadRequest(
            "psk: give 64 hex digits (32 bytes), the same key on both stations".into(),
        )
    };
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.trim().as_bytes())
        .map_err(|_| bad())?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
    if key == [0; 32] {
        return Err(StationError::BadRequest(
            "psk: all zeros is the key a pair without one uses; give a random one (head -c 32 /dev/urandom)".into(),
        ));
    }
    Ok(key)
}
