//! The audit layer: every action (every non-GET request, every export, every
//! audit read, every refusal) is a line in the station's hash-chained log
//! before its answer leaves; a request that may change something is also a
//! line queued before its handler runs, so that no change is ever committed
//! ahead of its line (docs/DECISIONS.md, "The audit log").

use super::auth::bearer;
use super::guard::{Refused, UNAUTHORIZED_EVERY};
use super::Api;
use crate::audit::Commit;
use crate::db::Pending;
use crate::error::StationError;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The result of the line written before a request that may change something
/// is handled; its outcome follows on a line of its own.
pub const ATTEMPT: &str = "attempt";

/// How long a successful change's outcome line may wait for a batch to ride
/// with before it is queued alone.
const OUTCOME_WITHIN: std::time::Duration = std::time::Duration::from_millis(10);

/// Puts a signed-in user's request that may change something on record
/// before the handler runs, then records the outcome once the handler has
/// answered; if a line cannot be made durable, the answer is withheld and the
/// client told so.
pub(super) async fn layer(api: Api, req: Request, next: Next) -> Response {
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
    // Held, not waited for: the attempt rides in front of the next batch
    // queued to the writer, which is the handler's change when it makes one
    // (a writer call queues it first), so it is committed in the same
    // transaction as the change, at no commit of its own. The writer commits
    // in queue order and writes nothing more once a commit has failed.
    let attempt = user.as_ref().filter(|_| may_change).map(|u| {
        api.engine
            .audit_as(Commit::WithNext, &u.name, &action, &target, ATTEMPT)
    });
    let user = user.map(|u| u.name).unwrap_or_else(|| "-".into());
    let resp = next.run(req).await;
    let status = resp.status();
    let interesting = method != Method::GET
        || path.ends_with("/export")
        || path.starts_with("/v1/audit")
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN;
    let unavailable = |e: StationError| {
        StationError::Storage(format!(
            "the audit log could not be written ({e}); the action's outcome is unknown, check before retrying"
        ))
        .into_response()
    };
    if status == StatusCode::UNAUTHORIZED && interesting && !unlogged {
        // Refused sign-ins are written in batches: a flood of bad tokens
        // costs one line (and one fsync) per interval, counting them all.
        let result = match api.guard.unauthorized() {
            Refused::Later { first } => {
                if first {
                    tokio::spawn(flush_refused(api.clone()));
                }
                api.engine.db().flush_deferred();
                return match attempt {
                    Some(p) => match durable(&api, p).await {
                        Ok(()) => resp,
                        Err(e) => unavailable(e),
                    },
                    None => resp,
                };
            }
            Refused::Now(n) if n > 1 => format!("401 x{n}"),
            Refused::Now(_) => "401".into(),
        };
        api.engine.db().flush_deferred();
        return match write(&api, &user, &action, &target, &result).await {
            Ok(()) => resp,
            Err(e) => unavailable(e),
        };
    }
    // A change that succeeded went in with its attempt line; its outcome
    // rides with the next batch queued (the next request's change, under
    // load) or is queued within OUTCOME_WITHIN, and the response does not
    // wait for it: one commit and one signed head less per request. Any
    // other outcome is committed in queue order (carrying the attempt if
    // the handler queued nothing) and waited for, though not for the disk:
    // the attempt and the change are durable already, and a crash that
    // loses an outcome leaves the attempt on record, which the log allows
    // for anyway (docs/DECISIONS.md, "The audit log"). A reader of the log
    // first queues what is held (`handlers/audit.rs`).
    let logged = interesting && !unlogged;
    if logged && may_change && status.is_success() {
        let result = status.as_u16().to_string();
        let _ = api
            .engine
            .audit_as(Commit::WithNext, &user, &action, &target, &result);
        api.engine.db().flush_deferred_within(OUTCOME_WITHIN);
        return match attempt {
            Some(p) => match durable(&api, p).await {
                Ok(()) => resp,
                Err(e) => unavailable(e),
            },
            None => resp,
        };
    }
    let outcome = logged.then(|| {
        let result = status.as_u16().to_string();
        api.engine
            .audit_as(Commit::Unflushed, &user, &action, &target, &result)
    });
    if outcome.is_none() {
        api.engine.db().flush_deferred();
    }
    for pending in [attempt, outcome].into_iter().flatten() {
        if let Err(e) = durable(&api, pending).await {
            return unavailable(e);
        }
    }
    resp
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

/// Waits until a queued line is committed: durable, or for an outcome line
/// committed in order ahead of the next durable commit (see [`write`] for a
/// failure).
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
