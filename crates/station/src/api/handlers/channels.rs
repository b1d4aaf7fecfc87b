//! Channels: `/v1/channels`, `/v1/channels/{id}`, `…/accept`, `…/export`.

use super::{chan, created, parse, CreatedJson, R};
use crate::api::auth::Authed;
use crate::api::{Act, Api};
use crate::error::StationError;
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_api_types::{ApiError, Channel, Channels, Created, OpenChannel};
use hotline_proto::{Body, ContactSchedule, Hash, Precedence, Terms};
use std::time::Duration;

/// How long opening or accepting a channel waits to see its entry delivered.
const DELIVERY_WAIT: Duration = Duration::from_secs(3);

/// `GET /v1/channels`: summaries, without detail fields.
#[utoipa::path(
    get, path = "/v1/channels", tag = "channels", operation_id = "list_channels",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every channel, without detail fields.", body = Channels),
    ),
)]
pub async fn list(State(api): State<Api>, _: Authed) -> R<Json<Channels>> {
    let mut channels = Vec::new();
    for (id, _) in api.engine.all_channels() {
        channels.push(views::channel(&api.engine, &id, false).await?);
    }
    Ok(Json(Channels { channels }))
}

/// `POST /v1/channels`: propose a channel with its terms.
#[utoipa::path(
    post, path = "/v1/channels", tag = "channels", operation_id = "open_channel",
    security(("bearer" = [])),
    request_body = OpenChannel,
    responses(
        (status = 201,
            description = "Proposed; `proposal_delivered` says whether the peer holds it yet.",
            body = Channel),
        (status = 400, description = "A term the protocol does not allow.", body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404,
            description = "No peer of that name, or no channel to reopen.",
            body = ApiError),
        (status = 409,
            description = "The channel to reopen has not ended, or is another peer's.",
            body = ApiError),
    ),
)]
pub async fn open(State(api): State<Api>, u: Authed, body: Bytes) -> R<CreatedJson<Channel>> {
    u.need(Act::Channel)?;
    let r: OpenChannel = parse(&body)?;
    let terms = terms_of(&r, &api)?;
    let reopens = r.reopens.as_deref().map(chan).transpose()?;
    let id = api
        .engine
        .open_channel(&r.peer, terms, reopens, u.name())
        .await?;
    // Wait briefly for the proposal to reach the peer, so that it can be
    // accepted there as soon as this returns; an unreachable peer gets it later.
    let delivered = await_delivery(&api, &id, 1, DELIVERY_WAIT).await?;
    let mut body = views::channel(&api.engine, &id, true).await?;
    body.proposal_delivered = Some(delivered);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET /v1/channels/{id}`: the summary with terms, identities, open requests and alerts.
#[utoipa::path(
    get, path = "/v1/channels/{id}", tag = "channels", operation_id = "show_channel",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    responses(
        (status = 200, description = "The channel with its detail fields.", body = Channel),
        (status = 400, description = "Not a 64-hex channel id.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
    ),
)]
pub async fn show(State(api): State<Api>, Path(id): Path<String>, _: Authed) -> R<Json<Channel>> {
    Ok(Json(views::channel(&api.engine, &chan(&id)?, true).await?))
}

/// `POST /v1/channels/{id}/accept`: only the station the channel was proposed to accepts it.
#[utoipa::path(
    post, path = "/v1/channels/{id}/accept", tag = "channels", operation_id = "accept_channel",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    responses(
        (status = 201,
            description = "Accepted; `delivered` says whether the proposer holds the acceptance \
                yet.",
            body = Created),
        (status = 400, description = "Not a 64-hex channel id.", body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "This station proposed it, or it is not awaiting acceptance.",
            body = ApiError),
    ),
)]
pub async fn accept(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
) -> R<CreatedJson<Created>> {
    u.need(Act::Channel)?;
    let id = chan(&id)?;
    let terms_hash = {
        let c = api.engine.channel(&id)?;
        let c = c.lock().await;
        if c.book().me() != 1 {
            return Err(StationError::Conflict(
                "this station proposed the channel; the counterpart accepts it".into(),
            ));
        }
        c.book().terms().hash()
    };
    let v = api
        .engine
        .author(&id, Body::Accept { terms_hash }, u.name())
        .await?;
    // Wait briefly for the proposer to hold the acceptance, so that when this
    // returns both ends normally agree the channel is active.
    let delivered = await_delivery(&api, &id, v.entry().seq, DELIVERY_WAIT).await?;
    let mut body = created(&v);
    body.delivered = Some(delivered);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET /v1/channels/{id}/export`: the self-contained transcript, JSON Lines.
#[utoipa::path(
    get, path = "/v1/channels/{id}/export", tag = "channels", operation_id = "export_channel",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    responses(
        (status = 200,
            description = "The self-contained transcript, one JSON object a line, ending with a \
                checkpoint this station signs; `hotline transcript verify` checks it.",
            body = String,
            content_type = "application/jsonl"),
        (status = 400, description = "Not a 64-hex channel id.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
    ),
)]
pub async fn export(State(api): State<Api>, Path(id): Path<String>, _: Authed) -> R<Response> {
    let text = api.engine.export(&chan(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], text).into_response())
}

/// Waits until the peer's checkpoint covers our entry `seq`, or `wait` passes.
async fn await_delivery(api: &Api, id: &Hash, seq: u64, wait: Duration) -> R<bool> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut events = api.engine.subscribe();
    loop {
        if api.engine.channel(id)?.lock().await.delivered_upto() >= seq {
            return Ok(true);
        }
        // Any event may be the checkpoint we wait for; re-check on each, or every 50 ms.
        let tick = tokio::time::sleep(Duration::from_millis(50));
        tokio::select! {
            _ = events.recv() => {}
            _ = tick => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(false),
        }
    }
}

/// The terms a proposal asks for: the protocol's defaults, with each given field checked and applied.
fn terms_of(r: &OpenChannel, api: &Api) -> R<Terms> {
    let mut t = Terms::default();
    match (&r.contact_every, &r.contact_at) {
        (Some(_), Some(_)) => {
            return Err(StationError::BadRequest(
                "give contact_every or contact_at, not both".into(),
            ))
        }
        (Some(e), None) => {
            let ms = crate::duration::parse(e).map_err(StationError::BadRequest)?;
            if ms < 100 {
                return Err(StationError::BadRequest(
                    "contact_every must be at least 100ms".into(),
                ));
            }
            t.contact = ContactSchedule::Every(ms);
        }
        (None, Some(at)) => {
            t.contact = ContactSchedule::At(
                crate::duration::parse_times(at).map_err(StationError::BadRequest)?,
            )
        }
        (None, None) => {}
    }
    if let Some(g) = r.contact_grace {
        if !(1.0..=1000.0).contains(&g) {
            return Err(StationError::BadRequest(
                "contact_grace is a factor from 1.0 up".into(),
            ));
        }
        t.contact_grace_permille = (g * 1000.0).round() as u32;
    }
    for (p, d) in &r.ack_windows {
        let p = Precedence::parse(p).map_err(|e| StationError::BadRequest(e.to_string()))?;
        t.ack_windows_ms[p as usize] =
            crate::duration::parse(d).map_err(StationError::BadRequest)?;
    }
    if let Some(m) = r.max_entry_bytes {
        if !(1024..=hotline_proto::MAX_ENTRY_BYTES_CAP).contains(&m) {
            return Err(StationError::BadRequest(format!(
                "max_entry_bytes must be 1024..={}",
                hotline_proto::MAX_ENTRY_BYTES_CAP
            )));
        }
        t.max_entry_bytes = m;
    }
    if let Some(l) = &r.languages {
        t.languages = l.clone();
    }
    for name in r.notice_types.iter().flatten() {
        if t.notice_type(name).is_some() {
            continue;
        }
        let n = api
            .engine
            .notice_type(name)
            .map_err(StationError::BadRequest)?;
        t.notice_types.push(n);
    }
    Ok(t)
}
