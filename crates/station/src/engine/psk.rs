//! The stored pre-shared keys of the hybrid handshake (SPEC §3): one chain
//! per peer and direction, kept in memory and written through the store
//! before a session that moved it on is used.

use super::Engine;
use crate::StationError;
use hotline_link::PskChain;
use hotline_store::{PskDir, PskRow, WriteOp};

/// The in-memory chains, by peer row id and direction.
pub(super) type Chains = std::collections::HashMap<(i64, PskDir), PskChain>;

/// A chain as the store keeps it.
fn row(peer_id: i64, dir: PskDir, c: &PskChain) -> PskRow {
    PskRow {
        peer_id,
        dir,
        gen: c.gen,
        key: c.key,
        prev: c.prev,
    }
}

/// The chains the store holds.
pub(super) fn load(rows: Vec<PskRow>) -> Chains {
    rows.into_iter()
        .map(|r| {
            let chain = PskChain {
                gen: r.gen,
                key: r.key,
                prev: r.prev,
            };
            ((r.peer_id, r.dir), chain)
        })
        .collect()
}

impl Engine {
    /// One direction's chain with a peer: generation 0 with zeros until a
    /// handshake or an out-of-band key moved it.
    pub fn psk(&self, peer_id: i64, dir: PskDir) -> PskChain {
        self.psks
            .lock()
            .unwrap()
            .get(&(peer_id, dir))
            .cloned()
            .unwrap_or_else(|| PskChain::initial(None))
    }

    /// Makes `chain` durable for the peer and direction, then keeps it. A
    /// session whose handshake moved the chain is used only after this.
    pub async fn store_psk(
        &self,
        peer_id: i64,
        dir: PskDir,
        chain: PskChain,
    ) -> Result<(), StationError> {
        let r = self
            .db
            .write(vec![WriteOp::PeerPsk(row(peer_id, dir, &chain))])
            .await;
        if let Err(e) = &r {
            // The writer refuses everything after a failed commit: restart from disk.
            self.storage_failure(e);
        }
        r?;
        self.psks.lock().unwrap().insert((peer_id, dir), chain);
        Ok(())
    }

    /// Both directions' chains at generation 0 with `key`: an out-of-band
    /// key entered at pairing (or again, by both sides, to re-pair).
    pub async fn set_out_of_band_psk(
        &self,
        peer_id: i64,
        key: [u8; 32],
    ) -> Result<(), StationError> {
        let chain = PskChain::initial(Some(key));
        let ops = [PskDir::In, PskDir::Out]
            .map(|d| WriteOp::PeerPsk(row(peer_id, d, &chain)))
            .to_vec();
        let r = self.db.write(ops).await;
        if let Err(e) = &r {
            self.storage_failure(e);
        }
        r?;
        let mut m = self.psks.lock().unwrap();
        m.insert((peer_id, PskDir::In), chain.clone());
        m.insert((peer_id, PskDir::Out), chain);
        Ok(())
    }
}
