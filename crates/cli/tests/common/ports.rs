// A loopback port allocator for tests, included (`include!`) by the CLI's
// process tests and the station's in-process tests, which both restart a
// station on the port its peer knows.

/// A loopback port for a station, reserved for the life of this test process.
///
/// A station keeps its ports across restarts, so they are chosen before it
/// first starts and must stay free while it is down. `bind(…:0)` would hand out
/// a port from the kernel's ephemeral range, where any outgoing connection (or
/// another test's `bind(…:0)`) may take it in the meantime. So the port is
/// taken from below that range (or above it), checked free, and locked with
/// `flock` on a file named after it under the temp directory, held until this
/// process exits: no other test process using this function picks it as well.
pub fn free_port() -> u16 {
    use nix::fcntl::{Flock, FlockArg};
    use std::fs::File;
    use std::sync::Mutex;
    static HELD: Mutex<Vec<Flock<File>>> = Mutex::new(Vec::new());
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    let (lo, hi) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut w = s.split_whitespace().map(|w| w.parse::<u16>().ok());
            Some((w.next()??, w.next()??))
        })
        .unwrap_or((32768, 60999));
    // 4,096 ports next to that range: few enough that the lock files stay few.
    let band: Vec<u16> = if lo >= 1024 + 4096 {
        (lo - 4096..lo).collect()
    } else {
        (hi.saturating_add(1).max(1024)..=hi.saturating_add(4096)).collect()
    };
    let dir = std::env::temp_dir().join("hotline-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    let start = (std::process::id() as usize)
        .wrapping_mul(7919)
        .wrapping_add(held.len() * 104_729)
        % band.len();
    for i in 0..band.len() {
        let port = band[(start + i) % band.len()];
        let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        let Ok(lock) = Flock::lock(f, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            held.push(lock);
            return port;
        }
    }
    panic!("no free loopback port outside the ephemeral range {lo}-{hi}");
}

