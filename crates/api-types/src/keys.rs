//! This station's keys and their rotation (SPEC §4 v2): `/v1/keys`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One `KeyRotation` entry: where a key came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RotationEntry {
    /// The channel (hex).
    pub channel: String,
    /// The entry's hash (hex).
    pub entry: String,
    /// Its seq in this station's chain of the channel.
    pub seq: u64,
    /// When it was written (this station's clock, Unix ms).
    pub time: u64,
}

/// One of this station's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StationKey {
    /// Whether it is the one that signs from now on (the newest).
    pub current: bool,
    /// Its 12×5-digit fingerprint.
    pub fingerprint: String,
    /// The `KeyRotation` entries that brought it in, one per channel;
    /// empty for the key `hotline init` made.
    pub rotations: Vec<RotationEntry>,
    /// Its identity token (`hotline1…`).
    pub token: String,
}

/// `GET /v1/keys`: this station's keys, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StationKeys {
    /// Oldest first; the last is the current one.
    pub keys: Vec<StationKey>,
}

/// What a rotation did on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelRotated {
    /// The channel (hex).
    pub channel: String,
    /// The `KeyRotation` entry written (hex); `null` while pending.
    pub entry: Option<String>,
    /// Why it is not written yet (a channel restored from a backup and not
    /// yet confirmed by the peer); the station writes it as soon as it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// Its seq in this station's chain; `null` while pending.
    pub seq: Option<u64>,
}

/// `POST /v1/keys/rotate`: the new keys and what each channel got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeysRotated {
    /// Every channel not ended, with its `KeyRotation`.
    pub channels: Vec<ChannelRotated>,
    /// The new keys' fingerprint: what counterparts see in their consoles.
    pub fingerprint: String,
    /// The fingerprint of the keys rotated away from.
    pub previous_fingerprint: String,
    /// The new identity token.
    pub token: String,
}

/// A key a counterpart rotated away from (`Peer.previous_keys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerKeyChange {
    /// When this station stored the rotation (its clock, Unix ms).
    pub at: u64,
    /// The channel whose `KeyRotation` carried it first (hex).
    pub channel: String,
    /// That entry (hex).
    pub entry: String,
    /// The retired key's fingerprint.
    pub fingerprint: String,
    /// The fingerprint of the key that replaced it.
    pub next_fingerprint: String,
    /// The retired key's token.
    pub token: String,
}
