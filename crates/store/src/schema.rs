//! Where a database file's schema stands against this build, read without
//! changing anything: for `hotline doctor`, which must not migrate.

use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The schema version this build writes: the number of its migrations.
pub fn schema_version() -> i64 {
    crate::sqlite::MIGRATIONS.len() as i64
}

/// A database's schema version against this build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// The version this build writes.
    Current(i64),
    /// Older: opening it for serving applies the missing migrations.
    Older {
        /// Version on disk.
        found: i64,
        /// This build's.
        known: i64,
    },
    /// Written by a newer hotline: this build refuses to open it.
    Newer {
        /// Version on disk.
        found: i64,
        /// This build's.
        known: i64,
    },
}

/// Reads the schema version of the database at `path`, read-only: no
/// migration, no journal change, no file created.
pub fn schema_of(path: &Path) -> Result<Schema> {
    if !path.exists() {
        return Err(StoreError::NotFound("the database file"));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = schema_version();
    Ok(match found.cmp(&known) {
        std::cmp::Ordering::Equal => Schema::Current(found),
        std::cmp::Ordering::Less => Schema::Older { found, known },
        std::cmp::Ordering::Greater => Schema::Newer { found, known },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_without_migrating() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("hotline.db");
        assert!(schema_of(&p).is_err());
        assert!(!p.exists(), "reading creates no file");
        drop(crate::SqliteStore::open(&p).unwrap());
        let known = schema_version();
        assert_eq!(schema_of(&p).unwrap(), Schema::Current(known));
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", known - 1).unwrap();
        assert_eq!(
            schema_of(&p).unwrap(),
            Schema::Older {
                found: known - 1,
                known
            }
        );
        // Still older: reading did not migrate it.
        assert_eq!(
            schema_of(&p).unwrap(),
            Schema::Older {
                found: known - 1,
                known
            }
        );
        c.pragma_update(None, "user_version", known + 1).unwrap();
        assert_eq!(
            schema_of(&p).unwrap(),
            Schema::Newer {
                found: known + 1,
                known
            }
        );
    }
}
