//! Our checkpoints to the peer, paced (docs/DECISIONS.md, "Checkpoints
//! under load are paced").
//!
//! Each batch of the peer's entries is committed with a checkpoint signed
//! over it, and that checkpoint is the peer's proof of delivery. A line
//! carrying one message at a time answers every message with one, which
//! the peer verifies, stores and wakes for: about a fifth of the sender's
//! CPU a message. A checkpoint covers everything before it, so under load only
//! the newest of a channel needs to travel: the first checkpoint after a
//! quiet [`GAP`] goes out at once (a lone message's proof is not delayed
//! at all), and those that follow it within the gap wait until the gap
//! has passed, each replacing the one its channel had waiting. A held
//! checkpoint is already committed here; the peer only learns of it up to
//! [`GAP`] later. Anything else the link must send (a pong, an error) goes
//! out at once, after what is held, in the order it was made.

use crate::engine::Answer;
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::{Hash, LinkMsg};
use std::time::{Duration, Instant};

/// The least time between two sendings of checkpoints on one session.
pub const GAP: Duration = Duration::from_millis(2);

/// The checkpoints a session holds back, at most one per channel.
#[derive(Debug, Default)]
pub(super) struct Pace {
    /// When checkpoints last went out.
    last: Option<Instant>,
    /// The newest checkpoint of each channel waiting, in the order the
    /// channels first waited.
    held: Vec<(Hash, LinkMsg)>,
}

impl Pace {
    /// What to send now of `a`, made at `now`: all of it, after anything
    /// held, unless it is a lone checkpoint within [`GAP`] of the last
    /// ones sent, which is then held (and nothing is sent).
    pub fn offer(&mut self, mut a: Answer, now: Instant) -> Answer {
        if let Some(channel) = lone_checkpoint(&a) {
            let quiet = self
                .last
                .is_none_or(|t| now.saturating_duration_since(t) >= GAP);
            if quiet && self.held.is_empty() {
                self.last = Some(now);
                return a;
            }
            let msg = a.replies.pop().expect("a lone checkpoint");
            match self.held.iter_mut().find(|(c, _)| *c == channel) {
                Some(slot) => slot.1 = msg,
                None => self.held.push((channel, msg)),
            }
            return a;
        }
        if !self.held.is_empty() {
            let mut replies = self.release(now);
            replies.append(&mut a.replies);
            a.replies = replies;
        }
        a
    }

    /// When what is held is due, if anything is.
    pub fn due(&self) -> Option<Instant> {
        if self.held.is_empty() {
            return None;
        }
        Some(self.last.map_or_else(Instant::now, |t| t + GAP))
    }

    /// Everything held, as an answer to send now.
    pub fn release_answer(&mut self, now: Instant) -> Answer {
        Answer {
            replies: self.release(now),
            ..Answer::default()
        }
    }

    /// Everything held, to send now.
    pub fn release(&mut self, now: Instant) -> Vec<LinkMsg> {
        if !self.held.is_empty() {
            self.last = Some(now);
        }
        self.held.drain(..).map(|(_, m)| m).collect()
    }
}

/// The channel of an answer that is one checkpoint and nothing else.
fn lone_checkpoint(a: &Answer) -> Option<Hash> {
    if a.close || a.fault.is_some() {
        return None;
    }
    match a.replies.as_slice() {
        [LinkMsg::Checkpoint { envelope }] => {
            SignedCheckpoint::peek(envelope).ok().map(|c| c.channel)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::checkpoint::Checkpoint;

    fn ck(channel: u8, seq: u64) -> LinkMsg {
        let key = hotline_proto::SecretKeys::generate([7; 32], [9; 32]);
        let c = Checkpoint {
            channel: [channel; 32],
            signer: 1,
            heads: [(seq, [1; 32]), (0, [0; 32])],
            time: 0,
            peer_checkpoint: None,
        };
        LinkMsg::Checkpoint {
            envelope: c.sign(&key).bytes().to_vec(),
        }
    }

    fn answer(replies: Vec<LinkMsg>) -> Answer {
        Answer {
            replies,
            ..Answer::default()
        }
    }

    fn seq_of(m: &LinkMsg) -> (u8, u64) {
        let LinkMsg::Checkpoint { envelope } = m else {
            panic!("not a checkpoint: {m:?}")
        };
        let c = SignedCheckpoint::peek(envelope).unwrap();
        (c.channel[0], c.heads[0].0)
    }

    #[test]
    fn a_lone_checkpoint_after_a_quiet_gap_goes_at_once() {
        let mut p = Pace::default();
        let t0 = Instant::now();
        assert_eq!(p.offer(answer(vec![ck(1, 1)]), t0).replies.len(), 1);
        assert_eq!(p.due(), None);
        let later = t0 + GAP;
        assert_eq!(p.offer(answer(vec![ck(1, 2)]), later).replies.len(), 1);
        assert_eq!(p.due(), None);
    }

    #[test]
    fn within_the_gap_only_the_newest_of_each_channel_waits() {
        let mut p = Pace::default();
        let t0 = Instant::now();
        p.offer(answer(vec![ck(1, 1)]), t0);
        let t = t0 + GAP / 4;
        assert!(p.offer(answer(vec![ck(1, 2)]), t).replies.is_empty());
        assert!(p.offer(answer(vec![ck(2, 9)]), t).replies.is_empty());
        assert!(p.offer(answer(vec![ck(1, 3)]), t).replies.is_empty());
        assert_eq!(p.due(), Some(t0 + GAP));
        let sent: Vec<_> = p.release(t0 + GAP).iter().map(seq_of).collect();
        assert_eq!(sent, vec![(1, 3), (2, 9)]);
        assert_eq!(p.due(), None);
        // The next one is within the gap of that sending: it waits.
        assert!(p.offer(answer(vec![ck(1, 4)]), t0 + GAP).replies.is_empty());
        assert_eq!(p.due(), Some(t0 + GAP + GAP));
    }

    #[test]
    fn anything_else_goes_at_once_after_what_is_held() {
        let mut p = Pace::default();
        let t0 = Instant::now();
        p.offer(answer(vec![ck(1, 1)]), t0);
        p.offer(answer(vec![ck(1, 2)]), t0);
        let a = p.offer(answer(vec![LinkMsg::Pong { n: 5 }]), t0);
        assert_eq!(seq_of(&a.replies[0]), (1, 2));
        assert!(matches!(a.replies[1], LinkMsg::Pong { n: 5 }));
        assert_eq!(p.due(), None);
        // A checkpoint with a closing answer (a fault) is not held either.
        let mut closing = answer(vec![ck(1, 3)]);
        closing.close = true;
        assert_eq!(p.offer(closing, t0).replies.len(), 1);
    }
}
