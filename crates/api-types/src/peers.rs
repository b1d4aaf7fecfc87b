//! Counterpart stations: pinning, verifying, listing.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/peers`: pin a counterpart's key with where to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPeer {
    /// The local name commands use for the peer; unique on this station.
    pub name: String,
    /// The counterpart's identity token (`hotline1…`), obtained by any channel.
    pub key: String,
    /// Where it listens, primary first; tried in this order.
    #[serde(default)]
    pub addrs: Vec<String>,
    /// One more address, put before `addrs`: a shorthand for a single-address peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Releasability code (e.g. UKR, ACME) that decides what may be shared with it.
    #[serde(default)]
    pub rel: Option<String>,
    /// An out-of-band pre-shared key agreed with the counterpart, 64 hex
    /// digits (32 bytes): mixed into every handshake with it from the first
    /// on (SPEC §3). Both sides must enter the same key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psk: Option<String>,
}

/// `POST /v1/peers/{name}/verify`: the fingerprint as read out of band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPeer {
    /// The 60 digits the counterpart read aloud; spaces are optional.
    pub fingerprint: String,
}

/// Whether the link session with a peer is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// A session is established and answering.
    Up,
    /// No session: the peer is unreachable, or has not been dialled yet.
    Down,
}

impl LinkState {
    /// The word shown to people, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
        }
    }
}

/// A pinned peer with its link's live health (`GET /v1/peers`, `POST /v1/peers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Peer {
    /// The address the link uses or last tried; `null` before the first attempt.
    pub addr_in_use: Option<String>,
    /// Where it listens, primary first.
    pub addrs: Vec<String>,
    /// The peer's clock minus this station's, in ms, as the last handshake
    /// showed (the peer's clock in it against ours on arrival, so low by the
    /// one-way delay); left out until the two have connected since this
    /// station started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_ms: Option<i64>,
    /// The fingerprint of the pinned key, to compare with what the counterpart reads.
    pub fingerprint: String,
    /// The pinned identity token: the only key the link accepts from this peer.
    pub key: String,
    /// Whether the link session with it is up now (one connection, either side dialled).
    pub link: LinkState,
    /// Unix ms since when the link has been in its current state (0: never changed).
    pub link_since: u64,
    /// The local name commands use for it.
    pub name: String,
    /// Each of its addresses as a path: up or down by the last probe (or
    /// the live session's pings), its round trip, when last probed, and
    /// whether the link session runs on it.
    #[serde(default)]
    pub paths: Vec<PeerPath>,
    /// The keys it rotated away from, oldest first, each with the signed
    /// `KeyRotation` that moved the pin here and when (SPEC §4 v2).
    #[serde(default)]
    pub previous_keys: Vec<crate::PeerKeyChange>,
    /// Generation of the stored pre-shared key of handshakes the peer
    /// initiates: 0 until the first, then one more per handshake (SPEC §3).
    #[serde(default)]
    pub psk_generation_in: u64,
    /// The same for handshakes this station initiates to the peer.
    #[serde(default)]
    pub psk_generation_out: u64,
    /// Releasability code, if one was given when pinning.
    pub rel: Option<String>,
    /// The last measured round trip, in ms; `null` until one was measured.
    pub rtt_ms: Option<u64>,
    /// Whether the fingerprint was confirmed out of band; until then only ROUTINE traffic flows.
    pub verified: bool,
}

/// `GET /v1/peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Peers {
    /// Every pinned peer, oldest first.
    pub peers: Vec<Peer>,
}

/// `POST /v1/peers/{name}/verify` when the fingerprint matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerVerified {
    /// The peer whose channels may now carry every precedence.
    pub name: String,
    /// True after `verify` (a mismatch is a 409 refusal instead); false
    /// after `unverify`.
    pub verified: bool,
}

/// `POST /v1/peers/{name}/set`: what to change; a field left out is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPeer {
    /// New addresses, HOST:PORT, primary first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addrs: Option<Vec<String>>,
    /// New releasability code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    /// A new out-of-band pre-shared key, 64 hex digits: both directions'
    /// stored keys start again from it at generation 0. Both sides enter it
    /// (to re-pair after a restore from an old backup, or to add one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psk: Option<String>,
}

/// `POST /v1/peers/{name}/remove`: unpin a peer. Refused (409) while a
/// channel with it is not terminated, unless `force`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemovePeer {
    /// Remove even with channels not terminated: they keep their record and
    /// carry nothing more.
    #[serde(default)]
    pub force: bool,
}

/// `POST /v1/peers/{name}/remove` when done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerRemoved {
    /// The peer no longer pinned; the name may be pinned again.
    pub name: String,
    /// Always true: a refusal is a 409 instead.
    pub removed: bool,
    /// Channels with it that were not terminated (hex ids), left as they
    /// are: only with `force`.
    pub left_open: Vec<String>,
}

/// `POST /v1/peers/{name}/repin`: replace the peer's key outside rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepinPeer {
    /// The new identity token, read from the counterpart out of band.
    pub key: String,
}

/// One path to a peer: one of its addresses (SPEC §3: the station keeps the
/// best live path in use and probes the others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerPath {
    /// Whether the link session runs on this path now.
    pub active: bool,
    /// The peer's address, HOST:PORT.
    pub addr: String,
    /// Unix ms of the last probe (a TCP connect) or ping on it; `null` before the first.
    pub last_probe: Option<u64>,
    /// Round trip of that probe or ping, ms; `null` when it did not answer.
    pub rtt_ms: Option<u64>,
    /// Whether it answered.
    pub up: bool,
}

/// `POST /v1/peers/{name}/bundle`: what the courier bundle for the peer carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleRequest {
    /// Only our entries committed after this cursor (an entry's `cursor` in
    /// `GET /v1/channels/{id}/entries`); left out, every entry of ours the
    /// peer has not proven it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// `POST /v1/bundles`: what taking a courier bundle in did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BundleImported {
    /// The bundle's name: SHA-256 of the file, 64 hex.
    pub bundle: String,
    /// Per channel the bundle names.
    pub channels: Vec<BundleChannel>,
    /// Entries it carried that were already held here.
    pub duplicates: u64,
    /// Entries new here.
    pub new: u64,
    /// The pinned peer that sealed it.
    pub peer: String,
}

/// One channel of an imported bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BundleChannel {
    /// The channel id, 64 hex.
    pub channel: String,
    /// When entries were missing before the bundle's (it was written with
    /// `since`): the seq it resumed at. They wait for a bundle that fills
    /// the gap, which the peer writes once our next bundle tells it where
    /// we stand.
    pub gap_from: Option<u64>,
    /// How many of the peer's entries this station holds now.
    pub held: u64,
    /// Entries of the peer's new here.
    pub new: u64,
    /// How many of its own entries the peer held when it wrote the bundle.
    pub peer_holds: u64,
}
