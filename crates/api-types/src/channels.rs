//! Channels: proposing, the summary every list shows, and the detail of one.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /v1/channels`: propose a channel to a pinned peer with its terms.
/// Every term left out takes the protocol's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenChannel {
    /// The local name of the peer to propose to.
    pub peer: String,
    /// Contact check cadence (`1h`, `10m`, `2s`); excludes `contact_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_every: Option<String>,
    /// Fixed UTC contact times (`09:00,17:00`); excludes `contact_every`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_at: Option<String>,
    /// How many cadences may pass before `contact-missed` (1.0 up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1.0, maximum = 1000.0)]
    pub contact_grace: Option<f64>,
    /// Acknowledgement window per precedence name, as a duration (`flash` → `10m`).
    #[serde(default)]
    pub ack_windows: BTreeMap<String, String>,
    /// The largest entry either side may send, in bytes (1 KiB to 16 MiB,
    /// the protocol's `MAX_ENTRY_BYTES_RANGE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1024, maximum = 16_777_216)]
    pub max_entry_bytes: Option<u64>,
    /// Languages the channel is conducted in, for translations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<String>>,
    /// The ended channel (64 hex) this one continues, so the record links them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopens: Option<String>,
    /// Structured notice types to agree (`incident-report/1`, …): the ones
    /// hotline ships, or a station's own in `DATA/schemas/NAME/VERSION.json`.
    /// Each schema goes whole into the terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_types: Option<Vec<String>>,
}

/// Which end of a channel did something, from this station's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// This station.
    Us,
    /// The counterpart.
    Peer,
}

/// A channel as `GET /v1/channels` lists it, and with the detail fields as
/// `GET /v1/channels/{id}` and `POST /v1/channels` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    /// Where this station's entries stand on their way to the peer.
    pub delivery: Delivery,
    /// How long each side's transcript is.
    pub entries: EntryCounts,
    /// The link and the last signs of life from the peer.
    pub health: ChannelHealth,
    /// The channel id: the hash of its opening entry, 64 hex.
    pub id: String,
    /// Detail only: both ends' identity tokens, indexed by author number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 2, max_items = 2)]
    pub identities: Option<[String; 2]>,
    /// This station's author number: 0 if it proposed the channel, 1 if it accepted.
    pub me: u8,
    /// Detail only: keys of the channel's open policy alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_alerts: Option<Vec<String>>,
    /// Detail only: requests awaiting a decision, ours first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_requests: Option<Vec<OpenRequest>>,
    /// Detail only: the paths to the peer, as `GET /v1/peers` shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<crate::PeerPath>>,
    /// The peer's local name, as `hotline peer list` shows it.
    pub peer: String,
    /// Whether the peer's fingerprint was confirmed; until then only ROUTINE traffic flows.
    pub peer_verified: bool,
    /// Whether the peer was removed here, or its key replaced (`peer
    /// repin`): the channel keeps its record and carries nothing more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peer_removed: bool,
    /// Only when proposing: whether the proposal reached the peer before the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_delivered: Option<bool>,
    /// proposed, active, suspended or terminated (the core's words).
    pub state: String,
    /// Which sides hold a suspension; traffic resumes when both have lifted theirs.
    pub suspended_by: Vec<Side>,
    /// Which side ended the channel; `null` while it has not ended.
    pub terminated_by: Option<Side>,
    /// Detail only: the agreed terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
}

/// Counts of this station's own entries by how far they got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// Covered by the peer's checkpoint: durably held at both ends.
    pub delivered: u64,
    /// Committed here and not yet handed to the link.
    pub queued: u64,
    /// Handed to the link, not yet confirmed by the peer.
    pub sent: u64,
    /// Our messages the peer has not acknowledged (a person there has not read them).
    pub unacknowledged_ours: u64,
    /// The peer's messages nobody here has acknowledged yet.
    pub unacknowledged_theirs: u64,
}

/// Transcript lengths, each side's entries numbered from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntryCounts {
    /// Entries this station wrote.
    pub ours: u64,
    /// Entries the peer wrote, as held here.
    pub theirs: u64,
}

/// The link to the channel's peer and the last signs of life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelHealth {
    /// Unix ms when the peer last confirmed delivery (our clock); `null` if never.
    pub last_delivered_to_peer: Option<u64>,
    /// Unix ms when the last peer entry was stored here; `null` if none yet.
    pub last_from_peer: Option<u64>,
    /// Whether the link session with the peer is up.
    pub link: crate::LinkState,
    /// Unix ms since when the link has been in that state; `null` if it never changed.
    pub since: Option<u64>,
}

/// A request still awaiting its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpenRequest {
    /// Unix ms after which the `on_miss` action is taken.
    pub deadline: u64,
    /// The request entry's hash, 64 hex; a decision cites it.
    pub hash: String,
    /// alert, suspend or terminate: what the requesting station does at the deadline.
    pub on_miss: String,
    /// Whether this station asked (and so acts at the deadline).
    pub ours: bool,
}

/// A channel's agreed terms, in the units the protocol keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Terms {
    /// How long each precedence may wait for its acknowledgement, in ms.
    pub ack_windows_ms: AckWindows,
    /// Fixed contact times (`HH:MM` UTC); empty when contact is by cadence.
    pub contact_at_utc: Vec<String>,
    /// Contact check cadence in ms; `null` when contact is at fixed times.
    pub contact_every_ms: Option<u64>,
    /// How many cadences may pass before `contact-missed`.
    pub contact_grace: f64,
    /// Languages the channel is conducted in.
    pub languages: Vec<String>,
    /// The largest entry either side may send, in bytes.
    pub max_entry_bytes: u64,
    /// The structured notice types agreed at open, with their schemas;
    /// left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notice_types: Vec<NoticeTypeInfo>,
}

/// One agreed notice type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NoticeTypeInfo {
    /// SHA-256 of the schema's text, 64 hex: what the terms name it by.
    pub hash: String,
    /// `name/version`, e.g. `incident-report/1`.
    pub name: String,
    /// The JSON Schema its notices must match.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// An acknowledgement window per precedence, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AckWindows {
    /// For FLASH: the shortest.
    pub flash: u64,
    /// For IMMEDIATE.
    pub immediate: u64,
    /// For PRIORITY.
    pub priority: u64,
    /// For ROUTINE: the longest.
    pub routine: u64,
}

/// `GET /v1/channels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Channels {
    /// Every channel this station holds, in no particular order, without detail fields.
    pub channels: Vec<Channel>,
}
