//! The one live session per peer (SPEC §3, v2): either station may dial,
//! and when both do at once exactly one connection survives, by a rule both
//! ends apply alike.
//!
//! - A new session of the same initiator as the live one replaces it (the
//!   dialler reconnected: the old connection is dead or dying).
//! - A new session of the other initiator while the live one is young
//!   (both dialled at once) survives only if its initiator's Ed25519 key is
//!   the smaller of the two; both ends compare the same two keys.
//! - Otherwise the newer replaces an older session that has been up a
//!   while: its peer restarted and dialled before this side noticed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Sessions younger than this count as dialled at the same time.
pub(super) const SIMULTANEOUS: Duration = Duration::from_secs(2);

struct Slot {
    /// Counts sessions of the peer, so a session that ended only forgets
    /// itself.
    gen: u64,
    /// Whether this station dialled it.
    ours: bool,
    /// When it was registered.
    at: Instant,
    /// Tells it to close.
    close: Arc<Notify>,
}

/// The live session of each peer.
#[derive(Default)]
pub struct Live {
    slots: Mutex<HashMap<i64, Slot>>,
    /// Told whenever a session ends, for a dialler waiting for the line to free.
    freed: Notify,
}

/// A session admitted by [`Live::enter`].
pub(super) struct Entered {
    pub gen: u64,
    pub close: Arc<Notify>,
}

impl Live {
    /// Registers a new session of `peer` (`ours`: this station dialled it;
    /// `ours_wins`: a session this station dials wins a tie, our key being
    /// the smaller). `None`: it lost the tie and must be closed unused.
    pub(super) fn enter(&self, peer: i64, ours: bool, ours_wins: bool) -> Option<Entered> {
        let mut m = self.slots.lock().unwrap();
        let gen = match m.get(&peer) {
            Some(old) => {
                let tie = old.ours != ours && old.at.elapsed() < SIMULTANEOUS;
                if tie && ours != ours_wins {
                    return None;
                }
                old.close.notify_one();
                old.gen + 1
            }
            None => 1,
        };
        let close = Arc::new(Notify::new());
        m.insert(
            peer,
            Slot {
                gen,
                ours,
                at: Instant::now(),
                close: close.clone(),
            },
        );
        Some(Entered { gen, close })
    }

    /// Forgets a session that ended, unless a newer one took over.
    pub(super) fn leave(&self, peer: i64, gen: u64) {
        let mut m = self.slots.lock().unwrap();
        if m.get(&peer).is_some_and(|s| s.gen == gen) {
            m.remove(&peer);
        }
        drop(m);
        self.freed.notify_waiters();
    }

    /// Whether a session with `peer` is live.
    pub(super) fn is_live(&self, peer: i64) -> bool {
        self.slots.lock().unwrap().contains_key(&peer)
    }

    /// Waits until no session with `peer` is live.
    pub(super) async fn until_free(&self, peer: i64) {
        loop {
            let freed = self.freed.notified();
            if !self.is_live(peer) {
                return;
            }
            // A session that ended is noticed at once; a slow check covers
            // a notification between the look and the wait.
            let _ = tokio::time::timeout(Duration::from_millis(500), freed).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_two_sessions_dialled_at_once_both_ends_keep_the_one_the_smaller_key_dialled() {
        // Station S has the smaller key: its sessions win ties. Each end
        // sees the two sessions in either order.
        for s_first in [true, false] {
            let (s, l) = (Live::default(), Live::default());
            // At S, "ours" is S's dial; at L, "ours" is L's dial.
            let (s_keeps_s, s_keeps_l, l_keeps_s, l_keeps_l);
            if s_first {
                s_keeps_s = s.enter(1, true, true).is_some();
                s_keeps_l = s.enter(1, false, true).is_some();
                l_keeps_s = l.enter(1, false, false).is_some();
                l_keeps_l = l.enter(1, true, false).is_some();
            } else {
                s_keeps_l = s.enter(1, false, true).is_some();
                s_keeps_s = s.enter(1, true, true).is_some();
                l_keeps_l = l.enter(1, true, false).is_some();
                l_keeps_s = l.enter(1, false, false).is_some();
            }
            // The session S dialled is admitted at both ends, whatever the order.
            assert!(s_keeps_s && l_keeps_s);
            // L's own is refused whenever it came second.
            assert_eq!(s_keeps_l, !s_first);
            assert_eq!(l_keeps_l, !s_first);
            // And the live slot at both ends is S's dial.
            assert!(s.slots.lock().unwrap()[&1].ours);
            assert!(!l.slots.lock().unwrap()[&1].ours);
        }
    }

    #[test]
    fn a_reconnect_of_the_same_dialler_replaces_the_live_session_and_tells_it_to_close() {
        let live = Live::default();
        let first = live.enter(7, false, true).unwrap();
        let second = live.enter(7, false, true).unwrap();
        assert_eq!((first.gen, second.gen), (1, 2));
        // The first was told to close (a stored permit).
        let told = first.close.notified();
        tokio::pin!(told);
        assert!(futures::FutureExt::now_or_never(told.as_mut()).is_some());
        // Its end does not free the slot the second holds.
        live.leave(7, first.gen);
        assert!(live.is_live(7));
        live.leave(7, second.gen);
        assert!(!live.is_live(7));
    }
}
