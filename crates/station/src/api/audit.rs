//! The audit layer: every action (every non-GET request, every export, every
//! audit read, every refusal) is a line in the station's hash-chained log
//! before its answer leaves.

use super::auth::bearer;
use super::guard::{Refused, UNAUTHORIZED_EVERY};
use super::Api;
use crate::engine::now_ms;
use crate::error::StationError;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Records the request's outcome once the handler has answered; if the line
/// cannot be made durable, the answer is withheld and the client told so.
pub(super) async fn layer(State(api): State<Api>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // The header alone names the user here: a refused token is logged as "-".
    let user = bearer(req.headers())
        .and_then(|t| api.user(t).ok())
        .map(|u| u.name)
        .unwrap_or_else(|| "-".into());
    let resp = next.run(req).await;
    let status = resp.status();
    let interesting = method != Method::GET
        || path.ends_with("/export")
        || path.starts_with("/v1/audit")
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN;
    // A ticket for the event stream changes nothing: a read, as the stream is.
    if !interesting || path == "/v1/health" || path == "/v1/events/ticket" {
        return resp;
    }
    let (action, target) = match path.strip_prefix("/v1/") {
        Some(rest) => (
            format!("{method} {rest}"),
            rest.split('/').nth(1).unwrap_or("").to_owned(),
        ),
        None => (format!("{method} {path}"), String::new()),
    };
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
        Err(e) => e.into_response(),
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

/// Appends one line to the audit chain and waits until it is durable.
async fn write(
    api: &Api,
    user: &str,
    action: &str,
    target: &str,
    result: &str,
) -> Result<(), StationError> {
    let mut head = api.audit_head.lock().await;
    let row = crate::audit::line(*head, now_ms(), user, action, target, result);
    *head = row.hash;
    let pending = api
        .engine
        .db()
        .submit(vec![hotline_store::WriteOp::Audit(row)]);
    drop(head);
    if api.engine.unsafe_ack_before_commit() {
        // Deliberately broken test variant: do not wait for durability here either.
        tokio::spawn(pending.wait());
        return Ok(());
    }
    if let Err(e) = pending.wait().await {
        // The audit chain's head in memory is now ahead of the disk: restart from disk.
        api.engine.storage_failure(&e);
        return Err(StationError::Storage(format!("the audit log could not be written ({e}); the action's outcome is unknown, check before retrying")));
    }
    Ok(())
}
