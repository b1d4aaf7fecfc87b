//! The local audit log's hash chain (SPEC §8): each line commits to the one before,
//! and the station signs the head.
//!
//! `hash = SHA-256("hotline/audit/v1" || prev || JSON [at, user, action, target, result])`,
//! the first line's `prev` being zeros. Exported as JSON Lines, one object per line
//! with `id, at, user, action, target, result, prev, hash`, then one last line
//! `{"head": {count, hash, sig, signer}}`: the number of lines and the newest
//! line's hash, signed by the station (`hotline_proto::audit`). [`verify`]
//! recomputes the chain and checks the head against it, so a file cut short,
//! one whose head line is gone, or one with any line changed does not verify.

use crate::export::Fault;
use hotline_proto::{hex, parse_hash, AuditHead, Hash, Identity, SignedAuditHead, ZERO_HASH};
use serde_json::Value;

/// Domain separation for audit hashes.
const DOMAIN: &[u8] = b"hotline/audit/v1";

/// The hash of one audit line.
///
/// SHA-256 of the domain, the previous line's hash and the line as compact
/// JSON, `[at,user,action,target,result]`. The JSON is written straight
/// into the hash: every request writes two lines, and building it as a
/// `serde_json` value first cost some thirteen allocations a line.
pub fn hash(prev: &Hash, at: u64, user: &str, action: &str, target: &str, result: &str) -> Hash {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(prev);
    serde_json::to_writer(&mut h, &(at, user, action, target, result))
        .expect("a hash takes every byte written to it");
    h.finalize().into()
}

/// What a verified export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many lines, all chained and covered by the signed head.
    pub lines: usize,
    /// The station whose identity key signed the head. The file names it, so
    /// this says only that the file is what that station signed: whether it is
    /// the station the reader expects is for the reader to check.
    pub signer: Identity,
}

fn fault(line: usize, what: &str) -> Fault {
    Fault {
        line,
        what: what.to_owned(),
    }
}

/// Verifies an exported audit log: the chain of its lines and the signed
/// head that must end it. Returns what was found or the first fault.
pub fn verify(text: &str) -> Result<Verified, Fault> {
    let raw: Vec<&str> = text.split_terminator('\n').collect();
    // The head is the last line; a head line anywhere else is a fault of the chain.
    let Some((last, lines)) = raw.split_last() else {
        return Err(fault(0, "the file is empty: no lines and no signed head"));
    };
    let head_line = raw.len();
    let head = serde_json::from_str::<Value>(last)
        .ok()
        .and_then(|v| v.get("head").cloned())
        .ok_or_else(|| {
            fault(
                head_line,
                "the last line is not the signed head: the export was cut short or its head removed",
            )
        })?;
    let (n, newest) = chain(lines.iter().copied())?;
    let bad = |what: &str| fault(head_line, what);
    let count = head
        .get("count")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("the head has no count"))?;
    let hash = head
        .get("hash")
        .and_then(Value::as_str)
        .and_then(|h| parse_hash(h).ok())
        .ok_or_else(|| bad("the head has no hash"))?;
    let signer = head
        .get("signer")
        .and_then(Value::as_str)
        .and_then(|t| Identity::parse(t).ok())
        .ok_or_else(|| bad("the head's signer is not an identity token"))?;
    let sig: [u8; 64] = head
        .get("sig")
        .and_then(Value::as_str)
        .and_then(|s| data_encoding::HEXLOWER_PERMISSIVE.decode(s.as_bytes()).ok())
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| bad("the head's signature is not 128 hex digits"))?;
    SignedAuditHead::from_parts(AuditHead { count, hash }, sig)
        .verify(&signer)
        .map_err(|_| bad("the head's signature does not verify: the head was altered"))?;
    if count != n as u64 {
        return Err(bad(&format!(
            "the signed head counts {count} lines but {n} precede it: lines were removed or added"
        )));
    }
    if hash != newest {
        return Err(bad(
            "the signed head does not name the last line's hash: lines at the end were replaced",
        ));
    }
    Ok(Verified { lines: n, signer })
}

/// Checks the chain of audit lines alone (no head line): the number of lines
/// and the newest hash, or the first fault. A chain cut short still verifies
/// here; only [`verify`] catches that.
pub fn verify_chain(text: &str) -> Result<(usize, Hash), Fault> {
    chain(text.split_terminator('\n'))
}

fn chain<'a>(lines: impl Iterator<Item = &'a str>) -> Result<(usize, Hash), Fault> {
    let mut prev = ZERO_HASH;
    let mut last_id = 0i64;
    let mut n = 0;
    for (i, raw) in lines.enumerate() {
        let line = i + 1;
        let v: Value = serde_json::from_str(raw).map_err(|_| fault(line, "not JSON"))?;
        if v.get("head").is_some() {
            return Err(fault(
                line,
                "a signed head before the end: lines were added after it",
            ));
        }
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| fault(line, &format!("missing {k}")))
        };
        let id = v
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| fault(line, "missing id"))?;
        let at = v
            .get("at")
            .and_then(Value::as_u64)
            .ok_or_else(|| fault(line, "missing at"))?;
        if id <= last_id {
            return Err(fault(
                line,
                "ids are not increasing: a line was reordered or duplicated",
            ));
        }
        let p = parse_hash(s("prev")?).map_err(|_| fault(line, "bad prev"))?;
        if p != prev {
            return Err(fault(
                line,
                "prev does not match the previous line: a line was removed, inserted or changed",
            ));
        }
        let h = hash(&p, at, s("user")?, s("action")?, s("target")?, s("result")?);
        if hex(&h) != s("hash")? {
            return Err(fault(
                line,
                "hash does not match the line's content: the line was altered",
            ));
        }
        prev = h;
        last_id = id;
        n += 1;
    }
    Ok((n, prev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::SecretKeys;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// The hash is over the same bytes as the line's `json!` array
        /// printed, whatever the text holds (quotes, escapes, any script).
        #[test]
        fn hash_is_over_the_lines_compact_json(
            prev in any::<[u8; 32]>(),
            at in any::<u64>(),
            parts in prop::array::uniform4(any::<String>()),
        ) {
            let [user, action, target, result] = &parts;
            let mut b = DOMAIN.to_vec();
            b.extend_from_slice(&prev);
            b.extend_from_slice(json!([at, user, action, target, result]).to_string().as_bytes());
            prop_assert_eq!(
                hash(&prev, at, user, action, target, result),
                hotline_proto::sha256(&b)
            );
        }
    }

    /// An export of `n` lines ending in a head signed by `keys`.
    fn export(keys: &SecretKeys, n: usize) -> String {
        let mut prev = ZERO_HASH;
        let mut out = String::new();
        for i in 1..=n {
            let (user, action) = ("admin", format!("POST users/u{i}"));
            let h = hash(&prev, i as u64, user, &action, "", "201");
            out.push_str(
                &json!({"action": action, "at": i, "hash": hex(&h), "id": i, "prev": hex(&prev),
                        "result": "201", "target": "", "user": user})
                .to_string(),
            );
            out.push('\n');
            prev = h;
        }
        out.push_str(&head_line(keys, n as u64, prev));
        out
    }

    fn head_line(keys: &SecretKeys, count: u64, hash: Hash) -> String {
        let s = AuditHead { count, hash }.sign(keys);
        format!(
            "{}\n",
            json!({"head": {"count": count, "hash": hex(&hash), "sig": hex(s.sig()),
                            "signer": keys.identity().token()}})
        )
    }

    fn keys() -> SecretKeys {
        SecretKeys::generate([3; 32], [9; 32])
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn join(ls: &[&str]) -> String {
        ls.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn an_intact_export_verifies_and_names_its_signer() {
        let k = keys();
        let v = verify(&export(&k, 5)).unwrap();
        assert_eq!(v.lines, 5);
        assert_eq!(v.signer, k.identity());
        // An empty log has a head too.
        assert_eq!(verify(&export(&k, 0)).unwrap().lines, 0);
    }

    #[test]
    fn cutting_the_tail_or_dropping_the_head_or_editing_a_line_fails() {
        let k = keys();
        let text = export(&k, 5);
        let ls = lines(&text);
        // The last lines cut off, the head kept: the count and hash no longer match.
        let cut = join(&[&ls[..3], &ls[5..]].concat());
        let f = verify(&cut).unwrap_err();
        assert!(f.what.contains("counts 5 lines but 3"), "{f:?}");
        // The head dropped: the chain alone still holds, the export does not.
        let headless = join(&ls[..5]);
        assert!(verify_chain(&headless).is_ok());
        assert!(verify(&headless)
            .unwrap_err()
            .what
            .contains("not the signed head"));
        // Cut short and signed anew by another key: consistent, but the
        // signer it names is not the station, which only a known key shows
        // (`audit verify --key`).
        let mut resigned = join(&ls[..3]);
        let (_, newest) = verify_chain(&resigned).unwrap();
        resigned.push_str(&head_line(&keys(), 3, newest));
        assert_ne!(verify(&resigned).unwrap().signer, k.identity());
        // The station's head with its signer swapped for another key's.
        let swapped = text.replace(&k.identity().token(), &keys().identity().token());
        let f = verify(&swapped).unwrap_err();
        assert!(f.what.contains("does not verify"), "{f:?}");
        // A line edited: its hash no longer matches.
        let edited = text.replacen("users/u2", "users/u9", 1);
        assert_eq!(verify(&edited).unwrap_err().line, 2);
        // The head edited: its signature breaks.
        let recount = text.replacen("\"count\":5", "\"count\":4", 1);
        assert!(verify(&recount)
            .unwrap_err()
            .what
            .contains("does not verify"));
        // A head in the middle of the lines.
        let early = join(&[&ls[..2], &ls[5..], &ls[2..]].concat());
        assert!(verify(&early).is_err());
        assert!(verify("").is_err());
    }

    #[test]
    fn a_head_signed_over_a_shorter_log_does_not_cover_a_longer_one() {
        // A genuine head the station signed when the log had 3 lines, put
        // after 4: a line added at the end without the station is caught.
        let k = keys();
        let text = export(&k, 4);
        let ls = lines(&text);
        let mut moved = join(&ls[..4]);
        let (_, h3) = verify_chain(&join(&ls[..3])).unwrap();
        moved.push_str(&head_line(&k, 3, h3));
        let f = verify(&moved).unwrap_err();
        assert!(f.what.contains("counts 3 lines but 4"), "{f:?}");
    }
}
