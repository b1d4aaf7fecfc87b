//! Rebuilding a channel of the station machine from storage: from its
//! newest start-up snapshot and the entries stored after it, or, with no
//! usable snapshot, from every entry (docs/DECISIONS.md, "Start-up snapshots").

use crate::{AlertRow, ChannelRow, Store, StoreError, PAGE};
use hotline_core::book::ChannelBook;
use hotline_core::machine::Channel;
use hotline_proto::{hex, Identity};

/// A channel's stored snapshot, as read, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// Entries of author 0 and author 1 it covers.
    pub lens: [u64; 2],
    /// The body ([`hotline_core::book::snapshot`]).
    pub body: Vec<u8>,
    /// The station's seal.
    pub sig: Vec<u8>,
}

/// Why a channel could not be restored from storage.
#[derive(Debug, thiserror::Error)]
pub enum RestoreFailure {
    /// Reading failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What was read does not verify.
    #[error(transparent)]
    Damaged(#[from] hotline_core::machine::RestoreError),
}

/// Rebuilds a channel of the station machine from what `store` holds
/// (`open` are the station's open alerts; the channel keeps its own).
/// `mine` are the station's own keys, any of which may have sealed the
/// channel's snapshot.
pub fn restore_channel<S: Store + ?Sized>(
    store: &S,
    row: &ChannelRow,
    open: &[AlertRow],
    mine: &[Identity],
) -> Result<Channel, RestoreFailure> {
    let base = match from_snapshot(store, row, mine)? {
        Ok(book) => book,
        Err(why) => {
            tracing::warn!(
                "channel {}: start-up snapshot not used ({why}); checking every entry",
                hex(&row.id)
            );
            None
        }
    };
    let lens = base.as_ref().map(|b| [b.len(0), b.len(1)]);
    let mut entries = Vec::new();
    let mut after = match lens {
        None => 0,
        // The first entry stored after the snapshot: the earliest of each
        // author's next entry (each author's chain is stored in seq order).
        Some(l) => {
            let mut next = None::<u64>;
            for a in 0..2u8 {
                if let Some(e) = store.entry_at(&row.id, a, l[a as usize] + 1)? {
                    next = Some(next.map_or(e.cursor, |n| n.min(e.cursor)));
                }
            }
            match next {
                Some(c) => c - 1,
                None => u64::MAX,
            }
        }
    };
    while after != u64::MAX {
        let batch = store.entries_after(&row.id, after, PAGE)?;
        let Some(last) = batch.last() else { break };
        after = last.cursor;
        entries.extend(
            batch
                .into_iter()
                .filter(|r| lens.is_none_or(|l| r.seq > l[r.author.min(1) as usize]))
                .map(|r| (r.author, r.seq, r.envelope, r.stored_at)),
        );
    }
    let checkpoints = [store.checkpoint(&row.id, 0)?, store.checkpoint(&row.id, 1)?];
    let refused = store.evidence(Some(&row.id))?.into_iter().map(|e| e.author);
    let verified = store
        .peers()?
        .iter()
        .any(|p| p.id == row.peer_id && p.verified && p.removed_at.is_none());
    let alerts = open
        .iter()
        .filter(|a| a.channel == Some(row.id))
        .map(|a| a.key.clone());
    let restored = store.restored()?.contains(&row.id);
    let mut ch = Channel::restore_from(base, row.me, row.peer_id, entries, checkpoints, alerts)?;
    if restored {
        ch.mark_restored();
    }
    // An author caught equivocating stays refused across restarts (SPEC §5).
    for author in refused {
        ch.refuse(author);
    }
    if !verified {
        ch.peer_unverified();
    }
    Ok(ch)
}

/// The book a channel's stored snapshot holds, checked: sealed by one of
/// `mine`, segments matching, its `Open` verified, and its last entry of
/// each author the one stored there. `Ok(Err(why))` when it is not usable.
fn from_snapshot<S: Store + ?Sized>(
    store: &S,
    row: &ChannelRow,
    mine: &[Identity],
) -> Result<Result<Option<ChannelBook>, String>, StoreError> {
    let Some(snap) = store.book_snapshot(&row.id)? else {
        return Ok(Ok(None));
    };
    let head = hotline_proto::snapshot::SnapshotHead {
        channel: row.id,
        lens: snap.lens,
        digest: hotline_proto::sha256(&snap.body),
    };
    if !mine.iter().any(|id| head.verify(&snap.sig, id).is_ok()) {
        return Ok(Err(
            "its seal does not verify under this station's keys".into()
        ));
    }
    let Some(open) = store.entry_at(&row.id, 0, 1)? else {
        return Ok(Err("the channel's Open is not stored".into()));
    };
    let genesis = match ChannelBook::genesis_at(&open.envelope, row.me, open.stored_at) {
        Ok((book, _)) if book.id() == row.id => book,
        Ok(_) => return Ok(Err("the stored Open is another channel's".into())),
        Err(e) => return Ok(Err(format!("the stored Open does not verify: {e}"))),
    };
    let segment = hotline_core::book::snapshot::SEGMENT;
    let segments = [
        store.book_segments(&row.id, 0, snap.lens[0] / segment)?,
        store.book_segments(&row.id, 1, snap.lens[1] / segment)?,
    ];
    let book = match genesis.from_snapshot(snap.lens, &snap.body, segments) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e.to_string())),
    };
    for a in 0..2u8 {
        let len = book.len(a);
        if len == 0 {
            continue;
        }
        let stored = store.entry_at(&row.id, a, len)?.map(|e| e.hash);
        if stored != book.meta(a, len).map(|m| m.hash) {
            return Ok(Err(format!(
                "author {a}'s entry {len} is not the one the snapshot names"
            )));
        }
    }
    Ok(Ok(Some(book)))
}
