//! `hotline doctor`: checks what a station needs to run for years and, when
//! it runs, its line. One line per check, `ok|warn|fail  CHECK  DETAIL`;
//! exit 1 when any check fails. Nothing is changed: the database is read
//! without migrating it, files are only looked at.

use crate::client::{token_for, Client, Failure};
use crate::out::{ago, escaped};
use hotline_api_types::{Health, LinkState, Peer, Peers};
use hotline_station::db::Schema;
use hotline_station::{Config, DataDir};
use serde::Serialize;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

/// Below this much free space on the data directory's file system: fail.
const DISK_FAIL: u64 = 100 << 20;
/// Below this much: warn.
const DISK_WARN: u64 = 1 << 30;
/// Below this share of the file system free: warn.
const DISK_WARN_PERCENT: f64 = 5.0;
/// A clock further off a peer's than this: warn. Entries carry their
/// author's time, and a person comparing the two ends notices a second.
const SKEW_WARN_MS: u64 = 1_000;
/// Further than this: fail. Contact checks allow an entry this early
/// before counting it (`CONTACT_SKEW_MS`); beyond it they misjudge.
const SKEW_FAIL_MS: u64 = hotline_core::policy::CONTACT_SKEW_MS;
/// How long a peer address has to take a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Serialize)]
struct Check {
    status: Status,
    /// What was checked: `config`, `identity.key`, `peer bravo link`, …
    check: String,
    /// What was found, and what to do about it when it is not ok.
    detail: String,
}

/// `--json`: every check, and how many failed and warned.
#[derive(Serialize)]
struct Report {
    checks: Vec<Check>,
    failed: usize,
    warned: usize,
}

/// The report being written.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, status: Status, check: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Check {
            status,
            check: check.into(),
            detail: detail.into(),
        });
    }
}

/// Runs every check and prints the report; exit 1 when any failed.
pub fn run(
    data: &Path,
    config: Option<&Path>,
    token: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let mut c = Checks::default();
    let d = DataDir(data.to_owned());
    let cfg = check_config(&mut c, &d, config);
    check_files(&mut c, &d);
    check_disk(&mut c, data);
    check_database(&mut c, &d, cfg.as_ref());
    if let Some(cfg) = cfg {
        check_live(&mut c, &d, &cfg, token);
    }
    let failed = c.0.iter().filter(|k| k.status == Status::Fail).count();
    let warned = c.0.iter().filter(|k| k.status == Status::Warn).count();
    if json {
        let report = Report {
            checks: c.0,
            failed,
            warned,
        };
        crate::cmd::print_json(&report)?;
    } else {
        let width =
            c.0.iter()
                .map(|k| k.check.chars().count())
                .max()
                .unwrap_or(0);
        for k in &c.0 {
            let status = match k.status {
                Status::Ok => "ok",
                Status::Warn => "warn",
                Status::Fail => "fail",
            };
            println!(
                "{status:<4}  {:<width$}  {}",
                escaped(&k.check),
                escaped(&k.detail)
            );
        }
    }
    if failed > 0 {
        let s = if failed == 1 { "" } else { "s" };
        return Err(Failure::Check(format!("doctor: {failed} check{s} failed")).into());
    }
    Ok(())
}

/// The config parses and every value is within its bounds.
fn check_config(c: &mut Checks, d: &DataDir, file: Option<&Path>) -> Option<Config> {
    let path = file.map_or_else(|| d.config(), Path::to_owned);
    match d.load_config_from(file) {
        Ok(cfg) => {
            let link = if cfg.dial_only {
                "dials only".to_owned()
            } else if cfg.listen.is_empty() {
                "none: `serve` needs `listen`, or --dial-only".to_owned()
            } else {
                cfg.listen.clone()
            };
            // Without `listen`, only `serve --dial-only` starts: a warning,
            // since the flag may be in the unit.
            let status = if cfg.listen.is_empty() && !cfg.dial_only {
                Status::Warn
            } else {
                Status::Ok
            };
            c.add(
                status,
                "config",
                format!(
                    "{}: station {:?}, link {link}, API {}",
                    path.display(),
                    cfg.name,
                    cfg.api
                ),
            );
            Some(cfg)
        }
        Err(e) => {
            c.add(Status::Fail, "config", e.to_string());
            None
        }
    }
}

/// The data directory and the secrets in it are private to their owner.
fn check_files(c: &mut Checks, d: &DataDir) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o7777);
        match mode(&d.0) {
            Ok(m) if m & 0o077 == 0 => c.add(Status::Ok, "data dir", format!("{} is {m:04o}", d.0.display())),
            Ok(m) => c.add(
                Status::Warn,
                "data dir",
                format!(
                    "{} is {m:04o}, open to others: the station makes it 0700 at its next start (or: chmod 700 {})",
                    d.0.display(),
                    d.0.display()
                ),
            ),
            Err(e) => c.add(Status::Fail, "data dir", format!("{}: {e}", d.0.display())),
        }
        for (name, path, needed) in [
            ("identity.key", d.keys(), true),
            ("admin.token", d.admin_token(), false),
        ] {
            match mode(&path) {
                Ok(m) if m & 0o077 != 0 => c.add(
                    Status::Fail,
                    name,
                    format!(
                        "{} is {m:04o}: others may read this secret; chmod 600 it, and consider it exposed",
                        path.display()
                    ),
                ),
                Ok(m) if m & 0o400 == 0 => c.add(
                    Status::Fail,
                    name,
                    format!("{} is {m:04o}: its owner cannot read it; chmod 600 it", path.display()),
                ),
                Ok(m) => c.add(Status::Ok, name, format!("{m:04o}")),
                Err(e) if needed => c.add(Status::Fail, name, format!("{}: {e}", path.display())),
                Err(e) => c.add(
                    Status::Warn,
                    name,
                    format!("{}: {e}; commands then need --token or `hotline login`", path.display()),
                ),
            }
        }
    }
    #[cfg(not(unix))]
    {
        for (name, path) in [("identity.key", d.keys()), ("admin.token", d.admin_token())] {
            let (s, detail) = match std::fs::metadata(&path) {
                Ok(_) => (
                    Status::Warn,
                    "present; file modes are not checked on this system".into(),
                ),
                Err(e) => (Status::Fail, format!("{}: {e}", path.display())),
            };
            c.add(s, name, detail);
        }
    }
}

/// Free space on the data directory's file system: a full disk stops
/// every commit, so every message.
fn check_disk(c: &mut Checks, data: &Path) {
    #[cfg(unix)]
    match nix::sys::statvfs::statvfs(data) {
        // statvfs's field types differ between platforms (u32 on some).
        #[allow(clippy::unnecessary_cast)]
        Ok(v) => {
            let unit = v.fragment_size() as u64;
            let free = v.blocks_available() as u64 * unit;
            let total = (v.blocks() as u64 * unit).max(1);
            let percent = free as f64 * 100.0 / total as f64;
            let detail = format!("{} free of {} ({percent:.0} %)", size(free), size(total));
            let status = if free < DISK_FAIL {
                Status::Fail
            } else if free < DISK_WARN || percent < DISK_WARN_PERCENT {
                Status::Warn
            } else {
                Status::Ok
            };
            let detail = match status {
                Status::Ok => detail,
                _ => format!("{detail}: a full disk stops every commit; free some space"),
            };
            c.add(status, "disk", detail);
        }
        Err(e) => c.add(Status::Fail, "disk", format!("{}: {e}", data.display())),
    }
    #[cfg(not(unix))]
    c.add(
        Status::Warn,
        "disk",
        format!("not checked on this system ({})", data.display()),
    );
}

/// A byte count for people.
fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n => format!("{} MiB", n >> 20),
    }
}

/// The database's schema version against this build's, read only.
fn check_database(c: &mut Checks, d: &DataDir, cfg: Option<&Config>) {
    let spec = match cfg.map_or_else(
        || Ok(hotline_station::db::StoreSpec::Sqlite(d.db())),
        |cfg| cfg.store_spec(d),
    ) {
        Ok(s) => s,
        Err(e) => return c.add(Status::Fail, "database", e.to_string()),
    };
    let place = spec.describe();
    let (status, detail) = match hotline_station::db::schema_of_spec(&spec) {
        Ok(Schema::Current(v)) => (Status::Ok, format!("schema version {v}, this hotline's")),
        Ok(Schema::Older { found, known }) => (
            Status::Warn,
            format!("schema version {found}, older than this hotline's {known}: the station migrates it at its next start"),
        ),
        Ok(Schema::Newer { found, known }) => (
            Status::Fail,
            format!("schema version {found} is newer than this hotline's {known}: it will not open it; run the hotline that wrote it"),
        ),
        Err(e) => (Status::Fail, format!("{place}: {e}")),
    };
    c.add(status, "database", detail);
}

/// The running station's health, and its line: each peer's link, clock
/// and addresses. A station that is not running is a warning: the checks
/// above are the ones to pass before starting it.
fn check_live(c: &mut Checks, d: &DataDir, cfg: &Config, token: Option<String>) {
    let http = match reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(h) => h,
        Err(e) => return c.add(Status::Fail, "station", e.to_string()),
    };
    let url = format!("http://{}/v1/health", cfg.api);
    let answer = match http.get(&url).send() {
        Ok(r) => r,
        Err(_) => {
            return c.add(
                Status::Warn,
                "station",
                format!(
                    "not running (nothing answers at {url}); the checks of its line are skipped"
                ),
            )
        }
    };
    let health: Health = match answer.json() {
        Ok(h) => h,
        Err(e) => {
            return c.add(
                Status::Fail,
                "station",
                format!("{url} answered, but not as a station does: {e}"),
            )
        }
    };
    // The station answering must be this data directory's.
    if let Ok(keys) = d.load_keys() {
        if keys.identity().token() != health.identity {
            return c.add(
                Status::Fail,
                "station",
                format!(
                    "another station ({:?}) answers at {}: check the api address in the config",
                    health.name, cfg.api
                ),
            );
        }
    }
    if health.status != "ok" {
        return c.add(
            Status::Fail,
            "station",
            format!(
                "{:?} reports {}: a commit failed; it restarts from disk by itself (see its log)",
                health.name, health.status
            ),
        );
    }
    c.add(
        Status::Ok,
        "station",
        format!("{:?} serving at http://{}", health.name, cfg.api),
    );
    let peers: anyhow::Result<Peers> = token_for(&d.0, token)
        .and_then(|t| Client::at(&cfg.api, t))
        .and_then(|client| client.get("/v1/peers"));
    match peers {
        Ok(p) if p.peers.is_empty() => c.add(Status::Ok, "peers", "none pinned yet"),
        Ok(p) => p.peers.iter().for_each(|p| check_peer(c, p)),
        Err(e) => c.add(Status::Warn, "peers", format!("cannot list them: {e:#}")),
    }
}

/// One peer: its link, its clock against ours, and each of its addresses.
fn check_peer(c: &mut Checks, p: &Peer) {
    let name = &p.name;
    match p.link {
        LinkState::Up => {
            let rtt = p
                .rtt_ms
                .map(|r| format!(", round trip {r} ms"))
                .unwrap_or_default();
            let via = p
                .addr_in_use
                .as_deref()
                .map(|a| format!(" via {a}"))
                .unwrap_or_default();
            c.add(
                Status::Ok,
                format!("peer {name} link"),
                format!("up, since {}{via}{rtt}", ago(Some(p.link_since))),
            )
        }
        LinkState::Down => {
            let since = if p.link_since == 0 {
                "not up since the station started".to_string()
            } else {
                format!("down since {}", ago(Some(p.link_since)))
            };
            c.add(
                Status::Warn,
                format!("peer {name} link"),
                format!("{since} (a link is dialled while a channel with the peer is open)"),
            )
        }
    }
    match p.clock_skew_ms {
        None => c.add(
            Status::Ok,
            format!("peer {name} clock"),
            "not known yet: measured at the next handshake with the peer",
        ),
        Some(ms) => {
            let off = ms.unsigned_abs();
            let way = if ms >= 0 { "ahead of" } else { "behind" };
            let detail = format!("the peer's clock is {off} ms {way} ours (at its last handshake)");
            let status = if off > SKEW_FAIL_MS {
                Status::Fail
            } else if off > SKEW_WARN_MS {
                Status::Warn
            } else {
                Status::Ok
            };
            let detail = match status {
                Status::Ok => detail,
                _ => format!("{detail}: keep both clocks synchronised (NTP)"),
            };
            c.add(status, format!("peer {name} clock"), detail)
        }
    }
    for addr in &p.addrs {
        let (status, detail) = match reach(addr) {
            Ok(t) => (
                Status::Ok,
                format!("takes a TCP connection ({} ms)", t.as_millis()),
            ),
            Err(e) => (Status::Fail, format!("no TCP connection: {e}")),
        };
        c.add(status, format!("peer {name} {addr}"), detail);
    }
}

/// How long a TCP connection to `addr` (HOST:PORT) took.
fn reach(addr: &str) -> Result<Duration, String> {
    let targets: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve it: {e}"))?
        .collect();
    let mut last = "it resolves to no address".to_string();
    for t in targets {
        let start = Instant::now();
        match TcpStream::connect_timeout(&t, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(start.elapsed()),
            Err(e) => last = format!("{t}: {e}"),
        }
    }
    Err(last)
}
