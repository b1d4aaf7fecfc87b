//! Partner sharing (SPEC §7): `/v1/reports`, `/v1/reports/{id}`,
//! `/v1/reports/{id}/release`, `/v1/sharing`, `/v1/sharing/{peer}/pause`
//! and `…/resume`. Publishing, releasing, pausing and resuming are a
//! principal's work; reading is open to every role.

use super::{parse, CreatedJson, R};
use crate::api::auth::Authed;
use crate::api::{Act, Api};
use crate::engine::share::{content, marking};
use crate::error::StationError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hotline_api_types::{
    ApiError, NewReport, PartnerSharing, PauseSharing, Published, ReleaseReport, ReportSummary,
    Reports, ResumeSharing, Sharing, SharingDone, WithheldFrom,
};
use hotline_core::machine::{Disposition, Report};
use hotline_proto::{hex, parse_hash};
use std::collections::{BTreeMap, HashMap};

/// `POST /v1/reports`: publish to every partner the release guard allows.
#[utoipa::path(
    post, path = "/v1/reports", tag = "sharing", operation_id = "publish_report",
    security(("bearer" = [])),
    request_body = NewReport,
    responses(
        (status = 201, description = "Published: where it went, where it is held, where not and why.",
            body = Published),
        (status = 400, description = "A bad title, code, marking, content type or STIX bundle.",
            body = ApiError),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 409, description = "The same report was published already.", body = ApiError),
    ),
)]
pub async fn publish(State(api): State<Api>, u: Authed, body: Bytes) -> R<CreatedJson<Published>> {
    u.need(Act::Channel)?;
    let b: NewReport = parse(&body)?;
    let title = b.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(StationError::BadRequest(
            "a title is 1–200 characters".into(),
        ));
    }
    let rel_to: Vec<String> = b.rel_to.iter().map(|c| c.trim().to_owned()).collect();
    if rel_to.is_empty()
        || rel_to
            .iter()
            .any(|c| c.is_empty() || c.len() > 32 || c.contains(','))
    {
        return Err(StationError::BadRequest(
            "rel_to: give one or more releasability codes (e.g. [\"UKR\", \"GBR\"])".into(),
        ));
    }
    let m = marking(&b.tlp)?;
    let (ct, bytes) = content(&b.content_type, b.content.into_bytes(), m)?;
    let r = Report::new(
        title,
        m,
        rel_to,
        ct,
        bytes,
        crate::engine::now_ms(),
        u.0.name.clone(),
    );
    let p = api.engine.publish(r).await?;
    Ok((
        StatusCode::CREATED,
        Json(Published {
            id: hex(&p.id),
            released_to: p.released_to,
            held_for: p.held_for,
            withheld: p
                .withheld
                .into_iter()
                .map(|(peer, why)| WithheldFrom { peer, why })
                .collect(),
        }),
    ))
}

async fn summaries(api: &Api, only: Option<hotline_proto::Hash>) -> R<Vec<ReportSummary>> {
    let (reports, disp) = api
        .engine
        .db()
        .read(move |s| Ok((s.reports()?, s.dispositions(only.as_ref())?)))
        .await?;
    let names: HashMap<i64, String> = api
        .engine
        .peers()
        .into_iter()
        .map(|p| (p.row.id, p.row.name))
        .collect();
    let mut by_report: HashMap<_, BTreeMap<String, String>> = HashMap::new();
    for d in disp {
        let name = names
            .get(&d.peer_id)
            .cloned()
            .or_else(|| {
                api.engine
                    .peer_on_record(d.peer_id)
                    .ok()
                    .map(|p| p.row.name)
            })
            .unwrap_or_else(|| format!("peer {}", d.peer_id));
        by_report
            .entry(d.report)
            .or_default()
            .insert(name, d.disposition);
    }
    Ok(reports
        .into_iter()
        .filter(|r| only.is_none_or(|id| id == r.id))
        .map(|r| ReportSummary {
            id: hex(&r.id),
            title: r.title,
            tlp: r.marking.name().into(),
            rel_to: r.rel_to,
            published_at: r.published_at,
            by: r.by,
            dispositions: by_report.remove(&r.id).unwrap_or_default(),
            content: only.map(|_| String::from_utf8_lossy(&r.content).into_owned()),
            content_type: r.content_type,
        })
        .collect())
}

/// `GET /v1/reports`, in publication order.
#[utoipa::path(
    get, path = "/v1/reports", tag = "sharing", operation_id = "list_reports",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every report published here, with its dispositions.", body = Reports),
    ),
)]
pub async fn list(State(api): State<Api>, _: Authed) -> R<Json<Reports>> {
    Ok(Json(Reports {
        reports: summaries(&api, None).await?,
    }))
}

/// `GET /v1/reports/{id}`, with its content.
#[utoipa::path(
    get, path = "/v1/reports/{id}", tag = "sharing", operation_id = "show_report",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The report id, 64 hex.")),
    responses(
        (status = 200, description = "The report, its content and dispositions.", body = ReportSummary),
        (status = 404, description = "No report with that id here.", body = ApiError),
    ),
)]
pub async fn show(
    State(api): State<Api>,
    Path(id): Path<String>,
    _: Authed,
) -> R<Json<ReportSummary>> {
    let h = report_id(&id)?;
    summaries(&api, Some(h))
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| StationError::NotFound(format!("no report {id} here")))
}

fn report_id(id: &str) -> R<hotline_proto::Hash> {
    parse_hash(id)
        .map_err(|_| StationError::BadRequest(format!("{id:?} is not a 64-hex report id")))
}

/// `POST /v1/reports/{id}/release`: explicit release to one partner.
#[utoipa::path(
    post, path = "/v1/reports/{id}/release", tag = "sharing", operation_id = "release_report",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The report id, 64 hex.")),
    request_body = ReleaseReport,
    responses(
        (status = 200, description = "Released to the partner.", body = SharingDone),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No such report or partner.", body = ApiError),
        (status = 409, description = "The release guard refuses it (outside rel_to, paused, …).",
            body = ApiError),
    ),
)]
pub async fn release(
    State(api): State<Api>,
    Path(id): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Json<SharingDone>> {
    u.need(Act::Channel)?;
    let h = report_id(&id)?;
    let b: ReleaseReport = parse(&body)?;
    api.engine.release_report(&h, &b.to, &u.0.name).await?;
    Ok(Json(SharingDone {
        done: format!("report {id} released to {}", b.to),
    }))
}

/// `GET /v1/sharing`: per partner, paused or active, and what is held.
#[utoipa::path(
    get, path = "/v1/sharing", tag = "sharing", operation_id = "sharing_status",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Per partner: code, paused or active, reports held.", body = Sharing),
    ),
)]
pub async fn status(State(api): State<Api>, _: Authed) -> R<Json<Sharing>> {
    let (rows, disp) = api
        .engine
        .db()
        .read(|s| Ok((s.sharing()?, s.dispositions(None)?)))
        .await?;
    let mut peers = api.engine.peers();
    peers.sort_by(|a, b| a.row.name.cmp(&b.row.name));
    let partners = peers
        .into_iter()
        .map(|p| {
            let row = rows.iter().find(|r| r.peer_id == p.row.id);
            PartnerSharing {
                peer: p.row.name.clone(),
                rel: p.row.rel.clone(),
                paused: row.is_some_and(|r| r.paused),
                since: row.map(|r| r.since),
                by: row.map(|r| r.by.clone()),
                held: disp
                    .iter()
                    .filter(|d| d.peer_id == p.row.id && d.disposition == Disposition::Held.word())
                    .count() as u64,
            }
        })
        .collect();
    Ok(Json(Sharing { partners }))
}

/// `POST /v1/sharing/{peer}/pause`.
#[utoipa::path(
    post, path = "/v1/sharing/{peer}/pause", tag = "sharing", operation_id = "pause_sharing",
    security(("bearer" = [])),
    params(("peer" = String, Path, description = "The partner's local name.")),
    request_body = Option<PauseSharing>,
    responses(
        (status = 200, description = "Paused: new reports for it are held.", body = SharingDone),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No partner of that name.", body = ApiError),
        (status = 409, description = "Paused already.", body = ApiError),
    ),
)]
pub async fn pause(
    State(api): State<Api>,
    Path(peer): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Json<SharingDone>> {
    u.need(Act::Channel)?;
    let b: PauseSharing = parse(&body)?;
    api.engine
        .pause_sharing(&peer, &b.reason, &u.0.name)
        .await?;
    Ok(Json(SharingDone {
        done: format!("sharing with {peer} paused: new reports for it are held"),
    }))
}

/// `POST /v1/sharing/{peer}/resume`.
#[utoipa::path(
    post, path = "/v1/sharing/{peer}/resume", tag = "sharing", operation_id = "resume_sharing",
    security(("bearer" = [])),
    params(("peer" = String, Path, description = "The partner's local name.")),
    request_body = Option<ResumeSharing>,
    responses(
        (status = 200, description = "Resumed; what was held is released or dropped.", body = SharingDone),
        (status = 403, description = "Not a principal or the admin.", body = ApiError),
        (status = 404, description = "No partner of that name.", body = ApiError),
        (status = 409, description = "Not paused.", body = ApiError),
    ),
)]
pub async fn resume(
    State(api): State<Api>,
    Path(peer): Path<String>,
    u: Authed,
    body: Bytes,
) -> R<Json<SharingDone>> {
    u.need(Act::Channel)?;
    let b: ResumeSharing = parse(&body)?;
    api.engine
        .resume_sharing(&peer, b.backfill, &u.0.name)
        .await?;
    Ok(Json(SharingDone {
        done: if b.backfill {
            format!("sharing with {peer} resumed; the reports held meanwhile are released")
        } else {
            format!("sharing with {peer} resumed; the reports held meanwhile are dropped")
        },
    }))
}
