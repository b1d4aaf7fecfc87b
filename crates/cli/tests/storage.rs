//! Storage faults with real processes: an fsync that fails never leads to an
//! acknowledgement, and a full disk gives a clear error, corrupts nothing, and
//! the station resumes once space is freed.
//!
//! Needs root (mount, ptrace) and strace; without them the tests say so and
//! stop, except under CI (CI=true), where a missing tool is a failure.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/station.rs"]
mod station;
use station::St;
#[path = "common/heavy.rs"]
mod heavy;

fn unavailable(what: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is needed for this test in CI (see .ci/run)");
    }
    eprintln!("SKIPPED: {what} is not available here; this test runs in CI");
    true
}

/// Two stations with an active channel a→b.
fn pair(a_dir: &Path, b_dir: &Path) -> (St, St, String) {
    pair_with(a_dir, b_dir, &[])
}

/// Two stations with an active channel a→b; `a` runs with `env`.
fn pair_with(a_dir: &Path, b_dir: &Path, env: &[(&str, &str)]) -> (St, St, String) {
    let mut a = St::new(a_dir, "a");
    let mut b = St::new(b_dir, "b");
    a.serve(env);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    (a, b, ch)
}

#[test]
fn a_failing_fsync_never_leads_to_an_acknowledgement() {
    let _heavy = heavy::one_at_a_time();
    if Command::new("strace").arg("-V").output().is_err() {
        unavailable("strace");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (a, b, ch) = pair(&root.path().join("a"), &root.path().join("b"));
    assert_eq!(
        a.post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": "before"})
        )
        .unwrap()
        .0,
        201
    );
    let (acknowledged, mut strace) = acknowledged_while_fsync_fails(&a, &ch);
    assert!(!acknowledged, "acknowledged although fsync failed");
    // Restore fsync: the station restarts itself from disk and serves again.
    let _ = strace.kill();
    let _ = strace.wait();
    let t = Instant::now();
    let after = loop {
        if let Ok((201, v)) = a.post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": "after"}),
        ) {
            break v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the station did not recover; log:\n{}",
            a.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        a.log_text().contains("disk I/O error"),
        "no clear error in the log"
    );
    // Delivered to b, and both records verify.
    let h = after["hash"].as_str().unwrap().to_owned();
    let t = Instant::now();
    while b
        .get(&format!("/v1/entries/{h}"))
        .unwrap_or_default()
        .get("hash")
        .is_none()
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "not delivered after recovery"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    a.verify_export(&ch, root.path());
    b.verify_export(&ch, root.path());
}

/// The checker: attach strace to `a` so every fsync fails with EIO, post a
/// message, and report whether the station acknowledged it (it must not).
/// Returns the strace process so the caller decides when fsync works again.
fn acknowledged_while_fsync_fails(a: &St, ch: &str) -> (bool, std::process::Child) {
    let pid = a.child.as_ref().unwrap().id().to_string();
    let strace = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-p",
            &pid,
            "-e",
            "trace=fsync,fdatasync",
            "-e",
            "inject=fsync,fdatasync:error=EIO",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let strace = wait_traced(&pid, strace);
    let r = a.post(
        &format!("/v1/channels/{ch}/messages"),
        json!({"text": "during"}),
    );
    (matches!(r, Ok((201, _))), strace)
}

/// Waits until strace traces every thread of `pid` and has nothing left to
/// set up: each thread names strace as its tracer, and strace sleeps waiting
/// for the next event. strace seizes and interrupts each thread in turn while
/// it attaches and waits for events only once all are attached, and an
/// interrupted thread stops before its next system call, so from then on every
/// fsync of the station's is intercepted (threads started later are followed,
/// `-f`). Returns strace; panics if it exits first.
fn wait_traced(pid: &str, mut strace: std::process::Child) -> std::process::Child {
    let tracer = strace.id().to_string();
    let t = Instant::now();
    loop {
        let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let traced = |tid: &String| {
            // A thread that has just ended has no status: it makes no syscall either.
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).map_or(true, |s| {
                s.lines()
                    .any(|l| l.split_whitespace().eq(["TracerPid:", tracer.as_str()]))
            })
        };
        let waiting = std::fs::read_to_string(format!("/proc/{tracer}/wchan"))
            .is_ok_and(|w| w.trim() == "do_wait");
        if !threads.is_empty() && threads.iter().all(traced) && waiting {
            return strace;
        }
        if let Ok(Some(status)) = strace.try_wait() {
            panic!("strace exited ({status}) before it traced the station");
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "strace did not attach to every thread of {pid}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The same checker against a station with fsync turned off
/// (`HOTLINE_UNSAFE_NO_SYNC`, the deliberately broken variant): the failing
/// fsync never happens, the message is acknowledged, and the checker sees it.
#[test]
fn the_fsync_checker_catches_a_station_that_does_not_sync() {
    let _heavy = heavy::one_at_a_time();
    if Command::new("strace").arg("-V").output().is_err() {
        unavailable("strace");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (a, _b, ch) = pair_with(
        &root.path().join("a"),
        &root.path().join("b"),
        &[("HOTLINE_UNSAFE_NO_SYNC", "1")],
    );
    let (acknowledged, mut strace) = acknowledged_while_fsync_fails(&a, &ch);
    let _ = strace.kill();
    let _ = strace.wait();
    assert!(
        acknowledged,
        "the checker did not see the unsynced acknowledgement"
    );
}

#[test]
fn a_full_disk_gives_a_clear_error_corrupts_nothing_and_the_station_resumes() {
    let _heavy = heavy::one_at_a_time();
    if let Some(r) = full_disk_run(&[]) {
        assert!(
            !r.accepted.is_empty(),
            "nothing was accepted before the disk filled"
        );
        match &r.after_failure {
            AfterFailure::Refused => {}
            AfterFailure::Acknowledged(h) => panic!(
                "{h} was acknowledged by a station whose commits had failed, before it restarted"
            ),
        }
        if let Some(status) = &r.health_while_failed {
            assert_eq!(status, "storage-failed", "health while writes were refused");
        }
        assert!(r.resumed_by_itself, "the station did not resume by itself");
        assert_eq!(r.lost, Vec::<String>::new(), "acknowledged messages lost");
    }
}

/// The same checker against a station that acknowledges before committing: it
/// must find acknowledged messages missing once the disk has filled.
#[test]
fn the_full_disk_checker_catches_a_station_that_acknowledges_before_committing() {
    let _heavy = heavy::one_at_a_time();
    if let Some(r) = full_disk_run(&[("HOTLINE_UNSAFE_ACK_BEFORE_COMMIT", "1")]) {
        match &r.after_failure {
            AfterFailure::Acknowledged(h) => assert!(
                r.lost.contains(h),
                "{h}, acknowledged after its commit could only fail, is held after all: \
                 the test's reasoning is wrong ({} lost)",
                r.lost.len()
            ),
            AfterFailure::Refused => {
                panic!("the station that acknowledges before committing refused a message")
            }
        }
    }
}

/// What a full-disk run found.
struct DiskReport {
    /// Every message acknowledged (201) before the space was freed, and after.
    accepted: Vec<String>,
    /// The acknowledged messages the station does not hold after a restart.
    lost: Vec<String>,
    /// How the station answered once its commits were failing.
    after_failure: AfterFailure,
    /// It served again after the space was freed, without being restarted.
    resumed_by_itself: bool,
    /// What `/v1/health` said just after the refusal, asked of the same process.
    health_while_failed: Option<String>,
}

/// The answer that ends the full part of a full-disk run.
enum AfterFailure {
    /// A message was refused as not stored (503): what a correct station does
    /// when its commit fails, and for every message after until it restarts.
    Refused,
    /// This message was acknowledged by a station process whose commits had
    /// already failed, before it restarted: its writer refuses every write until
    /// then, so the message can never be stored.
    Acknowledged(String),
}

/// The line `hotline serve` prints each time it (re)starts the station.
const SERVING: &str = "hotline: station serving";
/// The line `hotline serve` prints before it stops the station to restart it.
const RESTARTING: &str = "restarting from what is on disk";

/// Whether the log shows a failed commit since the station last started. The
/// writer logs every failed commit itself ("commit to … failed" for a commit
/// alone, "group commit failed" for a group, whose batches it then retries one
/// by one; on a full disk at least one of those fails too, since alone they
/// need at least the space they needed together), and after one failure it
/// refuses every write until the station restarts from disk (`db.rs`).
fn failed_since_start(log: &str) -> bool {
    let current = log.rfind(SERVING).map_or(log, |i| &log[i..]);
    current.lines().any(|l| {
        (l.contains("commit to ") && l.contains(" failed"))
            || l.contains("group commit failed")
            || l.contains("storage failure")
    })
}

/// Station `a` on a 3 MiB tmpfs, `env` set for it (its log stays outside, so
/// the test can always read what it says): send until a commit fails, then go
/// on until a message is refused as not stored, or is acknowledged by the
/// station process whose commits failed before it restarted; free the space,
/// wait for the station to serve again, restart it, and list the acknowledged
/// messages it does not hold. None when tmpfs cannot be mounted here.
fn full_disk_run(env: &[(&str, &str)]) -> Option<DiskReport> {
    let root = tempfile::tempdir().unwrap();
    let mnt = root.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        unavailable("mounting a small tmpfs (root)");
        return None;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let mut a = St::new(&mnt.join("a"), "a");
    a.log = root.path().join("a.log");
    let mut b = St::new(&root.path().join("b"), "b");
    a.serve(env);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    // Leave about 400 KB free.
    let filler = mnt.join("filler");
    let free = {
        let o = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&mnt)
            .output()
            .unwrap();
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    std::fs::write(&filler, vec![0u8; free.saturating_sub(400 * 1024) as usize]).unwrap();
    let text = "x".repeat(8000);
    let mut accepted = vec![];
    let t = Instant::now();
    let mut i = 0;
    let mut health_while_failed = None;
    let after_failure = loop {
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "after {i} messages, none refused and none acknowledged by a station whose \
             commits had failed; log:\n{}",
            a.log_text()
        );
        let before = a.log_bytes();
        let failed = failed_since_start(&String::from_utf8_lossy(&before));
        i += 1;
        let r = a.post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": format!("{i} {text}")}),
        );
        // The process that answered is the one whose log we read before
        // posting unless `serve` has since begun to restart the station.
        let since = a.log_bytes().split_off(before.len());
        let same_process = !String::from_utf8_lossy(&since).contains(RESTARTING);
        match r {
            Ok((201, v)) => {
                let h = v["hash"].as_str().unwrap().to_owned();
                accepted.push(h.clone());
                if failed && same_process {
                    break AfterFailure::Acknowledged(h);
                }
            }
            Ok((503, _)) => {
                // The refusing process stays up through its back-off, and says why.
                let health = a.get("/v1/health").unwrap_or_default();
                let since = a.log_bytes().split_off(before.len());
                if !String::from_utf8_lossy(&since).contains(RESTARTING) {
                    health_while_failed = Some(health["status"].as_str().unwrap_or("").to_owned());
                }
                break AfterFailure::Refused;
            }
            // Not serving (restarting), or not an answer about storage: go on.
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(
        a.log_text().contains("full"),
        "no clear 'disk is full' error; log:\n{}",
        a.log_text()
    );
    // Free the space: the station comes back by itself.
    std::fs::remove_file(&filler).unwrap();
    let t = Instant::now();
    let resumed_by_itself = loop {
        if let Ok((201, v)) = a.post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": "after"}),
        ) {
            accepted.push(v["hash"].as_str().unwrap().to_owned());
            break true;
        }
        if t.elapsed() > Duration::from_secs(120) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    // What it holds is what a restart finds on disk.
    let served = a.child.as_mut().unwrap().try_wait().unwrap().is_none();
    a.kill9();
    a.serve(&[]);
    let lost: Vec<String> = accepted
        .iter()
        .filter(|h| {
            a.get(&format!("/v1/entries/{h}"))
                .unwrap_or_default()
                .get("hash")
                .is_none()
        })
        .cloned()
        .collect();
    let t = Instant::now();
    loop {
        let c = a.get(&format!("/v1/channels/{ch}")).unwrap_or_default();
        if c["delivery"]["delivered"] == c["entries"]["ours"] {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "backlog not delivered: {c}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    a.verify_export(&ch, root.path());
    b.verify_export(&ch, root.path());
    eprintln!(
        "full disk{}: {} acknowledged, then {}; resumed by itself: {resumed_by_itself} \
         (process still running: {served}); health while refusing: {health_while_failed:?}; lost {}",
        if env.is_empty() {
            ""
        } else {
            " (broken variant)"
        },
        accepted.len(),
        match &after_failure {
            AfterFailure::Refused => "refused (503) once commits failed".to_owned(),
            AfterFailure::Acknowledged(h) => format!("acknowledged {h} after its commits failed"),
        },
        lost.len()
    );
    b.kill9();
    Some(DiskReport {
        accepted,
        lost,
        after_failure,
        resumed_by_itself,
        health_while_failed,
    })
}
