//! Counters and histograms the station exports at `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters exported at /metrics.
#[derive(Default)]
pub struct Metrics {
    /// Entries committed, by direction (`sent` = ours, `received` = the peer's) and kind.
    pub entries: std::sync::Mutex<std::collections::BTreeMap<(&'static str, &'static str), u64>>,
    /// Delivery latency: from our commit to the peer's checkpoint covering the entry.
    pub delivery_ms: Histogram,
    /// Entries rejected from peers.
    pub entries_rejected: AtomicU64,
    /// Checkpoints received.
    pub checkpoints_received: AtomicU64,
    /// Handshakes from keys not pinned here.
    pub unpinned_handshakes: AtomicU64,
    /// Link connections closed at once because a connection cap was reached.
    pub link_refused: AtomicU64,
    /// Alerts not passed to the hook because too many runs were waiting.
    pub hook_dropped: AtomicU64,
}

/// A Prometheus-style cumulative histogram.
pub struct Histogram {
    /// Upper bounds of the buckets, in the unit observed.
    pub bounds: &'static [u64],
    /// Count per bucket (not cumulative; summed when rendered).
    pub counts: Vec<AtomicU64>,
    /// Sum of observations.
    pub sum: AtomicU64,
    /// Number of observations.
    pub count: AtomicU64,
}

/// Delivery latency buckets, ms: from loopback (1 ms) to a line down for minutes.
const DELIVERY_BOUNDS: &[u64] = &[
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 60_000, 600_000,
];

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            bounds: DELIVERY_BOUNDS,
            counts: (0..=DELIVERY_BOUNDS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, v: u64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}
