//! The verifier's fast path (issue: performance): the work each entry line
//! needs on its own — parsing, base64, decoding, hashing, the view check —
//! done ahead on every core, and the signatures checked in parallel batches
//! (Ed25519 batch verification). All or nothing: if any of it fails, the
//! caller reads the lines one by one, which names the first fault exactly.
//! The checks that need the chain so far (sequence, links, lamport, state)
//! stay sequential, in the caller.

use super::line::{self, Line};
use hotline_proto::{
    hex, verify_batch, view, Body, Entry, Envelope, Identity, Signed, VerifyingKey,
    MAX_ENTRY_BYTES_CAP,
};

/// Signatures checked in one batch.
const BATCH: usize = 1024;
/// Lines parsed by one thread at a time.
const LINES: usize = 256;

/// An entry line decoded ahead.
pub(super) struct Opened {
    /// The envelope.
    pub envelope: Envelope,
    /// Its entry, decoded; its signature is verified when [`prepare`] succeeds.
    pub entry: Entry,
    /// Whether the line's `hash` and `entry` view agree with the envelope.
    pub matches: (bool, bool),
}

/// A line parsed ahead.
pub(super) enum Ready {
    /// An entry line, its entry decoded.
    Entry(Box<Opened>),
    /// Any other line.
    Other(Line),
}

fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// `f` over `items` in chunks of `size`, a thread on every core taking the
/// next chunk when done with its last: a core slowed by other work (the
/// chain walk beside it, another process) takes fewer, where an even split
/// made everyone wait for it. The results in the chunks' order; `None` if
/// a thread panicked.
fn spread<T: Sync, R: Send>(
    items: &[T],
    size: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Option<Vec<R>> {
    let chunks: Vec<&[T]> = items.chunks(size.max(1)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (f, chunks, next) = (&f, &chunks, &next);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..workers().min(chunks.len()).max(1))
            .map(|_| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(c) = chunks.get(i) else {
                            return mine;
                        };
                        mine.push((i, f(c)));
                    }
                })
            })
            .collect();
        let mut all = Vec::with_capacity(chunks.len());
        for h in hs {
            all.extend(h.join().ok()?);
        }
        Some(all)
    })?;
    done.sort_unstable_by_key(|(i, _)| *i);
    Some(done.into_iter().map(|(_, r)| r).collect())
}

/// The entries' signatures, each with the key it must verify under.
pub(super) struct Batch {
    keys: Vec<VerifyingKey>,
    items: Vec<(Signed, usize)>,
}

impl Batch {
    /// Whether every signature verifies under its key: batches of [`BATCH`]
    /// spread over every core ([`spread`]).
    pub fn verify(&self) -> bool {
        spread(&self.items, BATCH, |b| {
            let refs: Vec<_> = b.iter().map(|(m, k)| (m, &self.keys[*k])).collect();
            verify_batch(&refs)
        })
        .is_some_and(|oks| oks.into_iter().all(|ok| ok))
    }
}

/// Every line parsed and every entry decoded, and beside them every
/// entry's signature after the first (the `Open`, checked strictly by the
/// caller) with the key its author has in the `Open` or its latest
/// `KeyRotation` before it, for [`Batch::verify`]; `None` if anything fails.
pub(super) fn prepare(lines: &[(usize, &str)]) -> Option<(Vec<Ready>, Batch)> {
    let parts: Vec<Option<Vec<Parsed>>> = spread(lines, LINES, |c| {
        c.iter().map(|(_, raw)| ready(raw)).collect()
    })?;
    let mut all = Vec::with_capacity(lines.len());
    let mut signed = Vec::with_capacity(lines.len());
    for p in parts {
        for (r, s) in p? {
            all.push(r);
            signed.extend(s);
        }
    }
    let mut entries = all.iter().filter_map(|r| match r {
        Ready::Entry(o) => Some(o),
        Ready::Other(_) => None,
    });
    let Body::Open {
        initiator,
        responder,
        ..
    } = &entries.next()?.entry.body
    else {
        return None;
    };
    let key = |t: &str| Identity::parse(t).ok()?.verifying_key().ok();
    // Each author's key changes at its `KeyRotation` entries, read here
    // unverified: every envelope is then checked under the key its chain
    // claims, and the strict pass checks each rotation's new signature.
    let mut keys = vec![key(initiator)?, key(responder)?];
    let mut at = [0usize, 1];
    let mut which = Vec::with_capacity(signed.len());
    for o in entries {
        let a = usize::from(o.entry.author).min(1);
        which.push(at[a]);
        if let Body::KeyRotation { new_token, .. } = &o.entry.body {
            keys.push(key(new_token)?);
            at[a] = keys.len() - 1;
        }
    }
    // The `Open`'s own signature is the caller's to check.
    let items = signed.into_iter().skip(1).zip(which).collect();
    Some((all, Batch { keys, items }))
}

/// A line parsed ahead, and for an entry what its signature check needs.
type Parsed = (Ready, Option<Signed>);

fn ready(raw: &str) -> Option<Parsed> {
    if raw.trim().is_empty() {
        return None;
    }
    // The common case, an entry line as hotline writes it: its view is
    // compared as text with the one derived from the envelope. Anything
    // else (another layout of the same view, an escaped string, another
    // kind of line) is read strictly and compared as JSON values.
    if let Ok(l) = serde_json::from_str::<line::RawEntryLine>(raw) {
        if let Some(o) = open(l.envelope, l.hash, |e| view::entry_text(e) == l.entry.get()) {
            if o.matches.1 {
                let signed = o.envelope.signed();
                return Some((Ready::Entry(Box::new(o)), Some(signed)));
            }
        }
    }
    match line::line(raw).ok()? {
        Line::Entry(l) => {
            let o = open(&l.envelope, &l.hash, |e| l.entry == view::entry(e))?;
            let signed = o.envelope.signed();
            Some((Ready::Entry(Box::new(o)), Some(signed)))
        }
        other => Some((Ready::Other(other), None)),
    }
}

/// Decodes an entry line's envelope and entry, and checks its `hash` and
/// (with `view`) its decoded view against them.
fn open(envelope: &str, hash: &str, view: impl Fn(&Entry) -> bool) -> Option<Opened> {
    let bytes = data_encoding::BASE64.decode(envelope.as_bytes()).ok()?;
    let envelope = Envelope::decode(&bytes, MAX_ENTRY_BYTES_CAP as usize).ok()?;
    let entry = envelope.peek().ok()?;
    let matches = (hash == hex(&envelope.hash()), view(&entry));
    Some(Opened {
        envelope,
        entry,
        matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::ChannelBook;
    use hotline_proto::{Precedence, SecretKeys, Terms};

    /// An export's lines (without the header) of an Open and `n` messages.
    fn export(n: usize, forge: Option<usize>) -> String {
        let (a, b) = (
            SecretKeys::from_bytes(&[1; 96]).unwrap(),
            SecretKeys::from_bytes(&[2; 96]).unwrap(),
        );
        let (mut book, open) = ChannelBook::open(&a, b.identity(), Terms::default(), None, "a", 1);
        let mut envs = vec![open.envelope().bytes().to_vec()];
        let (theirs, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
        let terms_hash = Terms::default().hash();
        let accept = theirs
            .author(&b, Body::Accept { terms_hash }, "b", 2, true)
            .unwrap();
        match book.check(1, accept.envelope().bytes()).unwrap() {
            crate::book::Outcome::New(v) => book.apply(&v, 2),
            other => panic!("{other:?}"),
        }
        envs.push(accept.envelope().bytes().to_vec());
        for i in 0..n {
            let body = Body::Message {
                precedence: Precedence::Routine,
                subject: String::new(),
                text: format!("m{i}"),
                labels: vec![],
                reply_to: None,
            };
            let v = book.author(&a, body, "a", 3 + i as u64, false).unwrap();
            book.apply(&v, 3 + i as u64);
            let mut bytes = v.envelope().bytes().to_vec();
            if forge == Some(i) {
                // Another key's signature over the same entry bytes.
                let e = Envelope::sign(v.entry(), &b);
                bytes = e.bytes().to_vec();
            }
            envs.push(bytes);
        }
        let ids = [a.identity(), b.identity()];
        super::super::write(
            &book.id(),
            &ids,
            0,
            9,
            &envs,
            super::super::Attached {
                checkpoints: &[],
                evidence: &[],
                log_notes: &[],
            },
        )
        .unwrap()
    }

    fn body(text: &str) -> Vec<(usize, &str)> {
        text.lines().enumerate().skip(1).collect()
    }

    #[test]
    fn every_entry_is_decoded_and_its_signature_checked_apart() {
        let text = export(600, None);
        let (ready, batch) = prepare(&body(&text)).expect("a valid export goes the fast way");
        assert_eq!(ready.len(), 602);
        assert!(ready
            .iter()
            .all(|r| matches!(r, Ready::Entry(o) if o.matches == (true, true))));
        // Every entry but the `Open` (checked strictly by the caller).
        assert_eq!(batch.items.len(), 601);
        assert!(batch.verify());
    }

    #[test]
    fn one_signature_by_another_key_fails_the_batch() {
        let text = export(600, Some(433));
        let (_, batch) = prepare(&body(&text)).expect("it still decodes");
        assert!(!batch.verify());
        let (_, batch) = prepare(&body(&export(600, None))).unwrap();
        assert!(batch.verify());
    }

    #[test]
    fn spread_work_comes_back_in_the_chunks_order() {
        let items: Vec<u64> = (0..1000).collect();
        let sums = spread(&items, 7, |c| {
            // Uneven work: later chunks finish first on another thread.
            if c[0] < 100 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            c.iter().sum::<u64>()
        })
        .unwrap();
        let expected: Vec<u64> = items.chunks(7).map(|c| c.iter().sum()).collect();
        assert_eq!(sums, expected);
        assert_eq!(spread(&[] as &[u64], 7, |c| c.len()), Some(vec![]));
    }

    #[test]
    fn a_line_that_does_not_parse_sends_the_caller_the_slow_way() {
        let text = export(10, None);
        let mut lines = body(&text);
        lines[5].1 = "{\"envelope\": 1}";
        assert!(prepare(&lines).is_none());
    }
}
