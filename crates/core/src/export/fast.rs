//! The verifier's fast path (issue: performance): the work each entry line
//! needs on its own — parsing, base64, decoding, hashing, the view check —
//! done ahead on every core, and the signatures checked in parallel batches
//! (Ed25519 batch verification). All or nothing: if any of it fails, the
//! caller reads the lines one by one, which names the first fault exactly.
//! The checks that need the chain so far (sequence, links, lamport, state)
//! stay sequential, in the caller.

use super::line::{self, Line};
use hotline_proto::{hex, view, Body, Entry, Envelope, Identity, MAX_ENTRY_BYTES_CAP};

/// Signatures checked in one batch.
const BATCH: usize = 256;

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
pub(super) struct Ready {
    /// The parsed line.
    pub line: Line,
    /// For an entry line, the entry decoded.
    pub opened: Option<Opened>,
}

fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// Every line parsed and every entry decoded, and every entry's signature
/// after the first (the `Open`, checked strictly by the caller) verified
/// under the key its author has in the `Open`; `None` if anything fails.
pub(super) fn prepare(lines: &[(usize, &str)]) -> Option<Vec<Ready>> {
    let chunk = lines.len().div_ceil(workers()).max(1);
    let parts: Vec<Option<Vec<Ready>>> = std::thread::scope(|s| {
        let hs: Vec<_> = lines
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|(_, raw)| ready(raw)).collect()))
            .collect();
        hs.into_iter().map(|h| h.join().ok().flatten()).collect()
    });
    let mut all = Vec::with_capacity(lines.len());
    for p in parts {
        all.extend(p?);
    }
    let mut entries = all.iter().filter_map(|r| r.opened.as_ref());
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
    let mut which = Vec::new();
    for o in entries {
        let a = usize::from(o.entry.author).min(1);
        which.push((&o.envelope, at[a]));
        if let Body::KeyRotation { new_token, .. } = &o.entry.body {
            keys.push(key(new_token)?);
            at[a] = keys.len() - 1;
        }
    }
    let items: Vec<_> = which.into_iter().map(|(e, k)| (e, &keys[k])).collect();
    let per = items.len().div_ceil(workers()).max(1);
    let ok = std::thread::scope(|s| {
        let hs: Vec<_> = items
            .chunks(per)
            .map(|c| s.spawn(move || c.chunks(BATCH).all(Envelope::verify_batch)))
            .collect();
        hs.into_iter().all(|h| h.join().unwrap_or(false))
    });
    ok.then_some(all)
}

fn ready(raw: &str) -> Option<Ready> {
    if raw.trim().is_empty() {
        return None;
    }
    let line = line::line(raw).ok()?;
    let opened = match &line {
        Line::Entry(l) => {
            let bytes = data_encoding::BASE64.decode(l.envelope.as_bytes()).ok()?;
            let envelope = Envelope::decode(&bytes, MAX_ENTRY_BYTES_CAP as usize).ok()?;
            let entry = envelope.peek().ok()?;
            let matches = (
                l.hash == hex(&envelope.hash()),
                l.entry == view::entry(&entry),
            );
            Some(Opened {
                envelope,
                entry,
                matches,
            })
        }
        _ => None,
    };
    Some(Ready { line, opened })
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
        super::super::write(&book.id(), &ids, 0, 9, &envs, &[], &[]).unwrap()
    }

    fn body(text: &str) -> Vec<(usize, &str)> {
        text.lines().enumerate().skip(1).collect()
    }

    #[test]
    fn every_entry_is_decoded_and_its_signature_checked_ahead() {
        let text = export(600, None);
        let ready = prepare(&body(&text)).expect("a valid export goes the fast way");
        assert_eq!(ready.len(), 602);
        assert!(ready
            .iter()
            .all(|r| r.opened.as_ref().is_some_and(|o| o.matches == (true, true))));
    }

    #[test]
    fn one_signature_by_another_key_sends_the_caller_the_slow_way() {
        let text = export(600, Some(433));
        assert!(prepare(&body(&text)).is_none());
        assert!(prepare(&body(&export(600, None))).is_some());
    }
}
