//! Alerts: raised once per open key, noted, cleared, acknowledged.

use crate::common::*;
use hotline_store::{AlertAck, Store, StoreError, WriteOp, WriteResult};

fn raise(s: &mut dyn Store, channel: Option<[u8; 32]>, key: &str, at: u64) -> WriteResult {
    s.write(&[WriteOp::RaiseAlert {
        kind: "link-down".into(),
        channel,
        key: key.into(),
        cause: "x".into(),
        at,
    }])
    .unwrap()
    .remove(0)
}

fn an_alert_key_is_open_once_and_can_be_raised_again_after_clearing(db: &Db) {
    let mut s = db.open();
    assert!(matches!(
        raise(&mut *s, None, "link-down:b", 1),
        WriteResult::Alert(Some(_))
    ));
    assert_eq!(
        raise(&mut *s, None, "link-down:b", 2),
        WriteResult::Alert(None)
    );
    let cleared = s
        .write(&[WriteOp::ClearAlert {
            channel: None,
            key: "link-down:b".into(),
            at: 3,
        }])
        .unwrap();
    assert!(matches!(&cleared[0], WriteResult::Alert(Some(a)) if a.cleared_at == Some(3)));
    assert!(matches!(
        raise(&mut *s, None, "link-down:b", 4),
        WriteResult::Alert(Some(_))
    ));
    // A note brings the open alert's cause up to date, and only the open one's.
    s.write(&[WriteOp::NoteAlert {
        channel: None,
        key: "link-down:b".into(),
        cause: "brought up to date".into(),
    }])
    .unwrap();
    let open = s.alerts(true, 10).unwrap();
    assert_eq!(open[0].cause, "brought up to date");
    assert_eq!(s.alerts(false, 10).unwrap()[1].cause, "x");
    assert_eq!(s.alerts(true, 10).unwrap().len(), 1);
    assert_eq!(s.alerts(false, 10).unwrap().len(), 2);
}

fn alerts_are_listed_newest_first_with_their_channel_and_limit(db: &Db) {
    let mut s = db.open();
    let WriteResult::Alert(Some(first)) = raise(&mut *s, None, "a", 1) else {
        panic!("raised")
    };
    assert_eq!(
        (
            first.kind.as_str(),
            first.channel,
            first.key.as_str(),
            first.cause.as_str()
        ),
        ("link-down", None, "a", "x")
    );
    assert_eq!(
        (first.raised_at, first.cleared_at, first.ack.clone()),
        (1, None, None)
    );
    // The same key on a channel is another alert.
    let WriteResult::Alert(Some(on_channel)) = raise(&mut *s, Some([4; 32]), "a", 2) else {
        panic!("raised")
    };
    assert_eq!(on_channel.channel, Some([4; 32]));
    assert!(on_channel.id > first.id);
    raise(&mut *s, None, "b", 3);
    let keys: Vec<(String, Option<[u8; 32]>)> = s
        .alerts(false, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|a| (a.key, a.channel))
        .collect();
    assert_eq!(
        keys,
        [
            ("b".to_string(), None),
            ("a".to_string(), Some([4; 32])),
            ("a".to_string(), None)
        ]
    );
    assert_eq!(s.alerts(false, 1).unwrap().len(), 1);
    // Clearing what is not open changes nothing; noting it neither.
    let none = s
        .write(&[
            WriteOp::ClearAlert {
                channel: Some([9; 32]),
                key: "a".into(),
                at: 4,
            },
            WriteOp::NoteAlert {
                channel: Some([9; 32]),
                key: "a".into(),
                cause: "y".into(),
            },
        ])
        .unwrap();
    assert_eq!(none, [WriteResult::Alert(None), WriteResult::Done]);
    assert_eq!(s.alerts(true, 10).unwrap().len(), 3);
}

fn an_alert_is_acknowledged_open_or_cleared_and_an_unknown_one_is_not_found(db: &Db) {
    let mut s = db.open();
    let WriteResult::Alert(Some(a)) = raise(&mut *s, None, "a", 1) else {
        panic!("raised")
    };
    let acked = s.ack_alert(a.id, "op", "on it", 5).unwrap();
    let ack = AlertAck {
        at: 5,
        by: "op".into(),
        note: "on it".into(),
    };
    assert_eq!(acked.ack.as_ref(), Some(&ack));
    assert_eq!(acked.cleared_at, None, "still open");
    assert_eq!(s.alerts(true, 10).unwrap(), [acked]);
    s.write(&[WriteOp::ClearAlert {
        channel: None,
        key: "a".into(),
        at: 6,
    }])
    .unwrap();
    let again = s.ack_alert(a.id, "op2", "", 7).unwrap();
    assert_eq!(
        (again.cleared_at, again.ack.unwrap().by),
        (Some(6), "op2".to_string())
    );
    let missing = s.ack_alert(a.id + 1000, "op", "", 8).unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)));
    assert_eq!(missing.to_string(), "alert not found");
}

fn raising_an_open_alert_again_takes_no_number(db: &Db) {
    let mut s = db.open();
    let WriteResult::Alert(Some(a)) = raise(&mut *s, None, "a", 1) else {
        panic!("raised")
    };
    for at in 2..5 {
        assert_eq!(raise(&mut *s, None, "a", at), WriteResult::Alert(None));
    }
    let WriteResult::Alert(Some(b)) = raise(&mut *s, None, "b", 5) else {
        panic!("raised")
    };
    assert_eq!(b.id, a.id + 1);
}

/// An alert whose words quote a NUL (a counterpart's bytes, say) is kept,
/// opened, noted and cleared like any other: on PostgreSQL, whose text
/// refuses U+0000, the NUL reads as U+FFFD; the commit never fails on it.
fn an_alert_quoting_a_nul_is_kept_and_cleared(db: &Db) {
    let mut s = db.open();
    let key = "rejected:a\0b";
    let raised = s
        .write(&[WriteOp::RaiseAlert {
            kind: "rejected\0".into(),
            channel: None,
            key: key.into(),
            cause: "bad \0 bytes".into(),
            at: 1,
        }])
        .unwrap();
    assert!(matches!(&raised[0], WriteResult::Alert(Some(_))));
    s.write(&[WriteOp::NoteAlert {
        channel: None,
        key: key.into(),
        cause: "still \0".into(),
    }])
    .unwrap();
    let open = s.alerts(true, 10).unwrap();
    assert_eq!(open.len(), 1);
    assert!(open[0].cause.starts_with("still "), "{:?}", open[0].cause);
    let cleared = s
        .write(&[WriteOp::ClearAlert {
            channel: None,
            key: key.into(),
            at: 2,
        }])
        .unwrap();
    assert!(matches!(&cleared[0], WriteResult::Alert(Some(a)) if a.cleared_at == Some(2)));
    assert!(s.alerts(true, 10).unwrap().is_empty());
}

/// A write that does not wait for the disk commits all the same: visible at
/// once, numbered in order with the writes around it.
fn a_relaxed_write_commits_in_order_with_the_others(db: &Db) {
    let mut s = db.open();
    let op = |key: &str, at| WriteOp::RaiseAlert {
        kind: "link-down".into(),
        channel: None,
        key: key.into(),
        cause: "x".into(),
        at,
    };
    s.write(&[op("first", 1)]).unwrap();
    s.write_relaxed(&[op("relaxed", 2)]).unwrap();
    s.write(&[op("last", 3)]).unwrap();
    let keys: Vec<String> = s
        .alerts(true, 10)
        .unwrap()
        .into_iter()
        .map(|a| a.key)
        .collect();
    assert_eq!(keys, ["last", "relaxed", "first"], "newest first");
}

conformance!(
    a_relaxed_write_commits_in_order_with_the_others,
    an_alert_quoting_a_nul_is_kept_and_cleared,
    raising_an_open_alert_again_takes_no_number,
    an_alert_key_is_open_once_and_can_be_raised_again_after_clearing,
    alerts_are_listed_newest_first_with_their_channel_and_limit,
    an_alert_is_acknowledged_open_or_cleared_and_an_unknown_one_is_not_found,
);
