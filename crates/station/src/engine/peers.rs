//! Pinned peers: adding, verifying, looking up (SPEC §2).

use super::{now_ms, Engine};
use crate::error::StationError;
use hotline_core::machine::{self, Peer};
use hotline_core::state::Phase;
use hotline_proto::{hex, Hash, Identity};
use hotline_store::{PeerRow, RetiredKeyRow};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Notify;

/// A peer in memory: its stored row and its parsed identity.
#[derive(Clone)]
pub struct PeerRt {
    /// The stored row (name, addresses, verified, handshake clock).
    pub row: PeerRow,
    /// The identity parsed once from the row's token.
    pub identity: Identity,
    /// The keys the peer rotated away from, oldest first (SPEC §4 v2).
    pub retired: Vec<RetiredKeyRow>,
    /// Whether the peer dialled with its current X25519 key since this
    /// process started or since it rotated: its retired one opens nothing
    /// here from then on.
    pub new_key_seen: bool,
}

impl PeerRt {
    /// Whether `dh` is the X25519 key this peer rotated away from last,
    /// still accepted: within [`super::keys::OLD_LINK_KEY_GRACE_MS`] of
    /// the rotation and before the peer dialled with its new key.
    fn dials_with_retired(&self, dh: &[u8; 32], now: u64) -> bool {
        let Some(last) = self.retired.last() else {
            return false;
        };
        !self.new_key_seen
            && now.saturating_sub(last.at) < super::keys::OLD_LINK_KEY_GRACE_MS
            && Identity::parse(&last.token).is_ok_and(|id| &id.dh_pk == dh)
    }

    /// The peer as the station machine sees it.
    pub fn machine(&self) -> Peer {
        Peer {
            id: self.row.id,
            name: self.row.name.clone(),
            identity: self.identity,
            verified: self.row.verified,
            earlier: Vec::new(),
            retired: self
                .retired
                .iter()
                .filter_map(|k| Identity::parse(&k.token).ok())
                .collect(),
        }
    }
}

/// The peers a handshake key matches: one, or none at all when it matches
/// two (a peer that rotated to another's X25519 key): the handshake is then
/// refused rather than given to either.
enum Ambiguous<'a> {
    None,
    One(&'a PeerRt),
    Many,
}

impl<'a> Ambiguous<'a> {
    fn add(self, p: &'a PeerRt) -> Ambiguous<'a> {
        match self {
            Ambiguous::None => Ambiguous::One(p),
            Ambiguous::One(q) => {
                tracing::warn!(
                    "a handshake key matches two peers ({} and {}): refused",
                    q.row.name,
                    p.row.name
                );
                Ambiguous::Many
            }
            Ambiguous::Many => Ambiguous::Many,
        }
    }

    fn one(self) -> Option<PeerRt> {
        match self {
            Ambiguous::One(p) => Some(p.clone()),
            _ => None,
        }
    }
}

/// Whether a string looks like HOST:PORT.
pub fn valid_addr(a: &str) -> bool {
    match a.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

/// Which key two identities share, if any. A station's keys are its own: two
/// pins sharing an X25519 key let one key holder pass the handshake as either
/// peer, and sharing a signing key lets one sign as either.
fn shared_key(a: &Identity, b: &Identity) -> Option<&'static str> {
    if a.dh_pk == b.dh_pk {
        Some("X25519 key")
    } else if a.sig_pk == b.sig_pk {
        Some("Ed25519 signing key")
    } else {
        None
    }
}

impl Engine {
    pub(super) fn insert_peer(&self, row: PeerRow) -> Result<(), StationError> {
        self.insert_peer_keys(row, Vec::new())
    }

    /// [`Engine::insert_peer`] with the keys the peer rotated away from.
    pub(super) fn insert_peer_keys(
        &self,
        row: PeerRow,
        retired: Vec<RetiredKeyRow>,
    ) -> Result<(), StationError> {
        let identity = row
            .machine_peer()
            .map_err(|_| {
                StationError::Setup(format!("stored key of peer {} is damaged", row.name))
            })?
            .identity;
        if row.removed_at.is_some() {
            self.retired.write().unwrap().insert(
                row.id,
                PeerRt {
                    row,
                    identity,
                    retired,
                    new_key_seen: false,
                },
            );
            return Ok(());
        }
        self.wake.write().unwrap().entry(row.id).or_default();
        self.peers.write().unwrap().insert(
            row.id,
            PeerRt {
                row,
                identity,
                retired,
                new_key_seen: false,
            },
        );
        Ok(())
    }

    /// Moves a peer from the pinned to the retired in memory, after its row
    /// was marked removed, and ends its live sessions.
    fn retire(&self, id: i64, at: u64) {
        if let Some(mut p) = self.peers.write().unwrap().remove(&id) {
            p.row.removed_at = Some(at);
            self.retired.write().unwrap().insert(id, p);
        }
        self.cut(id).notify_waiters();
        self.wake_peer(id);
    }

    /// What tells a peer's live sessions that the peer was removed.
    pub fn cut(&self, peer_id: i64) -> Arc<Notify> {
        self.cuts
            .lock()
            .unwrap()
            .entry(peer_id)
            .or_default()
            .clone()
    }

    /// Every pinned peer.
    pub fn peers(&self) -> Vec<PeerRt> {
        self.peers.read().unwrap().values().cloned().collect()
    }

    /// Row ids of every pinned peer.
    pub fn peer_ids(&self) -> Vec<i64> {
        self.peers.read().unwrap().keys().copied().collect()
    }

    /// A pinned peer by id; a retired one is refused with a sentence that says why.
    pub fn peer(&self, id: i64) -> Result<PeerRt, StationError> {
        if let Some(p) = self.peers.read().unwrap().get(&id) {
            return Ok(p.clone());
        }
        match self.retired.read().unwrap().get(&id) {
            Some(p) if p.row.replaced_by.is_some() => Err(StationError::Conflict(format!(
                "the key this channel is bound to was replaced for peer {} (peer repin): \
                 the channel carries nothing more; open a channel that reopens it",
                p.row.name
            ))),
            Some(p) => Err(StationError::Conflict(format!(
                "peer {} was removed: its channels carry nothing more",
                p.row.name
            ))),
            None => Err(StationError::NotFound("no such peer".into())),
        }
    }

    /// [`Engine::peer`] as the station machine takes it, made under the
    /// lock: an entry authored needs only this, and a whole [`PeerRt`]
    /// copied for each (its row's strings and addresses) was three
    /// allocations a message.
    pub fn peer_machine(&self, id: i64) -> Result<Peer, StationError> {
        if let Some(p) = self.peers.read().unwrap().get(&id) {
            return Ok(p.machine());
        }
        self.peer(id).map(|p| p.machine())
    }

    /// The earlier pins whose keys a peer's key replaced, nearest first.
    pub fn earlier_pins(&self, id: i64) -> Vec<i64> {
        let retired = self.retired.read().unwrap();
        let mut out: Vec<i64> = Vec::new();
        let mut cur = id;
        while let Some(p) = retired
            .values()
            .find(|p| p.row.replaced_by == Some(cur) && !out.contains(&p.row.id))
        {
            out.push(p.row.id);
            cur = p.row.id;
        }
        out
    }

    /// A peer by id, pinned or retired: for the record of its channels.
    pub fn peer_on_record(&self, id: i64) -> Result<PeerRt, StationError> {
        let pinned = self.peers.read().unwrap().get(&id).cloned();
        pinned
            .or_else(|| self.retired.read().unwrap().get(&id).cloned())
            .ok_or_else(|| StationError::NotFound("no such peer".into()))
    }

    /// A peer by name.
    pub fn peer_by_name(&self, name: &str) -> Result<PeerRt, StationError> {
        self.peers
            .read()
            .unwrap()
            .values()
            .find(|p| p.row.name == name)
            .cloned()
            .ok_or_else(|| {
                StationError::NotFound(format!("no peer named {name:?} (see `hotline peer list`)"))
            })
    }

    /// The peer holding an X25519 static key, for the handshake.
    pub fn peer_by_dh(&self, dh: &[u8; 32]) -> Option<PeerRt> {
        self.peers
            .read()
            .unwrap()
            .values()
            .filter(|p| &p.identity.dh_pk == dh || p.dials_with_retired(dh, now_ms()))
            .fold(Ambiguous::None, Ambiguous::add)
            .one()
    }

    /// Claims a handshake clock value for a peer and makes it durable before
    /// the session is trusted (SPEC §3). The check and the claim are one step
    /// under the peers' lock, so of two handshakes carrying the same clock (a
    /// replay racing the original) exactly one gets through; the stored
    /// value only ever grows. `Ok(false)`: not newer than a clock already
    /// claimed, a replay.
    pub async fn advance_handshake(&self, peer_id: i64, ts: u64) -> Result<bool, StationError> {
        {
            let mut peers = self.peers.write().unwrap();
            let Some(p) = peers.get_mut(&peer_id) else {
                return Ok(false);
            };
            if ts <= p.row.handshake_ts {
                return Ok(false);
            }
            p.row.handshake_ts = ts;
        }
        let r = self
            .db
            .write(vec![hotline_store::WriteOp::HandshakeTs { peer_id, ts }])
            .await;
        if let Err(e) = &r {
            // The writer refuses everything after a failed commit: restart from disk.
            self.storage_failure(e);
        }
        r.map(|_| true)
    }

    /// Checks a peer's leader epoch from a handshake against the highest
    /// accepted from its key, and makes a higher one durable before the
    /// session is trusted. `Ok(false)`: lower, a former leader speaking.
    pub async fn advance_epoch(&self, peer_id: i64, epoch: u64) -> Result<bool, StationError> {
        {
            let mut peers = self.peers.write().unwrap();
            let Some(p) = peers.get_mut(&peer_id) else {
                return Ok(false);
            };
            if epoch < p.row.epoch {
                return Ok(false);
            }
            if epoch == p.row.epoch {
                return Ok(true);
            }
            p.row.epoch = epoch;
        }
        let r = self
            .db
            .write(vec![hotline_store::WriteOp::PeerEpoch { peer_id, epoch }])
            .await;
        if let Err(e) = &r {
            self.storage_failure(e);
        }
        r.map(|_| true)
    }

    /// Pins a new peer.
    pub async fn add_peer(
        &self,
        name: &str,
        token: &str,
        addrs: Vec<String>,
        rel: Option<String>,
    ) -> Result<PeerRow, StationError> {
        let name = name.trim().to_owned();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == '/') {
            return Err(StationError::BadRequest(
                "a peer name is 1–64 printable characters without '/'".into(),
            ));
        }
        let id =
            Identity::parse(token).map_err(|e| StationError::BadRequest(format!("--key: {e}")))?;
        if let Some(which) = shared_key(&id, &self.identity()) {
            return Err(StationError::BadRequest(format!(
                "that token holds this station's own {which}"
            )));
        }
        // No address: a peer that runs `dial_only`, which dials this station.
        if let Some(a) = addrs.iter().find(|a| !valid_addr(a)) {
            return Err(StationError::BadRequest(format!(
                "address {a:?} is not HOST:PORT"
            )));
        }
        let t = id.token();
        // Checked on the writer, where peers are added one at a time, so two
        // concurrent adds cannot both pass.
        let row = self
            .db
            .call(move |s| {
                for p in s.peers()?.iter().filter(|p| p.removed_at.is_none()) {
                    let Ok(pinned) = Identity::parse(&p.token) else {
                        continue;
                    };
                    if let Some(which) = shared_key(&id, &pinned) {
                        return Ok(Err(StationError::Conflict(format!(
                            "peer {:?} is already pinned with this {which}; one key belongs to one station, so check the token with the counterpart",
                            p.name
                        ))));
                    }
                }
                s.add_peer(&name, &t, &addrs, rel.as_deref(), now_ms())
                    .map(Ok)
            })
            .await??;
        self.insert_peer(row.clone())?;
        // The key that was knocking unpinned is pinned now: that alert's cause is gone.
        let step = self.strangers.lock().unwrap().pinned(&id.dh_pk, now_ms());
        let _ = self.run(step).await;
        self.clear_alert(None, &machine::unpinned_key_key(&id.dh_pk))
            .await;
        self.emit(json!({"type": "peer", "peer": row.name}));
        Ok(row)
    }

    /// Changes a peer's addresses (primary first) and releasability code;
    /// `None` keeps what is there. The dialer uses new addresses from its
    /// next connection on.
    pub async fn set_peer(
        &self,
        name: &str,
        addrs: Option<Vec<String>>,
        rel: Option<String>,
    ) -> Result<PeerRow, StationError> {
        let p = self.peer_by_name(name)?;
        let addrs = addrs.unwrap_or_else(|| p.row.addrs.clone());
        // No address: a peer that runs `dial_only`, which dials this station.
        if let Some(a) = addrs.iter().find(|a| !valid_addr(a)) {
            return Err(StationError::BadRequest(format!(
                "address {a:?} is not HOST:PORT"
            )));
        }
        let rel = rel.or_else(|| p.row.rel.clone());
        let id = p.row.id;
        let (a2, r2) = (addrs.clone(), rel.clone());
        self.db
            .call(move |s| s.set_peer(id, &a2, r2.as_deref()))
            .await?;
        let row = {
            let mut peers = self.peers.write().unwrap();
            let rt = peers
                .get_mut(&id)
                .ok_or_else(|| StationError::NotFound(format!("no peer named {name}")))?;
            rt.row.addrs = addrs;
            rt.row.rel = rel;
            rt.row.clone()
        };
        self.emit(json!({"type": "peer", "peer": name}));
        Ok(row)
    }

    /// Withdraws the confirmation of a peer's fingerprint (it may have been
    /// confirmed in error): from now on its traffic above ROUTINE is held,
    /// and none above ROUTINE is sent to it, until it is verified again.
    pub async fn unverify_peer(&self, name: &str) -> Result<(), StationError> {
        let p = self.peer_by_name(name)?;
        let id = p.row.id;
        self.db.call(move |s| s.set_verified(id, false)).await?;
        if let Some(p) = self.peers.write().unwrap().get_mut(&id) {
            p.row.verified = false;
        }
        for (cid, c) in self.channels_of(id) {
            let mut ch = c.lock().await;
            ch.peer_unverified();
            self.touch(&cid);
        }
        self.emit(json!({"type": "peer", "peer": name, "verified": false}));
        Ok(())
    }

    /// Confirms a peer's fingerprint; `Ok(false)` when it does not match.
    pub async fn verify_peer(&self, name: &str, fingerprint: &str) -> Result<bool, StationError> {
        let p = self.peer_by_name(name)?;
        if !p.identity.fingerprint().matches(fingerprint) {
            return Ok(false);
        }
        let id = p.row.id;
        self.db.call(move |s| s.set_verified(id, true)).await?;
        if let Some(p) = self.peers.write().unwrap().get_mut(&id) {
            p.row.verified = true;
        }
        // What was held while the peer was not verified is verified traffic
        // now: its acknowledgement clocks start, and the alert's cause is gone.
        let now = now_ms();
        for (cid, c) in self.channels_of(id) {
            let mut ch = c.lock().await;
            ch.peer_verified(now);
            self.touch(&cid);
        }
        self.clear_alert(None, &machine::unverified_traffic_key(&p.row.name))
            .await;
        self.emit(json!({"type": "peer", "peer": name, "verified": true}));
        Ok(true)
    }

    /// The channels with a peer that are not terminated, in id order.
    async fn unterminated(&self, peer_id: i64) -> Vec<Hash> {
        let mut out = Vec::new();
        for (id, c) in self.channels_of(peer_id) {
            if c.lock().await.book().state().phase != Phase::Terminated {
                out.push(id);
            }
        }
        out.sort();
        out
    }

    /// Waits until every decision already under way on a peer's channels is
    /// done: after [`Engine::retire`], later ones see the peer retired.
    async fn settle(&self, peer_id: i64) {
        for (_, c) in self.channels_of(peer_id) {
            drop(c.lock().await);
        }
    }

    /// Unpins a peer. Refused while a channel with it is not terminated,
    /// unless `force`; then those channels keep their record and carry
    /// nothing more. The row stays (the channels name it); the name can be
    /// pinned again. Returns the channels left not terminated.
    pub async fn remove_peer(&self, name: &str, force: bool) -> Result<Vec<Hash>, StationError> {
        let p = self.peer_by_name(name)?;
        let id = p.row.id;
        let open = self.unterminated(id).await;
        if !open.is_empty() && !force {
            let ids: Vec<String> = open.iter().map(|c| hex(c)).collect();
            return Err(StationError::Conflict(format!(
                "peer {name} has {} channel(s) not terminated ({}): terminate them first, \
                 or remove with --force (their record stays; they carry nothing more)",
                open.len(),
                ids.join(", ")
            )));
        }
        let at = now_ms();
        self.db.call(move |s| s.remove_peer(id, at)).await?;
        self.retire(id, at);
        self.settle(id).await;
        // Alerts about the peer by name: their cause left with it, and the
        // name may be pinned again.
        let link_down = format!("link-down:{name}");
        self.link_down_open.lock().unwrap().remove(&link_down);
        for key in [
            link_down,
            machine::unverified_traffic_key(name),
            format!("bad-input:{name}"),
        ] {
            self.clear_alert(None, &key).await;
        }
        self.emit(json!({"type": "peer", "peer": name, "removed": true}));
        Ok(open)
    }

    /// Replaces a peer's key outside rotation (the counterpart lost its key,
    /// or it was compromised): the new key is pinned unverified under the
    /// same name, addresses and releasability code, so verification starts
    /// again; each channel not terminated stays bound by its `Open` to the
    /// old key, carries nothing more, and notes it in a `peer-key-replaced`
    /// alert.
    pub async fn repin_peer(&self, name: &str, token: &str) -> Result<PeerRow, StationError> {
        let p = self.peer_by_name(name)?;
        let id =
            Identity::parse(token).map_err(|e| StationError::BadRequest(format!("--key: {e}")))?;
        if let Some(which) = shared_key(&id, &self.identity()) {
            return Err(StationError::BadRequest(format!(
                "that token holds this station's own {which}"
            )));
        }
        if id == p.identity {
            return Err(StationError::Conflict(format!(
                "that is the key already pinned for {name}; nothing to replace"
            )));
        }
        let (old_id, t, at) = (p.row.id, id.token(), now_ms());
        let row = self
            .db
            .call(move |s| {
                let others = s.peers()?;
                for q in others.iter().filter(|q| q.removed_at.is_none() && q.id != old_id) {
                    let Ok(pinned) = Identity::parse(&q.token) else {
                        continue;
                    };
                    if let Some(which) = shared_key(&id, &pinned) {
                        return Ok(Err(StationError::Conflict(format!(
                            "peer {:?} is already pinned with this {which}; one key belongs to one station",
                            q.name
                        ))));
                    }
                }
                s.repin_peer(old_id, &t, at).map(Ok)
            })
            .await??;
        let open = self.unterminated(old_id).await;
        self.retire(old_id, at);
        if let Some(old) = self.retired.write().unwrap().get_mut(&old_id) {
            old.row.replaced_by = Some(row.id);
        }
        self.insert_peer(row.clone())?;
        self.settle(old_id).await;
        let (old_fp, new_fp) = (p.identity.fingerprint(), id.fingerprint());
        let step = machine::key_replaced(name, &old_fp.to_string(), &new_fp.to_string(), &open, at);
        let _ = self.run(step).await;
        // The new key may have been knocking unpinned; what the old key sent
        // while unverified is on channels that carry nothing more.
        let step = self.strangers.lock().unwrap().pinned(&id.dh_pk, now_ms());
        let _ = self.run(step).await;
        self.clear_alert(None, &machine::unpinned_key_key(&id.dh_pk))
            .await;
        self.clear_alert(None, &machine::unverified_traffic_key(name))
            .await;
        self.emit(json!({"type": "peer", "peer": name, "repinned": true}));
        Ok(row)
    }
}
