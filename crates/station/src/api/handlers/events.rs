//! `/v1/events`: the live event stream (server-sent events) the console
//! follows. The station's events pass through as the engine emits them.

use super::R;
use crate::api::auth::Authed;
use crate::api::Api;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_api_types::Lagged;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

/// `POST /v1/events/ticket`: a single-use ticket for the event stream, for
/// the caller's own token (a revoked token's ticket is refused when used).
pub async fn ticket(State(api): State<Api>, a: Authed) -> R<Json<hotline_api_types::EventTicket>> {
    Ok(Json(hotline_api_types::EventTicket {
        ticket: api.guard.issue_ticket(a.1),
        expires_in_ms: crate::api::guard::TICKET_LIFE.as_millis() as u64,
    }))
}

/// `GET /v1/events` (token in the header, or `?ticket=` for `EventSource`).
/// Ends when the station stops, so that shutdown does not wait on consoles.
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
