//! Start-up snapshots of a book (docs/DECISIONS.md, "Start-up snapshots").
//!
//! Rebuilding a book by checking every stored entry again costs a signature
//! verification per entry: some 40 s for a million entries on one core. A
//! station therefore stores, every [`SNAPSHOT_EVERY`] entries, what the book
//! holds, and at start-up rebuilds it from the newest snapshot and checks
//! only the entries stored after it.
//!
//! Each author's chain of [`Meta`] grows without end, so it is stored in
//! fixed segments of [`SEGMENT`] entries, each written once when it fills;
//! the snapshot's body names each segment by its SHA-256 and carries the
//! rest: the partly filled tail of each chain, the keys, and the open
//! acknowledgement, request and delivery books. The body is a fixed layout
//! of big-endian integers and 32-byte hashes (below); the station signs its
//! digest ([`hotline_proto::snapshot::SnapshotHead`]). A snapshot that fails
//! any check here is not used: the channel is rebuilt from its entries.
//!
//! What a snapshot leaves out is what a replay rebuilds the same way: the
//! hash index and the state log come from the metas; `held` marks and a
//! chain refused after equivocation are set again by the station after the
//! restore, as after a replay.
//!
//! Body layout (v1), every integer a big-endian u64 unless noted:
//! `"HLBOOK1\0"`, then per author: segment count, each segment's SHA-256,
//! tail count, each tail meta (hash, lamport, kind u8, stored_at, seen_seq);
//! per author: key count, each `(seq, identity 64 bytes)`; per author:
//! unacked count, each (hash, precedence u8, stored_at, delivered_at or
//! u64::MAX); undelivered count, each (seq, hash); per author: open
//! request count, each (hash, deadline, on_miss u8); deadline-acted count,
//! each hash; decided count, each hash (both sorted).

use super::{ChannelBook, Meta, OpenRequest, Unacked};
use crate::state::changes_state;
use hotline_proto::{sha256, Hash, Identity, Kind, OnMiss, Precedence};

/// Entries per stored segment of an author's metas.
pub const SEGMENT: u64 = 4096;
/// A snapshot is due once this many entries were added since the last one:
/// start-up checks at most about this many entries per channel.
pub const SNAPSHOT_EVERY: u64 = 4096;

const MAGIC: &[u8; 8] = b"HLBOOK1\0";
/// Bytes of one meta in a segment or a tail.
pub const META_BYTES: usize = 32 + 8 + 1 + 8 + 8;

/// A book's snapshot, for storage: the body, and the segments that filled
/// since the previous snapshot. The station seals it before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookSnapshot {
    /// The channel.
    pub channel: Hash,
    /// Entries of author 0 and author 1 the snapshot covers.
    pub lens: [u64; 2],
    /// The encoded body (module docs).
    pub body: Vec<u8>,
    /// Segments filled since the previous snapshot: `(author, index, bytes)`.
    pub segments: Vec<(u8, u64, Vec<u8>)>,
    /// The station's signature over the [`hotline_proto::snapshot::SnapshotHead`]; empty until sealed.
    pub sig: Vec<u8>,
}

impl BookSnapshot {
    /// What the seal signs.
    pub fn head(&self) -> hotline_proto::snapshot::SnapshotHead {
        hotline_proto::snapshot::SnapshotHead {
            channel: self.channel,
            lens: self.lens,
            digest: sha256(&self.body),
        }
    }

    /// Signs it with the station's current key.
    pub fn seal(&mut self, keys: &hotline_proto::SecretKeys) {
        self.sig = self.head().sign(keys).to_vec();
    }
}

/// Why a stored snapshot is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot not usable: {0}")]
pub struct SnapshotError(pub &'static str);

fn put_meta(out: &mut Vec<u8>, m: &Meta) {
    out.extend_from_slice(&m.hash);
    out.extend_from_slice(&m.lamport.to_be_bytes());
    out.push(m.kind as u8);
    out.extend_from_slice(&m.stored_at.to_be_bytes());
    out.extend_from_slice(&m.seen_seq.to_be_bytes());
}

/// A bounds-checked reader over a body or a segment.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }
    fn hash(&mut self) -> Result<Hash, SnapshotError> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }
    /// A count of items of `size` bytes each, no more than the bytes left hold.
    fn count(&mut self, size: usize) -> Result<usize, SnapshotError> {
        let n = self.u64()?;
        if n > (self.0.len() / size) as u64 {
            return Err(SnapshotError("a count larger than the body"));
        }
        Ok(n as usize)
    }
    fn meta(&mut self) -> Result<Meta, SnapshotError> {
        let hash = self.hash()?;
        let lamport = self.u64()?;
        let kind = *Kind::ALL
            .get(self.u8()? as usize)
            .ok_or(SnapshotError("unknown kind"))?;
        Ok(Meta {
            hash,
            lamport,
            kind,
            stored_at: self.u64()?,
            seen_seq: self.u64()?,
        })
    }
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_be_bytes());
}

impl ChannelBook {
    /// Whether a batch is open ([`ChannelBook::savepoint`]): no snapshot then.
    pub fn in_batch(&self) -> bool {
        self.journal.is_some()
    }

    /// Entries held, both authors.
    pub fn total(&self) -> u64 {
        self.len(0) + self.len(1)
    }

    /// A snapshot of the book as it is, with the segments that filled since
    /// a snapshot covering `since` was taken.
    pub fn snapshot(&self, since: [u64; 2]) -> BookSnapshot {
        debug_assert!(!self.in_batch(), "a snapshot is of committed entries only");
        let mut body = MAGIC.to_vec();
        let mut segments = Vec::new();
        for (a, (chain, since)) in self.chains.iter().zip(since).enumerate() {
            let full = chain.len() / SEGMENT as usize;
            put_u64(&mut body, full as u64);
            for (i, seg) in chain.chunks_exact(SEGMENT as usize).enumerate() {
                let mut bytes = Vec::with_capacity(seg.len() * META_BYTES);
                seg.iter().for_each(|m| put_meta(&mut bytes, m));
                body.extend_from_slice(&sha256(&bytes));
                if i as u64 >= since / SEGMENT {
                    segments.push((a as u8, i as u64, bytes));
                }
            }
            let tail = &chain[full * SEGMENT as usize..];
            put_u64(&mut body, tail.len() as u64);
            tail.iter().for_each(|m| put_meta(&mut body, m));
        }
        for keys in &self.keys {
            put_u64(&mut body, keys.len() as u64);
            for (seq, id) in keys {
                put_u64(&mut body, *seq);
                body.extend_from_slice(&id.to_bytes());
            }
        }
        for unacked in &self.unacked {
            put_u64(&mut body, unacked.len() as u64);
            for (h, u) in unacked {
                body.extend_from_slice(h);
                body.push(u.precedence as u8);
                put_u64(&mut body, u.stored_at);
                put_u64(&mut body, u.delivered_at.unwrap_or(u64::MAX));
            }
        }
        put_u64(&mut body, self.undelivered.len() as u64);
        for (seq, h) in &self.undelivered {
            put_u64(&mut body, *seq);
            body.extend_from_slice(h);
        }
        for open in &self.open_requests {
            put_u64(&mut body, open.len() as u64);
            for (h, r) in open {
                body.extend_from_slice(h);
                put_u64(&mut body, r.deadline);
                body.push(r.on_miss as u8);
            }
        }
        for set in [&self.deadline_acted, &self.decided] {
            let mut sorted: Vec<&Hash> = set.iter().collect();
            sorted.sort_unstable();
            put_u64(&mut body, sorted.len() as u64);
            sorted.into_iter().for_each(|h| body.extend_from_slice(h));
        }
        BookSnapshot {
            channel: self.id,
            lens: [self.len(0), self.len(1)],
            body,
            segments,
            sig: Vec::new(),
        }
    }

    /// Rebuilds a book from a snapshot: `self` is the book of the channel's
    /// verified `Open` (its identities and terms), `segments[a]` are author
    /// `a`'s stored segments in order. The result holds what the snapshot
    /// covers; the entries after it are applied as usual.
    pub fn from_snapshot(
        mut self,
        lens: [u64; 2],
        body: &[u8],
        segments: [Vec<Vec<u8>>; 2],
    ) -> Result<ChannelBook, SnapshotError> {
        let mut r = Reader(body);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(SnapshotError("not a version 1 snapshot"));
        }
        let mut chains = [Vec::new(), Vec::new()];
        for (a, segs) in segments.iter().enumerate() {
            let n = r.count(32)?;
            if n > segs.len() {
                return Err(SnapshotError("a segment is missing"));
            }
            let chain = &mut chains[a];
            for seg in &segs[..n] {
                if r.hash()? != sha256(seg) || seg.len() != SEGMENT as usize * META_BYTES {
                    return Err(SnapshotError("a segment does not match its digest"));
                }
                let mut s = Reader(seg);
                for _ in 0..SEGMENT {
                    chain.push(s.meta()?);
                }
            }
            let tail = r.count(META_BYTES)?;
            if tail as u64 >= SEGMENT {
                return Err(SnapshotError("a tail longer than a segment"));
            }
            for _ in 0..tail {
                chain.push(r.meta()?);
            }
            if chain.len() as u64 != lens[a] {
                return Err(SnapshotError("the chains do not have the sealed lengths"));
            }
        }
        if chains[0].first().map(|m| m.hash) != Some(self.id) {
            return Err(SnapshotError("the first entry is not the channel's Open"));
        }
        let mut keys = [Vec::new(), Vec::new()];
        for (a, k) in keys.iter_mut().enumerate() {
            for _ in 0..r.count(8 + 64)? {
                let seq = r.u64()?;
                let raw = r.take(64)?;
                let id = Identity {
                    sig_pk: raw[..32].try_into().expect("32 bytes"),
                    dh_pk: raw[32..].try_into().expect("32 bytes"),
                };
                k.push((seq, id));
            }
            if k.first() != Some(&(0, self.identities[a])) {
                return Err(SnapshotError("an author's first key is not the Open's"));
            }
        }
        for a in 0..2 {
            for _ in 0..r.count(32 + 1 + 16)? {
                let hash = r.hash()?;
                let precedence = *Precedence::ALL
                    .get(r.u8()? as usize)
                    .ok_or(SnapshotError("unknown precedence"))?;
                let stored_at = r.u64()?;
                let delivered_at = Some(r.u64()?).filter(|d| *d != u64::MAX);
                self.put_unacked(
                    a as u8,
                    hash,
                    Some(Unacked {
                        precedence,
                        stored_at,
                        delivered_at,
                        held: false,
                    }),
                );
            }
        }
        for _ in 0..r.count(8 + 32)? {
            let seq = r.u64()?;
            self.undelivered.insert(seq, r.hash()?);
        }
        for a in 0..2 {
            for _ in 0..r.count(32 + 8 + 1)? {
                let hash = r.hash()?;
                let deadline = r.u64()?;
                let on_miss = *[OnMiss::Alert, OnMiss::Suspend, OnMiss::Terminate]
                    .get(r.u8()? as usize)
                    .ok_or(SnapshotError("unknown on-miss action"))?;
                self.open_requests[a].insert(hash, OpenRequest { deadline, on_miss });
            }
        }
        for _ in 0..r.count(32)? {
            self.deadline_acted.insert(r.hash()?);
        }
        for _ in 0..r.count(32)? {
            self.decided.insert(r.hash()?);
        }
        if !r.0.is_empty() {
            return Err(SnapshotError("bytes after the end"));
        }
        self.index.clear();
        self.index.reserve(chains[0].len() + chains[1].len());
        self.log = Default::default();
        for (a, chain) in chains.iter().enumerate() {
            for (i, m) in chain.iter().enumerate() {
                let seq = i as u64 + 1;
                if self.index.insert(m.hash, (a as u8, seq)).is_some() {
                    return Err(SnapshotError("one hash twice"));
                }
                if changes_state(m.kind) {
                    self.log.push(a as u8, seq, m.lamport, m.kind);
                }
            }
        }
        self.state = self.log.fold([u64::MAX; 2]);
        self.chains = chains;
        self.keys = keys;
        self.refresh_signer(0);
        self.refresh_signer(1);
        Ok(self)
    }
}
