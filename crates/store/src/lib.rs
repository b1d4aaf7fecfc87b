//! hotline storage: the [`Store`] trait and its SQLite and PostgreSQL
//! implementations.
//!
//! The store keeps bytes and rows; it validates nothing. The only way an entry
//! gets in is as a [`VerifiedEntry`], which only the core's verifier builds.
//! Writes come in batches ([`WriteOp`]) committed in one transaction, which is
//! how the station does group commit: many messages, one fsync.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod durable;
mod files;
mod keys;
pub mod pg_test;
mod postgres;
mod psk;
mod restore;
mod schema;
mod sqlite;

pub use keys::{in_rotation_order, RetiredKeyRow};
pub use postgres::{pg_schema_of, pg_schema_version, PgStore};
pub use psk::{PskDir, PskRow};
pub use restore::{restore_channel, RestoreFailure, SnapshotRow};
pub use schema::{schema_of, schema_version, Schema};
pub use sqlite::SqliteStore;

use hotline_core::machine::{ExportPlan, Peer};
use hotline_core::VerifiedEntry;
use hotline_proto::{Hash, SignedAuditHead};

/// The one error type of the store.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (I/O, corruption, full disk, a lost connection).
    /// Held as text so the trait names no backend's error type.
    #[error("storage failed: {0}")]
    Db(String),
    /// This station does not hold the lease on a shared database (another
    /// station process leads, or this one could not renew in time): nothing
    /// was written.
    #[error("this station is not the leader: {0}")]
    Fenced(String),
    /// A uniqueness rule was broken (a peer name or key that exists).
    #[error("{0} already exists")]
    Exists(&'static str),
    /// The thing asked for is not there.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change would break a rule that keeps the station usable.
    #[error("{0}")]
    Refused(&'static str),
    /// A database file could not be created or made private to its owner.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done to the file.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why the operating system refused.
        source: std::io::Error,
    },
    /// The database was written by a newer hotline.
    #[error(
        "the database schema version {found} is newer than this hotline understands ({known})"
    )]
    TooNew {
        /// Version on disk.
        found: i64,
        /// Newest known here.
        known: i64,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Db(e.to_string())
    }
}

/// Every store call fails only with a [`StoreError`].
pub type Result<T> = std::result::Result<T, StoreError>;

/// A pinned peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    /// The shell's handle for the peer; channels refer to it.
    pub id: i64,
    /// What this station calls the peer (unique here; shown in alerts).
    pub name: String,
    /// The pinned identity token: its keys decide what verifies.
    pub token: String,
    /// Addresses, primary first.
    pub addrs: Vec<String>,
    /// Releasability code: which reports may go to this peer (SPEC §7).
    pub rel: Option<String>,
    /// Fingerprint confirmed out of band.
    pub verified: bool,
    /// Last accepted handshake clock (ns).
    pub handshake_ts: u64,
    /// When the peer was removed or its key replaced (Unix ms): the row stays
    /// for the record of its channels, and nothing more is taken from it.
    pub removed_at: Option<u64>,
    /// After a repin: the row of the key that replaced this one.
    pub replaced_by: Option<i64>,
    /// The highest leader epoch accepted from this key in a handshake.
    pub epoch: u64,
}

impl PeerRow {
    /// The peer as the station machine sees it; fails if the stored token is damaged.
    pub fn machine_peer(&self) -> std::result::Result<Peer, hotline_proto::ProtoError> {
        Ok(Peer {
            id: self.id,
            name: self.name.clone(),
            identity: hotline_proto::Identity::parse(&self.token)?,
            verified: self.verified,
            earlier: Vec::new(),
            retired: Vec::new(),
        })
    }
}

/// Whether sharing with a partner is paused, since when and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharingRow {
    /// The partner.
    pub peer_id: i64,
    /// Paused (true) or active.
    pub paused: bool,
    /// Since (Unix ms).
    pub since: u64,
    /// Who paused or resumed it.
    pub by: String,
    /// Why it was paused.
    pub reason: String,
}

/// A report's disposition for a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispositionRow {
    /// Report id.
    pub report: Hash,
    /// Partner.
    pub peer_id: i64,
    /// The word (`released`, `held`, …).
    pub disposition: String,
    /// The entry that carried it, when released.
    pub entry: Option<Hash>,
    /// When.
    pub at: u64,
}

/// A channel this station takes part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRow {
    /// SHA-256 of the channel's `Open` envelope.
    pub id: Hash,
    /// The peer row: only this peer's input is taken for the channel.
    pub peer_id: i64,
    /// This station's author index.
    pub me: u8,
    /// When it was stored here.
    pub created_at: u64,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    /// Commit order at this station.
    pub cursor: u64,
    /// The channel the entry belongs to.
    pub channel: Hash,
    /// 0 for the station that opened the channel, 1 for the other.
    pub author: u8,
    /// Position in the author's chain, from 1.
    pub seq: u64,
    /// SHA-256 of the envelope: the entry's identity.
    pub hash: Hash,
    /// Orders the merged transcript (kept as a column for ordered reads).
    pub lamport: u64,
    /// This station's clock at commit: acknowledgement clocks start here.
    pub stored_at: u64,
    /// The exact signed bytes; everything else is derived from them.
    pub envelope: Vec<u8>,
}

/// An alert, open until its cause goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Order of raising, for listing newest first.
    pub id: i64,
    /// The kind's kebab-case name, as the API shows it.
    pub kind: String,
    /// Channel, if the alert is about one.
    pub channel: Option<Hash>,
    /// Cause key within the channel.
    pub key: String,
    /// Sentence for the operator.
    pub cause: String,
    /// Raised at (Unix ms).
    pub raised_at: u64,
    /// Cleared at, if cleared.
    pub cleared_at: Option<u64>,
    /// The latest acknowledgement by a person, if any.
    pub ack: Option<AlertAck>,
}

/// `(token hash, name, role, expires_at)` of an unrevoked user.
pub type UserToken = (Hash, String, String, Option<u64>);

/// A person's acknowledgement of an alert: someone is on it. The alert
/// stays open until its cause goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertAck {
    /// When (Unix ms).
    pub at: u64,
    /// The user.
    pub by: String,
    /// What they said.
    pub note: String,
}

/// An API user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Order of creation.
    pub id: i64,
    /// Unique; recorded in the audit log as who acted.
    pub name: String,
    /// What the user may do (principal, operator, auditor, admin).
    pub role: String,
    /// Unix ms.
    pub created_at: u64,
    /// Revoked at, if revoked.
    pub revoked_at: Option<u64>,
    /// When its token stops working by itself (Unix ms), if ever.
    pub expires_at: Option<u64>,
}

/// One line of the local audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Row id (the log's order).
    pub id: i64,
    /// Unix ms, this station's clock.
    pub at: u64,
    /// The user who acted (or `-` when unauthenticated).
    pub user: String,
    /// The request, as method and route.
    pub action: String,
    /// The object acted on (channel, peer, user), if any.
    pub target: String,
    /// The HTTP status returned.
    pub result: String,
    /// Hash of the previous line.
    pub prev: Hash,
    /// Hash of this line.
    pub hash: Hash,
}

/// One write in a group-committed batch.
// Batches are short-lived and mostly entries, the large variant: boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create a channel row (before its first entry).
    Channel(ChannelRow),
    /// Store a verified entry of a channel.
    Entry {
        /// The entry.
        entry: VerifiedEntry,
        /// This station's clock.
        stored_at: u64,
    },
    /// Replace the latest checkpoint of `signer` on a channel.
    Checkpoint {
        /// Channel.
        channel: Hash,
        /// Signing author.
        signer: u8,
        /// Envelope bytes.
        envelope: Vec<u8>,
        /// When stored.
        stored_at: u64,
    },
    /// Keep evidence of equivocation: the conflicting envelope beside a copy
    /// of the stored twin at (channel, author, seq), taken in the same transaction.
    Evidence {
        /// Channel.
        channel: Hash,
        /// Author.
        author: u8,
        /// The seq both entries claim.
        seq: u64,
        /// The conflicting envelope.
        conflicting: Vec<u8>,
        /// When.
        at: u64,
    },
    /// Raise an alert unless one with the same channel and key is open.
    RaiseAlert {
        /// Kind name.
        kind: String,
        /// Channel, if any.
        channel: Option<Hash>,
        /// Cause key.
        key: String,
        /// Sentence.
        cause: String,
        /// When.
        at: u64,
    },
    /// Replace the cause of the open alert with this channel and key, if any.
    NoteAlert {
        /// Channel, if any.
        channel: Option<Hash>,
        /// Cause key.
        key: String,
        /// The sentence brought up to date.
        cause: String,
    },
    /// Clear the open alert with this channel and key.
    ClearAlert {
        /// Channel, if any.
        channel: Option<Hash>,
        /// Cause key.
        key: String,
        /// When.
        at: u64,
    },
    /// Set a `meta` value (a channel's log notes, [`log_notes_key`]).
    Meta {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A restored channel is caught up with its own chain: unmark it.
    Confirmed {
        /// The channel.
        channel: Hash,
    },
    /// Store a report published here.
    Report(Box<hotline_core::machine::Report>),
    /// Record (or replace) a report's disposition for a partner.
    Disposition {
        /// Report id.
        report: Hash,
        /// Partner.
        peer_id: i64,
        /// Word.
        disposition: &'static str,
        /// Carrying entry.
        entry: Option<Hash>,
        /// When.
        at: u64,
    },
    /// Sharing with a partner paused or resumed.
    Sharing(SharingRow),
    /// Record the last accepted handshake clock of a peer.
    HandshakeTs {
        /// Peer row id.
        peer_id: i64,
        /// Clock (ns).
        ts: u64,
    },
    /// Replace one direction's chain of stored pre-shared keys of a peer.
    PeerPsk(PskRow),
    /// A peer's pin moves to the key its `KeyRotation` named: the row's
    /// token changes if it is still `old`, and `old` is kept as retired.
    PeerRotated(RetiredKeyRow),
    /// Replace a channel's start-up snapshot, adding the segments that filled since the last.
    Snapshot(Box<hotline_core::book::BookSnapshot>),
    /// Mark an author's entries `first..=last` of a channel as brought by
    /// the courier bundle `bundle` (taken twice, the first mark stays).
    Courier {
        /// Channel.
        channel: Hash,
        /// Author.
        author: u8,
        /// First seq.
        first: u64,
        /// Last seq.
        last: u64,
        /// SHA-256 of the bundle file.
        bundle: Hash,
        /// When.
        at: u64,
    },
    /// Record the highest leader epoch accepted from a peer (it only grows).
    PeerEpoch {
        /// Peer row id.
        peer_id: i64,
        /// The epoch.
        epoch: u64,
    },
    /// Append an audit line (hashes computed by the caller). A transaction
    /// that holds audit lines ends with the [`WriteOp::AuditHead`] over them,
    /// so that no line lands without its signed head.
    Audit(AuditRow),
    /// Replace the audit log's signed head (its line count and newest hash).
    AuditHead(SignedAuditHead),
}

/// What one write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResult {
    /// Nothing to report.
    Done,
    /// The entry's commit cursor.
    Cursor(u64),
    /// The alert raised or cleared (None: nothing changed).
    Alert(Option<AlertRow>),
}

/// Rows read at once while restoring or exporting a channel.
pub(crate) const PAGE: usize = 10_000;

/// Proof that an author signed two different entries with one seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRow {
    /// Where.
    pub channel: Hash,
    /// The equivocating author.
    pub author: u8,
    /// The seq both envelopes claim.
    pub seq: u64,
    /// The envelope held in the transcript (empty if it was not stored).
    pub stored: Vec<u8>,
    /// The other envelope, signed by the same author.
    pub conflicting: Vec<u8>,
    /// When it was found (this station's clock).
    pub at: u64,
}

/// Writes an oversight export of what `plan`'s checkpoint covers, reading the
/// channel's entries from `store`.
pub fn export_text<S: Store + ?Sized>(
    store: &S,
    plan: &ExportPlan,
) -> std::result::Result<String, String> {
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let batch = store
            .entries_after(&plan.channel, after, PAGE)
            .map_err(|e| e.to_string())?;
        let Some(last) = batch.last() else { break };
        after = last.cursor;
        rows.extend(batch.into_iter().map(|r| (r.author, r.seq, r.envelope)));
    }
    // Evidence whose stored twin was not found proves nothing: left out.
    let evidence: Vec<_> = store
        .evidence(Some(&plan.channel))
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|e| !e.stored.is_empty())
        .map(|e| hotline_core::export::Evidence {
            author: e.author,
            seq: e.seq,
            stored: e.stored,
            conflicting: e.conflicting,
        })
        .collect();
    let notes = log_notes(store, &plan.channel).map_err(|e| e.to_string())?;
    plan.write(rows, &evidence, &notes)
}

/// The `meta` key under which a channel's log checkpoint notes are kept
/// (SPEC §5 v2): a JSON array of `[author, note text]`, the newest note of
/// each author's log and, where it is older, the newest each cosigner
/// cosigned.
pub fn log_notes_key(channel: &Hash) -> String {
    format!("log-notes/{}", hotline_proto::hex(channel))
}

/// A channel's log checkpoint notes, as kept under [`log_notes_key`].
pub fn log_notes<S: Store + ?Sized>(store: &S, channel: &Hash) -> Result<Vec<(u8, Vec<u8>)>> {
    let Some(text) = store.meta(&log_notes_key(channel))? else {
        return Ok(Vec::new());
    };
    let v: Vec<(u8, String)> = serde_json::from_str(&text)
        .map_err(|e| StoreError::Db(format!("{}: {e}", log_notes_key(channel))))?;
    Ok(v.into_iter().map(|(a, n)| (a, n.into_bytes())).collect())
}

/// Everything the station keeps durably. One implementation per backend; one test suite for all.
pub trait Store: Send {
    /// Commits a batch in one transaction: all or nothing, durable on return.
    fn write(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>>;

    /// [`Store::write`], all or nothing, but without waiting for the disk:
    /// on return the batch is committed and visible, and it is durable once
    /// a later [`Store::write`] has returned (commits reach the disk in
    /// order). For what a crash may lose without harm (the peer's
    /// checkpoint). SQLite commits it with `synchronous=NORMAL`, PostgreSQL
    /// with `synchronous_commit` off; the default writes durably.
    fn write_relaxed(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>> {
        self.write(ops)
    }

    /// Reads a `meta` value.
    fn meta(&self, key: &str) -> Result<Option<String>>;
    /// Writes a `meta` value.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;

    /// Pins a new peer.
    fn add_peer(
        &mut self,
        name: &str,
        token: &str,
        addrs: &[String],
        rel: Option<&str>,
        at: u64,
    ) -> Result<PeerRow>;
    /// All peers.
    fn peers(&self) -> Result<Vec<PeerRow>>;
    /// Replaces a peer's addresses (primary first) and releasability code.
    fn set_peer(&mut self, peer_id: i64, addrs: &[String], rel: Option<&str>) -> Result<()>;
    /// Marks a peer verified.
    fn set_verified(&mut self, peer_id: i64, verified: bool) -> Result<()>;
    /// Channels restored from a backup and not yet caught up with their
    /// own chain (see `hotline_core::machine::Recovery`).
    fn restored(&self) -> Result<Vec<Hash>>;
    /// Marks every channel restored (`hotline restore`); returns how many.
    fn mark_all_restored(&mut self) -> Result<usize>;
    /// Reports published here, in publication order.
    fn reports(&self) -> Result<Vec<hotline_core::machine::Report>>;
    /// One report by id.
    fn report(&self, id: &Hash) -> Result<Option<hotline_core::machine::Report>>;
    /// Dispositions, of one report or of all.
    fn dispositions(&self, report: Option<&Hash>) -> Result<Vec<DispositionRow>>;
    /// Sharing state per partner (partners never paused have no row).
    fn sharing(&self) -> Result<Vec<SharingRow>>;
    /// The stored pre-shared key chains (a peer and direction without a
    /// row is at generation 0 with zeros).
    fn psks(&self) -> Result<Vec<PskRow>>;
    /// The keys peers rotated away from, oldest first per peer.
    fn peer_keys(&self) -> Result<Vec<RetiredKeyRow>>;
    /// The ranges `(author, first, last)` of a channel's entries that came
    /// by courier ([`WriteOp::Courier`]).
    fn courier_ranges(&self, channel: &Hash) -> Result<Vec<(u8, u64, u64)>>;
    /// Unpins a peer: its row stays, marked removed, for the record.
    fn remove_peer(&mut self, peer_id: i64, at: u64) -> Result<()>;
    /// Replaces a peer's key outside rotation in one transaction: the old
    /// row is marked removed and replaced, and a new unverified row with the
    /// same name, addresses and releasability code holds the new key.
    fn repin_peer(&mut self, peer_id: i64, token: &str, at: u64) -> Result<PeerRow>;

    /// All channels.
    fn channels(&self) -> Result<Vec<ChannelRow>>;
    /// Entries of a channel with cursor above `after`, in commit order.
    fn entries_after(&self, channel: &Hash, after: u64, limit: usize) -> Result<Vec<EntryRow>>;
    /// Entries of one author of a channel from `from_seq` on, in seq order.
    fn chain_from(
        &self,
        channel: &Hash,
        author: u8,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EntryRow>>;
    /// One entry by hash. SQLite keeps no index on hashes (an entry's hash
    /// is random, and the index cost a page write per entry under load): it
    /// reads the whole table, and a station finds entries by hash through
    /// its books and [`Store::entry_at`] instead. PostgreSQL's is indexed,
    /// for a standby whose books do not follow its leader's writes.
    fn entry_by_hash(&self, hash: &Hash) -> Result<Option<EntryRow>>;
    /// One entry by position.
    fn entry_at(&self, channel: &Hash, author: u8, seq: u64) -> Result<Option<EntryRow>>;
    /// The latest checkpoint of a side.
    fn checkpoint(&self, channel: &Hash, signer: u8) -> Result<Option<Vec<u8>>>;

    /// A channel's newest start-up snapshot, not yet checked.
    fn book_snapshot(&self, channel: &Hash) -> Result<Option<SnapshotRow>>;

    /// An author's first `count` stored segments of a channel, in order.
    fn book_segments(&self, channel: &Hash, author: u8, count: u64) -> Result<Vec<Vec<u8>>>;

    /// Alerts, newest first; only open ones if `open_only`.
    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<AlertRow>>;

    /// Adds a user with a token hash.
    fn add_user(&mut self, name: &str, role: &str, token_hash: &Hash, at: u64) -> Result<UserRow> {
        self.add_user_until(name, role, token_hash, at, None)
    }
    /// Adds a user whose token stops working at `expires_at` (Unix ms), if given.
    fn add_user_until(
        &mut self,
        name: &str,
        role: &str,
        token_hash: &Hash,
        at: u64,
        expires_at: Option<u64>,
    ) -> Result<UserRow>;
    /// The unrevoked user holding this token hash.
    fn user_by_token(&self, token_hash: &Hash) -> Result<Option<UserRow>>;
    /// All users.
    fn users(&self) -> Result<Vec<UserRow>>;
    /// `(token hash, name, role, expires_at)` of every unrevoked user, to
    /// authenticate requests from memory.
    fn user_tokens(&self) -> Result<Vec<UserToken>>;
    /// A new token for an active user, same name and role; the old one is
    /// revoked in the same transaction.
    fn rotate_user(&mut self, name: &str, token_hash: &Hash, at: u64) -> Result<UserRow>;
    /// Revokes a user's token (refused for the last active admin).
    fn revoke_user(&mut self, name: &str, at: u64) -> Result<()>;
    /// The audit log from `after_id` on.
    fn audit(&self, after_id: i64, limit: usize) -> Result<Vec<AuditRow>>;
    /// Acknowledges an alert (open or cleared) by a person with a note;
    /// returns it. `NotFound` when there is no alert with that id.
    fn ack_alert(&mut self, id: i64, by: &str, note: &str, at: u64) -> Result<AlertRow>;
    /// Equivocation evidence, of one channel or of all, oldest first.
    fn evidence(&self, channel: Option<&Hash>) -> Result<Vec<EvidenceRow>>;
    /// The newest audit line.
    fn last_audit(&self) -> Result<Option<AuditRow>>;
    /// The audit log's signed head as last written, if any line was.
    fn audit_head(&self) -> Result<Option<SignedAuditHead>>;
    /// How many audit lines there are.
    fn audit_count(&self) -> Result<u64>;

    /// Which backend this is, for status and diagnostics.
    fn backend(&self) -> Backend;

    /// Takes, renews or reads the lease that makes one station process the
    /// leader of a shared database, in one transaction on the database's
    /// clock. `holder` names this process; if the lease is free or expired
    /// it is taken with the epoch one higher; if `holder` holds it, it is
    /// renewed for `ttl_ms` more; otherwise it is left as it is. Returns the
    /// lease as it stands after. A store only one process can open (SQLite)
    /// leads alone, always at epoch 0.
    fn lease_take(&mut self, holder: &str, api: &str, ttl_ms: u64) -> Result<Lease> {
        let _ = ttl_ms;
        Ok(Lease {
            holder: holder.to_owned(),
            api: api.to_owned(),
            epoch: 0,
            expires_in_ms: i64::MAX,
        })
    }
    /// Gives the lease up if `holder` holds it at `epoch` (a clean stop lets
    /// the standby take over at once).
    fn lease_release(&mut self, holder: &str, epoch: u64) -> Result<()> {
        let _ = (holder, epoch);
        Ok(())
    }
    /// The lease as it stands, read only.
    fn lease(&self) -> Result<Option<Lease>> {
        Ok(None)
    }
    /// From now on every write through this connection checks, in its own
    /// transaction, that `fence` still holds the lease unexpired, and is
    /// refused with [`StoreError::Fenced`] otherwise; `None` turns the check
    /// off (a store only one process can open needs none).
    fn set_fence(&mut self, fence: Option<Fence>) {
        let _ = fence;
    }
}

/// The storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the data directory.
    Sqlite,
    /// A PostgreSQL database, possibly shared by a leader and a standby.
    Postgres,
}

impl Backend {
    /// The name used in config, status and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Who leads a shared database, as the database last said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The process holding it.
    pub holder: String,
    /// The leader's API address, for a standby to point writers to.
    pub api: String,
    /// Grows by one on every takeover: the fencing token.
    pub epoch: u64,
    /// Milliseconds until it expires, on the database's clock (negative:
    /// expired that long ago).
    pub expires_in_ms: i64,
}

/// The lease a store's writes must find still held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// This process.
    pub holder: String,
    /// The epoch it took the lease at.
    pub epoch: u64,
}
