//! The objects of a collection (TAXII 2.1 §5.3–5.8): the list, one
//! object, its versions, and the manifest. Writing and deleting are refused:
//! reports reach a station over hotline only.

use super::auth::Reader;
use super::query::Query;
use super::reports::{self, Cache, Item};
use super::{channel_of, date_added_headers, taxii, TaxiiError, T};
use crate::api::Api;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::Extension;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// An envelope (TAXII 2.1 §3.7): a page of objects.
#[derive(Serialize)]
struct Envelope<'a> {
    more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objects: Vec<&'a Map<String, Value>>,
}

/// A manifest (TAXII 2.1 §5.6.1): a page of object versions.
#[derive(Serialize)]
struct Manifest<'a> {
    more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objects: Vec<ManifestRecord<'a>>,
}

#[derive(Serialize)]
struct ManifestRecord<'a> {
    id: &'a str,
    date_added: &'a str,
    version: &'a str,
    media_type: &'static str,
}

/// The versions of one object (TAXII 2.1 §5.8.1).
#[derive(Serialize)]
struct Versions<'a> {
    more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    versions: Vec<&'a str>,
}

/// The headers of a page: when its first and last objects were added.
fn headers(items: &[Item<'_>]) -> axum::http::HeaderMap {
    date_added_headers(
        items.first().map(|i| i.date_added().as_str()),
        items.last().map(|i| i.date_added().as_str()),
    )
}

/// `GET …/objects/`.
pub async fn list(
    State(api): State<Api>,
    _: Reader,
    Extension(cache): Extension<Arc<Cache>>,
    Path(collection): Path<String>,
    uri: Uri,
) -> T {
    let ch = channel_of(&api, &collection)?;
    let q = Query::from_uri(&uri)?;
    let reports = reports::of_channel(&api, &cache, &ch).await?;
    let page = q.page(reports::items(&reports));
    Ok(taxii(
        &Envelope {
            more: page.more,
            next: page.next.clone(),
            objects: page.items.iter().map(|i| i.object.json()).collect(),
        },
        headers(&page.items),
    ))
}

/// `GET …/objects/{object}/`: the object's versions that the filters
/// choose (the last by default); 404 when the collection never had it.
pub async fn one(
    State(api): State<Api>,
    _: Reader,
    Extension(cache): Extension<Arc<Cache>>,
    Path((collection, object)): Path<(String, String)>,
    uri: Uri,
) -> T {
    let ch = channel_of(&api, &collection)?;
    let q = Query::from_uri(&uri)?.for_object(&object);
    let reports = reports::of_channel(&api, &cache, &ch).await?;
    let items = reports::items(&reports);
    if !items.iter().any(|i| i.object.id() == object) {
        return Err(TaxiiError::not_found(format!(
            "no object {object} in collection {collection}"
        )));
    }
    let page = q.page(items);
    Ok(taxii(
        &Envelope {
            more: page.more,
            next: page.next.clone(),
            objects: page.items.iter().map(|i| i.object.json()).collect(),
        },
        headers(&page.items),
    ))
}

/// `GET …/objects/{object}/versions/`.
pub async fn versions(
    State(api): State<Api>,
    _: Reader,
    Extension(cache): Extension<Arc<Cache>>,
    Path((collection, object)): Path<(String, String)>,
    uri: Uri,
) -> T {
    let ch = channel_of(&api, &collection)?;
    let q = Query::from_uri(&uri)?.for_object(&object).every_version();
    let reports = reports::of_channel(&api, &cache, &ch).await?;
    let items = reports::items(&reports);
    if !items.iter().any(|i| i.object.id() == object) {
        return Err(TaxiiError::not_found(format!(
            "no object {object} in collection {collection}"
        )));
    }
    let page = q.page(items);
    Ok(taxii(
        &Versions {
            more: page.more,
            next: page.next.clone(),
            versions: page.items.iter().map(|i| i.version().as_str()).collect(),
        },
        headers(&page.items),
    ))
}

/// `GET …/manifest/`.
pub async fn manifest(
    State(api): State<Api>,
    _: Reader,
    Extension(cache): Extension<Arc<Cache>>,
    Path(collection): Path<String>,
    uri: Uri,
) -> T {
    let ch = channel_of(&api, &collection)?;
    let q = Query::from_uri(&uri)?;
    let reports = reports::of_channel(&api, &cache, &ch).await?;
    let page = q.page(reports::items(&reports));
    Ok(taxii(
        &Manifest {
            more: page.more,
            next: page.next.clone(),
            objects: page
                .items
                .iter()
                .map(|i| ManifestRecord {
                    id: i.object.id(),
                    date_added: i.date_added().as_str(),
                    version: i.version().as_str(),
                    media_type: hotline_core::stix::MEDIA_TYPE,
                })
                .collect(),
        },
        headers(&page.items),
    ))
}

/// `POST …/objects/` and `DELETE …/objects/{object}/`: every collection
/// here has `can_write: false`.
pub async fn read_only(_: Reader) -> T {
    Err(TaxiiError::new(
        StatusCode::FORBIDDEN,
        "collections here are read-only: reports reach this station over hotline",
    ))
}
