//! `/v1/alerts`.

use super::R;
use crate::api::auth::Authed;
use crate::api::Api;
use crate::views;
use axum::extract::{Query, State};
use axum::Json;
use hotline_api_types::Alerts;
use hotline_store::Store;
use serde::Deserialize;

/// Which alerts to list.
#[derive(Deserialize)]
pub struct AlertQuery {
    /// Only those not yet cleared.
    #[serde(default)]
    open: Option<bool>,
    /// At most this many, newest first (1000 when left out).
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /v1/alerts?open=&limit=`. The query is read before the token, so a
/// malformed one is refused (400) whoever asks.
pub async fn list(
    State(api): State<Api>,
    Query(q): Query<AlertQuery>,
    _: Authed,
) -> R<Json<Alerts>> {
    let open = q.open.unwrap_or(false);
    let limit = q.limit.unwrap_or(1000).clamp(1, 100_000);
    let rows = api.engine.db().read(move |s| s.alerts(open, limit)).await?;
    Ok(Json(Alerts {
        alerts: rows.iter().map(views::alert).collect(),
    }))
}
