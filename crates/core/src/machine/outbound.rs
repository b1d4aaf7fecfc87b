//! The sending side of a link session to one peer (SPEC §5): where to resume
//! after the peer's `Hello`, what to send next within the window, and when to
//! ask for a checkpoint the peer owes us.

use super::Channel;
use hotline_proto::link::{ChannelHeads, LINK_VERSION};
use hotline_proto::{Hash, LinkMsg};
use std::collections::{BTreeMap, BTreeSet};

/// Most own entries in flight (sent, not yet covered by a peer checkpoint)
/// per channel: bounds what a slow peer makes us hold in its queues.
pub const WINDOW: u64 = 4096;
/// Most envelopes in one `Entries` message; the receiver's decoder refuses
/// more (one number for both ends: the link's bound, defined with the message).
pub const BATCH_ENTRIES: usize = hotline_proto::link::MAX_ENVELOPES;
/// Most bytes of envelopes packed into one `Entries` message (at least one
/// envelope always goes, whatever its size up to the channel's limit).
pub const BATCH_BYTES: usize = 1024 * 1024;

/// The `Hello` a station sends first on a link: per channel shared with the
/// peer, the heads held, so the other side knows where to resume.
pub fn hello<'a>(channels: impl IntoIterator<Item = &'a Channel>) -> LinkMsg {
    LinkMsg::Hello {
        version: LINK_VERSION,
        heads: channels
            .into_iter()
            .map(|c| ChannelHeads {
                channel: c.id(),
                heads: c.heads(),
            })
            .collect(),
    }
}

/// One outbound session's cursors. Lost with the connection: the next
/// `Hello` says again where to resume.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    /// Per channel, the highest own seq sent on this session.
    cursor: BTreeMap<Hash, u64>,
    /// Channels whose checkpoint to ask for with an empty batch.
    ask: Vec<Hash>,
    /// Channels where the peer holds less of our chain than its checkpoint
    /// proved (it was restored from a backup): resent from what it holds.
    below: BTreeSet<Hash>,
    /// Channels where the peer holds less of its own chain than we do (it
    /// was restored from an older backup): both chains above what it holds
    /// go back in merged order; per author, the last seq sent.
    resend: BTreeMap<Hash, [u64; 2]>,
}

impl Outbound {
    /// A session after the peer's `Hello` (`their` heads per channel): resume
    /// above what the peer holds of ours; where it holds more than its last
    /// checkpoint to us proved (the checkpoint was lost with the last
    /// connection), ask for a new one, so delivery is proven without waiting
    /// for new traffic.
    pub fn new<'a>(
        their: &[ChannelHeads],
        channels: impl IntoIterator<Item = &'a Channel>,
    ) -> Outbound {
        let theirs: BTreeMap<Hash, [(u64, Hash); 2]> =
            their.iter().map(|h| (h.channel, h.heads)).collect();
        let mut out = Outbound::default();
        for ch in channels {
            let me = ch.book().me() as usize;
            let heads = theirs.get(&ch.id());
            let held = heads.map(|h| h[me].0).unwrap_or(0);
            out.cursor.insert(ch.id(), held);
            if held > ch.delivered_upto() {
                out.ask.push(ch.id());
            }
            if held < ch.delivered_upto() {
                out.below.insert(ch.id());
            }
            if let Some(h) = heads {
                if h[1 - me].0 < ch.book().len(1 - me as u8) {
                    out.resend.insert(ch.id(), [h[0].0, h[1].0]);
                }
            }
        }
        out
    }

    /// What to read next for a peer taking back its own chain: `(author,
    /// seq)` of both chains above what it holds, in merged order (so each
    /// entry's `prev` and `seen` reach it first), at most `max`. `None` when
    /// none is owed: once the peer's chain is all back, ours goes on through
    /// [`Outbound::next`] from where this left it.
    pub fn resend_next(&mut self, ch: &Channel, max: usize) -> Option<Vec<(u8, u64)>> {
        let id = ch.id();
        let mut at = *self.resend.get(&id)?;
        let book = ch.book();
        let them = book.peer() as usize;
        let len = [book.len(0), book.len(1)];
        if at[them] >= len[them] {
            self.resend.remove(&id);
            let own = at[book.me() as usize];
            let cur = self.cursor.entry(id).or_insert(own);
            *cur = (*cur).max(own);
            return None;
        }
        let key = |a: usize, s: u64| book.meta(a as u8, s).map(|m| (m.lamport, a));
        let mut out = Vec::new();
        while out.len() < max.max(1) {
            let next = (0..2)
                .filter(|a| at[*a] < len[*a])
                .filter_map(|a| key(a, at[a] + 1).map(|k| (k, a)))
                .min();
            let Some((_, a)) = next else { break };
            at[a] += 1;
            out.push((a as u8, at[a]));
        }
        Some(out)
    }

    /// Packs rows `(author, seq, envelope)` read for
    /// [`Outbound::resend_next`] into one `Entries` (up to [`BATCH_BYTES`])
    /// and advances past them.
    pub fn resend_pack(&mut self, ch: &Channel, rows: Vec<(u8, u64, Vec<u8>)>) -> Option<LinkMsg> {
        let at = self.resend.get_mut(&ch.id())?;
        let mut envelopes = Vec::new();
        let mut size = 0;
        for (author, seq, env) in rows {
            let a = author as usize;
            if a > 1
                || seq != at[a] + 1
                || (!envelopes.is_empty() && size + env.len() > BATCH_BYTES)
            {
                break;
            }
            size += env.len();
            at[a] = seq;
            envelopes.push(env);
        }
        (!envelopes.is_empty()).then(|| LinkMsg::Entries {
            channel: ch.id(),
            envelopes,
        })
    }

    /// The empty `Entries` batches that ask the peer for owed checkpoints (once).
    pub fn checkpoint_requests(&mut self) -> Vec<LinkMsg> {
        std::mem::take(&mut self.ask)
            .into_iter()
            .map(|channel| LinkMsg::Entries {
                channel,
                envelopes: vec![],
            })
            .collect()
    }

    fn cursor(&mut self, ch: &Channel) -> &mut u64 {
        let delivered = ch.delivered_upto();
        let below = self.below.contains(&ch.id());
        let cur = self.cursor.entry(ch.id()).or_insert(delivered);
        if !below {
            *cur = (*cur).max(delivered);
        }
        cur
    }

    /// What to read for the next `Entries` of a channel: own entries from
    /// this seq, at most this many (`max` caps it further); `None` when all
    /// is sent or the window is full.
    pub fn next(&mut self, ch: &Channel, max: usize) -> Option<(u64, usize)> {
        if self.resend.contains_key(&ch.id()) {
            return None; // our chain goes in merged order with the peer's for now
        }
        let own = ch.book().len(ch.book().me());
        let delivered = ch.delivered_upto();
        let cur = *self.cursor(ch);
        let in_flight = cur.saturating_sub(delivered);
        if cur >= own || in_flight >= WINDOW {
            return None;
        }
        let room = (WINDOW - in_flight).min(BATCH_ENTRIES as u64) as usize;
        Some((cur + 1, room.min(max).max(1)))
    }

    /// Packs rows `(seq, envelope)` read for [`Outbound::next`] into one
    /// `Entries` (up to [`BATCH_BYTES`]) and advances the cursor past them.
    /// Returns the message and its last seq, for [`Channel::mark_sent`] once
    /// the message is on its way.
    pub fn pack(&mut self, ch: &Channel, rows: Vec<(u64, Vec<u8>)>) -> Option<(LinkMsg, u64)> {
        let cur = *self.cursor(ch);
        let mut envelopes = Vec::new();
        let mut size = 0;
        let mut last = cur;
        for (seq, env) in rows {
            if seq != last + 1 || (!envelopes.is_empty() && size + env.len() > BATCH_BYTES) {
                break;
            }
            size += env.len();
            last = seq;
            envelopes.push(env);
        }
        if envelopes.is_empty() {
            return None;
        }
        *self.cursor(ch) = last;
        let msg = LinkMsg::Entries {
            channel: ch.id(),
            envelopes,
        };
        Some((msg, last))
    }

    /// Whether everything of the channel's own chain has been sent (or proven delivered).
    pub fn caught_up(&self, ch: &Channel) -> bool {
        if self.resend.contains_key(&ch.id()) {
            return false;
        }
        let cur = self.cursor.get(&ch.id()).copied().unwrap_or(0);
        let cur = if self.below.contains(&ch.id()) {
            cur
        } else {
            cur.max(ch.delivered_upto())
        };
        cur >= ch.book().len(ch.book().me())
    }
}
