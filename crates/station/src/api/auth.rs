//! Who is asking: the bearer token of a request, turned into a [`User`] once,
//! by the [`Authed`] extractor every protected handler takes.

use super::{allowed, Act, Api, User};
use crate::error::StationError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// A request whose token belongs to a current user. A handler that takes it
/// cannot run for an unknown or revoked token: the request is answered 401
/// before the handler is called.
#[derive(Debug, Clone)]
pub struct Authed(pub User, pub hotline_proto::Hash);

impl Authed {
    /// Refuses (403, naming the user's role and what is needed) unless the
    /// user's role allows `act`.
    pub fn need(&self, act: Act) -> Result<(), StationError> {
        let user = &self.0;
        allowed(user.role, act).map_err(|why| {
            StationError::Forbidden(format!(
                "{} has the {} role: {why}",
                user.name,
                user.role.name()
            ))
        })
    }

    /// The user's name, as entries and the audit log record it.
    pub fn name(&self) -> &str {
        &self.0.name
    }
}

/// The one path whose clients cannot send an `Authorization` header:
/// browsers' `EventSource` cannot set headers. It takes a single-use ticket
/// in the URL instead (`POST /v1/events/ticket`), never the token itself, so
/// a URL that ends up in a log or a history grants nothing.
const EVENTS: &str = "/v1/events";

/// The event stream's query string.
#[derive(Deserialize)]
struct TicketQuery {
    /// A single-use ticket, for clients that cannot send the header.
    #[serde(default)]
    ticket: Option<String>,
}

impl FromRequestParts<Api> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Response> {
        let hash = match query_ticket(parts).map_err(IntoResponse::into_response)? {
            Some(ticket) => api
                .guard
                .redeem_ticket(&ticket)
                .ok_or_else(|| StationError::Unauthorized.into_response())?,
            None => hotline_proto::sha256(
                bearer(&parts.headers)
                    .ok_or_else(|| StationError::Unauthorized.into_response())?
                    .as_bytes(),
            ),
        };
        api.user_by_hash(&hash)
            .map(|u| Authed(u, hash))
            .map_err(IntoResponse::into_response)
    }
}

/// The `?ticket=` of the event stream, which wins over the header there. A
/// query that cannot be read is refused as axum's own `Query` refuses it.
fn query_ticket(parts: &Parts) -> Result<Option<String>, QueryRejection> {
    if parts.uri.path() != EVENTS {
        return Ok(None);
    }
    let Query(q) = Query::<TicketQuery>::try_from_uri(&parts.uri)?;
    Ok(q.ticket.map(|t| t.trim().to_owned()))
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl Api {
    /// The current user holding `token`; only token hashes are kept.
    pub(crate) fn user(&self, token: &str) -> Result<User, StationError> {
        self.user_by_hash(&hotline_proto::sha256(token.as_bytes()))
    }

    /// The current user whose token has this hash (revoked or expired: none).
    fn user_by_hash(&self, h: &hotline_proto::Hash) -> Result<User, StationError> {
        let now = crate::engine::now_ms();
        self.users
            .read()
            .unwrap()
            .get(h)
            .filter(|u| u.expires_at.is_none_or(|e| now < e))
            .cloned()
            .ok_or(StationError::Unauthorized)
    }
}
