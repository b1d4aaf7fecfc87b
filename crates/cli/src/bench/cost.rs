//! What a message costs each process of a run, read from /proc around a
//! phase: CPU time, the kernel's part of it, and context switches. The
//! clients are the bench's own process, which runs nothing else while a
//! phase is timed.

use super::scale::{cpu_split, switches, TICK_US};
use super::Proc;
use std::collections::HashMap;

/// One figure a message for each station, in the one-in-flight and the
/// 32-client phases.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(super) struct PerMessage {
    pub inflight1_a: f64,
    pub inflight1_b: f64,
    pub throughput_a: f64,
    pub throughput_b: f64,
}

/// The clients' CPU a message in the same two phases, µs.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(super) struct Clients {
    pub inflight1: f64,
    pub throughput: f64,
}

/// One process at an instant.
struct Process {
    /// User and system time, clock ticks.
    user: u64,
    system: u64,
    /// Each thread's context switches, by thread id.
    switches: HashMap<u32, u64>,
}

impl Process {
    fn read(pid: u32, threads: bool) -> anyhow::Result<Process> {
        let (user, system) = cpu_split(pid)?;
        Ok(Process {
            user,
            system,
            switches: if threads {
                switches(pid)?
            } else {
                HashMap::new()
            },
        })
    }
}

/// A, B and the clients at an instant.
pub(super) struct Reading([Process; 3]);

/// Reads A, B and this process. The clients' threads end with their
/// phase, and a thread's switches end with it, so theirs are not read.
pub(super) fn read(a: &Proc, b: &Proc) -> anyhow::Result<Reading> {
    Ok(Reading([
        Process::read(a.child.id(), true)?,
        Process::read(b.child.id(), true)?,
        Process::read(std::process::id(), false)?,
    ]))
}

/// What A, B and the clients each spent a message between two readings.
pub(super) struct Spent {
    /// CPU (user + system), µs.
    pub cpu: [f64; 3],
    /// The kernel's part of it (system time), µs.
    pub kernel: [f64; 3],
    /// Context switches of the threads alive at the second reading (one
    /// that began between the two counts from zero); the clients' are 0.
    pub switches: [f64; 3],
}

pub(super) fn spent(r0: &Reading, r1: &Reading, n: usize) -> Spent {
    let n = n.max(1) as f64;
    let us = |ticks: u64| ticks as f64 * TICK_US / n;
    let mut s = Spent {
        cpu: [0.0; 3],
        kernel: [0.0; 3],
        switches: [0.0; 3],
    };
    for (i, (p0, p1)) in r0.0.iter().zip(&r1.0).enumerate() {
        let user = p1.user.saturating_sub(p0.user);
        let system = p1.system.saturating_sub(p0.system);
        s.cpu[i] = us(user + system);
        s.kernel[i] = us(system);
        let d: u64 = p1
            .switches
            .iter()
            .map(|(tid, c)| c.saturating_sub(p0.switches.get(tid).copied().unwrap_or(0)))
            .sum();
        s.switches[i] = d as f64 / n;
    }
    s
}

/// The stations' figures of the two phases, side by side.
pub(super) fn stations(inflight1: [f64; 3], throughput: [f64; 3]) -> PerMessage {
    PerMessage {
        inflight1_a: inflight1[0],
        inflight1_b: inflight1[1],
        throughput_a: throughput[0],
        throughput_b: throughput[1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(user: u64, system: u64, sw: &[(u32, u64)]) -> Process {
        Process {
            user,
            system,
            switches: sw.iter().copied().collect(),
        }
    }

    #[test]
    fn a_message_costs_the_difference_over_the_messages() {
        let r0 = Reading([
            at(10, 5, &[(1, 100), (2, 50)]),
            at(0, 0, &[(7, 3)]),
            at(4, 4, &[]),
        ]);
        // Thread 2 ended; thread 3 began.
        let r1 = Reading([
            at(30, 15, &[(1, 140), (3, 20)]),
            at(1, 2, &[(7, 13)]),
            at(6, 4, &[]),
        ]);
        let s = spent(&r0, &r1, 100);
        // 30 ticks of 10 ms over 100 messages: 3 ms each.
        assert_eq!(s.cpu, [3_000.0, 300.0, 200.0]);
        assert_eq!(s.kernel, [1_000.0, 200.0, 0.0]);
        assert_eq!(s.switches, [0.6, 0.1, 0.0]);
    }
}
