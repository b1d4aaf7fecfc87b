//! Backup and restore of a data directory (`hotline backup`, `hotline
//! restore`).
//!
//! A backup is a plain tar archive, mode 0600 (it holds every message of the
//! line): `MANIFEST.json`, a consistent copy of `hotline.db` taken while the
//! station runs (`VACUUM INTO`), `config.toml`, and, only when asked for,
//! `identity.key` and `admin.token`.
//!
//! A restored station marks every channel restored: it writes nothing on a
//! channel until the peer's station has said what it holds of this
//! station's own chain and sent back whatever the backup missed, so no
//! sequence number is ever written twice (`hotline_core::machine::Recovery`).

use crate::config::{write_secret, DataDir};
use crate::engine::now_ms;
use crate::error::StationError;
use hotline_store::{SqliteStore, Store};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The manifest's format version.
const FORMAT: u32 = 1;
/// The files a backup may hold, and nothing else is taken from one.
const MEMBERS: [&str; 5] = [
    "MANIFEST.json",
    "hotline.db",
    "config.toml",
    "identity.key",
    "admin.token",
];
/// The largest manifest, config, key or token read from a backup.
const SMALL: u64 = 1 << 20;

/// What a backup says about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Format version ([`FORMAT`]).
    pub hotline_backup: u32,
    /// The station's name.
    pub station: String,
    /// The station's identity token: a key restored with it must match.
    pub identity: String,
    /// Schema version of the database copy.
    pub schema: i64,
    /// When it was taken (Unix ms).
    pub created_at: u64,
    /// Whether the secret key and admin token are inside.
    pub includes_keys: bool,
    /// Channels and entries in the copy, to tell backups apart.
    pub channels: u64,
    /// Entries in the copy.
    pub entries: u64,
}

/// Takes a consistent backup of the station in `data` into `out` (which
/// must not exist), while the station may be running.
pub fn backup(data: &Path, out: &Path, include_keys: bool) -> Result<Manifest, StationError> {
    let d = DataDir(data.to_owned());
    let config = d.load_config()?;
    if let crate::db::StoreSpec::Postgres(_) = config.store_spec(&d)? {
        return Err(StationError::Setup(
            "this station keeps its data in PostgreSQL: back it up with pg_dump or the cluster's own backups (docs/OPERATIONS.md); `hotline backup` copies a SQLite station"
                .into(),
        ));
    }
    let keys = d.load_keys()?;
    if out.exists() {
        return Err(StationError::Setup(format!(
            "{} exists; a backup never overwrites a file",
            out.display()
        )));
    }
    let partial = sibling(out, ".partial")?;
    let db_copy = sibling(out, ".db-copy")?;
    let result = (|| {
        let schema = SqliteStore::snapshot(&d.db(), &db_copy)
            .map_err(|e| StationError::Setup(format!("cannot copy {}: {e}", d.db().display())))?;
        let (channels, entries) = SqliteStore::count(&db_copy)?;
        let manifest = Manifest {
            hotline_backup: FORMAT,
            station: config.name.clone(),
            identity: keys.identity().token(),
            schema,
            created_at: now_ms(),
            includes_keys: include_keys,
            channels,
            entries,
        };
        let file = create_private(&partial)?;
        let mut tar = tar::Builder::new(file);
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
        append(&mut tar, "MANIFEST.json", &json)?;
        let mut db = std::fs::File::open(&db_copy).map_err(io(&db_copy))?;
        let len = db.metadata().map_err(io(&db_copy))?.len();
        let mut h = header(len);
        tar.append_data(&mut h, "hotline.db", &mut db)
            .map_err(io(&partial))?;
        let cfg = std::fs::read(d.config()).map_err(io(&d.config()))?;
        append(&mut tar, "config.toml", &cfg)?;
        if include_keys {
            let key = Zeroizing::new(std::fs::read(d.keys()).map_err(io(&d.keys()))?);
            append(&mut tar, "identity.key", &key)?;
            if let Ok(t) = std::fs::read(d.admin_token()) {
                append(&mut tar, "admin.token", &t)?;
            }
        }
        let file = tar.into_inner().map_err(io(&partial))?;
        file.sync_all().map_err(io(&partial))?;
        std::fs::rename(&partial, out).map_err(io(out))?;
        Ok(manifest)
    })();
    let _ = std::fs::remove_file(&db_copy);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// Channels marked restored (they write nothing until their peer confirms).
    pub channels: usize,
    /// The admin user whose token is in `admin.token`, when the restore made one.
    pub new_admin: Option<String>,
}

/// Where a restore puts things and what it changes on the way.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// The key file kept apart, for a backup made without `--include-keys`.
    pub keys: Option<PathBuf>,
    /// A new link address (restoring on another host).
    pub listen: Option<String>,
    /// A new API address.
    pub api: Option<String>,
}

/// Restores the backup `file` into `data`, which must not exist or be empty.
pub fn restore(file: &Path, data: &Path, opts: &RestoreOptions) -> Result<Restored, StationError> {
    if std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_some()) {
        return Err(StationError::Setup(format!(
            "{} is not empty: a restore never overwrites a station's data; choose a new directory",
            data.display()
        )));
    }
    std::fs::create_dir_all(data).map_err(io(data))?;
    let d = DataDir(data.to_owned());
    d.make_private()?;
    let r = unpack_and_settle(file, &d, opts);
    if r.is_err() {
        // Leave the directory as it was found: empty.
        if let Ok(entries) = std::fs::read_dir(data) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    r
}

fn unpack_and_settle(
    file: &Path,
    d: &DataDir,
    opts: &RestoreOptions,
) -> Result<Restored, StationError> {
    let f = std::fs::File::open(file).map_err(io(file))?;
    let mut archive = tar::Archive::new(f);
    let mut manifest: Option<Manifest> = None;
    let mut seen = Vec::new();
    for entry in archive.entries().map_err(io(file))? {
        let mut entry = entry.map_err(io(file))?;
        let name = entry
            .path()
            .map_err(io(file))?
            .to_string_lossy()
            .into_owned();
        if !MEMBERS.contains(&name.as_str()) || seen.contains(&name) {
            return Err(StationError::Setup(format!(
                "{} is not a hotline backup: it holds {name:?}",
                file.display()
            )));
        }
        seen.push(name.clone());
        if name == "hotline.db" {
            let mut out = create_private(&d.db())?;
            std::io::copy(&mut entry, &mut out).map_err(io(&d.db()))?;
            out.sync_all().map_err(io(&d.db()))?;
            continue;
        }
        let mut bytes = Zeroizing::new(Vec::new());
        entry
            .by_ref()
            .take(SMALL + 1)
            .read_to_end(&mut bytes)
            .map_err(io(file))?;
        if bytes.len() as u64 > SMALL {
            return Err(StationError::Setup(format!(
                "{name} in {} is larger than a hotline backup holds",
                file.display()
            )));
        }
        match name.as_str() {
            "MANIFEST.json" => {
                let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
                    StationError::Setup(format!("{}: bad manifest: {e}", file.display()))
                })?;
                if m.hotline_backup != FORMAT {
                    return Err(StationError::Setup(format!(
                        "{} is backup format {}; this hotline reads format {FORMAT}",
                        file.display(),
                        m.hotline_backup
                    )));
                }
                manifest = Some(m);
            }
            "config.toml" => write_secret(&d.config(), &bytes)?,
            "identity.key" => write_secret(&d.keys(), &bytes)?,
            _ => write_secret(&d.admin_token(), &bytes)?,
        }
    }
    let manifest = manifest
        .ok_or_else(|| StationError::Setup(format!("{} holds no MANIFEST.json", file.display())))?;
    for need in ["hotline.db", "config.toml"] {
        if !seen.iter().any(|s| s == need) {
            return Err(StationError::Setup(format!(
                "{} holds no {need}",
                file.display()
            )));
        }
    }
    if !d.keys().exists() {
        let Some(k) = &opts.keys else {
            return Err(StationError::Setup(format!(
                "{} was made without --include-keys: give the station's key file, kept apart, with --keys FILE",
                file.display()
            )));
        };
        let bytes = Zeroizing::new(std::fs::read(k).map_err(io(k))?);
        write_secret(&d.keys(), &bytes)?;
    }
    let keys = d.load_keys()?;
    if !keys
        .identities()
        .iter()
        .any(|id| id.token() == manifest.identity)
    {
        return Err(StationError::Setup(
            "the key file is not this station's: its identity differs from the backup's".into(),
        ));
    }
    let mut config = d.load_config()?;
    if let Some(l) = &opts.listen {
        config.listen = l.clone();
    }
    if let Some(a) = &opts.api {
        config.api = a.clone();
    }
    for (flag, a) in [("--listen", &config.listen), ("--api", &config.api)] {
        // A station that only dials has no listen address.
        if flag == "--listen" && a.is_empty() {
            continue;
        }
        if a.parse::<std::net::SocketAddr>().is_err() {
            return Err(StationError::Setup(format!("{flag} {a:?} is not IP:PORT")));
        }
    }
    std::fs::remove_file(d.config()).map_err(io(&d.config()))?;
    d.save_config(&config)?;
    // Opening migrates an older copy forward; then every channel waits for
    // its peer, and the log says where the station came from.
    let mut store = SqliteStore::open(&d.db())?;
    let channels = store.mark_all_restored()?;
    let new_admin = if d.admin_token().exists() {
        None
    } else {
        Some(new_admin(&mut store, d)?)
    };
    let head = store
        .audit_head()?
        .map(|h| h.head())
        .unwrap_or(hotline_proto::AuditHead {
            count: 0,
            hash: hotline_proto::ZERO_HASH,
        });
    let note = format!(
        "from a backup of {} taken at {}",
        manifest.station, manifest.created_at
    );
    store.write(&crate::audit::append_ops(
        hotline_proto::Signers::current(&keys),
        head,
        now_ms(),
        crate::audit::BY_STATION,
        "restore",
        &note,
        "ok",
    ))?;
    Ok(Restored {
        manifest,
        channels,
        new_admin,
    })
}

/// An admin token for a restore from a backup without one: a new admin
/// user, so the token lost with the old machine is not needed (revoke it).
fn new_admin(store: &mut SqliteStore, d: &DataDir) -> Result<String, StationError> {
    let active: Vec<String> = store
        .users()?
        .into_iter()
        .filter(|u| u.revoked_at.is_none())
        .map(|u| u.name)
        .collect();
    let name = (1..)
        .map(|n| {
            if n == 1 {
                "restored-admin".to_owned()
            } else {
                format!("restored-admin-{n}")
            }
        })
        .find(|n| !active.contains(n))
        .expect("a free name");
    let token = crate::config::new_token();
    store.add_user(
        &name,
        "admin",
        &hotline_proto::sha256(token.as_bytes()),
        now_ms(),
    )?;
    write_secret(&d.admin_token(), format!("{token}\n").as_bytes())?;
    Ok(name)
}

fn sibling(out: &Path, suffix: &str) -> Result<PathBuf, StationError> {
    let mut name = out
        .file_name()
        .ok_or_else(|| StationError::Setup(format!("{} names no file", out.display())))?
        .to_owned();
    name.push(suffix);
    Ok(out.with_file_name(name))
}

fn create_private(path: &Path) -> Result<std::fs::File, StationError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(io(path))
}

fn header(len: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o600);
    h.set_mtime(now_ms() / 1000);
    h.set_cksum();
    h
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> Result<(), StationError> {
    let mut h = header(bytes.len() as u64);
    tar.append_data(&mut h, name, bytes)
        .map_err(|e| StationError::Setup(format!("cannot write the backup: {e}")))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StationError + '_ {
    move |e| StationError::Setup(format!("{}: {e}", path.display()))
}
