//! Channels, entries, checkpoints, evidence and restored channels.

use crate::common::*;
use hotline_core::ChannelBook;
use hotline_proto::{Body, Terms};
use hotline_store::{ChannelRow, StoreError, WriteOp, WriteResult};

fn entries_commit_in_one_batch_and_read_back_by_cursor_and_position(db: &Db) {
    let mut s = db.open();
    let (a, b) = (keys(1), keys(2));
    let peer = s
        .add_peer("b", &b.identity().token(), &["127.0.0.1:1".into()], None, 1)
        .unwrap();
    let (mut book, open) = ChannelBook::open(&a, b.identity(), Terms::default(), None, "alice", 10);
    let m = book
        .author(&a, Body::ContactCheck, "", 11, true)
        .expect_err("a proposed channel allows no contact check");
    assert!(matches!(m, hotline_core::Refusal::Forbidden(_)));
    let res = s
        .write(&[
            WriteOp::Channel(ChannelRow {
                id: book.id(),
                peer_id: peer.id,
                me: 0,
                created_at: 10,
            }),
            WriteOp::Entry {
                entry: open.clone(),
                stored_at: 10,
            },
        ])
        .unwrap();
    assert_eq!(res[0], WriteResult::Done);
    assert_eq!(res[1], WriteResult::Cursor(1));
    let rows = s.entries_after(&book.id(), 0, 10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].envelope, open.envelope().bytes());
    assert_eq!(
        s.entry_at(&book.id(), 0, 1).unwrap().unwrap().hash,
        open.hash()
    );
    // The same (channel, author, seq) twice is refused and the batch leaves nothing behind.
    assert!(matches!(
        s.write(&[WriteOp::Entry {
            entry: open,
            stored_at: 11
        }]),
        Err(StoreError::Db(_))
    ));
    assert_eq!(s.entries_after(&book.id(), 0, 10).unwrap().len(), 1);
    book.refuse(1);
}

fn entries_read_in_commit_order_by_page_and_in_chain_order_by_author(db: &Db) {
    let mut s = db.open();
    let (line, peer) = stored_line(&mut *s, 5);
    let all = s.entries_after(&line.id, 0, usize::MAX).unwrap();
    assert_eq!(all.len(), 7);
    let cursors: Vec<u64> = all.iter().map(|r| r.cursor).collect();
    assert_eq!(cursors, (1..=7).collect::<Vec<_>>());
    for (row, e) in all.iter().zip(&line.entries) {
        assert_eq!(row.channel, line.id);
        assert_eq!((row.author, row.seq), (e.entry().author, e.entry().seq));
        assert_eq!(row.hash, e.hash());
        assert_eq!(row.lamport, e.entry().lamport);
        assert_eq!(row.stored_at, 20 + e.entry().seq);
        assert_eq!(row.envelope, e.envelope().bytes());
    }
    // Pages: after a cursor, at most `limit`.
    let page = s.entries_after(&line.id, 2, 3).unwrap();
    assert_eq!(page, all[2..5].to_vec());
    assert!(s.entries_after(&line.id, 7, 10).unwrap().is_empty());
    assert!(s.entries_after(&[7; 32], 0, 10).unwrap().is_empty());
    // One author's chain from a seq on.
    let chain = s.chain_from(&line.id, 0, 3, 2).unwrap();
    let seqs: Vec<(u8, u64)> = chain.iter().map(|r| (r.author, r.seq)).collect();
    assert_eq!(seqs, [(0, 3), (0, 4)]);
    assert_eq!(s.chain_from(&line.id, 1, 1, 10).unwrap().len(), 1);
    assert!(s.chain_from(&line.id, 1, 2, 10).unwrap().is_empty());
    // By hash and by position.
    let third = &line.entries[2];
    assert_eq!(
        s.entry_by_hash(&third.hash()).unwrap().as_ref(),
        Some(&all[2])
    );
    assert_eq!(s.entry_by_hash(&[0; 32]).unwrap(), None);
    assert_eq!(s.entry_at(&line.id, 0, 2).unwrap().as_ref(), Some(&all[2]));
    assert_eq!(s.entry_at(&line.id, 0, 9).unwrap(), None);
    assert_eq!(
        s.channels().unwrap(),
        [ChannelRow {
            id: line.id,
            peer_id: peer,
            me: 0,
            created_at: 10
        }]
    );
    // Another store on the same database reads the same.
    let r = db.open();
    assert_eq!(r.entries_after(&line.id, 0, usize::MAX).unwrap(), all);
}

fn a_position_is_written_once_even_by_two_stores(db: &Db) {
    let mut s = db.open();
    let (line, _) = stored_line(&mut *s, 1);
    let mut other = db.open();
    let [x, y] = line.fork.clone();
    let res = s
        .write(&[WriteOp::Entry {
            entry: x.clone(),
            stored_at: 50,
        }])
        .unwrap();
    assert_eq!(res, [WriteResult::Cursor(4)]);
    // The other store's fork at the same (channel, author, seq) is refused,
    // with the whole of its batch.
    let refused = other.write(&[
        WriteOp::RaiseAlert {
            kind: "k".into(),
            channel: None,
            key: "k".into(),
            cause: "c".into(),
            at: 1,
        },
        WriteOp::Entry {
            entry: y,
            stored_at: 51,
        },
    ]);
    assert!(matches!(refused, Err(StoreError::Db(_))), "{refused:?}");
    assert!(other.alerts(false, 10).unwrap().is_empty());
    let seq = x.entry().seq;
    for st in [&s, &other] {
        assert_eq!(
            st.entry_at(&line.id, 0, seq).unwrap().unwrap().hash,
            x.hash()
        );
        assert_eq!(st.entries_after(&line.id, 0, 100).unwrap().len(), 4);
    }
}

fn a_channel_is_created_once_and_only_for_a_pinned_peer(db: &Db) {
    let mut s = db.open();
    let (line, peer) = stored_line(&mut *s, 0);
    let again = WriteOp::Channel(ChannelRow {
        id: line.id,
        peer_id: peer,
        me: 1,
        created_at: 11,
    });
    assert!(matches!(s.write(&[again]), Err(StoreError::Db(_))));
    let orphan = WriteOp::Channel(ChannelRow {
        id: [5; 32],
        peer_id: peer + 100,
        me: 0,
        created_at: 11,
    });
    assert!(matches!(s.write(&[orphan]), Err(StoreError::Db(_))));
    // Listed by creation time, then id.
    let mk = |id, created_at| {
        WriteOp::Channel(ChannelRow {
            id,
            peer_id: peer,
            me: 1,
            created_at,
        })
    };
    s.write(&[mk([0xff; 32], 5), mk([0x01; 32], 30), mk([0x00; 32], 30)])
        .unwrap();
    let ids: Vec<u8> = s.channels().unwrap().iter().map(|c| c.id[0]).collect();
    assert_eq!(ids, [0xff, line.id[0], 0x00, 0x01]);
}

fn the_latest_checkpoint_of_each_side_replaces_the_one_before(db: &Db) {
    let mut s = db.open();
    let (line, _) = stored_line(&mut *s, 0);
    let cp = |signer, envelope: &[u8], stored_at| WriteOp::Checkpoint {
        channel: line.id,
        signer,
        envelope: envelope.to_vec(),
        stored_at,
    };
    assert_eq!(s.checkpoint(&line.id, 0).unwrap(), None);
    s.write(&[cp(0, b"first", 1), cp(1, b"theirs", 2)]).unwrap();
    s.write(&[cp(0, b"second", 3)]).unwrap();
    assert_eq!(
        s.checkpoint(&line.id, 0).unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(
        s.checkpoint(&line.id, 1).unwrap().as_deref(),
        Some(&b"theirs"[..])
    );
    assert_eq!(s.checkpoint(&[3; 32], 0).unwrap(), None);
}

fn evidence_keeps_the_stored_twin_and_only_the_first_conflict(db: &Db) {
    let mut s = db.open();
    let (line, _) = stored_line(&mut *s, 2);
    let ev = |seq, conflicting: &[u8], at| WriteOp::Evidence {
        channel: line.id,
        author: 0,
        seq,
        conflicting: conflicting.to_vec(),
        at,
    };
    assert!(s.evidence(None).unwrap().is_empty());
    s.write(&[ev(2, b"fork", 5)]).unwrap();
    s.write(&[ev(2, b"fork again", 6), ev(9, b"unseen", 7)])
        .unwrap();
    let all = s.evidence(None).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].author, all[0].seq, all[0].at), (0, 2, 5));
    assert_eq!(all[0].stored, line.entries[2].envelope().bytes());
    assert_eq!(all[0].conflicting, b"fork");
    // Its twin not stored: kept with an empty stored envelope.
    assert_eq!((all[1].seq, all[1].stored.len()), (9, 0));
    assert_eq!(s.evidence(Some(&line.id)).unwrap(), all);
    assert!(s.evidence(Some(&[1; 32])).unwrap().is_empty());
}

fn restored_channels_are_marked_all_at_once_and_confirmed_one_by_one(db: &Db) {
    let mut s = db.open();
    let (line, peer) = stored_line(&mut *s, 0);
    s.write(&[WriteOp::Channel(ChannelRow {
        id: [0; 32],
        peer_id: peer,
        me: 1,
        created_at: 1,
    })])
    .unwrap();
    assert!(s.restored().unwrap().is_empty());
    assert_eq!(s.mark_all_restored().unwrap(), 2);
    assert_eq!(s.mark_all_restored().unwrap(), 0, "already marked");
    let mut both = vec![[0; 32], line.id];
    both.sort();
    assert_eq!(s.restored().unwrap(), both);
    s.write(&[WriteOp::Confirmed { channel: line.id }]).unwrap();
    assert_eq!(s.restored().unwrap(), [[0; 32]]);
    // The machine's channel comes back from what the store holds.
    let row = s
        .channels()
        .unwrap()
        .into_iter()
        .find(|c| c.id == line.id)
        .unwrap();
    let ch = hotline_store::restore_channel(&*s, &row, &[], &[]).unwrap();
    assert_eq!(ch.id(), line.id);
}

fn courier_ranges_are_kept_per_channel_and_the_first_mark_stays(db: &Db) {
    let mut s = db.open();
    let (line, _) = stored_line(&mut *s, 3);
    let mark = |author, first, last, bundle| WriteOp::Courier {
        channel: line.id,
        author,
        first,
        last,
        bundle: [bundle; 32],
        at: 5,
    };
    assert!(s.courier_ranges(&line.id).unwrap().is_empty());
    s.write(&[mark(1, 1, 2, 7), mark(0, 2, 3, 8)]).unwrap();
    // The same range again (a bundle taken twice) keeps the first mark.
    s.write(&[mark(1, 1, 2, 9)]).unwrap();
    assert_eq!(s.courier_ranges(&line.id).unwrap(), [(0, 2, 3), (1, 1, 2)]);
    assert!(s.courier_ranges(&[9; 32]).unwrap().is_empty());
}

conformance!(
    courier_ranges_are_kept_per_channel_and_the_first_mark_stays,
    entries_commit_in_one_batch_and_read_back_by_cursor_and_position,
    entries_read_in_commit_order_by_page_and_in_chain_order_by_author,
    a_position_is_written_once_even_by_two_stores,
    a_channel_is_created_once_and_only_for_a_pinned_peer,
    the_latest_checkpoint_of_each_side_replaces_the_one_before,
    evidence_keeps_the_stored_twin_and_only_the_first_conflict,
    restored_channels_are_marked_all_at_once_and_confirmed_one_by_one,
);
