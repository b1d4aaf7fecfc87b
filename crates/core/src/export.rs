//! The oversight export (SPEC §9): writing and offline verification.
//!
//! Format, JSON Lines:
//! 1. a header `{"hotline_export":1, "channel", "identities":[t0,t1], "exported_by", "exported_at", "entries"}`;
//! 2. one line per entry in merged order `(lamport, author)`:
//!    `{"envelope": base64, "hash": hex, "entry": decoded view}`;
//! 3. the latest checkpoint of each side: `{"checkpoint": base64, "hash": hex, "view": decoded view}`.
//!    The exporting station signs a fresh checkpoint at export time that covers
//!    exactly the exported heads and names the counterpart's checkpoint by hash,
//!    so truncation or a dropped checkpoint line is detectable.
//!
//! The verifier trusts nothing but the two identity tokens in the signed `Open`.

use crate::book::{ChannelBook, Outcome};
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::{hex, view, Envelope, Hash, Identity, MAX_ENTRY_BYTES_CAP};
use serde_json::{json, Value};

/// Export format version written in the header.
pub const EXPORT_VERSION: u64 = 1;

/// Builds the export text. `entries` are envelope bytes in any order (they
/// are put in merged order here); `checkpoints` the latest of each side.
pub fn write(
    channel: &Hash,
    identities: &[Identity; 2],
    exported_by: u8,
    exported_at: u64,
    entries: &[Vec<u8>],
    checkpoints: &[Vec<u8>],
) -> Result<String, String> {
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

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Channel id.
    pub channel: Hash,
    /// The two identities, author 0 then author 1.
    pub identities: [Identity; 2],
    /// Entries per author.
    pub counts: [u64; 2],
    /// Final channel state word.
    pub state: &'static str,
    /// Signers of the checkpoints present.
    pub checkpoints: Vec<u8>,
    /// Entries of the counterpart that its checkpoint covers but the export does not hold
    /// (written by the counterpart and not yet delivered when exported).
    pub undelivered_from_peer: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "channel    {}", hex(&self.channel))?;
        for (i, id) in self.identities.iter().enumerate() {
            writeln!(f, "author {i}   {}", id.token())?;
            writeln!(f, "           fingerprint {}", id.fingerprint())?;
        }
        writeln!(
            f,
            "entries    {} (author 0: {}, author 1: {}), every signature, chain link, causal link and lamport value verified",
            self.counts[0] + self.counts[1],
            self.counts[0],
            self.counts[1]
        )?;
        writeln!(f, "state      {}", self.state)?;
        let cps: Vec<String> = self
            .checkpoints
            .iter()
            .map(|s| format!("author {s}"))
            .collect();
        write!(
            f,
            "checkpoints {} verified ({})",
            self.checkpoints.len(),
            cps.join(", ")
        )?;
        if self.undelivered_from_peer > 0 {
            write!(
                f,
                "\nnote       the counterpart's checkpoint covers {} entries of its own not yet in this export",
                self.undelivered_from_peer
            )?;
        }
        Ok(())
    }
}

fn fault(line: usize, what: impl Into<String>) -> Fault {
    Fault {
        line,
        what: what.into(),
    }
}

fn b64(v: &Value, field: &str, line: usize) -> Result<Vec<u8>, Fault> {
    let s = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| fault(line, format!("missing \"{field}\"")))?;
    data_encoding::BASE64
        .decode(s.as_bytes())
        .map_err(|_| fault(line, format!("\"{field}\" is not standard base64")))
}

/// Verifies an export offline, stopping at the first fault.
pub fn verify(text: &str) -> Result<Summary, Fault> {
    let mut lines = text
        .split_terminator('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let (_, first) = lines.next().ok_or_else(|| fault(0, "the file is empty"))?;
    let header: Value =
        serde_json::from_str(first).map_err(|_| fault(1, "the header is not JSON"))?;
    if header.get("hotline_export").and_then(Value::as_u64) != Some(EXPORT_VERSION) {
        return Err(fault(1, "not a hotline export (version 1 header missing)"));
    }
    let exported_by = match header.get("exported_by").and_then(Value::as_u64) {
        Some(0) => 0u8,
        Some(1) => 1u8,
        _ => return Err(fault(1, "header: exported_by must be 0 or 1")),
    };
    let declared = header
        .get("entries")
        .and_then(Value::as_u64)
        .ok_or_else(|| fault(1, "header: missing entry count"))?;

    let mut book: Option<ChannelBook> = None;
    let mut last_order: Option<(u64, u8)> = None;
    let mut checkpoints: Vec<(usize, SignedCheckpoint)> = Vec::new();
    for (n, raw) in lines {
        if raw.trim().is_empty() {
            return Err(fault(n, "blank line"));
        }
        let v: Value = serde_json::from_str(raw).map_err(|_| fault(n, "not JSON"))?;
        if v.get("envelope").is_some() {
            if !checkpoints.is_empty() {
                return Err(fault(n, "entry after the checkpoints"));
            }
            let bytes = b64(&v, "envelope", n)?;
            let verified = match book.as_mut() {
                None => {
                    let (b, e) = ChannelBook::genesis(&bytes, exported_by)
                        .map_err(|r| fault(n, format!("genesis entry rejected: {r}")))?;
                    book = Some(b);
                    e
                }
                Some(b) => {
                    let env = Envelope::decode(&bytes, MAX_ENTRY_BYTES_CAP as usize)
                        .map_err(|e| fault(n, format!("envelope does not decode: {e}")))?;
                    let author = env
                        .peek()
                        .map_err(|e| fault(n, format!("entry does not decode: {e}")))?
                        .author;
                    match b.check(author, &bytes, true) {
                        Ok(Outcome::New(e)) => {
                            b.apply(&e, e.entry().time);
                            e
                        }
                        Ok(Outcome::Duplicate) => return Err(fault(n, "duplicated entry")),
                        Ok(Outcome::Equivocation { seq, .. }) => {
                            return Err(fault(
                                n,
                                format!(
                                "equivocation: a second, different entry {seq} of author {author}"
                            ),
                            ))
                        }
                        Err(r) => return Err(fault(n, format!("entry rejected: {r}"))),
                    }
                }
            };
            let e = verified.entry();
            let order = (e.lamport, e.author);
            if last_order.is_some_and(|l| order <= l) {
                return Err(fault(n, "entry out of merged (lamport, author) order"));
            }
            last_order = Some(order);
            if v.get("hash").and_then(Value::as_str) != Some(hex(&verified.hash()).as_str()) {
                return Err(fault(n, "\"hash\" does not match the envelope"));
            }
            if v.get("entry") != Some(&view::entry(e)) {
                return Err(fault(
                    n,
                    "the decoded view disagrees with the signed envelope",
                ));
            }
        } else if v.get("checkpoint").is_some() {
            let b = book
                .as_ref()
                .ok_or_else(|| fault(n, "checkpoint before any entry"))?;
            let bytes = b64(&v, "checkpoint", n)?;
            let signer = SignedCheckpoint::peek(&bytes)
                .map_err(|e| fault(n, format!("checkpoint does not decode: {e}")))?
                .signer;
            let key = b.identities()[signer as usize]
                .verifying_key()
                .map_err(|_| fault(n, "bad key"))?;
            let cp = SignedCheckpoint::open(&bytes, &key)
                .map_err(|e| fault(n, format!("checkpoint rejected: {e}")))?;
            if v.get("hash").and_then(Value::as_str) != Some(hex(&cp.hash()).as_str()) {
                return Err(fault(n, "checkpoint \"hash\" does not match"));
            }
            if v.get("view") != Some(&view::checkpoint(cp.checkpoint())) {
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
        } else {
            return Err(fault(n, "neither an entry nor a checkpoint"));
        }
    }
    let book = book.ok_or_else(|| fault(0, "the export holds no entry"))?;
    let counts = [book.len(0), book.len(1)];
    if counts[0] + counts[1] != declared {
        return Err(fault(
            1,
            format!(
                "header declares {declared} entries, the file holds {}",
                counts[0] + counts[1]
            ),
        ));
    }
    if header.get("channel").and_then(Value::as_str) != Some(hex(&book.id()).as_str()) {
        return Err(fault(1, "header channel does not match the Open"));
    }
    let tokens = [book.identities()[0].token(), book.identities()[1].token()];
    if header.get("identities") != Some(&json!(tokens)) {
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
    Ok(Summary {
        channel: book.id(),
        identities: *book.identities(),
        counts,
        state: book.state().word(),
        checkpoints: checkpoints
            .iter()
            .map(|(_, c)| c.checkpoint().signer)
            .collect(),
        undelivered_from_peer: undelivered,
    })
}
