//! `hotline serve`: one station in the foreground, restarted from what is on
//! disk whenever a commit fails, until Ctrl-C or SIGTERM.

use crate::client::Failure;
use hotline_station::{Station, StationError};
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
/// A station that served this long before failing is restarted after 1 s again.
const HEALTHY_RUN: Duration = Duration::from_secs(300);

/// Runs the station in `data` until stopped.
pub fn run(data: &Path, hook: Option<String>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let stop = shutdown_signal();
        tokio::pin!(stop);
        let mut backoff = Duration::from_secs(1);
        loop {
            // A freshly started station begins with no failure of its own.
            let st = match Station::start(data, hook.clone()).await {
                Ok(st) => st,
                Err(e @ StationError::Storage(_)) => {
                    // Storage unusable (e.g. disk full at start-up): keep trying, nothing is served meanwhile.
                    note!("hotline: cannot start: {e}; retrying in {} s", backoff.as_secs());
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
            note!("hotline: station serving; API http://{} · link {} · Ctrl-C to stop", st.api_addr(), st.link_addr());
            tokio::select! {
                _ = &mut stop => {
                    note!("hotline: stopping: draining and committing");
                    st.stop().await;
                    return Ok::<_, anyhow::Error>(());
                }
                _ = st.failed() => {
                    // A station that served well for a while starts its back-off afresh.
                    if served.elapsed() > HEALTHY_RUN {
                        backoff = Duration::from_secs(1);
                    }
                    // The failed station stays up through the back-off: reads are
                    // still served, every write is refused (503) by its writer, and
                    // /v1/health says so; then it is restarted from disk.
                    note!("hotline: a commit failed; writes are refused; restart in {} s", backoff.as_secs());
                    let stopping = tokio::select! {
                        _ = tokio::time::sleep(backoff) => false,
                        _ = &mut stop => true,
                    };
                    note!("hotline: {RESTARTING}");
                    st.stop().await;
                    if stopping {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    })
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
