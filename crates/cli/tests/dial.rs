//! One connection either side dials (SPEC §3, v2), with real processes: a
//! station that never listens runs a whole line with one that does, and two
//! stations that dial each other at the same moment end with one
//! connection.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[path = "common/station.rs"]
mod station;
use station::{run, until, St};

fn entries(s: &St, ch: &str) -> Vec<Value> {
    s.get(&format!("/v1/channels/{ch}/entries?after=0&limit=1000"))
        .and_then(|v| v["entries"].as_array().cloned())
        .unwrap_or_default()
}

/// Established TCP connections on this machine whose local port is `port`
/// (the accepting end's sockets), from /proc/net/tcp and tcp6.
fn established_to(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = f.get(1).and_then(|a| a.rsplit(':').next());
            let state = f.get(3).copied();
            local.and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port) && state == Some("01")
        })
        .count()
}

fn port(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn a_station_that_never_listens_runs_a_whole_line_with_one_that_does() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    let mut b = St::new(&t.path().join("b"), "bravo");
    // Alpha has no listen address at all.
    let config = a.dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("listen"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&config, without).unwrap();
    let o = run(&a.dir, &["serve"]);
    assert!(
        !o.status.success(),
        "a station with no listen address serves only --dial-only"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("dial_only"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    a.serve_with(&[], &["--dial-only"], None);
    b.serve(&[]);
    assert!(
        std::net::TcpStream::connect(&a.listen).is_err(),
        "a dial-only station listens for no one"
    );
    // Bravo pins alpha with no address: it cannot dial it.
    a.cli(&[
        "peer", "add", "bravo", "--key", &b.token, "--addr", &b.listen,
    ]);
    b.cli(&["peer", "add", "alpha", "--key", &a.token]);
    let fa = a.cli(&["id", "--fingerprint"]);
    let fb = b.cli(&["id", "--fingerprint"]);
    a.cli(&["peer", "verify", "bravo", "--fingerprint", fb.trim()]);
    b.cli(&["peer", "verify", "alpha", "--fingerprint", fa.trim()]);

    // The listening side proposes: the proposal reaches alpha over the
    // connection alpha dialled, with no channel of its own yet.
    let ch = b
        .cli(&["channel", "open", "alpha"])
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let t0 = Instant::now();
    while !run(&a.dir, &["channel", "accept", &ch]).status.success() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the proposal did not reach the dial-only station:\n{}",
            a.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    until("active at bravo", 20, || {
        b.get(&format!("/v1/channels/{ch}"))
            .is_some_and(|v| v["state"] == "active")
    });

    // A FLASH message from the listening side, acknowledged from the
    // dial-only one; a message and a request the other way, answered.
    let (s, v) = b
        .post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": "flash to alpha", "precedence": "FLASH"}),
        )
        .unwrap();
    assert_eq!(s, 201, "{v}");
    let flash = v["hash"].as_str().unwrap().to_owned();
    until("the FLASH at alpha", 20, || {
        entries(&a, &ch).iter().any(|e| e["hash"] == flash.as_str())
    });
    let (s, v) = a
        .post(&format!("/v1/channels/{ch}/acks"), json!({"of": flash}))
        .unwrap();
    assert_eq!(s, 201, "{v}");
    until("the acknowledgement at bravo", 20, || {
        entries(&b, &ch).iter().any(|e| e["kind"] == "ack")
    });
    let (s, v) = a
        .post(
            &format!("/v1/channels/{ch}/requests"),
            json!({"question": "hold the line?", "options": ["yes", "no"], "deadline": "10m", "on_miss": "alert"}),
        )
        .unwrap();
    assert_eq!(s, 201, "{v}");
    let rq = v["hash"].as_str().unwrap().to_owned();
    until("the request at bravo", 20, || {
        entries(&b, &ch).iter().any(|e| e["hash"] == rq.as_str())
    });
    let (s, v) = b
        .post(
            &format!("/v1/channels/{ch}/decisions"),
            json!({"request": rq, "choice": "yes"}),
        )
        .unwrap();
    assert_eq!(s, 201, "{v}");
    until("the decision at alpha", 20, || {
        entries(&a, &ch).iter().any(|e| e["kind"] == "decision")
    });
    // Both transcripts hold the same and verify.
    until("both ends agree", 20, || {
        entries(&a, &ch).len() == entries(&b, &ch).len()
    });
    a.verify_export(&ch, t.path());
    b.verify_export(&ch, t.path());
    station::compare_exports(t.path(), "alpha", "bravo");
    // Still nothing listens at alpha.
    assert!(std::net::TcpStream::connect(&a.listen).is_err());
}

#[test]
fn two_stations_dialling_each_other_at_once_keep_one_connection() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    let mut b = St::new(&t.path().join("b"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    for round in 0..4 {
        // Both stopped, then started together: each has a channel, so each
        // dials the other as soon as it is up.
        a.kill9();
        b.kill9();
        std::thread::scope(|s| {
            s.spawn(|| a.serve(&[]));
            s.spawn(|| b.serve(&[]));
        });
        until("the link up at both ends", 20, || {
            [&a, &b].iter().all(|s| {
                s.get("/v1/peers")
                    .is_some_and(|v| v["peers"][0]["link"] == "up")
            })
        });
        // A losing connection closes within a few seconds (longer on a
        // loaded machine); one connection between the two must remain.
        let mut n = 0;
        until("one link connection between the two", 20, || {
            n = established_to(port(&a.listen)) + established_to(port(&b.listen));
            n == 1
        });
        assert_eq!(n, 1, "round {round}: {n} link connections between the two");
        // And the one that is left carries traffic both ways.
        for s in [&a, &b] {
            let (code, v) = s
                .post(
                    &format!("/v1/channels/{ch}/messages"),
                    json!({"text": format!("round {round} from {}", s.name)}),
                )
                .unwrap();
            assert_eq!(code, 201, "{v}");
        }
        until("both ends agree", 20, || {
            entries(&a, &ch).len() == entries(&b, &ch).len()
                && entries(&a, &ch).len() >= 2 + 2 * (round + 1)
        });
    }
}
