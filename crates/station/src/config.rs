//! The data directory: config file, key file, admin token, database; and
//! the config file itself, which may also live outside it (`--config`).
//!
//! Layout of `DATA/` (mode 0700):
//! - `config.toml`   — name, link and API addresses, optional alert hook,
//!   log level and `[tuning]` (docs/CONFIG.md has every key);
//! - `identity.key`  — the secret keys (mode 0600);
//! - `admin.token`   — the first admin's API token (mode 0600);
//! - `hotline.db`    — the SQLite database (WAL; it and its `-wal`, `-shm` 0600).

use crate::error::StationError;
use crate::tuning::Tuning;
use hotline_proto::Keyring;
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
    /// Where the link listens for peers (HOST:PORT); may be left out with
    /// `dial_only`.
    #[serde(default)]
    pub listen: String,
    /// Never listen for peers: this station dials each of them and the one
    /// connection carries both directions (a site that can only connect
    /// outwards). `listen` is then not used.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dial_only: bool,
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
    /// What the log shows: a level (`info`) or `target=level` directives,
    /// comma-separated. `HOTLINE_LOG` in the environment wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Where the station keeps its data: `sqlite` (the default: the file
    /// `hotline.db` in the data directory) or a `postgres://` URL, libpq's
    /// multi-host form included. `HOTLINE_STORE` in the environment wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Timings and caps within safe bounds; a key left out keeps its default.
    #[serde(default, skip_serializing_if = "Tuning::is_default")]
    pub tuning: Tuning,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("listen", &self.listen)
            .field("dial_only", &self.dial_only)
            .field("api", &self.api)
            .field("alert_hook", &self.alert_hook)
            .field("api_hosts", &self.api_hosts)
            .field("log", &self.log)
            .field(
                "store",
                &self
                    .store
                    .as_ref()
                    .map(|s| crate::db::StoreSpec::Postgres(s.clone()).describe()),
            )
            .field("tuning", &self.tuning)
            .finish()
    }
}

impl Config {
    /// A config with the given name and addresses and every other key at its default.
    pub fn new(name: &str, listen: &str, api: &str) -> Config {
        Config {
            name: name.into(),
            listen: listen.into(),
            dial_only: false,
            api: api.into(),
            alert_hook: None,
            api_hosts: vec![],
            log: None,
            store: None,
            tuning: Tuning::default(),
        }
    }

    /// The store this station uses: `HOTLINE_STORE` if set, else the
    /// config's `store`, else the SQLite file in `data`.
    pub fn store_spec(&self, data: &DataDir) -> Result<crate::db::StoreSpec, StationError> {
        let env = std::env::var("HOTLINE_STORE").ok();
        crate::db::StoreSpec::parse(env.as_deref().or(self.store.as_deref()), data.db())
    }

    /// Reads and checks the config file at `path` (in the data directory or
    /// elsewhere, e.g. `/etc/hotline/config.toml`).
    pub fn load(path: &Path) -> Result<Config, StationError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StationError::Setup(format!("cannot read the config {}: {e}", path.display()))
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks a config file's text. An error names the file,
    /// the line and the key: `FILE:LINE: KEY: what is wrong`.
    pub fn parse(text: &str, file: &Path) -> Result<Config, StationError> {
        let at = |line: Option<usize>, key: Option<String>, why: &str| {
            let line = line.map(|n| format!("{n}:")).unwrap_or_default();
            let key = key.map(|k| format!(" {k}:")).unwrap_or_default();
            StationError::Setup(format!(
                "{}:{line}{key} {why} (see docs/CONFIG.md)",
                file.display()
            ))
        };
        let cfg: Config = toml::from_str(text).map_err(|e| {
            // A key missing at the top comes with an empty span or one over
            // the whole file: no line to name.
            let whole = text.trim_end().len();
            let span = e
                .span()
                .filter(|s| s.start > 0 || (s.end > 0 && s.end < whole));
            let key = span.clone().and_then(|s| key_at(text, s));
            let line = span.map(|s| line_of(text, s.start));
            at(line, key, e.message().trim())
        })?;
        cfg.check()
            .map_err(|(key, why)| at(key_line(text, &key), Some(key), &why))?;
        Ok(cfg)
    }

    /// Checks what the types alone do not: on error, the key (dotted, as
    /// `tuning.ping_every`) and what is wrong with its value.
    pub fn check(&self) -> Result<(), (String, String)> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(("name".into(), "give 1–64 printable characters".into()));
        }
        for (key, addr) in [("listen", &self.listen), ("api", &self.api)] {
            // No `listen` is for a dial-only station (config `dial_only`
            // or `serve --dial-only`); the start refuses it otherwise.
            if key == "listen" && addr.is_empty() {
                continue;
            }
            if !host_port(addr) {
                return Err((
                    key.into(),
                    format!("{addr:?} is not HOST:PORT (e.g. 127.0.0.1:7811)"),
                ));
            }
        }
        if self
            .alert_hook
            .as_deref()
            .is_some_and(|h| h.trim().is_empty())
        {
            return Err((
                "alert_hook".into(),
                "give a program's path, or leave the key out".into(),
            ));
        }
        for h in &self.api_hosts {
            if h.is_empty() || h.contains(|c: char| c.is_whitespace() || c == ':' || c == '/') {
                return Err((
                    "api_hosts".into(),
                    format!("{h:?} is not a host name (give names without scheme or port)"),
                ));
            }
        }
        if let Some(log) = &self.log {
            check_log(log).map_err(|why| ("log".to_string(), why))?;
        }
        if let Some(store) = &self.store {
            crate::db::StoreSpec::parse(Some(store), PathBuf::new())
                .map_err(|e| ("store".to_string(), e.to_string()))?;
        }
        self.tuning
            .check()
            .map_err(|(key, why)| (format!("tuning.{key}"), why))
    }
}

/// Whether `s` is `HOST:PORT` with a numeric port (an IP address, a
/// bracketed IPv6 address, or a name).
fn host_port(s: &str) -> bool {
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(|c: char| c.is_whitespace() || c == ':' || c == '/')
                && port.parse::<u16>().is_ok()
        }
        None => false,
    }
}

/// Levels a `log` directive may name.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Checks a `log` value: comma-separated `LEVEL` or `TARGET=LEVEL`
/// directives (a subset of what `HOTLINE_LOG` accepts, enough to turn one
/// part of the station up or down).
pub fn check_log(s: &str) -> Result<(), String> {
    let bad = |d: &str| {
        Err(format!(
            "{d:?} is not a log directive: give a level ({}) or TARGET=LEVEL, e.g. \"info,hotline_station::net=debug\"",
            LEVELS.join(", ")
        ))
    };
    for d in s.split(',').map(str::trim) {
        let (target, level) = match d.split_once('=') {
            Some((t, l)) => (Some(t), l),
            None => (None, d),
        };
        let target_ok = target.is_none_or(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        });
        if !target_ok || !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return bad(d);
        }
    }
    Ok(())
}

/// The line (from 1) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Every key of the document as a dotted path (tables followed, arrays
/// not), with the spans of the key and of its value.
fn keys(text: &str) -> Vec<(String, std::ops::Range<usize>, std::ops::Range<usize>)> {
    fn walk(
        t: &toml::de::DeTable<'_>,
        prefix: &str,
        out: &mut Vec<(String, std::ops::Range<usize>, std::ops::Range<usize>)>,
    ) {
        for (k, v) in t.iter() {
            let path = format!("{prefix}{}", k.get_ref());
            if let Some(inner) = v.get_ref().as_table() {
                walk(inner, &format!("{path}."), out);
            }
            out.push((path, k.span(), v.span()));
        }
    }
    let mut out = vec![];
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        walk(doc.get_ref(), "", &mut out);
    }
    out
}

/// The line where `key` (dotted) is written, if it is.
fn key_line(text: &str, key: &str) -> Option<usize> {
    keys(text)
        .into_iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, span, _)| line_of(text, span.start))
}

/// The innermost key whose name or value holds the whole of `span`.
fn key_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let within = |r: &std::ops::Range<usize>| r.start <= span.start && span.end <= r.end;
    keys(text)
        .into_iter()
        .filter(|(_, k, v)| within(k) || within(v))
        .max_by_key(|(k, _, _)| k.matches('.').count())
        .map(|(k, _, _)| k)
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

    /// Reads and checks `DATA/config.toml`.
    pub fn load_config(&self) -> Result<Config, StationError> {
        let text = std::fs::read_to_string(self.config()).map_err(|e| {
            StationError::Setup(format!(
                "cannot read {}: {e} (run `hotline init --name NAME` first, or pass --data DIR or --config FILE)",
                self.config().display()
            ))
        })?;
        Config::parse(&text, &self.config())
    }

    /// Reads and checks the config at `file`, or `DATA/config.toml` without one.
    pub fn load_config_from(&self, file: Option<&Path>) -> Result<Config, StationError> {
        match file {
            Some(f) => Config::load(f),
            None => self.load_config(),
        }
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
    pub fn load_keys(&self) -> Result<Keyring, StationError> {
        let bytes = std::fs::read(self.keys())
            .map(Zeroizing::new)
            .map_err(|e| {
                StationError::Setup(format!("cannot read {}: {e}", self.keys().display()))
            })?;
        Keyring::from_bytes(&bytes)
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

/// Replaces a secret file whole (mode 0600): written beside it, synced,
/// renamed over it, and the directory synced, so that a crash leaves either
/// the old file or the new one, never a torn one.
pub(crate) fn replace_secret(path: &Path, bytes: &[u8]) -> Result<(), StationError> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    write_secret(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
        .map_err(|e| StationError::Setup(format!("cannot replace {}: {e}", path.display())))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StationError::Setup(format!("cannot sync {}: {e}", dir.display())))?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"alpha\"\nlisten = \"0.0.0.0:7810\"\napi = \"127.0.0.1:7811\"\n";

    fn err(text: &str) -> String {
        match Config::parse(text, Path::new("/etc/hotline/config.toml")) {
            Ok(c) => panic!("{text} parsed: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_config_init_writes_reads_back_without_a_tuning_table() {
        let c = Config::new("alpha", "0.0.0.0:7810", "127.0.0.1:7811");
        let text = toml::to_string(&c).unwrap();
        assert_eq!(text, GOOD);
        assert_eq!(Config::parse(&text, Path::new("c.toml")).unwrap(), c);
    }

    #[test]
    fn a_value_out_of_bounds_names_the_file_line_and_key() {
        let text = format!("{GOOD}api_hosts = [\"hotline.example.org\"]\n\n[tuning]\nhook_timeout = \"1m\"\nping_every = \"10ms\"\n");
        let e = err(&text);
        assert!(
            e.starts_with("/etc/hotline/config.toml:8: tuning.ping_every: 10ms is out of bounds"),
            "{e}"
        );
        let e = err(&format!("{GOOD}log = \"loud\"\n"));
        assert!(
            e.contains("config.toml:4: log: \"loud\" is not a log directive"),
            "{e}"
        );
        let e = err("name = \"alpha\"\nlisten = \"everywhere\"\napi = \"127.0.0.1:7811\"\n");
        assert!(e.contains("config.toml:2: listen:"), "{e}");
        // A key left out has no line of its own, and no other key is blamed.
        let e = err("listen = \"0.0.0.0:7810\"\napi = \"127.0.0.1:7811\"\n");
        assert!(
            e.starts_with("/etc/hotline/config.toml: missing field `name`"),
            "{e}"
        );
    }

    #[test]
    fn a_value_that_does_not_parse_names_the_file_line_and_key() {
        let e = err(&format!("{GOOD}\n[tuning]\nidle_timeout = \"soon\"\n"));
        assert!(
            e.contains("config.toml:6: tuning.idle_timeout: \"soon\" is not a duration"),
            "{e}"
        );
        let e = err(&format!("{GOOD}\n[tuning]\nmax_connections = \"many\"\n"));
        assert!(e.contains("config.toml:6: tuning.max_connections:"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it_and_its_line() {
        let e = err(&format!("{GOOD}alert_hok = \"/bin/true\"\n"));
        assert!(e.contains("config.toml:4:"), "{e}");
        assert!(e.contains("alert_hok"), "{e}");
        let e = err(&format!("{GOOD}[tuning]\nping = \"1s\"\n"));
        assert!(e.contains("config.toml:5:") && e.contains("`ping`"), "{e}");
    }

    #[test]
    fn log_directives() {
        for ok in [
            "info",
            "WARN",
            "info,hotline_station::net=debug",
            "hotline_station=trace",
        ] {
            assert_eq!(check_log(ok), Ok(()), "{ok}");
        }
        for bad in ["", "loud", "=info", "a b=info", "info,", "x=verbose"] {
            assert!(check_log(bad).is_err(), "{bad}");
        }
    }
}
