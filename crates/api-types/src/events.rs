//! The live event stream, `GET /v1/events` (server-sent events, JSON data).
//!
//! The station's events are many and mostly read by the console; these are
//! the ones a program reads. Every event carries a `type` field naming it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An event, as far as a client tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// An entry was committed here, ours or the peer's.
    Entry(EntryEvent),
    /// Any other event: peers, channels, states, deliveries, alerts, links, lag.
    #[serde(other)]
    Other,
}

/// An entry committed here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EntryEvent {
    /// Author number within the channel.
    pub author: u8,
    /// The channel it belongs to (64 hex), so a client refreshes only that one.
    pub channel: String,
    /// Storage order here, as `GET …/entries?after=` pages by.
    pub cursor: u64,
    /// The entry's hash (64 hex), as the writing request's answer gave it.
    pub hash: String,
    /// The body's kind, so a client can pass over what it does not show.
    pub kind: String,
    /// Whether this station wrote it.
    pub own: bool,
}

/// Sent instead of the events a slow client missed, so that it reloads its view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lagged {
    /// How many events were dropped for this client.
    pub missed: u64,
    /// Always `"lagged"`: every event names itself in `type`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST /v1/events/ticket`: what a browser's `EventSource` puts in the URL
/// of `GET /v1/events?ticket=…`, since it cannot send the token in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventTicket {
    /// Good once, for the user who asked, within `expires_in_ms`.
    pub ticket: String,
    /// How long it is good for, ms.
    pub expires_in_ms: u64,
}
