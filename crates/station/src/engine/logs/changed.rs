//! The order in which logs' newest notes changed, per peer: what each
//! session follows to send the notes (docs/WITNESS.md, "How notes travel").

use hotline_proto::Hash;
use std::collections::{BTreeMap, HashMap};

/// The logs whose newest note changed, per peer, in the order they
/// changed: a session sends the notes past its cursor, each log once
/// however often its note changed meanwhile (a backlog never exceeds the
/// peer's logs, and costs what changed, not what exists).
#[derive(Default)]
pub(super) struct Changed {
    /// The last change's number.
    last: u64,
    /// Per peer: change number → the log `(channel, author)`.
    by_peer: HashMap<i64, BTreeMap<u64, (Hash, u8)>>,
    /// Each log's place in `by_peer`.
    at: HashMap<(Hash, u8), (i64, u64)>,
}

impl Changed {
    /// Moves a log to the end of its peer's order.
    pub(super) fn touch(&mut self, peer_id: i64, log: (Hash, u8)) {
        self.last += 1;
        if let Some((p, n)) = self.at.insert(log, (peer_id, self.last)) {
            if let Some(m) = self.by_peer.get_mut(&p) {
                m.remove(&n);
            }
        }
        self.by_peer
            .entry(peer_id)
            .or_default()
            .insert(self.last, log);
    }

    /// The logs of a peer that changed after change `after`, in order, each
    /// with its change number.
    pub(super) fn since(
        &self,
        peer_id: i64,
        after: u64,
    ) -> impl Iterator<Item = (u64, (Hash, u8))> + '_ {
        self.by_peer
            .get(&peer_id)
            .into_iter()
            .flat_map(move |m| m.range(after + 1..).map(|(n, log)| (*n, *log)))
    }
}

#[cfg(test)]
mod tests {
    use super::Changed;

    #[test]
    fn a_log_that_changes_again_moves_to_the_end_and_is_listed_once() {
        let mut c = Changed::default();
        let (x, y, z) = (([1; 32], 0), ([1; 32], 1), ([2; 32], 0));
        c.touch(7, x);
        c.touch(7, y);
        c.touch(8, z);
        c.touch(7, x);
        let order: Vec<_> = c.since(7, 0).collect();
        assert_eq!(order, [(2, y), (4, x)]);
        assert_eq!(c.since(7, 2).collect::<Vec<_>>(), [(4, x)]);
        assert_eq!(c.since(9, 0).count(), 0);
        assert_eq!(c.by_peer[&8].values().copied().collect::<Vec<_>>(), [z]);
        assert_eq!(c.at[&x], (7, 4));
        // A channel handed to another peer leaves the first one's order.
        c.touch(8, y);
        assert_eq!(c.by_peer[&7].values().copied().collect::<Vec<_>>(), [x]);
        assert_eq!(c.by_peer[&8].values().copied().collect::<Vec<_>>(), [z, y]);
    }
}
