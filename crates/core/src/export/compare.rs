//! Comparing the two ends' exports of one channel (SPEC §9, v2).
//!
//! One export shows that its authors wrote a consistent record up to where
//! its exporter stopped; it cannot show that the exporter did not stop early,
//! cutting both chains before an inconvenient entry and signing a fresh
//! checkpoint over what is left. The other end's export can: it holds the
//! latest checkpoint the first exporter signed as entries arrived, and a
//! station never gives up what it has signed for. So two exports, one from
//! each end, agree when every entry both hold is the same, every checkpoint
//! matches the other file's entries, and no station's later checkpoint covers
//! less than its earlier one. What they then prove reaches the older of the two
//! exporters' checkpoints; entries beyond it are held by one file only.

use super::summary::{utc, Summary};
use hotline_proto::{hex, Checkpoint};
use std::fmt;

/// One of the two files compared, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    /// The first file.
    A,
    /// The second file.
    B,
}

impl fmt::Display for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            File::A => "A",
            File::B => "B",
        })
    }
}

/// What two agreeing exports share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// Per author, the seq up to which both files hold the very same entries:
    /// the heads of the older of the two exporters' checkpoints.
    pub upto: [u64; 2],
    /// Per file (A, B) and author, entries held beyond `upto`: written after
    /// the other file was exported, or not yet delivered to its exporter.
    pub beyond: [[u64; 2]; 2],
}

/// Where two exports part, the first difference found.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disagreement {
    /// The files are records of two different channels.
    #[error("different channels: A is channel {a}, B is channel {b}")]
    DifferentChannels {
        /// A's channel id, hex.
        a: String,
        /// B's channel id, hex.
        b: String,
    },
    /// Both files come from the same end, so neither checks the other.
    #[error("both files were exported by author {0}: compare needs one export from each end")]
    SameEnd(u8),
    /// The files hold different entries at one place of an author's chain:
    /// the author signed both, which is equivocation.
    #[error("the files first differ at author {author}'s entry {seq}: A holds {a}, B holds {b}; author {author} signed both")]
    Entry {
        /// Whose chain.
        author: u8,
        /// The first seq at which the files differ.
        seq: u64,
        /// A's entry hash, hex.
        a: String,
        /// B's entry hash, hex.
        b: String,
    },
    /// A checkpoint in one file vouches for an entry other than the one the
    /// other file holds at that place: its signer equivocated.
    #[error("author {signer}'s checkpoint in {file} covers author {author}'s entry {seq} as {claimed}, but {other} holds {held} there")]
    Checkpoint {
        /// The file holding the checkpoint.
        file: File,
        /// The other file.
        other: File,
        /// Who signed the checkpoint.
        signer: u8,
        /// Whose chain.
        author: u8,
        /// The seq.
        seq: u64,
        /// The hash the checkpoint names, hex.
        claimed: String,
        /// The hash of the entry the other file holds, hex.
        held: String,
    },
    /// One station's checkpoints go backwards: a later-signed one (by its own
    /// clock) covers less than an earlier one. A station never gives up what
    /// it signed for, so the later one was made over a cut record.
    #[error("author {signer} signed a checkpoint covering author {author}'s entries up to seq {earlier_seq} (in {earlier_file}, at {earlier_at}), then a later one covering only up to seq {later_seq} (in {later_file}, at {later_at}): a station never gives up what it signed for, so entries were cut before the later one was signed")]
    WentBack {
        /// Who signed both checkpoints.
        signer: u8,
        /// Whose chain the later one covers less of.
        author: u8,
        /// The file holding the earlier checkpoint.
        earlier_file: File,
        /// When the earlier one was signed, RFC 3339, the signer's clock.
        earlier_at: String,
        /// How far the earlier one covers that chain.
        earlier_seq: u64,
        /// The file holding the later checkpoint.
        later_file: File,
        /// When the later one was signed, RFC 3339, the signer's clock.
        later_at: String,
        /// How far the later one covers that chain.
        later_seq: u64,
    },
}

/// Compares two verified exports of one channel, one from each end: the
/// first difference, or what they agree on.
pub fn compare(a: &Summary, b: &Summary) -> Result<Agreement, Disagreement> {
    if a.channel != b.channel {
        return Err(Disagreement::DifferentChannels {
            a: hex(&a.channel),
            b: hex(&b.channel),
        });
    }
    if a.exported_by == b.exported_by {
        return Err(Disagreement::SameEnd(a.exported_by));
    }
    let upto = [0, 1].map(|x| a.counts[x].min(b.counts[x]));
    first_difference(a, b, upto)?;
    let files = [(File::A, a, File::B, b), (File::B, b, File::A, a)];
    for (file, s, other, o) in files {
        // Same channel, so same authors' keys: every checkpoint was verified
        // in its own file; here it meets the other file's entries.
        for c in &s.checkpoints {
            for (author, (seq, claimed)) in [0u8, 1].into_iter().zip(c.heads) {
                match o.entry_hash(author, seq) {
                    Some(held) if held != claimed => {
                        return Err(Disagreement::Checkpoint {
                            file,
                            other,
                            signer: c.signer,
                            author,
                            seq,
                            claimed: hex(&claimed),
                            held: hex(&held),
                        })
                    }
                    _ => {}
                }
            }
        }
    }
    went_back(a, b)?;
    Ok(Agreement {
        upto,
        beyond: [a, b].map(|s| [0, 1].map(|x| s.counts[x] - upto[x])),
    })
}

/// Of two checkpoints by one signer, the one it signed later (by its own
/// clock: the only clock two of its statements can be ordered by) must cover
/// at least as much of both chains. An export signed over a cut record, after
/// its exporter had already vouched for more, fails this; an honest export
/// that is merely older than the other file passes, and the files then agree
/// up to the older one.
fn went_back(a: &Summary, b: &Summary) -> Result<(), Disagreement> {
    for signer in [0u8, 1] {
        let signed: Vec<(File, &Checkpoint)> = [(File::A, a), (File::B, b)]
            .into_iter()
            .flat_map(|(f, s)| s.checkpoints_by(signer).map(move |c| (f, c)))
            .collect();
        for (later_file, later) in &signed {
            for (earlier_file, earlier) in &signed {
                if later.time <= earlier.time {
                    continue;
                }
                for author in [0u8, 1] {
                    let (l, e) = (
                        later.heads[author as usize].0,
                        earlier.heads[author as usize].0,
                    );
                    if l < e {
                        return Err(Disagreement::WentBack {
                            signer,
                            author,
                            earlier_file: *earlier_file,
                            earlier_at: utc(earlier.time),
                            earlier_seq: e,
                            later_file: *later_file,
                            later_at: utc(later.time),
                            later_seq: l,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// The first entry, in merged order, that the two files both hold but differently.
fn first_difference(a: &Summary, b: &Summary, upto: [u64; 2]) -> Result<(), Disagreement> {
    let mut first: Option<(u64, u8, u64)> = None;
    for author in [0u8, 1] {
        // Chains are hash-linked: once they part they stay apart, so the first
        // differing seq is where this author's two histories split.
        let Some(seq) =
            (1..=upto[author as usize]).find(|&s| a.mark(author, s) != b.mark(author, s))
        else {
            continue;
        };
        let lamport = a.mark(author, seq).map_or(u64::MAX, |m| m.lamport);
        if first.is_none_or(|(l, x, _)| (lamport, author) < (l, x)) {
            first = Some((lamport, author, seq));
        }
    }
    match first {
        None => Ok(()),
        Some((_, author, seq)) => Err(Disagreement::Entry {
            author,
            seq,
            a: a.entry_hash(author, seq)
                .map(|h| hex(&h))
                .unwrap_or_default(),
            b: b.entry_hash(author, seq)
                .map(|h| hex(&h))
                .unwrap_or_default(),
        }),
    }
}
