//! One file per resource. Each handler takes [`Authed`](super::auth::Authed)
//! unless the route is open, reads its input with the helpers here, and
//! answers with a type of `hotline-api-types`.
//!
//! The order of checks in a handler is part of the API: a request that is
//! both unauthorised and malformed gets the status it always got, so the
//! extractors and checks keep their order (token, role, body) per route.

pub mod alerts;
pub mod audit;
pub mod author;
pub mod bundle;
pub mod channels;
pub mod entries;
pub mod events;
pub mod keys;
pub mod metrics;
pub mod peers;
pub mod share;
pub mod station;
pub mod users;
pub mod witnesses;

use crate::error::StationError;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::Json;
use hotline_api_types::Created;
use hotline_proto::{hex, parse_hash, Hash};
use serde::de::DeserializeOwned;

/// What a handler returns: its body, or the error [`super::error`] maps to a status.
type R<T> = Result<T, StationError>;

/// A 201 Created with its body: the answer of every POST that makes something.
type CreatedJson<T> = (StatusCode, Json<T>);

/// Reads a JSON body. The body is taken as bytes rather than with axum's
/// `Json` so that a missing or malformed body gets the station's own words,
/// and an empty body means `{}`. Every body is an object: serde would also
/// read a struct from an array of its fields in order (`[null, null]`),
/// which the API does not promise and nobody should come to rely on.
fn parse<T: DeserializeOwned>(body: &Bytes) -> R<T> {
    if body.is_empty() {
        return serde_json::from_str("{}")
            .map_err(|e| StationError::BadRequest(format!("a JSON body is required: {e}")));
    }
    // JSON's whitespace, then the object's brace.
    let first = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(StationError::BadRequest(
            "malformed JSON body: a JSON object is required".into(),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| StationError::BadRequest(format!("malformed JSON body: {e}")))
}

/// A channel id from the path, refused (400) unless it is 64 hex.
fn chan(id: &str) -> R<Hash> {
    parse_hash(id)
        .map_err(|_| StationError::BadRequest(format!("{id:?} is not a 64-hex channel id")))
}

/// An entry hash from the path or a body field named `what`.
fn hash_arg(what: &str, s: &str) -> R<Hash> {
    parse_hash(s)
        .map_err(|_| StationError::BadRequest(format!("{what}: {s:?} is not a 64-hex entry hash")))
}

/// The answer to a request that wrote one entry.
fn created(v: &hotline_core::VerifiedEntry) -> Created {
    Created {
        delivered: None,
        hash: hex(&v.hash()),
        kind: v.entry().body.kind().name().into(),
        lamport: v.entry().lamport,
        seq: v.entry().seq,
    }
}
