//! `/v1/audit`: reading the station's own audit log (the reading is logged too).

use super::R;
use crate::api::auth::Authed;
use crate::api::Api;
use crate::views;
use axum::extract::{Query, State};
use axum::Json;
use hotline_api_types::AuditLog;
use hotline_store::Store;
use serde::Deserialize;

/// Which audit lines to list.
#[derive(Deserialize)]
pub struct AuditQuery {
    /// The id of the last line already seen; 0 starts at the beginning.
    #[serde(default)]
    after: i64,
    /// At most this many lines (10,000 when left out).
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /v1/audit?after=&limit=`, oldest first. The query is read before the token.
pub async fn list(
    State(api): State<Api>,
    Query(q): Query<AuditQuery>,
    _: Authed,
) -> R<Json<AuditLog>> {
    let limit = q.limit.unwrap_or(10_000).clamp(1, 100_000);
    let rows = api
        .engine
        .db()
        .read(move |s| s.audit(q.after, limit))
        .await?;
    Ok(Json(AuditLog {
        audit: rows.iter().map(views::audit_line).collect(),
    }))
}
