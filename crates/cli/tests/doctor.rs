//! `hotline doctor`: a healthy station passes, a secret open to others and
//! an unreachable peer address fail with exit 1, and a connected peer's
//! link, clock and address are checked.

use std::process::Output;

#[path = "common/station.rs"]
mod station;

use station::{free_port, pair, run, St};

/// `(status, check, detail)` of each line of the report.
fn lines(o: &Output) -> Vec<(String, String, String)> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let mut parts = l.splitn(2, "  ").map(str::trim);
            let status = parts.next().unwrap().to_owned();
            let rest = parts.next().unwrap_or("").trim_start();
            let (check, detail) = rest.split_once("  ").unwrap_or((rest, ""));
            (status, check.trim().to_owned(), detail.trim().to_owned())
        })
        .collect()
}

fn doctor(st: &St) -> (Output, Vec<(String, String, String)>) {
    let o = run(&st.dir, &["doctor"]);
    let l = lines(&o);
    (o, l)
}

fn status_of<'a>(lines: &'a [(String, String, String)], check: &str) -> &'a str {
    lines
        .iter()
        .find(|(_, c, _)| c == check)
        .map(|(s, _, _)| s.as_str())
        .unwrap_or_else(|| panic!("no {check:?} line in {lines:?}"))
}

#[test]
fn a_healthy_fresh_station_reports_ok() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    a.serve(&[]);
    let (o, l) = doctor(&a);
    assert_eq!(o.status.code(), Some(0), "{l:?}");
    for check in [
        "config",
        "data dir",
        "identity.key",
        "admin.token",
        "database",
        "station",
        "peers",
    ] {
        assert_eq!(status_of(&l, check), "ok", "{l:?}");
    }
    // Free space depends on the machine: never a failure on one fit to test.
    assert_ne!(status_of(&l, "disk"), "fail", "{l:?}");
    assert!(l.iter().all(|(s, _, _)| s == "ok" || s == "warn"), "{l:?}");
}

#[test]
fn a_key_file_others_may_read_fails_with_exit_1() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let a = St::new(&t.path().join("a"), "alpha");
    let key = a.dir.join("identity.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (o, l) = doctor(&a);
    assert_eq!(o.status.code(), Some(1), "{l:?}");
    let (_, _, detail) = l.iter().find(|(_, c, _)| c == "identity.key").unwrap();
    assert_eq!(status_of(&l, "identity.key"), "fail");
    assert!(
        detail.contains("0644") && detail.contains("chmod 600"),
        "{detail}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 check failed"));
    // Not running: a warning, and the other local checks pass.
    assert_eq!(status_of(&l, "station"), "warn");
    assert_eq!(status_of(&l, "config"), "ok");
    // The same as JSON.
    let j = run(&a.dir, &["doctor", "--json"]);
    assert_eq!(j.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["failed"], 1);
    let key = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "identity.key")
        .unwrap();
    assert_eq!(key["status"], "fail");
}

#[test]
fn an_unreachable_peer_address_fails_with_exit_1() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    // bravo exists (for its token) but does not run; its address is a port
    // reserved for this process, where nothing listens.
    let b = St::new(&t.path().join("b"), "bravo");
    let nowhere = format!("127.0.0.1:{}", free_port());
    a.serve(&[]);
    a.cli(&[
        "peer", "add", "bravo", "--key", &b.token, "--addr", &nowhere,
    ]);
    let (o, l) = doctor(&a);
    assert_eq!(o.status.code(), Some(1), "{l:?}");
    let check = format!("peer bravo {nowhere}");
    assert_eq!(status_of(&l, &check), "fail");
    let (_, _, detail) = l.iter().find(|(_, c, _)| c == &check).unwrap();
    assert!(detail.contains("no TCP connection"), "{detail}");
    assert_eq!(status_of(&l, "peer bravo link"), "warn");
    assert_eq!(status_of(&l, "station"), "ok");
}

#[test]
fn a_connected_peer_shows_its_link_clock_and_address_ok() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    let mut b = St::new(&t.path().join("b"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    pair(&a, &b);
    // bravo dials alpha once the channel exists; alpha then knows bravo's clock.
    let start = std::time::Instant::now();
    let l = loop {
        let (o, l) = doctor(&a);
        if o.status.code() == Some(0)
            && status_of(&l, "peer bravo link") == "ok"
            && l.iter()
                .any(|(_, c, d)| c == "peer bravo clock" && d.contains(" ms "))
        {
            break l;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the line did not come up in doctor's report: {l:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(status_of(&l, "peer bravo clock"), "ok", "{l:?}");
    let (_, _, link) = l.iter().find(|(_, c, _)| c == "peer bravo link").unwrap();
    assert!(link.contains(&format!("via {}", b.listen)), "{link}");
    assert_eq!(status_of(&l, &format!("peer bravo {}", b.listen)), "ok");
    // The API says the same, as an additive field of the peer view.
    let peers = a.get("/v1/peers").unwrap();
    let skew = peers["peers"][0]["clock_skew_ms"].as_i64().unwrap();
    assert!(skew.abs() < 1000, "one machine, one clock: {skew} ms");
}
