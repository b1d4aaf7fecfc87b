//! Start-up snapshots in storage: a channel comes back from its newest
//! sealed snapshot and the entries after it, and from every entry when the
//! seal is not this station's.

#[path = "../../../core/tests/common/ends.rs"]
mod ends;

use crate::common::Db;
use ends::{keys, Ends};
use hotline_core::book::snapshot::SNAPSHOT_EVERY;
use hotline_core::VerifiedEntry;
use hotline_proto::Signers;
use hotline_store::{ChannelRow, WriteOp};

fn a_channel_comes_back_from_its_sealed_snapshot_or_else_from_every_entry(db: &Db) {
    let mut line = Ends::open([1, 2]);
    for i in 0..SNAPSHOT_EVERY + 300 {
        line.message((i % 2) as u8, &format!("m {i}"));
    }
    let mut s = db.open();
    let peer = s
        .add_peer(
            "b",
            &keys(2).identity().token(),
            &["127.0.0.1:1".into()],
            None,
            1,
        )
        .unwrap();
    let id = line.channel(0).id();
    let mut ops = vec![WriteOp::Channel(ChannelRow {
        id,
        peer_id: peer.id,
        me: 0,
        created_at: 1,
    })];
    for (author, _, env, at) in &line.stored[0] {
        let key = keys(1 + author).identity();
        ops.push(WriteOp::Entry {
            entry: VerifiedEntry::from_storage(env, &key).unwrap(),
            stored_at: *at,
        });
    }
    let snaps = line.snapshots[0].clone();
    assert!(!snaps.is_empty());
    let last = snaps.last().unwrap().lens;
    for mut snap in snaps {
        snap.seal(keys(1).current());
        ops.push(WriteOp::Snapshot(Box::new(snap)));
    }
    s.write(&ops).unwrap();
    let row = s.channels().unwrap().remove(0);
    let mine = [keys(1).identity()];
    let fast = hotline_store::restore_channel(&*s, &row, &[], &mine).unwrap();
    assert_eq!(fast.snapshot_lens(), last, "restored from the snapshot");
    // Sealed by a key not this station's: every entry is checked instead.
    let stranger = [keys(9).identity()];
    let slow = hotline_store::restore_channel(&*s, &row, &[], &stranger).unwrap();
    assert_eq!(slow.snapshot_lens(), [0, 0], "restored from every entry");
    for ch in [&fast, &slow] {
        let book = ch.book();
        assert_eq!(book.total(), line.stored[0].len() as u64);
        assert_eq!(book.head(0), line.channel(0).book().head(0));
        assert_eq!(book.head(1), line.channel(0).book().head(1));
        assert_eq!(book.state(), line.channel(0).book().state());
    }
    // The same messages open, each known delivered or not alike (the
    // snapshot keeps when the peer's checkpoint proved it, a replay only
    // when the peer's next entry did).
    let open = |ch: &hotline_core::machine::Channel| {
        ch.book()
            .unacked()
            .iter()
            .flat_map(|m| m.iter().map(|(h, u)| (*h, u.delivered_at.is_some())))
            .collect::<Vec<_>>()
    };
    assert_eq!(open(&fast), open(&slow));
    assert!(!open(&fast).is_empty());
}

conformance!(a_channel_comes_back_from_its_sealed_snapshot_or_else_from_every_entry);
