//! The channel-state fold (SPEC §4): Proposed → Active → (Suspended) → Terminated.
//!
//! The state is a pure fold over the state-changing entries of a transcript in
//! merged order `(lamport, author)`. The same fold, restricted to what an
//! author had seen, decides whether that author's entry was allowed.

use hotline_proto::{Body, Kind};

/// Where a channel is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `Open` written, not yet accepted.
    Proposed,
    /// Accepted; suspension is tracked separately per side.
    Active,
    /// Ended for good.
    Terminated,
}

/// The state of a channel after a fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelState {
    /// Proposed, Active or Terminated.
    pub phase: Phase,
    /// Whether author 0 / author 1 has suspended (only meaningful while Active).
    pub suspended: [bool; 2],
    /// Who terminated, once terminated.
    pub terminated_by: Option<u8>,
}

impl Default for ChannelState {
    fn default() -> Self {
        ChannelState {
            phase: Phase::Proposed,
            suspended: [false; 2],
            terminated_by: None,
        }
    }
}

/// Why a body is not allowed in a state: carries what a person needs to hear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} is not allowed while the channel is {}", state.word())]
pub struct Forbidden {
    /// The kind that was refused.
    pub kind: Kind,
    /// The state at that point.
    pub state: ChannelState,
}

impl ChannelState {
    /// The word used everywhere for this state: proposed, active, suspended, terminated.
    pub fn word(&self) -> &'static str {
        match self.phase {
            Phase::Proposed => "proposed",
            Phase::Terminated => "terminated",
            Phase::Active if self.suspended.iter().any(|s| *s) => "suspended",
            Phase::Active => "active",
        }
    }

    /// Whether either side has suspended.
    pub fn is_suspended(&self) -> bool {
        self.phase == Phase::Active && self.suspended.iter().any(|s| *s)
    }

    /// Whether `author` may write `kind` in this state (SPEC §4).
    pub fn check(&self, author: u8, kind: Kind) -> Result<(), Forbidden> {
        let ok = match self.phase {
            Phase::Terminated => false,
            Phase::Proposed => match kind {
                Kind::Accept => author == 1,
                Kind::Terminate | Kind::KeyRotation => true,
                _ => false,
            },
            Phase::Active if self.is_suspended() => match kind {
                Kind::Ack
                | Kind::ContactCheck
                | Kind::Decision
                | Kind::Terminate
                | Kind::KeyRotation => true,
                Kind::Resume => self.suspended[author as usize],
                _ => false,
            },
            Phase::Active => !matches!(kind, Kind::Open | Kind::Accept | Kind::Resume),
        };
        if ok {
            Ok(())
        } else {
            Err(Forbidden { kind, state: *self })
        }
    }

    /// Applies a state-changing body; other kinds leave the state as it is.
    ///
    /// Every entry reaching the fold was valid as its author knew the state,
    /// so it is applied as written (a suspension concurrent with the other
    /// side's counts: both must resume). Only `Terminate` is absorbing:
    /// concurrent entries merged after it change nothing, so every fold agrees.
    pub fn apply(&mut self, author: u8, body: &Body) {
        self.apply_kind(author, body.kind());
    }

    /// [`ChannelState::apply`] by kind alone: no state-changing body carries a
    /// field the fold reads, so the fold never needs a reason text.
    ///
    /// [`StateLog`] relies on three properties of this function: an author's
    /// `Suspend`/`Resume` touches only that author's flag, `Accept` is
    /// idempotent, and nothing after the first `Terminate` counts. A change
    /// here must keep them or change `StateLog::fold` with it (the property
    /// tests in this module compare the two).
    pub fn apply_kind(&mut self, author: u8, kind: Kind) {
        if self.phase == Phase::Terminated {
            return;
        }
        match kind {
            Kind::Accept => self.phase = Phase::Active,
            Kind::Suspend => self.suspended[author as usize] = true,
            Kind::Resume => self.suspended[author as usize] = false,
            Kind::Terminate => {
                self.phase = Phase::Terminated;
                self.terminated_by = Some(author);
            }
            _ => {}
        }
    }
}

/// One state-changing entry as the fold needs it: its place and its kind,
/// never its reason text (24 bytes, whatever the reason's length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    /// Its seq in its author's chain: a causal cut is a seq per author.
    seq: u64,
    /// Its lamport value: with the author, its place in the merged order.
    lamport: u64,
    /// Accept, Suspend, Resume or Terminate.
    kind: Kind,
}

/// The state-changing entries of a channel, kept so that the state over the
/// whole transcript, or over what one author had seen, is computed in
/// O(log n) without replaying the transcript (SPEC §4: the state is a pure
/// fold over the merged transcript; this gives the same answer).
///
/// Why a summary and not a running fold: the two chains arrive interleaved
/// as the network delivers them, not in merged order. A peer entry whose
/// lamport is lower than some of ours arrives after them and belongs before
/// them, and a `Terminate` merged before our `Suspend` decides whether that
/// suspension counts. So the log keeps, per author, its `Suspend`/`Resume`
/// entries in chain order (which is lamport order), and the first `Accept`
/// and the first `Terminate`; by the properties of
/// [`ChannelState::apply_kind`], the fold over any set of entries that is a
/// seq prefix of each chain equals the fold, in merged order, of at most five
/// of them: each `Accept`, the earliest `Terminate`, and each author's last
/// `Suspend`/`Resume` merged before that `Terminate`. Appending is O(1)
/// amortised; a fold is two binary searches per author and at most five
/// applications, wherever a late entry lands.
#[derive(Debug, Clone, Default)]
pub struct StateLog {
    /// Per author, its `Suspend` and `Resume` entries in chain order.
    toggles: [Vec<Change>; 2],
    /// Per author, its first `Accept` (only author 1 may write one).
    accept: [Option<Change>; 2],
    /// Per author, its first `Terminate` (nothing of that author follows it).
    terminate: [Option<Change>; 2],
}

impl StateLog {
    /// Records a state-changing entry; each author's entries come in chain
    /// order (the validity rules and storage order guarantee it). Kinds that
    /// change nothing are ignored.
    pub fn push(&mut self, author: u8, seq: u64, lamport: u64, kind: Kind) {
        let a = author as usize;
        let c = Change { seq, lamport, kind };
        debug_assert!(
            self.toggles[a]
                .last()
                .is_none_or(|l| l.seq < seq && l.lamport < lamport),
            "an author's state changes arrive in chain order"
        );
        match kind {
            Kind::Suspend | Kind::Resume => self.toggles[a].push(c),
            Kind::Accept => {
                self.accept[a].get_or_insert(c);
            }
            Kind::Terminate => {
                self.terminate[a].get_or_insert(c);
            }
            _ => {}
        }
    }

    /// Forgets an author's state changes after seq `len` (a refused batch
    /// taken back, [`crate::book::ChannelBook::rollback`]).
    pub fn truncate(&mut self, author: u8, len: u64) {
        let a = author as usize;
        while self.toggles[a].last().is_some_and(|c| c.seq > len) {
            self.toggles[a].pop();
        }
        for first in [&mut self.accept[a], &mut self.terminate[a]] {
            if first.is_some_and(|c| c.seq > len) {
                *first = None;
            }
        }
    }

    /// The state folded over author 0's entries up to seq `upto[0]` and
    /// author 1's up to `upto[1]`, in merged `(lamport, author)` order.
    /// `[u64::MAX; 2]` folds everything held.
    pub fn fold(&self, upto: [u64; 2]) -> ChannelState {
        let (picks, n) = self.picks(upto);
        let mut st = ChannelState::default();
        for (_, author, kind) in &picks[..n] {
            st.apply_kind(*author, *kind);
        }
        st
    }

    /// The entries that decide the fold over a cut, in merged order: at most
    /// five, whatever the length of the transcript.
    fn picks(&self, upto: [u64; 2]) -> ([(u64, u8, Kind); 5], usize) {
        let within = |a: usize, c: &Option<Change>| c.filter(|c| c.seq <= upto[a]);
        // The first Terminate in merged order: nothing merged after it counts.
        let end = (0..2u8)
            .filter_map(|a| within(a as usize, &self.terminate[a as usize]).map(|c| (c.lamport, a)))
            .min();
        let mut picks = [(0, 0, Kind::Open); 5];
        let mut n = 0;
        let mut pick = |p: (u64, u8, Kind)| {
            picks[n] = p;
            n += 1;
        };
        if let Some((lamport, a)) = end {
            pick((lamport, a, Kind::Terminate));
        }
        for a in 0..2u8 {
            if let Some(c) = within(a as usize, &self.accept[a as usize]) {
                pick((c.lamport, a, Kind::Accept));
            }
            let t = &self.toggles[a as usize];
            let held = t.partition_point(|c| c.seq <= upto[a as usize]);
            let before_end = match end {
                Some(e) => t[..held].partition_point(|c| (c.lamport, a) < e),
                None => held,
            };
            if let Some(c) = before_end.checked_sub(1).map(|i| t[i]) {
                pick((c.lamport, a, c.kind));
            }
        }
        picks[..n].sort_unstable_by_key(|(l, a, _)| (*l, *a));
        (picks, n)
    }
}

/// Whether a kind can change the channel state (the fold needs only these).
pub fn changes_state(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Open | Kind::Accept | Kind::Suspend | Kind::Resume | Kind::Terminate
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn active() -> ChannelState {
        let mut s = ChannelState::default();
        s.apply(
            1,
            &Body::Accept {
                terms_hash: [0; 32],
            },
        );
        s
    }

    #[test]
    fn proposed_allows_only_accept_by_the_invited_side_and_terminate() {
        let s = ChannelState::default();
        assert!(s.check(1, Kind::Accept).is_ok());
        assert!(s.check(0, Kind::Accept).is_err());
        assert!(s.check(0, Kind::Message).is_err());
        assert!(s.check(0, Kind::Terminate).is_ok());
    }

    #[test]
    fn suspension_allows_the_listed_kinds_and_resume_by_the_suspender_only() {
        let mut s = active();
        s.apply(0, &Body::Suspend { reason: "x".into() });
        assert_eq!(s.word(), "suspended");
        for k in [
            Kind::Ack,
            Kind::ContactCheck,
            Kind::Decision,
            Kind::Terminate,
        ] {
            assert!(s.check(1, k).is_ok(), "{k:?}");
        }
        for k in [
            Kind::Message,
            Kind::Request,
            Kind::Report,
            Kind::Suspend,
            Kind::Translation,
        ] {
            assert!(s.check(1, k).is_err(), "{k:?}");
        }
        assert!(s.check(1, Kind::Resume).is_err());
        assert!(s.check(0, Kind::Resume).is_ok());
    }

    #[test]
    fn both_sides_suspended_need_both_resumes() {
        let mut s = active();
        s.apply(0, &Body::Suspend { reason: "a".into() });
        // A concurrent suspend by 1, merged after 0's: valid as 1 knew the state, so it counts.
        s.apply(1, &Body::Suspend { reason: "b".into() });
        assert_eq!(s.suspended, [true, true]);
        s.apply(0, &Body::Resume);
        assert_eq!(s.word(), "suspended");
        s.apply(1, &Body::Resume);
        assert_eq!(s.word(), "active");
    }

    /// The reference: every state-changing entry of the cut, sorted into
    /// merged order and folded one by one, as SPEC §4 states it.
    fn naive(chains: &[Vec<(u64, Kind)>; 2], upto: [u64; 2]) -> ChannelState {
        let mut all: Vec<(u64, u8, Kind)> = vec![];
        for a in 0..2u8 {
            for (i, (lamport, kind)) in chains[a as usize].iter().enumerate() {
                if (i as u64 + 1) <= upto[a as usize] {
                    all.push((*lamport, a, *kind));
                }
            }
        }
        all.sort_by_key(|(l, a, _)| (*l, *a));
        let mut st = ChannelState::default();
        for (_, a, k) in all {
            st.apply_kind(a, k);
        }
        st
    }

    fn log_of(chains: &[Vec<(u64, Kind)>; 2]) -> StateLog {
        let mut log = StateLog::default();
        for a in 0..2u8 {
            for (i, (lamport, kind)) in chains[a as usize].iter().enumerate() {
                log.push(a, i as u64 + 1, *lamport, *kind);
            }
        }
        log
    }

    /// Two chains of entries of any kind (valid or not: the summary must not
    /// lean on validity), lamport strictly rising along each chain.
    fn chains() -> impl Strategy<Value = [Vec<(u64, Kind)>; 2]> {
        let kind = prop::sample::select(vec![
            Kind::Open,
            Kind::Accept,
            Kind::Message,
            Kind::Suspend,
            Kind::Suspend,
            Kind::Resume,
            Kind::Resume,
            Kind::Terminate,
        ]);
        let chain = prop::collection::vec((1u64..4, kind), 0..40).prop_map(|steps| {
            let mut lamport = 0;
            steps
                .into_iter()
                .map(|(dl, k)| {
                    lamport += dl;
                    (lamport, k)
                })
                .collect::<Vec<_>>()
        });
        (chain.clone(), chain).prop_map(|(a, b)| [a, b])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The log's fold equals the entry-by-entry fold in merged order over
        /// every causal cut, however the two chains interleave.
        #[test]
        fn the_log_folds_every_cut_as_the_merged_fold_does(c in chains(), cuts in prop::collection::vec((0u64..45, 0u64..45), 1..20)) {
            let log = log_of(&c);
            prop_assert_eq!(log.fold([u64::MAX; 2]), naive(&c, [u64::MAX; 2]));
            for (x, y) in cuts {
                prop_assert_eq!(log.fold([x, y]), naive(&c, [x, y]), "cut {:?}", (x, y));
            }
        }

        /// Entries pushed in any arrival order that keeps each chain's order
        /// (a peer entry merged before ours may arrive after it) give the
        /// same fold after every push as the merged fold of what is held.
        #[test]
        fn arrival_order_does_not_matter(c in chains(), order in prop::collection::vec(any::<bool>(), 0..80)) {
            let mut log = StateLog::default();
            let mut held = [0usize; 2];
            let mut next = order.into_iter().chain(std::iter::repeat(true));
            while held[0] < c[0].len() || held[1] < c[1].len() {
                let mut a = usize::from(next.next().unwrap_or(true));
                if held[a] == c[a].len() {
                    a = 1 - a;
                }
                let (lamport, kind) = c[a][held[a]];
                held[a] += 1;
                log.push(a as u8, held[a] as u64, lamport, kind);
                prop_assert_eq!(log.fold([u64::MAX; 2]), naive(&c, [held[0] as u64, held[1] as u64]));
            }
        }
    }

    /// A peer alternating Suspend and Resume for as long as it likes costs
    /// each fold the same: at most five entries are applied, whatever the
    /// length of the transcript (the quadratic re-sort this replaced applied
    /// every one of them, for every entry checked and every entry applied).
    #[test]
    fn a_fold_applies_at_most_five_entries_however_long_the_transcript() {
        let mut log = StateLog::default();
        log.push(0, 1, 1, Kind::Open);
        log.push(1, 1, 2, Kind::Accept);
        let mut lamport = 2;
        for seq in 2..20_000u64 {
            for a in 0..2u8 {
                lamport += 1;
                let kind = if seq % 2 == 0 {
                    Kind::Suspend
                } else {
                    Kind::Resume
                };
                log.push(a, seq, lamport, kind);
            }
        }
        for upto in [[u64::MAX; 2], [19_999, 7], [5, 19_998], [0, 0], [1, 1]] {
            let (_, n) = log.picks(upto);
            assert!(n <= 5, "{n} entries folded for cut {upto:?}");
        }
        assert_eq!(log.fold([u64::MAX; 2]).word(), "active");
        assert_eq!(log.fold([u64::MAX, 19_998]).word(), "suspended");
        lamport += 1;
        log.push(0, 20_000, lamport, Kind::Terminate);
        let (_, n) = log.picks([u64::MAX; 2]);
        assert!(n <= 5);
        let st = log.fold([u64::MAX; 2]);
        assert_eq!((st.word(), st.terminated_by), ("terminated", Some(0)));
        assert_eq!(std::mem::size_of::<Change>(), 24, "no reason text is kept");
    }

    #[test]
    fn nothing_after_terminate() {
        let mut s = active();
        s.apply(
            1,
            &Body::Terminate {
                reason: "end".into(),
            },
        );
        assert_eq!(s.word(), "terminated");
        assert_eq!(s.terminated_by, Some(1));
        for k in Kind::ALL {
            assert!(s.check(0, k).is_err());
        }
    }
}
