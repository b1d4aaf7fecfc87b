//! Pinned peers: added, changed, removed, repinned.

use crate::common::*;
use hotline_store::{PskDir, PskRow, StoreError, WriteOp};

fn duplicate_peer_is_refused(db: &Db) {
    let mut s = db.open();
    let t = keys(3).identity().token();
    s.add_peer("p", &t, &[], None, 1).unwrap();
    let name = s.add_peer("p", &keys(4).identity().token(), &[], None, 1);
    let key = s.add_peer("q", &t, &[], None, 1);
    for e in [name.unwrap_err(), key.unwrap_err()] {
        assert!(matches!(e, StoreError::Exists(_)));
        assert_eq!(e.to_string(), "a peer with this name or key already exists");
    }
    assert_eq!(s.peers().unwrap().len(), 1);
}

fn a_peer_reads_back_as_pinned_and_changes_in_place(db: &Db) {
    let mut s = db.open();
    let t = keys(3).identity().token();
    let p = s
        .add_peer("p", &t, &["h:1".into(), "h:2".into()], Some("NATO"), 1)
        .unwrap();
    assert_eq!(s.peers().unwrap(), std::slice::from_ref(&p));
    assert_eq!((p.verified, p.handshake_ts, p.removed_at), (false, 0, None));
    s.set_peer(p.id, &["h:3".into()], None).unwrap();
    s.set_verified(p.id, true).unwrap();
    // The handshake clock only moves forward.
    let ts = |ts| WriteOp::HandshakeTs { peer_id: p.id, ts };
    s.write(&[ts(50), ts(40)]).unwrap();
    let now = s.peers().unwrap().remove(0);
    assert_eq!(now.addrs, ["h:3"]);
    assert_eq!((now.rel, now.verified, now.handshake_ts), (None, true, 50));
    for e in [
        s.set_peer(p.id + 100, &[], None).unwrap_err(),
        s.set_verified(p.id + 100, true).unwrap_err(),
        s.remove_peer(p.id + 100, 1).unwrap_err(),
        s.repin_peer(p.id + 100, "t", 1).unwrap_err(),
    ] {
        assert!(matches!(e, StoreError::NotFound(_)));
        assert_eq!(e.to_string(), "peer not found");
    }
    // Peers are listed in the order they were pinned.
    let q = s
        .add_peer("a", &keys(5).identity().token(), &[], None, 2)
        .unwrap();
    let ids: Vec<i64> = s.peers().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, [p.id, q.id]);
    assert!(q.id > p.id);
}

fn a_removed_peer_stays_on_record_and_its_name_and_key_can_be_pinned_again(db: &Db) {
    let mut s = db.open();
    let t = keys(3).identity().token();
    let old = s.add_peer("p", &t, &["h:1".into()], None, 1).unwrap();
    s.remove_peer(old.id, 5).unwrap();
    assert!(matches!(
        s.remove_peer(old.id, 6),
        Err(StoreError::NotFound(_))
    ));
    let again = s.add_peer("p", &t, &["h:2".into()], None, 7).unwrap();
    assert_ne!(again.id, old.id);
    let rows = s.peers().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].removed_at, Some(5));
    assert_eq!(rows[1].removed_at, None);
    // Among peers still pinned, a name is unique.
    let other = keys(4).identity().token();
    assert!(matches!(
        s.add_peer("p", &other, &[], None, 8),
        Err(StoreError::Exists(_))
    ));
}

fn a_repin_retires_the_old_row_and_pins_the_new_key_unverified_in_one_step(db: &Db) {
    let mut s = db.open();
    let (t1, t2) = (keys(3).identity().token(), keys(4).identity().token());
    let old = s.add_peer("p", &t1, &["h:1".into()], Some("R"), 1).unwrap();
    s.set_verified(old.id, true).unwrap();
    let new = s.repin_peer(old.id, &t2, 9).unwrap();
    assert_eq!((new.name.as_str(), new.token.as_str()), ("p", t2.as_str()));
    assert_eq!(
        (new.addrs.clone(), new.rel.as_deref()),
        (vec!["h:1".to_string()], Some("R"))
    );
    assert!(!new.verified);
    let rows = s.peers().unwrap();
    assert_eq!(rows[0].removed_at, Some(9));
    assert_eq!(rows[0].replaced_by, Some(new.id));
    assert_eq!(rows[1], new);
    // A retired row cannot be repinned again, and a key pinned elsewhere is refused whole.
    assert!(matches!(
        s.repin_peer(old.id, &t2, 10),
        Err(StoreError::NotFound(_))
    ));
    let q = s
        .add_peer("q", &keys(5).identity().token(), &["h:3".into()], None, 11)
        .unwrap();
    let e = s.repin_peer(q.id, &t2, 12).unwrap_err();
    assert!(matches!(e, StoreError::Exists(_)));
    assert_eq!(e.to_string(), "a peer with this key already exists");
    let rows = s.peers().unwrap();
    assert_eq!(rows.len(), 3, "the refused repin left nothing behind");
    assert_eq!(rows[2], q);
}

fn a_key_chain_per_peer_and_direction_is_replaced_whole_and_survives_reopening(db: &Db) {
    let mut s = db.open();
    let p = s
        .add_peer("p", &keys(3).identity().token(), &[], None, 1)
        .unwrap();
    let q = s
        .add_peer("q", &keys(4).identity().token(), &[], None, 1)
        .unwrap();
    assert!(s.psks().unwrap().is_empty(), "no rows: generation 0, zeros");
    let row = |peer_id, dir, gen: u64, prev: Option<[u8; 32]>| PskRow {
        peer_id,
        dir,
        gen,
        key: [gen as u8; 32],
        prev,
    };
    s.write(&[
        WriteOp::PeerPsk(row(p.id, PskDir::Out, 0, None)),
        WriteOp::PeerPsk(row(q.id, PskDir::In, 4, Some([3; 32]))),
    ])
    .unwrap();
    s.write(&[
        WriteOp::PeerPsk(row(p.id, PskDir::Out, 1, Some([0; 32]))),
        WriteOp::PeerPsk(row(p.id, PskDir::In, 7, None)),
    ])
    .unwrap();
    drop(s);
    let s = db.open();
    assert_eq!(
        s.psks().unwrap(),
        [
            row(p.id, PskDir::In, 7, None),
            row(p.id, PskDir::Out, 1, Some([0; 32])),
            row(q.id, PskDir::In, 4, Some([3; 32])),
        ]
    );
}

conformance!(
    a_key_chain_per_peer_and_direction_is_replaced_whole_and_survives_reopening,
    duplicate_peer_is_refused,
    a_peer_reads_back_as_pinned_and_changes_in_place,
    a_removed_peer_stays_on_record_and_its_name_and_key_can_be_pinned_again,
    a_repin_retires_the_old_row_and_pins_the_new_key_unverified_in_one_step,
);
