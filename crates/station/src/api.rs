//! The local HTTP API (SPEC §8): JSON over loopback, bearer tokens per user,
//! roles enforced in one place, every action in the audit log.

use crate::engine::{now_ms, Engine};
use crate::error::StationError;
use crate::views::alert_json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hotline_proto::{hex, parse_hash, Body, Hash, OnMiss, Precedence};
use hotline_store::Store;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
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
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// Shared API state.
#[derive(Clone)]
pub struct Api {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Token hash → user, loaded at start and kept in step with user changes.
    pub users: Arc<RwLock<HashMap<Hash, User>>>,
    /// Hash of the newest audit line.
    pub audit_head: Arc<tokio::sync::Mutex<Hash>>,
    /// Turns true when the station stops: live event streams end then, so
    /// shutdown does not wait on open consoles.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl IntoResponse for StationError {
    fn into_response(self) -> Response {
        let status = match &self {
            StationError::BadRequest(_) => StatusCode::BAD_REQUEST,
            StationError::NotFound(_) => StatusCode::NOT_FOUND,
            StationError::Conflict(_) => StatusCode::CONFLICT,
            StationError::Unauthorized => StatusCode::UNAUTHORIZED,
            StationError::Forbidden(_) => StatusCode::FORBIDDEN,
            StationError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            StationError::Setup(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

type R<T = Json<Value>> = Result<T, StationError>;

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, StationError> {
    if body.is_empty() {
        return serde_json::from_str("{}")
            .map_err(|e| StationError::BadRequest(format!("a JSON body is required: {e}")));
    }
    serde_json::from_slice(body)
        .map_err(|e| StationError::BadRequest(format!("malformed JSON body: {e}")))
}

fn chan(id: &str) -> Result<Hash, StationError> {
    parse_hash(id)
        .map_err(|_| StationError::BadRequest(format!("{id:?} is not a 64-hex channel id")))
}

fn hash_arg(what: &str, s: &str) -> Result<Hash, StationError> {
    parse_hash(s)
        .map_err(|_| StationError::BadRequest(format!("{what}: {s:?} is not a 64-hex entry hash")))
}

fn user_of(headers: &HeaderMap, api: &Api) -> Result<User, StationError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StationError::Unauthorized)?;
    let h = hotline_proto::sha256(token.trim().as_bytes());
    api.users
        .read()
        .unwrap()
        .get(&h)
        .cloned()
        .ok_or(StationError::Unauthorized)
}

fn need(user: &User, act: Act) -> Result<(), StationError> {
    allowed(user.role, act).map_err(|why| {
        StationError::Forbidden(format!(
            "{} has the {} role: {why}",
            user.name,
            user.role.name()
        ))
    })
}

/// Builds the router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/identity", get(identity))
        .route("/v1/whoami", get(whoami))
        .route("/v1/peers", get(peers).post(add_peer))
        .route("/v1/peers/{name}/verify", post(verify_peer))
        .route("/v1/channels", get(channels).post(open_channel))
        .route("/v1/channels/{id}", get(channel))
        .route("/v1/channels/{id}/accept", post(accept))
        .route("/v1/channels/{id}/entries", get(entries))
        .route("/v1/channels/{id}/messages", post(message))
        .route("/v1/channels/{id}/acks", post(ack))
        .route("/v1/channels/{id}/requests", post(request))
        .route("/v1/channels/{id}/decisions", post(decision))
        .route("/v1/channels/{id}/translations", post(translation))
        .route("/v1/channels/{id}/suspend", post(suspend))
        .route("/v1/channels/{id}/resume", post(resume))
        .route("/v1/channels/{id}/terminate", post(terminate))
        .route("/v1/channels/{id}/export", get(export))
        .route("/v1/entries/{hash}", get(entry))
        .route("/v1/alerts", get(alerts))
        .route("/v1/events", get(events))
        .route("/v1/users", get(users).post(add_user))
        .route("/v1/users/{name}/revoke", post(revoke_user))
        .route("/v1/audit", get(audit))
        .route("/metrics", get(metrics))
        .route("/", get(crate::console::index))
        .route("/console.js", get(crate::console::script))
        .route("/console.css", get(crate::console::style))
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            audit_layer,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
}

/// Records every action (every non-GET request, every export, every refusal) in the audit log.
async fn audit_layer(State(api): State<Api>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let user = user_of(req.headers(), &api)
        .map(|u| u.name)
        .unwrap_or_else(|_| "-".into());
    let resp = next.run(req).await;
    let status = resp.status();
    let interesting = method != Method::GET
        || path.ends_with("/export")
        || path.starts_with("/v1/audit")
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN;
    if interesting && path != "/v1/health" {
        let (action, target) = match path.strip_prefix("/v1/") {
            Some(rest) => (
                format!("{method} {rest}"),
                rest.split('/').nth(1).unwrap_or("").to_owned(),
            ),
            None => (format!("{method} {path}"), String::new()),
        };
        let result = status.as_u16().to_string();
        let mut head = api.audit_head.lock().await;
        let row = crate::audit::line(*head, now_ms(), &user, &action, &target, &result);
        *head = row.hash;
        let pending = api
            .engine
            .db()
            .submit(vec![hotline_store::WriteOp::Audit(row)]);
        drop(head);
        if api.engine.unsafe_ack_before_commit() {
            // Deliberately broken test variant: do not wait for durability here either.
            tokio::spawn(pending.wait());
            return resp;
        }
        if let Err(e) = pending.wait().await {
            // The audit chain's head in memory is now ahead of the disk: restart from disk.
            api.engine.storage_failure(&e);
            return StationError::Storage(format!("the audit log could not be written ({e}); the action's outcome is unknown, check before retrying")).into_response();
        }
    }
    resp
}

async fn health(State(api): State<Api>) -> Json<Value> {
    Json(
        json!({"status": "ok", "name": api.engine.name(), "identity": api.engine.identity().token()}),
    )
}

async fn identity(State(api): State<Api>, h: HeaderMap) -> R {
    user_of(&h, &api)?;
    let id = api.engine.identity();
    Ok(Json(
        json!({"name": api.engine.name(), "token": id.token(), "fingerprint": id.fingerprint().to_string()}),
    ))
}

async fn whoami(State(api): State<Api>, h: HeaderMap) -> R {
    let u = user_of(&h, &api)?;
    Ok(Json(json!({"name": u.name, "role": u.role.name()})))
}

fn peer_json(api: &Api, p: &crate::engine::PeerRt) -> Value {
    let h = api.engine.link_health(p.row.id);
    json!({
        "name": p.row.name, "key": p.row.token, "addrs": p.row.addrs, "rel": p.row.rel,
        "verified": p.row.verified, "fingerprint": p.identity.fingerprint().to_string(),
        "link": if h.up { "up" } else { "down" }, "link_since": h.since, "rtt_ms": h.rtt_ms, "addr_in_use": h.addr,
    })
}

async fn peers(State(api): State<Api>, h: HeaderMap) -> R {
    user_of(&h, &api)?;
    let mut ps: Vec<_> = api.engine.peers();
    ps.sort_by_key(|p| p.row.id);
    Ok(Json(
        json!({"peers": ps.iter().map(|p| peer_json(&api, p)).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPeer {
    name: String,
    key: String,
    #[serde(default)]
    addrs: Vec<String>,
    #[serde(default)]
    addr: Option<String>,
    #[serde(default)]
    rel: Option<String>,
}

async fn add_peer(
    State(api): State<Api>,
    h: HeaderMap,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    need(&user_of(&h, &api)?, Act::Admin)?;
    let p: NewPeer = parse(&body)?;
    let mut addrs = p.addrs;
    if let Some(a) = p.addr {
        addrs.insert(0, a);
    }
    let row = api.engine.add_peer(&p.name, &p.key, addrs, p.rel).await?;
    let rt = api.engine.peer(row.id)?;
    Ok((StatusCode::CREATED, Json(peer_json(&api, &rt))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyReq {
    fingerprint: String,
}

async fn verify_peer(
    State(api): State<Api>,
    h: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> R {
    need(&user_of(&h, &api)?, Act::Admin)?;
    let v: VerifyReq = parse(&body)?;
    if api.engine.verify_peer(&name, &v.fingerprint).await? {
        Ok(Json(json!({"name": name, "verified": true})))
    } else {
        Err(StationError::Conflict(format!(
            "the fingerprint does not match the key pinned for {name}: do not verify; check the key with the counterpart"
        )))
    }
}

async fn channels(State(api): State<Api>, h: HeaderMap) -> R {
    user_of(&h, &api)?;
    let ids: Vec<Hash> = api.engine.channel_ids();
    let mut out = Vec::new();
    for id in ids {
        out.push(api.engine.channel_json(&id, false).await?);
    }
    Ok(Json(json!({"channels": out})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OpenReq {
    peer: String,
    #[serde(default)]
    contact_every: Option<String>,
    #[serde(default)]
    contact_at: Option<String>,
    #[serde(default)]
    contact_grace: Option<f64>,
    #[serde(default)]
    ack_windows: HashMap<String, String>,
    #[serde(default)]
    max_entry_bytes: Option<u64>,
    #[serde(default)]
    languages: Option<Vec<String>>,
    #[serde(default)]
    reopens: Option<String>,
}

fn terms_of(r: &OpenReq) -> Result<hotline_proto::Terms, StationError> {
    let mut t = hotline_proto::Terms::default();
    match (&r.contact_every, &r.contact_at) {
        (Some(_), Some(_)) => {
            return Err(StationError::BadRequest(
                "give contact_every or contact_at, not both".into(),
            ))
        }
        (Some(e), None) => {
            let ms = crate::duration::parse(e).map_err(StationError::BadRequest)?;
            if ms < 100 {
                return Err(StationError::BadRequest(
                    "contact_every must be at least 100ms".into(),
                ));
            }
            t.contact = hotline_proto::ContactSchedule::Every(ms);
        }
        (None, Some(at)) => {
            t.contact = hotline_proto::ContactSchedule::At(
                crate::duration::parse_times(at).map_err(StationError::BadRequest)?,
            )
        }
        (None, None) => {}
    }
    if let Some(g) = r.contact_grace {
        if !(1.0..=1000.0).contains(&g) {
            return Err(StationError::BadRequest(
                "contact_grace is a factor from 1.0 up".into(),
            ));
        }
        t.contact_grace_permille = (g * 1000.0).round() as u32;
    }
    for (p, d) in &r.ack_windows {
        let p = Precedence::parse(p).map_err(|e| StationError::BadRequest(e.to_string()))?;
        t.ack_windows_ms[p as usize] =
            crate::duration::parse(d).map_err(StationError::BadRequest)?;
    }
    if let Some(m) = r.max_entry_bytes {
        if !(1024..=hotline_proto::MAX_ENTRY_BYTES_CAP).contains(&m) {
            return Err(StationError::BadRequest(format!(
                "max_entry_bytes must be 1024..={}",
                hotline_proto::MAX_ENTRY_BYTES_CAP
            )));
        }
        t.max_entry_bytes = m;
    }
    if let Some(l) = &r.languages {
        t.languages = l.clone();
    }
    Ok(t)
}

async fn open_channel(
    State(api): State<Api>,
    h: HeaderMap,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    let u = user_of(&h, &api)?;
    need(&u, Act::Channel)?;
    let r: OpenReq = parse(&body)?;
    let terms = terms_of(&r)?;
    let reopens = r.reopens.as_deref().map(chan).transpose()?;
    let id = api
        .engine
        .open_channel(&r.peer, terms, reopens, &u.name)
        .await?;
    // Wait briefly for the proposal to reach the peer, so that it can be
    // accepted there as soon as this returns; an unreachable peer gets it later.
    let delivered = await_delivery(&api, &id, 1, DELIVERY_WAIT).await?;
    let mut body = api.engine.channel_json(&id, true).await?;
    body["proposal_delivered"] = json!(delivered);
    Ok((StatusCode::CREATED, Json(body)))
}

async fn channel(State(api): State<Api>, h: HeaderMap, Path(id): Path<String>) -> R {
    user_of(&h, &api)?;
    Ok(Json(api.engine.channel_json(&chan(&id)?, true).await?))
}

fn created(v: &hotline_core::VerifiedEntry) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(
            json!({"hash": hex(&v.hash()), "seq": v.entry().seq, "lamport": v.entry().lamport, "kind": v.entry().body.kind().name()}),
        ),
    )
}

async fn accept(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> R<(StatusCode, Json<Value>)> {
    let u = user_of(&h, &api)?;
    need(&u, Act::Channel)?;
    let id = chan(&id)?;
    let terms_hash = {
        let c = api.engine.channel(&id)?;
        let c = c.lock().await;
        if c.book().me() != 1 {
            return Err(StationError::Conflict(
                "this station proposed the channel; the counterpart accepts it".into(),
            ));
        }
        c.book().terms().hash()
    };
    let v = api
        .engine
        .author(&id, Body::Accept { terms_hash }, &u.name)
        .await?;
    // Wait briefly for the proposer to hold the acceptance, so that when this
    // returns both ends normally agree the channel is active.
    let delivered = await_delivery(&api, &id, v.entry().seq, DELIVERY_WAIT).await?;
    let (status, Json(mut body)) = created(&v);
    body["delivered"] = json!(delivered);
    Ok((status, Json(body)))
}

/// How long opening or accepting a channel waits to see its entry delivered.
const DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Waits until the peer's checkpoint covers our entry `seq`, or `wait` passes.
async fn await_delivery(
    api: &Api,
    id: &Hash,
    seq: u64,
    wait: std::time::Duration,
) -> Result<bool, StationError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut events = api.engine.subscribe();
    loop {
        if api.engine.channel(id)?.lock().await.delivered_upto() >= seq {
            return Ok(true);
        }
        // Any event may be the checkpoint we wait for; re-check on each, or every 50 ms.
        let tick = tokio::time::sleep(std::time::Duration::from_millis(50));
        tokio::select! {
            _ = events.recv() => {}
            _ = tick => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(false),
        }
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn entries(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> R {
    user_of(&h, &api)?;
    let Query(q) = q.map_err(|e| StationError::BadRequest(format!("bad query: {e}")))?;
    let id = chan(&id)?;
    api.engine.channel(&id)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q.after;
    let rows = api
        .engine
        .db()
        .read(move |s| s.entries_after(&id, after, limit))
        .await?;
    Ok(Json(
        json!({"entries": api.engine.entries_json(&id, rows).await?}),
    ))
}

async fn entry(State(api): State<Api>, h: HeaderMap, Path(hash): Path<String>) -> R {
    user_of(&h, &api)?;
    let hh = hash_arg("entry", &hash)?;
    let row = api
        .engine
        .db()
        .read(move |s| s.entry_by_hash(&hh))
        .await?
        .ok_or_else(|| StationError::NotFound(format!("no entry {hash} here")))?;
    let ch = row.channel;
    let mut v = api.engine.entries_json(&ch, vec![row]).await?.remove(0);
    v.as_object_mut()
        .expect("object")
        .insert("channel".into(), json!(hex(&ch)));
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageReq {
    #[serde(default)]
    precedence: Option<String>,
    #[serde(default)]
    subject: String,
    text: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    reply_to: Option<String>,
}

fn precedence_of(r: &MessageReq) -> Result<Precedence, StationError> {
    match &r.precedence {
        Some(p) => Precedence::parse(p).map_err(|e| {
            StationError::BadRequest(format!("{e}: use flash, immediate, priority or routine"))
        }),
        None => Ok(Precedence::Routine),
    }
}

async fn message(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    user_of(&h, &api)?;
    let r: MessageReq = parse(&body)?;
    // A bad precedence is a bad request whoever asks; the role check needs a valid one.
    precedence_of(&r)?;
    write_entry(
        &api,
        &h,
        &id,
        &body,
        |r: &MessageReq| Act::Send(precedence_of(r).unwrap_or(Precedence::Flash)),
        |r| {
            let reply_to = r
                .reply_to
                .as_deref()
                .map(|s| hash_arg("reply_to", s))
                .transpose()?;
            Ok(Body::Message {
                precedence: precedence_of(&r)?,
                subject: r.subject,
                text: r.text,
                labels: r.labels,
                reply_to,
            })
        },
    )
    .await
}

/// The common shape of every request that writes one entry: authenticate,
/// parse, check the role for what is asked, build the body, author it.
async fn write_entry<T: DeserializeOwned>(
    api: &Api,
    h: &HeaderMap,
    id: &str,
    body: &Bytes,
    act: impl FnOnce(&T) -> Act,
    make: impl FnOnce(T) -> Result<Body, StationError>,
) -> R<(StatusCode, Json<Value>)> {
    let u = user_of(h, api)?;
    let r: T = parse(body)?;
    need(&u, act(&r))?;
    let entry = make(r)?;
    let v = api.engine.author(&chan(id)?, entry, &u.name).await?;
    Ok(created(&v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckReq {
    of: String,
}

async fn ack(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    write_entry(
        &api,
        &h,
        &id,
        &body,
        |_: &AckReq| Act::Ack,
        |r| {
            Ok(Body::Ack {
                of: hash_arg("of", &r.of)?,
            })
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestReq {
    question: String,
    #[serde(default)]
    options: Vec<String>,
    deadline: Value,
    #[serde(default)]
    on_miss: Option<String>,
}

async fn request(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    let u = user_of(&h, &api)?;
    need(&u, Act::Channel)?;
    let r: RequestReq = parse(&body)?;
    let now = now_ms();
    let deadline = match &r.deadline {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| StationError::BadRequest("deadline: Unix milliseconds".into()))?,
        Value::String(s) => crate::duration::deadline(s, now).map_err(StationError::BadRequest)?,
        _ => {
            return Err(StationError::BadRequest(
                "deadline: a duration like \"10m\", an RFC 3339 time, or Unix milliseconds".into(),
            ))
        }
    };
    if deadline <= now {
        return Err(StationError::BadRequest(
            "the deadline is in the past".into(),
        ));
    }
    let on_miss = match &r.on_miss {
        Some(s) => OnMiss::parse(s).map_err(|e| {
            StationError::BadRequest(format!("{e}: use alert, suspend or terminate"))
        })?,
        None => OnMiss::Alert,
    };
    if r.question.trim().is_empty() {
        return Err(StationError::BadRequest("the question is empty".into()));
    }
    let v = api
        .engine
        .author(
            &chan(&id)?,
            Body::Request {
                question: r.question,
                options: r.options,
                deadline,
                on_miss,
            },
            &u.name,
        )
        .await?;
    Ok(created(&v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionReq {
    request: String,
    choice: String,
    #[serde(default)]
    text: String,
}

async fn decision(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    let u = user_of(&h, &api)?;
    need(&u, Act::Channel)?;
    let r: DecisionReq = parse(&body)?;
    let id = chan(&id)?;
    let req = hash_arg("request", &r.request)?;
    let row = api
        .engine
        .db()
        .read(move |s| s.entry_by_hash(&req))
        .await?
        .ok_or_else(|| StationError::NotFound("no such request here".into()))?;
    let env = hotline_proto::Envelope::decode(&row.envelope, usize::MAX)
        .map_err(|e| StationError::Storage(e.to_string()))?;
    let Body::Request { options, .. } = env
        .peek()
        .map_err(|e| StationError::Storage(e.to_string()))?
        .body
    else {
        return Err(StationError::BadRequest(
            "that entry is not a request".into(),
        ));
    };
    let choice = if options.is_empty() {
        r.choice
    } else if let Some(o) = options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(r.choice.trim()))
    {
        o.clone()
    } else if let Some(o) = r
        .choice
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| options.get(i))
    {
        o.clone()
    } else {
        return Err(StationError::BadRequest(format!(
            "choice {:?} is not one of the options: {}",
            r.choice,
            options.join(", ")
        )));
    };
    let v = api
        .engine
        .author(
            &id,
            Body::Decision {
                request: req,
                choice,
                text: r.text,
            },
            &u.name,
        )
        .await?;
    Ok(created(&v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslationReq {
    of: String,
    lang: String,
    text: String,
}

async fn translation(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    write_entry(
        &api,
        &h,
        &id,
        &body,
        |_: &TranslationReq| Act::Channel,
        |r| {
            Ok(Body::Translation {
                of: hash_arg("of", &r.of)?,
                lang: r.lang,
                text: r.text,
            })
        },
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReasonReq {
    #[serde(default)]
    reason: String,
}

async fn lifecycle(
    api: Api,
    h: HeaderMap,
    id: String,
    body: Bytes,
    make: fn(String) -> Body,
) -> R<(StatusCode, Json<Value>)> {
    write_entry(
        &api,
        &h,
        &id,
        &body,
        |_: &ReasonReq| Act::Channel,
        |r| Ok(make(r.reason)),
    )
    .await
}

async fn suspend(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    lifecycle(api, h, id, body, |reason| Body::Suspend { reason }).await
}
async fn resume(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    lifecycle(api, h, id, body, |_| Body::Resume).await
}
async fn terminate(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    lifecycle(api, h, id, body, |reason| Body::Terminate { reason }).await
}

async fn export(
    State(api): State<Api>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, StationError> {
    user_of(&h, &api)?;
    let text = api.engine.export(&chan(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], text).into_response())
}

#[derive(Deserialize)]
struct AlertQuery {
    #[serde(default)]
    open: Option<bool>,
    #[serde(default)]
    limit: Option<usize>,
}

async fn alerts(State(api): State<Api>, h: HeaderMap, Query(q): Query<AlertQuery>) -> R {
    user_of(&h, &api)?;
    let open = q.open.unwrap_or(false);
    let limit = q.limit.unwrap_or(1000).clamp(1, 100_000);
    let rows = api.engine.db().read(move |s| s.alerts(open, limit)).await?;
    Ok(Json(
        json!({"alerts": rows.iter().map(alert_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
struct EventQuery {
    #[serde(default)]
    token: Option<String>,
}

async fn events(
    State(api): State<Api>,
    h: HeaderMap,
    Query(q): Query<EventQuery>,
) -> Result<Response, StationError> {
    // EventSource cannot set headers, so the console passes its token as a query parameter.
    let mut h = h;
    if let Some(t) = q.token {
        if let Ok(v) = format!("Bearer {t}").parse() {
            h.insert(header::AUTHORIZATION, v);
        }
    }
    user_of(&h, &api)?;
    let rx = api.engine.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            Ok(v) => Event::default()
                .event(v.get("type").and_then(Value::as_str).unwrap_or("event"))
                .data(v.to_string()),
            // A slow client missed events: tell it, so the console reloads its view.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => Event::default()
                .event("lagged")
                .data(json!({"type": "lagged", "missed": n}).to_string()),
            Err(_) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(ev), rx))
    });
    let mut stop = api.shutdown.clone();
    let stream = futures::StreamExt::take_until(stream, async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: String,
}

async fn users(State(api): State<Api>, h: HeaderMap) -> R {
    need(&user_of(&h, &api)?, Act::Admin)?;
    let rows = api.engine.db().read(|s| s.users()).await?;
    Ok(Json(
        json!({"users": rows.iter().map(|u| json!({"name": u.name, "role": u.role, "created_at": u.created_at, "revoked_at": u.revoked_at})).collect::<Vec<_>>()}),
    ))
}

async fn add_user(
    State(api): State<Api>,
    h: HeaderMap,
    body: Bytes,
) -> R<(StatusCode, Json<Value>)> {
    need(&user_of(&h, &api)?, Act::Admin)?;
    let r: NewUser = parse(&body)?;
    let role = Role::parse(&r.role).ok_or_else(|| {
        StationError::BadRequest("role must be principal, operator, auditor or admin".into())
    })?;
    let name = r.name.trim().to_owned();
    if name.is_empty()
        || name.len() > 64
        || name == hotline_proto::entry::BY_STATION
        || name.chars().any(|c| c.is_control())
    {
        return Err(StationError::BadRequest(
            "a user name is 1–64 printable characters and not \"station\"".into(),
        ));
    }
    let token = crate::config::new_token();
    let th = hotline_proto::sha256(token.as_bytes());
    let n2 = name.clone();
    api.engine
        .db()
        .call(move |s| s.add_user(&n2, role.name(), &th, now_ms()))
        .await?;
    api.users.write().unwrap().insert(
        th,
        User {
            name: name.clone(),
            role,
        },
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name, "role": role.name(), "token": token})),
    ))
}

async fn revoke_user(State(api): State<Api>, h: HeaderMap, Path(name): Path<String>) -> R {
    need(&user_of(&h, &api)?, Act::Admin)?;
    let n2 = name.clone();
    api.engine
        .db()
        .call(move |s| s.revoke_user(&n2, now_ms()))
        .await?;
    api.users.write().unwrap().retain(|_, u| u.name != name);
    Ok(Json(json!({"name": name, "revoked": true})))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn audit(State(api): State<Api>, h: HeaderMap, Query(q): Query<AuditQuery>) -> R {
    user_of(&h, &api)?;
    let limit = q.limit.unwrap_or(10_000).clamp(1, 100_000);
    let rows = api
        .engine
        .db()
        .read(move |s| s.audit(q.after, limit))
        .await?;
    Ok(Json(
        json!({"audit": rows.iter().map(crate::audit::to_json).collect::<Vec<_>>()}),
    ))
}

async fn metrics(State(api): State<Api>) -> Response {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let e = &api.engine;
    let m = e.metrics();
    let up = e.links_up();
    let open = e
        .db()
        .read(|s| s.alerts(true, 100_000))
        .await
        .map(|a| a.len())
        .unwrap_or(0);
    let mut queue = 0u64;
    let chans: Vec<_> = e.all_channels().into_iter().map(|(_, c)| c).collect();
    for c in chans {
        let c = c.lock().await;
        queue += c.book().len(c.book().me()) - c.delivered_upto();
    }
    let mut t = String::new();
    let _ = writeln!(t, "# HELP hotline_entries_total Entries committed, by direction and kind.\n# TYPE hotline_entries_total counter");
    for ((dir, kind), n) in m.entries.lock().unwrap().iter() {
        let _ = writeln!(
            t,
            "hotline_entries_total{{direction=\"{dir}\",kind=\"{kind}\"}} {n}"
        );
    }
    let _ = writeln!(t, "# HELP hotline_entries_rejected_total Peer input rejected.\n# TYPE hotline_entries_rejected_total counter\nhotline_entries_rejected_total {}", m.entries_rejected.load(Relaxed));
    let _ = writeln!(t, "# HELP hotline_checkpoints_received_total Checkpoints received from peers.\n# TYPE hotline_checkpoints_received_total counter\nhotline_checkpoints_received_total {}", m.checkpoints_received.load(Relaxed));
    let h = &m.delivery_ms;
    let _ = writeln!(t, "# HELP hotline_delivery_latency_ms From our commit to the peer's checkpoint covering the entry.\n# TYPE hotline_delivery_latency_ms histogram");
    let mut cum = 0;
    for (i, b) in h.bounds.iter().enumerate() {
        cum += h.counts[i].load(Relaxed);
        let _ = writeln!(t, "hotline_delivery_latency_ms_bucket{{le=\"{b}\"}} {cum}");
    }
    cum += h.counts[h.bounds.len()].load(Relaxed);
    let _ = writeln!(t, "hotline_delivery_latency_ms_bucket{{le=\"+Inf\"}} {cum}");
    let _ = writeln!(
        t,
        "hotline_delivery_latency_ms_sum {}\nhotline_delivery_latency_ms_count {}",
        h.sum.load(Relaxed),
        h.count.load(Relaxed)
    );
    let _ = writeln!(t, "# HELP hotline_links_up Outbound links up.\n# TYPE hotline_links_up gauge\nhotline_links_up {up}");
    let _ = writeln!(t, "# HELP hotline_alerts_open Open alerts.\n# TYPE hotline_alerts_open gauge\nhotline_alerts_open {open}");
    let _ = writeln!(t, "# HELP hotline_queue_depth Own entries not yet covered by a peer checkpoint.\n# TYPE hotline_queue_depth gauge\nhotline_queue_depth {queue}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], t).into_response()
}
