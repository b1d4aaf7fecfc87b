//! `/v1/alerts`, and the equivocation evidence behind `equivocation` alerts.

use super::{parse, R};
use crate::api::auth::Authed;
use crate::api::Api;
use crate::error::StationError;
use crate::views;
use axum::extract::{Query, State};
use axum::Json;
use hotline_api_types::{AckAlert, Alert, Alerts, ApiError, Evidence, EvidenceList};
use hotline_proto::hex;
use serde::Deserialize;

/// Which alerts to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
#[utoipa::path(
    get, path = "/v1/alerts", tag = "alerts", operation_id = "list_alerts",
    security(("bearer" = [])),
    params(AlertQuery),
    responses(
        (status = 200, description = "Alerts, newest first.", body = Alerts),
        (status = 400, description = "A query that cannot be read.", body = ApiError),
    ),
)]
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

/// `GET /v1/evidence`: every piece of equivocation evidence, oldest first.
#[utoipa::path(
    get, path = "/v1/evidence", tag = "alerts", operation_id = "list_evidence",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every piece of evidence, oldest first.", body = EvidenceList),
    ),
)]
pub async fn evidence_all(State(api): State<Api>, _: Authed) -> R<Json<EvidenceList>> {
    evidence(&api, None).await
}

/// `GET /v1/channels/{id}/evidence`.
#[utoipa::path(
    get, path = "/v1/channels/{id}/evidence", tag = "alerts", operation_id = "channel_evidence",
    security(("bearer" = [])),
    params(
        ("id" = String, Path,
            description = "The channel id, 64 hex.",
            pattern = "^[0-9a-fA-F]{64}$"),
    ),
    responses(
        (status = 200, description = "The channel's evidence, oldest first.", body = EvidenceList),
        (status = 400, description = "Not a 64-hex channel id.", body = ApiError),
        (status = 404, description = "No such channel here.", body = ApiError),
    ),
)]
pub async fn evidence_of(
    State(api): State<Api>,
    axum::extract::Path(id): axum::extract::Path<String>,
    _: Authed,
) -> R<Json<EvidenceList>> {
    let id = hotline_proto::parse_hash(&id)
        .map_err(|_| StationError::BadRequest("a channel id is 64 hex digits".into()))?;
    api.engine.channel(&id)?;
    evidence(&api, Some(id)).await
}

async fn evidence(api: &Api, channel: Option<hotline_proto::Hash>) -> R<Json<EvidenceList>> {
    let rows = api
        .engine
        .db()
        .read(move |s| s.evidence(channel.as_ref()))
        .await?;
    let b64 = |b: &[u8]| data_encoding::BASE64.encode(b);
    let hash = |b: &[u8]| {
        if b.is_empty() {
            String::new()
        } else {
            hex(&hotline_proto::sha256(b))
        }
    };
    Ok(Json(EvidenceList {
        evidence: rows
            .iter()
            .map(|e| Evidence {
                author: e.author,
                channel: hex(&e.channel),
                conflicting: b64(&e.conflicting),
                conflicting_hash: hash(&e.conflicting),
                found_at: e.at,
                seq: e.seq,
                stored: b64(&e.stored),
                stored_hash: hash(&e.stored),
            })
            .collect(),
    }))
}

/// Longest note on an acknowledgement, in characters.
const NOTE_CHARS: usize = 1000;

/// `POST /v1/alerts/{id}/ack`: a person says someone is on it, with a note.
/// The alert stays open until its cause goes; acknowledging again replaces
/// the note. Operators and above; audited like every change.
#[utoipa::path(
    post, path = "/v1/alerts/{id}/ack", tag = "alerts", operation_id = "acknowledge_alert",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The alert's id.")),
    request_body = Option<AckAlert>,
    responses(
        (status = 200,
            description = "The alert with its acknowledgement; it stays open until its cause goes.",
            body = Alert),
        (status = 400,
            description = "Not an alert id, or a note too long or with control characters.",
            body = ApiError),
        (status = 403, description = "Not an operator, a principal or the admin.", body = ApiError),
        (status = 404, description = "No such alert.", body = ApiError),
    ),
)]
pub async fn ack(
    State(api): State<Api>,
    axum::extract::Path(id): axum::extract::Path<String>,
    u: Authed,
    body: axum::body::Bytes,
) -> R<Json<Alert>> {
    u.need(crate::api::Act::Ack)?;
    let id: i64 = id
        .parse()
        .map_err(|_| StationError::BadRequest("an alert id is a number".into()))?;
    let b: AckAlert = parse(&body)?;
    if b.note.chars().count() > NOTE_CHARS || b.note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(StationError::BadRequest(format!(
            "a note is at most {NOTE_CHARS} characters, without control characters other than newlines"
        )));
    }
    let by = u.name().to_owned();
    let row = api
        .engine
        .db()
        .call(move |s| s.ack_alert(id, &by, &b.note, crate::engine::now_ms()))
        .await?;
    let v = views::alert_json(&row);
    api.engine.emit(
        serde_json::json!({"type": "alert", "cleared": row.cleared_at.is_some(), "acked": true, "alert": v}),
    );
    Ok(Json(views::alert(&row)))
}
