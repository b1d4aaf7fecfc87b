//! The one place a [`StationError`] becomes an HTTP status: every handler,
//! the authentication extractor and the audit layer answer through here.

use crate::error::StationError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_api_types::ApiError;

impl IntoResponse for StationError {
    fn into_response(self) -> Response {
        let status = match &self {
            StationError::BadRequest(_) => StatusCode::BAD_REQUEST,
            StationError::NotFound(_) => StatusCode::NOT_FOUND,
            StationError::Conflict(_) => StatusCode::CONFLICT,
            StationError::Unauthorized => StatusCode::UNAUTHORIZED,
            StationError::Forbidden(_) => StatusCode::FORBIDDEN,
            StationError::Storage(_) | StationError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            StationError::Setup(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ApiError {
            error: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
