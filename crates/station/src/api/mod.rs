//! The local HTTP API (SPEC §8): JSON over loopback, bearer tokens per user,
//! roles enforced in one place, every action in the audit log.
//!
//! This module holds the shared state, the routes and the role rule;
//! [`auth`] turns a token into a user, [`audit`] records every action,
//! [`error`] decides every status code, and `handlers/` has one file per
//! resource. The bodies are the types of `hotline-api-types`; [`openapi`]
//! is the contract generated from them and the handlers.

mod audit;
mod auth;
mod error;
pub mod guard;
mod handlers;
mod openapi;

pub use openapi::document as openapi_document;
pub mod taxii;

use crate::engine::Engine;
use axum::routing::{get, post};
use axum::Router;
use handlers::witnesses;
use handlers::{alerts, audit as audit_log, channels, entries, events, metrics, peers, station};
use handlers::{author, bundle, keys, share, users};
use hotline_proto::{Hash, Precedence};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Largest request body accepted (an entry may be up to 1 MiB by default).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// A role (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything on channels.
    Principal,
    /// Messages up to IMMEDIATE, acks, contact.
    Operator,
    /// Read and export only.
    Auditor,
    /// Peers, users, keys — and, as the station's owner, everything else.
    Admin,
}

impl Role {
    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "principal" => Some(Role::Principal),
            "operator" => Some(Role::Operator),
            "auditor" => Some(Role::Auditor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Principal => "principal",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// What a request wants to do, for the role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Read anything.
    Read,
    /// Send a message of a precedence.
    Send(Precedence),
    /// Acknowledge.
    Ack,
    /// Requests, decisions, translations, lifecycle, opening and accepting channels.
    Channel,
    /// Peers, users.
    Admin,
}

/// The one place where roles are enforced, for the API and the console alike.
pub fn allowed(role: Role, act: Act) -> Result<(), String> {
    let ok = match (role, act) {
        (_, Act::Read) => true,
        (Role::Admin, _) => true,
        (Role::Principal, Act::Send(_) | Act::Ack | Act::Channel) => true,
        (Role::Operator, Act::Send(p)) => p != Precedence::Flash,
        (Role::Operator, Act::Ack) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(match act {
        Act::Send(Precedence::Flash) => "sending FLASH needs the principal or admin role".into(),
        Act::Send(_) | Act::Ack => "this needs the operator, principal or admin role".into(),
        Act::Channel => "this needs the principal or admin role".into(),
        Act::Admin => "this needs the admin role".into(),
        Act::Read => "reading is open to every role".into(),
    })
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// Entries the user writes carry this name, and so does the audit log.
    pub name: String,
    /// Decides what the user may do, through [`allowed`].
    pub role: Role,
    /// When the token stops working by itself (Unix ms), if ever.
    pub expires_at: Option<u64>,
}

/// Shared API state. The fields are public because the station assembles
/// it at start-up; handlers reach the engine only through its methods.
#[derive(Clone)]
pub struct Api {
    /// The station's engine: every read and every write goes through it.
    pub engine: Arc<Engine>,
    /// Token hash → user, loaded at start and kept in step with user changes.
    pub users: Arc<RwLock<HashMap<Hash, User>>>,
    /// Turns true when the station stops: live event streams end then, so
    /// shutdown does not wait on open consoles.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Host check, batched audit of refused sign-ins, the event-stream cap.
    pub guard: guard::Guard,
    /// The last `/metrics` text and when it was rendered.
    pub metrics_cache: Arc<tokio::sync::Mutex<Option<(std::time::Instant, String)>>>,
    /// On a shared database: the lease keeper and the role this station
    /// was started in (a standby refuses writes).
    pub ha: Option<crate::Ha>,
}

/// The routes, behind the audit layer, the body limit and the host guard;
/// every refusal leaves as an `ApiError` (see `openapi.rs` for the contract
/// these make).
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/health", get(station::health))
        .route("/v1/openapi.json", get(station::openapi))
        .route("/v1/identity", get(station::identity))
        .route("/v1/whoami", get(station::whoami))
        .route("/v1/keys", get(keys::list))
        .route("/v1/keys/rotate", post(keys::rotate))
        .route("/v1/peers", get(peers::list).post(peers::add))
        .route("/v1/peers/{name}/verify", post(peers::verify))
        .route("/v1/peers/{name}/unverify", post(peers::unverify))
        .route("/v1/peers/{name}/set", post(peers::set))
        .route("/v1/peers/{name}/remove", post(peers::remove))
        .route("/v1/peers/{name}/repin", post(peers::repin))
        .route("/v1/peers/{name}/bundle", post(bundle::export))
        .route("/v1/witnesses", get(witnesses::list).post(witnesses::add))
        .route(
            "/v1/bundles",
            post(bundle::import).layer(bundle::body_limit()),
        )
        .route("/v1/channels", get(channels::list).post(channels::open))
        .route("/v1/channels/{id}", get(channels::show))
        .route("/v1/channels/{id}/accept", post(channels::accept))
        .route("/v1/channels/{id}/entries", get(entries::list))
        .route("/v1/channels/{id}/messages", post(author::message))
        .route("/v1/channels/{id}/acks", post(author::ack))
        .route("/v1/channels/{id}/requests", post(author::request))
        .route("/v1/channels/{id}/decisions", post(author::decision))
        .route("/v1/channels/{id}/translations", post(author::translation))
        .route("/v1/channels/{id}/notices", post(author::notice))
        .route("/v1/channels/{id}/suspend", post(author::suspend))
        .route("/v1/channels/{id}/resume", post(author::resume))
        .route("/v1/channels/{id}/terminate", post(author::terminate))
        .route("/v1/channels/{id}/export", get(channels::export))
        .route("/v1/entries/{hash}", get(entries::show))
        .route("/v1/alerts", get(alerts::list))
        .route("/v1/alerts/{id}/ack", post(alerts::ack))
        .route("/v1/evidence", get(alerts::evidence_all))
        .route("/v1/channels/{id}/evidence", get(alerts::evidence_of))
        .route("/v1/events", get(events::stream))
        .route("/v1/events/ticket", post(events::ticket))
        .route("/v1/users", get(users::list).post(users::add))
        .route("/v1/users/{name}/revoke", post(users::revoke))
        .route("/v1/users/{name}/rotate", post(users::rotate))
        .route("/v1/reports", get(share::list).post(share::publish))
        .route("/v1/reports/{id}", get(share::show))
        .route("/v1/reports/{id}/release", post(share::release))
        .route("/v1/sharing", get(share::status))
        .route("/v1/sharing/{peer}/pause", post(share::pause))
        .route("/v1/sharing/{peer}/resume", post(share::resume))
        .route("/v1/audit", get(audit_log::list))
        .route("/metrics", get(metrics::render))
        .route("/", get(crate::console::index))
        .route("/console.js", get(crate::console::script))
        .route("/sharing.js", get(crate::console::sharing_script))
        .route("/notices.js", get(crate::console::notices_script))
        .route("/console.css", get(crate::console::style))
        .merge(taxii::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(api.clone(), front))
        .with_state(api)
}

/// What every request passes through, in this order: the host guard
/// ([`guard::misdirected`]), a standby's refusal of changes
/// ([`standby_refusal`]), the audit log ([`audit::layer`]) around the
/// handler, and the JSON body for any refusal that has none
/// ([`error::json_refusal`]). One layer, not four: each `from_fn` layer
/// boxes the service below it and its future for every request, some
/// five allocations a layer.
async fn front(
    axum::extract::State(api): axum::extract::State<Api>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let resp = match guard::misdirected(&api, &req).or_else(|| standby_refusal(&api, &req)) {
        Some(refused) => refused,
        None => audit::layer(api, req, next).await,
    };
    error::json_refusal(resp).await
}

/// A standby answers every request that could change something with 503,
/// naming the leader's API address (`leader_api`, and `Location`-free: a
/// client decides whether to go there); reads are served (`None`).
fn standby_refusal(api: &Api, req: &axum::extract::Request) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let standby = api
        .ha
        .as_ref()
        .is_some_and(|h| h.role != crate::ha::Role::Leader);
    let reads = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if !standby || reads {
        return None;
    }
    let leader = api
        .ha
        .as_ref()
        .and_then(|h| h.keeper.view().lease)
        .filter(|l| l.expires_in_ms > 0)
        .map(|l| l.api);
    let error = match &leader {
        Some(a) => format!("this station process is the standby; the leader's API is at {a}"),
        None => "this station process is the standby and no leader holds the lease yet; try again shortly".into(),
    };
    Some(
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            axum::Json(serde_json::json!({ "error": error, "leader_api": leader })),
        )
            .into_response(),
    )
}
