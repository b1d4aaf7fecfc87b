//! Throwaway PostgreSQL clusters of a test's own (tests/pg/cluster.sh), for
//! the tests that pause, kill or fail over the database.

#![allow(dead_code)]

use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/pg/cluster.sh");

fn script(args: &[&std::ffi::OsStr]) -> String {
    let o = Command::new("bash")
        .arg(SCRIPT)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cluster.sh {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// A throwaway cluster of this test's own (tests/pg/cluster.sh), stopped
/// and removed on drop: this test pauses it, which must not touch others.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// The URL its `postgres` database is reached at (for a replica: both, read-write first).
    pub url: String,
}

impl Cluster {
    /// Starts a cluster in a new temporary directory.
    pub fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("hotline-pg-")
            .tempdir()
            .unwrap();
        let url = script(&["start".as_ref(), dir.path().as_os_str()]);
        Cluster { dir, url }
    }

    /// A synchronous streaming replica of this cluster; its `url` names
    /// both, this one first, for a read-write session.
    pub fn replica(&self) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("hotline-pg-")
            .tempdir()
            .unwrap();
        let url = script(&[
            "replica".as_ref(),
            dir.path().as_os_str(),
            self.dir.path().as_os_str(),
        ]);
        Cluster { dir, url }
    }

    /// Promotes this replica to a primary.
    pub fn promote(&self) {
        script(&["promote".as_ref(), self.dir.path().as_os_str()]);
    }

    /// SIGKILL to the server and every backend of it, as a machine dying.
    pub fn kill9(&self) {
        self.signal("-KILL");
    }

    /// SIGSTOP or SIGCONT to the server and every backend of it.
    pub fn signal(&self, sig: &str) {
        let Ok(pidfile) = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
        else {
            return;
        };
        let pid = pidfile.lines().next().unwrap().trim().to_owned();
        for args in [vec![sig, "-P", &pid], vec![sig, &pid]] {
            let cmd = if args.len() == 3 { "pkill" } else { "kill" };
            let _ = Command::new(cmd)
                .args(args)
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = Command::new("bash")
            .arg(SCRIPT)
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
