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
            note!("hotline: station serving; API http://{} · link {} · Ctrl-C to stop", st.api_addr(), st.link_addr());
            tokio::select! {
                _ = &mut stop => {
                    note!("hotline: stopping: draining and committing");
                    st.stop().await;
                    return Ok::<_, anyhow::Error>(());
                }
                _ = st.failed() => {
                    note!("hotline: a commit failed; restarting from what is on disk in {} s", backoff.as_secs());
                    st.stop().await;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => return Ok(()),
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
