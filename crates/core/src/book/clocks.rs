//! The acknowledgement clocks of the unacknowledged messages, indexed by
//! when each started, so that the policy finds what is due, or next due, in
//! O(log n) rather than by walking every message a channel holds (SPEC §6;
//! docs/PERFORMANCE.md, "Flushes per message").
//!
//! Every change to the unacknowledged messages goes through
//! [`ChannelBook::put_unacked`], which keeps the index beside them.

use super::{ChannelBook, Unacked, Undo};
use hotline_proto::{Hash, Precedence};
use std::collections::{BTreeMap, BTreeSet};

/// Per precedence, `(start, hash)` of each running clock.
pub(super) type Clocks = [BTreeSet<(u64, Hash)>; 4];

impl ChannelBook {
    /// Messages of each author not yet acknowledged by the other.
    pub fn unacked(&self) -> &[BTreeMap<Hash, Unacked>; 2] {
        &self.unacked
    }

    /// Records that the counterpart's station holds our entries up to `upto`,
    /// learned at `at` by this station's clock (a checkpoint of the peer's,
    /// or an entry of the peer's that had seen them). Our unacknowledged
    /// messages among them start their acknowledgement clocks then, and never
    /// before they were stored: `at = 0` starts them when stored, which is
    /// what a restart knows of a delivery proven before it.
    pub fn mark_delivered(&mut self, upto: u64, at: u64) {
        let later = self.undelivered.split_off(&upto.saturating_add(1));
        let proven = std::mem::replace(&mut self.undelivered, later);
        let me = self.me;
        for (seq, h) in proven {
            self.note(Undo::UndeliveredTaken(seq, h));
            if let Some(u) = self.unacked[me as usize].get(&h).copied() {
                self.note(Undo::Unacked {
                    author: me,
                    hash: h,
                    was: Some(u),
                });
                let delivered = Unacked {
                    delivered_at: Some(at.max(u.stored_at)),
                    ..u
                };
                self.put_unacked(me, h, Some(delivered));
            }
        }
    }

    /// When a message's acknowledgement clock started: a counterpart
    /// message's when it was stored here (none while held); ours when its
    /// delivery was proven, or while it was not, when it was stored (the
    /// `undelivered` clock).
    fn clock_start(&self, author: u8, u: &Unacked) -> Option<u64> {
        if author == self.me {
            Some(u.delivered_at.unwrap_or(u.stored_at))
        } else {
            (!u.held).then_some(u.stored_at)
        }
    }

    /// Sets (`Some`) or removes (`None`) an unacknowledged message of
    /// `author`, keeping its clock in the index; returns what was there.
    pub(super) fn put_unacked(
        &mut self,
        author: u8,
        hash: Hash,
        value: Option<Unacked>,
    ) -> Option<Unacked> {
        let a = author as usize;
        let was = match value {
            Some(u) => self.unacked[a].insert(hash, u),
            None => self.unacked[a].remove(&hash),
        };
        if let Some(w) = &was {
            if let Some(s) = self.clock_start(author, w) {
                self.clocks[a][w.precedence as usize].remove(&(s, hash));
            }
        }
        if let Some(u) = &value {
            if let Some(s) = self.clock_start(author, u) {
                self.clocks[a][u.precedence as usize].insert((s, hash));
            }
        }
        was
    }

    /// The earliest start, among `author`'s running clocks of precedence
    /// `p`, at or after `from`.
    pub fn first_clock_from(&self, author: u8, p: Precedence, from: u64) -> Option<u64> {
        self.clocks[author as usize][p as usize]
            .range((from, [0; 32])..)
            .next()
            .map(|(s, _)| *s)
    }

    /// The messages of `author` of precedence `p` whose clocks started at
    /// or before `until`.
    pub fn clocks_until(
        &self,
        author: u8,
        p: Precedence,
        until: u64,
    ) -> impl Iterator<Item = &Hash> + '_ {
        self.clocks[author as usize][p as usize]
            .range(..=(until, [0xff; 32]))
            .map(|(_, h)| h)
    }

    /// Whether the index holds exactly the clocks of the messages held (a
    /// check for tests and debug builds: it walks every message).
    pub fn clocks_match(&self) -> bool {
        (0..2u8).all(|author| {
            let mut want: Clocks = Default::default();
            for (h, u) in &self.unacked[author as usize] {
                if let Some(s) = self.clock_start(author, u) {
                    want[u.precedence as usize].insert((s, *h));
                }
            }
            want == self.clocks[author as usize]
        })
    }
}
