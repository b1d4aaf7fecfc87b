//! Who is asking: the bearer token of a request, turned into a [`User`] once,
//! by the [`Authed`] extractor every protected handler takes.

use super::{allowed, Act, Api, User};
use crate::error::StationError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// A request whose token belongs to a current user. A handler that takes it
/// cannot run for an unknown or revoked token: the request is answered 401
/// before the handler is called.
#[derive(Debug, Clone)]
pub struct Authed(pub User);

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
/// browsers' `EventSource` cannot set headers.
const EVENTS: &str = "/v1/events";

/// The event stream's query string.
#[derive(Deserialize)]
struct TokenQuery {
    /// The bearer token, for clients that cannot send the header.
    #[serde(default)]
    token: Option<String>,
}

impl FromRequestParts<Api> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Response> {
        let token = match query_token(parts).map_err(IntoResponse::into_response)? {
            Some(t) => t,
            None => bearer(&parts.headers)
                .ok_or_else(|| StationError::Unauthorized.into_response())?
                .to_owned(),
        };
        api.user(&token)
            .map(Authed)
            .map_err(IntoResponse::into_response)
    }
}

/// The `?token=` of the event stream, which wins over the header there. A
/// query that cannot be read is refused as axum's own `Query` refuses it; a
/// token that could not travel in a header is ignored.
fn query_token(parts: &Parts) -> Result<Option<String>, QueryRejection> {
    if parts.uri.path() != EVENTS {
        return Ok(None);
    }
    let Query(q) = Query::<TokenQuery>::try_from_uri(&parts.uri)?;
    Ok(q.token
        .filter(|t| HeaderValue::try_from(format!("Bearer {t}")).is_ok())
        .map(|t| t.trim().to_owned()))
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl Api {
    /// The current user holding `token`; only token hashes are kept.
    pub(super) fn user(&self, token: &str) -> Result<User, StationError> {
        let h = hotline_proto::sha256(token.as_bytes());
        self.users
            .read()
            .unwrap()
            .get(&h)
            .cloned()
            .ok_or(StationError::Unauthorized)
    }
}
