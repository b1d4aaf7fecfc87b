//! What a verified export holds, as the verifier reports it.

use hotline_proto::{hex, Checkpoint, Hash, Identity};

/// One verified entry, as [`compare`](super::compare) needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mark {
    /// SHA-256 of its envelope: the entry's identity.
    pub hash: Hash,
    /// Its lamport value, to name the first of two differences in merged order.
    pub lamport: u64,
}

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Channel id.
    pub channel: Hash,
    /// The two identities, author 0 then author 1, as the signed `Open` names
    /// them: bound to nothing until checked against known keys
    /// ([`check_authors`](super::check_authors)).
    pub identities: [Identity; 2],
    /// Each author's keys, oldest first, with the seq of the `KeyRotation`
    /// that brought each in (0 for the `Open`'s): the first is
    /// `identities[a]`, each later one vouched for by the one before.
    pub keys: [Vec<(u64, Identity)>; 2],
    /// Entries per author.
    pub counts: [u64; 2],
    /// Final channel state word.
    pub state: &'static str,
    /// The author whose fresh checkpoint covers exactly what the file holds.
    pub exported_by: u8,
    /// The exporter's clock when it exported, Unix milliseconds; informative.
    pub exported_at: u64,
    /// Every checkpoint in the file, signature verified, in file order.
    pub checkpoints: Vec<Checkpoint>,
    /// Entries of the counterpart that its checkpoint covers but the export does not hold
    /// (written by the counterpart and not yet delivered when exported).
    pub undelivered_from_peer: u64,
    /// Each author's entries by seq (index `seq - 1`): what `compare` matches.
    pub(super) chains: [Vec<Mark>; 2],
    /// `(author, seq)` of each piece of equivocation evidence, checked.
    pub equivocations: Vec<(u8, u64)>,
    /// Structured notices in the file, each checked against the schema its
    /// channel's terms agreed for its type.
    pub notices: u64,
    /// Checkpoint notes of the authors' logs, each checked against the
    /// entries (see [`Summary::witnessed`]).
    pub logs: Vec<super::LogSeen>,
}

impl Summary {
    /// Every key `author` signed with, oldest first.
    pub fn keys_of(&self, author: u8) -> Vec<Identity> {
        self.keys[author as usize]
            .iter()
            .map(|(_, id)| *id)
            .collect()
    }

    /// The hash of `author`'s entry `seq`, if the file holds it.
    pub fn entry_hash(&self, author: u8, seq: u64) -> Option<Hash> {
        self.mark(author, seq).map(|m| m.hash)
    }

    pub(super) fn mark(&self, author: u8, seq: u64) -> Option<Mark> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.chains.get(author as usize)?.get(i).copied()
    }

    /// The checkpoints in the file signed by `signer`.
    pub fn checkpoints_by(&self, signer: u8) -> impl Iterator<Item = &Checkpoint> {
        self.checkpoints.iter().filter(move |c| c.signer == signer)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "channel    {}", hex(&self.channel))?;
        for (i, id) in self.identities.iter().enumerate() {
            writeln!(f, "author {i}   {}", id.token())?;
            writeln!(f, "           fingerprint {}", id.fingerprint())?;
            for (seq, new) in self.keys[i].iter().skip(1) {
                writeln!(
                    f,
                    "           rotated at seq {seq} to {} (fingerprint {}), signed by both keys",
                    new.token(),
                    new.fingerprint()
                )?;
            }
        }
        writeln!(
            f,
            "entries    {} (author 0: {}, author 1: {}), every signature, chain link, causal link and lamport value verified",
            self.counts[0] + self.counts[1],
            self.counts[0],
            self.counts[1]
        )?;
        if self.notices > 0 {
            writeln!(
                f,
                "notices    {} (each matches the JSON Schema the terms agreed for its type)",
                self.notices
            )?;
        }
        for l in &self.logs {
            writeln!(
                f,
                "log        author {}: checkpoint at size {}, its root the tree of those entries{}",
                l.author,
                l.size,
                if l.counterpart_cosigned {
                    ", cosigned by the counterpart"
                } else {
                    ""
                }
            )?;
        }
        writeln!(f, "state      {}", self.state)?;
        writeln!(
            f,
            "exported   by author {} at {} (its clock)",
            self.exported_by,
            utc(self.exported_at)
        )?;
        let cps: Vec<String> = self
            .checkpoints
            .iter()
            .map(|c| format!("author {}", c.signer))
            .collect();
        write!(
            f,
            "checkpoints {} verified ({})",
            self.checkpoints.len(),
            cps.join(", ")
        )?;
        for c in &self.checkpoints {
            let role = if c.signer == self.exported_by {
                "the exporter, covering exactly this file"
            } else {
                "the counterpart"
            };
            write!(
                f,
                "\ncheckpoint by author {} ({role}), signed {} (its clock)",
                c.signer,
                utc(c.time)
            )?;
            for (a, (seq, hash)) in c.heads.iter().enumerate() {
                write!(f, "\n           author {a} head seq {seq} {}", hex(hash))?;
            }
        }
        if self.undelivered_from_peer > 0 {
            write!(
                f,
                "\nnote       the counterpart's checkpoint covers {} entries of its own not yet in this export",
                self.undelivered_from_peer
            )?;
        }
        for (author, seq) in &self.equivocations {
            write!(
                f,
                "\nevidence   author {author} signed two different entries {seq}: both envelopes are in the file, signatures checked"
            )?;
        }
        Ok(())
    }
}

/// Unix milliseconds as an RFC 3339 UTC time (days to civil date: Howard
/// Hinnant's algorithm), so a reader need not convert epoch numbers.
pub fn utc(ms: u64) -> String {
    let (days, rem) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1_000 % 60,
        rem % 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
