//! The alert hook: an operator's program that receives each new alert as JSON
//! on stdin. At most [`RUNNING`] runs at once and [`WAITING`] waiting: beyond
//! that an alert is not passed to the hook (it is stored and streamed all the
//! same, and counted in `/metrics`), so no burst of alerts can fork the host
//! into the ground.

use serde_json::Value;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Hook processes running at once.
pub const RUNNING: usize = 4;
/// Alerts waiting for a run; more are dropped (and counted).
pub const WAITING: usize = 64;
/// A run that takes longer is killed (by default: `tuning.hook_timeout`).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The hook program and its bounds.
pub struct Hook {
    program: String,
    /// A run that takes longer is killed.
    timeout: Duration,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl Hook {
    /// The hook that runs `program`, killing a run after `timeout`.
    pub fn new(program: String, timeout: Duration) -> Self {
        Hook {
            program,
            timeout,
            slots: Arc::new(Semaphore::new(RUNNING)),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The program run.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// How long a run may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Hands an alert to the hook in the background; a failing hook is
    /// logged, never fatal. Counts the alert in `dropped` when too many wait.
    pub fn run(&self, alert: Value, dropped: &AtomicU64) {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    "alert hook: {WAITING} alerts already wait for it; further alerts are not passed to it (see hotline_hook_dropped_total)"
                );
            }
            return;
        }
        let (program, slots, waiting, timeout) = (
            self.program.clone(),
            self.slots.clone(),
            self.waiting.clone(),
            self.timeout,
        );
        tokio::spawn(async move {
            let permit = slots.acquire_owned().await;
            waiting.fetch_sub(1, Ordering::SeqCst);
            let Ok(_permit) = permit else { return };
            run_once(&program, alert, timeout).await;
        });
    }
}

async fn run_once(program: &str, alert: Value, timeout: Duration) {
    use tokio::io::AsyncWriteExt;
    let child = tokio::process::Command::new(program)
        // The service manager's notify socket is the station's alone: a hook
        // must not be able to report the station ready, or feed its watchdog.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("alert hook {program:?} could not start: {e}");
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let mut line = alert.to_string();
        line.push('\n');
        let _ = stdin.write_all(line.as_bytes()).await;
    }
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(s)) if !s.success() => tracing::warn!("alert hook {program:?} exited with {s}"),
        Ok(Err(e)) => tracing::warn!("alert hook {program:?}: {e}"),
        Err(_) => {
            tracing::warn!(
                "alert hook {program:?} ran over {}; killed (tuning.hook_timeout)",
                humantime::format_duration(timeout)
            );
            let _ = child.kill().await;
        }
        _ => {}
    }
}
