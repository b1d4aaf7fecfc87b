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
                Kind::Terminate => true,
                _ => false,
            },
            Phase::Active if self.is_suspended() => match kind {
                Kind::Ack | Kind::ContactCheck | Kind::Decision | Kind::Terminate => true,
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
        if self.phase == Phase::Terminated {
            return;
        }
        match body {
            Body::Accept { .. } => self.phase = Phase::Active,
            Body::Suspend { .. } => self.suspended[author as usize] = true,
            Body::Resume => self.suspended[author as usize] = false,
            Body::Terminate { .. } => {
                self.phase = Phase::Terminated;
                self.terminated_by = Some(author);
            }
            _ => {}
        }
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
