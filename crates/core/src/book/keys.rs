//! Each author's keys in a channel (SPEC §4 v2): which key verifies an
//! entry is a function of the transcript alone, the `Open`'s token and then
//! each `KeyRotation` in the author's own chain; and this station's own
//! rotations, one step per key.

use super::{ChannelBook, Refusal, Reject, VerifiedEntry};
use hotline_proto::{Body, Entry, Envelope, Identity, Keyring, SecretKeys, Signers};

impl ChannelBook {
    /// Decodes the verifying key of an author's newest key again (after its
    /// keys changed).
    pub(super) fn refresh_signer(&mut self, author: u8) {
        self.signer_vk[author as usize] = self.signer(author).verifying_key().ok();
    }

    /// The key an author's chain signs with now: the `Open`'s, or the one
    /// its latest `KeyRotation` brought in.
    pub fn signer(&self, author: u8) -> Identity {
        self.keys[author as usize].last().expect("never empty").1
    }

    /// The key an author's chain is at after its entry `seq`: the one that
    /// signs its entry `seq + 1`, and the one the other side holds once it
    /// has the author's entries up to `seq`.
    pub fn signer_after(&self, author: u8, seq: u64) -> Identity {
        self.keys[author as usize]
            .iter()
            .rev()
            .find(|(at, _)| *at <= seq)
            .expect("the first key is in force from seq 0")
            .1
    }

    /// An author's keys, oldest first, each with the seq of the
    /// `KeyRotation` that brought it in (0 for the `Open`'s).
    pub fn key_history(&self, author: u8) -> &[(u64, Identity)] {
        &self.keys[author as usize]
    }

    /// An envelope that claims a place the author's chain already holds,
    /// from before its latest rotation: decoded if the key in force there
    /// signed it (a fork of the author's own past, kept as evidence).
    pub(super) fn earlier_place(&self, author: u8, envelope: &Envelope) -> Option<Entry> {
        let claimed = envelope.peek().ok()?;
        if claimed.author != author || claimed.seq == 0 || claimed.seq > self.len(author) {
            return None;
        }
        let key = self.signer_after(author, claimed.seq - 1);
        envelope.open(&key.verifying_key().ok()?).ok()
    }

    /// Why an envelope does not verify under an author's current key: one
    /// of its retired keys signed it (a key that should have stopped
    /// signing), or none of them did.
    pub(super) fn retired_signer(&self, author: u8, envelope: &Envelope) -> Reject {
        // An entry beyond the next one cannot be judged yet: its author may
        // have rotated in the entries still on their way. It is refused
        // for the gap, as any early entry is.
        let next = self.len(author) + 1;
        if let Ok(e) = envelope.peek() {
            if e.author == author && e.seq > next {
                return Reject::SeqGap {
                    expected: next,
                    got: e.seq,
                };
            }
        }
        let keys = &self.keys[author as usize];
        for pair in keys.windows(2) {
            let signed = pair[0]
                .1
                .verifying_key()
                .is_ok_and(|vk| envelope.open(&vk).is_ok());
            if signed {
                return Reject::RetiredKey {
                    rotated_at: pair[1].0,
                };
            }
        }
        Reject::BadSignature
    }

    /// The keys this station's chain in this channel signs with.
    pub(super) fn own_signer<'k>(&self, keys: &'k impl Signers) -> Result<&'k SecretKeys, Refusal> {
        let id = self.signer(self.me);
        keys.signer(&id).ok_or_else(|| Refusal::KeyMissing {
            fingerprint: id.fingerprint().to_string(),
        })
    }

    /// Writes this station's next `KeyRotation` (SPEC §4 v2): from the keys
    /// the chain is at to the ones the station made next, signed by both.
    /// `None` when the chain is at the current keys already. A chain that
    /// is several keys behind takes one rotation per key, so that every
    /// chain goes through the station's keys in the same order.
    pub fn rotate(
        &self,
        keys: &Keyring,
        by: &str,
        now: u64,
    ) -> Result<Option<VerifiedEntry>, Refusal> {
        let at = self.signer(self.me);
        if at == keys.identity() {
            return Ok(None);
        }
        let old = self.own_signer(keys)?;
        let next = keys
            .position(&at)
            .and_then(|i| keys.identities().get(i + 1))
            .and_then(|id| keys.signer(id))
            .ok_or_else(|| Refusal::KeyMissing {
                fingerprint: at.fingerprint().to_string(),
            })?;
        let new = next;
        let body = Body::KeyRotation {
            new_token: new.identity().token(),
            new_sig: [0; 64],
        };
        let entry = self.next_entry(body, by, now, true)?;
        self.seal(Envelope::sign_rotation(&entry, old, new), entry)
            .map(Some)
    }
}
