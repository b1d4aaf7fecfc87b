//! Several paths to a peer (SPEC §3): the peer's addresses, probed while
//! the session runs on one of them, so that when the session's path stops
//! answering the dialler goes straight to one that answers.
//!
//! A probe is a TCP connect, closed at once (the peer counts it as a
//! connection that never started a handshake): one per second to each
//! address the session is not using, and none when the peer has one
//! address. The session's own path is measured by its pings.

use crate::engine::{Engine, PathHealth};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How often each idle path is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Probes the peer's idle paths until shutdown (or the peer is removed).
pub(super) async fn probe_loop(
    engine: Arc<Engine>,
    peer_id: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let Ok(peer) = engine.peer(peer_id) else {
            return;
        };
        if peer.row.addrs.len() < 2 {
            continue;
        }
        let h = engine.link_health(peer_id);
        let active = h.up.then_some(h.addr).flatten();
        let wait = engine.tuning().handshake_timeout().min(PROBE_EVERY);
        let probes = peer
            .row
            .addrs
            .iter()
            .filter(|a| Some(*a) != active.as_ref())
            .map(|a| async move {
                let t = Instant::now();
                let r = tokio::time::timeout(wait, TcpStream::connect(a.as_str())).await;
                (a, matches!(r, Ok(Ok(_))), t.elapsed())
            });
        for (addr, up, took) in futures::future::join_all(probes).await {
            let rtt = up.then_some(took.as_millis() as u64);
            engine.set_path(peer_id, addr, up, rtt);
        }
    }
}

/// The order to dial the peer's addresses in: not the one whose session or
/// dial just failed while another may answer; those the probes found up
/// before those found down; the one that answered last, then the quickest.
pub(super) fn dial_order(
    addrs: &[String],
    paths: &[PathHealth],
    last_good: Option<&str>,
    failed: Option<&str>,
) -> Vec<String> {
    let mut order: Vec<&String> = addrs.iter().collect();
    order.sort_by_key(|a| {
        let probed = paths.iter().find(|p| &p.addr == *a);
        (
            Some(a.as_str()) == failed,
            probed.is_some_and(|p| p.last_probe.is_some() && !p.up),
            Some(a.as_str()) != last_good,
            probed.and_then(|p| p.rtt_ms).unwrap_or(u64::MAX),
        )
    });
    order.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(addr: &str, up: bool, rtt: u64) -> PathHealth {
        PathHealth {
            addr: addr.into(),
            up,
            rtt_ms: up.then_some(rtt),
            last_probe: Some(1),
        }
    }

    #[test]
    fn the_failed_path_goes_last_and_paths_found_up_come_first() {
        let addrs: Vec<String> = ["a:1", "b:1", "c:1"].map(String::from).to_vec();
        // No probes yet: the one that answered last, then the list order.
        assert_eq!(
            dial_order(&addrs, &[], Some("b:1"), None),
            ["b:1", "a:1", "c:1"]
        );
        // The session on b failed: b last, whatever answered before.
        assert_eq!(
            dial_order(&addrs, &[], Some("b:1"), Some("b:1")),
            ["a:1", "c:1", "b:1"]
        );
        // Probes: a down, c up and quick; b failed.
        let probes = [path("a:1", false, 0), path("c:1", true, 3)];
        assert_eq!(
            dial_order(&addrs, &probes, Some("b:1"), Some("b:1")),
            ["c:1", "a:1", "b:1"]
        );
        // Among paths up, the quicker first.
        let probes = [
            path("a:1", true, 9),
            path("c:1", true, 2),
            path("b:1", true, 5),
        ];
        assert_eq!(
            dial_order(&addrs, &probes, None, None),
            ["c:1", "b:1", "a:1"]
        );
    }
}
