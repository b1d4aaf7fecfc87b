//! `/v1/events`: the live event stream (server-sent events) the console
//! follows. The station's events pass through as the engine emits them.

use super::R;
use crate::api::auth::Authed;
use crate::api::Api;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_api_types::{ApiError, EventTicket, Lagged};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

/// `POST /v1/events/ticket`: a single-use ticket for the event stream, for
/// the caller's own token (a revoked token's ticket is refused when used).
#[utoipa::path(
    post, path = "/v1/events/ticket", tag = "events", operation_id = "event_ticket",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A ticket for `GET /v1/events?ticket=…`.", body = EventTicket),
    ),
)]
pub async fn ticket(State(api): State<Api>, a: Authed) -> R<Json<EventTicket>> {
    Ok(Json(EventTicket {
        ticket: api.guard.issue_ticket(a.1),
        expires_in_ms: crate::api::guard::TICKET_LIFE.as_millis() as u64,
    }))
}

/// `GET /v1/events` (token in the header, or `?ticket=` for `EventSource`).
/// Ends when the station stops, so that shutdown does not wait on consoles.
#[utoipa::path(
    get, path = "/v1/events", tag = "events", operation_id = "events",
    security(("bearer" = []), ("ticket" = [])),
    responses(
        (status = 200,
            description = "Server-sent events, each named by its `type` with JSON data; `lagged` \
                says events were missed and the view should be reloaded. Ends when the station \
                stops.",
            body = String,
            content_type = "text/event-stream"),
        (status = 400, description = "A query that cannot be read.", body = ApiError),
        (status = 503,
            description = "Too many live event streams are open (close one and try again), or \
                the station cannot vouch for its storage.",
            body = ApiError),
    ),
)]
pub async fn stream(State(api): State<Api>, _: Authed) -> R<Response> {
    let place = api.guard.streams.clone().try_acquire_owned().map_err(|_| {
        crate::error::StationError::Busy(format!(
            "{} live event streams are open; close one and try again",
            crate::api::guard::STREAMS
        ))
    })?;
    let rx = api.engine.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            Ok(v) => Event::default()
                .event(v.get("type").and_then(Value::as_str).unwrap_or("event"))
                .data(v.to_string()),
            // A slow client missed events: tell it, so the console reloads its view.
            Err(RecvError::Lagged(n)) => {
                let lagged = Lagged {
                    missed: n,
                    kind: "lagged".into(),
                };
                // Plain data: serialising it cannot fail.
                let data = serde_json::to_string(&lagged).unwrap_or_default();
                Event::default().event("lagged").data(data)
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(ev), rx))
    });
    // The place is held as long as the stream lives.
    let stream = futures::StreamExt::map(stream, move |ev| {
        let _held = &place;
        ev
    });
    let mut stop = api.shutdown.clone();
    let stream = futures::StreamExt::take_until(stream, async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
