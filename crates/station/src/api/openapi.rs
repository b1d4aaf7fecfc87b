//! The API's contract: an OpenAPI 3.1 document generated from the body types
//! of `hotline-api-types` and the `#[utoipa::path]` on each handler, served
//! at `GET /v1/openapi.json` and committed as `docs/openapi.json` (a test
//! keeps the two equal; `hotline openapi` prints it).
//!
//! A handler's annotation lists what the handler itself answers. What every
//! route answers because of the layers in front of the handlers (the host
//! guard, the token check, the body limit, the audit log) is added here, once,
//! by [`Layers`], by the same rules the layers apply: a route that needs a
//! token may answer 401; one that reads a body may answer 413, and 400 for a
//! body that cannot be read; and so on.

use super::handlers::{alerts, audit, author, channels, entries, events, metrics, peers};
use super::handlers::{bundle, keys, share, station, users, witnesses};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema};

/// The document: every `/v1/…` route and `/metrics`. The console's own
/// files (`/`, `/console.js`, `/console.css`) are not part of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hotline station API",
        description = "The local HTTP API of a hotline station (SPEC §8): JSON over loopback, \
            a bearer token per user, roles enforced by the station, every action in its audit log. \
            Every refusal (4xx) and failure (5xx) has an `ApiError` body saying what to do.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        station::health,
        station::identity,
        station::whoami,
        station::openapi,
        keys::list,
        keys::rotate,
        peers::list,
        peers::add,
        peers::verify,
        peers::unverify,
        peers::set,
        peers::remove,
        peers::repin,
        bundle::export,
        bundle::import,
        witnesses::list,
        witnesses::add,
        channels::list,
        channels::open,
        channels::show,
        channels::accept,
        channels::export,
        entries::list,
        entries::show,
        author::message,
        author::ack,
        author::request,
        author::decision,
        author::translation,
        author::notice,
        author::suspend,
        author::resume,
        author::terminate,
        alerts::list,
        alerts::ack,
        alerts::evidence_all,
        alerts::evidence_of,
        events::stream,
        events::ticket,
        users::list,
        users::add,
        users::revoke,
        users::rotate,
        share::publish,
        share::list,
        share::show,
        share::release,
        share::status,
        share::pause,
        share::resume,
        audit::list,
        metrics::render,
    ),
    modifiers(&Layers),
    tags(
        (name = "station", description = "The station itself and the caller."),
        (name = "peers", description = "Counterpart stations: pinning, verifying, listing; the admin's."),
        (name = "channels", description = "Proposing, accepting, showing and exporting channels."),
        (name = "entries", description = "Writing entries on a channel and reading them back."),
        (name = "alerts", description = "What the station raised, and equivocation evidence."),
        (name = "events", description = "The live event stream the console follows."),
        (name = "users", description = "API users and their roles; the admin's."),
        (name = "sharing", description = "Reports shared with partners, the release guard, pausing and resuming."),
        (name = "audit", description = "The station's own hash-chained audit log."),
        (name = "metrics", description = "Prometheus metrics."),
    )
)]
struct Contract;

/// The document as served and committed: pretty JSON, keys in a fixed order
/// (the generator keeps paths, schemas and properties in sorted maps), one
/// newline at the end.
pub fn document() -> String {
    // The document is built from static annotations only: serialising it cannot fail.
    let mut text = Contract::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// The answers of the layers in [`super::router`], shared by the routes
/// through `#/components/responses`.
const LAYER_ANSWERS: [(&str, &str, &str); 5] = [
    (
        "400",
        "BadRequest",
        "The request cannot be read: a malformed JSON body, a field of the wrong shape, \
         or a path or query parameter that is not what the route takes.",
    ),
    (
        "401",
        "Unauthorized",
        "No valid token: missing, unknown, revoked or expired.",
    ),
    (
        "413",
        "TooLarge",
        "The body is larger than the station accepts (2 MiB).",
    ),
    (
        "421",
        "Misdirected",
        "The request was addressed (`Host`) to a name this station's API does not answer to: \
         only an IP address, `localhost`, or a name in its `api_hosts` setting.",
    ),
    (
        "503",
        "Unavailable",
        "The station cannot vouch for its storage (a commit or an audit line could not be made \
         durable); `/v1/health` says so until it has restarted from disk.",
    ),
];

/// Adds the security schemes and the layers' answers to every route they apply to.
struct Layers;

impl Modify for Layers {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user's token (`hotline user add`; the admin's is DATA/admin.token).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "ticket",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "ticket",
                "A single-use ticket from `POST /v1/events/ticket`, for clients of the event \
                 stream that cannot send a header (a browser's EventSource).",
            ))),
        );
        for (_, name, description) in LAYER_ANSWERS {
            let body = ContentBuilder::new()
                .schema(Some(hotline_api_types::ApiError::schema()))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", body)
                .build();
            components
                .responses
                .insert(name.to_owned(), response.into());
        }
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                optional_body(op);
                // A summary is the handler's first paragraph, wrapped as Rust
                // comments are: one line here.
                if let Some(summary) = op.summary.as_mut() {
                    *summary = summary.replace('\n', " ");
                }
                let token = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let body = op.request_body.is_some();
                let params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                for (status, name, _) in LAYER_ANSWERS {
                    let applies = match status {
                        // The host guard stands in front of every route.
                        "421" => true,
                        // A body, or a path or query parameter, that axum cannot read.
                        "400" => body || params,
                        // The token check, and the audit line its refusals and the
                        // route's actions are written to.
                        "401" | "503" => token,
                        // The body limit applies to the routes that read a body.
                        "413" => body,
                        _ => false,
                    };
                    if applies {
                        // A handler's own words for a status stay.
                        op.responses
                            .responses
                            .entry(status.to_owned())
                            .or_insert_with(|| Ref::from_response_name(name).into());
                    }
                }
            }
        }
    }
}

/// A body that may be left out (`request_body = Option<T>`) comes from the
/// generator as "`null` or T"; the station takes an empty body as `{}` and
/// refuses `null`, so the document says T, and that it is not required.
fn optional_body(op: &mut Operation) {
    let Some(body) = op.request_body.as_mut() else {
        return;
    };
    if body.required == Some(Required::True) {
        return;
    }
    body.description = Some("May be left out: an empty body is taken as `{}`.".into());
    for content in body.content.values_mut() {
        if let Some(RefOr::T(Schema::OneOf(one))) = &content.schema {
            content.schema = one.items.iter().find(|s| !is_null(s)).cloned();
        }
    }
}

/// Whether a schema is the bare `{"type": "null"}`.
fn is_null(s: &RefOr<Schema>) -> bool {
    matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every (method, path) of the document.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = Contract::openapi();
        let mut ops = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in [("get", &item.get), ("post", &item.post)] {
                if op.is_some() {
                    ops.insert((method.to_owned(), path.clone()));
                }
            }
        }
        ops
    }

    /// Every (method, path) the router in `mod.rs` serves, read from its
    /// `.route("…", get(…).post(…))` calls (on one line or several), less
    /// the console's own files (`/`, `/console.*`, `/sharing.js`, `/notices.js`).
    fn routed() -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        let src: String = include_str!("mod.rs")
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("");
        for call in src.split(".route(").skip(1) {
            let Some(rest) = call.strip_prefix('"') else {
                continue;
            };
            let (path, rest) = rest.split_once('"').unwrap();
            // The call's own text: up to the parenthesis that closes it.
            let mut depth = 1usize;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let methods = &rest[..end];
            if path == "/"
                || path.starts_with("/console.")
                || path == "/sharing.js"
                || path == "/notices.js"
            {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                if methods.contains(&format!("{method}(")) {
                    ops.insert((method.to_owned(), path.to_owned()));
                }
            }
        }
        ops
    }

    #[test]
    fn every_route_is_in_the_document_and_nothing_else() {
        let routed = routed();
        assert!(routed.len() > 30, "the router's lines were not read");
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes without #[utoipa::path] in the document (annotate the handler and list it in \
             `Contract`, then `hotline openapi > docs/openapi.json`): {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(unrouted.is_empty(), "documented, not routed: {unrouted:?}");
    }

    #[test]
    fn every_operation_has_its_own_id_and_the_layers_answers() {
        let doc = Contract::openapi();
        let mut ids = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.post].into_iter().flatten() {
                let id = op.operation_id.clone().unwrap_or_default();
                assert!(ids.insert(id.clone()), "{path}: operation id {id:?} twice");
                let statuses: Vec<&String> = op.responses.responses.keys().collect();
                assert!(
                    statuses.contains(&&"421".to_owned()),
                    "{path}: {statuses:?}"
                );
                let token = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let open = ["/v1/health", "/v1/openapi.json"].contains(&path.as_str());
                assert_eq!(token, !open, "{path}: needs a token unless open");
                if token {
                    assert!(statuses.contains(&&"401".to_owned()), "{path}");
                }
                if op.request_body.is_some() {
                    assert!(statuses.contains(&&"413".to_owned()), "{path}");
                }
            }
        }
    }

    /// The bounds the document gives for `max_entry_bytes` are the protocol's.
    #[test]
    fn the_entry_size_bounds_are_the_protocols() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let field = &doc["components"]["schemas"]["OpenChannel"]["properties"]["max_entry_bytes"];
        let range = hotline_proto::entry::MAX_ENTRY_BYTES_RANGE;
        assert_eq!(field["minimum"], *range.start());
        assert_eq!(field["maximum"], *range.end());
    }
}
