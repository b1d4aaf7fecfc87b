//! The audit layer: every action (every non-GET request, every export, every
//! audit read, every refusal) is a line in the station's hash-chained log
//! before its answer leaves; a request that may change something is also a
//! line queued before its handler runs, so that no change is ever committed
//! ahead of its line (docs/DECISIONS.md, "The audit log").

use super::auth::bearer;
use super::guard::{Refused, UNAUTHORIZED_EVERY};
use super::Api;
use crate::db::Pending;
use crate::error::StationError;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The result of the line written before a request that may change something
/// is handled; its outcome follows on a line of its own.
pub const ATTEMPT: &str = "attempt";

/// Puts a signed-in user's request that may change something on record
/// before the handler runs, then records the outcome once the handler has
/// answered; if a line cannot be made durable, the answer is withheld and the
/// client told so.
pub(super) async fn layer(State(api): State<Api>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // The header alone names the user here: a refused token is logged as "-".
    let user = bearer(req.headers()).and_then(|t| api.user(t).ok());
    let (action, target) = match path.strip_prefix("/v1/") {
        Some(rest) => (
            format!("{method} {rest}"),
            rest.split('/').nth(1).unwrap_or("").to_owned(),
        ),
        None => (format!("{method} {path}"), String::new()),
    };
    // Only a signed-in user's request can reach a handler that changes
    // something (an export signs a checkpoint); one without a valid token is
    // refused before any handler runs and is logged after, in batches.
    // A ticket for the event stream changes nothing: a read, as the stream is.
    let unlogged = path == "/v1/health" || path == "/v1/events/ticket";
    let may_change = (method != Method::GET || path.ends_with("/export")) && !unlogged;
    // Queued, not waited for: everything the handler changes goes through the
    // same writer after it, which commits in queue order and writes nothing
    // more once a commit has failed, so the attempt is durable no later than
    // the change (in the same group commit, usually), at no extra fsync.
    let attempt = user
        .as_ref()
        .filter(|_| may_change)
        .map(|u| api.engine.audit(&u.name, &action, &target, ATTEMPT));
    let user = user.map(|u| u.name).unwrap_or_else(|| "-".into());
    let resp = next.run(req).await;
    if let Some(pending) = attempt {
        if let Err(e) = durable(&api, pending).await {
            return StationError::Storage(format!(
                "the audit log could not be written ({e}); the action's outcome is unknown, check before retrying"
            ))
            .into_response();
        }
    }
    let status = resp.status();
    let interesting = method != Method::GET
        || path.ends_with("/export")
        || path.starts_with("/v1/audit")
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN;
    if !interesting || unlogged {
        return resp;
    }
    let mut result = status.as_u16().to_string();
    if status == StatusCode::UNAUTHORIZED {
        // Refused sign-ins are written in batches: a flood of bad tokens
        // costs one line (and one fsync) per interval, counting them all.
        match api.guard.unauthorized() {
            Refused::Later { first } => {
                if first {
                    tokio::spawn(flush_refused(api.clone()));
                }
                return resp;
            }
            Refused::Now(n) if n > 1 => result = format!("{result} x{n}"),
            Refused::Now(_) => {}
        }
    }
    match write(&api, &user, &action, &target, &result).await {
        Ok(()) => resp,
        Err(e) => StationError::Storage(format!(
            "the audit log could not be written ({e}); the action's outcome is unknown, check before retrying"
        ))
        .into_response(),
    }
}

/// Writes the refused sign-ins held back, an interval after the first of them.
async fn flush_refused(api: Api) {
    tokio::time::sleep(UNAUTHORIZED_EVERY).await;
    let n = api.guard.held_back();
    if n > 0 {
        let _ = write(&api, "-", "refused sign-ins", "", &format!("401 x{n}")).await;
    }
}

/// Appends one line to the audit chain and waits until it is durable; a
/// failure marks the station failed (its chain head in memory is now ahead of
/// the disk, so it restarts from disk) and is returned for the caller to word.
async fn write(
    api: &Api,
    user: &str,
    action: &str,
    target: &str,
    result: &str,
) -> Result<(), StationError> {
    durable(api, api.engine.audit(user, action, target, result)).await
}

/// Waits until a queued line is durable (see [`write`] for a failure).
async fn durable(api: &Api, pending: Pending) -> Result<(), StationError> {
    if api.engine.unsafe_ack_before_commit() {
        // Deliberately broken test variant: do not wait for durability here either.
        tokio::spawn(pending.wait());
        return Ok(());
    }
    pending.wait().await.map(|_| ()).inspect_err(|e| {
        api.engine.storage_failure(e);
    })
}
