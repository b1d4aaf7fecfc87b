//! The keys peers rotated away from (SPEC §4 v2): a peer's pin moves when
//! its signed `KeyRotation` arrives, and each key it leaves is kept with
//! the entry that retired it, for the record, for checkpoints still signed
//! by it, and for `peer show`.

use hotline_proto::Hash;

/// A key a peer rotated away from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKeyRow {
    /// The peer.
    pub peer_id: i64,
    /// The retired key's identity token.
    pub token: String,
    /// The token of the key that replaced it.
    pub next: String,
    /// When this station stored the rotation (its clock, Unix ms).
    pub at: u64,
    /// The channel whose `KeyRotation` carried it first.
    pub channel: Hash,
    /// That entry.
    pub entry: Hash,
}

impl From<&hotline_core::machine::PinMove> for RetiredKeyRow {
    /// The row a counterpart's key rotation leaves behind.
    fn from(m: &hotline_core::machine::PinMove) -> RetiredKeyRow {
        RetiredKeyRow {
            peer_id: m.peer,
            token: m.old.token(),
            next: m.new.token(),
            at: m.at,
            channel: m.channel,
            entry: m.entry,
        }
    }
}

/// A peer's retired keys in the order it went through them, rebuilt from
/// the links (each row names the key that replaced it), not from clock
/// times that a clock step could reorder. Rows of several peers may be
/// mixed; each peer's come out together, oldest first.
pub fn in_rotation_order(rows: Vec<RetiredKeyRow>) -> Vec<RetiredKeyRow> {
    let mut by_peer: std::collections::BTreeMap<i64, Vec<RetiredKeyRow>> = Default::default();
    for r in rows {
        by_peer.entry(r.peer_id).or_default().push(r);
    }
    let mut out = Vec::new();
    for (_, mut rows) in by_peer {
        // The first is the one no other row names as its successor.
        let mut ordered = Vec::with_capacity(rows.len());
        let mut next = rows
            .iter()
            .position(|r| !rows.iter().any(|o| o.next == r.token));
        while let Some(i) = next {
            let r = rows.swap_remove(i);
            next = rows.iter().position(|o| o.token == r.next);
            ordered.push(r);
        }
        // Rows the links do not reach (damage) keep their stored order.
        ordered.extend(rows);
        out.extend(ordered);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(peer: i64, token: &str, next: &str, at: u64) -> RetiredKeyRow {
        RetiredKeyRow {
            peer_id: peer,
            token: token.into(),
            next: next.into(),
            at,
            channel: [0; 32],
            entry: [0; 32],
        }
    }

    #[test]
    fn the_links_give_the_order_whatever_the_clock_said() {
        // The clock stepped back between the two rotations of peer 1.
        let rows = vec![
            row(1, "k1", "k2", 100),
            row(2, "j0", "j1", 50),
            row(1, "k0", "k1", 200),
        ];
        let got: Vec<_> = in_rotation_order(rows)
            .into_iter()
            .map(|r| r.token)
            .collect();
        assert_eq!(got, ["k0", "k1", "j0"]);
    }
}
