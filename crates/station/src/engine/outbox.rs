//! Own entries just committed, held for the link so that it sends them
//! without reading them back from storage: at one message in flight that
//! read was a hop to a reader thread and a query for every message. Only
//! committed entries go in (after their commit returned, see `commit.rs`),
//! so nothing here is sent that the disk does not hold. Whatever is not
//! here (an entry older than the hold, a session resuming after `Hello`)
//! is read from storage as before. It also knows the newest own entry
//! committed per channel, so that a session woken while an entry is being
//! committed (by the peer's checkpoint, say) does not look for it in
//! storage before its commit returns.

use hotline_proto::Hash;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Most entries held per channel.
const HOLD: usize = 256;
/// Most bytes held per channel.
const HOLD_BYTES: usize = 1 << 20;
/// Most bytes held in all: past it (many channels to a peer that is away),
/// everything held is let go, and storage answers.
const TOTAL_BYTES: usize = 8 << 20;

/// Per channel, a run of consecutive own entries `(seq, envelope)`.
#[derive(Default)]
pub(super) struct Outbox {
    chans: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    runs: HashMap<Hash, Run>,
    bytes: usize,
    /// Per channel, the newest own seq committed since start; kept when
    /// the runs are let go (a few bytes a channel).
    committed: HashMap<Hash, u64>,
}

#[derive(Default)]
struct Run {
    rows: VecDeque<(u64, Vec<u8>)>,
    bytes: usize,
}

impl Outbox {
    /// Holds a committed own entry. A gap in the run (an entry that went
    /// by without passing here) starts a new run.
    pub fn put(&self, channel: Hash, seq: u64, envelope: Vec<u8>) {
        let mut held = self.chans.lock().unwrap_or_else(|p| p.into_inner());
        let Held {
            runs,
            bytes,
            committed,
        } = &mut *held;
        let newest = committed.entry(channel).or_default();
        *newest = (*newest).max(seq);
        let run = runs.entry(channel).or_default();
        if run.rows.back().is_some_and(|(last, _)| last + 1 != seq) {
            *bytes -= run.bytes;
            run.rows.clear();
            run.bytes = 0;
        }
        run.bytes += envelope.len();
        *bytes += envelope.len();
        run.rows.push_back((seq, envelope));
        while run.rows.len() > HOLD || run.bytes > HOLD_BYTES {
            if let Some((_, e)) = run.rows.pop_front() {
                run.bytes -= e.len();
                *bytes -= e.len();
            }
        }
        if *bytes > TOTAL_BYTES {
            runs.clear();
            *bytes = 0;
        }
    }

    /// The held entries from `from` on, at most `limit`, taken out; `None`
    /// unless `from` itself is held. Entries below `from` are dropped: the
    /// session asking has sent them.
    pub fn take(&self, channel: &Hash, from: u64, limit: usize) -> Option<Vec<(u64, Vec<u8>)>> {
        let mut held = self.chans.lock().unwrap_or_else(|p| p.into_inner());
        let Held { runs, bytes, .. } = &mut *held;
        let run = runs.get_mut(channel)?;
        let mut gone = 0;
        while run.rows.front().is_some_and(|(seq, _)| *seq < from) {
            if let Some((_, e)) = run.rows.pop_front() {
                gone += e.len();
            }
        }
        let rows: Option<Vec<_>> = run
            .rows
            .front()
            .is_some_and(|(seq, _)| *seq == from)
            .then(|| run.rows.drain(..limit.min(run.rows.len())).collect());
        gone += rows.iter().flatten().map(|(_, e)| e.len()).sum::<usize>();
        run.bytes -= gone;
        *bytes -= gone;
        if run.rows.is_empty() {
            runs.remove(channel);
        }
        rows
    }

    /// Whether own entry `from` is past the newest committed since start
    /// (authored, its commit not returned); `false` when nothing was
    /// committed on the channel since start.
    pub fn ahead(&self, channel: &Hash, from: u64) -> bool {
        let held = self.chans.lock().unwrap_or_else(|p| p.into_inner());
        held.committed.get(channel).is_some_and(|&c| from > c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(seq: u64) -> Vec<u8> {
        vec![seq as u8; 10]
    }

    #[test]
    fn a_run_is_taken_from_its_first_seq_only_and_taken_once() {
        let o = Outbox::default();
        let ch = [1; 32];
        for seq in 5..=8 {
            o.put(ch, seq, env(seq));
        }
        // Not held from 4: storage answers.
        assert_eq!(o.take(&ch, 4, 10), None);
        let got = o.take(&ch, 5, 2).unwrap();
        assert_eq!(got, vec![(5, env(5)), (6, env(6))]);
        // Taken once; what follows is still there.
        assert_eq!(o.take(&ch, 5, 2), None);
        assert_eq!(o.take(&ch, 7, 10).unwrap(), vec![(7, env(7)), (8, env(8))]);
        assert_eq!(o.take(&ch, 9, 10), None);
        let held = o.chans.lock().unwrap();
        assert!(
            held.runs.is_empty() && held.bytes == 0,
            "nothing held when all is taken"
        );
    }

    #[test]
    fn a_gap_starts_a_new_run_and_the_hold_is_bounded() {
        let o = Outbox::default();
        let ch = [2; 32];
        o.put(ch, 1, env(1));
        o.put(ch, 3, env(3));
        assert_eq!(o.take(&ch, 1, 10), None, "1 went with the gap");
        assert_eq!(o.take(&ch, 3, 10).unwrap(), vec![(3, env(3))]);
        for seq in 1..=(HOLD as u64 + 10) {
            o.put(ch, seq, env(seq));
        }
        assert_eq!(o.take(&ch, 1, 10), None, "the oldest were let go");
        let rest = o.take(&ch, 11, usize::MAX).unwrap();
        assert_eq!(rest.len(), HOLD);
        // Skipping ahead drops what is below.
        o.put(ch, 5000, env(0));
        o.put(ch, 5001, env(1));
        assert_eq!(o.take(&ch, 5001, 10).unwrap(), vec![(5001, env(1))]);
        assert_eq!(o.chans.lock().unwrap().bytes, 0);
    }

    #[test]
    fn past_the_total_everything_held_is_let_go() {
        let o = Outbox::default();
        let big = vec![0u8; 512 * 1024];
        // Each channel keeps two entries of 512 KiB (its own bound is 1 MiB).
        for c in 0..8u8 {
            o.put([c; 32], 1, big.clone());
            o.put([c; 32], 2, big.clone());
        }
        assert_eq!(o.chans.lock().unwrap().bytes, 8 << 20);
        o.put([9; 32], 1, vec![1]);
        {
            let held = o.chans.lock().unwrap();
            assert!(held.runs.is_empty() && held.bytes == 0);
        }
        // What was committed is still known once the entries are let go.
        assert!(o.ahead(&[3; 32], 3) && !o.ahead(&[3; 32], 2));
    }

    #[test]
    fn ahead_only_of_what_this_process_saw_committed() {
        let o = Outbox::default();
        let ch = [4; 32];
        assert!(
            !o.ahead(&ch, 1),
            "nothing known since start: storage answers"
        );
        o.put(ch, 7, env(7));
        assert!(o.ahead(&ch, 8), "authored after the newest commit");
        assert!(!o.ahead(&ch, 7) && !o.ahead(&ch, 3));
        // Taken by a session, still committed.
        o.take(&ch, 7, 10).unwrap();
        assert!(!o.ahead(&ch, 7) && o.ahead(&ch, 8));
        assert!(!o.ahead(&[5; 32], 1), "another channel");
    }
}
