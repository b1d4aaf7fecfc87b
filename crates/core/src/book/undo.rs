//! Taking a batch whole or not at all (SPEC §1: input from the counterpart is
//! rejected whole on any fault). The receive path applies a batch's entries
//! one by one, since each is checked against the book as the ones before it
//! left it; when a later one fails, [`ChannelBook::rollback`] returns the book
//! to where the batch began. A journal of what `apply` changed is kept only
//! while a batch is open, so the cost is the batch's, never the transcript's.

use super::{ChannelBook, OpenRequest, Unacked};
use hotline_proto::Hash;

/// One change `apply` made, and how to take it back.
#[derive(Debug, Clone)]
pub(super) enum Undo {
    /// An unacknowledged message's entry was set or removed: put back `was`.
    Unacked {
        author: u8,
        hash: Hash,
        was: Option<Unacked>,
    },
    /// An own message was added as undelivered: remove it.
    UndeliveredAdded(u64),
    /// An own message left the undelivered set (proven delivered): put it back.
    UndeliveredTaken(u64, Hash),
    /// An open request was set or removed: put back `was`.
    Request {
        author: u8,
        hash: Hash,
        was: Option<OpenRequest>,
    },
    /// A request was newly marked decided.
    Decided(Hash),
    /// A missed deadline was newly marked acted on.
    DeadlineActed(Hash),
    /// An author's key was rotated: drop the newest key of its chain.
    Rotated(u8),
}

/// Where a batch began; give it back to [`ChannelBook::rollback`] or
/// [`ChannelBook::release`].
#[must_use]
#[derive(Debug)]
pub struct Savepoint {
    lens: [u64; 2],
}

impl ChannelBook {
    /// Opens a batch: from now on `apply` keeps what it changes.
    pub fn savepoint(&mut self) -> Savepoint {
        self.journal = Some(Vec::new());
        Savepoint {
            lens: [self.len(0), self.len(1)],
        }
    }

    /// The batch is taken: forget how to undo it.
    pub fn release(&mut self, _at: Savepoint) {
        self.journal = None;
    }

    /// The batch is refused: the book is as it was at the savepoint.
    pub fn rollback(&mut self, at: Savepoint) {
        for u in self.journal.take().unwrap_or_default().into_iter().rev() {
            match u {
                Undo::Unacked { author, hash, was } => {
                    self.put_unacked(author, hash, was);
                }
                Undo::UndeliveredAdded(seq) => {
                    self.undelivered.remove(&seq);
                }
                Undo::UndeliveredTaken(seq, hash) => {
                    self.undelivered.insert(seq, hash);
                }
                Undo::Request { author, hash, was } => {
                    let m = &mut self.open_requests[author as usize];
                    match was {
                        Some(w) => m.insert(hash, w),
                        None => m.remove(&hash),
                    };
                }
                Undo::Decided(h) => {
                    self.decided.remove(&h);
                }
                Undo::DeadlineActed(h) => {
                    self.deadline_acted.remove(&h);
                }
                Undo::Rotated(author) => {
                    self.keys[author as usize].pop();
                    self.refresh_signer(author);
                }
            }
        }
        for a in 0..2u8 {
            let chain = &mut self.chains[a as usize];
            while chain.len() as u64 > at.lens[a as usize] {
                if let Some(m) = chain.pop() {
                    self.index.remove(&m.hash);
                }
            }
            self.log.truncate(a, at.lens[a as usize]);
        }
        self.state = self.log.fold([u64::MAX; 2]);
    }

    /// Keeps a change for [`ChannelBook::rollback`] while a batch is open.
    pub(super) fn note(&mut self, u: Undo) {
        if let Some(j) = &mut self.journal {
            j.push(u);
        }
    }
}
