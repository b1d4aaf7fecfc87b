//! What the machine leaves the line: for each timed figure, the best it
//! could reach if a message cost nothing beyond the work SPEC §1 requires
//! of it, priced at the bare ceilings of the same run. A figure near its
//! floor has little left to gain on this machine; a target beyond its
//! floor cannot be met here at all.

use super::ceilings::Ceilings;

/// The floors of one run ([`floors`]).
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Floors {
    /// One message in flight can go no faster than one durable commit at
    /// A (its 201 waits for it) while B flushes the message before, plus
    /// a loopback round trip for the request and its answer, plus one
    /// signature: 1 ÷ (1 ÷ `sqlite_commits_both` + `rtt_ms` + 1 ÷ `sign`).
    pub inflight1_msgs_per_s: f64,
    /// Send→commit at B takes no less than two durable commits in a row
    /// (A's before the entry may leave, SPEC §1 principle 3; B's before it
    /// is reported) with nothing else flushing, a signature, a strict
    /// verification, and three loopback hops of half a round trip each
    /// (the request to A, the entry to B, B's event to its reader), ms.
    pub send_commit_ms: f64,
    /// The clients can get no more through than two cores allow when
    /// each message costs one signature, one strict verification, the
    /// clients' own CPU for it (measured in the same phase) and the bare
    /// HTTP server's CPU for one request (`http_server_us`), and the two
    /// stations nothing else: not their commits, link or own kernel time.
    pub throughput_msgs_per_s: f64,
}

/// The floors of a run from its ceilings and its clients' CPU a message
/// at 32 clients (µs).
pub(super) fn floors(c: &Ceilings, clients_us: f64) -> Floors {
    let (sign_ms, verify_ms) = (1e3 / c.sign, 1e3 / c.verify_strict);
    let inflight1_ms = 1e3 / c.sqlite_commits_both + c.rtt_ms + sign_ms;
    let commit_ms = 1e3 / c.sqlite_commits;
    let per_message_us = (sign_ms + verify_ms) * 1e3 + clients_us + c.http_server_us;
    Floors {
        inflight1_msgs_per_s: 1e3 / inflight1_ms,
        send_commit_ms: 2.0 * commit_ms + sign_ms + verify_ms + 1.5 * c.rtt_ms,
        throughput_msgs_per_s: 2e6 / per_message_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceilings() -> Ceilings {
        Ceilings {
            sign: 50_000.0,          // 0.02 ms
            verify_strict: 25_000.0, // 0.04 ms
            verify_batch: 60_000.0,
            pair: 16_666.0,
            sqlite_commits: 5_000.0,      // 0.2 ms
            sqlite_commits_both: 4_000.0, // 0.25 ms
            fsync_ms: 0.2,
            rtt_ms: 0.05,
            http_requests: 40_000.0,
            http_server_us: 25.0,
        }
    }

    #[test]
    fn each_floor_adds_up_the_required_work_at_the_ceilings_prices() {
        let f = floors(&ceilings(), 40.0);
        // 0.25 + 0.05 + 0.02 ms a message.
        assert!((f.inflight1_msgs_per_s - 3_125.0).abs() < 1e-6);
        // 2 × 0.2 + 0.02 + 0.04 + 0.075 ms.
        assert!((f.send_commit_ms - 0.535).abs() < 1e-9);
        // Two cores over 20 + 40 + 15 + 25 µs.
        let f = floors(&ceilings(), 15.0);
        assert!((f.throughput_msgs_per_s - 20_000.0).abs() < 1e-6);
    }
}
