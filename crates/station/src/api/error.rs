//! The one place a [`StationError`] becomes an HTTP status: every handler,
//! the authentication extractor, the audit layer and the TAXII server
//! answer through here.

use crate::error::StationError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_api_types::ApiError;

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
