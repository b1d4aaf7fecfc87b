//! The database's files on disk: readable and writable by the station's user
//! only (mode 0600), whatever the umask of the process that opens them.

use crate::{Result, StoreError};
use std::path::{Path, PathBuf};

/// What SQLite appends to the database's path for the WAL and its index.
const SIDE_FILES: [&str; 2] = ["-wal", "-shm"];

/// The only mode the database's files may have.
#[cfg(unix)]
const PRIVATE: u32 = 0o600;

/// Creates the database file with mode 0600 if it does not exist yet.
/// SQLite gives the `-wal` and `-shm` files the database file's mode, so
/// none of them is ever readable by another user, not even briefly.
pub(crate) fn create_private(path: &Path) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(PRIVATE);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::File {
            action: "create",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Sets mode 0600 on the database and on whichever of its side files exist:
/// a database an older hotline created under a loose umask is made private
/// when it is next opened.
pub(crate) fn restrict(path: &Path) -> Result<()> {
    let mut all = vec![path.to_owned()];
    for suffix in SIDE_FILES {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        all.push(PathBuf::from(p));
    }
    for p in all {
        restrict_one(&p)?;
    }
    Ok(())
}

#[cfg(unix)]
fn restrict_one(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |source| StoreError::File {
        action: "make private (mode 0600)",
        path: path.to_owned(),
        source,
    };
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o777,
        // A side file exists only while a connection has the database open.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(e)),
    };
    if mode != PRIVATE {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE)).map_err(fail)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_one(_path: &Path) -> Result<()> {
    Ok(())
}
