//! The local audit log's hash chain (SPEC §8): each line commits to the one before.
//!
//! `hash = SHA-256("hotline/audit/v1" || prev || JSON [at, user, action, target, result])`,
//! the first line's `prev` being zeros. Exported as JSON Lines, one object per line
//! with `id, at, user, action, target, result, prev, hash`; `verify` recomputes the chain.

use hotline_proto::{hex, parse_hash, Hash, ZERO_HASH};
use serde_json::{json, Value};

/// Domain separation for audit hashes.
const DOMAIN: &[u8] = b"hotline/audit/v1";

/// The hash of one audit line.
pub fn hash(prev: &Hash, at: u64, user: &str, action: &str, target: &str, result: &str) -> Hash {
    let mut b = DOMAIN.to_vec();
    b.extend_from_slice(prev);
    b.extend_from_slice(
        json!([at, user, action, target, result])
            .to_string()
            .as_bytes(),
    );
    hotline_proto::sha256(&b)
}

/// Verifies an exported audit log; returns the number of lines or the first fault.
pub fn verify(text: &str) -> Result<usize, crate::export::Fault> {
    let fault = |line: usize, what: &str| crate::export::Fault {
        line,
        what: what.to_owned(),
    };
    let mut prev = ZERO_HASH;
    let mut last_id = 0i64;
    let mut n = 0;
    for (i, raw) in text.split_terminator('\n').enumerate() {
        let line = i + 1;
        let v: Value = serde_json::from_str(raw).map_err(|_| fault(line, "not JSON"))?;
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
    Ok(n)
}
