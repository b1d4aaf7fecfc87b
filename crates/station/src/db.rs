//! The station's access to storage: one writer thread doing group commit,
//! and a small pool of reader connections.
//!
//! Group commit: the writer takes every batch waiting in its queue and commits
//! them in one transaction, so many concurrent messages share one fsync. Each
//! caller gets its own results back only after that commit returned, which is
//! what makes "durable before acknowledged" hold.

use crate::error::StationError;
use crate::ha::Ticket;
use hotline_proto::{AuditHead, SecretKeys};
use hotline_store::{Backend, SqliteStore, Store, WriteOp, WriteResult};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub use hotline_store::Schema;

/// Where the schema of the database at `path` stands against this build,
/// read without opening it for writing or migrating it (`hotline doctor`).
pub fn schema(path: &Path) -> Result<Schema, StationError> {
    Ok(hotline_store::schema_of(path)?)
}

/// [`schema`] of the store `spec` names, whichever backend.
pub fn schema_of_spec(spec: &StoreSpec) -> Result<Schema, StationError> {
    match spec {
        StoreSpec::Sqlite(p) => schema(p),
        StoreSpec::Postgres(url) => {
            let url = url.clone();
            off_runtime(move || hotline_store::pg_schema_of(&url)).map_err(StationError::from)
        }
    }
}

/// Most batches folded into one transaction: bounds the latency one fsync adds.
const MAX_GROUP: usize = 512;
/// Most writes riding ([`Db::ride`]) before they go as a batch of their own:
/// bounds what one commit carries besides its own writes.
const MAX_RIDING: usize = 16;
/// How long a riding write waits for a batch to carry it.
const RIDE_WITHIN: std::time::Duration = std::time::Duration::from_millis(5);

type Outcome = Result<Vec<WriteResult>, StationError>;

/// Where a batch's results go once committed: to its submitter, without the
/// results of the deferred audit lines it carried in front of its own
/// writes, and to whoever waits for those lines.
struct Reply {
    to: oneshot::Sender<Outcome>,
    /// Writes carried in front of the batch's own ([`Db::defer_audit`]).
    carried: usize,
    /// Whoever waits for the carried lines.
    riders: Vec<oneshot::Sender<Outcome>>,
}

impl Reply {
    fn send(self, r: Outcome) -> Result<(), Outcome> {
        for w in self.riders {
            let _ = w.send(r.clone().map(|_| Vec::new()));
        }
        let carried = self.carried;
        self.to
            .send(r.map(|mut v| v.split_off(carried.min(v.len()))))
    }
}

/// Audit lines waiting to ride in front of the next batch queued
/// ([`Db::defer_audit`]), in the log's order, with the head after them.
#[derive(Default)]
struct Deferred {
    ops: Vec<WriteOp>,
    head: Option<AuditHead>,
    audit_riders: Vec<oneshot::Sender<Outcome>>,
    /// A flush of these lines is already due ([`Db::flush_deferred_within`]).
    flush_due: bool,
    /// Relaxed writes waiting to ride in front of the next batch queued,
    /// whichever ([`Db::ride`]), and whoever waits for each.
    riding: Vec<WriteOp>,
    riding_riders: Vec<oneshot::Sender<Outcome>>,
    /// A flush of the riding writes is already due.
    ride_due: bool,
}
type Call = Box<dyn FnOnce(&mut dyn Store) + Send>;

/// One connection to the station's storage, whichever backend.
pub type Conn = Box<dyn Store>;

/// Where a station keeps its data: the SQLite file in its data directory
/// (the default) or a PostgreSQL database named by URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `DATA/hotline.db`.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL (libpq multi-host form included).
    Postgres(String),
}

impl StoreSpec {
    /// Reads a `store` setting: `sqlite` (or nothing) is the file in the data
    /// directory, a `postgres://` URL a PostgreSQL database.
    pub fn parse(setting: Option<&str>, sqlite_file: PathBuf) -> Result<StoreSpec, StationError> {
        match setting.map(str::trim) {
            None | Some("") | Some("sqlite") => Ok(StoreSpec::Sqlite(sqlite_file)),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(StoreSpec::Postgres(u.to_owned()))
            }
            Some(_) => Err(StationError::Setup(
                "store must be `sqlite` or a postgres:// URL (e.g. postgresql://db1,db2/hotline?target_session_attrs=read-write)".into(),
            )),
        }
    }

    /// The backend it names.
    pub fn backend(&self) -> Backend {
        match self {
            StoreSpec::Sqlite(_) => Backend::Sqlite,
            StoreSpec::Postgres(_) => Backend::Postgres,
        }
    }

    /// Opens one connection.
    pub fn open(&self) -> Result<Conn, StationError> {
        match self {
            StoreSpec::Sqlite(p) => Ok(Box::new(SqliteStore::open(p).map_err(storage)?)),
            StoreSpec::Postgres(url) => Ok(Box::new(
                hotline_store::PgStore::connect(url).map_err(storage)?,
            )),
        }
    }

    /// Where it is, for messages: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreSpec::Sqlite(p) => p.display().to_string(),
            StoreSpec::Postgres(url) => redact(url),
        }
    }
}

/// A URL with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.split_once('@') {
        Some((a, h)) if !a.contains('/') => (a, h),
        _ => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// A queued batch of writes.
struct Batch {
    /// The writes, committed together.
    ops: Vec<WriteOp>,
    /// For a batch that appends audit lines, the log's head after them: the
    /// writer signs the newest head of each transaction once and commits it
    /// in that transaction, so every commit leaves a signed head over all
    /// lines, at one signature per commit rather than one per line.
    audit_head: Option<AuditHead>,
    /// Whether it may be committed without waiting for the disk
    /// ([`hotline_core::machine::Step::relaxed`]); a group is, only if every
    /// batch in it is.
    relaxed: bool,
    /// Where the results go once committed.
    reply: Reply,
}

enum Job {
    Write(Batch),
    Call(Call),
    /// The key that signs audit heads from now on.
    Signer(Arc<SecretKeys>),
}

/// A handle to the writer thread and the reader pool.
#[derive(Clone)]
pub struct Db {
    tx: std_mpsc::Sender<Job>,
    deferred: Arc<Mutex<Deferred>>,
    readers: Arc<Readers>,
    backend: Backend,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

/// The reader connections. A blocking database client may neither be
/// opened nor dropped on an async runtime's thread (PostgreSQL's runs a
/// runtime of its own), so they are dropped on a thread of their own.
struct Readers(Vec<Mutex<Conn>>);

impl Drop for Readers {
    fn drop(&mut self) {
        let conns = std::mem::take(&mut self.0);
        if conns.is_empty() {
            return;
        }
        let _ = std::thread::Builder::new()
            .name("hotline-close".into())
            .spawn(move || drop(conns));
    }
}

/// Runs `f` on a thread of its own and waits: for blocking store calls made
/// where an async runtime may be running (start-up, `init`).
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The pending result of a submitted write.
pub struct Pending(oneshot::Receiver<Result<Vec<WriteResult>, StationError>>);

impl Pending {
    /// Waits for the commit.
    pub async fn wait(self) -> Result<Vec<WriteResult>, StationError> {
        self.0
            .await
            .unwrap_or_else(|_| Err(StationError::Storage("the storage writer stopped".into())))
    }

    /// The outcome if the commit has returned, without waiting.
    pub fn ready(&mut self) -> Option<Result<Vec<WriteResult>, StationError>> {
        use oneshot::error::TryRecvError;
        match self.0.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Closed) => Some(Err(StationError::Storage(
                "the storage writer stopped".into(),
            ))),
        }
    }
}

fn storage(e: hotline_store::StoreError) -> StationError {
    StationError::Storage(e.to_string())
}

impl Db {
    /// Opens the SQLite database at `path`: one writer, `readers` reader connections.
    pub fn open(path: &Path, readers: usize) -> Result<Db, StationError> {
        Db::open_spec(&StoreSpec::Sqlite(path.to_owned()), readers, None)
    }

    /// Opens the store `spec` names: one writer, `readers` reader
    /// connections. With a `ticket`, every write is refused unless this
    /// process still leads on the shared database: checked here before each
    /// commit, and by the database inside it (see [`crate::ha`]).
    pub fn open_spec(
        spec: &StoreSpec,
        readers: usize,
        ticket: Option<Ticket>,
    ) -> Result<Db, StationError> {
        off_runtime(|| Db::open_here(spec, readers, ticket))
    }

    fn open_here(
        spec: &StoreSpec,
        readers: usize,
        ticket: Option<Ticket>,
    ) -> Result<Db, StationError> {
        let mut writer = match spec {
            // Deliberately broken variants, in test builds only (`variants.rs`).
            StoreSpec::Sqlite(p) if crate::variants::Variants::from_env().no_sync => {
                let mut s = SqliteStore::open(p).map_err(storage)?;
                let _ = s.set_unsafe_no_sync();
                Box::new(s)
            }
            _ => spec.open()?,
        };
        writer.set_fence(ticket.as_ref().map(|t| t.fence.clone()));
        let pool = (0..readers.max(1))
            .map(|_| spec.open().map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let (tx, rx) = std_mpsc::channel();
        let where_ = spec.describe();
        std::thread::Builder::new()
            .name("hotline-writer".into())
            .spawn(move || writer_loop(writer, rx, where_, ticket))
            .map_err(|e| StationError::Storage(e.to_string()))?;
        Ok(Db {
            tx,
            deferred: Default::default(),
            readers: Arc::new(Readers(pool)),
            backend: spec.backend(),
            next: Arc::new(0.into()),
        })
    }

    /// Which backend this station stores in.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Queues a batch; the order of submission is the order of commit.
    /// Audit lines held ([`Db::defer_audit`]) go in front of it.
    pub fn submit(&self, ops: Vec<WriteOp>) -> Pending {
        self.queue(ops, None, false, true)
    }

    /// Queues a batch that may be committed without waiting for the disk
    /// (see [`hotline_store::Store::write_relaxed`]): it is durable once a
    /// later commit that waits is. Such a batch records what a peer signed
    /// (its checkpoint), no local user's change, so it takes
    /// no held audit lines: they wait for the next change, and their head
    /// is signed once there rather than in each commit (at one message in
    /// flight the peer's checkpoint came between every two messages).
    pub fn submit_relaxed(&self, ops: Vec<WriteOp>) -> Pending {
        self.queue(ops, None, true, false)
    }

    /// Queues a batch that appends audit lines, with the log's head after
    /// them; the writer signs it (see [`Db::sign_audit_heads`]) and commits it
    /// in the same transaction.
    /// `relaxed`: see [`Db::submit_relaxed`].
    pub fn submit_audit(&self, ops: Vec<WriteOp>, head: AuditHead, relaxed: bool) -> Pending {
        self.queue(ops, Some(head), relaxed, true)
    }

    /// `carry`: the held audit lines go in front of `ops`.
    fn queue(
        &self,
        ops: Vec<WriteOp>,
        audit_head: Option<AuditHead>,
        relaxed: bool,
        carry: bool,
    ) -> Pending {
        let (tx, rx) = oneshot::channel();
        // Held until the batch is in the writer's queue: the deferred lines
        // go in the order they were taken.
        let mut d = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        // Riding writes go with any batch; held audit lines only with one that carries them.
        let mut all = std::mem::take(&mut d.riding);
        let mut riders = std::mem::take(&mut d.riding_riders);
        let deferred_head = if carry {
            all.append(&mut d.ops);
            riders.append(&mut d.audit_riders);
            d.head.take()
        } else {
            None
        };
        let carried = all.len();
        all.extend(ops);
        let batch = Batch {
            ops: all,
            // A batch's own lines come after the deferred ones in the log.
            audit_head: audit_head.or(deferred_head),
            relaxed,
            reply: Reply {
                to: tx,
                carried,
                riders,
            },
        };
        if let Err(std_mpsc::SendError(Job::Write(b))) = self.tx.send(Job::Write(batch)) {
            let _ = b.reply.send(Err(StationError::Storage(
                "the storage writer stopped".into(),
            )));
        }
        drop(d);
        Pending(rx)
    }

    /// Holds audit lines (and the head after them) to ride in front of the
    /// next batch anyone queues, in its transaction; the returned commit
    /// resolves with that batch's. So a request's attempt line costs no
    /// commit of its own: it goes in with the change the request makes
    /// (docs/DECISIONS.md, "The audit log"). Whoever defers a line must see
    /// that something is queued after it ([`Db::flush_deferred`]).
    pub fn defer_audit(&self, ops: Vec<WriteOp>, head: AuditHead) -> Pending {
        let (tx, rx) = oneshot::channel();
        let mut d = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        d.ops.extend(ops);
        d.head = Some(head);
        d.audit_riders.push(tx);
        Pending(rx)
    }

    /// Queues the deferred audit lines alone, if any wait, and returns their
    /// commit to wait on: a reader of the log sees every line of the
    /// requests answered before it.
    pub fn flush_deferred(&self) -> Option<Pending> {
        self.flush(false)
    }

    fn flush(&self, relaxed: bool) -> Option<Pending> {
        let waiting = {
            let d = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
            !d.ops.is_empty() || !d.riding.is_empty()
        };
        waiting.then(|| self.queue(Vec::new(), None, relaxed, true))
    }

    /// Holds relaxed writes (see [`Db::submit_relaxed`]) to ride in front
    /// of the next batch anyone queues, in its transaction, rather than
    /// make a commit of their own; the returned commit resolves with that
    /// batch's, and with no results of its own. What rides goes as a
    /// batch of its own once [`MAX_RIDING`] wait, or [`RIDE_WITHIN`] after
    /// the first, if no batch took it first. For what a peer sent that
    /// comes one at a time and wants no answer from the disk (its
    /// checkpoints, its log notes and our own): each cost a transaction of
    /// its own, and the writer a wake. Riding writes are committed in the
    /// order they were given, before any batch queued after them. Call on
    /// the runtime.
    pub fn ride(&self, ops: Vec<WriteOp>) -> Pending {
        let (tx, rx) = oneshot::channel();
        let (full, first) = {
            let mut d = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
            d.riding.extend(ops);
            d.riding_riders.push(tx);
            let first = !std::mem::replace(&mut d.ride_due, true);
            (d.riding_riders.len() >= MAX_RIDING, first)
        };
        if full {
            self.queue(Vec::new(), None, true, false);
        } else if first {
            let db = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RIDE_WITHIN).await;
                let waiting = {
                    let mut d = db.deferred.lock().unwrap_or_else(|p| p.into_inner());
                    d.ride_due = false;
                    !d.riding.is_empty()
                };
                if waiting {
                    db.queue(Vec::new(), None, true, false);
                }
            });
        }
        Pending(rx)
    }

    /// Sees that the deferred lines are queued within `after` if no batch
    /// takes them first: for a line nobody waits on (a successful change's
    /// outcome), which then usually rides with the next request's change.
    /// Queued without its own flush, as the outcome line always was. At
    /// most one such flush is due at a time. Call on the runtime.
    pub fn flush_deferred_within(&self, after: std::time::Duration) {
        {
            let mut d = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
            if d.flush_due {
                return;
            }
            d.flush_due = true;
        }
        let db = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            db.deferred
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .flush_due = false;
            db.flush(true);
        });
    }

    /// Hands the writer the station's key for audit heads; it applies to
    /// every batch queued after this call (a batch of audit lines before it
    /// fails, as no head could be signed).
    pub fn sign_audit_heads(&self, keys: Arc<SecretKeys>) {
        let _ = self.tx.send(Job::Signer(keys));
    }

    /// Submits and waits.
    pub async fn write(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteResult>, StationError> {
        self.submit(ops).wait().await
    }

    /// Runs a closure on the writer connection (administrative writes), in queue order.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> hotline_store::Result<T> + Send + 'static,
    ) -> Result<T, StationError> {
        // A call writes outside any batch: the lines deferred so far go first.
        self.flush_deferred();
        let (tx, rx) = oneshot::channel();
        let job = Job::Call(Box::new(move |s| {
            let _ = tx.send(f(s));
        }));
        self.tx
            .send(job)
            .map_err(|_| StationError::Storage("the storage writer stopped".into()))?;
        rx.await
            .map_err(|_| StationError::Storage("the storage writer stopped".into()))?
            .map_err(StationError::from)
    }

    /// Runs a read on a pooled reader connection, off the async threads.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> hotline_store::Result<T> + Send + 'static,
    ) -> Result<T, StationError> {
        let readers = self.readers.clone();
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % readers.0.len();
        tokio::task::spawn_blocking(move || {
            let guard = readers.0[i].lock().unwrap_or_else(|p| p.into_inner());
            f(&**guard)
        })
        .await
        .map_err(|e| StationError::Storage(e.to_string()))?
        .map_err(StationError::from)
    }

    /// Synchronous read, for start-up. It runs on a thread of its own: a
    /// blocking database client must not run on an async runtime's thread.
    pub fn read_now<T: Send>(
        &self,
        f: impl FnOnce(&dyn Store) -> hotline_store::Result<T> + Send,
    ) -> Result<T, StationError> {
        let reader = &self.readers.0[0];
        off_runtime(|| {
            let guard = reader.lock().unwrap_or_else(|p| p.into_inner());
            f(&**guard)
        })
        .map_err(StationError::from)
    }
}

fn writer_loop(mut store: Conn, rx: std_mpsc::Receiver<Job>, path: String, ticket: Option<Ticket>) {
    let variants = crate::variants::Variants::from_env();
    let delay = variants.commit_delay;
    // After a failed commit, in-memory state above us may hold entries that are
    // not on disk; writing anything after them could leave a hole in a chain.
    // So one failure stops all writes, calls included, until the station
    // restarts from disk.
    let mut poisoned = false;
    let mut signer: Option<Arc<SecretKeys>> = None;
    while let Ok(first) = rx.recv() {
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        let mut writes: Vec<Batch> = Vec::new();
        let mut pending_call = None;
        let mut next_signer = None;
        match first {
            Job::Write(b) => writes.push(b),
            Job::Call(c) => pending_call = Some(c),
            Job::Signer(k) => next_signer = Some(k),
        }
        // Gather what else is waiting, up to a call or a key (which must take
        // effect in their queue position).
        while pending_call.is_none() && next_signer.is_none() && writes.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Job::Write(b)) => writes.push(b),
                Ok(Job::Call(c)) => pending_call = Some(c),
                Ok(Job::Signer(k)) => next_signer = Some(k),
                Err(_) => break,
            }
        }
        // A process that no longer leads its shared database writes nothing
        // more, calls included, until it restarts as the standby.
        let fenced = ticket.as_ref().filter(|t| !t.valid()).map(Ticket::why_not);
        if let Some(why) = &fenced {
            if !poisoned {
                tracing::warn!("writes stopped: this station process no longer leads ({why})");
            }
            poisoned = true;
        }
        if !writes.is_empty() {
            if let Some(why) = &fenced {
                for b in writes {
                    let _ = b.reply.send(Err(StationError::Storage(format!(
                        "this station process is not the leader: {why}"
                    ))));
                }
            } else if poisoned {
                for b in writes {
                    let _ = b.reply.send(Err(StationError::Storage(
                        "an earlier commit failed; nothing more is written until the station restarts from disk".into(),
                    )));
                }
            } else {
                poisoned = !commit_group(
                    &mut *store,
                    writes,
                    &path,
                    signer.as_deref(),
                    ticket.as_ref(),
                );
            }
        }
        if let Some(k) = next_signer {
            signer = Some(k);
        }
        if let Some(c) = pending_call {
            // Administrative writes too: a call queued after a failed commit
            // is dropped, which tells its caller that the writer stopped. So
            // whatever was queued before a change (its audit line) is durable
            // no later than the change.
            if poisoned {
                drop(c);
            } else {
                c(&mut *store);
            }
        }
    }
}

/// The signed head that ends a transaction holding audit lines, `head` being
/// the newest of its batches'.
fn seal(head: AuditHead, signer: Option<&SecretKeys>) -> Result<WriteOp, StationError> {
    signer
        .map(|k| WriteOp::AuditHead(head.sign(k)))
        .ok_or_else(|| StationError::Storage("no key to sign the audit log's head with".into()))
}

/// Commits a group; false if anything failed.
fn commit_group(
    store: &mut dyn Store,
    writes: Vec<Batch>,
    path: &str,
    signer: Option<&SecretKeys>,
    ticket: Option<&Ticket>,
) -> bool {
    // The batches' writes move into one list, not copied: a group that
    // fails gets them back for the retry one batch at a time.
    let mut writes = writes;
    let lens: Vec<usize> = writes.iter().map(|b| b.ops.len()).collect();
    let total = lens.iter().sum::<usize>();
    let mut all: Vec<WriteOp> = Vec::with_capacity(total + 1);
    for b in &mut writes {
        all.append(&mut b.ops);
    }
    let sealed = writes
        .iter()
        .rev()
        .find_map(|b| b.audit_head)
        .map(|h| seal(h, signer))
        .transpose();
    let relaxed = writes.iter().all(|b| b.relaxed);
    let committed = sealed.and_then(|head| {
        all.extend(head);
        if relaxed {
            store.write_relaxed(&all)
        } else {
            store.write(&all)
        }
        .map_err(|e| StationError::Storage(e.to_string()))
    });
    match committed {
        // A commit that returns after this process stopped leading (the
        // database stalled under it) is durable, but it is not reported as
        // such: a leader acknowledges nothing once its lease may have
        // passed to another. Its writers learn the outcome is unknown, as
        // after a crash; the new leader holds and carries what committed.
        Ok(_) if ticket.is_some_and(|t| !t.valid()) => {
            let why = ticket.map(Ticket::why_not).unwrap_or_default();
            tracing::warn!("a commit returned after this station process stopped leading ({why}); not acknowledged");
            for b in writes {
                let _ = b.reply.send(Err(StationError::Storage(format!(
                    "this station process stopped leading during the commit: {why}"
                ))));
            }
            false
        }
        Ok(mut results) => {
            for (b, n) in writes.into_iter().zip(lens) {
                let rest = results.split_off(n);
                let _ = b.reply.send(Ok(std::mem::replace(&mut results, rest)));
            }
            true
        }
        Err(e) if writes.len() > 1 => {
            // Find the faulty batch: commit each alone so one bad batch fails alone.
            tracing::warn!("group commit failed ({e}); retrying batches one by one");
            all.truncate(total);
            let mut back = all.into_iter();
            for (b, n) in writes.iter_mut().zip(lens) {
                b.ops = back.by_ref().take(n).collect();
            }
            let mut ok = true;
            for b in writes {
                // Once one fails, the rest are refused too (see `poisoned`).
                let r = if ok {
                    alone(store, &b, signer)
                } else {
                    Err(StationError::Storage(
                        "an earlier commit in this group failed".into(),
                    ))
                };
                ok &= r.is_ok();
                let _ = b.reply.send(r);
            }
            ok
        }
        Err(e) => {
            tracing::error!("commit to {path} failed: {e}");
            for b in writes {
                let _ = b.reply.send(Err(e.clone()));
            }
            false
        }
    }
}

/// Commits one batch in a transaction of its own, sealed with its own head if it has one.
fn alone(
    store: &mut dyn Store,
    b: &Batch,
    signer: Option<&SecretKeys>,
) -> Result<Vec<WriteResult>, StationError> {
    let mut ops = b.ops.clone();
    if let Some(h) = b.audit_head {
        ops.push(seal(h, signer)?);
    }
    let mut results = store
        .write(&ops)
        .map_err(|e| StationError::Storage(e.to_string()))?;
    results.truncate(b.ops.len());
    Ok(results)
}

#[cfg(test)]
mod tests;
