//! The database machine dies: a station on PostgreSQL with a synchronous
//! streaming replica, traffic both ways, the primary killed with SIGKILL
//! and the replica promoted. The station reconnects through its multi-host
//! URL (`target_session_attrs=read-write`) and goes on; no acknowledged
//! message is lost, both exports verify.
//!
//! Runs where `HOTLINE_TEST_PG` is set (PostgreSQL's binaries are then
//! there: `.ci/run`); elsewhere it says so and passes.

#[path = "common/pg.rs"]
mod pg;
#[path = "common/station.rs"]
mod station;

use pg::Cluster;
use serde_json::{json, Value};
use station::{pair, St};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Hashes of every message a station holds on a channel.
fn held(h: &reqwest::blocking::Client, s: &St, ch: &str) -> Option<HashSet<String>> {
    let mut out = HashSet::new();
    let mut after = 0;
    loop {
        let v: Value = h
            .get(format!(
                "http://{}/v1/channels/{ch}/entries?after={after}&limit=1000",
                s.api
            ))
            .bearer_auth(&s.admin)
            .send()
            .ok()?
            .json()
            .ok()?;
        let batch = v["entries"].as_array()?.clone();
        let Some(last) = batch.last() else {
            return Some(out);
        };
        after = last["cursor"].as_u64()?;
        out.extend(
            batch
                .iter()
                .filter(|e| e["kind"] == "message")
                .filter_map(|e| e["hash"].as_str().map(str::to_owned)),
        );
    }
}

#[test]
fn promoting_the_synchronous_replica_after_the_primary_dies_loses_nothing() {
    if std::env::var("HOTLINE_TEST_PG").map_or(true, |v| v.trim().is_empty()) {
        eprintln!(
            "HOTLINE_TEST_PG is not set: the database failover test needs PostgreSQL; skipped"
        );
        return;
    }
    let primary = Cluster::start();
    let replica = primary.replica();
    let root = tempfile::tempdir().unwrap();
    let mut a = St::new_with(
        &root.path().join("alpha"),
        "alpha",
        &["--store", &replica.url],
    );
    let mut b = St::new_with(&root.path().join("bravo"), "bravo", &["--store", "sqlite"]);
    a.serve(&[]);
    b.serve(&[]);
    let ch = pair(&a, &b);

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Default::default();
    let mut senders = vec![];
    for (s, tag) in [(&a, "a"), (&b, "b")] {
        for n in 0..2 {
            let (api, token, ch) = (s.api.clone(), s.admin.clone(), ch.clone());
            let (stop, acked) = (stop.clone(), acked.clone());
            senders.push(std::thread::spawn(move || {
                let h = http();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let r = h
                        .post(format!("http://{api}/v1/channels/{ch}/messages"))
                        .bearer_auth(&token)
                        .json(&json!({ "text": format!("{tag}-{n}-{i}") }))
                        .send();
                    match r {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let v: Value = r.json().unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .push(v["hash"].as_str().unwrap().to_owned());
                        }
                        _ => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            }));
        }
    }
    let wait_for_more = |than: usize, what: &str| {
        let t = Instant::now();
        while acked.lock().unwrap().len() < than {
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "{what}: {} acknowledged; alpha's log:\n{}",
                acked.lock().unwrap().len(),
                a.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for_more(200, "before the failover");
    primary.kill9();
    let before = acked.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(500));
    replica.promote();
    // alpha goes on, on the promoted replica.
    wait_for_more(before + 200, "after the failover");
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let h = http();
    let t = Instant::now();
    loop {
        let (ha, hb) = (held(&h, &a, &ch), held(&h, &b, &ch));
        let missing = |got: &Option<HashSet<String>>| {
            got.as_ref().map_or(acked.len(), |g| {
                acked.iter().filter(|x| !g.contains(*x)).count()
            })
        };
        let (ma, mb) = (missing(&ha), missing(&hb));
        if ma == 0 && mb == 0 && ha == hb {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "acknowledged messages missing after the failover: {ma} at alpha, {mb} at bravo"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for s in [&a, &b] {
        s.verify_export(&ch, root.path());
    }
    a.kill9();
    b.kill9();
    eprintln!(
        "database failover: {} acknowledged, {} before the primary died, none lost",
        acked.len(),
        before
    );
}
