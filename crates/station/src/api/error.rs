//! The one place a [`StationError`] becomes an HTTP status: every handler,
//! the authentication extractor, the audit layer and the TAXII server
//! answer through here; and the layer that gives axum's own refusals the
//! same body.

use crate::error::StationError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_api_types::ApiError;

/// The longest refusal text of axum's that is carried over into an [`ApiError`].
const REFUSAL_TEXT: usize = 4096;

/// The status of an error, for the JSON API and the TAXII server alike.
pub(super) fn status(e: &StationError) -> StatusCode {
    match e {
        StationError::BadRequest(_) => StatusCode::BAD_REQUEST,
        StationError::NotFound(_) => StatusCode::NOT_FOUND,
        StationError::Conflict(_) => StatusCode::CONFLICT,
        StationError::Unauthorized => StatusCode::UNAUTHORIZED,
        StationError::Forbidden(_) => StatusCode::FORBIDDEN,
        StationError::Storage(_) | StationError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        StationError::Setup(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for StationError {
    fn into_response(self) -> Response {
        let status = status(&self);
        let body = ApiError {
            error: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

/// Gives every refusal the body the contract promises, `{"error": …}`: the
/// refusals axum makes before a handler runs (a path or query it cannot read,
/// a body over the limit, no such route or method) and the host guard's come
/// as plain text or nothing. Their status stays; their words are kept.
pub(super) async fn json_refusal(resp: Response) -> Response {
    let status = resp.status();
    // JSON already, the API's own or TAXII's (`application/taxii+json`).
    let json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(b"application/json") || v.windows(5).any(|w| w == b"+json")
    });
    if json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // These bodies are a line of axum's, or empty; a longer one is told by its status alone.
    let text = axum::body::to_bytes(body, REFUSAL_TEXT)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let error = match status {
        _ if !text.is_empty() => text,
        StatusCode::NOT_FOUND => {
            "no such route; GET /v1/openapi.json lists the API's routes".to_owned()
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            "this route does not take that method; GET /v1/openapi.json lists what it takes"
                .to_owned()
        }
        _ => status.canonical_reason().unwrap_or("refused").to_owned(),
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, Json(ApiError { error })).into_response()
}
