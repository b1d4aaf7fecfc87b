//! `/v1/audit`: reading the station's own audit log (the reading is logged too).

use super::R;
use crate::api::auth::Authed;
use crate::api::Api;
use crate::error::StationError;
use crate::views;
use axum::extract::{Query, State};
use axum::Json;
use hotline_api_types::{ApiError, AuditLog};
use serde::Deserialize;

/// Which audit lines to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The id of the last line already seen; 0 starts at the beginning.
    #[serde(default)]
    after: i64,
    /// At most this many lines (10,000 when left out).
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /v1/audit?after=&limit=`, oldest first, with the signed head (an
/// export pages through all of it). The query is read before the token.
#[utoipa::path(
    get, path = "/v1/audit", tag = "audit", operation_id = "read_audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200,
            description = "Lines after `after`, oldest first, with the signed head.",
            body = AuditLog),
        (status = 400, description = "A query that cannot be read.", body = ApiError),
    ),
)]
pub async fn list(
    State(api): State<Api>,
    Query(q): Query<AuditQuery>,
    _: Authed,
) -> R<Json<AuditLog>> {
    let limit = q.limit.unwrap_or(10_000).clamp(1, 100_000);
    // The outcome lines still held to ride with a later batch go in first:
    // the log read shows every request answered before this one.
    if let Some(p) = api.engine.db().flush_deferred() {
        p.wait().await?;
    }
    // The head first: a head and its line commit together and lines are only
    // ever appended, so every line it counts is there for this read and the next.
    let (head, rows) = api
        .engine
        .db()
        .read(move |s| Ok((s.audit_head()?, s.audit(q.after, limit)?)))
        .await?;
    let head = head.ok_or_else(|| {
        StationError::Storage("the audit log has no signed head; restart the station".into())
    })?;
    Ok(Json(AuditLog {
        audit: rows.iter().map(views::audit_line).collect(),
        head: views::audit_head(&head, &api.engine.identity()),
    }))
}
