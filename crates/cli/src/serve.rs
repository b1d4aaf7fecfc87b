//! `hotline serve`: one station in the foreground, restarted from what is on
//! disk whenever a commit fails, until Ctrl-C or SIGTERM; SIGHUP reloads
//! its configuration. Under systemd it speaks the notify protocol
//! (`systemd.rs`).

use crate::client::Failure;
use crate::systemd::Notify;
use hotline_station::db::StoreSpec;
use hotline_station::ha::Role;
use hotline_station::{Config, DataDir, Ha, Options, Station, StationError};
use std::path::Path;
use std::time::Duration;

/// Writes a line to stderr, ignoring failure: a full disk under the log file
/// must not take the station down (`eprintln!` would panic).
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// What `serve` logs just before it stops a failed station to restart it.
const RESTARTING: &str = "restarting from what is on disk";
/// How often a standby loads what the leader wrote, for its reads.
const STANDBY_RELOAD: Duration = Duration::from_secs(15);
/// A station that served this long before failing is restarted after 1 s again.
const HEALTHY_RUN: Duration = Duration::from_secs(300);

/// Runs the station in `data` until stopped, with the config at `config`
/// (DATA/config.toml without it).
pub fn run(
    data: &Path,
    config: Option<&Path>,
    hook: Option<String>,
    dial_only: bool,
    level: &crate::log::Level,
) -> anyhow::Result<()> {
    let d = DataDir(data.to_owned());
    let source = config.map_or_else(|| d.config(), Path::to_owned);
    // Read once here and again on SIGHUP: a station restarted from disk
    // after a failed commit runs with the last configuration that checked.
    let mut cfg = d
        .load_config_from(config)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    // `--dial-only` holds for the life of the process, through reloads.
    cfg.dial_only |= dial_only;
    level.apply(cfg.log.as_deref());
    let notify = Notify::from_env();
    let heartbeat = notify.heartbeat();
    if let (Some(w), true) = (crate::systemd::watchdog(), heartbeat.is_some()) {
        tracing::info!("feeding the service manager's watchdog ({w:?}) from the policy loop");
    }
    // On a shared database, one lease keeper for the life of the process:
    // the station is started as leader or standby, and again each time
    // that changes.
    let spec = cfg
        .store_spec(&d)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let rt = tokio::runtime::Runtime::new()?;
    let keeper = match spec {
        StoreSpec::Postgres(_) => Some(hotline_station::ha::Keeper::start(spec, cfg.api.clone())?),
        StoreSpec::Sqlite(_) => None,
    };
    let result = rt.block_on(async {
        let stop = shutdown_signal();
        tokio::pin!(stop);
        // Taken before anything else: SIGHUP's default action ends the process.
        let mut hup = Hangup::new()?;
        let mut backoff = Duration::from_secs(1);
        let mut ready = false;
        'start: loop {
            let ha = match &keeper {
                Some(k) => {
                    let view = tokio::select! {
                        v = k.decided() => v,
                        _ = &mut stop => return Ok(()),
                    };
                    Some(Ha {
                        keeper: k.clone(),
                        role: view.role,
                    })
                }
                None => None,
            };
            let (role, epoch) = ha.as_ref().map_or((Role::Leader, 0), |h| {
                (h.role, h.keeper.ticket(h.role).fence.epoch)
            });
            // A freshly started station begins with no failure of its own.
            let options = Options {
                data: data.to_owned(),
                config: cfg.clone(),
                alert_hook: hook.clone(),
                heartbeat: heartbeat.clone(),
                ha: ha.clone(),
            };
            let st = match Station::start_with(options).await {
                Ok(st) => st,
                Err(e @ StationError::Storage(_)) => {
                    // Storage unusable (e.g. disk full at start-up): keep trying, nothing is served meanwhile.
                    note!(
                        "hotline: cannot start: {e}; retrying in {} s",
                        backoff.as_secs()
                    );
                    notify.status(&format!("cannot start: {e}; retrying"));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => return Ok(()),
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
                Err(e) => return Err(Failure::Refused(e.to_string()).into()),
            };
            let served = std::time::Instant::now();
            let status = match (&ha, role) {
                (None, _) => format!(
                    "serving; API http://{} · link {}",
                    st.api_addr(),
                    st.link_addr()
                ),
                (Some(_), Role::Leader) => format!(
                    "leading at epoch {epoch}; API http://{} · link {}",
                    st.api_addr(),
                    st.link_addr()
                ),
                (Some(_), _) => format!(
                    "standby: reads on http://{}, writes refused; takes over when the leader's lease expires",
                    st.api_addr()
                ),
            };
            note!("hotline: station {status} · Ctrl-C to stop");
            // The link and the API listen: the service is up.
            if ready {
                notify.status(&status);
            } else {
                notify.ready(&status);
                ready = true;
            }
            loop {
                tokio::select! {
                    _ = &mut stop => {
                        note!("hotline: stopping: draining and committing");
                        notify.stopping();
                        st.stop().await;
                        return Ok::<_, anyhow::Error>(());
                    }
                    _ = hup.recv() => {
                        notify.reloading();
                        match reload(&st, &source, &mut cfg, dial_only, level) {
                            Ok(()) => notify.ready(&status),
                            Err(e) => notify.ready(&format!("{status}; last reload refused: {e}")),
                        }
                    }
                    _ = st.failed() => break,
                    _ = role_changed(keeper.as_ref(), role, epoch) => {
                        let to = if role == Role::Leader { "the standby" } else { "the leader" };
                        note!("hotline: the lease changed hands: restarting as {to}");
                        st.stop().await;
                        continue 'start;
                    }
                    // A standby's reads come from what it loaded: it loads
                    // again now and then to follow the leader's writes.
                    _ = tokio::time::sleep(STANDBY_RELOAD), if role == Role::Standby => {
                        st.stop().await;
                        continue 'start;
                    }
                }
            }
            // A station that served well for a while starts its back-off afresh.
            if served.elapsed() > HEALTHY_RUN {
                backoff = Duration::from_secs(1);
            }
            // The failed station stays up through the back-off: reads are
            // still served, every write is refused (503) by its writer, and
            // /v1/health says so; then it is restarted from disk.
            note!(
                "hotline: a commit failed; writes are refused; restart in {} s",
                backoff.as_secs()
            );
            notify
                .status("a commit failed: writes are refused until the station restarts from disk");
            let stopping = tokio::select! {
                _ = tokio::time::sleep(backoff) => false,
                _ = &mut stop => true,
            };
            note!("hotline: {RESTARTING}");
            if stopping {
                notify.stopping();
            }
            st.stop().await;
            if stopping {
                return Ok(());
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
    // A clean stop gives the lease up, so the standby takes over at once.
    if let Some(k) = &keeper {
        k.stop();
        std::thread::sleep(hotline_station::ha::RENEW_EVERY + Duration::from_millis(200));
    }
    result
}

/// Resolves when the role a station was started in no longer holds; never
/// for a station alone.
async fn role_changed(keeper: Option<&hotline_station::ha::Keeper>, role: Role, epoch: u64) {
    match keeper {
        Some(k) => k.changed_from(role, epoch).await,
        None => std::future::pending().await,
    }
}

/// Reads the config file again and puts what can change while running in
/// force; a file that does not check changes nothing, and says why.
fn reload(
    st: &Station,
    source: &Path,
    running: &mut Config,
    dial_only: bool,
    level: &crate::log::Level,
) -> Result<(), StationError> {
    let mut new = Config::load(source).inspect_err(|e| {
        note!("hotline: reload refused, the running configuration is kept: {e}");
    })?;
    new.dial_only |= dial_only;
    for key in st.reload(&new) {
        note!(
            "hotline: {key} changed in {}: it takes effect when the station restarts (systemctl restart hotline); running with the old value",
            source.display()
        );
    }
    level.apply(new.log.as_deref());
    // A restart from disk after a failed commit takes every key of it.
    *running = new;
    note!("hotline: configuration reloaded from {}", source.display());
    Ok(())
}

/// SIGHUP, where there is one.
struct Hangup {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangup {
    fn new() -> std::io::Result<Hangup> {
        Ok(Hangup {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
