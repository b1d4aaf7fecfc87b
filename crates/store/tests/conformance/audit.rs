//! The audit log and its signed head; station facts in `meta`.

use crate::common::*;
use hotline_proto::{AuditHead, Hash};
use hotline_store::{AuditRow, ChannelRow, WriteOp};

fn line_of_log(id: i64, hash: Hash) -> AuditRow {
    AuditRow {
        id,
        at: 1,
        user: "admin".into(),
        action: "POST users".into(),
        target: String::new(),
        result: "201".into(),
        prev: [0; 32],
        hash,
    }
}

fn an_audit_line_and_its_signed_head_land_together_or_not_at_all(db: &Db) {
    let mut s = db.open();
    assert_eq!(s.audit_head().unwrap(), None);
    let k = keys(4);
    let head = |count, hash| AuditHead { count, hash }.sign(&k);
    s.write(&[
        WriteOp::Audit(line_of_log(0, [1; 32])),
        WriteOp::AuditHead(head(1, [1; 32])),
    ])
    .unwrap();
    assert_eq!(s.audit_head().unwrap(), Some(head(1, [1; 32])));
    assert_eq!(s.audit_count().unwrap(), 1);
    // A batch that fails after the line (a channel of no pinned peer)
    // leaves the old line count and head.
    let bad = WriteOp::Channel(ChannelRow {
        id: [9; 32],
        peer_id: 404,
        me: 0,
        created_at: 1,
    });
    assert!(s
        .write(&[
            WriteOp::Audit(line_of_log(0, [2; 32])),
            WriteOp::AuditHead(head(2, [2; 32])),
            bad,
        ])
        .is_err());
    assert_eq!(s.audit_head().unwrap(), Some(head(1, [1; 32])));
    assert_eq!(s.audit_count().unwrap(), 1);
}

fn the_audit_log_reads_in_order_from_a_line_on(db: &Db) {
    let mut s = db.open();
    assert_eq!(s.last_audit().unwrap(), None);
    assert_eq!(s.audit_count().unwrap(), 0);
    for i in 1..=5u8 {
        let mut l = line_of_log(0, [i; 32]);
        l.prev = [i - 1; 32];
        l.user = format!("u{i}");
        l.at = u64::from(i);
        s.write(&[WriteOp::Audit(l)]).unwrap();
    }
    let all = s.audit(0, usize::MAX).unwrap();
    assert_eq!(all.len(), 5);
    for (i, l) in all.iter().enumerate() {
        let n = i as u8 + 1;
        assert_eq!((l.hash, l.prev, l.at), ([n; 32], [n - 1; 32], u64::from(n)));
        assert_eq!(l.user, format!("u{n}"));
        assert_eq!(
            (l.action.as_str(), l.target.as_str(), l.result.as_str()),
            ("POST users", "", "201")
        );
    }
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(s.audit(all[1].id, 2).unwrap(), all[2..4].to_vec());
    assert_eq!(s.last_audit().unwrap().as_ref(), all.last());
    assert_eq!(s.audit_count().unwrap(), 5);
}

fn meta_values_are_set_and_replaced(db: &Db) {
    let mut s = db.open();
    assert_eq!(s.meta("name").unwrap(), None);
    s.set_meta("name", "alpha").unwrap();
    s.set_meta("created", "1").unwrap();
    s.set_meta("name", "bravo").unwrap();
    assert_eq!(s.meta("name").unwrap().as_deref(), Some("bravo"));
    assert_eq!(db.open().meta("created").unwrap().as_deref(), Some("1"));
    // In a batch too, relaxed or not, as the log notes are kept.
    let set = |v: &str| WriteOp::Meta {
        key: "name".into(),
        value: v.into(),
    };
    s.write_relaxed(&[set("charlie")]).unwrap();
    assert_eq!(db.open().meta("name").unwrap().as_deref(), Some("charlie"));
    s.write(&[set("delta"), set("echo")]).unwrap();
    assert_eq!(db.open().meta("name").unwrap().as_deref(), Some("echo"));
}

conformance!(
    an_audit_line_and_its_signed_head_land_together_or_not_at_all,
    the_audit_log_reads_in_order_from_a_line_on,
    meta_values_are_set_and_replaced,
);
