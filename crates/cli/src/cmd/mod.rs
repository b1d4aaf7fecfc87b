//! What each command does, one file per command group. Every command that
//! needs a station talks to it through [`Client`](crate::client::Client)
//! and the types of `hotline-api-types`.

pub mod alerts;
pub mod audit;
pub mod bundle;
pub mod channel;
pub mod entry;
pub mod keys;
pub mod peer;
pub mod share;
pub mod station;
pub mod transcript;
pub mod user;
pub mod witness;

use crate::client::Failure;
use anyhow::Context;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Prints a `--json` listing: pretty, as the API's fields are named.
pub fn print_json<T: Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Writes an export to a file or to standard output. The file is written
/// under a temporary name beside it and renamed into place, so that no one
/// sees half an export; tempfile creates it with mode 0600 whatever the
/// umask, as an export holds every message of the channel.
fn write_out(output: Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(p) => {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mut tmp = tempfile::Builder::new()
                .prefix(".hotline-export.")
                .tempfile_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            tmp.write_all(text.as_bytes())
                .and_then(|_| tmp.as_file().sync_all())
                .with_context(|| format!("cannot write {}", tmp.path().display()))?;
            tmp.persist(&p)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("wrote {}", p.display());
            Ok(())
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Replaces a file holding a secret: written 0600 under a temporary name
/// beside it, then renamed into place.
fn write_secret_file(p: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".hotline-token.")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(p)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", p.display()))?;
    Ok(())
}

/// Reads a file to verify; one that cannot be read fails the check (exit 1).
fn read_file(p: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(p)
        .map_err(|e| Failure::Check(format!("cannot read {}: {e}", p.display())).into())
}
