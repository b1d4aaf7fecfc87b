//! Traffic held while the counterpart is not verified here (SPEC §2): valid,
//! stored, but with no acknowledgement clock until an operator verifies the
//! counterpart's fingerprint (docs/DECISIONS.md, "Unverified peers").

use super::ChannelBook;
use hotline_proto::{Hash, Precedence};

impl ChannelBook {
    /// Holds a counterpart message that arrived while the counterpart was not
    /// verified here: no acknowledgement clock runs for it.
    pub fn hold(&mut self, hash: &Hash) {
        if let Some(u) = self.unacked[self.peer() as usize].get_mut(hash) {
            u.held = true;
        }
    }

    /// Holds every unacknowledged counterpart message above ROUTINE (a
    /// restart with the counterpart still unverified).
    pub fn hold_above_routine(&mut self) {
        for u in self.unacked[self.peer() as usize].values_mut() {
            u.held |= u.precedence != Precedence::Routine;
        }
    }

    /// The counterpart is verified now: its held messages' acknowledgement
    /// clocks start at `now`. Returns how many were held.
    pub fn release_held(&mut self, now: u64) -> usize {
        let mut n = 0;
        for u in self.unacked[self.peer() as usize].values_mut() {
            if std::mem::replace(&mut u.held, false) {
                u.stored_at = now;
                n += 1;
            }
        }
        n
    }
}
