//! The oversight export (SPEC §9): writing and offline verification.
//!
//! Format, JSON Lines:
//! 1. a header `{"hotline_export":1, "channel", "identities":[t0,t1], "exported_by", "exported_at", "entries"}`;
//! 2. one line per entry in merged order `(lamport, author)`:
//!    `{"envelope": base64, "hash": hex, "entry": decoded view}`;
//! 3. the latest checkpoint of each side: `{"checkpoint": base64, "hash": hex, "view": decoded view}`.
//!    The exporting station signs a fresh checkpoint at export time that covers
//!    exactly the exported heads and names the counterpart's checkpoint by hash,
//!    so truncation or a dropped checkpoint line is detectable. The
//!    counterpart's checkpoint must be there whenever the counterpart has
//!    entries in the file (SPEC §9, v2);
//! 4. equivocation evidence the exporter holds, if any:
//!    `{"evidence": base64 conflicting envelope, "stored": base64 envelope held in the transcript, "author", "seq"}`:
//!    two different entries with one seq, both signed by that author;
//! 5. checkpoints of each author's log (SPEC §5 v2), if any: `{"log_note":
//!    C2SP signed note text, "author"}`, signed by the author, with the
//!    cosignatures of the counterpart and of witnesses the exporter holds.
//!
//! The verifier trusts nothing but the two identity tokens in the signed `Open`;
//! which stations those are is checked against keys the verifier knows
//! ([`check_authors`]), and whether an exporter cut its record short by the
//! other end's export ([`compare`]). Lines are read strictly: a repeated JSON
//! key or a field this version does not write is a fault.

mod authors;
mod compare;
mod fast;
mod line;
mod logs;
mod summary;

pub use authors::{check_authors, check_rotated_authors, Authors, AuthorsError, KnownKey};
pub use compare::{compare, Agreement, Disagreement, File};
pub use logs::LogSeen;
pub use summary::{utc, Summary};

use crate::book::{ChannelBook, Outcome, VerifiedEntry};
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::{hex, view, Envelope, Hash, Identity, MAX_ENTRY_BYTES_CAP};
use line::Line;
use serde_json::json;
use summary::Mark;

/// Proof that an author signed two different entries with one seq: the
/// envelope the transcript holds and the other one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The equivocating author.
    pub author: u8,
    /// The seq both envelopes claim.
    pub seq: u64,
    /// The envelope held in the transcript.
    pub stored: Vec<u8>,
    /// The other envelope.
    pub conflicting: Vec<u8>,
}

/// Export format version written in the header.
pub const EXPORT_VERSION: u64 = 1;

/// What an export carries after its entries.
#[derive(Debug, Clone, Copy)]
pub struct Attached<'a> {
    /// The latest signed checkpoint of each side.
    pub checkpoints: &'a [Vec<u8>],
    /// Equivocation evidence.
    pub evidence: &'a [Evidence],
    /// Log checkpoint notes, `(author, note)`.
    pub log_notes: &'a [(u8, Vec<u8>)],
}

/// Builds the export text. `entries` are envelope bytes in any order (they
/// are put in merged order here).
pub fn write(
    channel: &Hash,
    identities: &[Identity; 2],
    exported_by: u8,
    exported_at: u64,
    entries: &[Vec<u8>],
    attached: Attached<'_>,
) -> Result<String, String> {
    let Attached {
        checkpoints,
        evidence,
        log_notes,
    } = attached;
    let mut decoded = Vec::with_capacity(entries.len());
    for bytes in entries {
        let env = Envelope::decode(bytes, MAX_ENTRY_BYTES_CAP as usize)
            .map_err(|e| format!("stored envelope does not decode: {e}"))?;
        let entry = env
            .peek()
            .map_err(|e| format!("stored entry does not decode: {e}"))?;
        decoded.push((entry, env));
    }
    decoded.sort_by_key(|(e, _)| (e.lamport, e.author));
    let mut out = String::new();
    let header = json!({
        "hotline_export": EXPORT_VERSION,
        "channel": hex(channel),
        "identities": [identities[0].token(), identities[1].token()],
        "exported_by": exported_by,
        "exported_at": exported_at,
        "entries": decoded.len(),
    });
    out.push_str(&header.to_string());
    out.push('\n');
    for (entry, env) in &decoded {
        let line = json!({
            "envelope": data_encoding::BASE64.encode(env.bytes()),
            "hash": hex(&env.hash()),
            "entry": view::entry(entry),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    for c in checkpoints {
        let cp = SignedCheckpoint::peek(c).map_err(|e| format!("stored checkpoint: {e}"))?;
        let line = json!({
            "checkpoint": data_encoding::BASE64.encode(c),
            "hash": hex(&hotline_proto::sha256(c)),
            "view": view::checkpoint(&cp),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    for e in evidence {
        let line = json!({
            "evidence": data_encoding::BASE64.encode(&e.conflicting),
            "stored": data_encoding::BASE64.encode(&e.stored),
            "author": e.author,
            "seq": e.seq,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    for (author, note) in log_notes {
        let note = String::from_utf8(note.clone()).map_err(|_| "a stored log note is not text")?;
        let line = json!({"log_note": note, "author": author});
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}

/// The first fault found, with its line number (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct Fault {
    /// Line number, 1-based (0 when the fault is about the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

fn fault(line: usize, what: impl Into<String>) -> Fault {
    Fault {
        line,
        what: what.into(),
    }
}

fn b64(text: &str, field: &str, line: usize) -> Result<Vec<u8>, Fault> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|_| fault(line, format!("\"{field}\" is not standard base64")))
}

/// Verifies an export offline, stopping at the first fault.
///
/// This proves that the two keys the file names wrote it consistently, and
/// that the counterpart vouched for it as far as its checkpoint goes; whose
/// keys they are is [`check_authors`]' question, and whether the exporter
/// stopped early is [`compare`]'s.
pub fn verify(text: &str) -> Result<Summary, Fault> {
    let mut lines = text
        .split_terminator('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let (_, first) = lines.next().ok_or_else(|| fault(0, "the file is empty"))?;
    let header = line::header(first).map_err(|w| fault(1, w))?;
    let exported_by = match header.exported_by {
        0 => 0u8,
        1 => 1u8,
        _ => return Err(fault(1, "header: exported_by must be 0 or 1")),
    };

    let lines: Vec<(usize, &str)> = lines.collect();
    // The work each entry line needs alone is done ahead on every core, and
    // the signatures are batch-verified on other threads while this one
    // checks the chains. When any of that fails, the lines are read again
    // one by one, which names the first fault exactly.
    if let Some((ready, batch)) = fast::prepare(&lines) {
        let (walked, signed) = std::thread::scope(|s| {
            let signed = s.spawn(|| batch.verify());
            let walked = walk(&header, exported_by, &lines, Some(ready));
            (walked, signed.join().unwrap_or(false))
        });
        if signed {
            return walked;
        }
    }
    walk(&header, exported_by, &lines, None)
}

/// Reads the lines after the header in order: with `pre`, each parsed and
/// decoded ahead (and its signature checked apart, by the caller); without,
/// each parsed, decoded and verified here.
fn walk(
    header: &line::Header,
    exported_by: u8,
    lines: &[(usize, &str)],
    pre: Option<Vec<fast::Ready>>,
) -> Result<Summary, Fault> {
    let mut book: Option<ChannelBook> = None;
    let mut chains: [Vec<Mark>; 2] = [Vec::new(), Vec::new()];
    let mut notices = 0u64;
    let mut last_order: Option<(u64, u8)> = None;
    let mut checkpoints: Vec<(usize, SignedCheckpoint)> = Vec::new();
    let mut evidence: Vec<(usize, line::EvidenceLine)> = Vec::new();
    let mut log_notes: Vec<(usize, line::LogNoteLine)> = Vec::new();
    let mut pre = pre.map(Vec::into_iter);
    for &(n, raw) in lines {
        let ready = pre.as_mut().and_then(|p| p.next());
        if raw.trim().is_empty() {
            return Err(fault(n, "blank line"));
        }
        let parsed = match ready {
            Some(fast::Ready::Entry(o)) => Parsed::Entry(Source::Opened(o)),
            Some(fast::Ready::Other(l)) => Parsed::from(l),
            None => Parsed::from(line::line(raw).map_err(|w| fault(n, w))?),
        };
        match parsed {
            Parsed::Entry(src) => {
                if !checkpoints.is_empty() || !evidence.is_empty() || !log_notes.is_empty() {
                    return Err(fault(n, "entry after the checkpoints"));
                }
                let (verified, (hash_ok, view_ok)) = match (book.as_mut(), src) {
                    (None, src) => {
                        let (b, e) = match &src {
                            Source::Opened(o) => {
                                ChannelBook::genesis(o.envelope.bytes(), exported_by)
                            }
                            Source::Line(l) => {
                                ChannelBook::genesis(&b64(&l.envelope, "envelope", n)?, exported_by)
                            }
                        }
                        .map_err(|r| fault(n, format!("genesis entry rejected: {r}")))?;
                        book = Some(b);
                        let matches = src.matches(&e);
                        (e, matches)
                    }
                    (Some(b), Source::Opened(o)) => {
                        (opened_entry(b, o.envelope, o.entry, n)?, o.matches)
                    }
                    (Some(b), Source::Line(l)) => {
                        let e = next_entry(b, &b64(&l.envelope, "envelope", n)?, n)?;
                        let matches = line_matches(&l, &e);
                        (e, matches)
                    }
                };
                let e = verified.entry();
                let order = (e.lamport, e.author);
                if last_order.is_some_and(|l| order <= l) {
                    return Err(fault(n, "entry out of merged (lamport, author) order"));
                }
                last_order = Some(order);
                if !hash_ok {
                    return Err(fault(n, "\"hash\" does not match the envelope"));
                }
                if !view_ok {
                    return Err(fault(
                        n,
                        "the decoded view disagrees with the signed envelope",
                    ));
                }
                if matches!(e.body, hotline_proto::Body::Notice { .. }) {
                    notices += 1;
                }
                chains[e.author as usize].push(Mark {
                    hash: verified.hash(),
                    lamport: e.lamport,
                });
            }
            Parsed::Evidence(l) => {
                if !log_notes.is_empty() {
                    return Err(fault(n, "evidence after the log notes"));
                }
                evidence.push((n, l))
            }
            Parsed::LogNote(l) => log_notes.push((n, l)),
            Parsed::Checkpoint(l) => {
                if !evidence.is_empty() || !log_notes.is_empty() {
                    return Err(fault(n, "checkpoint after the evidence or log notes"));
                }
                let b = book
                    .as_ref()
                    .ok_or_else(|| fault(n, "checkpoint before any entry"))?;
                let bytes = b64(&l.checkpoint, "checkpoint", n)?;
                let signer = SignedCheckpoint::peek(&bytes)
                    .map_err(|e| fault(n, format!("checkpoint does not decode: {e}")))?
                    .signer;
                // Signed by one of the keys of the signer's chain (after a
                // rotation, the newest the other side was known to hold).
                let keys = b.key_history(signer.min(1));
                let cp = keys
                    .iter()
                    .rev()
                    .filter_map(|(_, id)| id.verifying_key().ok())
                    .find_map(|key| SignedCheckpoint::open(&bytes, &key).ok())
                    .ok_or_else(|| {
                        fault(
                            n,
                            format!(
                                "checkpoint rejected: {}",
                                hotline_proto::ProtoError::BadSignature
                            ),
                        )
                    })?;
                if l.hash != hex(&cp.hash()) {
                    return Err(fault(n, "checkpoint \"hash\" does not match"));
                }
                if l.view != view::checkpoint(cp.checkpoint()) {
                    return Err(fault(
                        n,
                        "the checkpoint view disagrees with the signed checkpoint",
                    ));
                }
                if cp.checkpoint().channel != b.id() {
                    return Err(fault(n, "checkpoint of another channel"));
                }
                if checkpoints
                    .iter()
                    .any(|(_, c)| c.checkpoint().signer == signer)
                {
                    return Err(fault(n, "two checkpoints from the same side"));
                }
                checkpoints.push((n, cp));
            }
        }
    }
    let book = book.ok_or_else(|| fault(0, "the export holds no entry"))?;
    let counts = [book.len(0), book.len(1)];
    if counts[0] + counts[1] != header.entries {
        return Err(fault(
            1,
            format!(
                "header declares {} entries, the file holds {}",
                header.entries,
                counts[0] + counts[1]
            ),
        ));
    }
    if header.channel != hex(&book.id()) {
        return Err(fault(1, "header channel does not match the Open"));
    }
    let tokens = [book.identities()[0].token(), book.identities()[1].token()];
    if header.identities != tokens {
        return Err(fault(1, "header identities do not match the Open"));
    }

    // The exporter's checkpoint covers exactly what the export holds.
    let (own_line, own) = checkpoints
        .iter()
        .find(|(_, c)| c.checkpoint().signer == exported_by)
        .ok_or_else(|| fault(0, "the exporting station's checkpoint is missing"))?;
    for a in 0..2u8 {
        if own.checkpoint().heads[a as usize] != book.head(a) {
            return Err(fault(
                *own_line,
                format!(
                    "the exporter's checkpoint covers author {a} up to seq {}, the export holds {}: entries were dropped or added",
                    own.checkpoint().heads[a as usize].0,
                    book.head(a).0
                ),
            ));
        }
    }
    let other = checkpoints
        .iter()
        .find(|(_, c)| c.checkpoint().signer != exported_by);
    match (own.checkpoint().peer_checkpoint, other) {
        (None, None) => {}
        (Some(h), Some((_, o))) if o.hash() == h => {}
        (Some(_), None) => {
            return Err(fault(
                *own_line,
                "the counterpart's checkpoint named by the exporter is missing",
            ))
        }
        (_, Some((l, _))) => {
            return Err(fault(
                *l,
                "the counterpart's checkpoint is not the one the exporter's checkpoint names",
            ))
        }
    }
    // Without anything the counterpart signed over it, the record ends
    // wherever the exporter cut it: its own checkpoint alone says nothing.
    let peer = 1 - exported_by;
    if other.is_none() && book.len(peer) > 0 {
        return Err(fault(
            0,
            format!(
                "author {peer}, the counterpart, has {} entries in this export but none of its checkpoints is here, so nothing it signed shows where the record ends; export again once the counterpart has sent a checkpoint (it does whenever it receives an entry)",
                book.len(peer)
            ),
        ));
    }
    let mut equivocations = Vec::with_capacity(evidence.len());
    for (n, l) in &evidence {
        equivocations.push(check_evidence(&book, l, *n)?);
    }
    let mut undelivered = 0;
    if let Some((l, o)) = other {
        let signer = o.checkpoint().signer;
        for a in 0..2u8 {
            let (seq, h) = o.checkpoint().heads[a as usize];
            if seq == 0 {
                continue;
            }
            if seq <= book.len(a) {
                if book.meta(a, seq).map(|m| m.hash) != Some(h) {
                    return Err(fault(
                        *l,
                        format!(
                            "the counterpart's checkpoint disagrees with entry {seq} of author {a}"
                        ),
                    ));
                }
            } else if a == signer {
                undelivered = seq - book.len(a);
            } else {
                return Err(fault(*l, format!("the counterpart's checkpoint covers entries of author {a} that the export lacks")));
            }
        }
    }
    let logs = logs::check(&book, lines, &log_notes)?;
    Ok(Summary {
        channel: book.id(),
        identities: *book.identities(),
        keys: [book.key_history(0).to_vec(), book.key_history(1).to_vec()],
        counts,
        state: book.state().word(),
        exported_by,
        exported_at: header.exported_at,
        checkpoints: checkpoints
            .iter()
            .map(|(_, c)| c.checkpoint().clone())
            .collect(),
        undelivered_from_peer: undelivered,
        chains,
        equivocations,
        notices,
        logs,
    })
}

/// Checks a piece of equivocation evidence: two different envelopes of one
/// author with one seq on this channel, both signed by that author, the
/// first the one the transcript holds (when it reaches that far).
fn check_evidence(
    book: &ChannelBook,
    l: &line::EvidenceLine,
    n: usize,
) -> Result<(u8, u64), Fault> {
    let author = match l.author {
        0 => 0u8,
        1 => 1u8,
        _ => return Err(fault(n, "evidence: author must be 0 or 1")),
    };
    let key = book
        .signer_after(author, l.seq.saturating_sub(1).min(book.len(author)))
        .verifying_key()
        .map_err(|_| fault(n, "bad key"))?;
    let mut hashes = Vec::with_capacity(2);
    for (field, text) in [("stored", &l.stored), ("evidence", &l.evidence)] {
        let bytes = b64(text, field, n)?;
        let env = Envelope::decode(&bytes, MAX_ENTRY_BYTES_CAP as usize)
            .map_err(|e| fault(n, format!("evidence \"{field}\" does not decode: {e}")))?;
        let e = env.open(&key).map_err(|e| {
            fault(
                n,
                format!("evidence \"{field}\" is not signed by author {author}: {e}"),
            )
        })?;
        if e.channel != book.id() || e.author != author || e.seq != l.seq {
            return Err(fault(
                n,
                format!(
                    "evidence \"{field}\" is not entry {} of author {author} on this channel",
                    l.seq
                ),
            ));
        }
        hashes.push(env.hash());
    }
    if hashes[0] == hashes[1] {
        return Err(fault(n, "evidence: the two envelopes are the same entry"));
    }
    if let Some(m) = book.meta(author, l.seq) {
        if m.hash != hashes[0] {
            return Err(fault(
                n,
                "evidence: \"stored\" is not the entry the transcript holds",
            ));
        }
    }
    Ok((author, l.seq))
}

/// A line after the header, as the walk takes it.
enum Parsed {
    Entry(Source),
    Checkpoint(line::CheckpointLine),
    Evidence(line::EvidenceLine),
    LogNote(line::LogNoteLine),
}

impl From<Line> for Parsed {
    fn from(l: Line) -> Parsed {
        match l {
            Line::Entry(l) => Parsed::Entry(Source::Line(l)),
            Line::Checkpoint(l) => Parsed::Checkpoint(l),
            Line::Evidence(l) => Parsed::Evidence(l),
            Line::LogNote(l) => Parsed::LogNote(l),
        }
    }
}

/// An entry line: decoded ahead ([`fast`]), or as read.
enum Source {
    Opened(Box<fast::Opened>),
    Line(line::EntryLine),
}

impl Source {
    /// Whether the line's `hash` and its decoded view agree with the entry.
    fn matches(&self, e: &VerifiedEntry) -> (bool, bool) {
        match self {
            Source::Opened(o) => o.matches,
            Source::Line(l) => line_matches(l, e),
        }
    }
}

fn line_matches(l: &line::EntryLine, e: &VerifiedEntry) -> (bool, bool) {
    (l.hash == hex(&e.hash()), l.entry == view::entry(e.entry()))
}

/// Checks and applies an entry after the `Open`.
fn next_entry(b: &mut ChannelBook, bytes: &[u8], n: usize) -> Result<VerifiedEntry, Fault> {
    let env = Envelope::decode(bytes, MAX_ENTRY_BYTES_CAP as usize)
        .map_err(|e| fault(n, format!("envelope does not decode: {e}")))?;
    let author = env
        .peek()
        .map_err(|e| fault(n, format!("entry does not decode: {e}")))?
        .author;
    taken(b, b.check(author, bytes), author, n)
}

/// [`next_entry`] for an envelope decoded, and its signature verified, ahead ([`fast`]).
fn opened_entry(
    b: &mut ChannelBook,
    env: Envelope,
    entry: hotline_proto::Entry,
    n: usize,
) -> Result<VerifiedEntry, Fault> {
    let author = entry.author;
    if author > 1 {
        return Err(fault(n, "entry rejected: author must be 0 or 1"));
    }
    taken(b, b.check_opened(author, env, entry), author, n)
}

fn taken(
    b: &mut ChannelBook,
    outcome: Result<Outcome, crate::book::Reject>,
    author: u8,
    n: usize,
) -> Result<VerifiedEntry, Fault> {
    match outcome {
        Ok(Outcome::New(e)) => {
            b.apply(&e, e.entry().time);
            Ok(e)
        }
        Ok(Outcome::Duplicate) => Err(fault(n, "duplicated entry")),
        Ok(Outcome::Equivocation { seq, .. }) => Err(fault(
            n,
            format!("equivocation: a second, different entry {seq} of author {author}"),
        )),
        Err(r) => Err(fault(n, format!("entry rejected: {r}"))),
    }
}
