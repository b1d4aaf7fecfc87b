//! The station's error type. HTTP status codes are decided once, in `api/error.rs`.

/// What went wrong, in words an operator can act on.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StationError {
    /// The data directory or config is missing or wrong.
    #[error("{0}")]
    Setup(String),
    /// The request is malformed or names something invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The thing named does not exist here.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (channel suspended, name taken, …).
    #[error("{0}")]
    Conflict(String),
    /// No valid token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The token's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// A cap is reached (live event streams …); try again later.
    #[error("{0}")]
    Busy(String),
    /// Storage failed; the station cannot vouch for its state.
    #[error("{0}")]
    Storage(String),
}

impl From<hotline_store::StoreError> for StationError {
    fn from(e: hotline_store::StoreError) -> Self {
        match e {
            hotline_store::StoreError::Exists(w) => {
                StationError::Conflict(format!("{w} already exists"))
            }
            hotline_store::StoreError::Refused(w) => StationError::Conflict(w.to_owned()),
            hotline_store::StoreError::NotFound(w) => {
                StationError::NotFound(format!("{w} not found"))
            }
            e => StationError::Storage(e.to_string()),
        }
    }
}
