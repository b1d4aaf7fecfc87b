//! Pinned peers: adding, verifying, looking up (SPEC §2).

use super::{now_ms, Engine};
use crate::error::StationError;
use hotline_core::machine::{self, Peer};
use hotline_proto::Identity;
use hotline_store::PeerRow;
use serde_json::json;

/// A peer in memory: its stored row and its parsed identity.
#[derive(Clone)]
pub struct PeerRt {
    /// The stored row (name, addresses, verified, handshake clock).
    pub row: PeerRow,
    /// The identity parsed once from the row's token.
    pub identity: Identity,
}

impl PeerRt {
    /// The peer as the station machine sees it.
    pub fn machine(&self) -> Peer {
        Peer {
            id: self.row.id,
            name: self.row.name.clone(),
            identity: self.identity,
            verified: self.row.verified,
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
        let identity = row
            .machine_peer()
            .map_err(|_| {
                StationError::Setup(format!("stored key of peer {} is damaged", row.name))
            })?
            .identity;
        self.wake.write().unwrap().entry(row.id).or_default();
        self.peers
            .write()
            .unwrap()
            .insert(row.id, PeerRt { row, identity });
        Ok(())
    }

    /// Every pinned peer.
    pub fn peers(&self) -> Vec<PeerRt> {
        self.peers.read().unwrap().values().cloned().collect()
    }

    /// Row ids of every pinned peer.
    pub fn peer_ids(&self) -> Vec<i64> {
        self.peers.read().unwrap().keys().copied().collect()
    }

    /// A peer by id.
    pub fn peer(&self, id: i64) -> Result<PeerRt, StationError> {
        self.peers
            .read()
            .unwrap()
            .get(&id)
            .cloned()
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
            .find(|p| &p.identity.dh_pk == dh)
            .cloned()
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
        if let Some(which) = shared_key(&id, &self.identity) {
            return Err(StationError::BadRequest(format!(
                "that token holds this station's own {which}"
            )));
        }
        if addrs.is_empty() {
            return Err(StationError::BadRequest(
                "give at least one address (--addr HOST:PORT)".into(),
            ));
        }
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
                use hotline_store::Store;
                for p in s.peers()? {
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
        if addrs.is_empty() {
            return Err(StationError::BadRequest(
                "give at least one address (--addr HOST:PORT)".into(),
            ));
        }
        if let Some(a) = addrs.iter().find(|a| !valid_addr(a)) {
            return Err(StationError::BadRequest(format!(
                "address {a:?} is not HOST:PORT"
            )));
        }
        let rel = rel.or_else(|| p.row.rel.clone());
        let id = p.row.id;
        let (a2, r2) = (addrs.clone(), rel.clone());
        self.db
            .call(move |s| {
                use hotline_store::Store;
                s.set_peer(id, &a2, r2.as_deref())
            })
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
        self.db
            .call(move |s| {
                use hotline_store::Store;
                s.set_verified(id, false)
            })
            .await?;
        if let Some(p) = self.peers.write().unwrap().get_mut(&id) {
            p.row.verified = false;
        }
        for (_, c) in self.channels_of(id) {
            c.lock().await.peer_unverified();
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
        self.db
            .call(move |s| {
                use hotline_store::Store;
                s.set_verified(id, true)
            })
            .await?;
        if let Some(p) = self.peers.write().unwrap().get_mut(&id) {
            p.row.verified = true;
        }
        // What was held while the peer was not verified is verified traffic
        // now: its acknowledgement clocks start, and the alert's cause is gone.
        let now = now_ms();
        for (_, c) in self.channels_of(id) {
            c.lock().await.peer_verified(now);
        }
        self.clear_alert(None, &machine::unverified_traffic_key(&p.row.name))
            .await;
        self.emit(json!({"type": "peer", "peer": name, "verified": true}));
        Ok(true)
    }
}
