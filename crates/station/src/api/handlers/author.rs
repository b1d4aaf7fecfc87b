//! Every request that writes one entry on a channel: messages, acks,
//! requests, decisions, translations, suspend, resume and terminate.

use super::{chan, created, hash_arg, parse, CreatedJson, R};
use crate::api::auth::Authed;
use crate::api::{Act, Api};
use crate::engine::now_ms;
use crate::error::StationError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hotline_api_types::{
    ApiError, Created, NewAck, NewDecision, NewMessage, NewNotice, NewRequest, NewTranslation,
    Reason,
};
use hotline_proto::{Body, OnMiss, Precedence};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The common shape of most requests that write one entry: parse, check the
/// role for what is asked, build the body, author it as the user.
async fn write_entry<T: DeserializeOwned>(
    api: &Api,
    u: &Authed,
    id: &str,
    body: &Bytes,
    act: impl FnOnce(&T) -> Act,
    make: impl FnOnce(T) -> R<Body>,
) -> R<CreatedJson<Created>> {
    let r: T = parse(body)?;
    u.need(act(&r))?;
    let entry = make(r)?;
    let v = api.engine.author(&chan(id)?, entry, u.name()).await?;
    Ok((StatusCode::CREATED, Json(created(&v))))
}

/// The precedence asked for; ROUTINE when left out.
fn precedence_of(r: &NewMessage) -> R<Precedence> {
    match &r.precedence {
        Some(p) => Precedence::parse(p).map_err(|e| {
            StationError::BadRequest(format!("{e}: use flash, immediate, priority or routine"))
        }),
        None => Ok(Precedence::Routine),
    }
}

/// `POST /v1/channels/{id}/messages`: who may send depends on the precedence.
#[utoipa::path(
    post, path = "/v1/channels/{id}/messages", tag = "entries", operation_id = "send_message",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400,
            description = "Not a 64-hex channel id, an unknown precedence, or a bad `reply_to`.",
            body = ApiError),
        (status = 403,
            description = "FLASH needs a principal or the admin; other precedences an operator, a \
                principal or the admin.",
            body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn message(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    let r: NewMessage = parse(&body)?;
    // A bad precedence is a bad request whoever asks; the role check needs a valid one.
    precedence_of(&r)?;
    write_entry(
        &api,
        &u,
        &id,
        &body,
        |r: &NewMessage| Act::Send(precedence_of(r).unwrap_or(Precedence::Flash)),
        |r| {
            let reply_to = r
                .reply_to
                .as_deref()
                .map(|s| hash_arg("reply_to", s))
                .transpose()?;
            Ok(Body::Message {
                precedence: precedence_of(&r)?,
                subject: r.subject,
                text: r.text,
                labels: r.labels,
                reply_to,
            })
        },
    )
    .await
}

/// `POST /v1/channels/{id}/acks`.
#[utoipa::path(
    post, path = "/v1/channels/{id}/acks", tag = "entries", operation_id = "acknowledge",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = NewAck,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400,
            description = "Not a 64-hex channel id or entry hash, or not a counterpart entry to \
                acknowledge.",
            body = ApiError),
        (status = 403, description = "Not an operator, a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn ack(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    write_entry(
        &api,
        &u,
        &id,
        &body,
        |_: &NewAck| Act::Ack,
        |r| {
            Ok(Body::Ack {
                of: hash_arg("of", &r.of)?,
            })
        },
    )
    .await
}

/// `POST /v1/channels/{id}/requests`: the deadline is checked before the channel id.
#[utoipa::path(
    post, path = "/v1/channels/{id}/requests", tag = "entries", operation_id = "request_decision",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = NewRequest,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400,
            description = "Not a 64-hex channel id, a deadline that cannot be read or has passed, \
                an unknown `on_miss`, or an empty question.",
            body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn request(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    u.need(Act::Channel)?;
    let r: NewRequest = parse(&body)?;
    let now = now_ms();
    let deadline = match &r.deadline {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| StationError::BadRequest("deadline: Unix milliseconds".into()))?,
        Value::String(s) => crate::duration::deadline(s, now).map_err(StationError::BadRequest)?,
        _ => {
            return Err(StationError::BadRequest(
                "deadline: a duration like \"10m\", an RFC 3339 time, or Unix milliseconds".into(),
            ))
        }
    };
    if deadline <= now {
        return Err(StationError::BadRequest(
            "the deadline is in the past".into(),
        ));
    }
    let on_miss = match &r.on_miss {
        Some(s) => OnMiss::parse(s).map_err(|e| {
            StationError::BadRequest(format!("{e}: use alert, suspend or terminate"))
        })?,
        None => OnMiss::Alert,
    };
    if r.question.trim().is_empty() {
        return Err(StationError::BadRequest("the question is empty".into()));
    }
    let body = Body::Request {
        question: r.question,
        options: r.options,
        deadline,
        on_miss,
    };
    let v = api.engine.author(&chan(&id)?, body, u.name()).await?;
    Ok((StatusCode::CREATED, Json(created(&v))))
}

/// `POST /v1/channels/{id}/decisions`: the choice is matched to the
/// request's options by text (any case) or 1-based number, and recorded as
/// the option's own text.
#[utoipa::path(
    post, path = "/v1/channels/{id}/decisions", tag = "entries", operation_id = "decide",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = NewDecision,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400,
            description = "Not a 64-hex channel id or request hash, not a request, or a choice \
                that is not one of its options.",
            body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here, or no such request.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn decision(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    u.need(Act::Channel)?;
    let r: NewDecision = parse(&body)?;
    let id = chan(&id)?;
    let req = hash_arg("request", &r.request)?;
    let row = api
        .engine
        .entry_by_hash(&req)
        .await?
        .ok_or_else(|| StationError::NotFound("no such request here".into()))?;
    let env = hotline_proto::Envelope::decode(&row.envelope, usize::MAX)
        .map_err(|e| StationError::Storage(e.to_string()))?;
    let Body::Request { options, .. } = env
        .peek()
        .map_err(|e| StationError::Storage(e.to_string()))?
        .body
    else {
        return Err(StationError::BadRequest(
            "that entry is not a request".into(),
        ));
    };
    let choice = if options.is_empty() {
        r.choice
    } else if let Some(o) = options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(r.choice.trim()))
    {
        o.clone()
    } else if let Some(o) = r
        .choice
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| options.get(i))
    {
        o.clone()
    } else {
        return Err(StationError::BadRequest(format!(
            "choice {:?} is not one of the options: {}",
            r.choice,
            options.join(", ")
        )));
    };
    let body = Body::Decision {
        request: req,
        choice,
        text: r.text,
    };
    let v = api.engine.author(&id, body, u.name()).await?;
    Ok((StatusCode::CREATED, Json(created(&v))))
}

/// `POST /v1/channels/{id}/translations`.
#[utoipa::path(
    post, path = "/v1/channels/{id}/translations", tag = "entries", operation_id = "translate",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = NewTranslation,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400, description = "Not a 64-hex channel id or entry hash.", body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn translation(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    write_entry(
        &api,
        &u,
        &id,
        &body,
        |_: &NewTranslation| Act::Channel,
        |r| {
            Ok(Body::Translation {
                of: hash_arg("of", &r.of)?,
                lang: r.lang,
                text: r.text,
            })
        },
    )
    .await
}

/// Suspend, resume and terminate: the same request with a different body.
async fn lifecycle(
    api: Api,
    u: Authed,
    id: String,
    body: Bytes,
    make: fn(String) -> Body,
) -> R<CreatedJson<Created>> {
    write_entry(
        &api,
        &u,
        &id,
        &body,
        |_: &Reason| Act::Channel,
        |r| Ok(make(r.reason)),
    )
    .await
}

/// `POST /v1/channels/{id}/suspend`: substantive traffic stops until this station resumes.
#[utoipa::path(
    post, path = "/v1/channels/{id}/suspend", tag = "entries", operation_id = "suspend_channel",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = Option<Reason>,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400, description = "Not a 64-hex channel id.", body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn suspend(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    lifecycle(api, u, id, body, |reason| Body::Suspend { reason }).await
}

/// `POST /v1/channels/{id}/resume`: lifts this station's suspension.
#[utoipa::path(
    post, path = "/v1/channels/{id}/resume", tag = "entries", operation_id = "resume_channel",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = Option<Reason>,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400, description = "Not a 64-hex channel id.", body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn resume(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    lifecycle(api, u, id, body, |_| Body::Resume).await
}

/// `POST /v1/channels/{id}/terminate`: ends the channel for good.
#[utoipa::path(
    post, path = "/v1/channels/{id}/terminate", tag = "entries", operation_id = "terminate_channel",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = Option<Reason>,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400, description = "Not a 64-hex channel id.", body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn terminate(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    lifecycle(api, u, id, body, |reason| Body::Terminate { reason }).await
}

/// `POST /v1/channels/{id}/notices`: a structured notice, checked here
/// against its type's schema before it is signed, and again by the peer.
#[utoipa::path(
    post, path = "/v1/channels/{id}/notices", tag = "entries", operation_id = "send_notice",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    request_body = NewNotice,
    responses(
        (status = 201, description = "The entry, committed here.", body = Created),
        (status = 400,
            description = "Not a 64-hex channel id, a type the channel did not agree, or a \
                notice that does not match its type's schema (the faults are named).",
            body = ApiError),
        (status = 403, description = "Not an operator, a principal or the admin.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
        (status = 409,
            description = "The channel's state does not allow it (proposed, suspended, \
                terminated), or the entry is too large for its terms.",
            body = ApiError),
    ),
)]
pub async fn notice(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<CreatedJson<Created>> {
    write_entry(
        &api,
        &u,
        &id,
        &body,
        |_: &NewNotice| Act::Send(Precedence::Routine),
        |r| {
            Ok(Body::Notice {
                notice_type: r.notice_type,
                // Compact, keys in order: the text that is signed.
                notice: r.notice.to_string(),
            })
        },
    )
    .await
}
