//! The station's audit log: lines chained to the newest one, and the head
//! over them signed again with every commit that adds lines (by the writer,
//! `db.rs`). The chain rule lives in the core, the signed head in proto, the
//! export form in `views`.

use crate::db::{Db, Pending};
use hotline_proto::{hex, AuditHead, Hash, Identity, SecretKeys, ZERO_HASH};
use hotline_store::{AuditRow, Store, WriteOp};
use std::sync::Mutex;

/// Who the lines the station writes on its own account name as the user.
pub const BY_STATION: &str = hotline_proto::entry::BY_STATION;

/// A new audit line chained to `prev`.
pub fn line(prev: Hash, at: u64, user: &str, action: &str, target: &str, result: &str) -> AuditRow {
    AuditRow {
        id: 0,
        at,
        user: user.into(),
        action: action.into(),
        target: target.into(),
        result: result.into(),
        prev,
        hash: hotline_core::audit::hash(&prev, at, user, action, target, result),
    }
}

/// The writes that append a line after `head` and replace the signed head
/// with the one over it, for a store written directly (`init`); a running
/// station appends through [`AuditLog::append`].
pub fn append_ops(
    keys: &SecretKeys,
    head: AuditHead,
    at: u64,
    user: &str,
    action: &str,
    target: &str,
    result: &str,
) -> Vec<WriteOp> {
    let line = line(head.hash, at, user, action, target, result);
    let next = AuditHead {
        count: head.count + 1,
        hash: line.hash,
    };
    vec![WriteOp::Audit(line), WriteOp::AuditHead(next.sign(keys))]
}

/// A line the station owes the log about the log itself, found at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Whether the lines and the head disagree (rather than the head missing,
    /// as in a log written before heads were signed).
    pub damaged: bool,
    /// What was found, as the line's action.
    pub action: &'static str,
    /// The particulars, as the line's result.
    pub result: String,
}

/// How an audit line is committed (docs/DECISIONS.md, "The audit log").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// In a commit of its own that waits for the disk.
    Flushed,
    /// In queue order, without waiting for the disk: a request's outcome
    /// line; the next flushed commit makes it durable.
    Unflushed,
    /// Held to ride in the transaction of the next batch queued, normally
    /// the change the request makes ([`Db::defer_audit`]): a request's
    /// attempt line.
    WithNext,
}

/// The head of the chain as this station last submitted it. Its lock is held
/// from building a line until the line is queued, so that the chain's order
/// is the writer's commit order.
pub struct AuditLog {
    /// Line count and newest hash, ahead of the disk by whatever is queued.
    head: Mutex<AuditHead>,
}

impl AuditLog {
    /// Reads the log's state from `store` and checks the signed head against
    /// the lines held. The chain goes on from the lines on disk; if the head
    /// is missing, does not verify under `me`, or does not match those lines,
    /// the returned [`Note`] says so, to be written as the next line: a log
    /// cut short or rolled back while the station was stopped is on record
    /// from then on, and the station never signs it silently.
    pub fn load<S: Store + ?Sized>(
        store: &S,
        mine: &[Identity],
    ) -> hotline_store::Result<(AuditLog, Option<Note>)> {
        // Signed by whichever of the station's keys was current then: a
        // rotation changes the key from the next line on.
        let ours = |s: &hotline_proto::SignedAuditHead| mine.iter().any(|me| s.verify(me).is_ok());
        let disk = AuditHead {
            count: store.audit_count()?,
            hash: store.last_audit()?.map_or(ZERO_HASH, |l| l.hash),
        };
        let signed = store.audit_head()?;
        let note = match signed {
            Some(s) if s.head() == disk && ours(&s) => None,
            Some(s) => {
                let h = s.head();
                let forged = if ours(&s) {
                    ""
                } else {
                    " (and its signature is not this station's)"
                };
                Some(Note {
                    damaged: true,
                    action: "audit log damaged",
                    result: format!(
                        "the signed head covers {} lines ending {}{forged}; the database holds {} lines ending {}",
                        h.count,
                        &hex(&h.hash)[..12],
                        disk.count,
                        &hex(&disk.hash)[..12],
                    ),
                })
            }
            None => Some(Note {
                damaged: false,
                action: "audit head missing",
                result: format!(
                    "no signed head was found; the {} lines before this one were not covered by one",
                    disk.count
                ),
            }),
        };
        Ok((
            AuditLog {
                head: Mutex::new(disk),
            },
            note,
        ))
    }

    /// Queues one line, with the head after it for the writer to sign, as
    /// `how` says; the returned commit is the caller's to wait for.
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &self,
        db: &Db,
        how: Commit,
        at: u64,
        user: &str,
        action: &str,
        target: &str,
        result: &str,
    ) -> Pending {
        let relaxed = match how {
            Commit::Flushed => Some(false),
            Commit::Unflushed => Some(true),
            Commit::WithNext => None,
        };
        self.queue(db, (at, user, action, target, result), relaxed)
    }

    /// `relaxed`: see [`Db::submit_relaxed`]; `None` defers the line.
    fn queue(&self, db: &Db, line_at: LineAt<'_>, relaxed: Option<bool>) -> Pending {
        let (at, user, action, target, result) = line_at;
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let line = line(head.hash, at, user, action, target, result);
        *head = AuditHead {
            count: head.count + 1,
            hash: line.hash,
        };
        match relaxed {
            Some(relaxed) => db.submit_audit(vec![WriteOp::Audit(line)], *head, relaxed),
            None => db.defer_audit(vec![WriteOp::Audit(line)], *head),
        }
    }
}

/// A line's fields before it is chained: time, user, action, target, result.
type LineAt<'a> = (u64, &'a str, &'a str, &'a str, &'a str);
