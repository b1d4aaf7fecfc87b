//! Strangers against a real station process: anyone who knows a station's
//! address and identity token can knock on its link port. A flood of fresh
//! keys leaves one alert, a handful of hook runs and almost nothing on disk;
//! thousands of idle connections leave the API answering and the pinned peer
//! delivering.

use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "common/station.rs"]
mod station;
use station::St;
#[path = "common/heavy.rs"]
mod heavy;

/// Bytes in the files of a directory tree.
fn du(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                du(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

/// Posts a message at `from` and waits until `to` holds it.
fn delivered(from: &St, to: &St, ch: &str, text: &str) {
    let (code, v) = from
        .post(
            &format!("/v1/channels/{ch}/messages"),
            json!({ "text": text }),
        )
        .unwrap();
    assert_eq!(code, 201, "{v}");
    let h = v["hash"].as_str().unwrap().to_owned();
    let t = Instant::now();
    while to
        .get(&format!("/v1/entries/{h}"))
        .and_then(|v| v.get("hash").cloned())
        .is_none()
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{text:?} from {} did not reach {}",
            from.name,
            to.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The station's open alerts, as (key, cause).
fn open_alerts(st: &St) -> Vec<(String, String)> {
    let v = st.get("/v1/alerts?open=true").unwrap();
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["key"].as_str().unwrap_or("").to_owned(),
                a["cause"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// A value from the station's `/metrics`.
fn metric(st: &St, name: &str) -> u64 {
    let text = reqwest::blocking::Client::new()
        .get(format!("http://{}/metrics", st.api))
        .bearer_auth(&st.admin)
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Two stations with a verified channel; `a` runs `hook` for each alert.
fn line(root: &Path, a_args: &[&str], nofile: Option<u64>) -> (St, St, String) {
    let mut a = St::new(&root.join("a"), "a");
    let mut b = St::new(&root.join("b"), "b");
    a.serve_with(&[], a_args, nofile);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    delivered(&b, &a, &ch, "before");
    (a, b, ch)
}

#[test]
fn a_flood_of_fresh_keys_leaves_one_alert_and_the_line_delivering() {
    let _heavy = heavy::one_at_a_time();
    let root = tempfile::tempdir().unwrap();
    let runs = root.path().join("hook-runs");
    let hook = root.path().join("hook.sh");
    std::fs::write(&hook, format!("#!/bin/sh\ncat >> '{}'\n", runs.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (mut a, mut b, ch) = line(root.path(), &["--alert-hook", hook.to_str().unwrap()], None);
    let before = du(&a.dir);
    let a_dh = hotline_proto::Identity::parse(&a.token).unwrap().dh_pk;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let refused = rt.block_on(async {
        let mut refused = 0;
        for _ in 0..400 {
            let (secret, _) = hotline_link::generate_keypair();
            let s = tokio::net::TcpStream::connect(&a.listen).await.unwrap();
            let r = hotline_link::initiate(s, &secret, &a_dh, hotline_station_clock()).await;
            refused += usize::from(r.is_err());
        }
        refused
    });
    assert_eq!(refused, 400, "a handshake from an unpinned key succeeded");
    // Every stranger was seen (none was turned away before its handshake).
    let t = Instant::now();
    while metric(&a, "hotline_unpinned_handshakes_total") < 400 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "not every handshake was counted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The pinned peer keeps delivering, after the flood as before it.
    delivered(&b, &a, &ch, "after the strangers");
    let open = open_alerts(&a);
    let strangers: Vec<_> = open
        .iter()
        .filter(|(k, _)| k.starts_with("unpinned-key"))
        .collect();
    assert!(open.len() <= 5, "{} open alerts: {open:?}", open.len());
    assert_eq!(strangers.len(), 1, "{open:?}");
    assert!(
        strangers[0].1.contains("127.0.0.1"),
        "the alert names no source: {open:?}"
    );
    let hook_runs = std::fs::read_to_string(&runs)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(hook_runs >= 1, "the hook never ran");
    assert!(hook_runs <= 20, "{hook_runs} hook runs");
    let grew = du(&a.dir).saturating_sub(before);
    assert!(grew < 2 << 20, "the data directory grew by {grew} bytes");
    eprintln!(
        "400 fresh keys: {} open alerts, {hook_runs} hook runs, data directory +{grew} bytes",
        open.len()
    );
    a.kill9();
    b.kill9();
}

/// The station's clock for handshakes (ns since the epoch), as the dialer sends it.
fn hotline_station_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn thousands_of_idle_connections_leave_the_api_answering_and_the_peer_delivering() {
    let _heavy = heavy::one_at_a_time();
    // This test holds 3,000 sockets itself.
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let want = hard.min(8192);
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, want, hard).unwrap();
    assert!(want >= 3500, "the open-file hard limit here is {hard}");
    let root = tempfile::tempdir().unwrap();
    // The station runs with the common default of 1,024 open files.
    let (mut a, mut b, ch) = line(root.path(), &[], Some(1024));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let held = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flood = {
        let (addr, stop, held) = (a.listen.clone(), stop.clone(), held.clone());
        std::thread::spawn(move || {
            use std::sync::atomic::Ordering::Relaxed;
            let mut conns = std::collections::VecDeque::new();
            while !stop.load(Relaxed) {
                // Keep 3,000 open, the oldest replaced by fresh ones.
                while conns.len() < 3000 {
                    if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                        let _ = s.write_all(b"");
                        conns.push_back(s);
                    }
                }
                held.store(conns.len(), Relaxed);
                for _ in 0..100 {
                    conns.pop_front();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let t = Instant::now();
    while held.load(std::sync::atomic::Ordering::Relaxed) < 3000 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "could not open 3,000 connections"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let api = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    for i in 0..10 {
        let r = api.get(format!("http://{}/v1/health", a.api)).send();
        assert!(
            r.as_ref().is_ok_and(|r| r.status() == 200),
            "round {i}: the API did not answer within 1 s: {r:?}"
        );
        delivered(&b, &a, &ch, &format!("through the crowd {i}"));
    }
    let refused = metric(&a, "hotline_link_refused_total");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().unwrap();
    assert!(refused > 0, "no connection was turned away");
    eprintln!("3,000 idle connections: {refused} closed at once; the API answered and the peer delivered 10 of 10");
    a.kill9();
    b.kill9();
}
