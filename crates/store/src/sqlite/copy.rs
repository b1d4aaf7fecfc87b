//! Copies of a SQLite database read beside a running station: a backup's
//! copy, the copy kept before an upgrade, and counting what a copy holds.

use super::SqliteStore;
use crate::{Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

impl SqliteStore {
    /// A consistent copy of the database at `src` written to `dest` (which
    /// must not exist), while a station may be writing to it: `VACUUM INTO`
    /// reads in one transaction, and in WAL mode that blocks no writer.
    /// Nothing is migrated; returns the copy's schema version.
    pub fn snapshot(src: &Path, dest: &Path) -> Result<i64> {
        if !src.exists() {
            return Err(StoreError::NotFound("database"));
        }
        let conn = Connection::open_with_flags(
            src,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        // Created empty and private first: `VACUUM INTO` fills an empty file,
        // and the copy holds every message of the line.
        crate::files::create_private(dest)?;
        let dest_s = dest
            .to_str()
            .ok_or(StoreError::Refused("a backup path that is not UTF-8"))?;
        conn.execute("VACUUM INTO ?1", [dest_s])?;
        crate::files::restrict(dest)?;
        Ok(version)
    }

    /// How many channels and entries a database file holds, read without
    /// migrating or writing anything (a backup's copy, say).
    pub fn count(path: &Path) -> Result<(u64, u64)> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let n = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok((
            n("SELECT count(*) FROM channels")? as u64,
            n("SELECT count(*) FROM entries")? as u64,
        ))
    }

    /// Before an older schema is migrated, a copy of the database as it was
    /// is kept beside it (`hotline.db.v6.bak`, say): an upgrade that goes
    /// wrong, or a release rolled back, still has the data it started from.
    /// A newer schema is refused before anything is touched.
    pub(super) fn backup_before_upgrade(path: &Path) -> Result<()> {
        if !std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Ok(());
        }
        let found = match crate::schema_of(path)? {
            crate::Schema::Newer { found, known } => {
                return Err(StoreError::TooNew { found, known })
            }
            crate::Schema::Older { found, .. } if found > 0 => found,
            _ => return Ok(()),
        };
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".v{found}.bak"));
        let dest = std::path::PathBuf::from(name);
        if dest.exists() {
            // An upgrade that failed before: its copy is the older one, keep it.
            return Ok(());
        }
        Self::snapshot(path, &dest)?;
        Ok(())
    }
}
