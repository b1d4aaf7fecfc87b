//! Traffic held while the counterpart is not verified here (SPEC §2): valid,
//! stored, but with no acknowledgement clock until an operator verifies the
//! counterpart's fingerprint (docs/DECISIONS.md, "Unverified peers").

use super::{ChannelBook, Unacked};
use hotline_proto::{Hash, Precedence};

impl ChannelBook {
    /// Holds a counterpart message that arrived while the counterpart was not
    /// verified here: no acknowledgement clock runs for it.
    pub fn hold(&mut self, hash: &Hash) {
        let peer = self.peer();
        if let Some(u) = self.unacked[peer as usize].get(hash).copied() {
            self.put_unacked(peer, *hash, Some(Unacked { held: true, ..u }));
        }
    }

    /// Holds every unacknowledged counterpart message above ROUTINE (a
    /// restart with the counterpart still unverified).
    pub fn hold_above_routine(&mut self) {
        let peer = self.peer();
        let above: Vec<(Hash, Unacked)> = self.unacked[peer as usize]
            .iter()
            .filter(|(_, u)| u.precedence != Precedence::Routine && !u.held)
            .map(|(h, u)| (*h, *u))
            .collect();
        for (h, u) in above {
            self.put_unacked(peer, h, Some(Unacked { held: true, ..u }));
        }
    }

    /// The counterpart is verified now: its held messages' acknowledgement
    /// clocks start at `now`. Returns how many were held.
    pub fn release_held(&mut self, now: u64) -> usize {
        let peer = self.peer();
        let held: Vec<(Hash, Unacked)> = self.unacked[peer as usize]
            .iter()
            .filter(|(_, u)| u.held)
            .map(|(h, u)| (*h, *u))
            .collect();
        for (h, u) in &held {
            let running = Unacked {
                held: false,
                stored_at: now,
                ..*u
            };
            self.put_unacked(peer, *h, Some(running));
        }
        held.len()
    }
}
