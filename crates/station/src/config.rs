//! The data directory: config file, key file, admin token, database.
//!
//! Layout of `DATA/` (mode 0700):
//! - `config.toml`   — name, link and API addresses, optional alert hook;
//! - `identity.key`  — the secret keys (mode 0600);
//! - `admin.token`   — the first admin's API token (mode 0600);
//! - `hotline.db`    — the SQLite database (WAL; it and its `-wal`, `-shm` 0600).

use crate::error::StationError;
use hotline_proto::SecretKeys;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Default link listen address: all interfaces, since the link is authenticated by Noise with pinned keys.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:7810";
/// Default API address: loopback only (SPEC §8).
pub const DEFAULT_API: &str = "127.0.0.1:7811";

/// A station's configuration file.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The station's name, shown to people.
    pub name: String,
    /// Where the link listens for peers (HOST:PORT).
    pub listen: String,
    /// Where the HTTP API and console listen (HOST:PORT).
    pub api: String,
    /// A program run for every alert, with the alert as JSON on stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_hook: Option<String>,
    /// Names, besides IP addresses and `localhost`, under which browsers may
    /// reach the API (the `Host` header); any other name is refused, so a web
    /// page cannot rebind its own name to the API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_hosts: Vec<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("listen", &self.listen)
            .field("api", &self.api)
            .field("alert_hook", &self.alert_hook)
            .field("api_hosts", &self.api_hosts)
            .finish()
    }
}

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.0.join("config.toml")
    }
    /// `identity.key`.
    pub fn keys(&self) -> PathBuf {
        self.0.join("identity.key")
    }
    /// `admin.token`.
    pub fn admin_token(&self) -> PathBuf {
        self.0.join("admin.token")
    }
    /// `hotline.db`.
    pub fn db(&self) -> PathBuf {
        self.0.join("hotline.db")
    }

    /// Reads the config file.
    pub fn load_config(&self) -> Result<Config, StationError> {
        let text = std::fs::read_to_string(self.config()).map_err(|e| {
            StationError::Setup(format!(
                "cannot read {}: {e} (run `hotline init --name NAME` first, or pass --data DIR)",
                self.config().display()
            ))
        })?;
        toml::from_str(&text).map_err(|e| {
            StationError::Setup(format!(
                "{} is not a valid config: {e}",
                self.config().display()
            ))
        })
    }

    /// Writes the config file.
    pub fn save_config(&self, c: &Config) -> Result<(), StationError> {
        let text = toml::to_string(c).expect("config serializes");
        std::fs::write(self.config(), text).map_err(|e| {
            StationError::Setup(format!("cannot write {}: {e}", self.config().display()))
        })
    }

    /// Makes the directory accessible to its owner only (mode 0700) if it is
    /// not already: it holds the keys and every message. A directory that
    /// cannot be made private is an error, not a warning.
    pub fn make_private(&self) -> Result<(), StationError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.0)
                .map_err(|e| StationError::Setup(format!("cannot read {}: {e}", self.0.display())))?
                .permissions()
                .mode();
            if mode & 0o777 != 0o700 {
                std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| {
                        StationError::Setup(format!(
                            "cannot make {} private to its owner (mode 0700): {e}; it holds the station's keys and messages, so fix its ownership or choose another --data directory",
                            self.0.display()
                        ))
                    })?;
            }
        }
        Ok(())
    }

    /// Reads the secret keys; the buffer they pass through is wiped after.
    pub fn load_keys(&self) -> Result<SecretKeys, StationError> {
        let bytes = std::fs::read(self.keys())
            .map(Zeroizing::new)
            .map_err(|e| {
                StationError::Setup(format!("cannot read {}: {e}", self.keys().display()))
            })?;
        SecretKeys::from_bytes(&bytes)
            .map_err(|_| StationError::Setup(format!("{} is damaged", self.keys().display())))
    }

    /// Reads the admin token.
    pub fn load_admin_token(&self) -> Result<String, StationError> {
        std::fs::read_to_string(self.admin_token())
            .map(|s| s.trim().to_owned())
            .map_err(|e| {
                StationError::Setup(format!("cannot read {}: {e}", self.admin_token().display()))
            })
    }
}

/// Writes a file readable by its owner only (mode 0600), refusing to overwrite.
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), StationError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| StationError::Setup(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| StationError::Setup(format!("cannot write {}: {e}", path.display())))
}

/// A fresh random API token: 32 random bytes, base32, prefixed so it is recognisable in logs.
pub(crate) fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    format!(
        "hlt_{}",
        data_encoding::BASE32_NOPAD.encode(&b).to_ascii_lowercase()
    )
}
