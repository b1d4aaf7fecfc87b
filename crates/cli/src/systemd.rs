//! The service manager's notify protocol (`Type=notify` units, sd_notify(3)):
//! READY=1 once the station listens, STATUS= lines for `systemctl status`,
//! RELOADING=1 around a reload, STOPPING=1 on the way out, and WATCHDOG=1
//! from the station's policy loop when the unit has `WatchdogSec=`. Outside
//! a service manager (no `NOTIFY_SOCKET`) every call does nothing.

use hotline_station::Heartbeat;
use sd_notify::NotifyState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Talks to the service manager, if there is one.
#[derive(Clone)]
pub struct Notify {
    /// `NOTIFY_SOCKET` is set: a service manager listens.
    on: bool,
    /// A failed send was logged: one warning, not one per heartbeat.
    warned: Arc<AtomicBool>,
}

impl Notify {
    /// The service manager named by the environment, if any.
    pub fn from_env() -> Notify {
        Notify {
            on: std::env::var_os("NOTIFY_SOCKET").is_some(),
            warned: Default::default(),
        }
    }

    fn send(&self, states: &[NotifyState]) {
        if !self.on {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
            }
        }
    }

    /// The station listens (or has reloaded): READY=1 with a status line.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// A status line for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// A reload begins; READY=1 ends it.
    pub fn reloading(&self) {
        let mut states = vec![NotifyState::Reloading];
        // Required with Type=notify-reload (systemd 253+), harmless before.
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        states.push(NotifyState::Status("reloading the configuration"));
        self.send(&states);
    }

    /// The station is stopping: draining and committing.
    pub fn stopping(&self) {
        self.send(&[
            NotifyState::Stopping,
            NotifyState::Status("stopping: draining and committing"),
        ]);
    }

    /// What the station's policy loop calls on every turn, when the
    /// service manager asked for a watchdog (`WATCHDOG_USEC`, for this
    /// process): WATCHDOG=1 at most every quarter of its interval. A loop
    /// that hangs stops the pings, and the manager restarts the station.
    pub fn heartbeat(&self) -> Option<Heartbeat> {
        let interval = sd_notify::watchdog_enabled()?;
        if !self.on {
            return None;
        }
        let every = interval / 4;
        let last = Mutex::new(None::<Instant>);
        let me = self.clone();
        Some(Arc::new(move || {
            let mut last = last.lock().unwrap();
            if last.is_none_or(|t| t.elapsed() >= every) {
                *last = Some(Instant::now());
                me.send(&[NotifyState::Watchdog]);
            }
        }))
    }
}

/// The watchdog interval the service manager asked for, if any (for the log).
pub fn watchdog() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}
