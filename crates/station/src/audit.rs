//! Building and showing audit-log lines; the chain rule lives in the core.

use hotline_proto::{hex, Hash};
use hotline_store::AuditRow;
use serde_json::{json, Value};

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

/// The export form of a line.
pub fn to_json(a: &AuditRow) -> Value {
    json!({"id": a.id, "at": a.at, "user": a.user, "action": a.action, "target": a.target,
           "result": a.result, "prev": hex(&a.prev), "hash": hex(&a.hash)})
}
