//! A read-only TAXII 2.1 server on the API address (SPEC §7): received
//! reports, one collection per channel, so that threat-intelligence tools
//! can read what partners shared (docs/SHARING.md).
//!
//! A collection serves the objects of the STIX 2.1 bundles its channel's
//! counterpart sent as `report` entries; a bundle that fails
//! [`validate_bundle`](hotline_core::stix::validate_bundle) is not served. An
//! object's `date_added` is when its report was stored here.
//!
//! This file holds the routes, the discovery, API-root and collection
//! resources, and the TAXII error message; [`auth`] decides who reads and
//! what media type they accept, [`reports`] turns entries into objects,
//! [`query`] filters and pages them, [`objects`] serves them.

mod auth;
mod objects;
mod query;
mod reports;

use super::Api;
use crate::error::StationError;
use auth::Reader;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use hotline_proto::{hex, parse_hash, Hash};
use serde::Serialize;
use std::sync::Arc;

/// The media type of every TAXII 2.1 answer (TAXII 2.1 §1.6.8).
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// The one API root, as a path on the API address.
pub const API_ROOT: &str = "/taxii2/hotline/";

/// The routes; merged into the API's router, behind its host guard and audit layer.
pub fn routes() -> Router<Api> {
    let c = "/taxii2/hotline/collections/{id}";
    Router::new()
        .route("/taxii2/", get(discovery))
        .route(API_ROOT, get(api_root))
        .route("/taxii2/hotline/collections/", get(collections))
        .route(&format!("{c}/"), get(collection))
        .route(
            &format!("{c}/objects/"),
            get(objects::list).post(objects::read_only),
        )
        .route(
            &format!("{c}/objects/{{object}}/"),
            get(objects::one).delete(objects::read_only),
        )
        .route(
            &format!("{c}/objects/{{object}}/versions/"),
            get(objects::versions),
        )
        .route(&format!("{c}/manifest/"), get(objects::manifest))
        // Parsed bundles, kept per station: each station builds its router once.
        .layer(Extension(Arc::new(reports::Cache::default())))
}

/// A TAXII error message (TAXII 2.1 §3.6.1) with its status.
#[derive(Debug)]
pub struct TaxiiError {
    /// The HTTP status, decided by `api/error.rs` for station errors.
    status: StatusCode,
    /// A sentence for a person.
    description: String,
}

impl TaxiiError {
    fn new(status: StatusCode, description: impl Into<String>) -> TaxiiError {
        TaxiiError {
            status,
            description: description.into(),
        }
    }

    /// A 400 for a query the server cannot read.
    fn bad_request(description: impl Into<String>) -> TaxiiError {
        TaxiiError::new(StatusCode::BAD_REQUEST, description)
    }

    /// A 404.
    fn not_found(description: impl Into<String>) -> TaxiiError {
        TaxiiError::new(StatusCode::NOT_FOUND, description)
    }
}

impl From<StationError> for TaxiiError {
    fn from(e: StationError) -> TaxiiError {
        TaxiiError::new(super::error::status(&e), e.to_string())
    }
}

/// The body of a TAXII error; `http_status` is a string in TAXII 2.1.
#[derive(Serialize)]
struct ErrorBody<'a> {
    title: &'a str,
    description: &'a str,
    http_status: String,
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            title: self.status.canonical_reason().unwrap_or("Error"),
            description: &self.description,
            http_status: self.status.as_u16().to_string(),
        };
        let mut resp = taxii(&body, HeaderMap::new());
        *resp.status_mut() = self.status;
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="hotline""#),
            );
        }
        resp
    }
}

/// What a TAXII handler returns.
type T = Result<Response, TaxiiError>;

/// A 200 with a TAXII body and extra headers.
fn taxii(body: &impl Serialize, headers: HeaderMap) -> Response {
    // Plain data with string keys: serialising cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
        bytes,
    )
        .into_response();
    resp.headers_mut().extend(headers);
    resp
}

/// `X-TAXII-Date-Added-First` and `-Last` of a page (TAXII 2.1 §3.3.1).
fn date_added_headers(first: Option<&str>, last: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, v) in [
        ("x-taxii-date-added-first", first),
        ("x-taxii-date-added-last", last),
    ] {
        if let Some(v) = v.and_then(|v| HeaderValue::from_str(v).ok()) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    h
}

/// The discovery resource (TAXII 2.1 §4.1.1).
#[derive(Serialize)]
struct Discovery {
    title: String,
    description: &'static str,
    default: &'static str,
    /// Relative, as TAXII 2.1 allows: the API has no name it knows itself by.
    api_roots: [&'static str; 1],
}

/// `GET /taxii2/`.
async fn discovery(State(api): State<Api>, _: Reader) -> T {
    Ok(taxii(
        &Discovery {
            title: format!("hotline station {}", api.engine.name()),
            description: "Reports received from partners over hotline, one collection per channel.",
            default: API_ROOT,
            api_roots: [API_ROOT],
        },
        HeaderMap::new(),
    ))
}

/// The API root resource (TAXII 2.1 §4.2.1).
#[derive(Serialize)]
struct ApiRoot {
    title: &'static str,
    description: &'static str,
    versions: [&'static str; 1],
    max_content_length: usize,
}

/// `GET /taxii2/hotline/`.
async fn api_root(_: Reader) -> T {
    Ok(taxii(
        &ApiRoot {
            title: "hotline: received reports",
            description: "Read-only: reports are published with hotline, not over TAXII.",
            versions: [MEDIA_TYPE],
            max_content_length: super::MAX_BODY,
        },
        HeaderMap::new(),
    ))
}

/// A collection resource (TAXII 2.1 §5.2.1).
#[derive(Serialize)]
struct Collection {
    id: String,
    title: String,
    description: String,
    /// The channel id: usable in URLs instead of `id`.
    alias: String,
    can_read: bool,
    can_write: bool,
    media_types: [&'static str; 1],
}

#[derive(Serialize)]
struct Collections {
    collections: Vec<Collection>,
}

/// A channel's collection id: its first 16 bytes as a version-4 UUID. A
/// channel id is a SHA-256, so those bytes are as random as a v4 UUID's;
/// the same channel has the same collection at both stations and across
/// restarts, and the id reads like the channel's (`3f2a9c1e-…` ↔ `3f2a9c1e…`).
pub fn collection_id(channel: &Hash) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&channel[..16]);
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The channel a collection segment names: its UUID or the channel's hex id.
fn channel_of(api: &Api, segment: &str) -> Result<Hash, TaxiiError> {
    let found = match parse_hash(segment) {
        Ok(h) => api.engine.channel(&h).ok().map(|_| h),
        Err(_) => api
            .engine
            .channel_ids()
            .into_iter()
            .find(|h| collection_id(h).eq_ignore_ascii_case(segment)),
    };
    found.ok_or_else(|| TaxiiError::not_found(format!("no collection {segment} here")))
}

/// The collection of a channel.
async fn describe(api: &Api, ch: &Hash) -> Result<Collection, TaxiiError> {
    let peer_id = api.engine.channel(ch)?.lock().await.peer_id();
    let peer = api.engine.peer_on_record(peer_id)?.row.name;
    Ok(Collection {
        id: collection_id(ch),
        title: format!("Reports from {peer}"),
        description: format!(
            "STIX 2.1 reports received from {peer} on hotline channel {}",
            hex(ch)
        ),
        alias: hex(ch),
        can_read: true,
        can_write: false,
        media_types: [hotline_core::stix::MEDIA_TYPE],
    })
}

/// `GET …/collections/`: one per channel, by peer name.
async fn collections(State(api): State<Api>, _: Reader) -> T {
    let mut all = Vec::new();
    for ch in api.engine.channel_ids() {
        all.push(describe(&api, &ch).await?);
    }
    all.sort_by(|a, b| (&a.title, &a.alias).cmp(&(&b.title, &b.alias)));
    Ok(taxii(&Collections { collections: all }, HeaderMap::new()))
}

/// `GET …/collections/{id}/`.
async fn collection(State(api): State<Api>, _: Reader, Path(id): Path<String>) -> T {
    let ch = channel_of(&api, &id)?;
    Ok(taxii(&describe(&api, &ch).await?, HeaderMap::new()))
}
