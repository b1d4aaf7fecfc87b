//! The hotline station: the daemon around the pure core.
//!
//! [`init`] prepares a data directory; [`Station::start`] runs a station
//! (link listener, dialers, policy timer, HTTP API) until [`Station::stop`];
//! [`Station::reload`] puts a changed configuration in force where that is
//! safe while it runs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
mod audit;
pub mod backup;
pub mod config;
mod console;
pub mod db;
pub mod duration;
pub mod engine;
pub mod error;
mod gate;
pub mod ha;
mod hook;
pub mod metrics;
pub mod net;
pub mod tuning;
pub mod variants;
pub mod views;
pub mod witness;

pub use config::{Config, DataDir};
pub use error::StationError;

use engine::{now_ms, Engine};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How often the policy engine is evaluated: the resolution of every clock (SPEC §6).
pub const TICK: Duration = Duration::from_millis(100);
/// A link down this long raises `link-down` (by default: `tuning.link_down_after`).
pub const LINK_DOWN_AFTER_MS: u64 = 3000;

/// Called on every turn of the policy loop: proof of life for a service
/// manager's watchdog, which a hung station then stops feeding.
pub type Heartbeat = Arc<dyn Fn() + Send + Sync>;

/// How to start a station.
pub struct Options {
    /// The data directory: keys, admin token, database.
    pub data: PathBuf,
    /// The configuration, already read and checked (from the data
    /// directory or from `--config FILE`).
    pub config: Config,
    /// An alert hook that overrides the config's (`serve --alert-hook`),
    /// through reloads too.
    pub alert_hook: Option<String>,
    /// Called on every turn of the policy loop ([`TICK`]).
    pub heartbeat: Option<Heartbeat>,
    /// On a shared database: the lease keeper and the role this station
    /// starts in. `None`: a station alone (SQLite), always the leader.
    pub ha: Option<Ha>,
}

/// A station process's place on a shared database.
#[derive(Clone)]
pub struct Ha {
    /// Keeps the lease (one per process, across restarts of the station).
    pub keeper: ha::Keeper,
    /// What this station starts as: the leader runs the link and writes, a
    /// standby serves reads and refuses writes.
    pub role: ha::Role,
}

/// What `init` made. `Debug` leaves the admin token out.
#[derive(Clone)]
pub struct Initialized {
    /// The station's identity token.
    pub token: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The admin API token.
    pub admin_token: String,
}

impl std::fmt::Debug for Initialized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initialized")
            .field("token", &self.token)
            .field("fingerprint", &self.fingerprint)
            .field("admin_token", &"<redacted>")
            .finish()
    }
}

/// Creates a data directory (0700): keys (0600), config, database (0600),
/// admin token (0600).
pub fn init(dir: &Path, name: &str, listen: &str, api: &str) -> Result<Initialized, StationError> {
    init_with(dir, name, listen, api, None)
}

/// [`init`] with a `store` setting: `sqlite` or `None` for the file in the
/// data directory, or a `postgres://` URL. A PostgreSQL database that
/// already holds a station is refused: a second station process for it (a
/// standby) gets a copy of the first one's data directory instead.
pub fn init_with(
    dir: &Path,
    name: &str,
    listen: &str,
    api: &str,
    store: Option<&str>,
) -> Result<Initialized, StationError> {
    db::off_runtime(|| init_here(dir, name, listen, api, store))
}

fn init_here(
    dir: &Path,
    name: &str,
    listen: &str,
    api: &str,
    store: Option<&str>,
) -> Result<Initialized, StationError> {
    let d = DataDir(dir.to_owned());
    let fresh = match store {
        Some(_) => None,
        None => variants::test_store().map_err(StationError::Setup)?,
    };
    let spec = db::StoreSpec::parse(store.or(fresh.as_deref()), d.db())?;
    if d.keys().exists() || d.config().exists() {
        return Err(StationError::Setup(format!(
            "{} already holds a station; choose another --data directory",
            dir.display()
        )));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
        return Err(StationError::Setup(
            "--name must be 1–64 printable characters".into(),
        ));
    }
    for (flag, a) in [("--listen", listen), ("--api", api)] {
        if a.parse::<SocketAddr>().is_err() {
            return Err(StationError::Setup(format!(
                "{flag} {a:?} is not IP:PORT (e.g. 127.0.0.1:7811)"
            )));
        }
    }
    // The database first: a shared one that already holds a station is
    // refused before anything is written to the data directory.
    let shared = match &spec {
        db::StoreSpec::Postgres(_) => {
            let store = spec.open()?;
            if let Some(other) = store.meta("name")? {
                return Err(StationError::Setup(format!(
                    "{} already holds the station {other:?}; a second station process for it takes a copy of that station's data directory (see docs/OPERATIONS.md)",
                    spec.describe()
                )));
            }
            Some(store)
        }
        db::StoreSpec::Sqlite(_) => None,
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| StationError::Setup(format!("cannot create {}: {e}", dir.display())))?;
    d.make_private()?;
    let mut store = match shared {
        Some(s) => s,
        None => spec.open()?,
    };
    let (dh_secret, dh_public) = hotline_link::generate_keypair();
    let keys = hotline_proto::SecretKeys::generate(*dh_secret.as_bytes(), dh_public);
    config::write_secret(&d.keys(), &keys.to_bytes())?;
    let admin_token = config::new_token();
    {
        store.set_meta("identity", &keys.identity().token())?;
        store.set_meta("name", name)?;
        store.add_user(
            "admin",
            "admin",
            &hotline_proto::sha256(admin_token.as_bytes()),
            now_ms(),
        )?;
        // The log's first line, so that its head is signed from the start: a
        // station that later finds no signed head knows that it was removed.
        let empty = hotline_proto::AuditHead {
            count: 0,
            hash: hotline_proto::ZERO_HASH,
        };
        store.write(&audit::append_ops(
            &keys,
            empty,
            now_ms(),
            audit::BY_STATION,
            "init",
            name,
            "ok",
        ))?;
    }
    drop(store);
    config::write_secret(&d.admin_token(), format!("{admin_token}\n").as_bytes())?;
    let mut cfg = Config::new(name, listen, api);
    if let db::StoreSpec::Postgres(url) = &spec {
        cfg.store = Some(url.clone());
    }
    d.save_config(&cfg)?;
    let id = keys.identity();
    Ok(Initialized {
        token: id.token(),
        fingerprint: id.fingerprint().to_string(),
        admin_token,
    })
}

/// On a database that names its station (`meta` `identity`, written by
/// `init`), the key in the data directory must be that station's: a
/// standby with another station's key would author entries nobody can
/// verify.
fn same_station(
    db: &db::Db,
    keys: &hotline_proto::Keyring,
    spec: &db::StoreSpec,
) -> Result<(), StationError> {
    let mine = keys.identity().token();
    // After a rotation the database names the new keys; a key file that
    // holds them (among its older ones) is this station's.
    let ours = |t: &str| keys.identities().iter().any(|id| id.token() == t);
    match db.read_now(|s| s.meta("identity"))? {
        Some(t) if !ours(&t) => Err(StationError::Setup(format!(
            "{} holds the station with identity {t}; this data directory's newest key is {mine}: copy identity.key from the station's first machine (after `hotline keys rotate`, from the process that rotated)",
            spec.describe()
        ))),
        _ => Ok(()),
    }
}

/// A running station.
pub struct Station {
    /// The engine (for in-process callers such as the demo and tests).
    pub engine: Arc<Engine>,
    api_addr: SocketAddr,
    link_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The API's guards, whose host names a reload replaces.
    guard: api::guard::Guard,
    /// The configuration in force: as started, with reloads applied.
    config: Mutex<Config>,
    /// `serve --alert-hook`, which wins over the config's through reloads.
    hook_override: Option<String>,
}

impl Station {
    /// Starts a station from its data directory and `DATA/config.toml`.
    /// `alert_hook` overrides the config's.
    pub async fn start(dir: &Path, alert_hook: Option<String>) -> Result<Station, StationError> {
        let config = DataDir(dir.to_owned()).load_config()?;
        Station::start_with(Options {
            data: dir.to_owned(),
            config,
            alert_hook,
            heartbeat: None,
            ha: None,
        })
        .await
    }

    /// Starts a station as `o` says.
    pub async fn start_with(o: Options) -> Result<Station, StationError> {
        let Options {
            data,
            config: cfg,
            alert_hook,
            heartbeat,
            ha,
        } = o;
        let d = DataDir(data);
        d.make_private()?;
        let keys = d.load_keys()?;
        let spec = cfg.store_spec(&d)?;
        let ticket = ha.as_ref().map(|h| h.keeper.ticket(h.role));
        let standby = ha.as_ref().is_some_and(|h| h.role != ha::Role::Leader);
        let db = db::Db::open_spec(&spec, 2, ticket.clone())?;
        same_station(&db, &keys, &spec)?;
        let engine = Arc::new(Engine::load(cfg.name.clone(), keys, db, None)?);
        engine.set_key_file(d.keys());
        if let (Some(t), false) = (&ticket, standby) {
            engine.set_epoch(t.fence.epoch);
        }
        if !standby {
            // A rotation a crash cut short is finished before anything else
            // is signed (a channel that cannot take it yet: by the tick).
            engine.finish_rotation(audit::BY_STATION).await?;
        }
        engine.set_tuning(cfg.tuning);
        engine.set_alert_hook(alert_hook.clone().or(cfg.alert_hook.clone()));
        // A standby does not listen for peers: a counterpart dialling its
        // address is refused at once and tries the leader's.
        if cfg.listen.is_empty() && !cfg.dial_only {
            return Err(StationError::Setup(
                "no `listen` address in the config: give one (HOST:PORT), or set dial_only = true (serve --dial-only) for a station that only dials".into(),
            ));
        }
        let link_listener = if standby || cfg.dial_only {
            None
        } else {
            Some(
                tokio::net::TcpListener::bind(&cfg.listen)
                    .await
                    .map_err(|e| {
                        StationError::Setup(format!(
                            "cannot listen for peers on {}: {e}",
                            cfg.listen
                        ))
                    })?,
            )
        };
        let api_listener = tokio::net::TcpListener::bind(&cfg.api).await.map_err(|e| {
            StationError::Setup(format!("cannot listen for the API on {}: {e}", cfg.api))
        })?;
        let link_addr = match &link_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| StationError::Setup(e.to_string()))?,
            ),
            None => None,
        };
        let api_addr = api_listener
            .local_addr()
            .map_err(|e| StationError::Setup(e.to_string()))?;

        let user_map = load_users(&engine)?;
        if !standby {
            engine.audit_checked().await?;
        }
        let (tx, rx) = watch::channel(false);
        let guard = api::guard::Guard::new(cfg.api_hosts.clone());
        let api_state = api::Api {
            engine: engine.clone(),
            users: Arc::new(RwLock::new(user_map)),
            shutdown: rx.clone(),
            guard: guard.clone(),
            metrics_cache: Default::default(),
            ha: ha.clone(),
        };

        let mut tasks = JoinSet::new();
        // One live session per peer, whichever side dialled it.
        let live = Arc::new(net::Live::default());
        if let Some(link_listener) = link_listener {
            tasks.spawn(net::accept_loop(
                engine.clone(),
                link_listener,
                live.clone(),
                rx.clone(),
            ));
        }
        // Dialers: one per peer, started as peers appear.
        if !standby {
            let (engine, mut rx2) = (engine.clone(), rx.clone());
            let dial_only = cfg.dial_only;
            tasks.spawn(async move {
                let mut running: HashSet<i64> = HashSet::new();
                let mut dialers = JoinSet::new();
                loop {
                    let ids: Vec<i64> = engine.peer_ids();
                    for id in ids {
                        if running.insert(id) {
                            dialers.spawn(net::dial_loop(
                                engine.clone(),
                                id,
                                live.clone(),
                                dial_only,
                                rx2.clone(),
                            ));
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = rx2.changed() => break,
                    }
                }
                while dialers.join_next().await.is_some() {}
            });
        }
        if !standby {
            let (engine, mut rx3) = (engine.clone(), rx.clone());
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(TICK);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut n = 0u64;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            engine.retry_rotation().await;
                            engine.tick().await;
                            n += 1;
                            if n.is_multiple_of(10) {
                                let after = engine.tuning().link_down_after().as_millis() as u64;
                                engine.check_links(after).await;
                            }
                            if let Some(beat) = &heartbeat {
                                beat();
                            }
                        }
                        _ = rx3.changed() => return,
                    }
                }
            });
        }
        if !standby {
            // Log checkpoints apart from the policy tick: a witness slow to
            // answer must not hold the clocks back.
            let (engine, mut rx5) = (engine.clone(), rx.clone());
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = tick.tick() => engine.log_tick().await,
                        _ = rx5.changed() => return,
                    }
                }
            });
        }
        {
            let mut rx4 = rx.clone();
            let app = api::router(api_state);
            tasks.spawn(async move {
                let serve = axum::serve(api_listener, app).with_graceful_shutdown(async move {
                    let _ = rx4.changed().await;
                });
                if let Err(e) = serve.await {
                    tracing::error!("API server failed: {e}");
                }
            });
        }
        match (&link_addr, &ha) {
            (Some(l), None) => {
                tracing::info!(name = %cfg.name, "station up: link {l}, API http://{api_addr}")
            }
            (Some(l), Some(_)) => tracing::info!(
                name = %cfg.name,
                epoch = engine.epoch(),
                "station up as the leader: link {l}, API http://{api_addr}"
            ),
            (None, _) => tracing::info!(
                name = %cfg.name,
                "station up as the standby: reads on http://{api_addr}, writes refused, no link"
            ),
        }
        Ok(Station {
            engine,
            api_addr,
            link_addr,
            shutdown: tx,
            tasks,
            guard,
            config: Mutex::new(cfg),
            hook_override: alert_hook,
        })
    }

    /// Puts a changed configuration (already read and checked) in force
    /// where that is safe while running: the alert hook, `api_hosts` and
    /// every `[tuning]` key (each at its next use: connection, handshake,
    /// ping, hook run, link check). `log` is the caller's, who owns the
    /// log. `name`, `listen` and `api` keep their running values until a
    /// restart (the sockets are bound, the name is in the engine); those
    /// that changed are returned, to be reported.
    pub fn reload(&self, new: &Config) -> Vec<&'static str> {
        let mut running = self.config.lock().unwrap();
        let later: Vec<&'static str> = [
            ("name", running.name != new.name),
            ("listen", running.listen != new.listen),
            ("dial_only", running.dial_only != new.dial_only),
            ("api", running.api != new.api),
        ]
        .into_iter()
        .filter_map(|(k, changed)| changed.then_some(k))
        .collect();
        // Tuning first: the hook takes its timeout from it.
        self.engine.set_tuning(new.tuning);
        let hook = self.hook_override.clone().or(new.alert_hook.clone());
        self.engine.set_alert_hook(hook);
        self.guard.set_hosts(new.api_hosts.clone());
        let kept = (
            running.name.clone(),
            running.listen.clone(),
            running.api.clone(),
            running.dial_only,
        );
        *running = new.clone();
        (running.name, running.listen, running.api, running.dial_only) = kept;
        later
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        self.config.lock().unwrap().clone()
    }

    /// Resolves when a commit has failed and this station must be restarted from storage.
    pub async fn failed(&self) {
        self.engine.failed().await
    }

    /// Where the API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Where the link listens (a standby's is unspecified: it does not listen).
    pub fn link_addr(&self) -> SocketAddr {
        self.link_addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Whether this station runs as a standby (no link, writes refused).
    pub fn is_standby(&self) -> bool {
        self.link_addr.is_none()
    }

    /// Stops: tasks finish their current step, every queued write is committed, then return.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop within 10 s; aborting them");
            self.tasks.abort_all();
        }
        // A no-op through the writer returns only after everything queued
        // before it committed; a database that stopped answering is not
        // waited for beyond a bound.
        let flush = self.engine.db().call(|_| Ok(()));
        if tokio::time::timeout(Duration::from_secs(10), flush)
            .await
            .is_err()
        {
            tracing::warn!("the database did not finish the last commits within 10 s");
        }
    }
}

fn load_users(engine: &Engine) -> Result<HashMap<hotline_proto::Hash, api::User>, StationError> {
    Ok(engine
        .db()
        .read_now(|s| s.user_tokens())?
        .into_iter()
        .filter_map(|(h, name, role, expires_at)| {
            api::Role::parse(&role).map(|role| {
                let user = api::User {
                    name,
                    role,
                    expires_at,
                };
                (h, user)
            })
        })
        .collect())
}
