//! Building audit-log lines; the chain rule lives in the core, the export
//! form in `views`.

use hotline_proto::Hash;
use hotline_store::AuditRow;

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
