//! The station's access to storage: one writer thread doing group commit,
//! and a small pool of reader connections.
//!
//! Group commit: the writer takes every batch waiting in its queue and commits
//! them in one transaction, so many concurrent messages share one fsync. Each
//! caller gets its own results back only after that commit returned, which is
//! what makes "durable before acknowledged" hold.

use crate::error::StationError;
use hotline_store::{SqliteStore, Store, WriteOp, WriteResult};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Most batches folded into one transaction: bounds the latency one fsync adds.
const MAX_GROUP: usize = 512;

type Reply = oneshot::Sender<Result<Vec<WriteResult>, StationError>>;
type Call = Box<dyn FnOnce(&mut SqliteStore) + Send>;

enum Job {
    Write(Vec<WriteOp>, Reply),
    Call(Call),
}

/// A handle to the writer thread and the reader pool.
#[derive(Clone)]
pub struct Db {
    tx: std_mpsc::Sender<Job>,
    readers: Arc<Vec<Mutex<SqliteStore>>>,
    next: Arc<std::sync::atomic::AtomicUsize>,
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
}

fn storage(e: hotline_store::StoreError) -> StationError {
    StationError::Storage(e.to_string())
}

impl Db {
    /// Opens the database: one writer, `readers` reader connections.
    pub fn open(path: &Path, readers: usize) -> Result<Db, StationError> {
        let writer = SqliteStore::open(path).map_err(storage)?;
        let pool = (0..readers.max(1))
            .map(|_| SqliteStore::open(path).map(Mutex::new).map_err(storage))
            .collect::<Result<Vec<_>, _>>()?;
        let (tx, rx) = std_mpsc::channel();
        let p: PathBuf = path.to_owned();
        std::thread::Builder::new()
            .name("hotline-writer".into())
            .spawn(move || writer_loop(writer, rx, p))
            .map_err(|e| StationError::Storage(e.to_string()))?;
        Ok(Db {
            tx,
            readers: Arc::new(pool),
            next: Arc::new(0.into()),
        })
    }

    /// Queues a batch; the order of submission is the order of commit.
    pub fn submit(&self, ops: Vec<WriteOp>) -> Pending {
        let (tx, rx) = oneshot::channel();
        if let Err(std_mpsc::SendError(Job::Write(_, reply))) = self.tx.send(Job::Write(ops, tx)) {
            let _ = reply.send(Err(StationError::Storage(
                "the storage writer stopped".into(),
            )));
        }
        Pending(rx)
    }

    /// Submits and waits.
    pub async fn write(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteResult>, StationError> {
        self.submit(ops).wait().await
    }

    /// Runs a closure on the writer connection (administrative writes), in queue order.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteStore) -> hotline_store::Result<T> + Send + 'static,
    ) -> Result<T, StationError> {
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
        f: impl FnOnce(&SqliteStore) -> hotline_store::Result<T> + Send + 'static,
    ) -> Result<T, StationError> {
        let readers = self.readers.clone();
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % readers.len();
        tokio::task::spawn_blocking(move || {
            let guard = readers[i].lock().unwrap_or_else(|p| p.into_inner());
            f(&guard)
        })
        .await
        .map_err(|e| StationError::Storage(e.to_string()))?
        .map_err(StationError::from)
    }

    /// Synchronous read, for start-up.
    pub fn read_now<T>(
        &self,
        f: impl FnOnce(&SqliteStore) -> hotline_store::Result<T>,
    ) -> Result<T, StationError> {
        let guard = self.readers[0].lock().unwrap_or_else(|p| p.into_inner());
        f(&guard).map_err(StationError::from)
    }
}

fn writer_loop(mut store: SqliteStore, rx: std_mpsc::Receiver<Job>, path: PathBuf) {
    // Deliberately broken variants, in test builds only (`variants.rs`).
    let variants = crate::variants::Variants::from_env();
    if variants.no_sync {
        let _ = store.set_unsafe_no_sync();
    }
    let delay = variants.commit_delay;
    // After a failed commit, in-memory state above us may hold entries that are
    // not on disk; writing anything after them could leave a hole in a chain.
    // So one failure stops all writes until the station restarts from disk.
    let mut poisoned = false;
    while let Ok(first) = rx.recv() {
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        let mut writes: Vec<(Vec<WriteOp>, Reply)> = Vec::new();
        let mut pending_call = None;
        match first {
            Job::Write(ops, reply) => writes.push((ops, reply)),
            Job::Call(c) => pending_call = Some(c),
        }
        // Gather what else is waiting, up to a call (which must run in its queue position).
        while pending_call.is_none() && writes.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Job::Write(ops, reply)) => writes.push((ops, reply)),
                Ok(Job::Call(c)) => pending_call = Some(c),
                Err(_) => break,
            }
        }
        if !writes.is_empty() {
            if poisoned {
                for (_, reply) in writes {
                    let _ = reply.send(Err(StationError::Storage(
                        "an earlier commit failed; nothing more is written until the station restarts from disk".into(),
                    )));
                }
            } else {
                poisoned = !commit_group(&mut store, writes, &path);
            }
        }
        if let Some(c) = pending_call {
            c(&mut store);
        }
    }
}

/// Commits a group; false if anything failed.
fn commit_group(store: &mut SqliteStore, writes: Vec<(Vec<WriteOp>, Reply)>, path: &Path) -> bool {
    let all: Vec<WriteOp> = writes
        .iter()
        .flat_map(|(ops, _)| ops.iter().cloned())
        .collect();
    match store.write(&all) {
        Ok(mut results) => {
            for (ops, reply) in writes {
                let rest = results.split_off(ops.len());
                let _ = reply.send(Ok(std::mem::replace(&mut results, rest)));
            }
            true
        }
        Err(e) if writes.len() > 1 => {
            // Find the faulty batch: commit each alone so one bad batch fails alone.
            tracing::warn!("group commit failed ({e}); retrying batches one by one");
            let mut ok = true;
            for (ops, reply) in writes {
                // Once one fails, the rest are refused too (see `poisoned`).
                let r = if ok {
                    store
                        .write(&ops)
                        .map_err(|e| StationError::Storage(e.to_string()))
                } else {
                    Err(StationError::Storage(
                        "an earlier commit in this group failed".into(),
                    ))
                };
                ok &= r.is_ok();
                let _ = reply.send(r);
            }
            ok
        }
        Err(e) => {
            tracing::error!("commit to {} failed: {e}", path.display());
            for (_, reply) in writes {
                let _ = reply.send(Err(StationError::Storage(e.to_string())));
            }
            false
        }
    }
}
