//! The log checkpoint notes in an export (SPEC §5 v2): each author's chain
//! as a transparency log, its checkpoints signed by the author and
//! cosigned by the counterpart and by witnesses.
//!
//! The verifier rebuilds each author's Merkle tree from the entries the
//! file holds and checks each note's root against it: every entry up to a
//! note's size is proven included in the tree the note names (a stronger
//! check than an inclusion proof per entry, which would prove the same from
//! fewer hashes), and two notes of one log at one size cannot differ.

use super::line::{self, Line, LogNoteLine};
use super::{b64, fault, Fault, Summary};
use crate::book::ChannelBook;
use crate::tlog::{self, Log, WitnessVerifier};
use hotline_proto::{Envelope, MAX_ENTRY_BYTES_CAP};

/// A log checkpoint note the file holds, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSeen {
    /// Whose log.
    pub author: u8,
    /// The checkpoint's tree size: entries 1..=size of the author.
    pub size: u64,
    /// The note, with the signatures that verified (the author's, the
    /// counterpart's) and any others, unchecked until a verifier names them.
    pub note: Vec<u8>,
    /// Whether the counterpart cosigned it.
    pub counterpart_cosigned: bool,
}

/// Checks the log note lines against the entries of the file.
pub(super) fn check(
    book: &ChannelBook,
    lines: &[(usize, &str)],
    notes: &[(usize, LogNoteLine)],
) -> Result<Vec<LogSeen>, Fault> {
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    let logs = rebuild(lines)?;
    let mut seen: Vec<LogSeen> = Vec::with_capacity(notes.len());
    for (n, l) in notes {
        let n = *n;
        let author = match l.author {
            0 => 0u8,
            1 => 1u8,
            _ => return Err(fault(n, "log note: author must be 0 or 1")),
        };
        let peer_keys: Vec<WitnessVerifier> = book
            .key_history(1 - author)
            .iter()
            .filter_map(|(_, id)| WitnessVerifier::of_station(id))
            .collect();
        // Signed by one of the author's keys, under the origin that key names.
        let (cp, sigs, key) = book
            .key_history(author)
            .iter()
            .rev()
            .find_map(|(_, id)| {
                let (cp, sigs) =
                    tlog::verified_signatures(l.log_note.as_bytes(), id, &peer_keys).ok()?;
                (cp.origin == tlog::origin(&book.id(), id)).then_some((cp, sigs, *id))
            })
            .ok_or_else(|| {
                fault(
                    n,
                    format!("log note of author {author}: not a checkpoint of its log signed by its key (or a cosignature by the counterpart does not verify)"),
                )
            })?;
        let _ = key;
        let log = &logs[author as usize];
        if cp.size > book.len(author) || cp.size > log.size() {
            return Err(fault(
                n,
                format!(
                    "log note of author {author} at size {}: the file holds {} of its entries",
                    cp.size,
                    book.len(author)
                ),
            ));
        }
        if log.root(cp.size) != Some(cp.root) {
            return Err(fault(
                n,
                format!(
                    "log note of author {author} at size {}: its root is not the tree of the author's entries in this file",
                    cp.size
                ),
            ));
        }
        if seen.iter().any(|s| s.author == author && s.size == cp.size) {
            return Err(fault(
                n,
                format!("two log notes of author {author} at size {}", cp.size),
            ));
        }
        let names: Vec<String> = book
            .key_history(1 - author)
            .iter()
            .map(|(_, id)| tlog::station_witness_name(id))
            .collect();
        seen.push(LogSeen {
            author,
            size: cp.size,
            note: l.log_note.clone().into_bytes(),
            counterpart_cosigned: sigs.iter().any(|s| names.iter().any(|m| m == s.name())),
        });
    }
    Ok(seen)
}

/// Each author's log, from the entry lines in file order (already verified).
fn rebuild(lines: &[(usize, &str)]) -> Result<[Log; 2], Fault> {
    let mut logs = [Log::new(), Log::new()];
    for &(n, raw) in lines {
        let Ok(Line::Entry(l)) = line::line(raw) else {
            continue;
        };
        let bytes = b64(&l.envelope, "envelope", n)?;
        let author = Envelope::decode(&bytes, MAX_ENTRY_BYTES_CAP as usize)
            .and_then(|e| e.peek())
            .map_err(|e| fault(n, format!("entry does not decode: {e}")))?
            .author;
        logs[author.min(1) as usize].push(&bytes);
    }
    Ok(logs)
}

impl Summary {
    /// For each author with entries in the file, the largest size of its
    /// log that `witness` cosigned in a note the file holds; an error names
    /// the first author whose log that witness cosigned nowhere here.
    pub fn witnessed(&self, witness: &WitnessVerifier) -> Result<Vec<(u8, u64)>, String> {
        let mut out = Vec::new();
        for a in 0..2u8 {
            if self.counts[a as usize] == 0 {
                continue;
            }
            let best = self
                .logs
                .iter()
                .filter(|s| s.author == a && witness.cosigned(&s.note).is_some())
                .map(|s| s.size)
                .max();
            match best {
                Some(size) => out.push((a, size)),
                None => {
                    return Err(format!(
                        "witness {} cosigned no checkpoint of author {a}'s log in this file",
                        witness.name()
                    ))
                }
            }
        }
        Ok(out)
    }
}
