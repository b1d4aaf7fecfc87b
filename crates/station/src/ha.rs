//! Leader and standby on a shared database (PostgreSQL).
//!
//! Two `hotline serve` processes with the same identity run against one
//! database; a lease row decides which one leads. Each process runs a
//! [`Keeper`]: a thread with a connection of its own that takes or renews
//! the lease every [`RENEW_EVERY`] on the database's clock. The leader's
//! writes are fenced twice:
//!
//! - in the database: every write transaction finds the lease still held by
//!   this process at its epoch, under a row lock, or is rolled back
//!   (`hotline_store::Fence`), and `(channel, author, seq)` is unique, so
//!   no entry can be authored twice even by a leader that does not yet know
//!   it lost;
//! - in the process: a [`Ticket`] says the lease holds only until
//!   [`LEASE_TTL`] − [`MARGIN`] after the start of the last renewal that
//!   succeeded, measured on this machine's monotonic clock. The database
//!   lets the lease expire no sooner than [`LEASE_TTL`] after that renewal
//!   committed, so a leader that cannot renew (database unreachable or
//!   stalled) stops writing, and so acknowledging, before anyone can take
//!   over.
//!
//! A standby serves reads and answers writes with 503 and the leader's API
//! address. When the lease is free or expired it takes it with the epoch
//! one higher, and `hotline serve` restarts the station as the leader from
//! what is in the database. The epoch goes into every handshake; the
//! counterpart refuses one lower than it last accepted, so a former leader
//! cannot speak again.

use crate::db::StoreSpec;
use hotline_store::{Fence, Lease};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a lease lasts on the database's clock after each renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(6);
/// How often the keeper takes or renews the lease (and a standby looks).
pub const RENEW_EVERY: Duration = Duration::from_secs(1);
/// How much sooner than the database the leader gives its lease up.
pub const MARGIN: Duration = Duration::from_secs(2);

/// What this process is on its shared database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not decided yet: the first lease attempt has not returned.
    Unknown,
    /// Holds the lease: runs the link and writes.
    Leader,
    /// Another process holds it: serves reads, refuses writes.
    Standby,
}

impl Role {
    /// The name in status output and `/v1/health`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Unknown => "unknown",
            Role::Leader => "leader",
            Role::Standby => "standby",
        }
    }
}

/// The keeper's latest view of the lease.
#[derive(Debug, Clone)]
pub struct View {
    /// This process's role.
    pub role: Role,
    /// The lease as the database last said (holder, epoch, expiry).
    pub lease: Option<Lease>,
    /// When it said so.
    pub read_at: Instant,
    /// For the leader: until when it may write (see the module text).
    pub valid_until: Option<Instant>,
    /// The last error reaching the database, if the last attempt failed.
    pub error: Option<String>,
}

impl View {
    /// Whether this process leads at `epoch` right now.
    pub fn leads(&self, epoch: u64, now: Instant) -> bool {
        self.role == Role::Leader
            && self.lease.as_ref().is_some_and(|l| l.epoch == epoch)
            && self.valid_until.is_some_and(|t| now < t)
    }
}

/// Takes and renews the lease on its own thread and connection.
#[derive(Clone)]
pub struct Keeper {
    holder: String,
    view: watch::Receiver<View>,
    stop: Arc<AtomicBool>,
}

impl Keeper {
    /// Starts keeping the lease of the database `spec` names, advertising
    /// `api` as this process's API address to a standby.
    pub fn start(spec: StoreSpec, api: String) -> std::io::Result<Keeper> {
        let holder = holder_name();
        let (tx, view) = watch::channel(View {
            role: Role::Unknown,
            lease: None,
            read_at: Instant::now(),
            valid_until: None,
            error: None,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (holder.clone(), stop.clone());
        std::thread::Builder::new()
            .name("hotline-lease".into())
            .spawn(move || keep(spec, h, api, tx, s))?;
        Ok(Keeper { holder, view, stop })
    }

    /// This process's name in the lease row (host, process id, a random tag).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The latest view.
    pub fn view(&self) -> View {
        self.view.borrow().clone()
    }

    /// Waits until the first attempt has said whether this process leads;
    /// a leader whose validity ran out without a renewal (the keeper is
    /// waiting on the database) is a standby from then on.
    pub async fn decided(&self) -> View {
        let mut rx = self.view.clone();
        let _ = rx.wait_for(|v| v.role != Role::Unknown).await;
        let mut v = self.view();
        let epoch = v.lease.as_ref().map_or(0, |l| l.epoch);
        if v.role == Role::Leader && !v.leads(epoch, Instant::now()) {
            v.role = Role::Standby;
        }
        v
    }

    /// Waits until `role` (at `epoch`, for the leader) no longer holds: the
    /// leader lost or could not renew its lease; a standby saw the lease
    /// come free and took it.
    pub async fn changed_from(&self, role: Role, epoch: u64) {
        let mut rx = self.view.clone();
        loop {
            let now = Instant::now();
            let still = {
                let v = rx.borrow_and_update();
                match role {
                    Role::Leader => v.leads(epoch, now),
                    _ => v.role != Role::Leader,
                }
            };
            if !still {
                return;
            }
            // Expiry is a matter of time, not of a new view: look again soon.
            let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
        }
    }

    /// The fence and ticket for a station started in `role`: the leader's
    /// hold at its epoch; a standby's never do (its writes are refused).
    pub fn ticket(&self, role: Role) -> Ticket {
        let epoch = match role {
            Role::Leader => self.view().lease.map_or(0, |l| l.epoch),
            _ => u64::MAX,
        };
        Ticket {
            fence: Fence {
                holder: self.holder.clone(),
                epoch,
            },
            view: self.view.clone(),
        }
    }

    /// Stops renewing and gives the lease up if held, so a standby takes
    /// over at once rather than after the lease expires.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A station's permission to write: valid while this process leads at the
/// epoch it started with.
#[derive(Clone)]
pub struct Ticket {
    /// Checked by the database in every write transaction.
    pub fence: Fence,
    view: watch::Receiver<View>,
}

impl Ticket {
    /// Whether writes may go ahead now.
    pub fn valid(&self) -> bool {
        self.view.borrow().leads(self.fence.epoch, Instant::now())
    }

    /// Why not, for the refusal.
    pub fn why_not(&self) -> String {
        let v = self.view.borrow();
        match (&v.lease, &v.error) {
            (_, Some(e)) => format!("the lease could not be renewed: {e}"),
            (Some(l), None) if l.holder != self.fence.holder => {
                format!("the leader is now {} at epoch {}", l.api, l.epoch)
            }
            _ => "the lease is not held".into(),
        }
    }
}

/// `host:pid:tag`, unique per process even where pids repeat.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn keep(
    spec: StoreSpec,
    holder: String,
    api: String,
    tx: watch::Sender<View>,
    stop: Arc<AtomicBool>,
) {
    let ttl = LEASE_TTL.as_millis() as u64;
    let mut conn: Option<crate::db::Conn> = None;
    // After this process lost the lead (its validity ran out before a
    // renewal came back), it only reads the lease for a while, so that the
    // standby takes over rather than the process that just failed.
    let mut cooldown: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            if let (Some(c), Some(l)) = (conn.as_mut(), tx.borrow().lease.clone()) {
                if l.holder == holder {
                    let _ = c.lease_release(&holder, l.epoch);
                }
            }
            return;
        }
        let started = Instant::now();
        let lapsed = {
            let v = tx.borrow();
            v.role == Role::Leader && v.valid_until.is_some_and(|t| t <= started)
        };
        if lapsed {
            tracing::warn!(
                "this station process stopped leading: its lease could not be renewed in time"
            );
            cooldown = Some(started + LEASE_TTL);
            tx.send_modify(|v| {
                v.role = Role::Standby;
                v.valid_until = None;
            });
        }
        let cooling = cooldown.is_some_and(|t| started < t);
        let ask = |c: &mut crate::db::Conn| -> Result<Lease, String> {
            if cooling {
                c.lease()
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| "the lease was never taken".to_owned())
            } else {
                c.lease_take(&holder, &api, ttl).map_err(|e| e.to_string())
            }
        };
        let attempt = match conn.as_mut() {
            Some(c) => ask(c),
            None => match spec.open() {
                Ok(mut c) => {
                    let r = ask(&mut c);
                    conn = Some(c);
                    r
                }
                Err(e) => Err(e.to_string()),
            },
        };
        // A lease of this process's that came back too late to count on
        // (the call waited on the database): the time it may write is
        // measured from the start of the call, and that has run out.
        let late = matches!(&attempt, Ok(l) if l.holder == holder)
            && (cooling || started.elapsed() >= LEASE_TTL - MARGIN);
        if late {
            if cooling || tx.borrow().role == Role::Leader {
                // The process that just failed to renew gives the lead up,
                // so that the standby takes over.
                if let (Ok(l), Some(c)) = (&attempt, conn.as_mut()) {
                    let _ = c.lease_release(&holder, l.epoch);
                }
                if !cooling {
                    tracing::warn!(
                        "a renewal of the lease came back too late: given up for the standby"
                    );
                    cooldown = Some(Instant::now() + LEASE_TTL);
                }
                tx.send_modify(|v| {
                    v.role = Role::Standby;
                    v.valid_until = None;
                });
                std::thread::sleep(RENEW_EVERY);
            }
            // A standby whose takeover came back late holds the lease all
            // the same: it renews at once, and leads from that renewal.
            continue;
        }
        tx.send_modify(|v| match attempt {
            Ok(lease) => {
                let mine = lease.holder == holder && lease.expires_in_ms > 0;
                if mine && v.role != Role::Leader {
                    tracing::info!(
                        epoch = lease.epoch,
                        "this station process took the lease: it leads"
                    );
                }
                v.role = if mine { Role::Leader } else { Role::Standby };
                v.valid_until = mine.then(|| started + LEASE_TTL - MARGIN);
                v.lease = Some(lease);
                v.read_at = Instant::now();
                v.error = None;
            }
            Err(e) => {
                // Keep what was known; the leader's validity runs out by itself.
                if v.role == Role::Unknown {
                    v.role = Role::Standby;
                }
                v.error = Some(e);
            }
        });
        if tx.borrow().error.is_some() {
            // Reconnect on the next round.
            conn = None;
        }
        std::thread::sleep(RENEW_EVERY);
    }
}
