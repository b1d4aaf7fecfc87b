//! This station's keys (SPEC §2, §4 v2): the keyring, rotating it, the
//! counterpart's rotations, and which X25519 key the link uses with whom.
//!
//! A rotation is crash-safe by rolling forward: the new keys are written to
//! `identity.key` (beside the old ones, replaced whole) before any entry
//! names them; then each channel gets its `KeyRotation`. A station that
//! starts with a chain behind its newest key writes the missing rotations
//! before anything else ([`Engine::finish_rotation`]), so a crash anywhere
//! in between ends in the same place as a rotation that ran through.

use super::{now_ms, Engine};
use crate::error::StationError;
use hotline_core::machine::PinMove;
use hotline_link::StaticSecret;
use hotline_proto::{hex, Hash, Identity, Keyring, SecretKeys, Signers};
use hotline_store::RetiredKeyRow;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How long after a counterpart's rotation its old X25519 key still opens
/// a handshake here (until it dials with the new one): the counterpart may
/// not yet know that this station stored its rotation.
pub const OLD_LINK_KEY_GRACE_MS: u64 = 24 * 3600 * 1000;

/// What a rotation did on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRotation {
    /// A `KeyRotation` was written and committed.
    Rotated {
        /// The channel.
        channel: Hash,
        /// The entry.
        entry: Hash,
        /// Its seq in this station's chain.
        seq: u64,
    },
    /// Not written now (restored and not yet confirmed by the peer): the
    /// station writes it as soon as it can.
    Pending {
        /// The channel.
        channel: Hash,
        /// Why not now.
        reason: String,
    },
}

/// One of this station's `KeyRotation` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnRotation {
    /// The key it rotated to.
    pub to: Identity,
    /// The channel.
    pub channel: Hash,
    /// The entry.
    pub entry: Hash,
    /// Its seq in this station's chain.
    pub seq: u64,
    /// When it was stored (this station's clock).
    pub time: u64,
}

/// What `keys rotate` did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The keys rotated away from.
    pub old: Identity,
    /// The new current keys.
    pub new: Identity,
    /// Each channel that was not at the new keys.
    pub channels: Vec<ChannelRotation>,
}

impl Engine {
    /// The keyring as it is now (a rotation replaces it whole).
    pub fn keyring(&self) -> Arc<Keyring> {
        self.keys.read().unwrap().clone()
    }

    /// Where the keyring is kept; rotation is refused without one.
    pub fn set_key_file(&self, path: std::path::PathBuf) {
        *self.key_file.lock().unwrap() = Some(path);
    }

    /// `hotline keys rotate`: new Ed25519 and X25519 keys, written to the key
    /// file first, then a `KeyRotation` on every channel not ended.
    pub async fn rotate_keys(&self, by: &str) -> Result<Rotated, StationError> {
        let _one = self.rotating.lock().await;
        let path = self.key_file.lock().unwrap().clone().ok_or_else(|| {
            StationError::Conflict("this station keeps no key file, so it cannot rotate".into())
        })?;
        let old = self.keyring();
        let (dh_secret, dh_public) = hotline_link::generate_keypair();
        let ring = old
            .with(SecretKeys::generate(*dh_secret.as_bytes(), dh_public))
            .map_err(|_| StationError::Storage("a fresh key repeats an old one".into()))?;
        // Durable before any entry names the new keys.
        crate::config::replace_secret(&path, &ring.to_bytes())?;
        let new = ring.identity();
        *self.keys.write().unwrap() = Arc::new(ring);
        // Whatever fails from here on, the tick finishes the rotation.
        self.rotation_pending.store(true, Ordering::Relaxed);
        self.db.sign_audit_heads(self.keyring().current_shared());
        let token = new.token();
        self.db
            .call(move |s| s.set_meta("identity", &token))
            .await?;
        if self.crash_in_rotation == Some(0) {
            tracing::error!(
                "{}: aborting in the middle of a rotation",
                crate::variants::CRASH_IN_ROTATION
            );
            std::process::abort();
        }
        // The tick, or an operator's write on a channel, may have rotated
        // some channels already: the report lists every channel's entry.
        let pending = self.finish_rotation(by).await?;
        let mut channels: Vec<ChannelRotation> = self
            .own_rotations()
            .await
            .into_iter()
            .filter(|r| r.to == new)
            .map(|r| ChannelRotation::Rotated {
                channel: r.channel,
                entry: r.entry,
                seq: r.seq,
            })
            .collect();
        channels.extend(
            pending
                .into_iter()
                .filter(|c| matches!(c, ChannelRotation::Pending { .. })),
        );
        let done = channels
            .iter()
            .filter(|c| matches!(c, ChannelRotation::Rotated { .. }))
            .count();
        let _ = self
            .audit(
                by,
                "keys rotate",
                &new.fingerprint().to_string(),
                &format!(
                    "ok: {done} channels rotated, {} pending",
                    channels.len() - done
                ),
            )
            .wait()
            .await;
        self.emit(json!({"type": "keys", "identity": new.token()}));
        Ok(Rotated {
            old: old.identity(),
            new,
            channels,
        })
    }

    /// Writes a `KeyRotation` on every channel whose chain is not at the
    /// current keys and can take one; remembers whether any could not.
    pub async fn finish_rotation(&self, by: &str) -> Result<Vec<ChannelRotation>, StationError> {
        let ring = self.keyring();
        let current = ring.identity();
        let mut out = Vec::new();
        for id in self.channel_ids() {
            let Ok(arc) = self.channel(&id) else {
                continue;
            };
            let submitted = {
                let mut ch = arc.lock().await;
                if !ch.rotation_due(&current) {
                    continue;
                }
                match ch.rotate(&ring, by, now_ms()) {
                    Ok(step) => {
                        // The last of its steps: the one to the current keys.
                        let Some(v) = step.entries().last() else {
                            continue;
                        };
                        out.push(ChannelRotation::Rotated {
                            channel: id,
                            entry: v.hash(),
                            seq: v.entry().seq,
                        });
                        self.submit(step)
                    }
                    Err(r) => {
                        out.push(ChannelRotation::Pending {
                            channel: id,
                            reason: r.to_string(),
                        });
                        continue;
                    }
                }
            };
            self.finish(submitted).await?;
            let committed = out
                .iter()
                .filter(|c| matches!(c, ChannelRotation::Rotated { .. }))
                .count();
            if self.crash_in_rotation == Some(committed) {
                tracing::error!(
                    "{}: aborting in the middle of a rotation",
                    crate::variants::CRASH_IN_ROTATION
                );
                std::process::abort();
            }
        }
        let pending = out
            .iter()
            .any(|c| matches!(c, ChannelRotation::Pending { .. }));
        self.rotation_pending.store(pending, Ordering::Relaxed);
        Ok(out)
    }

    /// Every `KeyRotation` of this station's, from the channels in memory.
    pub async fn own_rotations(&self) -> Vec<OwnRotation> {
        let mut out = Vec::new();
        for id in self.channel_ids() {
            let Ok(arc) = self.channel(&id) else {
                continue;
            };
            let ch = arc.lock().await;
            let book = ch.book();
            let me = book.me();
            for (seq, to) in book.key_history(me).iter().skip(1) {
                if let Some(m) = book.meta(me, *seq) {
                    out.push(OwnRotation {
                        to: *to,
                        channel: id,
                        entry: m.hash,
                        seq: *seq,
                        time: m.stored_at,
                    });
                }
            }
        }
        out.sort_by_key(|r| (r.time, r.channel));
        out
    }

    /// A channel's rotation, if its chain is behind the current keys, to
    /// queue before anything else is written on it; when the channel
    /// cannot take it yet, the tick tries again.
    pub(super) fn rotate_first(
        &self,
        ch: &mut hotline_core::machine::Channel,
    ) -> hotline_core::machine::Step {
        let ring = self.keyring();
        if !ch.rotation_due(&ring.identity()) {
            return Default::default();
        }
        ch.rotate(&ring, crate::audit::BY_STATION, now_ms())
            .unwrap_or_else(|_| {
                self.rotation_pending.store(true, Ordering::Relaxed);
                Default::default()
            })
    }

    /// For the tick: finishes a rotation some channel could not take yet.
    pub async fn retry_rotation(&self) {
        if self.rotation_pending.load(Ordering::Relaxed) {
            if let Err(e) = self.finish_rotation(crate::audit::BY_STATION).await {
                tracing::error!("key rotation: {e}");
            }
        }
    }

    /// The machine moved a counterpart's pin (its `KeyRotation`): from now
    /// on its entries, checkpoints and handshakes are checked under the
    /// new key. Called as the step is queued, in decision order.
    pub(super) fn move_pin(&self, m: &PinMove) {
        let mut peers = self.peers.write().unwrap();
        let Some(p) = peers.get_mut(&m.peer) else {
            return;
        };
        if p.identity != m.old {
            return;
        }
        p.identity = m.new;
        p.row.token = m.new.token();
        p.new_key_seen = false;
        p.retired.push(RetiredKeyRow::from(m));
    }

    /// The new pin is durable: say so in the log and the event stream.
    pub(super) fn announce_rotation(&self, m: PinMove) {
        let Ok(p) = self.peer(m.peer) else {
            return;
        };
        let name = p.row.name;
        tracing::info!(
            "{name} rotated its keys: fingerprint {} replaced by {} (entry {})",
            m.old.fingerprint(),
            m.new.fingerprint(),
            hex(&m.entry)
        );
        self.emit(json!({
            "type": "peer",
            "peer": name,
            "key_rotated": {
                "fingerprint": m.new.fingerprint().to_string(),
                "previous": m.old.fingerprint().to_string(),
                "entry": hex(&m.entry),
                "at": m.at,
            },
        }));
    }

    /// The X25519 secrets a responder tries, the current one first, then
    /// the retired ones, newest first.
    pub fn link_secrets(&self) -> Vec<StaticSecret> {
        let ring = self.keyring();
        ring.identities()
            .iter()
            .rev()
            .filter_map(|id| ring.signer(id))
            .map(|k| StaticSecret::from_bytes(*k.dh_secret()))
            .collect()
    }

    /// Our key to dial the peer with: the newest one a checkpoint of the
    /// peer's shows it holds ([`key_peer_holds`]), the current one when no
    /// channel tells.
    ///
    /// [`key_peer_holds`]: hotline_core::machine::key_peer_holds
    pub async fn key_for_peer(&self, peer_id: i64) -> Identity {
        let keys = self.own_keys_with(peer_id).await;
        let ring = self.keyring();
        hotline_core::machine::key_peer_holds(&ring, keys).unwrap_or(ring.identity())
    }

    /// [`Channel::own_keys`](hotline_core::machine::Channel::own_keys) of
    /// each channel with a peer, locking one channel at a time.
    pub(super) async fn own_keys_with(&self, peer_id: i64) -> Vec<(Identity, Identity)> {
        let mut keys = Vec::new();
        for (_, arc) in self.channels_of(peer_id) {
            keys.push(arc.lock().await.own_keys());
        }
        keys
    }

    /// The X25519 secret to dial a peer with ([`Engine::key_for_peer`]).
    pub async fn dial_secret(&self, peer_id: i64) -> StaticSecret {
        let ring = self.keyring();
        let id = self.key_for_peer(peer_id).await;
        let k = ring.signer(&id).unwrap_or(ring.current());
        StaticSecret::from_bytes(*k.dh_secret())
    }

    /// Notes a handshake from a peer under its current pin: its retired
    /// X25519 keys open nothing here from now on.
    pub fn saw_current_link_key(&self, peer_id: i64) {
        if let Some(p) = self.peers.write().unwrap().get_mut(&peer_id) {
            p.new_key_seen = true;
        }
    }
}
