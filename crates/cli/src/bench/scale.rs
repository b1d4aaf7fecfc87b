//! `hotline bench --scale-channels N`: one station pair holding N channels,
//! each sending 10 messages a minute. Measures memory per idle channel,
//! the station's CPU under that load, and send→commit at B.

use super::{commits_at, open_channel, pair, start, text, Proc};
use hotline_api_types::Created;
use std::time::{Duration, Instant};

/// What a scale run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scale {
    /// Channels open between the two stations.
    pub channels: usize,
    /// RSS of A with one channel open, KiB.
    pub rss_one_kib: u64,
    /// RSS of A with every channel open and idle, KiB.
    pub rss_all_kib: u64,
    /// (rss_all − rss_one) ÷ (channels − 1), KiB: what an idle channel
    /// costs, with whatever of the executable's code the openings brought
    /// in besides.
    pub kib_per_idle_channel: f64,
    /// A's anonymous memory (`RssAnon`: heap and stacks, no file's pages)
    /// with one channel open, KiB.
    pub anon_one_kib: u64,
    /// See `anon_one_kib`: with every channel open and idle.
    pub anon_all_kib: u64,
    /// (anon_all − anon_one) ÷ (channels − 1), KiB: what an idle channel
    /// holds in memory of its own. The code pages in `kib_per_idle_channel`
    /// are the executable's, read from the file once and shared, however
    /// many channels there are.
    pub anon_kib_per_idle_channel: f64,
    /// Messages a minute per channel during the load.
    pub per_channel_per_minute: u32,
    /// Seconds of load.
    pub seconds: u64,
    /// Messages sent during the load.
    pub sent: usize,
    /// CPU of A and of B during the load, % of one core.
    pub cpu_a_pct: f64,
    /// See `cpu_a_pct`.
    pub cpu_b_pct: f64,
    /// Send→commit at B during the load, ms.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
}

/// A process's resident set, KiB (`VmRSS` of /proc/PID/status).
pub(super) fn rss_kib(p: &Proc) -> anyhow::Result<u64> {
    status_kib(p, "VmRSS")
}

/// A process's anonymous resident memory, KiB (`RssAnon`).
fn anon_kib(p: &Proc) -> anyhow::Result<u64> {
    status_kib(p, "RssAnon")
}

/// One `KEY: N kB` line of /proc/PID/status.
fn status_kib(p: &Proc, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.child.id()))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {key} for process {}", p.child.id()))
}

/// One clock tick of /proc/PID/stat, µs (USER_HZ is 100 on Linux).
pub(super) const TICK_US: f64 = 10_000.0;

/// A process's CPU time so far (user + system), in clock ticks of 10 ms.
pub(super) fn cpu_ticks(p: &Proc) -> anyhow::Result<u64> {
    let (user, system) = cpu_split(p.child.id())?;
    Ok(user + system)
}

/// Process `pid`'s CPU time so far, user and system apart, in clock ticks
/// of 10 ms.
pub(super) fn cpu_split(pid: u32) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (_, user, system) =
        stat_times(&stat).ok_or_else(|| anyhow::anyhow!("unreadable /proc stat"))?;
    Ok((user, system))
}

/// The command name, user time and system time (clock ticks) of a
/// /proc/PID/stat or /proc/PID/task/TID/stat line.
pub(super) fn stat_times(stat: &str) -> Option<(&str, u64, u64)> {
    // The command name sits in parentheses and may hold any character,
    // so it ends at the last ')'.
    let (name, rest) = stat.split_once('(')?.1.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Some((name, tick(11), tick(12)))
}

/// Each thread's context switches so far (voluntary + involuntary, from
/// /proc/PID/task/TID/status), by thread id. A thread that ended between
/// two readings is not counted; one that began counts from zero.
pub(super) fn switches(pid: u32) -> anyhow::Result<std::collections::HashMap<u32, u64>> {
    let mut out = std::collections::HashMap::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let t = t?;
        let Some(tid) = t.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // A thread may end while it is read: it is left out.
        let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        let n: u64 = status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .sum();
        out.insert(tid, n);
    }
    Ok(out)
}

/// Runs the scale measurement in `root`.
pub fn run(root: &std::path::Path, channels: usize, seconds: u64) -> anyhow::Result<Scale> {
    anyhow::ensure!(channels >= 2, "--scale-channels takes 2 or more");
    let (a, a_link) = start(root, "alpha", None)?;
    let (b, b_link) = start(root, "bravo", None)?;
    let (ca, cb) = pair(&a, &a_link, &b, &b_link)?;
    let mut ids = vec![open_channel(&ca, &cb)?];
    std::thread::sleep(Duration::from_secs(2));
    let (rss_one_kib, anon_one_kib) = (rss_kib(&a)?, anon_kib(&a)?);
    eprintln!("opening {channels} channels…");
    while ids.len() < channels {
        ids.push(open_channel(&ca, &cb)?);
    }
    // Idle: let the openings settle and the allocator give back what it will.
    std::thread::sleep(Duration::from_secs(5));
    let (rss_all_kib, anon_all_kib) = (rss_kib(&a)?, anon_kib(&a)?);
    let per_channel = |one: u64, all: u64| all.saturating_sub(one) as f64 / (channels - 1) as f64;
    let kib_per_idle_channel = per_channel(rss_one_kib, rss_all_kib);
    let anon_kib_per_idle_channel = per_channel(anon_one_kib, anon_all_kib);

    // Load: every channel sends 10 a minute, spread evenly over the minute.
    let per_minute = 10u32;
    let every = Duration::from_secs_f64(60.0 / (per_minute as f64 * channels as f64));
    eprintln!(
        "load: {channels} channels × {per_minute}/min for {seconds} s (one message every {:.1} ms)…",
        every.as_secs_f64() * 1000.0
    );
    let seen = commits_at(&b)?.seen;
    std::thread::sleep(Duration::from_millis(300));
    let (cpu_a0, cpu_b0) = (cpu_ticks(&a)?, cpu_ticks(&b)?);
    let t0 = Instant::now();
    let mut sent: Vec<(String, Instant)> = Vec::new();
    let mut next = t0;
    let mut i = 0usize;
    let mut la = super::http::Lean::new(&a.dir)?;
    while t0.elapsed() < Duration::from_secs(seconds) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep(next - now);
        }
        next += every;
        let ch = &ids[i % ids.len()];
        let at = Instant::now();
        let h = la
            .post::<_, Created>(
                &format!("/v1/channels/{ch}/messages"),
                &text(format!("scale {i}")),
            )?
            .hash;
        sent.push((h, at));
        i += 1;
    }
    let took = t0.elapsed().as_secs_f64();
    let (cpu_a1, cpu_b1) = (cpu_ticks(&a)?, cpu_ticks(&b)?);
    // Wait for the last commits at B.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lat: Vec<f64> = loop {
        let seen = seen.0.lock().unwrap();
        let got: Vec<f64> = sent
            .iter()
            .filter_map(|(h, at)| {
                seen.get(h)
                    .map(|t| t.duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect();
        if got.len() == sent.len() || Instant::now() > deadline {
            break got;
        }
        drop(seen);
        std::thread::sleep(Duration::from_millis(100));
    };
    anyhow::ensure!(
        lat.len() == sent.len(),
        "{} of {} messages did not reach bravo",
        sent.len() - lat.len(),
        sent.len()
    );
    lat.sort_by(|x, y| x.partial_cmp(y).expect("finite"));
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let pct = |t0: u64, t1: u64| (t1 - t0) as f64 * TICK_US / 1e6 / took * 100.0;
    Ok(Scale {
        channels,
        rss_one_kib,
        rss_all_kib,
        kib_per_idle_channel,
        anon_one_kib,
        anon_all_kib,
        anon_kib_per_idle_channel,
        per_channel_per_minute: per_minute,
        seconds,
        sent: sent.len(),
        cpu_a_pct: pct(cpu_a0, cpu_a1),
        cpu_b_pct: pct(cpu_b0, cpu_b1),
        p50_ms: q(0.50),
        p99_ms: q(0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_times_whatever_the_name_holds() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 3 0";
        assert_eq!(stat_times(line), Some(("a (b) c", 17, 5)));
        assert_eq!(stat_times("no name here"), None);
    }
}
